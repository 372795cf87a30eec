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
# Needs a built release tree (cmake --build build --target programs) and python3: scripts/spread_table.py
# writes the tables (run it alone to rebuild them from the runs in <work>).
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
python3 "$root/scripts/spread_table.py" "$work" "$out" "$(( $(date +%s) - start ))" "$threads" "${kernels[@]}"
