#!/usr/bin/env bash
# tests/exercises/edition_test.sh SOURCE_DIR CHALK_EXERCISES — the student edition, end to end
# (ctest -L edition): write an edition with exercises 01, 05 and 09 blanked, build it, and check
# what docs/teaching.md promises:
#   - the three check programs fail with their stub's "not done yet" message, the other nine pass;
#   - a test that needs a blanked function fails with the stub's message, never with a crash;
#   - chalk-train and a demo stop with the stub's message (exit 1, no abort); grade scores 0 of 3;
#   - nothing of the three solutions is left (no region, no file of their wrong answers, no
#     break-it quoting one of their lines); the edition's break-its and links still check out;
#   - with the solutions written back ("the student solves them"), the three pass and grade
#     scores 3 of 3.
# Exit status: 0 pass, 1 a promise broken (the message says which), 77 skipped (no git checkout).
set -uo pipefail
src=$1
tool=$2
if [[ ! -d $src/.git && ! -f $src/.git ]]; then
  echo "edition_test: $src is not a git checkout: skipped"
  exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/chalk_edition_XXXXXX")
trap 'rm -rf "$work"' EXIT
ed=$work/edition
fail() { echo "edition_test: FAIL: $*"; exit 1; }

"$tool" edition --from "$src" --out "$ed" --blank 1,5,9 || fail "chalk-exercises edition failed"
for n in 01 05 09; do
  grep -rqsE -- "^\s*(//|<!--)\s*---- exercise $n begin" "$ed" --include='*.cpp' --include='*.h' --include='*.md' &&
    fail "a region of exercise $n is left in the edition"
  ls "$ed"/tests/exercises/mistakes_${n}_* >/dev/null 2>&1 && fail "exercise $n's wrong answers are left in the edition"
done

cmake -S "$ed" -B "$ed/build" -DCMAKE_BUILD_TYPE=Release -DCHALK_BUILD_BENCHMARKS=OFF \
  > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "the edition does not configure"; }
targets=(chalk-train exercises test_exercises test_ops_elementwise demo_07_centroid_bound test_break_its test_demos)
cmake --build "$ed/build" -j2 --target "${targets[@]}" > "$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log"; fail "the edition does not build"; }
grep -q "warning:" "$work/build.log" && { grep -A3 "warning:" "$work/build.log" | head -20; fail "the edition builds with warnings"; }

check_programs() {  # $1: the exercises expected to fail (space-separated ids)
  for prog in "$ed"/build/exercise_[0-9][0-9]; do
    n=${prog##*_}
    out=$("$prog" 2>&1); status=$?
    if [[ " $1 " == *" $n "* ]]; then
      [[ $status -eq 1 ]] || fail "exercise_$n exited $status, expected 1 (not done)"
      grep -q "exercise $n is not done yet" <<<"$out" || fail "exercise_$n does not say it is not done: $out"
    else
      [[ $status -eq 0 ]] || fail "exercise_$n fails in the edition although it is not blanked: $out"
    fi
  done
}
check_programs "01 05 09"

# the pages and the break-it catalogue agree with the edition's sources: the break-its of blanked
# exercises are dropped with them (no line of a solution quoted), every link resolves
out=$("$ed/build/test_break_its" 2>&1) || fail "test_break_its fails in the edition: $(grep -A8 'Failure' <<<"$out" | head -30)"
grep -q '"exercise": [59]' "$ed/tests/break_its.json" && fail "tests/break_its.json keeps a break-it of a blanked exercise"
out=$("$ed/build/test_demos" --gtest_filter='docs_links.*' 2>&1) ||
  fail "docs_links fails in the edition: $(grep -A8 'Failure' <<<"$out" | head -30)"

# a test program that needs sum_to: its failures are the stub's, no crash
out=$("$ed/build/test_ops_elementwise" 2>&1); status=$?
[[ $status -eq 1 ]] || fail "test_ops_elementwise exited $status (expected 1: some tests need sum_to)"
grep -q "exercise 01 is not done yet" <<<"$out" || fail "test_ops_elementwise's failures do not carry the stub's message"
failed=$(grep -c '^\[  FAILED  \].*ms)$' <<<"$out")
stubbed=$(grep -c "exercise 01 is not done yet" <<<"$out")
[[ $failed -ge 1 && $stubbed -ge $failed ]] || fail "test_ops_elementwise: $failed tests failed, only $stubbed with the stub's message"

# the main program stops with the stub's message (softmax cross-entropy is exercise 05)
out=$("$ed/build/chalk-train" --epochs 1 --limit-train 256 --threads 1 --quiet --out "$work/run" 2>&1); status=$?
[[ $status -eq 1 ]] || fail "chalk-train exited $status, expected 1: $out"
grep -q "is not done yet" <<<"$out" || fail "chalk-train does not name the exercise: $out"

# a demo that needs a blanked function (demo 07: the centroid bound, exercise 09) says which, exit 1
out=$("$ed/build/demo_07_centroid_bound" --quick --threads 1 --out "$work/demo-07" 2>&1); status=$?
[[ $status -eq 1 ]] || fail "demo_07_centroid_bound exited $status, expected 1: $(tail -5 <<<"$out")"
grep -q "demo 07: error: exercise [0-9]* is not done yet" <<<"$out" ||
  fail "demo_07_centroid_bound does not name the exercise: $(tail -5 <<<"$out")"

(cd "$ed" && "$ed/build/chalk-exercises" grade --build build --out "$work/results.json" --no-build > "$work/grade.log" 2>&1) ||
  fail "grade failed: $(cat "$work/grade.log")"
grep -q 'score 0 of 3;' "$work/grade.log" || fail "grade did not score 0 of 3: $(cat "$work/grade.log")"

# the student writes the three functions (here: chalk's own, copied back: every C++ source the
# edition blanked, wherever the exercises' regions live)
solved=0
while IFS= read -r f; do
  cmp -s "$src/$f" "$ed/$f" && continue
  cp "$src/$f" "$ed/$f"; solved=$((solved + 1))
done < <(cd "$ed" && git ls-files '*.cpp' '*.h' | grep -v '^tests/')
[[ $solved -ge 3 ]] || fail "only $solved C++ sources differ from chalk's: the three exercises' regions were not blanked?"
cmake --build "$ed/build" -j2 --target exercises chalk-train > "$work/rebuild.log" 2>&1 ||
  { tail -40 "$work/rebuild.log"; fail "the solved edition does not build"; }
check_programs ""
(cd "$ed" && "$ed/build/chalk-exercises" grade --build build --out "$work/results.json" --no-build > "$work/grade.log" 2>&1) ||
  fail "grade failed: $(cat "$work/grade.log")"
grep -q 'score 3 of 3;' "$work/grade.log" || fail "grade did not score 3 of 3 once solved: $(cat "$work/grade.log")"
echo "edition_test: the edition with 01, 05, 09 blanked builds, stops with the stubs' messages, and passes once solved"
