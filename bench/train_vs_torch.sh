#!/usr/bin/env bash
# bench/train_vs_torch.sh — seconds per training epoch on full MNIST, chalk-train next to
# PyTorch (bench/torch_train.py, the same models and optimiser), reported as ratios.
#
#   bench/train_vs_torch.sh                      # both models, 3 repeats, 1 epoch each
#   bench/train_vs_torch.sh -r 5 -m cnn          # CNN only, 5 repeats
#   bench/train_vs_torch.sh -r 1 -n 6400 --no-memory   # smoke run on 6,400 images
#
# Options: -r R repeats (default 3); -e E epochs per run (default 1; every epoch counts as
# one sample); -m "mlp cnn" models; -n N first N training images only (smoke; default all);
# -b DIR build folder (default build/; chalk-train is built there if missing);
# --no-memory skip the peak-memory runs; --no-two-pool skip torch 2+2.
#
# What runs, per model, R times, interleaved (repeat 1 of every setting, then repeat 2,
# ...) so that a burst of load on the shared machine hits all settings alike:
#   chalk-train --threads 2, --threads 1   (--quiet --schedule constant --loss softmax;
#                                           epoch_seconds from --out DIR/metrics.jsonl:
#                                           training only, evaluation excluded)
#   gemm_floor --threads 2, --threads 1   (bench/gemm_floor.cpp: the GEMMs of one step of the
#                                           same model alone through CBLAS, x steps per epoch:
#                                           the "floor" an epoch cannot go below)
#   torch_train.py  torch 1 thread + OpenBLAS 2 threads      ("t1/b2")
#                   torch 2 threads + OpenBLAS 1 thread      ("t2/b1")
#                   torch 1 thread + OpenBLAS 1 thread       ("t1/b1", the 1-core reference)
#                   torch 2 threads + OpenBLAS 2 threads     ("t2/b2", the two-pool setting)
# Reported: medians. Each chalk row also shows chalk / floor at its thread count. chalk --threads 2 is compared with the faster of t1/b2 and t2/b1 for
# each model (the table says which), chalk --threads 1 with t1/b1, and t2/b2 is shown
# against chalk --threads 2: PyTorch's intra-op OpenMP pool and OpenBLAS's pool are sized
# separately, chalk has one setting for both (core/parallel.h).
# Peak memory: /usr/bin/time -v "Maximum resident set size" of one full CNN epoch each
# (chalk-train includes its end-of-epoch evaluation; torch_train.py holds the training set
# as float32, 188 MB, chalk as bytes, 47 MB), plus `import torch` alone as the baseline.
#
# No PyTorch (`import torch` fails in /usr/bin/python3): the chalk columns are still
# measured and the torch columns say "skipped".
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-/usr/bin/python3}"   # the interpreter with PyTorch (env PYTHON overrides)
repeats=3 epochs=1 models="mlp cnn" limit=0 build="$repo/build" memory=1 twopool=1
while [ $# -gt 0 ]; do
  case "$1" in
    -r) repeats="$2"; shift 2 ;;
    -e) epochs="$2"; shift 2 ;;
    -m) models="$2"; shift 2 ;;
    -n) limit="$2"; shift 2 ;;
    -b) build="$(cd "$2" && pwd)"; shift 2 ;;
    --no-memory) memory=0; shift ;;
    --no-two-pool) twopool=0; shift ;;
    -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "train_vs_torch.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "train_vs_torch.sh: error: $*" >&2; exit 1; }
[ -x "$PY" ] || die "$PY not found (the table is computed with it)"
train="$build/chalk-train" floor="$build/gemm_floor"
if [ ! -x "$train" ] || [ ! -x "$floor" ]; then
  echo "train_vs_torch.sh: building chalk-train and gemm_floor in $build ..."
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCHALK_BUILD_BENCHMARKS=ON >/dev/null
  cmake --build "$build" -j2 --target chalk-train gemm_floor >/dev/null
fi
data="$repo/data/mnist-full"
[ -f "$data/train-images-idx3-ubyte" ] || [ -f "$data/train-images-idx3-ubyte.gz" ] ||
  die "full MNIST not found in $data: run scripts/fetch-mnist.sh first"

have_torch=1
if ! "$PY" -c "import torch" 2>/dev/null; then
  have_torch=0
  echo "train_vs_torch.sh: PyTorch SKIPPED: 'import torch' fails in $PY (Debian: apt-get install python3-torch);"
  echo "                   only chalk is measured."
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
results="$work/results.tsv"   # model <tab> setting <tab> seconds
: >"$results"
limit_args=()
[ "$limit" -gt 0 ] && limit_args=(--limit-train "$limit")

