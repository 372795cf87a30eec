// Tests for ops/softmax.h and ops/distances.h: softmax, log_softmax, l2_norm, normalize, pairwise
// (squared) distances, cosine similarity matrix — forward values by hand and
// against direct loops, float64 gradchecks (random upstream weight), the
// fused kernels against their composed plain twins, the kinks, every error path.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <source_location>
#include <string>

#include "core/autograd.h"
#include "core/error.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/distances.h"
#include "ops/softmax.h"
#include "ops/reduce.h"
#include "test_util.h"

using chalk::test_util::expect_error;

using namespace chalk;

namespace {

void expect_gradcheck(const TensorFn& f, const std::vector<Tensor>& in) {
  const auto r = gradcheck(f, in);
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_GT(r.checked, 0);
}

Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s); }

void expect_all_near(const Tensor& a, const Tensor& b, double tol,
                     std::source_location loc = std::source_location::current()) {
  SCOPED_TRACE(testing::Message() << "called from line " << loc.line());
  ASSERT_EQ(a.shape(), b.shape());
  const auto va = a.to(DType::Float64).to_vector<double>(), vb = b.to(DType::Float64).to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i) EXPECT_NEAR(va[i], vb[i], tol * (1 + std::fabs(vb[i]))) << "element " << i;
}

// Forward values and input gradients of f and its plain twin agree (float64, random upstream weight).
void expect_same_as_twin(const std::function<Tensor(const Tensor&)>& f,
                         const std::function<Tensor(const Tensor&)>& twin, const Tensor& x0, double tol = 1e-12) {
  Tensor x1 = x0.detach().clone().requires_grad_(), x2 = x0.detach().clone().requires_grad_();
  const Tensor y1 = f(x1), y2 = twin(x2);
  expect_all_near(y1, y2, tol);
  const Tensor w = randn(y1.shape(), DType::Float64);
  y1.backward(w);
  y2.backward(w);
  expect_all_near(x1.grad(), x2.grad(), tol);
}

// Direct loops: the definitions, one pair at a time.
double direct_d2(const Tensor& a, std::int64_t i, const Tensor& b, std::int64_t j) {
  double s = 0;
  for (std::int64_t k = 0; k < a.shape()[1]; ++k) {
    const double t = a.at({i, k}) - b.at({j, k});
    s += t * t;
  }
  return s;
}

