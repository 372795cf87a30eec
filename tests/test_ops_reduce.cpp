// Tests for ops/reduce.h: float64 gradcheck of every reduction over every
// axis (negative too, keepdim both ways) on several shapes, forward values
// against hand-computed numbers, max/min ties, determinism, and every error.
#include <gtest/gtest.h>

#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/parallel.h"
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

using namespace chalk;
using namespace chalk::test_util;

namespace {






// Distinct values at least 0.1 apart in a random order: max/min have a
// unique winner that h = 1e-6 cannot change.
Tensor distinct64(const Shape& s, unsigned seed) {
  std::vector<double> v(static_cast<std::size_t>(numel(s)));
  std::iota(v.begin(), v.end(), 0.0);
  std::mt19937 g(seed);
  std::shuffle(v.begin(), v.end(), g);
  for (auto& x : v) x = 0.1 * x - 0.3;
  return from_vector(v, s);
}

const std::vector<Shape> kShapes = {{}, {1}, {5}, {3, 1}, {1, 4}, {2, 3, 4}, {1, 4, 1}, {3, 4}};

}  // namespace

// ---------------------------------------------------------------- gradcheck

TEST(ReduceGrad, SumAndMeanOverAll) {
  manual_seed(200);
  for (const Shape& s : kShapes) {
    expect_gradcheck("sum", [](const auto& in) { return sum(in[0]); }, {randn(s, DType::Float64)});
    expect_gradcheck("mean", [](const auto& in) { return mean(in[0]); }, {randn(s, DType::Float64)});
  }
}

TEST(ReduceGrad, EveryAxisBothKeepdims) {
  manual_seed(201);
  for (const Shape& s : kShapes) {
    const int nd = static_cast<int>(s.size());
    for (int axis = -nd; axis < nd; ++axis)
      for (bool keep : {false, true}) {
        const std::string tag = " axis " + std::to_string(axis) + (keep ? " keepdim" : "");
        const Tensor x = randn(s, DType::Float64), d = distinct64(s, 7 + axis);
        expect_gradcheck("sum" + tag, [=](const auto& in) { return sum(in[0], axis, keep); }, {x});
        expect_gradcheck("mean" + tag, [=](const auto& in) { return mean(in[0], axis, keep); }, {x});
        expect_gradcheck("logsumexp" + tag, [=](const auto& in) { return logsumexp(in[0], axis, keep); }, {x});
        expect_gradcheck("max" + tag, [=](const auto& in) { return max(in[0], axis, keep); }, {d});
        expect_gradcheck("min" + tag, [=](const auto& in) { return min(in[0], axis, keep); }, {d});
      }
  }
}

TEST(ReduceGrad, MaxMinOverAll) {
  for (const Shape& s : kShapes) {
    const Tensor d = distinct64(s, 3);
    expect_gradcheck("max", [](const auto& in) { return max(in[0]); }, {d});
    expect_gradcheck("min", [](const auto& in) { return min(in[0]); }, {d});
  }
}

TEST(ReduceGrad, SumTo) {
  manual_seed(202);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 4}, {4}}, {{3, 4}, {3, 1}}, {{3, 4}, {1, 4}}, {{2, 3, 4}, {3, 1}}, {{2, 3, 4}, {}},
      {{2, 3, 4}, {1, 1, 1}}, {{2, 3}, {2, 3}}, {{2, 1, 3}, {1, 3}}};
  for (const auto& [from, to] : cases) {
    const Shape target = to;
    const Tensor r = sum_to(randn(from, DType::Float64), target);
    EXPECT_EQ(r.shape(), target) << shape_str(from) << " -> " << shape_str(target);
    expect_gradcheck("sum_to " + shape_str(target), [target](const auto& in) { return sum_to(in[0], target); },
                     {randn(from, DType::Float64)});
  }
}

TEST(ReduceGrad, Composition) {
  manual_seed(203);
  // a softmax cross-entropy-like expression: logsumexp - picked logit, averaged
  const Tensor onehot = f64({0, 1, 0, 1, 0, 0}, {2, 3});
  expect_gradcheck("lse - picked",
                   [&](const auto& in) { return mean(logsumexp(in[0], 1) - sum(in[0] * onehot, 1)); },
                   {randn({2, 3}, DType::Float64)});
  expect_gradcheck("x / sum(x, keepdim)",
                   [](const auto& in) { return in[0] / sum(in[0], -1, true); },
                   {add(rand({3, 4}, DType::Float64), 0.5)});
  expect_gradcheck("x - max(x, keepdim)",
                   [](const auto& in) { return exp(in[0] - max(in[0], 1, true)); }, {distinct64({3, 4}, 5)});
}