blas_kernels_train="$train"
source "$repo/bench/blas_kernels.sh"
# ---- environment ----
echo "== environment"
echo "date:        $(date -Is)"
echo "cpu:         $(lscpu | sed -n 's/^Model name: *//p') — $(nproc) cores available"
echo "kernels:     $blas_kernels_note"
echo "load:        $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; > 0.5 means other jobs are running)"
vars="$(env | grep -E '^(OPENBLAS_|OMP_|GOMP_|MKL_)' | tr '\n' ' ' || true)"
echo "env vars:    ${vars:-none of OPENBLAS_* / OMP_* / GOMP_* / MKL_* set}"
echo "chalk:       $train ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')), BLAS: $(ldd "$train" | grep -o -E 'lib(open)?blas[^ ]* => [^ ]*' | head -1 || echo none)"
if [ "$have_torch" -eq 1 ]; then
  "$PY" - <<'EOF'
import ctypes, torch
try:
    h = ctypes.CDLL("libopenblas.so.0"); h.openblas_get_config.restype = ctypes.c_char_p
    blas = h.openblas_get_config().decode() + f", {h.openblas_get_num_threads()} threads by default"
except OSError:
    blas = "not OpenBLAS"
print(f"torch:       {torch.__version__}, get_num_threads() = {torch.get_num_threads()} by default, "
      f"parallel backend {torch.__config__.parallel_info().split('ATen parallel backend: ')[-1].strip()}")
print(f"torch BLAS:  {blas}")
EOF
fi
echo "runs:        $repeats repeat(s) x $epochs epoch(s), models: $models, images: ${limit/#0/all}"
echo

# ---- one run of each setting ----
run_chalk() {  # model threads repeat
  local out="$work/chalk-$1-t$2-r$3"
  "$train" --model "$1" --loss softmax --quiet --epochs "$epochs" --threads "$2" --schedule constant \
    --seed "$3" --out "$out" "${limit_args[@]}" >"$out.log" 2>&1 ||
    { local rc=$?; cat "$out.log" >&2; die "chalk-train --model $1 --threads $2 failed (exit status $rc)"; }
  "$PY" -c 'import json,sys
for line in open(sys.argv[1]): print(sys.argv[2], sys.argv[3], json.loads(line)["epoch_seconds"], sep="\t")' \
    "$out/metrics.jsonl" "$1" "chalk-t$2" >>"$results"
}
run_torch() {  # model torch_threads blas_threads repeat
  local log="$work/torch-$1-t$2-b$3-r$4"
  "$PY" "$repo/bench/torch_train.py" --model "$1" --epochs "$epochs" --torch-threads "$2" --blas-threads "$3" \
    --seed "$4" "${limit_args[@]}" >"$log.json" 2>"$log.err" ||
    { local rc=$?; cat "$log.err" >&2; die "torch_train.py --model $1 t$2/b$3 failed (exit status $rc)"; }
  "$PY" -c 'import json,sys
for s in json.load(open(sys.argv[1]))["epoch_seconds"]: print(sys.argv[2], sys.argv[3], s, sep="\t")' \
    "$log.json" "$1" "torch-t$2/b$3" >>"$results"
}

run_floor() {  # model threads
  local n=60000 steps
  [ "$limit" -gt 0 ] && n="$limit"
  steps=$(( (n + 127) / 128 ))
  "$floor" --model "$1" --threads "$2" --repeats 30 >"$work/floor.json" ||
    die "gemm_floor --model $1 --threads $2 failed"
  "$PY" -c 'import json,sys
j = json.load(open(sys.argv[1]))
for _ in range(int(sys.argv[4])): print(sys.argv[2], sys.argv[3], j["seconds_per_step"] * int(sys.argv[5]), sep="\t")' \
    "$work/floor.json" "$1" "floor-t$2" "$epochs" "$steps" >>"$results"
}

torch_settings=("1 2" "2 1" "1 1")
[ "$twopool" -eq 1 ] && torch_settings+=("2 2")
for r in $(seq 1 "$repeats"); do
  for m in $models; do
    echo "== repeat $r/$repeats, $m (load $(cut -d' ' -f1 /proc/loadavg))"
    for t in 2 1; do run_chalk "$m" "$t" "$r"; run_floor "$m" "$t"; done
    if [ "$have_torch" -eq 1 ]; then
      for s in "${torch_settings[@]}"; do run_torch "$m" $s "$r"; done
    fi
  done
done
echo

