# bench/blas_kernels.sh — sourced by the bench scripts: the same OpenBLAS kernels for chalk
# and PyTorch's OpenBLAS calls (its dense layers; its convolutions run in oneDNN, which no
# variable changes: docs/performance.md, "What each side runs"). Debian 12's OpenBLAS 0.3.21 does not know CPUs newer than itself and then
# runs its generic "Prescott" kernels; chalk's programs re-run themselves with
# OPENBLAS_CORETYPE set (core/gemm.h, use_best_blas_kernels), PyTorch does not. So when the
# variable is not set, the scripts ask chalk which kernels it chose (`chalk-train --blas-info`,
# the log's "BLAS:" line: the one place that decides), set the same for both sides, and say so.
# To measure other kernels, set OPENBLAS_CORETYPE yourself (e.g. =Prescott): it is then left as
# it is, for both sides.
#
# Needs: blas_kernels_train, the path of a built chalk-train (each script sets it before sourcing).
blas_kernels_note="OpenBLAS chose its kernels itself"
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  [ -x "${blas_kernels_train:-}" ] || { echo "blas_kernels.sh: blas_kernels_train='${blas_kernels_train:-}' is not a built chalk-train" >&2; exit 1; }
  # e.g. "OpenBLAS 0.3.21, SkylakeX kernels (OPENBLAS_CORETYPE set by chalk: OpenBLAS did not know this CPU)"
  _blas="$("$blas_kernels_train" --blas-info)" || { echo "blas_kernels.sh: $blas_kernels_train --blas-info failed" >&2; exit 1; }
  if [[ "$_blas" == *"set by chalk"* ]]; then
    _better="$(sed -E 's/^[^,]*, ([A-Za-z0-9_]+) kernels.*/\1/' <<< "$_blas")"
    export OPENBLAS_CORETYPE="$_better"
    blas_kernels_note="OPENBLAS_CORETYPE=$_better for chalk and PyTorch alike (OpenBLAS did not know this CPU and chose Prescott; chalk's programs choose $_better themselves)"
  fi
else
  blas_kernels_note="OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE (set by the caller)"
fi