// ---------------------------------------------------------------- forward values

TEST(ReduceForward, HandComputed) {
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(sum(x).shape(), Shape{});
  EXPECT_EQ(sum(x).item(), 21.0);
  expect_values(sum(x, 0), {5, 7, 9});
  expect_values(sum(x, 1), {6, 15});
  expect_values(sum(x, -1), {6, 15});
  EXPECT_EQ(sum(x, 1).shape(), (Shape{2}));
  EXPECT_EQ(sum(x, 1, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(sum(x, 0, true).shape(), (Shape{1, 3}));
  EXPECT_EQ(mean(x).item(), 3.5);
  expect_values(mean(x, 0), {2.5, 3.5, 4.5});
  expect_values(mean(x, -1, true), {2, 5});
  EXPECT_EQ(max(x).item(), 6.0);
  EXPECT_EQ(min(x).item(), 1.0);
  expect_values(max(x, 0), {4, 5, 6});
  expect_values(min(x, 1), {1, 4});
  EXPECT_EQ(max(x, 1, true).shape(), (Shape{2, 1}));

  const Tensor y = f64({3, 1, 7, 2, 9, 0}, {3, 2});  // rows [3,1], [7,2], [9,0]
  EXPECT_EQ(argmax(y, 0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(argmin(y, 0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 2}));
  EXPECT_EQ(argmax(y, 1).to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 0, 0}));
  EXPECT_EQ(argmin(y, -1, true).shape(), (Shape{3, 1}));
  EXPECT_EQ(argmax(y, 1).dtype(), DType::Int64);

  const double e = std::exp(1.0);
  expect_values(logsumexp(x, 1), {std::log(e + e * e + e * e * e), std::log(std::exp(4.0) + std::exp(5.0) + std::exp(6.0))});
  EXPECT_EQ(logsumexp(x, 0, true).shape(), (Shape{1, 3}));

  // the middle axis of a rank-3 tensor
  const Tensor z = from_vector(std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});
  expect_values(sum(z, 1), {6, 9, 24, 27});
  expect_values(max(z, 1), {4, 5, 10, 11});
  EXPECT_EQ(argmin(z, 1).to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 0, 0, 0}));

  // float32 in, float32 out (accumulated in double)
  EXPECT_EQ(sum(tensor({1, 2})).dtype(), DType::Float32);
  EXPECT_EQ(sum(tensor({0.1f, 0.2f, 0.3f})).item(), static_cast<double>(static_cast<float>(double(0.1f) + double(0.2f) + double(0.3f))));
}

TEST(ReduceForward, LogsumexpIsStable) {
  const double inf = std::numeric_limits<double>::infinity();
  expect_values(logsumexp(f64({1000, 1000}, {2}), 0), {1000 + std::log(2.0)});
  expect_values(logsumexp(f64({-1000, -1000}, {2}), 0), {-1000 + std::log(2.0)});
  expect_values(logsumexp(tensor({100, 100}), 0), {100 + std::log(2.0)}, 1e-4);
  const Tensor all_neg_inf = logsumexp(f64({-inf, -inf}, {1, 2}), 1);
  EXPECT_EQ(all_neg_inf.item(), -inf);
  expect_values(logsumexp(f64({-inf, 0}, {2}), 0), {0});
}

// The derivatives of log-sum-exp are the softmax: they sum to 1 at every size of x. Formed as
// exp(x - y) from the rounded output y = m + log(s), they do not once m swallows log(s):
// float64 [1e10, 1e10] gave [0.49999976, 0.49999976] (sum 0.999999521), [1e16, 1e16] and
// [1e50, 1e50] gave [1, 1]; float32 [1e8, 1e8] gave [1, 1]. PyTorch 1.13's logsumexp has the flaw.
TEST(ReduceBackward, LogsumexpGradientSumsToOneAtLargeArguments) {
  for (auto [v, dt] : {std::pair{1e10, DType::Float64}, std::pair{1e16, DType::Float64}, std::pair{1e50, DType::Float64},
                       std::pair{64.0, DType::Float32}, std::pair{1e4, DType::Float32}, std::pair{1e8, DType::Float32}}) {
    SCOPED_TRACE(str_cat(v, " ", dtype_name(dt)));
    Tensor x = tensor({v, v}, dt).requires_grad_();
    const Tensor y = logsumexp(x, 0);
    // the value: v + log 2, rounded once to x's type
    const double want = dt == DType::Float32 ? static_cast<float>(static_cast<double>(static_cast<float>(v)) + std::log(2.0))
                                             : v + std::log(2.0);
    EXPECT_EQ(y.item(), want);
    y.backward();
    EXPECT_EQ(x.grad().to(DType::Float64).to_vector<double>(), (std::vector<double>{0.5, 0.5}));
  }
  // unequal: softmax([0, 1]) = [1 / (1 + e), e / (1 + e)], at an offset of 1e10 (exact in float64)
  Tensor x = f64({1e10, 1e10 + 1}, {2}).requires_grad_();
  logsumexp(x, 0).backward(scalar(2.0, DType::Float64));
  const double e = std::exp(1.0);
  expect_values(x.grad(), {2 / (1 + e), 2 * e / (1 + e)}, 1e-15);
}

