// tests/test_nan_propagation.cpp — NaN, inf and 0 at the edges of every op, against PyTorch 1.13,
// the anomaly mode (chalk::AnomalyGuard, like torch.autograd.detect_anomaly), and the relative
// accuracy of pairwise_distances at every separation.
//
// Every expected value was computed with /usr/bin/python3 (torch 1.13, float64); the PyTorch
// expression is in the comment next to it. Gradients are of sum(y) unless an upstream weight
// is named. A NaN cannot be compared with ==, so `expect_same` treats nan == nan.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/autograd.h"
#include "ops/distances.h"
#include "ops/elementwise.h"
#include "ops/pooling.h"
#include "ops/reduce.h"
#include "ops/softmax.h"
#include "test_util.h"

using namespace chalk;
using chalk::test_util::expect_error;
using chalk::test_util::f64;

namespace {

const double nan_ = std::numeric_limits<double>::quiet_NaN();
const double inf = std::numeric_limits<double>::infinity();

// Same values, nan matching nan and inf matching inf of the same sign.
void expect_same(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  ASSERT_TRUE(t.defined());
  const auto got = t.to(DType::Float64).to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) EXPECT_TRUE(std::isnan(got[i])) << "index " << i << ": " << got[i] << ", want nan";
    else if (std::isinf(want[i])) EXPECT_EQ(got[i], want[i]) << "index " << i;
    else EXPECT_NEAR(got[i], want[i], tol) << "index " << i;
  }
}

// x (float64, or float32 when f32) with requires_grad.
Tensor leaf(std::vector<double> v, const Shape& s, bool f32 = false) {
  Tensor x = from_vector(v, s);
  if (f32) x = x.to(DType::Float32);
  x.requires_grad_();
  return x;
}

// y = f(x); backward of sum(y) (or sum(w * y)); checks y and x.grad.
template <class F>
void check(F f, std::vector<double> in, const Shape& s, const std::vector<double>& want_y,
           const std::vector<double>& want_dx, bool f32 = false, const Tensor& w = Tensor()) {
  Tensor x = leaf(in, s, f32);
  Tensor y = f(x);
  expect_same(y, want_y, f32 ? 1e-6 : 1e-12);
  Tensor obj = w.defined() ? sum(mul(y, w.to(y.dtype()))) : sum(y);
  obj.backward();
  expect_same(x.grad(), want_dx, f32 ? 1e-6 : 1e-12);
}

}  // namespace

// ---------------------------------------------------------------- the issue's examples

TEST(NanPropagation, ReluKeepsNanLikePyTorch) {
  for (bool f32 : {false, true}) {
    SCOPED_TRACE(f32 ? "float32" : "float64");
    // torch.relu([nan, inf, -inf, 1.3, -0.6]) -> [nan, inf, 0, 1.3, 0], grad [1, 1, 0, 1, 0]
    check([](const Tensor& x) { return relu(x); }, {nan_, inf, -inf, 1.3, -0.6}, {5}, {nan_, inf, 0, 1.3, 0},
          {1, 1, 0, 1, 0}, f32);
  }
}

TEST(NanPropagation, MaxPoolTakesTheNan) {
  for (bool f32 : {false, true})
    for (auto pool : {+[](const Tensor& x) { return max_pool2d(x, 2, 2); },
                      +[](const Tensor& x) { return max_pool2d_naive(x, 2, 2); }}) {
      SCOPED_TRACE(f32 ? "float32" : "float64");
      // F.max_pool2d([[1, nan], [3, 4]], 2, 2) -> nan, grad [0, 1, 0, 0]
      check(pool, {1, nan_, 3, 4}, {1, 1, 2, 2}, {nan_}, {0, 1, 0, 0}, f32);
      // F.max_pool2d([[1, 3], [4, nan]], 2, 2) -> nan, grad [0, 0, 0, 1]  (nan last)
      check(pool, {1, 3, 4, nan_}, {1, 1, 2, 2}, {nan_}, {0, 0, 0, 1}, f32);
      // F.max_pool2d([[nan, 1], [2, 3]], 2, 2) -> nan, grad [1, 0, 0, 0]  (nan first)
      check(pool, {nan_, 1, 2, 3}, {1, 1, 2, 2}, {nan_}, {1, 0, 0, 0}, f32);
    }
}

