#!/usr/bin/env bash
# scripts/make-gallery.sh — run every numbered demo and write the gallery, docs/demos/.
#
#   scripts/make-gallery.sh                      # build the programs, run all demos, write docs/demos/
#   scripts/make-gallery.sh --demos "07 09"      # only demos 07 and 09 (the others' folders stay)
#   scripts/make-gallery.sh --out-root /tmp/g    # the same into another folder (to try it out)
#   scripts/make-gallery.sh --quick --out-root /tmp/g   # every demo in --quick mode (seconds each)
#
# For each demos/NN_topic.cpp it runs build/demo_NN_topic in its default mode (the shipped
# 7,000-image MNIST subset) with --out <out-root>/NN_topic; a demo that takes --dataset
# (demos/notebook.h: add_dataset_flag) runs once more per other data set, on that data set's
# shipped subset, into <out-root>/NN_topic-<dataset> (e.g. 09_loss_comparison-fashion-mnist).
# Then it writes <out-root>/README.md from the folders there: one row per report with its
# title (the program's --describe), its data set, its run time (from the report's run line), a
# link to its report.md and a thumbnail of its first figure. It prints how long each run and the
# whole script took, and stops with an error (exit 1) as soon as a demo fails: a demo exits
# non-zero when one of its claims does not hold, and a gallery must not show a claim that failed.
#
# Options:
#   --build-dir DIR   the CMake build folder (default: build; configured already)
#   --out-root DIR    where the demo folders and README.md go (default: docs/demos)
#   --demos "NN ..."  run only these demos (by number); the other demos' folders are kept as they are
#   --quick           pass --quick to every demo (to test this script; not for the gallery)
#   --threads N       pass --threads N to every demo (default: the demos' own default)
#   --no-build        do not run `cmake --build ... --target programs` first
#   --index-only      run no demo: only write README.md from the report folders there
# The folders of a demo that runs are emptied before it runs, and folders of demos that no longer
# exist are removed, so the gallery holds exactly what the runs wrote.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=build
out_root=docs/demos
quick=0
threads=""
only=""
do_build=1
index_only=0
# the data sets besides MNIST (io/mnist.h's registry) that a demo taking --dataset also runs on
other_datasets=(fashion-mnist)

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "make-gallery: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) [[ $# -ge 2 ]] || die "--build-dir needs a folder"; build_dir=$2; shift 2 ;;
    --out-root)  [[ $# -ge 2 ]] || die "--out-root needs a folder"; out_root=$2; shift 2 ;;
    --threads)   [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "--threads needs a number, got '${2:-}'"; threads=$2; shift 2 ;;
    --demos)     [[ $# -ge 2 && $2 =~ ^[0-9\ ]+$ ]] || die "--demos needs demo numbers, e.g. \"07 09\", got '${2:-}'"; only=$2; shift 2 ;;
    --quick)     quick=1; shift ;;
    --no-build)  do_build=0; shift ;;
    --index-only) index_only=1; do_build=0; shift ;;
    -h|--help)   usage; exit 0 ;;
    *) echo "make-gallery: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

cd "$root"
[[ -n "$out_root" && "$out_root" != "/" ]] || die "--out-root must name a folder, got '$out_root'"
[[ -d "$build_dir" ]] || die "build folder '$build_dir' does not exist (configure first: cmake -S . -B $build_dir -DCMAKE_BUILD_TYPE=Release)"
build_dir=$(cd "$build_dir" && pwd)

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

t_start=$(now)

if [[ $do_build == 1 ]]; then
  echo "== building the programs: cmake --build $build_dir --target programs"
  cmake --build "$build_dir" -j2 --target programs
fi

