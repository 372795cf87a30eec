// Tests for losses/softmax.h and losses/margin_softmax.h: cross-entropy and the margin-softmax
// family (docs/losses/softmax.md, docs/losses/margin_softmax.md).
//   * float64 gradcheck of every fused op (hand-derived VJP) and of its composed twin, for X and W;
//   * fused vs composed: values and gradients agree to 1e-10;
//   * hand-computed values, the target-logit functions, the SphereFace lambda schedule;
//   * edge cases: cos theta = +-1 exactly, a zero embedding, huge logits; every error path;
//   * the Loss classes and the registry;
//   * PyTorch agreement: tests/reference/cross_entropy.json and margin_softmax.json
//     (scripts/make_reference.py), fused and composed, values and gradients, to 1e-10.
#include <gtest/gtest.h>

#include <source_location>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "losses/loss.h"
#include "losses/margin_softmax.h"
#include "losses/softmax.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/distances.h"
#include "ops/softmax.h"
#include "ops/reduce.h"
#include "reference.h"
#include "test_util.h"

using chalk::test_util::expect_error;

using namespace chalk;

namespace {

constexpr double kPi = std::numbers::pi;

Tensor labels_of(std::vector<std::int64_t> y) {
  const auto n = static_cast<std::int64_t>(y.size());
  return from_vector(y, {n});
}

// y_i = i mod C
Tensor cyclic_labels(std::int64_t N, std::int64_t C) {
  std::vector<std::int64_t> y;
  for (std::int64_t i = 0; i < N; ++i) y.push_back(i % C);
  return labels_of(y);
}

// A batch whose embedding i makes the angle angles[i % size] with its own W_{y_i}, with a random
// norm in [0.5, 2): the targets then visit every branch of every margin (ArcFace's fallback,
// SphereFace's pieces), while staying clear of the branch points so central differences are valid.
Tensor batch_at_angles(const Tensor& W, const Tensor& y, const std::vector<double>& angles, Generator& gen) {
  const std::int64_t N = y.shape()[0], D = W.shape()[1];
  std::vector<double> x(static_cast<std::size_t>(N * D));
  for (std::int64_t i = 0; i < N; ++i) {
    const std::int64_t c = y.data<std::int64_t>()[i];
    std::vector<double> w(D), r(D);
    double wn = 0;
    for (std::int64_t k = 0; k < D; ++k) wn += W.at({c, k}) * W.at({c, k});
    wn = std::sqrt(wn);
    for (std::int64_t k = 0; k < D; ++k) w[k] = W.at({c, k}) / wn;
    // r: a random direction orthogonal to w (Gram-Schmidt; redrawn if it came out parallel)
    double rn = 0;
    while (rn < 1e-3) {
      double rw = 0;
      rn = 0;
      for (std::int64_t k = 0; k < D; ++k) r[k] = gen.normal(), rw += r[k] * w[k];
      for (std::int64_t k = 0; k < D; ++k) r[k] -= rw * w[k], rn += r[k] * r[k];
      rn = std::sqrt(rn);
    }
    const double t = angles[i % angles.size()], norm = 0.5 + 1.5 * gen.uniform();
    for (std::int64_t k = 0; k < D; ++k) x[i * D + k] = norm * (std::cos(t) * w[k] + std::sin(t) * r[k] / rn);
  }
  return from_vector(x, {N, D});
}

// Angles (radians) away from every branch point: k pi/4 (SphereFace m = 4), pi/3 (m = 3),
// pi/2 (easy margin), pi - 0.5 (ArcFace m = 0.5 fallback), and the acos clamp near 0 and pi.
const std::vector<double> kAngles = {0.3, 0.9, 1.3, 1.8, 2.2, 2.5, 2.8, 3.0, 0.6, 1.95};

using MarginFn = std::function<Tensor(const Tensor& x, const Tensor& W, const Tensor& y)>;
struct Variant {
  std::string name;
  MarginFn fused, composed;
};

// Every loss, with small s for the gradient checks (well-conditioned) and with its defaults.
std::vector<Variant> variants() {
  return {
      {"normface s=4", [](auto& x, auto& W, auto& y) { return normface_loss(x, W, y, 4.0); },
       [](auto& x, auto& W, auto& y) { return normface_loss_composed(x, W, y, 4.0); }},
      {"normface default", [](auto& x, auto& W, auto& y) { return normface_loss(x, W, y); },
       [](auto& x, auto& W, auto& y) { return normface_loss_composed(x, W, y); }},
      {"cosface s=4 m=0.35", [](auto& x, auto& W, auto& y) { return cosface_loss(x, W, y, 4.0, 0.35); },
       [](auto& x, auto& W, auto& y) { return cosface_loss_composed(x, W, y, 4.0, 0.35); }},
      {"cosface default", [](auto& x, auto& W, auto& y) { return cosface_loss(x, W, y); },
       [](auto& x, auto& W, auto& y) { return cosface_loss_composed(x, W, y); }},
      {"arcface s=4 m=0.5", [](auto& x, auto& W, auto& y) { return arcface_loss(x, W, y, 4.0, 0.5); },
       [](auto& x, auto& W, auto& y) { return arcface_loss_composed(x, W, y, 4.0, 0.5); }},
      {"arcface default", [](auto& x, auto& W, auto& y) { return arcface_loss(x, W, y); },
       [](auto& x, auto& W, auto& y) { return arcface_loss_composed(x, W, y); }},
      {"arcface easy s=4 m=0.4", [](auto& x, auto& W, auto& y) { return arcface_loss(x, W, y, 4.0, 0.4, true); },
       [](auto& x, auto& W, auto& y) { return arcface_loss_composed(x, W, y, 4.0, 0.4, true); }},
      {"combined s=4 1.3/0.2/0.1",
       [](auto& x, auto& W, auto& y) { return combined_margin_loss(x, W, y, 4.0, 1.3, 0.2, 0.1); },
       [](auto& x, auto& W, auto& y) { return combined_margin_loss_composed(x, W, y, 4.0, 1.3, 0.2, 0.1); }},
      {"combined default", [](auto& x, auto& W, auto& y) { return combined_margin_loss(x, W, y); },
       [](auto& x, auto& W, auto& y) { return combined_margin_loss_composed(x, W, y); }},
      {"sphereface m=4 lambda=0", [](auto& x, auto& W, auto& y) { return sphereface_loss(x, W, y, 4, 0.0); },
       [](auto& x, auto& W, auto& y) { return sphereface_loss_composed(x, W, y, 4, 0.0); }},
      {"sphereface m=4 lambda=5", [](auto& x, auto& W, auto& y) { return sphereface_loss(x, W, y, 4, 5.0); },
       [](auto& x, auto& W, auto& y) { return sphereface_loss_composed(x, W, y, 4, 5.0); }},
      {"sphereface m=3 lambda=1000", [](auto& x, auto& W, auto& y) { return sphereface_loss(x, W, y, 3, 1000.0); },
       [](auto& x, auto& W, auto& y) { return sphereface_loss_composed(x, W, y, 3, 1000.0); }},
  };
}

// Value, dL/dx and dL/dW of f at (x, W), with upstream gradient w (a non-unit scalar).
struct Eval {
  double value;
  std::vector<double> dx, dW;
};
Eval evaluate(const MarginFn& f, const Tensor& x0, const Tensor& W0, const Tensor& y, double w = 0.7) {
  Tensor x = x0.detach().clone().requires_grad_(), W = W0.detach().clone().requires_grad_();
  Tensor L = f(x, W, y);
  L.backward(scalar(w, L.dtype()));
  return {L.item(), x.grad().to(DType::Float64).to_vector<double>(), W.grad().to(DType::Float64).to_vector<double>()};
}

bool all_finite(const std::vector<double>& v) {
  for (double a : v)
    if (!std::isfinite(a)) return false;
  return true;
}

// a and b agree within tol * max(1, |b|); one line naming the worst element on failure, at the
// caller's line.
void expect_close(const std::vector<double>& a, const std::vector<double>& b, double tol, const std::string& what,
                  std::source_location where = std::source_location::current()) {
  chalk::test_util::expect_close(from_vector(a, {static_cast<std::int64_t>(a.size())}),
                                 from_vector(b, {static_cast<std::int64_t>(b.size())}), tol, tol, what, where);
}

}  // namespace

