#!/usr/bin/env bash
# Runs the kernel anchor (the kernel's own mm/vma.c and lib/maple_tree.c at -O2, ../shared/kernel-anchor) and, right
# after it, the engine's KernelAnchorBenchmarks (same layout, operations and sizes), then prints both tables and the
# engine's median over the kernel's median for each operation and size.
#   Bench/VmaCore/compare-with-anchor.sh [--quick] [--job JOB] [ANCHOR_WORKDIR]
#     --quick        the anchor's quick mode (smaller batches, N = 1k and 60k); the engine still runs 1k, 60k and 1M
#     --job JOB      the engine's BenchmarkDotNet job (default: short)
#     ANCHOR_WORKDIR where the anchor keeps the kernel source and its build (default: $HOME/.cache/kernel-anchor)
#   ANCHOR_DIR (environment) overrides where the anchor's scripts are (default: ../shared/kernel-anchor beside the
#   repository). Nothing else may run on the machine meanwhile: both sides are timings.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ANCHOR_DIR=${ANCHOR_DIR:-$REPO/../shared/kernel-anchor}
QUICK=""
JOB=short
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=--quick; shift ;;
	--job) JOB=$2; shift 2 ;;
	*) break ;;
	esac
done
WORKDIR=${1:-${HOME:-/tmp}/.cache/kernel-anchor}
OUT=$(mktemp -d)

echo "== kernel anchor ($ANCHOR_DIR/run.sh $QUICK $WORKDIR), load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$ANCHOR_DIR/run.sh" $QUICK "$WORKDIR" | tee "$OUT/anchor.txt"

echo
echo "== engine (KernelAnchorBenchmarks, --job $JOB), load: $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$REPO" && dotnet run -c Release --project Bench -- --filter '*KernelAnchorBenchmarks*' --job "$JOB" \
	--artifacts "$OUT/engine" >"$OUT/engine.log" 2>&1) || { tail -50 "$OUT/engine.log"; exit 1; }
cat "$OUT"/engine/results/*KernelAnchorBenchmarks-report-github.md
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "== engine median / kernel median (kernel = RCU mode as a real mm, norcu = the stricter peer)"
python3 - "$OUT/anchor.txt" "$OUT"/engine/results/*KernelAnchorBenchmarks-report.csv <<'PY'
import csv, re, sys

anchor_text, engine_csv = open(sys.argv[1]).read(), sys.argv[2]
# The anchor prints one table per tree-flag mode: "maple tree flags: MODE ..." then rows
# "| a1 vma_lookup ... | min | median | nodes | min | median | nodes |" for each N in its header.
kernel = {}
for block in re.split(r"\nmaple tree flags: ", anchor_text)[1:]:
    mode = block.split()[0]
    lines = [l for l in block.splitlines() if l.startswith("|")]
    sizes = [int(n) for n in re.findall(r"N=(\d+)", lines[0])]
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        op = cells[0].split()[0]
        for k, n in enumerate(sizes):
            kernel[(mode, op, n)] = float(cells[2 + 3 * k])

units = {"ns": 1.0, "μs": 1e3, "us": 1e3, "ms": 1e6}
engine = {}
for row in csv.DictReader(open(engine_csv)):
    value, unit = row["Median"].replace(",", "").split()
    engine[(row["Categories"].split()[0], int(row["Vmas"]))] = float(value) * units[unit]

names = {"a1": "a1 lookup (VmaLookup / vma_lookup)", "a2": "a2 FindVma / find_vma",
         "b": "b  map next to a VMA (merge) + munmap", "c": "c  mprotect split 1->3 + back 3->1",
         "d": "d  munmap middle + re-map (merge)"}
sizes = sorted({n for (_, n) in engine})
print("| operation | N | engine ns | kernel norcu ns | engine / norcu | kernel (RCU) ns | engine / kernel |")
print("|---|---:|---:|---:|---:|---:|---:|")
for op, name in names.items():
    for n in sizes:
        e = engine.get((op, n))
        cells = []
        for mode in ("norcu", "kernel"):
            k = kernel.get((mode, op, n))
            cells += [f"{k:.1f}" if k else "-", f"{e / k:.2f}" if k and e else "-"]
        print(f"| {name} | {n} | {e:.1f} | " + " | ".join(cells) + " |" if e else f"| {name} | {n} | - | - | - | - | - |")
PY
echo "(raw outputs in $OUT)"
