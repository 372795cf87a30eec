#include "core/gemm.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"

#ifdef CHALK_HAVE_BLAS
#include <cblas.h>
#endif

namespace chalk {

// ---------------------------------------------------------------------------
// The plain twin: a cache-blocked GEMM.
//
// C = beta C first, then for each block of k (kKc rows of op(B)) and of j
// (kNc columns), op(B)'s block is copied ("packed") into a contiguous buffer
// Bp (kKc x kNc, row-major) so the innermost loop reads it with stride 1
// whatever trans_b is. Then every row i of C gets
//     C[i, j] += sum_k (alpha op(A)[i, k]) Bp[k, j]
// with j innermost, which the compiler vectorises. Rows of C are split
// across threads (each thread writes its own rows: no races).
// ---------------------------------------------------------------------------
template <class T>
void gemm_blocked(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
                  T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta,
                  T* C, std::int64_t ldc) {
  constexpr std::int64_t kKc = 256, kNc = 512;
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
  if (alpha == T(0) || K == 0) return;

  std::vector<T> Bp(static_cast<std::size_t>(kKc * kNc));
  for (std::int64_t k0 = 0; k0 < K; k0 += kKc) {
    const std::int64_t kb = std::min(kKc, K - k0);
    for (std::int64_t j0 = 0; j0 < N; j0 += kNc) {
      const std::int64_t jb = std::min(kNc, N - j0);
      // pack op(B)[k0:k0+kb, j0:j0+jb]
      for (std::int64_t k = 0; k < kb; ++k)
        for (std::int64_t j = 0; j < jb; ++j)
          Bp[k * jb + j] = trans_b ? B[(j0 + j) * ldb + (k0 + k)] : B[(k0 + k) * ldb + (j0 + j)];
      parallel_for(M, std::max<std::int64_t>(1, kParallelGrain / (jb * kb)), [&](std::int64_t ib, std::int64_t ie) {
        for (std::int64_t i = ib; i < ie; ++i) {
          T* c = C + i * ldc + j0;
          for (std::int64_t k = 0; k < kb; ++k) {
            const T a = alpha * (trans_a ? A[(k0 + k) * lda + i] : A[i * lda + (k0 + k)]);
            const T* b = Bp.data() + k * jb;
            for (std::int64_t j = 0; j < jb; ++j) c[j] += a * b[j];
          }
        }
      });
    }
  }
}

template <class T>
void gemm_blas(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
               T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
               std::int64_t ldc) {
#ifdef CHALK_HAVE_BLAS
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
  (void)trans_a, (void)trans_b, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda,
      (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
  fail("gemm_blas: chalk was built without BLAS (CMake did not find OpenBLAS)");
#endif
}

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc) {
  if (M == 0 || N == 0) return;
#ifdef CHALK_HAVE_BLAS
  if (K > 0) {
    gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
  gemm_blocked(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

bool have_blas() {
#ifdef CHALK_HAVE_BLAS
  return true;
#else
  return false;
#endif
}

const char* gemm_backend() {
  return have_blas() ? "OpenBLAS (CBLAS)" : "chalk blocked GEMM (no BLAS)";
}

#define CHALK_INSTANTIATE_GEMM(T)                                                             \
  template void gemm<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T, const T*,   \
                        std::int64_t, const T*, std::int64_t, T, T*, std::int64_t);          \
  template void gemm_blocked<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T,     \
                                const T*, std::int64_t, const T*, std::int64_t, T, T*,       \
                                std::int64_t);                                               \
  template void gemm_blas<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T,        \
                             const T*, std::int64_t, const T*, std::int64_t, T, T*, std::int64_t);
CHALK_INSTANTIATE_GEMM(float)
CHALK_INSTANTIATE_GEMM(double)

}  // namespace chalk