// ================================================================ cross-entropy

TEST(CrossEntropy, HandComputedValues) {
  // z = [1, 2, 3], y = 2: loss = log(e + e^2 + e^3) - 3
  const Tensor z = from_vector(std::vector<double>{1, 2, 3, 0, 0, 0}, {2, 3});
  const Tensor y = labels_of({2, 0});
  const double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3, l1 = std::log(3.0);
  EXPECT_NEAR(cross_entropy(z, y).item(), (l0 + l1) / 2, 1e-14);
  EXPECT_NEAR(cross_entropy(z, y, 0, "sum").item(), l0 + l1, 1e-14);
  const Tensor none = cross_entropy(z, y, 0, "none");
  ASSERT_EQ(none.shape(), (Shape{2}));
  EXPECT_NEAR(none.at({0}), l0, 1e-14);
  EXPECT_NEAR(none.at({1}), l1, 1e-14);
  // label smoothing s = 0.3: (1 - s)(-log p_y) + (s / C) sum_j (-log p_j)
  const double lse = l0 + 3, s = 0.3;
  const double smooth0 = (1 - s) * l0 + s / 3 * ((lse - 1) + (lse - 2) + (lse - 3));
  EXPECT_NEAR(cross_entropy(z, y, s, "none").at({0}), smooth0, 1e-14);
  EXPECT_NEAR(cross_entropy(z, y, s, "none").at({1}), l1, 1e-14);  // uniform logits: log C whatever s
}

TEST(CrossEntropy, GradientIsSoftmaxMinusTarget) {
  const Tensor z0 = from_vector(std::vector<double>{1, 2, 3}, {1, 3});
  Tensor z = z0.clone().requires_grad_();
  cross_entropy(z, labels_of({1}), 0.3).backward();
  const double e = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  for (int j = 0; j < 3; ++j) {
    const double t = (j == 1 ? 0.7 : 0.0) + 0.1;
    EXPECT_NEAR(z.grad().at({0, j}), std::exp(j + 1.0) / e - t, 1e-15);
  }
}

TEST(CrossEntropy, GradcheckFusedAndComposed) {
  manual_seed(11);
  for (auto [N, C] : {std::pair{3, 4}, std::pair{5, 2}, std::pair{1, 7}, std::pair{4, 1}}) {
    const Tensor z = randn({N, C}, DType::Float64) * 3.0;
    const Tensor y = cyclic_labels(N, C);
    for (const char* red : {"mean", "sum", "none"})
      for (double s : {0.0, 0.1, 1.0}) {
        SCOPED_TRACE(str_cat(N, "x", C, " ", red, " s=", s));
        auto a = gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], y, s, red); }, {z});
        EXPECT_TRUE(a.ok) << a.report;
        auto b = gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy_composed(in[0], y, s, red); },
                           {z});
        EXPECT_TRUE(b.ok) << b.report;
      }
  }
}

TEST(CrossEntropy, FusedAndComposedAgreeTo1e10) {
  manual_seed(12);
  const Tensor z0 = randn({6, 5}, DType::Float64) * 4.0;
  const Tensor y = labels_of({0, 4, 2, 2, 1, 3});
  for (const char* red : {"mean", "sum", "none"})
    for (double s : {0.0, 0.2}) {
      SCOPED_TRACE(str_cat(red, " s=", s));
      Tensor z1 = z0.clone().requires_grad_(), z2 = z0.clone().requires_grad_();
      Tensor a = cross_entropy(z1, y, s, red), b = cross_entropy_composed(z2, y, s, red);
      expect_close(a.to_vector<double>(), b.to_vector<double>(), 1e-10, "value");
      const Tensor g = std::string(red) == "none" ? randn({6}, DType::Float64) : scalar(0.7, DType::Float64);
      a.backward(g);
      b.backward(g);
      expect_close(z1.grad().to_vector<double>(), z2.grad().to_vector<double>(), 1e-10, "grad");
    }
}

TEST(CrossEntropy, HugeLogitsNeedTheMaxSubtraction) {
  // exp(1000) overflows a double: only the max-subtracted log-sum-exp gets 1000 and [1, -1].
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor z = from_vector(std::vector<double>{1000, 0}, {1, 2}).to(dt).requires_grad_();
    Tensor L = cross_entropy(z, labels_of({1}));
    EXPECT_NEAR(L.item(), 1000.0, 1e-3);
    L.backward();
    EXPECT_NEAR(z.grad().at({0, 0}), 1.0, 1e-6);
    EXPECT_NEAR(z.grad().at({0, 1}), -1.0, 1e-6);
  }
}

// Logits [[v, v]], label 0: the loss is log 2 and its gradient [-0.5, 0.5] at every v. The
// composed twin (log_softmax) gave 0.693145752 at v = 64 and 0 at 1e8 in float32; the fused one,
// lse - z_y in double, gave 0 at 1e16 in float64. Both are formed from z - max now.
TEST(CrossEntropy, FusedAndComposedAreExactAtLargeLogits) {
  for (auto [v, dt] : {std::pair{64.0, DType::Float32}, std::pair{1e4, DType::Float32}, std::pair{1e8, DType::Float32},
                       std::pair{1e10, DType::Float64}, std::pair{1e16, DType::Float64}, std::pair{1e50, DType::Float64}}) {
    for (double smoothing : {0.0, 0.1}) {
      SCOPED_TRACE(str_cat(v, " ", dtype_name(dt), " smoothing ", smoothing));
      const double tol = dt == DType::Float32 ? 6e-8 : 1e-15;  // float32: half an ulp of log 2
      // with smoothing t = [1 - s/2, s/2]: loss = log 2 still (both logits equal), grad p - t
      const std::vector<double> grad{0.5 - (1 - smoothing / 2), 0.5 - smoothing / 2};
      for (auto* f : {+[](const Tensor& z, const Tensor& y, double s) { return cross_entropy(z, y, s); },
                      +[](const Tensor& z, const Tensor& y, double s) { return cross_entropy_composed(z, y, s); }}) {
        Tensor z = from_vector(std::vector<double>{v, v}, {1, 2}).to(dt).requires_grad_();
        const Tensor L = f(z, labels_of({0}), smoothing);
        EXPECT_NEAR(L.item(), std::log(2.0), tol);
        L.backward();
        const auto gz = z.grad().to(DType::Float64).to_vector<double>();
        EXPECT_NEAR(gz[0], grad[0], tol);
        EXPECT_NEAR(gz[1], grad[1], tol);
      }
    }
  }
}