# the demos, in order: demos/NN_topic.cpp -> NN_topic
mapfile -t names < <(cd demos && ls [0-9][0-9]_*.cpp 2>/dev/null | sed 's/\.cpp$//' | sort)
[[ ${#names[@]} -gt 0 ]] || die "no demos/NN_*.cpp found in $root/demos"
# the runs: "NN_topic" (MNIST) and "NN_topic-<dataset>" for a demo that takes --dataset
runs=()
for name in "${names[@]}"; do
  [[ $index_only == 0 && ( -z "$only" || " $only " == *" ${name:0:2} "* ) ]] || continue
  [[ -x "$build_dir/demo_$name" ]] || die "$build_dir/demo_$name is missing: build it (cmake --build $build_dir --target programs)"
  runs+=("$name")
  if "$build_dir/demo_$name" --help | grep -q -- '--dataset'; then
    for ds in "${other_datasets[@]}"; do runs+=("$name-$ds"); done
  fi
done
[[ ${#runs[@]} -gt 0 || $index_only == 1 ]] || die "--demos '$only' names no demo in demos/"

mkdir -p "$out_root"
out_abs=$(cd "$out_root" && pwd)
[[ "$out_abs" != "$root" ]] || die "--out-root must not be the repository root"

# folders of demos that no longer exist (NN_topic or NN_topic-<dataset> without demos/NN_topic.cpp)
for dir in "$out_abs"/[0-9][0-9]_*/; do
  [[ -d "$dir" ]] || continue
  n=$(basename "$dir")
  if [[ ! -f "demos/${n%%-*}.cpp" ]]; then
    echo "== removing $out_root/$n (no demos/${n%%-*}.cpp)"
    rm -rf -- "${out_abs:?}/$n"
  fi
done

flags=()
[[ $quick == 1 ]] && flags+=(--quick)
[[ -n "$threads" ]] && flags+=(--threads "$threads")

log=$(mktemp)
trap 'rm -f "$log"' EXIT
declare -A seconds
for run in "${runs[@]+"${runs[@]}"}"; do
  name=${run%%-*}
  prog="$build_dir/demo_$name"
  run_flags=("${flags[@]}")
  [[ "$run" == *-* ]] && run_flags+=(--dataset "${run#*-}")
  described=$("$prog" --describe) || die "$prog --describe failed: is it a Notebook demo (demos/notebook.h)?"
  [[ $described == "# Demo "* ]] || die "$prog --describe printed '${described%%$'\n'*}', not '# Demo NN — title'"
  rm -rf -- "${out_abs:?}/$run"
  echo "== $run: $(head -n 1 <<<"$described" | sed 's/^# //')"
  t0=$(now)
  if ! "$prog" "${run_flags[@]}" --out "$out_abs/$run" >"$log" 2>&1; then
    echo "---- last lines of its output:" >&2
    tail -n 40 "$log" >&2
    die "demo_$name ${run_flags[*]} failed (exit status non-zero: a claim did not hold or it stopped with an error); the gallery was not written"
  fi
  seconds[$run]=$(secs "$t0" "$(now)")
  [[ -f "$out_abs/$run/report.md" ]] || die "demo_$name did not write $out_root/$run/report.md"
  echo "   ${seconds[$run]} s"
done

# the index, from every report folder there (those this run wrote and those it kept)
{
  echo "# The demo gallery"
  echo
  echo "Each numbered program in [\`demos/\`](../../demos/) is a notebook: prose, code, tables, figures"
  echo "and the claims it checks. These are their reports, written by"
  echo "\`scripts/make-gallery.sh\`$([[ $quick == 1 ]] && echo " (in --quick mode)"): each demo in its default mode on"
  echo "the shipped MNIST subset, and a demo that takes \`--dataset\` once more on the shipped"
  echo "Fashion-MNIST subset (the rows marked Fashion-MNIST). Each report's first lines give the command,"
  echo "the commit, the machine and the run time. Run a demo yourself with \`build/demo_NN_topic\`"
  echo "(add \`--quick\` for a few seconds, \`--dataset fashion-mnist\` for the other data set); the order"
  echo "to read them in is in [docs/course.md](../course.md)."
  echo
  echo "| demo | data set | source | run time | report | first figure |"
  echo "|---|---|---|---|---|---|"
  # NN_topic before NN_topic-<dataset>: byte order (a locale's collation may ignore the '-')
  mapfile -t folders < <(cd "$out_abs" && ls -d [0-9][0-9]_*/ 2>/dev/null | sed 's:/$::' | LC_ALL=C sort)
  for run in "${folders[@]}"; do
    dir="$out_abs/$run"
    [[ -f "$dir/report.md" ]] || continue
    name=${run%%-*}
    title=$(head -n 1 "$dir/report.md" | sed 's/^# //')
    data=$(grep -m 1 '^\*Run: ' "$dir/report.md" | sed -n 's/.* on the \(shipped \)\{0,1\}\([^ ]*\) \(subset\|files\).*/\2/p')
    time=$(grep -m 1 '^\*Run: ' "$dir/report.md" | sed -n 's/.*, \([0-9.]*\) s\.\*$/\1/p')
    fig=$(grep -o -m 1 '!\[[^]]*\]([^)]*\.svg)' "$dir/report.md" | sed 's/.*(\(.*\))/\1/' || true)
    thumb="(no figure)"
    [[ -n "$fig" ]] && thumb="[<img src=\"$run/$fig\" width=\"240\" alt=\"$run: $fig\">]($run/report.md)"
    echo "| $title | ${data:-?} | [demos/$name.cpp](../../demos/$name.cpp) | ${time:-?} s | [report]($run/report.md) | $thumb |"
  done
} >"$out_abs/README.md"

total=$(secs "$t_start" "$(now)")
echo
echo "== run times"
for run in "${runs[@]+"${runs[@]}"}"; do printf '   %-52s %8s s\n' "$run" "${seconds[$run]}"; done
printf '   %-52s %8s s\n' "total$([[ $do_build == 1 ]] && echo " (with the build)")" "$total"
echo "gallery: $out_root/README.md"
