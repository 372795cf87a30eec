#!/usr/bin/env bash
# scripts/kernel-spread.sh — how far the gallery's numbers move with the OpenBLAS kernel.
#
# Another OpenBLAS kernel rounds matrix products otherwise; a training run amplifies the last
# bits, so a demo's numbers differ between CPUs (and kernels) although the same seed and the same
# thread count give the same numbers on one machine. This runs every demo's default mode once per
# kernel this CPU can run (Prescott, Haswell, SkylakeX: OPENBLAS_CORETYPE set per run; --threads 2,
# which gives the same numbers as any other thread count with one kernel: docs/training.md#threads)
# into <work>/<kernel>/NN_topic, then writes docs/demos/SPREAD.md: for every number a demo
# reports (its results.json), the value under each kernel and the spread (max - min). The gallery
# and the docs quote numbers no tighter than this.
#
#   scripts/kernel-spread.sh [--build-dir build] [--work /tmp/kernel-spread] [--out docs/demos/SPREAD.md]
#                            [--demos "04 05 ..."]   (default: every demo)   [--threads N]  (default 2)
# Needs a built release tree (cmake --build build --target programs) and python3 (for the table).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=build work=/tmp/kernel-spread out=docs/demos/SPREAD.md demos="" threads=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --demos) demos=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kernel-spread: unknown option '$1'" >&2; exit 2 ;;
  esac
done
cd "$root"
[[ -d "$build_dir" ]] || { echo "kernel-spread: no build folder '$build_dir'" >&2; exit 1; }
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
kernels=(Prescott)
has avx2 fma && kernels+=(Haswell)
has avx512f avx512dq avx512bw avx512vl && kernels+=(SkylakeX)
programs=()
for src in demos/[0-9][0-9]_*.cpp; do
  name=$(basename "$src" .cpp)
  [[ -z "$demos" || " $demos " == *" ${name:0:2} "* ]] && programs+=("$name")
done
mkdir -p "$work"
start=$(date +%s)
for k in "${kernels[@]}"; do
  for name in "${programs[@]}"; do
    d="$work/$k/$name"
    rm -rf "$d"; mkdir -p "$work/$k"
    t0=$(date +%s)
    OPENBLAS_CORETYPE=$k "$build_dir/demo_$name" --threads "$threads" --out "$d" > "$d.log" 2>&1 ||
      echo "kernel-spread: demo_$name under $k exited non-zero (a claim failed): see $d.log"
    echo "kernel-spread: $k demo_$name $(( $(date +%s) - t0 )) s"
  done
done
python3 - "$work" "$out" "$(( $(date +%s) - start ))" "$threads" "${kernels[@]}" <<'PY'
import json, os, sys
work, out, secs, threads, kernels = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
demos = sorted({d for k in kernels for d in os.listdir(os.path.join(work, k)) if os.path.isdir(os.path.join(work, k, d))})
lines = ["# How far the gallery's numbers move with the OpenBLAS kernel", "",
         "Written by `scripts/kernel-spread.sh`: every demo's default run once per OpenBLAS kernel this CPU can run "
         f"({', '.join(kernels)}; `OPENBLAS_CORETYPE` set per run, {threads} thread(s), seed 0), {secs} s in all. "
         "The same seed and thread count give the same numbers with one kernel; another kernel rounds the matrix "
         "products otherwise and training carries the difference on. **spread** is max - min over the kernels: "
         "read a gallery number as uncertain by at least that much. A row whose spread is 0 did not move.", ""]
machine = None
summary = []
for d in demos:
    res = {}
    for k in kernels:
        p = os.path.join(work, k, d, "results.json")
        if os.path.exists(p):
            j = json.load(open(p))
            res[k] = j.get("results", {})
            machine = machine or j.get("machine")
    keys = sorted({key for r in res.values() for key in r})
    rows, moved, largest = [], 0, (0.0, "")
    for key in keys:
        vals = [res[k].get(key) for k in kernels]
        nums = [v for v in vals if isinstance(v, (int, float))]
        spread = max(nums) - min(nums) if len(nums) == len(kernels) else float("nan")
        if spread != 0: moved += 1
        if key not in ("seconds",) and not key.endswith("_seconds") and "seconds" not in key and spread == spread and spread > largest[0]:
            largest = (spread, key)
        cells = [("%.6g" % v) if isinstance(v, (int, float)) else str(v) for v in vals]
        rows.append(f"| {key} | " + " | ".join(cells) + f" | {spread:.3g} |")
    summary.append(f"| {d} | {len(keys)} | {moved} | {largest[1] or '-'} ({largest[0]:.3g}) |")
    lines += [f"## {d}", "", "| number | " + " | ".join(kernels) + " | spread |", "|---|" + "---|" * (len(kernels) + 1)] + rows + [""]
head = ["## Summary", "", "| demo | numbers | numbers that moved | largest spread (timings aside) |", "|---|---|---|---|"] + summary + [""]
if machine: lines.insert(4, f"*Machine (the first kernel's run): {machine}.*\n")
lines[5:5] = head
open(out, "w").write("\n".join(lines) + "\n")
print(f"kernel-spread: wrote {out}")
PY