TEST(CrossEntropy, BadInputs) {
  const Tensor z = zeros({2, 3}, DType::Float64);
  expect_error([&] { cross_entropy(z, labels_of({0, 3})); }, {"cross_entropy", "label 3", "C = 3"});
  expect_error([&] { cross_entropy(z, labels_of({-1, 0})); }, {"label -1", "C = 3"});
  expect_error([&] { cross_entropy_composed(z, labels_of({0, 7})); }, {"cross_entropy_composed", "label 7"});
  expect_error([&] { cross_entropy(z, labels_of({0})); }, {"[2]"});
  expect_error([&] { cross_entropy(z, zeros({2})); }, {"int64"});
  expect_error([&] { cross_entropy(zeros({2}), labels_of({0, 0})); }, {"N x C"});
  expect_error([&] { cross_entropy(z, labels_of({0, 0}), 1.5); }, {"label_smoothing"});
  expect_error([&] { cross_entropy(z, labels_of({0, 0}), 0, "avg"); }, {"reduction 'avg'"});
  const Tensor bad = from_vector(std::vector<double>{0, NAN, 0, 0, 0, 0}, {2, 3});
  expect_error([&] { cross_entropy(bad, labels_of({0, 0})); }, {"non-finite"});
}

// ================================================================ the softmax Loss

TEST(SoftmaxLoss, NoHeadIsCrossEntropyOfTheOutputs) {
  LossOptions o;
  o.num_classes = 4;
  o.emb_dim = 0;
  SoftmaxLoss loss(o);
  EXPECT_FALSE(loss.has_head());
  EXPECT_EQ(loss.num_parameters(), 0);
  manual_seed(3);
  const Tensor z = randn({5, 4});
  const Tensor y = cyclic_labels(5, 4);
  EXPECT_FLOAT_EQ(static_cast<float>(loss(z, y).item()), static_cast<float>(cross_entropy(z, y).item()));
  EXPECT_EQ(loss.logits(z).to_vector<float>(), z.to_vector<float>());
  expect_error([&] { loss(randn({5, 3}), y); }, {"C = 4"});
}

TEST(SoftmaxLoss, LinearHead) {
  LossOptions o;
  o.num_classes = 3;
  o.emb_dim = 16;
  o.set("label_smoothing", 0.1);
  SoftmaxLoss loss(o);
  const auto params = loss.named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "W");
  EXPECT_EQ(params[0].second.shape(), (Shape{3, 16}));
  EXPECT_EQ(params[1].first, "b");
  EXPECT_EQ(params[1].second.shape(), (Shape{3}));
  // nn.Linear's init: |w| <= 1/sqrt(D) = 0.25, and not all tiny
  double wmax = 0;
  for (float v : loss.W().to_vector<float>()) wmax = std::max(wmax, std::fabs(static_cast<double>(v)));
  EXPECT_LE(wmax, 0.25);
  EXPECT_GT(wmax, 0.1);
  manual_seed(4);
  const Tensor e = randn({6, 16}), y = cyclic_labels(6, 3);
  const Tensor want = cross_entropy(linear(e, loss.W(), loss.b()), y, 0.1);
  Tensor L = loss(e, y);
  EXPECT_NEAR(L.item(), want.item(), 1e-6);
  L.backward();
  EXPECT_EQ(loss.W().grad().shape(), (Shape{3, 16}));
  EXPECT_EQ(loss.b().grad().shape(), (Shape{3}));
  // the head in float64 through the differentiable .to(): gradcheck the embeddings
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return loss(in[0], y); }, {randn({6, 16}, DType::Float64)});
  EXPECT_TRUE(r.ok) << r.report;
  expect_error([&] { loss(randn({6, 15}), y); }, {"D = 16"});
}

TEST(SoftmaxLoss, BadOptions) {
  LossOptions o;
  o.set("reduction", "nonzero");
  expect_error([&] { SoftmaxLoss{o}; }, {"softmax loss: option 'reduction'", "expected one of mean, sum", "'nonzero'"});
  o.values.clear();
  o.set("label_smoothing", -0.1);
  expect_error([&] { SoftmaxLoss{o}; }, {"option 'label_smoothing'", "in [0, 1]", "-0.1"});
  o.values.clear();
  o.set("margin", 0.2);  // another loss's option: named, with the ones the loss has
  expect_error([&] { SoftmaxLoss{o}; },
               {"softmax loss: has no option 'margin'", describe_option_names(find_loss("softmax").options)});
  o.values.clear();
  o.num_classes = 1;
  expect_error([&] { SoftmaxLoss{o}; }, {"2 classes"});
}

// ================================================================ target-logit functions

TEST(MarginTargets, DerivativesMatchCentralDifferences) {
  const double h = 1e-6;
  for (double c = -0.99; c <= 0.99; c += 0.0173) {
    auto check = [&](const char* what, auto f) {
      const double num = (f(c + h).value - f(c - h).value) / (2 * h);
      EXPECT_NEAR(f(c).dvalue_dcos, num, 1e-6 * std::max(1.0, std::fabs(num))) << what << " at c = " << c;
    };
    if (std::fabs(c - std::cos(kPi - 0.5)) > 1e-4)
      check("arcface", [](double u) { return arcface_target(u, 0.5); });
    if (std::fabs(c) > 1e-4) check("arcface easy", [](double u) { return arcface_target(u, 0.5, true); });
    check("cosface", [](double u) { return cosface_target(u, 0.35); });
    check("combined", [](double u) { return combined_target(u, 1.3, 0.2, 0.1); });
    bool near_piece = false;  // where SphereFace's k changes (theta = k pi / m): stay clear
    for (int k = 1; k < 4; ++k) near_piece |= std::fabs(std::acos(c) - k * kPi / 4) < 1e-4;
    if (!near_piece) check("sphereface", [](double u) { return sphereface_target(u, 4, 5.0); });
  }
}

