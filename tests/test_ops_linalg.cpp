// Tests for ops/linalg.h: matmul with every transpose-flag combination and
// linear with/without bias — float64 gradcheck on square, non-square and
// size-1 shapes, forward values by hand and against a plain loop, errors; and svd (no autograd):
// known decompositions, reconstruction and orthonormality on random shapes, rank-deficient input.
#include <gtest/gtest.h>

#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"

using namespace chalk;
using namespace chalk::test_util;

namespace {






// op(X)[i, j] for a row-major 2-D tensor stored as X or X^T.
double op_at(const Tensor& x, bool t, std::int64_t i, std::int64_t j) { return t ? x.at({j, i}) : x.at({i, j}); }

struct MKN {
  std::int64_t M, K, N;
};
const std::vector<MKN> kSizes = {{3, 4, 5}, {5, 4, 3}, {1, 4, 5}, {3, 1, 5}, {3, 4, 1}, {1, 1, 1}, {2, 2, 2}, {1, 7, 1}};

}  // namespace

// ---------------------------------------------------------------- gradcheck

TEST(MatmulGrad, AllTransposeFlagsAndShapes) {
  manual_seed(300);
  for (const MKN& s : kSizes)
    for (int flags = 0; flags < 4; ++flags) {
      const bool ta = flags & 1, tb = flags & 2;
      const Tensor a = ta ? randn({s.K, s.M}, DType::Float64) : randn({s.M, s.K}, DType::Float64);
      const Tensor b = tb ? randn({s.N, s.K}, DType::Float64) : randn({s.K, s.N}, DType::Float64);
      const std::string name = std::string("matmul ta=") + (ta ? "1" : "0") + " tb=" + (tb ? "1" : "0");
      expect_gradcheck(name, [ta, tb](const auto& in) { return matmul(in[0], in[1], ta, tb); }, {a, b});
      // one input at a time (the other a constant): dx.wants() skips the unneeded GEMM
      GradcheckOptions only_b;
      only_b.wrt = {1};
      const GradcheckResult r = gradcheck([ta, tb](const auto& in) { return matmul(in[0], in[1], ta, tb); }, {a, b}, only_b);
      EXPECT_TRUE(r.ok) << name << " wrt b only: " << r.report;
    }
}

TEST(MatmulGrad, SameTensorOnBothSides) {
  manual_seed(301);
  const Tensor x = randn({3, 4}, DType::Float64);
  expect_gradcheck("x x^T", [](const auto& in) { return matmul(in[0], in[0], false, true); }, {x});
  expect_gradcheck("x^T x", [](const auto& in) { return matmul(in[0], in[0], true, false); }, {x});
  const Tensor sq = randn({3, 3}, DType::Float64);
  expect_gradcheck("x x", [](const auto& in) { return matmul(in[0], in[0]); }, {sq});
  expect_gradcheck("x^T x^T", [](const auto& in) { return matmul(in[0], in[0], true, true); }, {sq});
}

TEST(MatmulGrad, Chained) {
  manual_seed(302);
  expect_gradcheck("tanh(A B) C^T",
                   [](const auto& in) { return matmul(tanh(matmul(in[0], in[1])), in[2], false, true); },
                   {randn({2, 3}, DType::Float64), randn({3, 4}, DType::Float64), randn({5, 4}, DType::Float64)});
}

TEST(LinearGrad, WithAndWithoutBias) {
  manual_seed(303);
  const std::vector<MKN> sizes = {{4, 3, 2}, {1, 3, 1}, {5, 1, 4}, {2, 6, 6}};  // N, in, out
  for (const MKN& s : sizes) {
    const Tensor x = randn({s.M, s.K}, DType::Float64), w = randn({s.N, s.K}, DType::Float64),
                 b = randn({s.N}, DType::Float64);
    expect_gradcheck("linear with bias", [](const auto& in) { return linear(in[0], in[1], in[2]); }, {x, w, b});
    expect_gradcheck("linear without bias", [](const auto& in) { return linear(in[0], in[1]); }, {x, w});
  }
}

// ---------------------------------------------------------------- forward values