bool all_finite(const Tensor& t) {
  for (double v : t.to(DType::Float64).to_vector<double>())
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace

// ---------------------------------------------------------------- softmax, log_softmax

TEST(Softmax, HandComputedValues) {
  // e^1, e^2, e^3 over their sum 30.19287485...
  const Tensor x = f64({1, 2, 3}, {3});
  const std::vector<double> p{0.09003057317038046, 0.24472847105479767, 0.6652409557748219};
  expect_all_near(softmax(x), f64(p, {3}), 1e-15);
  expect_all_near(log_softmax(x), f64({-2.4076059644443806, -1.4076059644443806, -0.40760596444438063}, {3}), 1e-15);
  // along axis 0 of a 3 x 2 matrix: each column is normalised
  const Tensor m = f64({1, 0, 2, 0, 3, 0}, {3, 2});
  expect_all_near(softmax(m, 0), f64({p[0], 1. / 3, p[1], 1. / 3, p[2], 1. / 3}, {3, 2}), 1e-15);
  // a size-1 axis: softmax is 1, log_softmax 0
  expect_all_near(softmax(m, 1).reshape({3, 2}).to(DType::Float64), softmax(m, -1), 0);
  expect_all_near(softmax(f64({5, -7}, {2, 1}), 1), f64({1, 1}, {2, 1}), 0);
  expect_all_near(log_softmax(f64({5, -7}, {2, 1}), 1), f64({0, 0}, {2, 1}), 0);
}

// log_softmax([v, v]) = -log 2 at every v, and its VJP for g = [1, 0] is g - softmax sum(g) =
// [0.5, -0.5]. Formed as x - (m + log s), float32 gave -0.693145752 at v = 64 (the scale ArcFace
// and CosFace train at), -0.693359375 at 1e4, -0.6875 at 1e6, and 0 with VJP [0, -1] at 1e8.
TEST(Softmax, LogSoftmaxIsExactAtLargeLogits) {
  for (auto [v, dt] : {std::pair{64.0, DType::Float32}, std::pair{1e4, DType::Float32}, std::pair{1e6, DType::Float32},
                       std::pair{1e8, DType::Float32}, std::pair{1e10, DType::Float64}, std::pair{1e16, DType::Float64},
                       std::pair{1e50, DType::Float64}}) {
    SCOPED_TRACE(str_cat(v, " ", dtype_name(dt)));
    Tensor x = tensor({v, v}, dt).requires_grad_();
    const Tensor y = log_softmax(x);
    const double log2 = dt == DType::Float32 ? static_cast<float>(-std::log(2.0)) : -std::log(2.0);
    EXPECT_EQ(y.to(DType::Float64).to_vector<double>(), (std::vector<double>{log2, log2}));  // -0.693147181
    y.backward(tensor({1, 0}, dt));
    EXPECT_EQ(x.grad().to(DType::Float64).to_vector<double>(), (std::vector<double>{0.5, -0.5}));
    // softmax, from the same shifted form
    EXPECT_EQ(softmax(x.detach()).to(DType::Float64).to_vector<double>(), (std::vector<double>{0.5, 0.5}));
  }
}

TEST(Softmax, LogSoftmaxIsShiftInvariantInFloat32) {
  // integer logits: x + 64 and x + 1e4 are exact in float32, and so is (x_k + c) - (m + c) = x_k - m,
  // so log_softmax(x + c) equals log_softmax(x) bit for bit, value and VJP
  const Tensor x0 = tensor({3, -2, 0, 5, 1, -7}, DType::Float32).reshape({2, 3});
  const Tensor g = tensor({0.3, -1.2, 0.7, 2.0, 0.1, -0.4}, DType::Float32).reshape({2, 3});
  for (double c : {64.0, 1e4}) {
    SCOPED_TRACE(c);
    Tensor a = x0.clone().requires_grad_(), b = (x0 + c).detach().requires_grad_();
    const Tensor ya = log_softmax(a, 1), yb = log_softmax(b, 1);
    EXPECT_EQ(ya.to_vector<float>(), yb.to_vector<float>());
    ya.backward(g);
    yb.backward(g);
    EXPECT_EQ(a.grad().to_vector<float>(), b.grad().to_vector<float>());
  }
}

TEST(Softmax, HugeLogitsGiveNoNaN) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor x = tensor({1000, -1000, 0, 999}, dt).requires_grad_();
    const Tensor y = softmax(x);
    const double e = std::exp(-1.0), z = 1 + e;  // only 1000 and 999 matter
    expect_all_near(y, tensor({1 / z, 0, 0, e / z}, DType::Float64), 1e-6);
    Tensor ls = log_softmax(x);
    expect_all_near(ls, tensor({-std::log(z), -2000 - std::log(z), -1000 - std::log(z), -1 - std::log(z)}, DType::Float64),
                    dt == DType::Float32 ? 1e-3 : 1e-12);
    (sum(y * tensor({1, 2, 3, 4}, dt)) + sum(ls * tensor({0.5, -1, 2, 1}, dt))).backward();
    EXPECT_TRUE(all_finite(x.grad())) << x.grad();
    Tensor all_low = tensor({-1000, -1000}, dt);
    expect_all_near(softmax(all_low), tensor({0.5, 0.5}, DType::Float64), 1e-7);
  }
}