TEST(MarginTargets, KnownValues) {
  // ArcFace at theta = pi/3 (c = 0.5): cos(pi/3 + m); in the fallback: c - m sin m.
  EXPECT_NEAR(arcface_target(0.5, 0.5).value, std::cos(kPi / 3 + 0.5), 1e-15);
  EXPECT_NEAR(arcface_target(-0.95, 0.5).value, -0.95 - 0.5 * std::sin(0.5), 1e-15);
  EXPECT_DOUBLE_EQ(arcface_target(-0.95, 0.5).dvalue_dcos, 1.0);
  EXPECT_NEAR(arcface_target(-0.5, 0.5, true).value, -0.5, 1e-15);  // easy margin: c <= 0 keeps c
  EXPECT_NEAR(arcface_target(0.5, 0.5, true).value, std::cos(kPi / 3 + 0.5), 1e-15);
  EXPECT_NEAR(cosface_target(0.5, 0.35).value, 0.15, 1e-15);
  EXPECT_NEAR(combined_target(0.5, 1.0, 0.5, 0.0).value, arcface_target(0.5, 0.5).value, 1e-15);
  EXPECT_NEAR(combined_target(0.5, 1.0, 0.0, 0.35).value, cosface_target(0.5, 0.35).value, 1e-15);
  // psi: 1 at 0, -1 at pi/m, -3 at 2pi/m, ..., -(2m - 1) at pi; continuous and decreasing
  for (int m = 1; m <= 6; ++m) {
    EXPECT_NEAR(sphereface_psi(0, m), 1.0, 1e-12);
    for (int k = 1; k <= m; ++k) EXPECT_NEAR(sphereface_psi(k * kPi / m, m), -(2.0 * k - 1), 1e-9) << m << " " << k;
    double prev = sphereface_psi(0, m);
    for (double t = 1e-3; t <= kPi; t += 1e-3) {
      const double p = sphereface_psi(t, m);
      EXPECT_LT(p, prev + 1e-12) << "psi not decreasing at " << t << " m = " << m;
      EXPECT_LT(prev - p, 0.01) << "psi jumps at " << t << " m = " << m;  // |dpsi/dtheta| <= m
      prev = p;
    }
  }
  // lambda = 0: the target is psi; lambda -> infinity: plain cos
  EXPECT_NEAR(sphereface_target(0.5, 4, 0).value, sphereface_psi(std::acos(0.5), 4), 1e-15);
  EXPECT_NEAR(sphereface_target(0.5, 4, 1e12).value, 0.5, 1e-11);
}

TEST(MarginTargets, SphereFaceLambdaSchedule) {
  EXPECT_DOUBLE_EQ(sphereface_lambda(0), 1000.0);
  EXPECT_NEAR(sphereface_lambda(1), 1000.0 / 1.12, 1e-9);
  EXPECT_NEAR(sphereface_lambda(100), 1000.0 / 13.0, 1e-9);
  EXPECT_DOUBLE_EQ(sphereface_lambda(100000), 5.0);  // 1000 / 12001 < 5: the floor
  // the last t above the floor: 1000 / (1 + 0.12 t) >= 5  <=>  t <= 1658.3
  EXPECT_GT(sphereface_lambda(1658), 5.0);
  EXPECT_DOUBLE_EQ(sphereface_lambda(1659), 5.0);
  EXPECT_THROW(sphereface_lambda(-1), Error);
  LossOptions o;
  o.num_classes = 3;
  o.emb_dim = 4;
  SphereFaceLoss loss(o);
  EXPECT_DOUBLE_EQ(loss.lambda(), 1000.0);
  loss.set_iteration(10);
  EXPECT_NEAR(loss.lambda(), 1000.0 / 2.2, 1e-9);
  loss.set_iteration(1000000);
  EXPECT_DOUBLE_EQ(loss.lambda(), 5.0);
}

// ================================================================ margin losses: gradients

TEST(MarginSoftmax, GradcheckFusedAndComposedForXAndW) {
  Generator gen(1021);
  manual_seed(21);
  for (auto [N, C, D] : {std::tuple{10, 4, 5}, std::tuple{3, 3, 2}, std::tuple{1, 2, 3}}) {
    const Tensor W = randn({C, D}, DType::Float64);
    const Tensor y = cyclic_labels(N, C);
    const Tensor x = batch_at_angles(W, y, kAngles, gen);
    for (const Variant& v : variants()) {
      if (v.name.find("default") != std::string::npos) continue;  // s = 30: checked for agreement below
      SCOPED_TRACE(str_cat(v.name, " N=", N, " C=", C, " D=", D));
      auto a = gradcheck([&](const std::vector<Tensor>& in) { return v.fused(in[0], in[1], y); }, {x, W});
      EXPECT_TRUE(a.ok) << "fused: " << a.report;
      auto b = gradcheck([&](const std::vector<Tensor>& in) { return v.composed(in[0], in[1], y); }, {x, W});
      EXPECT_TRUE(b.ok) << "composed: " << b.report;
    }
  }
}

TEST(MarginSoftmax, FusedAndComposedAgreeTo1e10) {
  Generator gen(1022);
  manual_seed(22);
  const std::int64_t N = 20, C = 5, D = 6;
  const Tensor W = randn({C, D}, DType::Float64) * 3.0;  // any scale: W is normalised
  const Tensor y = cyclic_labels(N, C);
  const Tensor x = batch_at_angles(W, y, kAngles, gen);
  for (const Variant& v : variants()) {
    const Eval a = evaluate(v.fused, x, W, y), b = evaluate(v.composed, x, W, y);
    EXPECT_NEAR(a.value, b.value, 1e-10 * std::max(1.0, std::fabs(b.value))) << v.name;
    expect_close(a.dx, b.dx, 1e-10, v.name + " dx");
    expect_close(a.dW, b.dW, 1e-10, v.name + " dW");
  }
}

// At s = 64 (the scale ArcFace and CosFace train at) the composed twins, built on log_softmax,
// lost 1.4e-6 of log 2 in float32; at s = 1e16 in float64 the fused losses, lse - z_y, lost all
// of it. W's first two rows are equal and x lies along them: cos = [1, 1, 0], so NormFace's
// logits are [s, s, 0] and its loss is log(2 + e^-s) = log 2.
TEST(MarginSoftmax, FusedAndComposedAreExactAtLargeScales) {
  const Tensor y = labels_of({0});
  for (auto [s, dt] : {std::pair{64.0, DType::Float32}, std::pair{64.0, DType::Float64}, std::pair{1e8, DType::Float32},
                       std::pair{1e16, DType::Float64}}) {
    SCOPED_TRACE(str_cat("s = ", s, " ", dtype_name(dt)));
    const Tensor W = from_vector(std::vector<double>{1, 0, 1, 0, 0, 1}, {3, 2}).to(dt);
    const Tensor x = from_vector(std::vector<double>{2, 0}, {1, 2}).to(dt);
    const double tol = dt == DType::Float32 ? 6e-8 : 1e-15;
    for (bool composed : {false, true}) {
      Tensor xg = x.clone().requires_grad_();
      const Tensor L = composed ? normface_loss_composed(xg, W, y, s) : normface_loss(xg, W, y, s);
      EXPECT_NEAR(L.item(), std::log(2.0), tol) << (composed ? "composed" : "fused");
    }
  }
  // every margin at s = 64, float32, random angles: the twin and the fused loss agree to the
  // float32 rounding of their logits (the twin computes its cosines with other float32 ops; an
  // ulp of 64 is 7.6e-6), relative to the loss
  Generator gen(1064);
  manual_seed(64);
  const Tensor W = randn({5, 6}, DType::Float64);
  const Tensor yy = cyclic_labels(20, 5);
  const Tensor xx = batch_at_angles(W, yy, kAngles, gen);
  for (const auto& [name, fused, composed] : std::vector<Variant>{
           {"normface", [](auto& x, auto& W, auto& y) { return normface_loss(x, W, y, 64.0); },
            [](auto& x, auto& W, auto& y) { return normface_loss_composed(x, W, y, 64.0); }},
           {"cosface", [](auto& x, auto& W, auto& y) { return cosface_loss(x, W, y, 64.0, 0.35); },
            [](auto& x, auto& W, auto& y) { return cosface_loss_composed(x, W, y, 64.0, 0.35); }},
           {"arcface", [](auto& x, auto& W, auto& y) { return arcface_loss(x, W, y, 64.0, 0.5); },
            [](auto& x, auto& W, auto& y) { return arcface_loss_composed(x, W, y, 64.0, 0.5); }}}) {
    const Tensor x32 = xx.to(DType::Float32), W32 = W.to(DType::Float32);
    const Eval a = evaluate(fused, x32, W32, yy), b = evaluate(composed, x32, W32, yy);
    EXPECT_NEAR(a.value, b.value, 1e-6 * std::max(1.0, std::fabs(b.value))) << name;
  }
}

