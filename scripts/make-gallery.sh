#!/usr/bin/env bash
# scripts/make-gallery.sh — run every numbered demo and write the gallery, docs/demos/.
#
#   scripts/make-gallery.sh                      # build the programs, run all demos, write docs/demos/
#   scripts/make-gallery.sh --out-root /tmp/g    # the same into another folder (to try it out)
#   scripts/make-gallery.sh --quick --out-root /tmp/g   # every demo in --quick mode (seconds each)
#
# For each demos/NN_topic.cpp it runs build/demo_NN_topic in its default mode (the shipped
# 7,000-image MNIST subset) with --out <out-root>/NN_topic, then writes <out-root>/README.md:
# one row per demo with its title (the program's --describe), its run time, a link to its
# report.md and a thumbnail of its first figure. It prints how long each demo and the whole run
# took, and stops with an error (exit 1) as soon as a demo fails: a demo exits non-zero when
# one of its claims does not hold, and a gallery must not show a claim that failed.
#
# Options:
#   --build-dir DIR   the CMake build folder (default: build; configured already)
#   --out-root DIR    where the demo folders and README.md go (default: docs/demos)
#   --quick           pass --quick to every demo (to test this script; not for the gallery)
#   --threads N       pass --threads N to every demo (default: the demos' own default)
#   --no-build        do not run `cmake --build ... --target programs` first
# The folder NN_topic of a demo is emptied before it runs, and folders of demos that no longer
# exist are removed, so the gallery holds exactly what this run wrote.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=build
out_root=docs/demos
quick=0
threads=""
do_build=1

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "make-gallery: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) [[ $# -ge 2 ]] || die "--build-dir needs a folder"; build_dir=$2; shift 2 ;;
    --out-root)  [[ $# -ge 2 ]] || die "--out-root needs a folder"; out_root=$2; shift 2 ;;
    --threads)   [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "--threads needs a number, got '${2:-}'"; threads=$2; shift 2 ;;
    --quick)     quick=1; shift ;;
    --no-build)  do_build=0; shift ;;
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
for name in "${names[@]}"; do
  [[ -x "$build_dir/demo_$name" ]] || die "$build_dir/demo_$name is missing: build it (cmake --build $build_dir --target programs)"
done

mkdir -p "$out_root"
out_abs=$(cd "$out_root" && pwd)
[[ "$out_abs" != "$root" ]] || die "--out-root must not be the repository root"

# folders of demos that no longer exist
for dir in "$out_abs"/[0-9][0-9]_*/; do
  [[ -d "$dir" ]] || continue
  n=$(basename "$dir")
  if [[ ! -f "demos/$n.cpp" ]]; then
    echo "== removing $out_root/$n (no demos/$n.cpp)"
    rm -rf -- "${out_abs:?}/$n"
  fi
done

flags=()
[[ $quick == 1 ]] && flags+=(--quick)
[[ -n "$threads" ]] && flags+=(--threads "$threads")

log=$(mktemp)
trap 'rm -f "$log"' EXIT
declare -A seconds title
for name in "${names[@]}"; do
  prog="$build_dir/demo_$name"
  described=$("$prog" --describe) || die "$prog --describe failed: is it a Notebook demo (demos/notebook.h)?"
  [[ $described == "# Demo "* ]] || die "$prog --describe printed '${described%%$'\n'*}', not '# Demo NN — title'"
  title[$name]=$(head -n 1 <<<"$described" | sed 's/^# //')
  rm -rf -- "${out_abs:?}/$name"
  echo "== $name: ${title[$name]}"
  t0=$(now)
  if ! "$prog" "${flags[@]}" --out "$out_abs/$name" >"$log" 2>&1; then
    echo "---- last lines of its output:" >&2
    tail -n 40 "$log" >&2
    die "demo_$name failed (exit status non-zero: a claim did not hold or it stopped with an error); the gallery was not written"
  fi
  seconds[$name]=$(secs "$t0" "$(now)")
  [[ -f "$out_abs/$name/report.md" ]] || die "demo_$name did not write $out_root/$name/report.md"
  echo "   ${seconds[$name]} s"
done

# the index
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
total=$(secs "$t_start" "$(now)")
{
  echo "# The demo gallery"
  echo
  echo "Each numbered program in [\`demos/\`](../../demos/) is a notebook: prose, code, tables, figures"
  echo "and the claims it checks. These are their reports from one run of"
  echo "\`scripts/make-gallery.sh$([[ $quick == 1 ]] && echo " --quick")$([[ -n $threads ]] && echo " --threads $threads")\`"
  echo "at commit $commit ($(nproc) cores$([[ $quick == 1 ]] && echo ", --quick mode"); the shipped MNIST subset;"
  echo "the run$([[ $do_build == 1 ]] && echo ", building included,") took $total s). Run a demo yourself with \`build/demo_NN_topic\`"
  echo "(add \`--quick\` for a few seconds); the order to read them in is in [docs/course.md](../course.md)."
  echo
  echo "| demo | source | run time | report | first figure |"
  echo "|---|---|---|---|---|"
  for name in "${names[@]}"; do
    fig=$(grep -o -m 1 '!\[[^]]*\]([^)]*\.svg)' "$out_abs/$name/report.md" | sed 's/.*(\(.*\))/\1/' || true)
    thumb="(no figure)"
    [[ -n "$fig" ]] && thumb="[<img src=\"$name/$fig\" width=\"240\" alt=\"$name: $fig\">]($name/report.md)"
    echo "| ${title[$name]} | [demos/$name.cpp](../../demos/$name.cpp) | ${seconds[$name]} s | [report]($name/report.md) | $thumb |"
  done
} >"$out_abs/README.md"

echo
echo "== run times"
for name in "${names[@]}"; do printf '   %-40s %8s s\n' "$name" "${seconds[$name]}"; done
printf '   %-40s %8s s\n' "total$([[ $do_build == 1 ]] && echo " (with the build)")" "$total"
echo "gallery: $out_root/README.md"