TEST(MatmulForward, HandComputed) {
  const Tensor a = f64({1, 2, 3, 4}, {2, 2}), b = f64({5, 6, 7, 8}, {2, 2});
  expect_values(matmul(a, b), {19, 22, 43, 50});
  expect_values(matmul(a, b, true, false), {26, 30, 38, 44});   // A^T B
  expect_values(matmul(a, b, false, true), {17, 23, 39, 53});   // A B^T
  expect_values(matmul(a, b, true, true), {23, 31, 34, 46});    // A^T B^T = (B A)^T
  // non-square: [1, 3] [3, 1] and [3, 1] [1, 3]
  const Tensor row = f64({1, 2, 3}, {1, 3}), col = f64({1, 2, 3}, {3, 1});
  EXPECT_EQ(matmul(row, col).shape(), (Shape{1, 1}));
  EXPECT_EQ(matmul(row, col).item(), 14.0);
  expect_values(matmul(col, row), {1, 2, 3, 2, 4, 6, 3, 6, 9});
  expect_values(matmul(row, row, false, true), {14});
  expect_values(matmul(row, row, true, false), {1, 2, 3, 2, 4, 6, 3, 6, 9});
  // [2, 3] [3, 2]
  const Tensor c = f64({1, 0, 2, -1, 3, 1}, {2, 3}), d = f64({3, 1, 2, 1, 1, 0}, {3, 2});
  expect_values(matmul(c, d), {5, 1, 4, 2});
  // float32
  const Tensor cf = matmul(a.to(DType::Float32), b.to(DType::Float32));
  EXPECT_EQ(cf.dtype(), DType::Float32);
  expect_values(cf, {19, 22, 43, 50});
}

TEST(MatmulForward, MatchesAPlainLoopOnLargerShapes) {
  manual_seed(304);
  for (int flags = 0; flags < 4; ++flags) {
    const bool ta = flags & 1, tb = flags & 2;
    const std::int64_t M = 37, K = 130, N = 65;
    const Tensor a = ta ? randn({K, M}) : randn({M, K});
    const Tensor b = tb ? randn({N, K}) : randn({K, N});
    const Tensor c = matmul(a, b, ta, tb);
    ASSERT_EQ(c.shape(), (Shape{M, N}));
    for (std::int64_t i = 0; i < M; i += 5)
      for (std::int64_t j = 0; j < N; j += 7) {
        double s = 0;
        for (std::int64_t k = 0; k < K; ++k) s += op_at(a, ta, i, k) * op_at(b, tb, k, j);
        EXPECT_NEAR(c.at({i, j}), s, 1e-4) << "ta=" << ta << " tb=" << tb << " at " << i << "," << j;
      }
  }
}

TEST(MatmulForward, GradientsHaveTheInputsShapesAndValues) {
  // dL/dA and dL/dB for L = sum(g * (A B)), worked out by hand
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();   // 2 x 3
  Tensor b = f64({1, 0, 0, 1, 1, 1}, {3, 2}).requires_grad_();   // 3 x 2
  matmul(a, b).backward(f64({1, 2, 3, 4}, {2, 2}));
  expect_values(a.grad(), {1, 2, 3, 3, 4, 7});
  expect_values(b.grad(), {13, 18, 17, 24, 21, 30});

  // the same through the transposed flags, with the transposed storage: each gradient comes back
  // in its input's stored layout, the values above transposed
  Tensor at = f64({1, 4, 2, 5, 3, 6}, {3, 2}).requires_grad_();  // A^T stored
  Tensor bt = f64({1, 0, 1, 0, 1, 1}, {2, 3}).requires_grad_();  // B^T stored
  matmul(at, bt, true, true).backward(f64({1, 2, 3, 4}, {2, 2}));
  expect_values(at.grad(), {1, 3, 2, 4, 3, 7});
  expect_values(bt.grad(), {13, 17, 21, 18, 24, 30});
}

// matmul_vjp called directly (matmul's backward calls it): only the gradients asked for are
// computed, each equal to the one computed with both.
TEST(MatmulVjp, ComputesOnlyTheGradientsAskedFor) {
  manual_seed(304);
  for (int flags = 0; flags < 4; ++flags) {
    const bool ta = flags & 1, tb = flags & 2;
    SCOPED_TRACE(flags);
    const Tensor a = ta ? randn({3, 2}, DType::Float64) : randn({2, 3}, DType::Float64);
    const Tensor b = tb ? randn({4, 3}, DType::Float64) : randn({3, 4}, DType::Float64);
    const Tensor g = randn({2, 4}, DType::Float64);
    const MatmulGrads both = matmul_vjp(a, b, g, ta, tb);
    EXPECT_EQ(both.a.shape(), a.shape());
    EXPECT_EQ(both.b.shape(), b.shape());
    const MatmulGrads only_a = matmul_vjp(a, b, g, ta, tb, true, false);
    const MatmulGrads only_b = matmul_vjp(a, b, g, ta, tb, false, true);
    EXPECT_FALSE(only_a.b.defined());
    EXPECT_FALSE(only_b.a.defined());
    expect_values(only_a.a, both.a.to_vector<double>());
    expect_values(only_b.b, both.b.to_vector<double>());
  }
}