TEST(MarginSoftmax, BranchesAreExercised) {
  // The batch of the tests above really visits ArcFace's fallback and all of SphereFace's pieces.
  int fallback = 0, with_margin = 0;
  std::vector<int> pieces(4, 0);
  for (double t : kAngles) {
    (std::cos(t) > std::cos(kPi - 0.5) ? with_margin : fallback)++;
    pieces[static_cast<int>(std::floor(4 * t / kPi))]++;
  }
  EXPECT_GT(fallback, 0);
  EXPECT_GT(with_margin, 0);
  for (int k = 0; k < 4; ++k) EXPECT_GT(pieces[k], 0) << k;
}

TEST(MarginSoftmax, OneTensorUsedAsBothXAndW) {
  // Backward accumulates: with W = x (N = C) both VJPs land on the same tensor.
  manual_seed(23);
  const Tensor x0 = randn({4, 3}, DType::Float64);
  const Tensor y = labels_of({1, 2, 3, 0});
  Tensor a = x0.clone().requires_grad_(), b = x0.clone().requires_grad_();
  Tensor La = arcface_loss(a, a, y, 4.0, 0.3), Lb = arcface_loss_composed(b, b, y, 4.0, 0.3);
  EXPECT_NEAR(La.item(), Lb.item(), 1e-12);
  La.backward();
  Lb.backward();
  expect_close(a.grad().to_vector<double>(), b.grad().to_vector<double>(), 1e-10, "dx");
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return arcface_loss(in[0], in[0], y, 4.0, 0.3); }, {x0});
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(MarginSoftmax, HandComputedValues) {
  // W_0 = (3, 0), W_1 = (0, 5); x = (1, sqrt 3), ||x|| = 2, at 60 degrees from W_0:
  // cos = [0.5, sqrt(3)/2], theta_y = pi/3.
  const Tensor W = from_vector(std::vector<double>{3, 0, 0, 5}, {2, 2});
  const Tensor x = from_vector(std::vector<double>{2 * 0.5, 2 * std::sqrt(3.0) / 2}, {1, 2});
  const Tensor y = labels_of({0});
  const double c = 0.5, o = std::sqrt(3.0) / 2, s = 2;
  auto ce = [](double zy, double zo) { return std::log(std::exp(zy) + std::exp(zo)) - zy; };
  EXPECT_NEAR(normface_loss(x, W, y, s).item(), ce(s * c, s * o), 1e-12);
  EXPECT_NEAR(cosface_loss(x, W, y, s, 0.35).item(), ce(s * (c - 0.35), s * o), 1e-12);
  EXPECT_NEAR(arcface_loss(x, W, y, s, 0.5).item(), ce(s * std::cos(kPi / 3 + 0.5), s * o), 1e-12);
  EXPECT_NEAR(combined_margin_loss(x, W, y, s, 1.5, 0.1, 0.2).item(),
              ce(s * (std::cos(1.5 * kPi / 3 + 0.1) - 0.2), s * o), 1e-12);
  // SphereFace, ||x|| = 2, theta = pi/3, m = 4: k = 1, psi = -cos(4 pi/3) - 2 = -1.5
  const double lam = 3, f = 2 * (lam * c + (-std::cos(4 * kPi / 3) - 2)) / (1 + lam);
  EXPECT_NEAR(sphereface_loss(x, W, y, 4, lam).item(), ce(f, 2 * o), 1e-12);
}

// ================================================================ edge cases

TEST(MarginSoftmax, NoNaNAtCosPlusMinusOneAndZeroEmbedding) {
  // Row 0: x parallel to W_y (cos = 1 exactly); row 1: antiparallel (cos = -1); row 2: x = 0.
  const Tensor W = from_vector(std::vector<double>{1, 0, 0, 0, 2, 0, 0, 0, 3}, {3, 3});
  const Tensor x = from_vector(std::vector<double>{4, 0, 0, 0, -1, 0, 0, 0, 0}, {3, 3});
  const Tensor y = labels_of({0, 1, 2});
  for (DType dt : {DType::Float64, DType::Float32})
    for (const Variant& v : variants()) {
      SCOPED_TRACE(str_cat(v.name, " ", dtype_name(dt)));
      const Eval a = evaluate(v.fused, x.to(dt), W.to(dt), y);
      EXPECT_TRUE(std::isfinite(a.value));
      EXPECT_TRUE(all_finite(a.dx));
      EXPECT_TRUE(all_finite(a.dW));
      const Eval b = evaluate(v.composed, x.to(dt), W.to(dt), y);
      EXPECT_TRUE(std::isfinite(b.value));
      EXPECT_TRUE(all_finite(b.dx));
      EXPECT_TRUE(all_finite(b.dW));
      if (dt == DType::Float64) {
        EXPECT_NEAR(a.value, b.value, 1e-10 * std::max(1.0, std::fabs(b.value)));
        // the zero row's gradient is dxh / 1e-12 (F.normalize's): compare relatively
        expect_close(a.dx, b.dx, 1e-10, "dx");
        expect_close(a.dW, b.dW, 1e-10, "dW");
      }
    }
}

TEST(MarginSoftmax, Float32MatchesFloat64) {
  Generator gen(1024);
  manual_seed(24);
  const Tensor W = randn({16, 64}, DType::Float64);
  const Tensor y = cyclic_labels(32, 16);
  const Tensor x = batch_at_angles(W, y, kAngles, gen);
  for (const Variant& v : variants()) {
    const Eval a = evaluate(v.fused, x.to(DType::Float32), W.to(DType::Float32), y);
    const Eval b = evaluate(v.fused, x, W, y);
    EXPECT_NEAR(a.value, b.value, 1e-4 * std::max(1.0, std::fabs(b.value))) << v.name;
    expect_close(a.dx, b.dx, 1e-3, v.name + " dx (float32)");
  }
}