TEST(ReduceBackward, LogsumexpGradientIsShiftInvariant) {
  // softmax(x + c) = softmax(x): for integer x, x + 1e10 is exact in float64 and so is every
  // x_k + c - (m + c) = x_k - m: the gradient at x + 1e10 is the gradient at x bit for bit, along
  // every axis of a 3-D tensor, with and without keepdim, for a random upstream weight. (From the
  // rounded output, exp(x - y), it was off by up to 1e-6.)
  manual_seed(41);
  std::vector<double> ints(24);
  for (std::size_t i = 0; i < ints.size(); ++i) ints[i] = static_cast<double>((i * 7) % 11) - 5.0;
  const Tensor x0 = f64(ints, {2, 3, 4});
  for (int axis : {0, 1, 2, -1})
    for (bool keep : {false, true}) {
      SCOPED_TRACE(str_cat("axis ", axis, keep ? " keepdim" : ""));
      Tensor a = x0.clone().requires_grad_(), b = (x0 + 1e10).detach().requires_grad_();
      const Tensor ya = logsumexp(a, axis, keep), yb = logsumexp(b, axis, keep);
      const Tensor g = randn(ya.shape(), DType::Float64);
      ya.backward(g);
      yb.backward(g);
      EXPECT_EQ(b.grad().to_vector<double>(), a.grad().to_vector<double>());
    }
}

TEST(ReduceForward, SumsDoNotDependOnTheThreadCount) {
  manual_seed(204);
  const Tensor x = randn({1000, 130});  // > kParallelGrain elements
  const int before = num_threads();
  set_num_threads(1);
  const Tensor a = sum(x), a0 = sum(x, 0), a1 = sum(x, 1);
  set_num_threads(2);
  const Tensor b = sum(x), b0 = sum(x, 0), b1 = sum(x, 1);
  set_num_threads(before);
  EXPECT_EQ(a.item(), b.item());
  EXPECT_EQ(a0.to_vector<float>(), b0.to_vector<float>());
  EXPECT_EQ(a1.to_vector<float>(), b1.to_vector<float>());
  // and against a plain double loop
  const float* p = x.data<float>();
  double s = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) s += p[i];
  EXPECT_NEAR(a.item(), s, 1e-3);
  double c7 = 0;
  for (std::int64_t i = 0; i < 1000; ++i) c7 += p[i * 130 + 7];
  EXPECT_NEAR(a0.at({7}), c7, 1e-3);
}

TEST(ReduceForward, LargeAxisReductionsMatchALoop) {
  manual_seed(205);
  const Tensor x = randn({40, 1100, 3}, DType::Float64);
  const Tensor mx = max(x, 1), s = sum(x, 1), am = argmax(x, 1);
  const double* p = x.data<double>();
  for (std::int64_t o = 0; o < 40; o += 13)
    for (std::int64_t i = 0; i < 3; ++i) {
      double best = -INFINITY, tot = 0;
      std::int64_t arg = -1;
      for (std::int64_t k = 0; k < 1100; ++k) {
        const double v = p[(o * 1100 + k) * 3 + i];
        tot += v;
        if (v > best) best = v, arg = k;
      }
      EXPECT_EQ(mx.at({o, i}), best);
      EXPECT_EQ(am.at({o, i}), static_cast<double>(arg));
      EXPECT_NEAR(s.at({o, i}), tot, 1e-9);
    }
}

// ---------------------------------------------------------------- kinks: ties

