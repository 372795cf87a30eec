// Tests for core/gemm.h: gemm_blocked (the plain twin) and gemm_blas (when
// chalk was built with OpenBLAS) against a naive triple loop, for every
// transpose combination, odd sizes, alpha/beta, float and double, and leading
// dimensions larger than the row length.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/gemm.h"
#include "core/random.h"

using namespace chalk;

namespace {

// Row-major matrix stored with leading dimension ld >= cols; the padding
// holds NaN so that a kernel that reads it poisons its result.
template <class T>
struct Matrix {
  std::int64_t rows, cols, ld;
  std::vector<T> v;
  Matrix(std::int64_t r, std::int64_t c, std::int64_t pad, Generator& g)
      : rows(r), cols(c), ld(c + pad), v(static_cast<std::size_t>(std::max<std::int64_t>(r * (c + pad), 1)),
                                         std::numeric_limits<T>::quiet_NaN()) {
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < c; ++j) at(i, j) = static_cast<T>(g.uniform() * 2 - 1);
  }
  T& at(std::int64_t i, std::int64_t j) { return v[i * ld + j]; }
  T at(std::int64_t i, std::int64_t j) const { return v[i * ld + j]; }
};

// C = alpha op(A) op(B) + beta C, the definition, accumulated in long double.
template <class T>
void gemm_naive(bool ta, bool tb, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
                const Matrix<T>& A, const Matrix<T>& B, T beta, Matrix<T>& C) {
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      long double s = 0;
      for (std::int64_t k = 0; k < K; ++k)
        s += static_cast<long double>(ta ? A.at(k, i) : A.at(i, k)) * (tb ? B.at(j, k) : B.at(k, j));
      C.at(i, j) = static_cast<T>(alpha * s + (beta == T(0) ? 0.0L : static_cast<long double>(beta) * C.at(i, j)));
    }
}

enum class Impl { Blocked, Blas, Dispatch };

template <class T>
void call(Impl impl, bool ta, bool tb, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const Matrix<T>& A, const Matrix<T>& B, T beta, Matrix<T>& C) {
  switch (impl) {
    case Impl::Blocked:
      gemm_blocked<T>(ta, tb, M, N, K, alpha, A.v.data(), A.ld, B.v.data(), B.ld, beta, C.v.data(), C.ld);
      break;
    case Impl::Blas:
      gemm_blas<T>(ta, tb, M, N, K, alpha, A.v.data(), A.ld, B.v.data(), B.ld, beta, C.v.data(), C.ld);
      break;
    case Impl::Dispatch:
      gemm<T>(ta, tb, M, N, K, alpha, A.v.data(), A.ld, B.v.data(), B.ld, beta, C.v.data(), C.ld);
      break;
  }
}

const char* impl_name(Impl i) {
  return i == Impl::Blocked ? "gemm_blocked" : i == Impl::Blas ? "gemm_blas" : "gemm";
}

struct Case {
  std::int64_t M, N, K;
};

// Compares every implementation with the naive loop on one case, all 4
// transpose combinations. `pad` > 0 makes every leading dimension larger than its row.
template <class T>
void check(const std::vector<Impl>& impls, Case c, T alpha, T beta, std::int64_t pad, std::uint64_t seed) {
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  // error relative to the size of the terms summed: K products of |values| < 1
  const double scale = std::abs(alpha) * std::max<double>(1.0, std::sqrt(double(c.K))) + std::abs(beta);
  for (int flags = 0; flags < 4; ++flags) {
    const bool ta = flags & 1, tb = flags & 2;
    Generator g(seed + flags);
    const Matrix<T> A = ta ? Matrix<T>(c.K, c.M, pad, g) : Matrix<T>(c.M, c.K, pad, g);
    const Matrix<T> B = tb ? Matrix<T>(c.N, c.K, pad + 1, g) : Matrix<T>(c.K, c.N, pad + 1, g);
    Matrix<T> C0(c.M, c.N, pad + 2, g);
    if (beta == T(0))  // beta = 0: C's old contents must be ignored, even NaN
      for (std::int64_t i = 0; i < c.M; ++i)
        for (std::int64_t j = 0; j < c.N; ++j) C0.at(i, j) = std::numeric_limits<T>::quiet_NaN();
    Matrix<T> want = C0;
    gemm_naive(ta, tb, c.M, c.N, c.K, alpha, A, B, beta, want);
    for (Impl impl : impls) {
      Matrix<T> C = C0;
      call(impl, ta, tb, c.M, c.N, c.K, alpha, A, B, beta, C);
      int bad = 0;
      for (std::int64_t i = 0; i < c.M && bad < 5; ++i) {
        for (std::int64_t j = 0; j < c.N && bad < 5; ++j) {
          const double err = std::abs(double(C.at(i, j)) - double(want.at(i, j)));
          if (!(err <= tol * scale)) {
            ++bad;
            ADD_FAILURE() << impl_name(impl) << " M=" << c.M << " N=" << c.N << " K=" << c.K
                          << " trans_a=" << ta << " trans_b=" << tb << " alpha=" << alpha << " beta=" << beta
                          << " pad=" << pad << ": C[" << i << "," << j << "] = " << C.at(i, j)
                          << ", expected " << want.at(i, j);
          }
        }
        // the padding of C is never written
        for (std::int64_t j = c.N; j < C.ld; ++j)
          if (!std::isnan(C.at(i, j))) {
            ++bad;
            ADD_FAILURE() << impl_name(impl) << " wrote into C's padding at row " << i << ", column " << j;
          }
      }
    }
  }
}