TEST(NanPropagation, ReluMaxPoolOfNanWindowsAgreesWithItsTwin) {
  for (bool f32 : {false, true}) {
    SCOPED_TRACE(f32 ? "float32" : "float64");
    // F.max_pool2d(torch.relu([[nan, nan], [nan, nan]]), 2, 2) -> nan, grad [0, 0, 0, 1]
    check([](const Tensor& x) { return relu_max_pool2d(x, 2, 2); }, {nan_, nan_, nan_, nan_}, {1, 1, 2, 2}, {nan_},
          {0, 0, 0, 1}, f32);
    // F.max_pool2d(torch.relu([[-1, nan], [-3, -4]]), 2, 2) -> nan, grad [0, 1, 0, 0]
    check([](const Tensor& x) { return relu_max_pool2d(x, 2, 2); }, {-1, nan_, -3, -4}, {1, 1, 2, 2}, {nan_},
          {0, 1, 0, 0}, f32);
    // the twins give the same on windows of every kind: nan, all-negative, mixed, +-inf
    const std::vector<double> v = {nan_, nan_, -1, -2, 0.5, nan_, -inf, -5,  //
                                   nan_, nan_, -3, -4, 2, 1, inf, -1};
    {
      Tensor a = leaf(v, {1, 1, 4, 4}, f32), b = leaf(v, {1, 1, 4, 4}, f32), c = leaf(v, {1, 1, 4, 4}, f32);
      Tensor ya = relu_max_pool2d(a, 2, 2), yb = max_pool2d(relu(b), 2, 2), yc = max_pool2d_naive(relu(c), 2, 2);
      const auto va = ya.to(DType::Float64).to_vector<double>();
      expect_same(yb, va);
      expect_same(yc, va);
      // windows: [nan nan; 0.5 nan] -> nan, [-1 -2; -inf -5] -> 0, [nan nan; 2 1] -> nan,
      // [-3 -4; inf -1] -> inf
      expect_same(ya, {nan_, 0, nan_, inf});
      sum(ya).backward();
      sum(yb).backward();
      sum(yc).backward();
      const auto ga = a.grad().to(DType::Float64).to_vector<double>();
      expect_same(b.grad(), ga);
      expect_same(c.grad(), ga);
    }
  }
}

TEST(NanPropagation, PowZeroHasZeroGradientAtZero) {
  // torch.tensor([0., 2., nan]).pow(0) -> [1, 1, 1], grad [0, 0, 0]
  check([](const Tensor& x) { return pow(x, 0.0); }, {0, 2, nan_}, {3}, {1, 1, 1}, {0, 0, 0});
  // x.pow(0.5) at [0, 4] -> [0, 2], grad [inf, 0.25]
  check([](const Tensor& x) { return pow(x, 0.5); }, {0, 4}, {2}, {0, 2}, {inf, 0.25});
  // x.pow(2) at [nan, inf] -> [nan, inf], grad [nan, inf]
  check([](const Tensor& x) { return pow(x, 2.0); }, {nan_, inf}, {2}, {nan_, inf}, {nan_, inf});
}

// ---------------------------------------------------------------- the audit: every other op

