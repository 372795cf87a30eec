# bench/blas_kernels.sh — sourced by the bench scripts: the same OpenBLAS kernels for chalk
# and PyTorch. Debian 12's OpenBLAS 0.3.21 does not know CPUs newer than itself and then
# runs its generic "Prescott" kernels; chalk's programs re-run themselves with
# OPENBLAS_CORETYPE set (core/gemm.h, use_best_blas_kernels), PyTorch does not. So when the
# variable is not set, the scripts set it here, as chalk would, for both sides, and say so.
# To measure other kernels, set OPENBLAS_CORETYPE yourself (e.g. =Prescott): it is then left as
# it is, for both sides.
blas_kernels_note="OpenBLAS chose its kernels itself"
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  _core="$("${PY:-/usr/bin/python3}" -c 'import ctypes
h = ctypes.CDLL("libopenblas.so.0"); h.openblas_get_corename.restype = ctypes.c_char_p
print(h.openblas_get_corename().decode())' 2>/dev/null || echo unknown)"
  if [ "$_core" = Prescott ] || [ "$_core" = prescott ]; then
    _flags=" $(grep -m1 '^flags' /proc/cpuinfo) "
    _better=""
    if [[ "$_flags" == *" avx512f "* && "$_flags" == *" avx512dq "* && "$_flags" == *" avx512bw "* && "$_flags" == *" avx512vl "* ]]; then
      _better=SkylakeX
    elif [[ "$_flags" == *" avx2 "* && "$_flags" == *" fma "* ]]; then
      _better=Haswell
    fi
    if [ -n "$_better" ]; then
      export OPENBLAS_CORETYPE="$_better"
      blas_kernels_note="OPENBLAS_CORETYPE=$_better for chalk and PyTorch alike (OpenBLAS did not know this CPU and chose Prescott; chalk's programs choose $_better themselves)"
    fi
  fi
else
  blas_kernels_note="OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE (set by the caller)"
fi
