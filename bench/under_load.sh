#!/usr/bin/env bash
# bench/under_load.sh — one training epoch of the MLP and the SmallCNN, on a quiet machine
# and with 1 and 2 competing busy processes, chalk and PyTorch alternately; ratios.
#
#   bench/under_load.sh                    # 3 repeats; MLP full epoch, CNN on 12,800 images
#   bench/under_load.sh -r 5 -m mlp        # MLP only, 5 repeats
#   bench/under_load.sh -r 1 -n 3200       # smoke run: 3,200 images for both models
#
# Options: -r R repeats (default 3); -m "mlp cnn" models; -l "0 1 2" competing processes;
# -n N images for both models (default: MLP all 60,000, CNN 12,800); -b DIR build folder.
#
# A competing process is `yes > /dev/null` (one busy core each), started before a block of
# runs and killed after it. Per repeat, per load, per model, one run of each setting:
#   chalk default      chalk-train with no --threads: adaptive threads (core/parallel.h)
#   chalk --threads 1, chalk --threads 2
#   torch t1/b1, t1/b2, t2/b1   (bench/torch_train.py: torch.set_num_threads(t), OpenBLAS b)
# Timed: the training loop of the epoch (chalk: epoch_seconds in metrics.jsonl; torch: its
# perf_counter around the loop), --schedule constant, --loss softmax, batch 128, SGD.
# Reported: medians; per load and model: chalk default / chalk --threads 1 (target <= 1.15
# under load), chalk default / PyTorch's fastest setting at that load (target <= 1), and on
# the quiet machine chalk default / chalk --threads 2 (the adaptive default keeps the
# quiet-machine speed). The threads chalk's adaptive mode chose are shown from its log.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-/usr/bin/python3}"
repeats=3 models="mlp cnn" loads="0 1 2" images="" build="$repo/build"
while [ $# -gt 0 ]; do
  case "$1" in
    -r) repeats="$2"; shift 2 ;;
    -m) models="$2"; shift 2 ;;
    -l) loads="$2"; shift 2 ;;
    -n) images="$2"; shift 2 ;;
    -b) build="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "under_load.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "under_load.sh: error: $*" >&2; exit 1; }
train="$build/chalk-train"
if [ ! -x "$train" ]; then
  echo "under_load.sh: building chalk-train in $build ..."
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target chalk-train >/dev/null
fi
data="$repo/data/mnist-full"
[ -f "$data/train-images-idx3-ubyte" ] || [ -f "$data/train-images-idx3-ubyte.gz" ] ||
  die "full MNIST not found in $data: run scripts/fetch-mnist.sh first"
have_torch=1
"$PY" -c "import torch" 2>/dev/null || { have_torch=0; echo "under_load.sh: PyTorch SKIPPED ('import torch' fails in $PY)"; }
limit_of() {  # model -> --limit-train value (0: all)
  if [ -n "$images" ]; then echo "$images"; elif [ "$1" = cnn ]; then echo 12800; else echo 0; fi
}

