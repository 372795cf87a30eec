// core/gemm.h — general matrix multiply, the kernel behind matmul, linear and conv.
//
//   C (M x N) = alpha * op(A) (M x K) * op(B) (K x N) + beta * C
//   op(X) = X or X^T (trans flags), all matrices row-major with leading
//   dimensions lda, ldb, ldc (the row length in memory).
//
// Two implementations, always both compiled:
//   gemm_blas     CBLAS (OpenBLAS), used when CMake found it (CHALK_HAVE_BLAS)
//   gemm_blocked  a plain cache-blocked loop nest a student can read; used
//                 when no BLAS was found, and tested against BLAS.
// gemm() picks BLAS when available.
#pragma once

#include <cstdint>
#include <string>

namespace chalk {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc);

template <class T>
void gemm_blocked(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
                  T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta,
                  T* C, std::int64_t ldc);

// Throws chalk::Error when chalk was built without BLAS.
template <class T>
void gemm_blas(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
               T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
               std::int64_t ldc);

bool have_blas();
const char* gemm_backend();  // "OpenBLAS (CBLAS)" or "chalk blocked GEMM (no BLAS)"

// ---------------------------------------------------------------- OpenBLAS's kernels
//
// OpenBLAS picks its kernels for the CPU when it loads. Debian 12's OpenBLAS 0.3.21 does not
// know CPUs newer than itself (e.g. Intel family 6 model 207, Xeon "Emerald Rapids") and then
// falls back to its generic SSE3 kernels, "Prescott": SGEMM 2-4x slower than its AVX-512 ones
// on the same core (docs/performance.md, "OpenBLAS's kernels"). OpenBLAS takes another choice
// only from the variable OPENBLAS_CORETYPE, read when it loads, before main.
//
// use_best_blas_kernels(argc, argv), called first thing in main (chalk-train, chalk-eval,
// every demo, the benchmarks): when OpenBLAS chose "Prescott", OPENBLAS_CORETYPE is not set,
// and the CPU has AVX-512 (F, DQ, BW, VL: OpenBLAS's "SkylakeX" kernels) or AVX2 + FMA
// ("Haswell"), it sets OPENBLAS_CORETYPE and runs the program again (execv of
// /proc/self/exe, same arguments: the first run has done nothing yet). Otherwise, or when
// that fails, it returns and the program goes on. A user who sets OPENBLAS_CORETYPE decides.
// argv must be main's own: when argv[0] does not name the running executable (a test passing
// made-up arguments to a demo's Notebook), nothing is re-run.
void use_best_blas_kernels(int argc, char** argv);

// "OpenBLAS 0.3.21, SkylakeX kernels (OPENBLAS_CORETYPE set by chalk: OpenBLAS did not know
// this CPU)", "OpenBLAS ..., Haswell kernels", or gemm_backend() without BLAS. For logs.
std::string blas_description();

}  // namespace chalk