TEST(Softmax, Gradcheck) {
  manual_seed(11);
  for (auto [shape, axis] : {std::pair{Shape{5}, 0}, std::pair{Shape{3, 4}, 0}, std::pair{Shape{3, 4}, 1},
                             std::pair{Shape{4, 3}, -1}, std::pair{Shape{2, 3, 4}, 1}, std::pair{Shape{2, 1, 3}, 1},
                             std::pair{Shape{1, 6}, -1}}) {
    SCOPED_TRACE(shape_str(shape) + " axis " + std::to_string(axis));
    const int ax = axis;
    expect_gradcheck([ax](const std::vector<Tensor>& in) { return softmax(in[0], ax); }, {randn(shape) * 2.0});
    expect_gradcheck([ax](const std::vector<Tensor>& in) { return log_softmax(in[0], ax); }, {randn(shape) * 2.0});
  }
  // one input used twice: the contributions add
  expect_gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0], 1) * log_softmax(in[0], 1); },
                   {randn({3, 4})});
}

TEST(Softmax, MatchesComposedTwin) {
  manual_seed(12);
  const Tensor x = randn({4, 5, 3}, DType::Float64) * 3.0;
  for (int axis : {0, 1, 2}) {
    expect_same_as_twin([axis](const Tensor& t) { return softmax(t, axis); },
                        [axis](const Tensor& t) { return exp(t - logsumexp(t, axis, true)); }, x);
    expect_same_as_twin([axis](const Tensor& t) { return log_softmax(t, axis); },
                        [axis](const Tensor& t) { return t - logsumexp(t, axis, true); }, x);
  }
}

TEST(Softmax, Errors) {
  expect_error([] { softmax(zeros({2, 3}), 2); }, {"softmax", "axis 2"});
  expect_error([] { log_softmax(zeros({2, 3}), -3); }, {"log_softmax", "axis -3"});
  expect_error([] { softmax(arange(3), 0); }, {"softmax", "int64"});
  expect_error([] { log_softmax(arange(3), 0); }, {"log_softmax", "int64"});
}

// ---------------------------------------------------------------- l2_norm, normalize

TEST(L2Norm, ValuesAndZeroVector) {
  const Tensor x = f64({3, 4, 0, 0, 1, 2}, {3, 2});
  expect_all_near(l2_norm(x), f64({5, 0, std::sqrt(5.0)}, {3}), 1e-15);
  expect_all_near(l2_norm(x, 1, true), f64({5, 0, std::sqrt(5.0)}, {3, 1}), 1e-15);
  expect_all_near(l2_norm(x, 0), f64({std::sqrt(10.0), std::sqrt(20.0)}, {2}), 1e-15);
  // gradient x / ||x|| per row, 0 for the zero row
  Tensor xg = x.clone().detach().requires_grad_();
  sum(l2_norm(xg)).backward();
  expect_all_near(xg.grad(), f64({0.6, 0.8, 0, 0, 1 / std::sqrt(5.0), 2 / std::sqrt(5.0)}, {3, 2}), 1e-15);
}

TEST(L2Norm, Gradcheck) {
  manual_seed(13);
  expect_gradcheck([](const std::vector<Tensor>& in) { return l2_norm(in[0]); }, {randn({4, 3})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return l2_norm(in[0], 0, true); }, {randn({3, 5})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return l2_norm(in[0], 1); }, {randn({2, 3, 2})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return l2_norm(in[0], 1); }, {randn({3, 1})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return l2_norm(in[0], 0); }, {randn({7})});
}

