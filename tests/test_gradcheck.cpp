// Tests for core/gradcheck.h itself: a correct backward passes, and a
// deliberately wrong one — ignoring the upstream gradient, off by a factor,
// wrong at one element, missing an input — FAILS, with a report that names
// the input, the index, the analytic and the numeric value.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "test_util.h"

using namespace chalk;

namespace {

using Vjp = std::function<Tensor(const Tensor& g, const Tensor& a, const Tensor& b)>;

// A tiny custom op, y = a * b (same shapes), whose VJPs the test chooses.
// The correct ones are da = g * b, db = g * a.
Tensor product(const Tensor& a, const Tensor& b, Vjp vjp_a, Vjp vjp_b) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = mul(a, b);
  }
  record(y, "product", {a, b}, [a = a.detach(), b = b.detach(), vjp_a, vjp_b](const Tensor& g, Grads& dx) {
    if (dx.wants(0) && vjp_a) dx.add(0, vjp_a(g, a, b));
    if (dx.wants(1) && vjp_b) dx.add(1, vjp_b(g, a, b));
  });
  return y;
}

const Vjp kRightA = [](const Tensor& g, const Tensor&, const Tensor& b) { return g * b; };
const Vjp kRightB = [](const Tensor& g, const Tensor& a, const Tensor&) { return g * a; };

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::vector<Tensor> two_inputs() {
  manual_seed(400);
  return {randn({3, 4}, DType::Float64), randn({3, 4}, DType::Float64)};
}

}  // namespace

TEST(Gradcheck, CorrectBackwardPasses) {
  const auto r = gradcheck([](const auto& in) { return product(in[0], in[1], kRightA, kRightB); }, two_inputs());
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_EQ(r.checked, 24);  // every element of both inputs
  EXPECT_TRUE(contains(r.report, "passed")) << r.report;
  EXPECT_LE(r.error, 1e-6);
}

TEST(Gradcheck, BackwardThatIgnoresTheUpstreamGradientFails) {
  // dx = b instead of g * b: right only if every upstream weight were 1
  const Vjp ignores_g = [](const Tensor&, const Tensor&, const Tensor& b) { return b.clone(); };
  const auto r = gradcheck([&](const auto& in) { return product(in[0], in[1], ignores_g, kRightB); }, two_inputs());
  EXPECT_FALSE(r.ok) << r.report;
  EXPECT_EQ(r.worst_input, 0);
  EXPECT_TRUE(contains(r.report, "FAILED")) << r.report;
  EXPECT_TRUE(contains(r.report, "input 0")) << r.report;
  EXPECT_TRUE(contains(r.report, "index")) << r.report;
  EXPECT_TRUE(contains(r.report, "analytic")) << r.report;
  EXPECT_TRUE(contains(r.report, "numeric")) << r.report;
  EXPECT_GT(r.error, 1e-3);
  // the reported numbers are the ones compared
  EXPECT_NEAR(r.error, std::abs(r.analytic - r.numeric), 1e-12);
}

TEST(Gradcheck, BackwardOffByAFactorFails) {
  for (double factor : {2.0, -1.0, 1.01}) {
    const Vjp off = [factor](const Tensor& g, const Tensor& a, const Tensor&) { return g * a * factor; };
    const auto r = gradcheck([&](const auto& in) { return product(in[0], in[1], kRightA, off); }, two_inputs());
    EXPECT_FALSE(r.ok) << "factor " << factor << ": " << r.report;
    EXPECT_EQ(r.worst_input, 1) << r.report;
    EXPECT_TRUE(contains(r.report, "input 1")) << r.report;
    // analytic = factor * numeric at the worst element
    EXPECT_NEAR(r.analytic, factor * r.numeric, 1e-6 * std::abs(r.numeric) + 1e-8) << r.report;
  }
}

TEST(Gradcheck, OneWrongElementIsFoundAndNamed) {
  // correct everywhere except flat index 7 of input 1, which gets +0.5
  const Vjp wrong_at_7 = [](const Tensor& g, const Tensor& a, const Tensor&) {
    Tensor d = (g * a).clone();
    d.data<double>()[7] += 0.5;
    return d;
  };
  const auto in = two_inputs();
  const auto r = gradcheck([&](const auto& x) { return product(x[0], x[1], kRightA, wrong_at_7); }, in);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.worst_input, 1);
  EXPECT_EQ(r.worst_index, 7);
  EXPECT_NEAR(r.analytic - r.numeric, 0.5, 1e-6);
  EXPECT_TRUE(contains(r.report, "input 1")) << r.report;
  EXPECT_TRUE(contains(r.report, "[3, 4]")) << r.report;
  EXPECT_TRUE(contains(r.report, "flat index 7")) << r.report;
  EXPECT_TRUE(contains(r.report, "analytic")) << r.report;
  EXPECT_TRUE(contains(r.report, "numeric")) << r.report;
}

TEST(Gradcheck, MissingGradientFails) {
  // no VJP for input 1: its analytic gradient is taken as 0
  const auto r = gradcheck([](const auto& in) { return product(in[0], in[1], kRightA, nullptr); }, two_inputs());
  EXPECT_FALSE(r.ok) << r.report;
  EXPECT_EQ(r.worst_input, 1);
  EXPECT_EQ(r.analytic, 0.0);
  EXPECT_NE(r.numeric, 0.0);
}