TEST(MarginSoftmax, BadInputs) {
  const Tensor W = randn({3, 4}, DType::Float64), x = randn({2, 4}, DType::Float64);
  const Tensor y = labels_of({0, 2});
  expect_error([&] { arcface_loss(x, W, labels_of({0, 3})); }, {"arcface_loss", "label 3", "C = 3"});
  expect_error([&] { sphereface_loss_composed(x, W, labels_of({-2, 0})); }, {"label -2", "C = 3"});
  expect_error([&] { normface_loss(x, randn({3, 5}, DType::Float64), y); }, {"[3, 5]", "[2, 4]"});
  expect_error([&] { normface_loss(x, randn({3, 4}), y); }, {"dtype"});
  const Tensor nan_x = from_vector(std::vector<double>{0, 0, 0, 0, 1, INFINITY, 0, 0}, {2, 4});
  expect_error([&] { cosface_loss(nan_x, W, y); }, {"embeddings", "non-finite", "row 1"});
  expect_error([&] { cosface_loss_composed(nan_x, W, y); }, {"non-finite"});
  expect_error([&] { normface_loss(x, W, y, 0.0); }, {"scale s"});
  expect_error([&] { arcface_loss(x, W, y, -1.0); }, {"scale s"});
  expect_error([&] { cosface_loss(x, W, y, 30, 1.0); }, {"[0, 1)"});
  expect_error([&] { cosface_loss(x, W, y, 30, -0.1); }, {"[0, 1)"});
  expect_error([&] { arcface_loss(x, W, y, 30, 28.6); }, {"pi/2", "radians"});
  expect_error([&] { arcface_loss_composed(x, W, y, 30, kPi / 2); }, {"pi/2"});
  expect_error([&] { combined_margin_loss(x, W, y, 30, 0.0, 0.3, 0.2); }, {"m1"});
  expect_error([&] { combined_margin_loss(x, W, y, 30, 1, 0.3, 1.2); }, {"m3"});
  expect_error([&] { sphereface_loss(x, W, y, 0); }, {"integer in [1, 6]"});
  expect_error([&] { sphereface_loss(x, W, y, 7); }, {"integer in [1, 6]"});
  expect_error([&] { sphereface_loss(x, W, y, 4, -1); }, {"lambda"});
}

// ================================================================ Loss classes and registry

TEST(MarginSoftmaxLoss, OwnsWAndMatchesTheFreeFunctions) {
  manual_seed(31);
  LossOptions o;
  o.num_classes = 5;
  o.emb_dim = 8;
  const Tensor e = randn({12, 8}), y = cyclic_labels(12, 5);
  for (const char* name : {"normface", "cosface", "arcface", "combined", "sphereface"}) {
    SCOPED_TRACE(name);
    auto loss = make_loss(name, o);
    const auto params = loss->named_parameters();
    ASSERT_EQ(params.size(), 1u);
    EXPECT_EQ(params[0].first, "W");
    const Tensor W = params[0].second;
    EXPECT_EQ(W.shape(), (Shape{5, 8}));
    double want = 0;
    const std::string n = name;
    if (n == "normface") want = normface_loss(e, W.detach(), y, 16).item();
    if (n == "cosface") want = cosface_loss(e, W.detach(), y, 30, 0.35).item();
    if (n == "arcface") want = arcface_loss(e, W.detach(), y, 30, 0.5).item();
    if (n == "combined") want = combined_margin_loss(e, W.detach(), y, 30, 1.0, 0.3, 0.2).item();
    if (n == "sphereface") want = sphereface_loss(e, W.detach(), y, 4, 1000).item();
    Tensor L = (*loss)(e, y);
    EXPECT_NEAR(L.item(), want, 1e-5 * std::max(1.0, std::fabs(want)));
    L.backward();
    ASSERT_TRUE(W.grad().defined());
    EXPECT_EQ(W.grad().shape(), (Shape{5, 8}));
    // logits without the margin: s cos (SphereFace ||x|| cos)
    const Tensor z = loss->logits(e);
    EXPECT_EQ(z.shape(), (Shape{12, 5}));
    const double scale = n == "normface" ? 16 : 30;
    const Tensor c = matmul(normalize(e, 1), normalize(W.detach(), 1), false, true);
    const Tensor want_z = n == "sphereface" ? c * l2_norm(e, 1, true) : c * scale;
    expect_close(z.to(DType::Float64).to_vector<double>(), want_z.to(DType::Float64).to_vector<double>(), 1e-5,
                 "logits");
  }
  // the same seed gives the same W; float64 embeddings reach W through .to()
  auto a = make_loss("arcface", o), b = make_loss("arcface", o);
  EXPECT_EQ(a->parameters()[0].to_vector<float>(), b->parameters()[0].to_vector<float>());
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return (*a)(in[0], y); }, {randn({12, 8}, DType::Float64)});
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(MarginSoftmaxLoss, AWeightOfMoreThanInt64ElementsIsRefused) {
  // C x D from the options sized the initial weight's buffer; a wrapped product sized it wrong
  LossOptions o;
  o.num_classes = std::int64_t{1} << 32;
  o.emb_dim = std::int64_t{1} << 32;
  expect_error([&] { make_loss("arcface", o); }, {"arcface", "num_classes x emb_dim", "4294967296 x 4294967296", "overflows int64"});
  expect_error([&] { make_loss("softmax", o); }, {"softmax loss", "4294967296 x 4294967296", "overflows int64"});
}

TEST(MarginSoftmaxLoss, Options) {
  LossOptions o;
  o.num_classes = 4;
  o.emb_dim = 3;
  // not given: each loss's own default, from its options struct
  EXPECT_DOUBLE_EQ(CosFaceLoss(o).margin(), CosFaceOptions{}.margin);
  EXPECT_DOUBLE_EQ(CosFaceLoss(o).scale(), CosFaceOptions{}.scale);
  EXPECT_DOUBLE_EQ(ArcFaceLoss(o).margin(), ArcFaceOptions{}.margin);
  EXPECT_DOUBLE_EQ(NormFaceLoss(o).scale(), NormFaceOptions{}.scale);
  o.set("scale", 10.0).set("margin", 0.2);
  EXPECT_DOUBLE_EQ(CosFaceLoss(o).margin(), 0.2);
  EXPECT_DOUBLE_EQ(CosFaceLoss(o).scale(), 10);
  EXPECT_DOUBLE_EQ(ArcFaceLoss(o).margin(), 0.2);
  expect_error([&] { NormFaceLoss{o}; },
               {"normface loss: has no option 'margin'", describe_option_names(find_loss("normface").options)});
  expect_error([&] { CombinedMarginLoss{o}; },
               {"combined loss: has no option 'margin'", describe_option_names(find_loss("combined").options)});
  o.set("margin", 1.0);
  expect_error([&] { CosFaceLoss{o}; }, {"[0, 1)"});
  o.set("margin", 2.0);
  expect_error([&] { ArcFaceLoss{o}; }, {"pi/2"});
  LossOptions sphere = o;
  sphere.values = {{"scale", 10.0}};
  expect_error([&] { SphereFaceLoss{sphere}; },
               {"sphereface loss: has no option 'scale'", describe_option_names(find_loss("sphereface").options)});
  sphere.values = {{"sphere_m", std::int64_t{9}}};
  expect_error([&] { SphereFaceLoss{sphere}; }, {"option 'sphere_m'", "an integer in [1, 6]", "9"});
  o.values = {{"scale", 0.0}};
  expect_error([&] { ArcFaceLoss{o}; }, {"arcface loss: option 'scale'", "> 0", "got 0"});
  o.values = {{"label_smoothing", 0.1}};
  expect_error([&] { ArcFaceLoss{o}; }, {"arcface loss: has no option 'label_smoothing'"});
  o.values.clear();
  o.emb_dim = 0;
  expect_error([&] { ArcFaceLoss{o}; }, {"emb_dim"});
}