TEST(Normalize, ValuesZeroVectorAndGradcheck) {
  const Tensor x = f64({3, 4, 0, 0}, {2, 2});
  expect_all_near(normalize(x), f64({0.6, 0.8, 0, 0}, {2, 2}), 1e-15);
  // NOTE: written as an initializer_list on purpose: GCC 12.2 at -O3 -march=native
  // (AVX-512) compiled f64({1, 1, 0, 0}, {2, 2}) on this line into a vector of
  // four 1s (an SLP-vectorizer broadcast; -fno-tree-slp-vectorize avoids it).
  expect_all_near(normalize(x, 0), tensor({1, 1, 0, 0}, DType::Float64).reshape({2, 2}), 1e-15);
  Tensor xz = zeros({1, 3}, DType::Float64).requires_grad_();
  sum(normalize(xz)).backward();
  EXPECT_TRUE(all_finite(xz.grad()));
  manual_seed(14);
  expect_gradcheck([](const std::vector<Tensor>& in) { return normalize(in[0]); }, {randn({4, 3})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return normalize(in[0], 0); }, {randn({3, 5})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return normalize(in[0], 1); }, {randn({2, 3, 2})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return normalize(in[0], -1); }, {randn({2, 1})});
  // a row with norm < eps: x / eps (the clamped branch); the other row is not clamped
  const Tensor small = f64({3e-4, -4e-4, 0.5, 1.0}, {2, 2});
  expect_gradcheck([](const std::vector<Tensor>& in) { return normalize(in[0], 1, 1e-3); }, {small});
  expect_all_near(normalize(small, 1, 1e-3).reshape({4}).to(DType::Float64),
                  f64({0.3, -0.4, 0.5 / std::sqrt(1.25), 1 / std::sqrt(1.25)}, {4}), 1e-12);
}

TEST(Normalize, MatchesComposedTwin) {
  manual_seed(15);
  // random rows, one clamped row (norm 5e-4 < eps = 1e-3) and a zero row
  std::vector<double> v = randn({4, 3}, DType::Float64).to_vector<double>();
  for (double t : {3e-4, 0.0, -4e-4, 0.0, 0.0, 0.0}) v.push_back(t);
  const Tensor x = f64(v, {6, 3});
  for (double eps : {1e-12, 1e-3}) {
    expect_same_as_twin([eps](const Tensor& t) { return normalize(t, 1, eps); },
                        [eps](const Tensor& t) { return div(t, clamp_min(l2_norm(t, 1, true), eps)); }, x);
  }
  expect_same_as_twin([](const Tensor& t) { return normalize(t, 0); },
                      [](const Tensor& t) { return div(t, clamp_min(l2_norm(t, 0, true), 1e-12)); },
                      randn({3, 4}, DType::Float64));
}

TEST(Normalize, Errors) {
  expect_error([] { l2_norm(zeros({2, 3}), 2); }, {"l2_norm", "axis 2"});
  expect_error([] { l2_norm(arange(3), 0); }, {"l2_norm", "int64"});
  expect_error([] { normalize(zeros({2, 3}), -3); }, {"normalize", "axis -3"});
  expect_error([] { normalize(zeros({2, 3}), 1, 0.0); }, {"normalize", "eps"});
  expect_error([] { normalize(arange(3), 0); }, {"normalize", "int64"});
}

// ---------------------------------------------------------------- pairwise distances

TEST(PairwiseDistances, HandComputedValues) {
  const Tensor a = f64({0, 0, 3, 4}, {2, 2}), b = f64({0, 0, 1, 1, 3, 0}, {3, 2});
  expect_all_near(pairwise_squared_distances(a, b), f64({0, 2, 9, 25, 13, 16}, {2, 3}), 1e-12);
  expect_all_near(pairwise_distances(a, b), f64({0, std::sqrt(2.0), 3, 5, std::sqrt(13.0), 4}, {2, 3}), 1e-12);
}

