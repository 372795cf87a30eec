#!/usr/bin/env bash
# Fuzz chalk's two file readers: build the CMake preset "fuzz" (clang, libFuzzer, ASan + UBSan)
# and run each target for a while on its committed seed corpus.
#
#   scripts/fuzz.sh [SECONDS]        default 60 s per target
#
# Targets: tests/fuzz/fuzz_safetensors.cpp, tests/fuzz/fuzz_idx.cpp; seeds:
# tests/fuzz/corpus/<target>/ (valid small files and damaged ones); dictionary, if any:
# tests/fuzz/<target>.dict. New inputs libFuzzer finds
# go to a scratch folder, not into the committed corpus. Any crash, leak, undefined behaviour,
# uncaught exception, input slower than 10 s, RSS over 512 MB or single allocation over 256 MB
# stops the run with exit status 1 and leaves the input in <build>/<target>-crash-* (or leak-,
# oom-, timeout-): add it to the target's regression test and to the corpus.
# Environment: CHALK_FUZZ_BUILD, the build folder (default build-fuzz, the preset's).
# Needs clang and libclang-rt-14-dev: scripts/install-deps.sh --with-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
build=${CHALK_FUZZ_BUILD:-build-fuzz}
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found; run scripts/install-deps.sh --with-fuzz" >&2
  exit 2
fi
cmake --preset fuzz -B "$build" >/dev/null
cmake --build "$build" -j2 --target fuzz_safetensors fuzz_idx
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in fuzz_safetensors fuzz_idx; do
  echo "fuzz.sh: $target for ${secs} s on tests/fuzz/corpus/$target"
  mkdir -p "$scratch/$target"
  dict=()  # the format's words (JSON keys, dtypes), so that mutations reach past the parser
  if [ -f "tests/fuzz/$target.dict" ]; then dict=(-dict="tests/fuzz/$target.dict"); fi
  "$build/tests/fuzz/$target" "$scratch/$target" "tests/fuzz/corpus/$target" "${dict[@]}" \
    -max_total_time="$secs" -rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10 \
    -artifact_prefix="$build/$target-" -print_final_stats=1
done
echo "fuzz.sh: no crash, leak, UB or uncaught exception in ${secs} s per target"