TEST(ReduceKinks, MaxTiesGoToTheFirstIndex) {
  Tensor x = f64({3, 1, 3, 2}, {4}).requires_grad_();
  max(x).backward();
  expect_values(x.grad(), {1, 0, 0, 0});
  x.zero_grad();
  min(f64({1, 1}, {2}) * x.reshape({2, 2})).backward(ones({}, DType::Float64));  // min over [3, 1, 3, 2]
  expect_values(x.grad(), {0, 1, 0, 0});

  Tensor y = f64({2, 2, 5, 5, 5, 1}, {2, 3}).requires_grad_();  // rows [2,2,5], [5,5,1]
  max(y, 1).backward(f64({10, 20}, {2}));
  expect_values(y.grad(), {0, 0, 10, 20, 0, 0});
  y.zero_grad();
  min(y, 0).backward(f64({1, 2, 3}, {3}));  // columns [2,5], [2,5], [5,1]
  expect_values(y.grad(), {1, 2, 0, 0, 0, 3});
  const Tensor all_equal = f64({4, 4, 4}, {3});
  EXPECT_EQ(argmax(all_equal, 0).item(), 0.0);
  EXPECT_EQ(argmin(all_equal, 0).item(), 0.0);
  Tensor t = f64({7, 7, 7}, {1, 3}).requires_grad_();
  min(t, -1, true).backward(f64({1}, {1, 1}));
  expect_values(t.grad(), {1, 0, 0});
}

TEST(ReduceKinks, ReductionsOfOneElement) {
  Tensor x = f64({2.5}, {1, 1}).requires_grad_();
  EXPECT_EQ(sum(x).item(), 2.5);
  EXPECT_EQ(max(x, 0).shape(), (Shape{1}));
  max(x).backward();
  expect_values(x.grad(), {1});
  Tensor s = f64({4}, {}).requires_grad_();
  sum(s).backward();
  expect_values(s.grad(), {1});
  EXPECT_EQ(max(s).item(), 4.0);
}

// ---------------------------------------------------------------- errors

TEST(ReduceErrors, AxisOutOfRangeNamesOpAxisAndShape) {
  const Tensor x = zeros({2, 3});
  expect_error([&] { sum(x, 2); }, {"sum", "axis 2", "[2, 3]"});
  expect_error([&] { sum(x, -3); }, {"sum", "axis -3", "[2, 3]"});
  expect_error([&] { mean(x, 5); }, {"mean", "axis 5", "[2, 3]"});
  expect_error([&] { max(x, 2); }, {"max", "axis 2", "[2, 3]"});
  expect_error([&] { min(x, -4, true); }, {"min", "axis -4", "[2, 3]"});
  expect_error([&] { argmax(x, 2); }, {"argmax", "axis 2", "[2, 3]"});
  expect_error([&] { argmin(x, 3); }, {"argmin", "axis 3", "[2, 3]"});
  expect_error([&] { logsumexp(x, 2); }, {"logsumexp", "axis 2", "[2, 3]"});
  expect_error([&] { sum(scalar(1.0), 0); }, {"sum", "axis 0", "[]"});
}

TEST(ReduceErrors, EmptyInputs) {
  expect_error([] { max(zeros({0})); }, {"max", "[0]"});
  expect_error([] { min(zeros({2, 0})); }, {"min", "[2, 0]"});
  expect_error([] { mean(zeros({0, 3})); }, {"mean", "[0, 3]"});
  expect_error([] { mean(zeros({0, 3}), 0); }, {"mean", "[0, 3]"});
  expect_error([] { max(zeros({2, 0}), 1); }, {"max", "[2, 0]"});
  expect_error([] { argmax(zeros({2, 0}), 1); }, {"argmax", "[2, 0]"});
  expect_error([] { logsumexp(zeros({0, 2}), 0); }, {"logsumexp", "[0, 2]"});
  // an empty sum is 0, like PyTorch
  EXPECT_EQ(sum(zeros({0, 3})).item(), 0.0);
  expect_values(sum(zeros({0, 3}), 0), {0, 0, 0});
}

TEST(ReduceErrors, DtypeAndSumTo) {
  const Tensor i = arange(4);
  expect_error([&] { sum(i); }, {"sum", "int64"});
  expect_error([&] { max(i, 0); }, {"max", "int64"});
  expect_error([&] { logsumexp(i, 0); }, {"logsumexp", "int64"});
  expect_error([] { sum_to(zeros({2, 3}), {4}); }, {"sum_to", "[2, 3]", "[4]"});
  expect_error([] { sum_to(zeros({3}), {2, 3}); }, {"sum_to", "[3]", "[2, 3]"});
}