TEST(MatmulForward, EmptyInnerDimensionGivesZeros) {
  const Tensor c = matmul(zeros({2, 0}), zeros({0, 3}));
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  expect_values(c, {0, 0, 0, 0, 0, 0});
  EXPECT_EQ(matmul(zeros({0, 4}), zeros({4, 3})).shape(), (Shape{0, 3}));
}

TEST(LinearForward, HandComputed) {
  const Tensor x = f64({1, 2, -1, 0.5}, {2, 2});                // N = 2, in = 2
  const Tensor w = f64({1, 0, 0, 1, 1, 1}, {3, 2});             // out = 3
  const Tensor b = f64({10, 20, 30}, {3});
  expect_values(linear(x, w, b), {11, 22, 33, 9, 20.5, 29.5});
  expect_values(linear(x, w), {1, 2, 3, -1, 0.5, -0.5});
  EXPECT_EQ(linear(x, w).shape(), (Shape{2, 3}));
}

// ---------------------------------------------------------------- errors

TEST(LinalgErrors, Matmul) {
  expect_error([] { matmul(zeros({3}), zeros({3, 2})); }, {"matmul", "2-D", "[3]", "[3, 2]"});
  expect_error([] { matmul(zeros({2, 3}), zeros({2, 3, 4})); }, {"matmul", "[2, 3, 4]"});
  expect_error([] { matmul(zeros({3, 4}), zeros({5, 2})); }, {"matmul", "[3, 4]", "[5, 2]", "4 vs 5"});
  expect_error([] { matmul(zeros({3, 4}), zeros({4, 3}), false, true); }, {"matmul", "b^T", "[4, 3]", "4 vs 3"});
  expect_error([] { matmul(zeros({4, 3}), zeros({3, 2}), true, false); }, {"matmul", "a^T", "[4, 3]", "4 vs 3"});
  EXPECT_NO_THROW(matmul(zeros({3, 4}), zeros({3, 4}), false, true));
  EXPECT_NO_THROW(matmul(zeros({4, 3}), zeros({4, 3}), true, false));
  expect_error([] { matmul(zeros({2, 3}), zeros({3, 2}, DType::Float64)); },
               {"matmul", "float32", "float64", "[2, 3]", "[3, 2]"});
  expect_error([] { matmul(arange(6).reshape({2, 3}), arange(6).reshape({3, 2})); }, {"matmul", "int64"});
}

TEST(LinalgErrors, MatmulVjp) {
  expect_error([] { matmul_vjp(zeros({3}), zeros({3, 2}), zeros({1, 2})); }, {"matmul_vjp", "2-D", "[3]", "[3, 2]"});
  expect_error([] { matmul_vjp(zeros({2, 3}), zeros({4, 2}), zeros({2, 2})); },
               {"matmul_vjp", "[2, 3]", "[4, 2]", "cannot be multiplied: the inner dimensions differ (3 vs 4)"});
  expect_error([] { matmul_vjp(zeros({2, 3}), zeros({3, 4}), zeros({4, 2})); },
               {"matmul_vjp", "g of shape [2, 4]", "got float32 [4, 2]"});
  expect_error([] { matmul_vjp(zeros({3, 2}), zeros({4, 3}), zeros({2, 3}), true, true); },
               {"matmul_vjp", "a^T", "b^T", "g of shape [2, 4]", "[2, 3]"});
  expect_error([] { matmul_vjp(zeros({2, 3}), zeros({3, 4}), zeros({2, 4}, DType::Float64)); },
               {"matmul_vjp", "float32 g", "got float64"});
  expect_error([] { matmul_vjp(zeros({2, 3}), zeros({3, 4}, DType::Float64), zeros({2, 4})); },
               {"matmul_vjp", "float32 [2, 3]", "float64 [3, 4]", "cannot be multiplied: two dtypes"});
}

TEST(LinalgErrors, Linear) {
  expect_error([] { linear(zeros({3}), zeros({2, 3})); }, {"linear", "[3]", "[2, 3]"});
  expect_error([] { linear(zeros({4, 3}), zeros({2, 5})); }, {"linear", "[4, 3]", "[2, 5]"});
  expect_error([] { linear(zeros({4, 3}), zeros({2, 3}), zeros({3})); }, {"linear", "bias", "[3]", "[2]"});
  expect_error([] { linear(zeros({4, 3}), zeros({2, 3}), zeros({1, 2})); }, {"linear", "bias", "[1, 2]"});
  expect_error([] { linear(zeros({4, 3}), zeros({2, 3}, DType::Float64)); }, {"linear", "float32", "float64"});
  expect_error([] { linear(zeros({4, 3}), zeros({2, 3}), zeros({2}, DType::Float64)); },
               {"linear", "bias", "float32", "float64"});
}

