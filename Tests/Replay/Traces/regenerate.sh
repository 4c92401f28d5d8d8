#!/bin/sh
# Regenerates the oracle outputs (.expected) of the vmatrace corpus, only on a
# machine like the one that made them.
#
#   regenerate.sh [--traces] ORACLE GEN_PY
#   regenerate.sh --new FOLDER SOURCE ORACLE
#
# ORACLE  path of a built kernel oracle binary (built from its own source,
#         which is not part of this repository)
# GEN_PY  path of the oracle's random trace generator gen.py (needed only with
#         --traces, but always given so the call looks the same)
#
# Every folder whose outputs an oracle made holds env.txt, the output of
# `oracle -E` on the machine that made them (kernel, zero page, anon VMA
# names, THP, max_map_count, overcommit). Outputs differ between machines, so:
#
# Without --new: first runs `ORACLE -E` and compares it byte for byte with the
#   env.txt of every folder that has one (handwritten/, random/, and folders
#   made with --new). If any differs, it rewrites NOTHING, names the folders
#   and exits 1: make a new folder for this machine with --new instead. Else it
#   runs ORACLE with default options on every FOLDER/*.trace of those folders
#   and rewrites the matching .expected. With --traces it first rewrites every
#   random/*.trace from its line in random/commands.txt (python3 GEN_PY ARGS).
# With --new: creates FOLDER (a new folder beside this script; if it exists it
#   must hold this machine's env.txt) with a copy of every SOURCE/*.trace
#   (SOURCE is a corpus folder such as handwritten), this machine's `ORACLE -E`
#   as env.txt, and the oracle's output for each trace. The replay tests then
#   run FOLDER under the options derived from its env.txt.
# Folders with a profile.txt instead of env.txt (v6.15/: stock Linux v6.15,
# derived by hand, see v6.15/README.md) are NEVER touched.
#
# Stops with an error if the oracle exits with a status other than 0.
set -eu

usage() {
    echo "usage: $0 [--traces] ORACLE GEN_PY" >&2
    echo "       $0 --new FOLDER SOURCE ORACLE" >&2
    exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
traces=0
new=
source=
case "${1:-}" in
--traces)
    traces=1
    shift
    [ $# -eq 2 ] || usage
    ;;
--new)
    [ $# -eq 4 ] || usage
    new=$2
    source=$3
    shift 3
    ;;
*)
    [ $# -eq 2 ] || usage
    ;;
esac
oracle=$1
genpy=${2:-}

machine=$(mktemp)
trap 'rm -f "$machine"' EXIT
if ! "$oracle" -E > "$machine"; then
    echo "$0: '$oracle -E' failed" >&2
    exit 1
fi

# run_oracle TRACE: writes TRACE's .expected from the oracle's output.
run_oracle() {
    e=${1%.trace}.expected
    if ! "$oracle" "$1" > "$e.tmp"; then
        echo "$0: oracle failed on $1" >&2
        rm -f "$e.tmp"
        exit 1
    fi
    mv "$e.tmp" "$e"
}

if [ -n "$new" ]; then
    case "$new" in
    */* | . | .. | "")
        echo "$0: FOLDER must be a plain folder name beside this script" >&2
        exit 1
        ;;
    esac
    if [ ! -f "$here/$source/env.txt" ] && [ ! -f "$here/$source/profile.txt" ]; then
        echo "$0: $source is not a corpus folder" >&2
        exit 1
    fi
    dir=$here/$new
    if [ -e "$dir" ] && ! cmp -s "$machine" "$dir/env.txt"; then
        echo "$0: $new exists and its env.txt is not this machine's 'oracle -E'; nothing written" >&2
        exit 1
    fi
    mkdir -p "$dir"
    cp "$machine" "$dir/env.txt"
    n=0
    for t in "$here/$source"/*.trace; do
        cp "$t" "$dir/"
        run_oracle "$dir/$(basename "$t")"
        n=$((n + 1))
    done
    echo "wrote $n traces and .expected files to $new, with this machine's env.txt"
    exit 0
fi

differ=
for env in "$here"/*/env.txt; do
    if [ -f "$env" ] && ! cmp -s "$machine" "$env"; then
        differ="$differ $(basename "$(dirname "$env")")"
    fi
done
if [ -n "$differ" ]; then
    echo "$0: this machine's 'oracle -E' differs from the env.txt of:$differ" >&2
    echo "$0: nothing rewritten; make a folder for this machine with: $0 --new FOLDER SOURCE ORACLE" >&2
    echo "--- this machine:" >&2
    cat "$machine" >&2
    exit 1
fi

if [ "$traces" = 1 ]; then
    grep -v '^#' "$here/random/commands.txt" | while read -r file args; do
        # shellcheck disable=SC2086
        python3 "$genpy" $args > "$here/random/$file.tmp"
        mv "$here/random/$file.tmp" "$here/random/$file"
    done
fi

n=0
for env in "$here"/*/env.txt; do
    [ -f "$env" ] || continue
    for t in "$(dirname "$env")"/*.trace; do
        run_oracle "$t"
        n=$((n + 1))
    done
done
echo "regenerated $n .expected files"