TEST(NanPropagation, UnaryOpsAtNanInfAndZero) {
  // x.clamp(-1, 1) at [nan, inf, -inf, 1, -1, 0.5] -> [nan, 1, -1, 1, -1, 0.5], grad [0, 0, 0, 1, 1, 1]
  check([](const Tensor& x) { return clamp(x, -1, 1); }, {nan_, inf, -inf, 1, -1, 0.5}, {6},
        {nan_, 1, -1, 1, -1, 0.5}, {0, 0, 0, 1, 1, 1});
  // x.clamp(min=0) at [nan, inf, -inf, 0] -> [nan, inf, 0, 0], grad [0, 1, 0, 1]
  check([](const Tensor& x) { return clamp_min(x, 0); }, {nan_, inf, -inf, 0}, {4}, {nan_, inf, 0, 0}, {0, 1, 0, 1});
  // torch.abs([nan, inf, -inf, 0, -2]) -> [nan, inf, inf, 0, 2], grad [0, 1, -1, 0, -1]
  check([](const Tensor& x) { return abs(x); }, {nan_, inf, -inf, 0, -2}, {5}, {nan_, inf, inf, 0, 2},
        {0, 1, -1, 0, -1});
  // torch.sqrt([0, nan, inf, -1]) -> [0, nan, inf, nan], grad [inf, nan, 0, nan]
  check([](const Tensor& x) { return sqrt(x); }, {0, nan_, inf, -1}, {4}, {0, nan_, inf, nan_}, {inf, nan_, 0, nan_});
  // torch.log([0, nan, inf, -1]) -> [-inf, nan, inf, nan], grad [inf, nan, 0, -1]
  check([](const Tensor& x) { return log(x); }, {0, nan_, inf, -1}, {4}, {-inf, nan_, inf, nan_}, {inf, nan_, 0, -1});
  // torch.exp([nan, inf, -inf]) -> [nan, inf, 0], grad [nan, inf, 0]
  check([](const Tensor& x) { return exp(x); }, {nan_, inf, -inf}, {3}, {nan_, inf, 0}, {nan_, inf, 0});
  // torch.sigmoid([nan, inf, -inf]) -> [nan, 1, 0], grad [nan, 0, 0]
  check([](const Tensor& x) { return sigmoid(x); }, {nan_, inf, -inf}, {3}, {nan_, 1, 0}, {nan_, 0, 0});
  // torch.tanh([nan, inf, -inf]) -> [nan, 1, -1], grad [nan, 0, 0]
  check([](const Tensor& x) { return tanh(x); }, {nan_, inf, -inf}, {3}, {nan_, 1, -1}, {nan_, 0, 0});
  // F.softplus([nan, inf, -inf, 30]) -> [nan, inf, 0, 30], grad [nan, 1, 0, 1]
  check([](const Tensor& x) { return softplus(x); }, {nan_, inf, -inf, 30}, {4}, {nan_, inf, 0, 30},
        {nan_, 1, 0, 1});
  // torch.sin / torch.cos([inf, nan]) -> [nan, nan], grad [nan, nan]
  check([](const Tensor& x) { return sin(x); }, {inf, nan_}, {2}, {nan_, nan_}, {nan_, nan_});
  check([](const Tensor& x) { return cos(x); }, {inf, nan_}, {2}, {nan_, nan_}, {nan_, nan_});
  // torch.acos(nan) -> nan, grad nan
  check([](const Tensor& x) { return acos(x); }, {nan_}, {1}, {nan_}, {nan_});
  // 1 / [0, nan] -> [inf, nan], grad [-inf, nan]
  check([](const Tensor& x) { return rdiv(1.0, x); }, {0, nan_}, {2}, {inf, nan_}, {-inf, nan_});
  // [nan, inf] * 0 -> [nan, nan], grad [0, 0]
  check([](const Tensor& x) { return mul(x, 0.0); }, {nan_, inf}, {2}, {nan_, nan_}, {0, 0});
}

TEST(NanPropagation, WhereKeepsTheBranchNotTakenOut) {
  // torch.where([False, True], x, 0) at x = [nan, 1] -> [0, 1], grad [0, 1]
  Tensor x = leaf({nan_, 1}, {2});
  Tensor y = where(from_vector(std::vector<double>{0, 1}, {2}), x, zeros({2}, DType::Float64));
  expect_same(y, {0, 1});
  sum(y).backward();
  expect_same(x.grad(), {0, 1});
}

