#!/usr/bin/env bash
# bench/compare_builds.sh — is a change faster or slower? Two builds of chalk (e.g. main
# before and after a change, each built in its own folder), timed alternately in one run.
#
#   git worktree add --detach ../chalk-before <commit>
#   cmake -S ../chalk-before -B ../chalk-before/build -DCMAKE_BUILD_TYPE=Release
#   cmake --build ../chalk-before/build -j2 --target chalk-train bench_losses
#   bench/compare_builds.sh ../chalk-before/build build        # before, after
#
# Options (after the two folders): -r R repeats (default 3); -n N CNN training images
# (default 12,800; the MLP trains on all 60,000); -t "2 1" thread counts; --no-losses.
# Per repeat, for each thread count: chalk-train MLP one epoch and CNN one (partial) epoch,
# --schedule constant --loss softmax, before then after (epoch_seconds: training only); and
# bench_losses (every loss's forward + backward, 256 x 64) before then after. Reported:
# medians and after/before (below 1: the change made it faster). Needs full MNIST
# (scripts/fetch-mnist.sh) and both builds' chalk-train (and bench_losses unless --no-losses).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-/usr/bin/python3}"
[ $# -ge 2 ] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
before="$(cd "$1" && pwd)" after="$(cd "$2" && pwd)"; shift 2
repeats=3 cnn_images=12800 threads="2 1" losses=1
while [ $# -gt 0 ]; do
  case "$1" in
    -r) repeats="$2"; shift 2 ;;
    -n) cnn_images="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    --no-losses) losses=0; shift ;;
    *) echo "compare_builds.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
die() { echo "compare_builds.sh: error: $*" >&2; exit 1; }
for b in "$before" "$after"; do
  [ -x "$b/chalk-train" ] || die "$b/chalk-train not found (build it first)"
  [ "$losses" -eq 0 ] || [ -x "$b/bench_losses" ] || die "$b/bench_losses not found (or pass --no-losses)"
done
data="$repo/data/mnist-full"
[ -f "$data/train-images-idx3-ubyte" ] || [ -f "$data/train-images-idx3-ubyte.gz" ] ||
  die "full MNIST not found in $data: run scripts/fetch-mnist.sh first"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
res="$work/res.tsv"; : >"$res"

blas_kernels_train="$after/chalk-train"
source "$repo/bench/blas_kernels.sh"  # the same OpenBLAS kernels for both builds
echo "== environment"
echo "date:    $(date -Is)"
echo "cpu:     $(lscpu | sed -n 's/^Model name: *//p') — $(nproc) cores"
echo "kernels: $blas_kernels_note"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
echo "before:  $before ($(git -C "$before/.." rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "after:   $after ($(git -C "$after/.." rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo

epoch() {  # which build model threads repeat
  local out="$work/$1-$3-t$4-$5" limit=0
  [ "$3" = cnn ] && limit="$cnn_images"
  "$2/chalk-train" --model "$3" --loss softmax --epochs 1 --schedule constant --threads "$4" --seed "$5" \
    --data "$data" --limit-train "$limit" --quiet --out "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; die "$2/chalk-train failed"; }
  "$PY" -c 'import json,sys
for l in open(sys.argv[1]): print(sys.argv[2], json.loads(l)["epoch_seconds"] * 1e6, sep="\t")' "$out/metrics.jsonl" \
    "$1	$3 epoch, --threads $4" >>"$res"
}
loss_round() {  # which build
  CHALK_BENCH_THREADS=2 "$2/bench_losses" --benchmark_min_time=0.2 --benchmark_format=json >"$work/bl.json" 2>/dev/null ||
    die "$2/bench_losses failed"
  "$PY" -c 'import json,sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("run_type", "iteration") == "iteration":
        print(sys.argv[2], "loss " + b["name"], b["real_time"] * {"ns": 1e-3, "us": 1, "ms": 1e3}[b["time_unit"]], sep="\t")' \
    "$work/bl.json" "$1" >>"$res"
}
for r in $(seq 1 "$repeats"); do
  echo "== repeat $r/$repeats (load $(cut -d' ' -f1 /proc/loadavg))"
  for t in $threads; do
    for m in mlp cnn; do epoch before "$before" "$m" "$t" "$r"; epoch after "$after" "$m" "$t" "$r"; done
  done
  if [ "$losses" -eq 1 ]; then loss_round before "$before"; loss_round after "$after"; fi
done
echo
"$PY" - "$res" <<'EOF2'
import collections, statistics, sys
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    which, what, us = line.rstrip("\n").split("\t")
    v[(what, which)].append(float(us))
whats = list(dict.fromkeys(w for w, _ in v))
print(f"{'what':52} {'before':>12} {'after':>12} {'after/before':>13}")
for w in whats:
    b, a = statistics.median(v[(w, "before")]), statistics.median(v[(w, "after")])
    unit = "s" if "epoch" in w else "us"
    f = (lambda x: f"{x / 1e6:10.3f} s") if unit == "s" else (lambda x: f"{x:9.1f} us")
    print(f"{w:52} {f(b):>12} {f(a):>12} {a / b:13.2f}")
print("medians over repeats; epochs: training only (epoch_seconds); losses: bench_losses at 2 threads")
EOF2
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
