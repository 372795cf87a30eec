#!/usr/bin/env bash
# scripts/test-kernels.sh — the whole test suite once per OpenBLAS kernel, on this machine.
#
# OpenBLAS picks its kernels when it loads: from OPENBLAS_CORETYPE if set, else from the CPU.
# CI runs on whatever CPU the submitting machine has, and the environment may set the variable;
# every test must pass with each kernel the CPU can run. This runs `ctest` on an existing build
# (default: build/) with OPENBLAS_CORETYPE set, one run per kernel:
#   Prescott  generic SSE3 kernels (any x86-64)
#   Haswell   AVX2 + FMA (skipped on a CPU without them)
#   SkylakeX  AVX-512 F/DQ/BW/VL (skipped on a CPU without them)
# A test never sets the variable itself; this script is the one place that does, and it is not
# part of .ci/run (CI runs the suite with the environment as the machine gives it).
#
# Usage: scripts/test-kernels.sh [BUILD_DIR] [extra ctest arguments, e.g. -R Collapse]
# Exit status: 0 when every run passed, 1 otherwise (each failing kernel is named).
set -uo pipefail
build="${1:-build}"
shift || true
[ -f "$build/CTestTestfile.cmake" ] || { echo "test-kernels: $build is not a configured build (cmake -S . -B $build, then build it)" >&2; exit 2; }
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
failed=()
for kernel in Prescott Haswell SkylakeX; do
  case "$kernel" in
    Haswell) has avx2 fma || { echo "test-kernels: $kernel skipped: this CPU has no AVX2 + FMA"; continue; } ;;
    SkylakeX) has avx512f avx512dq avx512bw avx512vl || { echo "test-kernels: $kernel skipped: this CPU has no AVX-512"; continue; } ;;
  esac
  echo "test-kernels: OPENBLAS_CORETYPE=$kernel ctest --test-dir $build -j2 $*"
  start=$(date +%s)
  if OPENBLAS_CORETYPE="$kernel" ctest --test-dir "$build" -j2 --output-on-failure "$@" > "$build/test-kernels-$kernel.log" 2>&1; then
    echo "test-kernels: $kernel: $(grep -E 'tests passed' "$build/test-kernels-$kernel.log") ($(( $(date +%s) - start )) s)"
  else
    echo "test-kernels: $kernel: FAILED: $(grep -E 'tests passed|tests failed' "$build/test-kernels-$kernel.log" | tail -1); log: $build/test-kernels-$kernel.log"
    grep -E '^\s+[0-9]+ - ' "$build/test-kernels-$kernel.log" | sed 's/^/  /'
    failed+=("$kernel")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "test-kernels: failed with ${failed[*]}"; exit 1; fi
echo "test-kernels: every kernel passed"