// ---------------------------------------------------------------- svd (no autograd)

namespace {

// What every SVD of `a` must satisfy, whatever signs or rotations it chose: U diag(S) Vh = A, U's
// columns and Vh's rows orthonormal, S >= 0 and descending; all to `tol` relative to max |A|.
void expect_valid_svd(const Tensor& a, const SvdResult& r, double tol, const std::string& what) {
  const std::int64_t M = a.shape()[0], N = a.shape()[1], K = std::min(M, N);
  ASSERT_EQ(r.U.shape(), (Shape{M, K})) << what;
  ASSERT_EQ(r.S.shape(), (Shape{K})) << what;
  ASSERT_EQ(r.Vh.shape(), (Shape{K, N})) << what;
  EXPECT_EQ(r.U.dtype(), a.dtype()) << what;
  EXPECT_EQ(r.S.dtype(), a.dtype()) << what;
  const auto A = a.to(DType::Float64).to_vector<double>(), U = r.U.to(DType::Float64).to_vector<double>(),
             S = r.S.to(DType::Float64).to_vector<double>(), Vh = r.Vh.to(DType::Float64).to_vector<double>();
  double scale = 0;
  for (double x : A) scale = std::max(scale, std::abs(x));
  double recon = 0, u_orth = 0, v_orth = 0;
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (std::int64_t k = 0; k < K; ++k) s += U[i * K + k] * S[k] * Vh[k * N + j];
      recon = std::max(recon, std::abs(s - A[i * N + j]));
    }
  for (std::int64_t p = 0; p < K; ++p)
    for (std::int64_t q = 0; q < K; ++q) {
      double uu = 0, vv = 0;
      for (std::int64_t i = 0; i < M; ++i) uu += U[i * K + p] * U[i * K + q];
      for (std::int64_t j = 0; j < N; ++j) vv += Vh[p * N + j] * Vh[q * N + j];
      u_orth = std::max(u_orth, std::abs(uu - (p == q)));
      v_orth = std::max(v_orth, std::abs(vv - (p == q)));
    }
  EXPECT_LE(recon, tol * std::max(scale, 1.0)) << what << ": max |U S Vh - A|";
  EXPECT_LE(u_orth, tol) << what << ": max |U^T U - I|";
  EXPECT_LE(v_orth, tol) << what << ": max |Vh Vh^T - I|";
  for (std::int64_t k = 0; k < K; ++k) {
    EXPECT_GE(S[k], 0) << what << ": S[" << k << "]";
    if (k > 0) {
      EXPECT_GE(S[k - 1], S[k]) << what << ": S is not descending at " << k;
    }
  }
}

}  // namespace

// A = [[3, 0], [4, 5]]: A^T A = [[25, 20], [20, 25]] has eigenvalues 45 and 5 with eigenvectors
// (1, 1)/sqrt 2 and (1, -1)/sqrt 2, so S = (3 sqrt 5, sqrt 5), V's columns those vectors, and
// U_k = A v_k / S_k = (1, 3)/sqrt 10 and (3, -1)/sqrt 10 — each pair up to one common sign.
TEST(Svd, KnownTwoByTwo) {
  const Tensor a = f64({3, 0, 4, 5}, {2, 2});
  const SvdResult r = svd(a);
  expect_values(r.S, {3 * std::sqrt(5.0), std::sqrt(5.0)}, 1e-14);
  const double h = 1 / std::sqrt(2.0), t = 1 / std::sqrt(10.0);
  const std::vector<std::vector<double>> v_want = {{h, h}, {h, -h}}, u_want = {{t, 3 * t}, {3 * t, -t}};
  for (std::int64_t k = 0; k < 2; ++k) {
    const double sign = r.Vh.at({k, 0}) < 0 ? -1.0 : 1.0;  // the pair's common sign
    for (std::int64_t j = 0; j < 2; ++j) {
      EXPECT_NEAR(r.Vh.at({k, j}), sign * v_want[k][j], 1e-14) << "Vh[" << k << ", " << j << "]";
      EXPECT_NEAR(r.U.at({j, k}), sign * u_want[k][j], 1e-14) << "U[" << j << ", " << k << "]";
    }
  }
  expect_valid_svd(a, r, 1e-14, "[[3, 0], [4, 5]]");
}