TEST(LossRegistry, TableAndErrors) {
  std::vector<std::string> names;
  for (const auto& e : loss_registry()) {
    names.push_back(e.name);
    EXPECT_FALSE(e.description.empty()) << e.name;
  }
  for (const char* n : {"softmax", "normface", "sphereface", "cosface", "arcface", "combined"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  LossOptions o;
  for (const auto& n : names) EXPECT_NE(make_loss(n, o), nullptr) << n;
  expect_error([&] { make_loss("arcfase", o); }, {"arcfase", "softmax", "arcface"});
}

// ================================================================ PyTorch agreement

TEST(ReferencePyTorch, CrossEntropy) {
  const reference::Family fam = reference::load_reference("cross_entropy");
  for (const reference::Case& c : fam.cases) {
    for (bool fused : {true, false}) {
      SCOPED_TRACE(str_cat(c.name, fused ? " fused" : " composed"));
      Tensor z = c.input("logits", true);
      const Tensor y = c.input("labels");
      const double s = c.param("label_smoothing");
      const std::string red = c.param_str("reduction");
      const Tensor L = fused ? cross_entropy(z, y, s, red) : cross_entropy_composed(z, y, s, red);
      EXPECT_TRUE(reference::close(L, c.output("loss"), 1e-10, 1e-10)) << "loss";
      c.objective(L).backward();
      EXPECT_TRUE(reference::close(z.grad(), c.grad("logits"), 1e-10, 1e-10)) << "d logits";
    }
  }
}

namespace {

// The chalk loss a margin_softmax.json case describes (params: loss, s, m, easy_margin, m1..m3, lambda).
Tensor margin_case_loss(const reference::Case& c, const Tensor& X, const Tensor& W, const Tensor& y, bool fused) {
  const std::string loss = c.param_str("loss");
  if (loss == "normface") {
    const double s = c.param("s");
    return fused ? normface_loss(X, W, y, s) : normface_loss_composed(X, W, y, s);
  }
  if (loss == "cosface") {
    const double s = c.param("s"), m = c.param("m");
    return fused ? cosface_loss(X, W, y, s, m) : cosface_loss_composed(X, W, y, s, m);
  }
  if (loss == "arcface") {
    const double s = c.param("s"), m = c.param("m");
    const bool easy = c.param_bool("easy_margin");
    return fused ? arcface_loss(X, W, y, s, m, easy) : arcface_loss_composed(X, W, y, s, m, easy);
  }
  if (loss == "combined") {
    const double s = c.param("s"), m1 = c.param("m1"), m2 = c.param("m2"), m3 = c.param("m3");
    return fused ? combined_margin_loss(X, W, y, s, m1, m2, m3) : combined_margin_loss_composed(X, W, y, s, m1, m2, m3);
  }
  if (loss == "sphereface") {
    const int m = c.param_int("m");
    const double lambda = c.param("lambda");
    return fused ? sphereface_loss(X, W, y, m, lambda) : sphereface_loss_composed(X, W, y, m, lambda);
  }
  fail("margin_softmax.json: unknown loss '", loss, "' in case ", c.name);
}

}  // namespace

TEST(ReferencePyTorch, MarginSoftmax) {
  const reference::Family fam = reference::load_reference("margin_softmax");
  std::vector<std::string> seen;
  for (const reference::Case& c : fam.cases) {
    seen.push_back(c.param_str("loss"));
    for (bool fused : {true, false}) {
      SCOPED_TRACE(str_cat(c.name, fused ? " fused" : " composed"));
      Tensor X = c.input("X", true), W = c.input("W", true);
      const Tensor y = c.input("labels");
      const Tensor L = margin_case_loss(c, X, W, y, fused);
      EXPECT_TRUE(reference::close(L, c.output("loss"), 1e-10, 1e-10)) << "loss";
      c.objective(L).backward();
      EXPECT_TRUE(reference::close(X.grad(), c.grad("X"), 1e-10, 1e-10)) << "dX";
      EXPECT_TRUE(reference::close(W.grad(), c.grad("W"), 1e-10, 1e-10)) << "dW";
    }
    // the logits without margin, as the free functions and as the Loss classes compute them
    const Tensor X = c.input("X"), W = c.input("W");
    const bool sphere = c.param_str("loss") == "sphereface";
    const Tensor z = sphere ? sphereface_logits(X, W) : cosine_logits(X, W, c.param("s"));
    EXPECT_TRUE(reference::close(z, c.output("logits"), 1e-10, 1e-10)) << c.name << " logits";
    LossOptions o;
    o.num_classes = W.shape()[0];
    o.emb_dim = W.shape()[1];
    if (!sphere) o.set("scale", c.param("s"));
    auto loss = make_loss(c.param_str("loss"), o);
    Tensor Wp = loss->named_parameters().at(0).second;
    const auto w32 = W.to(DType::Float32).to_vector<float>();
    std::copy(w32.begin(), w32.end(), Wp.data<float>());
    EXPECT_TRUE(reference::close(loss->logits(X.to(DType::Float32)), c.output("logits"), 1e-4, 1e-4))
        << c.name << " Loss::logits";
  }
  for (const char* name : {"normface", "cosface", "arcface", "combined", "sphereface"})
    EXPECT_NE(std::find(seen.begin(), seen.end(), name), seen.end()) << "no reference case for " << name;
}

// ================================================================ the edge at cos = 1 (issue 11)

// x within 1e-4 rad of W_y, i.e. inside the former acos clamp (1 - 1e-7, about 4.5e-4 rad):
// the margin's gradient must not vanish. Reference: PyTorch 1.13, float64, with InsightFace's
// formulation (phi = cos * cos m - sqrt((1 - cos^2).clamp(0, 1)) * sin m, the where() fallback),
// an unclamped acos for the combined margin and SphereFace (k detached):
//   x = [[2 cos t, 2 sin t, 0]], t = 1e-4;  W = [[1.5, 0, 0], [cos .3, 0, sin .3], [-.6, .8, 0]];
//   label 0; arcface s = 2, m = 0.5; combined s = 2, m1 = 1.2, m2 = 0.3, m3 = 0.2;
//   sphereface m = 4, lambda = 5.
// (With the clamp, chalk's dx[1] was 1.4e-18 instead of 0.2823: the margin term was dropped.)
TEST(MarginSoftmaxEdge, NearCosOneMatchesInsightFaceFormulation) {
  const double t = 1e-4;
  const Tensor x0 = from_vector(std::vector<double>{2 * std::cos(t), 2 * std::sin(t), 0}, {1, 3});
  const Tensor W0 = from_vector(std::vector<double>{1.5, 0, 0, std::cos(0.3), 0, std::sin(0.3), -0.6, 0.8, 0}, {3, 3});
  const Tensor y = labels_of({0});
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&)> loss;
    double L;
    std::vector<double> dx, dW;
  };
  const std::vector<Case> cases = {
      {"arcface", [&](const Tensor& x, const Tensor& W) { return arcface_loss(x, W, y, 2.0, 0.5); },
       0.7977083119918537,
       {-2.82275905192364e-05, 0.28227590329307717, 0.15549796466668667},
       {0.0, -0.35141300192075825, 0.0, 0.0919055808479059, 0.00010523677291936998, -0.29710575777617126,
        0.0300262744455549, 0.02251970583416617, 0.0}},
      {"arcface composed", [&](const Tensor& x, const Tensor& W) { return arcface_loss_composed(x, W, y, 2.0, 0.5); },
       0.7977083119918537,
       {-2.82275905192364e-05, 0.28227590329307717, 0.15549796466668667},
       {0.0, -0.35141300192075825, 0.0, 0.0919055808479059, 0.00010523677291936998, -0.29710575777617126,
        0.0300262744455549, 0.02251970583416617, 0.0}},
      {"combined", [&](const Tensor& x, const Tensor& W) { return combined_margin_loss(x, W, y, 2.0, 1.2, 0.3, 0.2); },
       0.9393968835059824,
       {-2.368404693697812e-05, 0.23684047126370494, 0.1723300031050704},
       {0.0, -0.2881311596868271, 0.0, 0.10185399575384935, 0.00011662823653567663, -0.32926627862847413,
        0.03327649966047899, 0.02495737474535925, 0.0}},
      {"sphereface", [&](const Tensor& x, const Tensor& W) { return sphereface_loss(x, W, y, 4, 5.0); },
       0.6705514077993806,
       {-0.05425050305802914, 0.016802309571818875, 0.13822168532675225},
       {0.0, -0.00022800096384340633, 0.0, 0.08169460161720787, 9.354465920144823e-05, -0.2640964378416854,
        0.026690267405392824, 0.020017700554044622, 0.0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor x = x0.clone().requires_grad_(), W = W0.clone().requires_grad_();
    Tensor L = c.loss(x, W);
    EXPECT_NEAR(L.to_vector<double>()[0], c.L, 1e-12);
    L.backward();
    // PyTorch's own sin(theta) = sqrt(1 - cos^2) carries a relative error ~1e-8 at t = 1e-4
    const auto dx = x.grad().to_vector<double>(), dW = W.grad().to_vector<double>();
    for (std::size_t k = 0; k < dx.size(); ++k) EXPECT_NEAR(dx[k], c.dx[k], 1e-7) << "dx " << k;
    for (std::size_t k = 0; k < dW.size(); ++k) EXPECT_NEAR(dW[k], c.dW[k], 1e-7) << "dW " << k;
  }
}

// The target-logit derivative just inside 1 matches central differences taken with the
// same exact formula, and at c = 1 exactly it is the smooth part's limit (the cone's
// subgradient 0): ArcFace cos m, combined m1^2 cos(m2), SphereFace (lambda + m^2) / (1 + lambda).
TEST(MarginSoftmaxEdge, TargetDerivativesUpToCosOne) {
  for (double theta : {1e-2, 1e-3, 1e-5}) {
    const double c = std::cos(theta);  // rounded: its own angle is acos(c), not theta
    // the value is cos(acos(c) + m); the derivative matches a central difference with a step
    // far inside 1 - c (~theta^2 / 2), where df/dc ~ sin m / theta is large
    EXPECT_NEAR(arcface_target(c, 0.5).value, std::cos(std::acos(c) + 0.5), 1e-14) << theta;
    const double h = (1 - c) * 1e-3;
    for (auto f : {+[](double u) { return arcface_target(u, 0.5); },
                   +[](double u) { return combined_target(u, 1.2, 0.3, 0.2); },
                   +[](double u) { return sphereface_target(u, 4, 5.0); }}) {
      const double cp = c + h, cm = c - h;  // the step actually taken (cp - cm is exact)
      const double num = (f(cp).value - f(cm).value) / (cp - cm);
      EXPECT_NEAR(f(c).dvalue_dcos / num, 1.0, 1e-5) << theta;
    }
  }
  EXPECT_DOUBLE_EQ(arcface_target(1.0, 0.5).dvalue_dcos, std::cos(0.5));
  EXPECT_DOUBLE_EQ(arcface_target(1.0, 0.5).value, std::cos(0.5));
  EXPECT_DOUBLE_EQ(arcface_target(1.0 + 1e-16, 0.5).value, std::cos(0.5));  // round-off above 1: clamped
  EXPECT_NEAR(combined_target(1.0, 1.2, 0.3, 0.2).dvalue_dcos, 1.44 * std::cos(0.3), 1e-15);
  EXPECT_NEAR(combined_target(-1.0, 1.2, 0.3, 0.2).dvalue_dcos, -1.44 * std::cos(1.2 * kPi + 0.3), 1e-14);
  EXPECT_NEAR(sphereface_target(1.0, 4, 5.0).dvalue_dcos, (5.0 + 16.0) / 6.0, 1e-14);
  // SphereFace is smooth in c at 1 (a Chebyshev polynomial): the limit is also the derivative nearby
  EXPECT_NEAR(sphereface_target(std::cos(1e-4), 4, 5.0).dvalue_dcos, (5.0 + 16.0) / 6.0, 1e-6);
}

// At cos = 1 exactly (x parallel to W_y) the gradient is finite in both dtypes, and in float32
// (where c rounds to 1 below ~3.4e-4 rad) nothing is NaN just inside either.
TEST(MarginSoftmaxEdge, FiniteAtAndNearCosOneInBothDtypes) {
  const Tensor y = labels_of({0, 0});
  for (DType dt : {DType::Float64, DType::Float32})
    for (double t : {0.0, 1e-5, 3e-4}) {
      SCOPED_TRACE(str_cat(dtype_name(dt), " t = ", t));
      const Tensor x0 = from_vector(std::vector<double>{2 * std::cos(t), 2 * std::sin(t), 0, 1, 0, 0}, {2, 3}).to(dt);
      const Tensor W0 = from_vector(std::vector<double>{1.5, 0, 0, 0, 1, 0}, {2, 3}).to(dt);
      for (int which = 0; which < 4; ++which) {
        Tensor x = x0.clone().requires_grad_(), W = W0.clone().requires_grad_();
        Tensor L = which == 0   ? arcface_loss(x, W, y, 30, 0.5)
                   : which == 1 ? arcface_loss_composed(x, W, y, 30, 0.5)
                   : which == 2 ? combined_margin_loss(x, W, y, 30, 1.0, 0.3, 0.2)
                                : sphereface_loss(x, W, y, 4, 5.0);
        L.backward();
        for (double v : x.grad().to(DType::Float64).to_vector<double>()) EXPECT_TRUE(std::isfinite(v)) << which;
        for (double v : W.grad().to(DType::Float64).to_vector<double>()) EXPECT_TRUE(std::isfinite(v)) << which;
      }
    }
}