TEST(NanPropagation, Reductions) {
  // x.max() at [1, nan, 3] -> nan, grad [0, 1, 0];  x.min() at [1, nan, -3] -> nan, grad [0, 1, 0]
  check([](const Tensor& x) { return max(x); }, {1, nan_, 3}, {3}, {nan_}, {0, 1, 0});
  check([](const Tensor& x) { return min(x); }, {1, nan_, -3}, {3}, {nan_}, {0, 1, 0});
  // x.view(1, 3).max(1) at [1, nan, 3] -> nan, grad [0, 1, 0]
  check([](const Tensor& x) { return max(x, 1); }, {1, nan_, 3}, {1, 3}, {nan_}, {0, 1, 0});
  // torch.tensor([1, nan, 3]).argmax() -> 1, .argmin() -> 1
  EXPECT_EQ(argmax(f64({1, nan_, 3}, {1, 3}), 1).to_vector<std::int64_t>()[0], 1);
  EXPECT_EQ(argmin(f64({1, nan_, 3}, {1, 3}), 1).to_vector<std::int64_t>()[0], 1);
  // x.sum() at [1, nan] -> nan, grad [1, 1]
  check([](const Tensor& x) { return sum(x); }, {1, nan_}, {2}, {nan_}, {1, 1});
  // torch.logsumexp(x, 0):
  auto lse = [](const Tensor& x) { return logsumexp(x, 0); };
  check(lse, {1, nan_, 3}, {3}, {nan_}, {nan_, nan_, nan_});  // -> nan, grad [nan, nan, nan]
  check(lse, {inf, nan_}, {2}, {nan_}, {nan_, nan_});         // -> nan, grad [nan, nan]
  check(lse, {nan_, inf}, {2}, {nan_}, {nan_, nan_});         // -> nan, grad [nan, nan]
  check(lse, {inf, 1}, {2}, {inf}, {nan_, 0});                // -> inf, grad [nan, 0]
  check(lse, {-inf, -inf}, {2}, {-inf}, {nan_, nan_});        // -> -inf, grad [nan, nan]
  check(lse, {inf, inf}, {2}, {inf}, {nan_, nan_});           // -> inf, grad [nan, nan]
  check(lse, {-inf, 1}, {2}, {1}, {0, 1});                    // -> 1, grad [0, 1]
}

TEST(NanPropagation, SoftmaxWithNanAndInf) {
  const Tensor w3 = f64({1, 2, 3}, {3}), w2 = f64({1, 2}, {2});
  auto sm = [](const Tensor& x) { return softmax(x, 0); };
  auto lsm = [](const Tensor& x) { return log_softmax(x, 0); };
  // torch.softmax(x, 0), upstream w = [1, 2(, 3)]
  check(sm, {1, nan_, 3}, {3}, {nan_, nan_, nan_}, {nan_, nan_, nan_}, false, w3);
  check(sm, {inf, 1}, {2}, {nan_, nan_}, {nan_, nan_}, false, w2);
  check(sm, {-inf, 1}, {2}, {0, 1}, {0, 0}, false, w2);
  check(sm, {-inf, -inf}, {2}, {nan_, nan_}, {nan_, nan_}, false, w2);
  // torch.log_softmax(x, 0), upstream w
  check(lsm, {1, nan_, 3}, {3}, {nan_, nan_, nan_}, {nan_, nan_, nan_}, false, w3);
  check(lsm, {inf, 1}, {2}, {nan_, nan_}, {nan_, nan_}, false, w2);
  check(lsm, {-inf, 1}, {2}, {-inf, 0}, {1, -1}, false, w2);
  check(lsm, {-inf, -inf}, {2}, {nan_, nan_}, {nan_, nan_}, false, w2);
}