TEST(PairwiseDistances, MatchDirectLoop) {
  manual_seed(21);
  for (auto [N, M, D] : {std::tuple{5, 3, 4}, std::tuple{1, 1, 1}, std::tuple{4, 7, 2}, std::tuple{3, 3, 1},
                         std::tuple{33, 17, 70}}) {
    for (DType dt : {DType::Float64, DType::Float32}) {
      const Tensor a = randn({N, D}, dt), b = randn({M, D}, dt);
      const Tensor d2 = pairwise_squared_distances(a, b), d = pairwise_distances(a, b);
      ASSERT_EQ(d2.shape(), (Shape{N, M}));
      const double tol = dt == DType::Float64 ? 1e-12 : 1e-4;
      for (std::int64_t i = 0; i < N; ++i)
        for (std::int64_t j = 0; j < M; ++j) {
          const double e = direct_d2(a, i, b, j);
          EXPECT_NEAR(d2.at({i, j}), e, tol * (1 + e));
          EXPECT_NEAR(d.at({i, j}), std::sqrt(e), tol * (1 + e));
        }
    }
  }
}

TEST(PairwiseDistances, CloseFloat32PointsKeepTheirAccuracy) {
  // ||a||^2 ~ 100 D while d2 ~ 1e-6 D: the GEMM form alone cancels every
  // float32 digit; the direct recomputation of close pairs keeps them.
  manual_seed(22);
  const std::int64_t N = 6, D = 32;
  const Tensor a = randn({N, D}, DType::Float64) * 10.0;
  const Tensor b = a + randn({N, D}, DType::Float64) * 1e-3;
  const Tensor d = pairwise_distances(a.to(DType::Float32), b.to(DType::Float32));
  const Tensor a32 = a.to(DType::Float32).to(DType::Float64), b32 = b.to(DType::Float32).to(DType::Float64);
  for (std::int64_t i = 0; i < N; ++i) {
    const double e = std::sqrt(direct_d2(a32, i, b32, i));
    EXPECT_NEAR(d.at({i, i}), e, 1e-3 * e) << i;
  }
}

TEST(PairwiseDistances, Gradcheck) {
  manual_seed(23);
  for (auto [N, M, D] : {std::tuple{4, 3, 5}, std::tuple{1, 1, 1}, std::tuple{1, 4, 2}, std::tuple{3, 1, 3},
                         std::tuple{2, 5, 1}}) {
    SCOPED_TRACE(std::to_string(N) + " x " + std::to_string(M) + " x " + std::to_string(D));
    const Tensor a = randn({N, D}), b = randn({M, D});
    expect_gradcheck([](const std::vector<Tensor>& in) { return pairwise_squared_distances(in[0], in[1]); }, {a, b});
    expect_gradcheck([](const std::vector<Tensor>& in) { return pairwise_distances(in[0], in[1]); }, {a, b});
  }
  // one input on both sides (the usual use in a loss). The diagonal d_ii = 0
  // stays exactly 0 under any perturbation, so its numeric gradient is 0 too:
  // the kink's choice (no gradient) is checked here as well.
  expect_gradcheck([](const std::vector<Tensor>& in) { return pairwise_squared_distances(in[0], in[0]); },
                   {randn({4, 3})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return pairwise_distances(in[0], in[0]); }, {randn({4, 3})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return pairwise_distances(in[0], in[0]); }, {randn({1, 2})});
}

TEST(PairwiseDistances, IdenticalPointsGiveZeroAndFiniteGradients) {
  manual_seed(24);
  for (DType dt : {DType::Float32, DType::Float64}) {
    // rows 0 and 2 are the same point; D = 50 so that the GEMM really rounds
    std::vector<double> v = (randn({4, 50}, DType::Float64) * 3.0).to_vector<double>();
    for (int k = 0; k < 50; ++k) v[2 * 50 + k] = v[k];
    Tensor x = from_vector(v, {4, 50}).to(dt).requires_grad_();
    const Tensor d = pairwise_distances(x, x);
    for (std::int64_t i = 0; i < 4; ++i) EXPECT_EQ(d.at({i, i}), 0.0) << i;
    EXPECT_EQ(d.at({0, 2}), 0.0);
    EXPECT_EQ(d.at({2, 0}), 0.0);
    EXPECT_EQ(pairwise_squared_distances(x.detach(), x.detach()).at({0, 2}), 0.0);
    EXPECT_GT(d.at({0, 1}), 1.0);
    const Tensor w = randn({4, 4}, dt);
    sum(d * w).backward();
    ASSERT_TRUE(all_finite(x.grad())) << x.grad();
    // expected: dx_i = sum_j (w_ij + w_ji) (x_i - x_j) / d_ij over the pairs with d_ij > 0
    const Tensor xd = x.detach().to(DType::Float64);
    for (std::int64_t i = 0; i < 4; ++i)
      for (std::int64_t k = 0; k < 50; ++k) {
        double e = 0;
        for (std::int64_t j = 0; j < 4; ++j) {
          const double dij = std::sqrt(direct_d2(xd, i, xd, j));
          if (dij > 0) e += (w.at({i, j}) + w.at({j, i})) * (xd.at({i, k}) - xd.at({j, k})) / dij;
        }
        EXPECT_NEAR(x.grad().at({i, k}), e, dt == DType::Float64 ? 1e-12 : 1e-4) << i << ", " << k;
      }
  }
}