# ---- peak memory of one CNN epoch ----
mem="$work/memory.tsv"
: >"$mem"
if [ "$memory" -eq 1 ]; then
  if [ ! -x /usr/bin/time ]; then
    echo "train_vs_torch.sh: /usr/bin/time missing; installing the Debian package 'time'"
    apt-get install -y time >/dev/null || die "could not install 'time' (run: apt-get install time)"
  fi
  peak() {  # label command...
    local label="$1"; shift
    /usr/bin/time -v "$@" >"$work/mem.out" 2>"$work/mem.err" || { cat "$work/mem.err" >&2; die "$label failed"; }
    printf '%s\t%s\n' "$label" "$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/mem.err")" >>"$mem"
  }
  echo "== peak memory: one CNN epoch each (load $(cut -d' ' -f1 /proc/loadavg))"
  peak "chalk-train cnn --threads 2 (train + eval)" "$train" --model cnn --quiet --epochs 1 --threads 2 \
    --schedule constant --out "$work/mem-chalk" "${limit_args[@]}"
  if [ "$have_torch" -eq 1 ]; then
    peak "torch_train.py cnn t1/b2" "$PY" "$repo/bench/torch_train.py" --model cnn --epochs 1 \
      --torch-threads 1 --blas-threads 2 "${limit_args[@]}"
    peak "python3 -c 'import torch' (baseline)" "$PY" -c "import torch"
  fi
  echo
fi

# ---- the table ----
"$PY" - "$results" "$mem" "$have_torch" <<'EOF'
import collections, statistics, sys
res, mem, have_torch = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
v = collections.defaultdict(list)
for line in open(res):
    m, s, t = line.rstrip("\n").split("\t")
    v[(m, s)].append(float(t))
med = {k: statistics.median(x) for k, x in v.items()}
models = list(dict.fromkeys(m for m, _ in v))

def spread(k):
    x = v[k]
    return f"{min(x):.2f}-{max(x):.2f}" if len(x) > 1 else "-"

print("== all settings: median s/epoch (min-max, n)")
for k in sorted(v):
    print(f"  {k[0]:4} {k[1]:14} {med[k]:8.2f}   ({spread(k)}, n={len(v[k])})")
print()
print("== chalk vs PyTorch: median seconds per training epoch")
print(f"{'model':6} {'chalk':10} {'s/epoch':>8}   {'torch':22} {'s/epoch':>8}   {'chalk/torch':>11}   {'floor':>6} {'chalk/floor':>11}")
for m in models:
    rows = [("chalk-t2", None), ("chalk-t1", "torch-t1/b1")]
    best = None
    if have_torch:
        cands = [s for s in ("torch-t1/b2", "torch-t2/b1") if (m, s) in med]
        if cands:
            best = min(cands, key=lambda s: med[(m, s)])
    rows[0] = ("chalk-t2", best)
    for c, t in rows:
        if (m, c) not in med:
            continue
        name = {"chalk-t2": "--threads 2", "chalk-t1": "--threads 1"}[c]
        fk = (m, c.replace("chalk", "floor"))
        fl = f"   {med[fk]:6.2f} {med[(m, c)] / med[fk]:11.2f}" if fk in med else ""
        if t and (m, t) in med:
            label = t.replace("torch-", "") + (" (fastest)" if t == best else "")
            print(f"{m:6} {name:10} {med[(m, c)]:8.2f}   {label:22} {med[(m, t)]:8.2f}   {med[(m, c)] / med[(m, t)]:11.2f}" + fl)
        else:
            print(f"{m:6} {name:10} {med[(m, c)]:8.2f}   {'skipped (no torch)':22} {'-':>8}   {'-':>11}" + fl)
print("  tN/bM = torch.set_num_threads(N), OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = M")
print("  floor = bench/gemm_floor.cpp: the step's GEMMs alone through CBLAS at chalk's thread count, x steps per epoch")
if have_torch and any((m, "torch-t2/b2") in med for m in models):
    print()
    print("== two pools: torch with its OpenMP pool AND OpenBLAS at 2 threads vs chalk --threads 2 (one pool)")
    print(f"{'model':6} {'chalk t2':>9} {'torch t2/b2':>12} {'torch fastest':>14} {'t2/b2 / fastest':>16} {'chalk/t2b2':>11}")
    for m in models:
        if (m, "torch-t2/b2") not in med or (m, "chalk-t2") not in med:
            continue
        best = min((s for s in ("torch-t1/b2", "torch-t2/b1") if (m, s) in med), key=lambda s: med[(m, s)])
        tp = med[(m, "torch-t2/b2")]
        print(f"{m:6} {med[(m, 'chalk-t2')]:9.2f} {tp:12.2f} {med[(m, best)]:14.2f} {tp / med[(m, best)]:16.2f} "
              f"{med[(m, 'chalk-t2')] / tp:11.2f}")
mrows = [l.rstrip("\n").split("\t") for l in open(mem)]
if mrows:
    print()
    print("== peak memory (Maximum resident set size, /usr/bin/time -v)")
    for label, kb in mrows:
        print(f"  {label:45} {int(kb) / 1024:8.1f} MiB")
EOF
echo
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