TEST(NanPropagation, NormsAndDistances) {
  // x.view(1, 2).norm(dim=1): [nan, 1] -> nan, grad [nan, nan]; [0, 0] -> 0, grad [0, 0];
  // [inf, 1] -> inf, grad [nan, 0]
  auto nrm = [](const Tensor& x) { return l2_norm(x, 1); };
  check(nrm, {nan_, 1}, {1, 2}, {nan_}, {nan_, nan_});
  check(nrm, {0, 0}, {1, 2}, {0}, {0, 0});
  check(nrm, {inf, 1}, {1, 2}, {inf}, {nan_, 0});
  // F.normalize(x.view(1, 2), dim=1), upstream [1, 2]: [0, 0] -> [0, 0], grad [1e12, 2e12];
  // [nan, 1] -> [nan, nan], grad [nan, nan]
  const Tensor w2 = f64({1, 2}, {1, 2});
  auto nz = [](const Tensor& x) { return normalize(x, 1); };
  check(nz, {0, 0}, {1, 2}, {0, 0}, {1e12, 2e12}, false, w2);
  check(nz, {nan_, 1}, {1, 2}, {nan_, nan_}, {nan_, nan_}, false, w2);
  // torch.cdist(a, b) with a = [[1, 2]], b = [[1, 2]] -> 0, grads 0 (the kink);
  // a = [[nan, 2]] -> nan, grads [nan, nan] and [nan, nan].
  // The square: ((a - b)**2).sum() -> nan, grads [nan, 0] and [nan, 0] (d d2/da_1 = 2 (a_1 - b_1)
  // = 0 whatever a_0 is; torch.cdist(a, b)**2 gives [nan, nan], through its sqrt).
  for (bool squared : {false, true}) {
    SCOPED_TRACE(squared ? "pairwise_squared_distances" : "pairwise_distances");
    auto pd = [squared](const Tensor& a, const Tensor& b) {
      return squared ? pairwise_squared_distances(a, b) : pairwise_distances(a, b);
    };
    Tensor a = leaf({1, 2}, {1, 2}), b = leaf({1, 2}, {1, 2});
    Tensor d = pd(a, b);
    expect_same(d, {0});
    sum(d).backward();
    expect_same(a.grad(), {0, 0});
    expect_same(b.grad(), {0, 0});
    for (bool f32 : {false, true}) {
      Tensor an = leaf({nan_, 2}, {1, 2}, f32), bn = leaf({1, 2}, {1, 2}, f32);
      Tensor dn = pd(an, bn);
      expect_same(dn, {nan_});
      sum(dn).backward();
      expect_same(an.grad(), {nan_, squared ? 0.0 : nan_});
      expect_same(bn.grad(), {nan_, squared ? 0.0 : nan_});
    }
  }
}

// ---------------------------------------------------------------- anomaly mode

TEST(AnomalyGuard, NamesTheForwardOpThatMadeANan) {
  Tensor x = leaf({1, -1, 2}, {3});
  {
    AnomalyGuard guard;
    EXPECT_TRUE(anomaly_enabled());
    Tensor y = exp(x);  // finite: passes
    (void)y;
    expect_error([&] { (void)log(x); },
                 {"anomaly", "forward of log", "nan", "index [1]", "output [3] float64", "inputs: [3] float64"});
  }
  EXPECT_FALSE(anomaly_enabled());
  Tensor y = log(x);  // the guard is gone: no check, the nan is just a value
  EXPECT_TRUE(std::isnan(y.to_vector<double>()[1]));
}

TEST(AnomalyGuard, NamesTheBackwardOpThatMadeAnInf) {
  // sqrt at 0: forward 0 (finite), backward g / (2 sqrt(0)) = inf
  Tensor x = leaf({4, 0}, {2});
  AnomalyGuard guard;
  Tensor y = sum(sqrt(x));
  expect_error([&] { y.backward(); },
               {"anomaly", "backward of sqrt", "inf", "index [1]", "gradient for input 0", "inputs: [2] float64",
                "incoming gradient finite"});
}

TEST(AnomalyGuard, GivesTheMultiIndex) {
  // pow(x, 0.5) at 0: forward 0 (finite), backward 0.5 * 0^(-0.5) = inf; the index is 2-D
  Tensor x = leaf({1, 0}, {1, 2});
  AnomalyGuard guard;
  Tensor y = sum(pow(x, 0.5));
  expect_error([&] { y.backward(); }, {"backward of pow", "inf", "index [0, 1]", "[1, 2] float64"});
}

TEST(AnomalyGuard, GuardsNestAndAreOffByDefault) {
  EXPECT_FALSE(anomaly_enabled());
  {
    AnomalyGuard a;
    {
      AnomalyGuard b;
      EXPECT_TRUE(anomaly_enabled());
    }
    EXPECT_TRUE(anomaly_enabled());
  }
  EXPECT_FALSE(anomaly_enabled());
  // off: a nan passes through forward and backward silently, as in PyTorch without anomaly mode
  Tensor x = leaf({0}, {1});
  Tensor y = sum(sqrt(x));
  y.backward();
  EXPECT_TRUE(std::isinf(x.grad().to_vector<double>()[0]));
}

