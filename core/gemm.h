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

}  // namespace chalk