work="$(mktemp -d)"
hogs=()
stop_hogs() { for p in "${hogs[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; hogs=(); }
trap 'stop_hogs; rm -rf "$work"' EXIT
results="$work/results.tsv"   # load <tab> model <tab> setting <tab> seconds
: >"$results"

blas_kernels_train="$train"
source "$repo/bench/blas_kernels.sh"
echo "== environment"
echo "date:        $(date -Is)"
echo "cpu:         $(lscpu | sed -n 's/^Model name: *//p') — $(nproc) cores available"
echo "kernels:     $blas_kernels_note"
echo "load:        $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before any competing process)"
vars="$(env | grep -E '^(OPENBLAS_|OMP_|GOMP_|MKL_)' | tr '\n' ' ' || true)"
echo "env vars:    ${vars:-none of OPENBLAS_* / OMP_* / GOMP_* / MKL_* set}"
echo "chalk:       $train ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "runs:        $repeats repeat(s); loads: $loads competing process(es); models: $models"
for m in $models; do echo "images:      $m $(limit_of "$m" | sed 's/^0$/all 60,000/')"; done
echo

run_chalk() {  # load model setting-name threads-arg... (empty: adaptive) repeat
  local load="$1" model="$2" name="$3" threads="$4" r="$5"
  local out="$work/chalk-$load-$model-$name-$r" args=()
  [ -n "$threads" ] && args=(--threads "$threads")
  "$train" --model "$model" --loss softmax --epochs 1 --schedule constant --seed "$r" --data "$data" \
    --limit-train "$(limit_of "$model")" --out "$out" "${args[@]}" >"$out.log" 2>&1 ||
    { cat "$out.log" >&2; die "chalk-train --model $model $name failed"; }
  "$PY" -c 'import json,sys
for line in open(sys.argv[1]): print(*sys.argv[2:5], json.loads(line)["epoch_seconds"], sep="\t")' \
    "$out/metrics.jsonl" "$load" "$model" "chalk-$name" >>"$results"
  if [ "$name" = default ]; then  # what the adaptive mode chose
    printf '%s\t%s\t%s\n' "$load" "$model" "$(grep -o 'threads: adaptive.*' "$out.log" | tail -1)" >>"$work/choices.tsv"
  fi
}
run_torch() {  # load model t b repeat
  local log="$work/torch-$1-$2-t$3-b$4-$5"
  "$PY" "$repo/bench/torch_train.py" --model "$2" --epochs 1 --torch-threads "$3" --blas-threads "$4" \
    --seed "$5" --limit-train "$(limit_of "$2")" >"$log.json" 2>"$log.err" ||
    { cat "$log.err" >&2; die "torch_train.py --model $2 t$3/b$4 failed"; }
  "$PY" -c 'import json,sys
for s in json.load(open(sys.argv[1]))["epoch_seconds"]: print(*sys.argv[2:5], s, sep="\t")' \
    "$log.json" "$1" "$2" "torch-t$3/b$4" >>"$results"
}

for r in $(seq 1 "$repeats"); do
  for load in $loads; do
    for _ in $(seq 1 "$load"); do yes >/dev/null & hogs+=($!); done
    sleep 1  # let the competing processes settle on their cores
    for m in $models; do
      echo "== repeat $r/$repeats, $load competing, $m (load average $(cut -d' ' -f1 /proc/loadavg))"
      run_chalk "$load" "$m" default "" "$r"
      [ "$have_torch" -eq 1 ] && run_torch "$load" "$m" 1 1 "$r"
      run_chalk "$load" "$m" t1 1 "$r"
      [ "$have_torch" -eq 1 ] && run_torch "$load" "$m" 1 2 "$r"
      run_chalk "$load" "$m" t2 2 "$r"
      [ "$have_torch" -eq 1 ] && run_torch "$load" "$m" 2 1 "$r"
    done
    stop_hogs
  done
done
echo

"$PY" - "$results" "$work/choices.tsv" <<'EOF2'
import collections, statistics, sys
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    load, m, s, t = line.rstrip("\n").split("\t")
    v[(int(load), m, s)].append(float(t))
med = {k: statistics.median(x) for k, x in v.items()}
loads = sorted({k[0] for k in v}); models = list(dict.fromkeys(k[1] for k in v))
print("== median seconds per epoch (min-max over repeats)")
for k in sorted(v):
    x = v[k]
    print(f"  load {k[0]}  {k[1]:4} {k[2]:14} {med[k]:8.2f}   ({min(x):.2f}-{max(x):.2f}, n={len(x)})")
print()
print("== ratios (medians)")
print(f"{'load':>4} {'model':5} {'default':>8} {'t1':>7} {'t2':>7} {'torch best':>16} {'def/t1':>7} {'def/torch':>9} {'def/t2':>7}")
for load in loads:
    for m in models:
        d, t1, t2 = (med.get((load, m, f"chalk-{s}")) for s in ("default", "t1", "t2"))
        tor = {s: med[(load, m, s)] for s in ("torch-t1/b1", "torch-t1/b2", "torch-t2/b1") if (load, m, s) in med}
        best = min(tor, key=tor.get) if tor else None
        bt = f"{tor[best]:7.2f} {best[6:]:>8}" if best else f"{'skipped':>16}"
        dt = f"{d / tor[best]:9.2f}" if best else f"{'-':>9}"
        print(f"{load:>4} {m:5} {d:8.2f} {t1:7.2f} {t2:7.2f} {bt} {d / t1:7.2f} {dt} {d / t2:7.2f}")
print("  targets: under load, def/t1 <= 1.15 and def/torch <= 1; quiet (load 0), def/t2 about 1")
try:
    rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
except FileNotFoundError:
    rows = []
if rows:
    print()
    print("== chalk default: the last thread choice logged per run ('' = no change from the maximum)")
    for load, m, c in rows:
        print(f"  load {load} {m:4} {c}")
EOF2
echo
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