TEST(PairwiseDistances, MatchComposedTwin) {
  // the plain twin: broadcast a_i - b_j to N x M x D, square, sum, sqrt
  manual_seed(25);
  const Tensor a = randn({5, 4}, DType::Float64), b = randn({3, 4}, DType::Float64);
  auto twin2 = [](const Tensor& p, const Tensor& q) {
    const Tensor diff = p.reshape({p.shape()[0], 1, p.shape()[1]}) - q.reshape({1, q.shape()[0], q.shape()[1]});
    return sum(square(diff), 2);
  };
  for (bool squared : {true, false}) {
    Tensor a1 = a.clone().requires_grad_(), b1 = b.clone().requires_grad_();
    Tensor a2 = a.clone().requires_grad_(), b2 = b.clone().requires_grad_();
    const Tensor y1 = squared ? pairwise_squared_distances(a1, b1) : pairwise_distances(a1, b1);
    const Tensor y2 = squared ? twin2(a2, b2) : sqrt(twin2(a2, b2));
    expect_all_near(y1, y2, 1e-12);
    const Tensor w = randn({5, 3}, DType::Float64);
    y1.backward(w);
    y2.backward(w);
    expect_all_near(a1.grad(), a2.grad(), 1e-12);
    expect_all_near(b1.grad(), b2.grad(), 1e-12);
  }
}

// ---------------------------------------------------------------- cosine similarity

TEST(CosineSimilarityMatrix, ValuesGradcheckZeroRow) {
  const Tensor a = f64({1, 0, 3, 4, 0, 0}, {3, 2}), b = f64({0, 2, -1, 0}, {2, 2});
  expect_all_near(cosine_similarity_matrix(a, b), f64({0, -1, 0.8, -0.6, 0, 0}, {3, 2}), 1e-15);
  manual_seed(31);
  for (auto [N, M, D] : {std::tuple{4, 3, 5}, std::tuple{1, 1, 2}, std::tuple{2, 6, 1}}) {
    const Tensor p = randn({N, D}), q = randn({M, D});
    expect_gradcheck([](const std::vector<Tensor>& in) { return cosine_similarity_matrix(in[0], in[1]); }, {p, q});
  }
  expect_gradcheck([](const std::vector<Tensor>& in) { return cosine_similarity_matrix(in[0], in[0]); },
                   {randn({4, 3})});
  // against a direct loop
  const Tensor p = randn({6, 7}, DType::Float64), q = randn({5, 7}, DType::Float64);
  const Tensor s = cosine_similarity_matrix(p, q);
  for (std::int64_t i = 0; i < 6; ++i)
    for (std::int64_t j = 0; j < 5; ++j) {
      double dot = 0, np = 0, nq = 0;
      for (std::int64_t k = 0; k < 7; ++k) {
        dot += p.at({i, k}) * q.at({j, k});
        np += p.at({i, k}) * p.at({i, k});
        nq += q.at({j, k}) * q.at({j, k});
      }
      EXPECT_NEAR(s.at({i, j}), dot / std::sqrt(np * nq), 1e-12);
    }
  // a zero row: similarity 0, finite gradient
  Tensor az = a.clone().requires_grad_();
  sum(cosine_similarity_matrix(az, b)).backward();
  EXPECT_TRUE(all_finite(az.grad()));
}

