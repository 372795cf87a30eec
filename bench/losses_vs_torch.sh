#!/usr/bin/env bash
# bench/losses_vs_torch.sh — forward + backward of each loss, chalk (bench/bench_losses.cpp)
# next to PyTorch (bench/losses_torch.py), on 256 x 64 float32 embeddings (16 classes x 16
# samples; cross-entropy on 256 x 10 logits). One table: median microseconds and chalk/torch.
#
#   bench/losses_vs_torch.sh                  # 5 rounds, 2 threads
#   bench/losses_vs_torch.sh -r 9 -t 1        # 9 rounds, 1 thread
#   bench/losses_vs_torch.sh -f arcface       # only the losses whose name contains "arcface"
#
# Options: -r R rounds (default 5); -t T threads for both (default 2: chalk
# CHALK_BENCH_THREADS=T, torch.set_num_threads(T) and OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = T);
# -f NAME filter; -s SECONDS per loss per round (default 0.2); -b DIR build folder (default build/,
# bench_losses is built there if missing).
# Each round runs bench_losses once (one sample per loss) then losses_torch.py once, so that
# load from other jobs hits both alike; medians are over rounds.
# Without PyTorch (`import torch` fails in /usr/bin/python3) only the chalk column is filled.
# The triplet rows appear when the triplet loss is in chalk's registry (losses/triplet.cpp).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-/usr/bin/python3}"   # the interpreter with PyTorch (env PYTHON overrides)
rounds=5 threads=2 filter="" secs=0.2 build="$repo/build"
while [ $# -gt 0 ]; do
  case "$1" in
    -r) rounds="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    -f) filter="$2"; shift 2 ;;
    -s) secs="$2"; shift 2 ;;
    -b) build="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "losses_vs_torch.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "losses_vs_torch.sh: error: $*" >&2; exit 1; }
[ -x "$PY" ] || die "$PY not found (the table is computed with it)"
bench="$build/bench_losses"
if [ ! -x "$bench" ] || [ ! -x "$build/chalk-train" ]; then  # chalk-train: which BLAS kernels (blas_kernels.sh)
  echo "losses_vs_torch.sh: building bench_losses and chalk-train in $build ..."
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target bench_losses chalk-train >/dev/null
fi
have_torch=1
if ! "$PY" -c "import torch" 2>/dev/null; then
  have_torch=0
  echo "losses_vs_torch.sh: PyTorch SKIPPED: 'import torch' fails in $PY (Debian: apt-get install python3-torch)"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

blas_kernels_train="$build/chalk-train"
source "$repo/bench/blas_kernels.sh"
echo "== environment"
echo "date:      $(date -Is)"
echo "cpu:       $(lscpu | sed -n 's/^Model name: *//p') — $(nproc) cores available"
echo "kernels:   $blas_kernels_note"
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; > 0.5 means other jobs are running)"
vars="$(env | grep -E '^(OPENBLAS_|OMP_|GOMP_|MKL_)' | tr '\n' ' ' || true)"
echo "env vars:  ${vars:-none of OPENBLAS_* / OMP_* / GOMP_* / MKL_* set} (before this script sets its own)"
echo "threads:   $threads (chalk: CHALK_BENCH_THREADS; torch: set_num_threads + OPENBLAS/OMP_NUM_THREADS)"
echo "chalk:     $bench ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "rounds:    $rounds x ${secs}s per loss"
echo

for r in $(seq 1 "$rounds"); do
  echo "== round $r/$rounds (load $(cut -d' ' -f1 /proc/loadavg))"
  CHALK_BENCH_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" \
    "$bench" --benchmark_min_time="$secs" --benchmark_filter="BM_Loss/.*${filter}" \
    --benchmark_format=json --benchmark_out="$work/chalk-$r.json" --benchmark_out_format=json \
    >/dev/null 2>"$work/chalk-$r.err" || { cat "$work/chalk-$r.err" >&2; die "bench_losses failed"; }
  if [ "$have_torch" -eq 1 ]; then
    "$PY" "$repo/bench/losses_torch.py" --threads "$threads" --repeats 1 --min-time "$secs" --filter "$filter" \
      >"$work/torch-$r.json" 2>"$work/torch-$r.err" || { cat "$work/torch-$r.err" >&2; die "losses_torch.py failed"; }
    [ "$r" -eq 1 ] && sed -n 's/^losses_torch.py: env /torch env: /p' "$work/torch-1.err"
  fi
done
echo

"$PY" - "$work" "$rounds" "$have_torch" "$threads" <<'EOF'
import glob, json, os, statistics, sys
work, rounds, have_torch, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
chalk, torch, order = {}, {}, []
for r in range(1, rounds + 1):
    for b in json.load(open(os.path.join(work, f"chalk-{r}.json")))["benchmarks"]:
        name = b["name"].split("/")[1]
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b["time_unit"]]
        chalk.setdefault(name, []).append(b["real_time"] * scale)
        if name not in order:
            order.append(name)
    if have_torch:
        for name, v in json.load(open(os.path.join(work, f"torch-{r}.json")))["results"].items():
            torch.setdefault(name, []).append(v["median_us"])
            if name not in order:
                order.append(name)
print(f"== forward + backward, N = 256, D = 64, {threads} thread(s): median over {rounds} round(s), microseconds")
print(f"{'loss':14} {'chalk us':>10} {'(min-max)':>17} {'torch us':>10} {'(min-max)':>17} {'chalk/torch':>12}")
def cell(d, n):
    if n not in d:
        return f"{'-':>10} {'':>17}"
    x = d[n]
    return f"{statistics.median(x):10.1f} {f'({min(x):.0f}-{max(x):.0f})':>17}"
for n in order:
    ratio = (f"{statistics.median(chalk[n]) / statistics.median(torch[n]):12.2f}"
             if n in chalk and n in torch else f"{'-':>12}")
    note = "" if n in chalk else "   (not in chalk's registry yet)"
    if not have_torch:
        note += "   (torch skipped)"
    print(f"{n:14} {cell(chalk, n)} {cell(torch, n)} {ratio}{note}")
EOF
echo
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
