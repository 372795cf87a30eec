#!/usr/bin/env bash
# bench/profile_cnn.sh — where a SmallCNN training epoch spends its time, by kind of work.
#
#   bench/profile_cnn.sh [-n IMAGES] [-t THREADS] [-b BUILD]     (default 6400 images, 1 thread)
#
# Samples chalk-train --model cnn (softmax, constant schedule) with `perf record -e cpu-clock`
# (a timer, so it works where hardware counters do not, e.g. in a VM; Debian: linux-perf) and
# sorts every sampled function into a kind of work: the GEMM kernels and their packing
# (OpenBLAS), im2col / col2im, pooling, the rest of conv2d (bias, slab sums), element-wise ops,
# the allocator and page clearing (memset, the kernel), and everything else. Prints one table,
# shares of the sampled CPU time. The OpenBLAS kernel is the one the environment gives
# (OPENBLAS_CORETYPE, or OpenBLAS's own choice); the table's title names it.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n=6400 threads=1 build="$repo/build"
while getopts "n:t:b:" o; do case $o in n) n=$OPTARG ;; t) threads=$OPTARG ;; b) build=$OPTARG ;; *) exit 2 ;; esac; done
command -v perf > /dev/null || { echo "profile_cnn: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kernels=$("$build/chalk-train" --blas-info)
perf record -q -e cpu-clock -F 2999 -o "$work/perf.data" "$build/chalk-train" --model cnn --loss softmax --schedule constant \
  --epochs 1 --limit-train "$n" --threads "$threads" --quiet --data "$repo/data/mnist-subset" --out "$work/run" > "$work/log" 2>&1
perf report -i "$work/perf.data" --stdio --no-children --sort dso,symbol -F overhead,dso,sym 2>/dev/null |
  grep -E '^ +[0-9.]+%' | awk -v title="SmallCNN, $n images, $threads thread(s), $kernels" '
  {
    pct = $1; sub(/%/, "", pct); dso = $2; sym = ""; for (i = 4; i <= NF; ++i) sym = sym " " $i
    if (dso ~ /openblas/) kind = "GEMM (OpenBLAS kernels and packing)"
    else if (sym ~ /im2col|col2im/) kind = "im2col / col2im"
    else if (sym ~ /pool/) kind = "pooling (max-pool forward and backward)"
    else if (sym ~ /conv2d/) kind = "conv2d glue (bias, padding, slab sums)"
    else if (sym ~ /memset|memcpy|memmove|clear_page|page_fault|alloc|free|malloc|munmap|mmap/ || dso ~ /kernel/) kind = "memory (allocator, memset/memcpy, page faults)"
    else if (sym ~ /relu|zip|map_|unary|binary|elementwise|add|mul|sub/) kind = "element-wise ops"
    else if (sym ~ /softmax|cross_entropy|log_softmax/) kind = "softmax and cross-entropy"
    else if (sym ~ /gomp|omp/ || dso ~ /gomp/) kind = "OpenMP runtime (waiting, forking)"
    else kind = "other"
    share[kind] += pct
  }
  END {
    print "| " title " | share of CPU time |"; print "|---|---|"
    n = 0
    for (k in share) order[++n] = k
    # largest first
    for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (share[order[j]] > share[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
    for (i = 1; i <= n; ++i) printf "| %s | %.1f%% |\n", order[i], share[order[i]]
  }'