// A diagonal matrix is its own SVD up to order and sign: the singular values are |d_i|, sorted.
TEST(Svd, DiagonalGivesSortedAbsoluteValuesAndSignedPermutations) {
  const Tensor a = f64({1, 0, 0, 0, -3, 0, 0, 0, 2}, {3, 3});
  const SvdResult r = svd(a);
  expect_values(r.S, {3, 2, 1}, 1e-15);
  // U and Vh are signed permutation matrices: every entry 0 or +-1
  for (const Tensor& f : {r.U, r.Vh})
    for (double x : f.to_vector<double>()) EXPECT_TRUE(std::abs(x) < 1e-15 || std::abs(std::abs(x) - 1) < 1e-15) << x;
  expect_valid_svd(a, r, 1e-15, "diag(1, -3, 2)");
}

TEST(Svd, RandomShapesReconstructWithOrthonormalFactors) {
  manual_seed(310);
  for (const Shape& s : std::vector<Shape>{{4, 4}, {5, 3}, {3, 5}, {1, 4}, {4, 1}, {1, 1}, {64, 64}, {500, 16}, {16, 500}}) {
    const Tensor a = randn(s, DType::Float64);
    expect_valid_svd(a, svd(a), 1e-12, "random " + shape_str(s));
  }
}

// An orthogonal Q = U Vh from the SVD of a random matrix has every singular value 1, and Q D has
// the entries of D (positive, distinct) as its singular values: a decomposition known in advance.
TEST(Svd, OrthogonalTimesDiagonalHasTheDiagonalAsSingularValues) {
  manual_seed(311);
  const SvdResult g = svd(randn({6, 6}, DType::Float64));
  const Tensor q = matmul(g.U, g.Vh);
  expect_values(svd(q).S, std::vector<double>(6, 1.0), 1e-13);
  const Tensor d = f64({0.5, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
                        0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 3},
                       {6, 6});
  const Tensor qd = matmul(q, d);
  const SvdResult r = svd(qd);
  expect_values(r.S, {8, 4, 3, 2, 1, 0.5}, 1e-13);
  expect_valid_svd(qd, r, 1e-13, "Q D");
}

// Rank-deficient input (trained embeddings fill only a few directions): the zero singular values'
// columns of U are completed to an orthonormal set, and U S Vh still equals A.
TEST(Svd, RankDeficientAndZeroMatricesGetOrthonormalFactors) {
  manual_seed(312);
  const Tensor low = matmul(randn({7, 2}, DType::Float64), randn({2, 5}, DType::Float64));  // rank 2
  const SvdResult r = svd(low);
  const auto s = r.S.to_vector<double>();
  EXPECT_GT(s[1], 1e-3);
  for (std::size_t k = 2; k < s.size(); ++k) EXPECT_LE(s[k], 1e-12 * s[0]) << "S[" << k << "]";
  expect_valid_svd(low, r, 1e-12, "rank 2, 7 x 5");
  const Tensor z = zeros({3, 4}, DType::Float64);
  const SvdResult rz = svd(z);
  expect_values(rz.S, {0, 0, 0}, 0);
  expect_valid_svd(z, rz, 1e-15, "zeros 3 x 4");
}

TEST(Svd, Float32IsComputedInDoubleAndReturnedAsFloat32) {
  manual_seed(313);
  const Tensor a = randn({8, 5});
  const SvdResult r = svd(a);
  EXPECT_EQ(r.Vh.dtype(), DType::Float32);
  expect_valid_svd(a, r, 1e-6, "float32 8 x 5");
  expect_close(r.S, svd(a.to(DType::Float64)).S.to(DType::Float32), 0);
}

TEST(LinalgErrors, Svd) {
  expect_error([] { svd(zeros({3})); }, {"svd", "2-D", "[3]"});
  expect_error([] { svd(zeros({0, 3})); }, {"svd", "at least one element", "[0, 3]"});
  expect_error([] { svd(arange(6).reshape({2, 3})); }, {"svd", "int64", "[2, 3]"});
  expect_error([] { svd(f64({1, 2, std::nan(""), 4}, {2, 2})); }, {"svd", "entry [1, 0]", "nan"});
  expect_error([] { svd(f64({1, 2, 3, INFINITY}, {2, 2})); }, {"svd", "entry [1, 1]", "inf"});
  Tensor w = randn({3, 3}, DType::Float64);
  w.requires_grad_();
  expect_error([&] { svd(w); }, {"svd", "requires a gradient", "no VJP", "detach()"});
  EXPECT_NO_THROW(svd(w.detach()));
  NoGradGuard no_grad;
  EXPECT_NO_THROW(svd(w));
}
