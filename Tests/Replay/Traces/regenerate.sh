#!/bin/sh
# Regenerates the oracle outputs (.expected) of the vmatrace corpus.
#
#   regenerate.sh [--traces] ORACLE GEN_PY
#
# ORACLE  path of a built kernel oracle binary (built from its own source,
#         which is not part of this repository)
# GEN_PY  path of the oracle's random trace generator gen.py (needed only with
#         --traces, but always given so the call looks the same)
#
# Without --traces: runs ORACLE with default options on every
#   handwritten/*.trace and random/*.trace and rewrites the matching .expected.
# With --traces: first rewrites every random/*.trace from its line in
#   random/commands.txt (python3 GEN_PY ARGS), then does the above.
# v6.15/*.expected are NOT touched: they describe stock Linux v6.15, not the
# machine the oracle runs on (see v6.15/README.md).
#
# Stops with an error if the oracle exits with a status other than 0.
set -eu

traces=0
if [ "${1:-}" = "--traces" ]; then
    traces=1
    shift
fi
if [ $# -ne 2 ]; then
    echo "usage: $0 [--traces] ORACLE GEN_PY" >&2
    exit 1
fi
oracle=$1
genpy=$2
here=$(cd "$(dirname "$0")" && pwd)

if [ "$traces" = 1 ]; then
    grep -v '^#' "$here/random/commands.txt" | while read -r file args; do
        # shellcheck disable=SC2086
        python3 "$genpy" $args > "$here/random/$file.tmp"
        mv "$here/random/$file.tmp" "$here/random/$file"
    done
fi

n=0
for t in "$here"/handwritten/*.trace "$here"/random/*.trace; do
    e=${t%.trace}.expected
    if ! "$oracle" "$t" > "$e.tmp"; then
        echo "$0: oracle failed on $t" >&2
        rm -f "$e.tmp"
        exit 1
    fi
    mv "$e.tmp" "$e"
    n=$((n + 1))
done
echo "regenerated $n .expected files"