TEST(Gradcheck, WrtLimitsTheCheckedInputs) {
  const Vjp wrong = [](const Tensor& g, const Tensor& a, const Tensor&) { return g * a * 3.0; };
  GradcheckOptions opt;
  opt.wrt = {0};
  const auto r = gradcheck([&](const auto& in) { return product(in[0], in[1], kRightA, wrong); }, two_inputs(), opt);
  EXPECT_TRUE(r.ok) << r.report;  // input 1 (the wrong one) is not checked
  EXPECT_EQ(r.checked, 12);
  opt.wrt = {1};
  EXPECT_FALSE(gradcheck([&](const auto& in) { return product(in[0], in[1], kRightA, wrong); }, two_inputs(), opt).ok);
}

TEST(Gradcheck, TolerancesAreTheOnesAskedFor) {
  // off by 1e-4 relative: inside the default rtol = 1e-3, outside rtol = 1e-6
  const Vjp slightly = [](const Tensor& g, const Tensor& a, const Tensor&) { return g * a * (1 + 1e-4); };
  auto f = [&](const std::vector<Tensor>& in) { return product(in[0], in[1], kRightA, slightly); };
  EXPECT_TRUE(gradcheck(f, two_inputs()).ok);
  GradcheckOptions strict;
  strict.rtol = 1e-6;
  strict.atol = 1e-9;
  EXPECT_FALSE(gradcheck(f, two_inputs(), strict).ok);
}

TEST(Gradcheck, IntegerInputsArePassedThroughAndFloat32IsPromoted) {
  // labels (int64) are not differentiated; float32 inputs reach f as float64
  const Tensor labels = from_vector(std::vector<std::int64_t>{0, 2, 1}, {3});
  manual_seed(401);
  const Tensor x32 = randn({3, 3});
  const auto r = gradcheck(
      [](const auto& in) {
        EXPECT_EQ(in[0].dtype(), DType::Float64);
        EXPECT_EQ(in[1].dtype(), DType::Int64);
        const Tensor onehot = eq(in[1].reshape({3, 1}), arange(3).reshape({1, 3})).to(DType::Float64);
        return sum(exp(in[0]) * onehot, 1);
      },
      {x32, labels});
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_EQ(r.checked, 9);
}

TEST(Gradcheck, FunctionMustReturnFloat64) {
  EXPECT_THROW(gradcheck([](const auto& in) { return in[0].to(DType::Float32); }, {randn({2}, DType::Float64)}),
               Error);
}

TEST(Gradcheck, DoesNotChangeItsInputs) {
  const auto in = two_inputs();
  const auto before = in[0].to_vector<double>();
  gradcheck([](const auto& x) { return product(x[0], x[1], kRightA, kRightB); }, in);
  EXPECT_EQ(in[0].to_vector<double>(), before);
  EXPECT_FALSE(in[0].requires_grad());
  EXPECT_FALSE(in[0].grad().defined());
}

// The numeric half of gradcheck (core/gradcheck.h), called directly: L = sum(w * x^2), so
// dL/dx = 2 w x, which central differences get exactly up to rounding (x^2 has no third derivative).
TEST(Gradcheck, NumericGradientIsCentralDifferencesOfTheWeightedSum) {
  const Tensor x = from_vector(std::vector<double>{0.5, -1.25, 2}, {3});
  const Tensor other = from_vector(std::vector<double>{7, 8, 9}, {3});
  const std::vector<double> w{1, -2, 0.5};
  const TensorFn f = [](const std::vector<Tensor>& in) { return in[0] * in[0] + in[1]; };
  const std::int64_t version = x.version();
  const std::vector<double> g = numeric_gradient(f, {x, other}, 0, w, 1e-6);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_NEAR(g[0], 1.0, 1e-8);
  EXPECT_NEAR(g[1], 5.0, 1e-8);
  EXPECT_NEAR(g[2], 2.0, 1e-8);
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{0.5, -1.25, 2}));  // restored bit for bit
  EXPECT_EQ(x.version(), version + 1);  // one in-place write, announced once
  EXPECT_EQ(other.to_vector<double>(), (std::vector<double>{7, 8, 9}));
}

TEST(Gradcheck, NumericGradientRefusesBadArguments) {
  using chalk::test_util::expect_error;
  const Tensor x = from_vector(std::vector<double>{1, 2}, {2});
  const TensorFn f = [](const std::vector<Tensor>& in) { return in[0] * 2.0; };
  const std::vector<double> w{1, 1};
  expect_error([&] { numeric_gradient(f, {x}, 1, w, 1e-6); }, {"numeric_gradient", "no input 1"});
  expect_error([&] { numeric_gradient(f, {x.to(DType::Float32)}, 0, w, 1e-6); },
               {"numeric_gradient", "float32", "float64"});
  expect_error([&] { numeric_gradient(f, {x}, 0, w, 0.0); }, {"numeric_gradient", "step h"});
  expect_error([&] { numeric_gradient(f, {x}, 0, w, NAN); }, {"numeric_gradient", "step h"});
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{1, 2}));  // refused before any write
  expect_error([&] { numeric_gradient(f, {x}, 0, {1, 1, 1}, 1e-6); }, {"numeric_gradient", "[2]", "w has 3"});
}