TEST(AnomalyGuard, NoGradOpsAreNotChecked) {
  AnomalyGuard guard;
  NoGradGuard no_grad;
  Tensor y = log(f64({-1}, {1}));  // evaluation: not part of a graph, not checked
  EXPECT_TRUE(std::isnan(y.to_vector<double>()[0]));
}

// ---------------------------------------------------------------- pairwise_distances accuracy

// Two points of norm ~4 in D = 5 at relative separations 1e-1 .. 1e-7, in float32 and float64:
// the relative error of d against a long double direct sum over the same (rounded) inputs stays
// at a few hundred eps at most. The issue's example (float64, 1.28e-5 apart, norms ~4) gave a
// relative error of 2.2e-5 before (a recompute threshold of 4096 eps); now ~1e-15.
TEST(PairwiseDistancesAccuracy, RelativeErrorAtEverySeparation) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (DType dt : {DType::Float32, DType::Float64}) {
    const double eps = dt == DType::Float32 ? std::numeric_limits<float>::epsilon()
                                            : std::numeric_limits<double>::epsilon();
    double worst = 0;
    for (int e = 1; e <= 7; ++e)
      for (double mant : {1.0, 1.28, 3.0, 7.0}) {
        const double sep = mant * std::pow(10.0, -e);
        for (int trial = 0; trial < 8; ++trial) {
          const int D = 5;
          std::vector<double> a(D), u(D), b(D);
          double un = 0;
          for (int k = 0; k < D; ++k) a[k] = 1.8 * normal(rng), u[k] = normal(rng), un += u[k] * u[k];
          double an = 0;
          for (int k = 0; k < D; ++k) an += a[k] * a[k];
          for (int k = 0; k < D; ++k) b[k] = a[k] + sep * std::sqrt(an) * u[k] / std::sqrt(un);
          const Tensor ta = from_vector(a, {1, D}).to(dt), tb = from_vector(b, {1, D}).to(dt);
          // the reference: the same rounded inputs, a long double direct sum
          const auto ra = ta.to(DType::Float64).to_vector<double>(), rb = tb.to(DType::Float64).to_vector<double>();
          long double s = 0;
          for (int k = 0; k < D; ++k) s += (static_cast<long double>(ra[k]) - rb[k]) * (static_cast<long double>(ra[k]) - rb[k]);
          const double want = static_cast<double>(std::sqrt(s));
          if (want == 0) continue;
          const double got = pairwise_distances(ta, tb).to(DType::Float64).to_vector<double>()[0];
          const double got2 = pairwise_squared_distances(ta, tb).to(DType::Float64).to_vector<double>()[0];
          const double rel = std::abs(got - want) / want, rel2 = std::abs(got2 - want * want) / (want * want);
          worst = std::max(worst, rel);
          EXPECT_LT(rel, 256 * eps) << dtype_name(dt) << " separation " << sep << ": d " << got << " for " << want;
          EXPECT_LT(rel2, 512 * eps) << dtype_name(dt) << " separation " << sep << ": d2 " << got2;
        }
      }
    std::cout << "  " << dtype_name(dt) << ": worst relative error of d " << worst << " (" << worst / eps
              << " eps)\n";
  }
}

// The issue's exact numbers: d = 1.275929e-5 (was 1.275957e-5).
TEST(PairwiseDistancesAccuracy, IssueExampleFloat64) {
  const std::vector<double> a = {1.5, -2.25, 1.75, 2.0, 1.0};  // norm ~ 4.01
  std::vector<double> b = a;
  const std::vector<double> u = {0.3, 0.4, -0.5, 0.1, 0.7};
  double un = 0;
  for (double v : u) un += v * v;
  for (int k = 0; k < 5; ++k) b[k] += 1.275929e-5 * u[k] / std::sqrt(un);
  long double s = 0;
  for (int k = 0; k < 5; ++k) s += (static_cast<long double>(a[k]) - b[k]) * (static_cast<long double>(a[k]) - b[k]);
  const double want = static_cast<double>(std::sqrt(s));
  const double got = pairwise_distances(from_vector(a, {1, 5}), from_vector(b, {1, 5})).to_vector<double>()[0];
  EXPECT_NEAR(got / want, 1.0, 1e-13) << got << " for " << want;
}