TEST(PairwiseOps, Errors) {
  const Tensor a = zeros({3, 4}), b = zeros({2, 5});
  for (const char* op : {"pairwise_squared_distances", "pairwise_distances", "cosine_similarity_matrix"}) {
    const std::string name = op;
    auto call = [&](const Tensor& p, const Tensor& q) {
      if (name == "pairwise_squared_distances") pairwise_squared_distances(p, q);
      else if (name == "pairwise_distances") pairwise_distances(p, q);
      else cosine_similarity_matrix(p, q);
    };
    expect_error([&] { call(a, b); }, {name, "[3, 4]", "[2, 5]"});
    expect_error([&] { call(zeros({3}), a); }, {name, "[3]"});
    expect_error([&] { call(a, zeros({2, 4}, DType::Float64)); }, {name, "float64", "float32"});
    expect_error([&] { call(arange(4).reshape({2, 2}), arange(4).reshape({2, 2})); }, {name, "int64"});
  }
}

TEST(PairwiseOps, EmptyBatches) {
  EXPECT_EQ(pairwise_distances(zeros({0, 3}), zeros({2, 3})).shape(), (Shape{0, 2}));
  EXPECT_EQ(pairwise_squared_distances(zeros({2, 0}), zeros({3, 0})).to_vector<float>(), std::vector<float>(6, 0.f));
  Tensor a = zeros({2, 3}, DType::Float64).requires_grad_();
  sum(pairwise_distances(a, zeros({0, 3}, DType::Float64))).backward();
  EXPECT_EQ(a.grad().to_vector<double>(), std::vector<double>(6, 0.0));
}

TEST(NnOps, LargeInputsTakeTheParallelPathsAndStillAgree) {
  // sizes above kParallelGrain, so the OpenMP branches run (OMP_NUM_THREADS=2 under ctest)
  manual_seed(41);
  const Tensor x = randn({300, 150}, DType::Float64);
  expect_same_as_twin([](const Tensor& t) { return softmax(t, 0); },
                      [](const Tensor& t) { return exp(t - logsumexp(t, 0, true)); }, x, 1e-12);
  expect_same_as_twin([](const Tensor& t) { return log_softmax(t); },
                      [](const Tensor& t) { return t - logsumexp(t, 1, true); }, x, 1e-12);
  expect_same_as_twin([](const Tensor& t) { return normalize(t); },
                      [](const Tensor& t) { return div(t, clamp_min(l2_norm(t, 1, true), 1e-12)); }, x, 1e-12);
  const Tensor a = randn({300, 64}, DType::Float64), b = randn({200, 64}, DType::Float64);
  const Tensor d = pairwise_distances(a, b);
  for (std::int64_t i = 0; i < 300; i += 37)
    for (std::int64_t j = 0; j < 200; j += 23) EXPECT_NEAR(d.at({i, j}), std::sqrt(direct_d2(a, i, b, j)), 1e-12);
  // gradient of sum(w * d) against the direct formula for a few rows of a
  Tensor ag = a.clone().requires_grad_();
  const Tensor w = randn({300, 200}, DType::Float64);
  sum(pairwise_distances(ag, b) * w).backward();
  for (std::int64_t i : {0, 149, 299})
    for (std::int64_t k : {0, 63}) {
      double e = 0;
      for (std::int64_t j = 0; j < 200; ++j) e += w.at({i, j}) * (a.at({i, k}) - b.at({j, k})) / d.at({i, j});
      EXPECT_NEAR(ag.grad().at({i, k}), e, 1e-10);
    }
}