std::vector<Case> odd_cases() {
  // sizes 1, 7, 33, 300 in mixed roles; not the full 4^3 product (300^3 x 3 is slow in the naive loop)
  return {{1, 1, 1},   {1, 7, 33},   {7, 1, 33},   {33, 7, 1},   {7, 33, 7},  {33, 33, 33},
          {300, 7, 33}, {7, 300, 33}, {33, 7, 300}, {1, 300, 300}, {300, 33, 1}, {300, 300, 33},
          {300, 300, 300}};
}

std::vector<Impl> impls() {
  std::vector<Impl> v{Impl::Blocked, Impl::Dispatch};
  if (have_blas()) v.push_back(Impl::Blas);
  return v;
}

}  // namespace

TEST(Gemm, Backend) {
#ifdef CHALK_HAVE_BLAS
  EXPECT_TRUE(have_blas());
  EXPECT_EQ(std::string(gemm_backend()), "OpenBLAS (CBLAS)");
#else
  EXPECT_EQ(std::string(gemm_backend()), "chalk blocked GEMM (no BLAS)");
  EXPECT_FALSE(have_blas());
  std::vector<float> a(1, 1), b(1, 1), c(1, 0);
  EXPECT_THROW(gemm_blas<float>(false, false, 1, 1, 1, 1.f, a.data(), 1, b.data(), 1, 0.f, c.data(), 1), Error);
#endif
}

TEST(Gemm, HandComputed) {
  // [[1, 2], [3, 4]] [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
  for (Impl impl : impls()) {
    const double A[] = {1, 2, 3, 4}, B[] = {5, 6, 7, 8};
    double C[4] = {1, 1, 1, 1};
    switch (impl) {
      case Impl::Blocked: gemm_blocked<double>(false, false, 2, 2, 2, 1.0, A, 2, B, 2, 0.0, C, 2); break;
      case Impl::Blas: gemm_blas<double>(false, false, 2, 2, 2, 1.0, A, 2, B, 2, 0.0, C, 2); break;
      case Impl::Dispatch: gemm<double>(false, false, 2, 2, 2, 1.0, A, 2, B, 2, 0.0, C, 2); break;
    }
    EXPECT_EQ(std::vector<double>(C, C + 4), (std::vector<double>{19, 22, 43, 50})) << impl_name(impl);
    // A^T B = [[1, 3], [2, 4]] [[5, 6], [7, 8]] = [[26, 30], [38, 44]], times 2, plus 1 * C
    double D[4] = {1, 2, 3, 4};
    switch (impl) {
      case Impl::Blocked: gemm_blocked<double>(true, false, 2, 2, 2, 2.0, A, 2, B, 2, 1.0, D, 2); break;
      case Impl::Blas: gemm_blas<double>(true, false, 2, 2, 2, 2.0, A, 2, B, 2, 1.0, D, 2); break;
      case Impl::Dispatch: gemm<double>(true, false, 2, 2, 2, 2.0, A, 2, B, 2, 1.0, D, 2); break;
    }
    EXPECT_EQ(std::vector<double>(D, D + 4), (std::vector<double>{53, 62, 79, 92})) << impl_name(impl);
  }
}

TEST(Gemm, OddSizesFloat) {
  for (const Case& c : odd_cases()) check<float>(impls(), c, 1.0f, 0.0f, 0, 11);
}

TEST(Gemm, OddSizesDouble) {
  for (const Case& c : odd_cases()) check<double>(impls(), c, 1.0, 0.0, 0, 12);
}

TEST(Gemm, AlphaBeta) {
  const std::vector<Case> cases{{1, 1, 1}, {7, 33, 7}, {33, 7, 33}, {300, 7, 33}};
  const std::vector<std::pair<double, double>> ab{{2.5, 0.0}, {1.0, 1.0}, {-0.5, 2.0}, {0.0, 0.5}, {0.0, 0.0}, {1.5, -1.0}};
  for (const Case& c : cases)
    for (auto [alpha, beta] : ab) {
      check<float>(impls(), c, float(alpha), float(beta), 0, 21);
      check<double>(impls(), c, alpha, beta, 0, 22);
    }
}

TEST(Gemm, LeadingDimensionsLargerThanRows) {
  const std::vector<Case> cases{{1, 1, 1}, {7, 1, 33}, {33, 7, 7}, {7, 33, 300}, {300, 33, 7}};
  for (const Case& c : cases)
    for (std::int64_t pad : {1, 5}) {
      check<float>(impls(), c, 1.0f, 0.0f, pad, 31);
      check<double>(impls(), c, 0.75, -0.25, pad, 32);
    }
}

TEST(Gemm, BlockedCrossesItsBlockBoundaries) {
  // K > 256 and N > 512: several k- and j-blocks of the packed B.
  check<double>(impls(), {5, 600, 520}, 1.0, 0.5, 3, 41);
}

TEST(Gemm, EmptyDimensions) {
  for (Impl impl : impls()) {
    Generator g(5);
    // K = 0: C = beta C
    Matrix<double> A(3, 0, 1, g), B(0, 2, 1, g), C(3, 2, 0, g);
    Matrix<double> want = C;
    for (auto& v : want.v) v *= 0.5;
    call(impl, false, false, 3, 2, 0, 1.0, A, B, 0.5, C);
    for (std::size_t i = 0; i < C.v.size(); ++i) EXPECT_DOUBLE_EQ(C.v[i], want.v[i]) << impl_name(impl);
    // M = 0 or N = 0: nothing to do, nothing written
    Matrix<double> A2(0, 4, 0, g), B2(4, 2, 0, g), C2(0, 2, 0, g);
    EXPECT_NO_THROW(call(impl, false, false, 0, 2, 4, 1.0, A2, B2, 0.0, C2)) << impl_name(impl);
  }
}
