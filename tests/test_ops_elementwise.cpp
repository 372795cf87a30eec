// Tests for ops/elementwise.h: float64 gradcheck of every op on several
// shapes (broadcasting both ways, size-1 axes, scalars), forward values
// against hand-computed numbers, the kinks, and every error path.
#include <gtest/gtest.h>

#include "test_util.h"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

using namespace chalk;
using namespace chalk::test_util;

namespace {


// The message names every one of `parts`.



// Values of `x` moved at least `margin` away from each point in `kinks`
// (so central differences with h = 1e-6 never straddle a kink).
Tensor away_from(Tensor x, const std::vector<double>& kinks, double margin = 0.05) {
  double* p = x.data<double>();
  for (std::int64_t i = 0; i < x.numel(); ++i)
    for (double k : kinks)
      if (std::abs(p[i] - k) < margin) p[i] = k + (p[i] >= k ? margin : -margin);
  return x;
}

Tensor randn64(const Shape& s) { return randn(s, DType::Float64); }
Tensor positive64(const Shape& s) { return add(rand(s, DType::Float64), 0.5); }            // [0.5, 1.5)
Tensor nonzero64(const Shape& s) { return away_from(randn64(s), {0.0}, 0.3); }              // |x| >= 0.3
Tensor uniform64(const Shape& s, double lo, double hi) { return add(mul(rand(s, DType::Float64), hi - lo), lo); }


const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{3, 4}, {4}},       {{4}, {3, 4}},       // a trailing vector, both ways
    {{3, 1}, {1, 4}},    {{1, 4}, {3, 1}},    // both sides broadcast
    {{2, 3, 4}, {3, 1}}, {{3, 1}, {2, 3, 4}}, // rank 3 with a size-1 axis
    {{}, {2, 3}},        {{2, 3}, {}},        // scalars
    {{2, 3}, {2, 3}},                         // same shape
    {{1}, {2, 1, 3}},    {{2, 1, 3}, {1, 1}}, // one-element tensors of other ranks
    {{}, {}},
};

const std::vector<Shape> kUnaryShapes = {{}, {1}, {5}, {3, 1}, {2, 3, 4}, {1, 4, 1}};

}  // namespace

// ---------------------------------------------------------------- gradcheck: binary

TEST(ElementwiseGrad, AddSubMulDivBroadcasting) {
  manual_seed(100);
  for (const auto& [sa, sb] : kBroadcastPairs) {
    expect_gradcheck("add", [](const auto& in) { return add(in[0], in[1]); }, {randn64(sa), randn64(sb)});
    expect_gradcheck("sub", [](const auto& in) { return sub(in[0], in[1]); }, {randn64(sa), randn64(sb)});
    expect_gradcheck("mul", [](const auto& in) { return mul(in[0], in[1]); }, {randn64(sa), randn64(sb)});
    expect_gradcheck("div", [](const auto& in) { return div(in[0], in[1]); }, {randn64(sa), nonzero64(sb)});
  }
}

TEST(ElementwiseGrad, OperatorsAndScalarOverloads) {
  manual_seed(101);
  for (const Shape& s : kUnaryShapes) {
    const Tensor x = nonzero64(s);
    expect_gradcheck("x + s", [](const auto& in) { return in[0] + 2.5; }, {x});
    expect_gradcheck("s + x", [](const auto& in) { return 2.5 + in[0]; }, {x});
    expect_gradcheck("x - s", [](const auto& in) { return in[0] - 1.5; }, {x});
    expect_gradcheck("s - x", [](const auto& in) { return 1.5 - in[0]; }, {x});
    expect_gradcheck("x * s", [](const auto& in) { return in[0] * -2.0; }, {x});
    expect_gradcheck("s * x", [](const auto& in) { return -2.0 * in[0]; }, {x});
    expect_gradcheck("x / s", [](const auto& in) { return in[0] / 4.0; }, {x});
    expect_gradcheck("s / x", [](const auto& in) { return 3.0 / in[0]; }, {x});
    expect_gradcheck("-x", [](const auto& in) { return -in[0]; }, {x});
    expect_gradcheck("rsub", [](const auto& in) { return rsub(0.5, in[0]); }, {x});
    expect_gradcheck("rdiv", [](const auto& in) { return rdiv(-0.5, in[0]); }, {x});
  }
  const Tensor a = randn64({3, 4}), b = nonzero64({4});
  expect_gradcheck("a + b", [](const auto& in) { return in[0] + in[1]; }, {a, b});
  expect_gradcheck("a - b", [](const auto& in) { return in[0] - in[1]; }, {a, b});
  expect_gradcheck("a * b", [](const auto& in) { return in[0] * in[1]; }, {a, b});
  expect_gradcheck("a / b", [](const auto& in) { return in[0] / in[1]; }, {a, b});
}

TEST(ElementwiseGrad, InputUsedTwice) {
  manual_seed(102);
  const Tensor x = nonzero64({2, 3});
  expect_gradcheck("x * x", [](const auto& in) { return in[0] * in[0]; }, {x});
  expect_gradcheck("x / x + x", [](const auto& in) { return in[0] / in[0] + in[0]; }, {x});
  expect_gradcheck("exp(x) * sin(x)", [](const auto& in) { return exp(in[0]) * sin(in[0]); }, {x});
}

TEST(ElementwiseGrad, Where) {
  manual_seed(103);
  // cond as float mask, as int64, and broadcast against a and b
  const Tensor cond = f64({1, 0, 0, 1, 1, 0}, {2, 3});
  expect_gradcheck("where", [&](const auto& in) { return where(cond, in[0], in[1]); },
                   {randn64({2, 3}), randn64({2, 3})});
  const Tensor icond = from_vector(std::vector<std::int64_t>{0, 1, 1}, {3, 1});
  expect_gradcheck("where (broadcast)", [&](const auto& in) { return where(icond, in[0], in[1]); },
                   {randn64({3, 4}), randn64({4})});
  expect_gradcheck("where (scalar branch)", [&](const auto& in) { return where(icond, in[0], in[1]); },
                   {randn64({}), randn64({2, 3, 1})});
}

// ---------------------------------------------------------------- gradcheck: unary

TEST(ElementwiseGrad, SmoothUnaryOps) {
  manual_seed(104);
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> ops = {
      {"neg", [](const Tensor& x) { return neg(x); }},
      {"exp", [](const Tensor& x) { return exp(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"softplus", [](const Tensor& x) { return softplus(x); }},
      {"cos", [](const Tensor& x) { return cos(x); }},
      {"sin", [](const Tensor& x) { return sin(x); }},
      {"square", [](const Tensor& x) { return square(x); }},
      {"pow 2", [](const Tensor& x) { return pow(x, 2.0); }},
      {"pow 3", [](const Tensor& x) { return pow(x, 3.0); }},
      {"pow 1", [](const Tensor& x) { return pow(x, 1.0); }},
  };
  for (const Shape& s : kUnaryShapes)
    for (const auto& [name, op] : ops)
      expect_gradcheck(name, [op = op](const auto& in) { return op(in[0]); }, {randn64(s)});
  // large |x|: sigmoid and softplus stay accurate where the naive formulas overflow
  const Tensor big = f64({-30, -8, 8, 30}, {4});
  expect_gradcheck("sigmoid (large |x|)", [](const auto& in) { return sigmoid(in[0]); }, {big});
  expect_gradcheck("softplus (large |x|)", [](const auto& in) { return softplus(in[0]); }, {big});
}

TEST(ElementwiseGrad, UnaryOpsOnRestrictedDomains) {
  manual_seed(105);
  for (const Shape& s : kUnaryShapes) {
    expect_gradcheck("log", [](const auto& in) { return log(in[0]); }, {positive64(s)});
    expect_gradcheck("sqrt", [](const auto& in) { return sqrt(in[0]); }, {positive64(s)});
    expect_gradcheck("pow 0.5", [](const auto& in) { return pow(in[0], 0.5); }, {positive64(s)});
    expect_gradcheck("pow -1.5", [](const auto& in) { return pow(in[0], -1.5); }, {positive64(s)});
    expect_gradcheck("abs", [](const auto& in) { return abs(in[0]); }, {nonzero64(s)});
    expect_gradcheck("relu", [](const auto& in) { return relu(in[0]); }, {nonzero64(s)});
    expect_gradcheck("acos", [](const auto& in) { return acos(in[0]); }, {uniform64(s, -0.95, 0.95)});
    expect_gradcheck("clamp", [](const auto& in) { return clamp(in[0], -0.5, 0.5); },
                     {away_from(randn64(s), {-0.5, 0.5})});
    expect_gradcheck("clamp_min", [](const auto& in) { return clamp_min(in[0], 0.2); },
                     {away_from(randn64(s), {0.2})});
  }
}

TEST(ElementwiseGrad, BroadcastTo) {
  manual_seed(106);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 1}, {2, 3, 4}}, {{}, {2, 3}}, {{4}, {3, 4}}, {{1}, {1}}, {{2, 1, 3}, {2, 5, 3}}, {{1, 1}, {3, 2}}};
  for (const auto& [from, to] : cases) {
    const Shape target = to;
    expect_gradcheck("broadcast_to", [target](const auto& in) { return broadcast_to(in[0], target); },
                     {randn64(from)});
  }
}

TEST(ElementwiseGrad, Composition) {
  manual_seed(107);
  // a small expression mixing several ops and broadcasts
  expect_gradcheck(
      "composition",
      [](const auto& in) { return softplus(in[0] * in[1] - 0.5) / (1.0 + exp(-in[2])) + sqrt(square(in[1]) + 1.0); },
      {randn64({2, 3}), randn64({3}), randn64({2, 1})});
}

// ---------------------------------------------------------------- forward values

TEST(ElementwiseForward, BinaryHandComputed) {
  const Tensor a = f64({1, 2, 3, 4}, {2, 2});
  const Tensor v = f64({10, 20}, {2});
  expect_values(a + v, {11, 22, 13, 24});
  expect_values(v + a, {11, 22, 13, 24});
  expect_values(a - v, {-9, -18, -7, -16});
  expect_values(v - a, {9, 18, 7, 16});
  expect_values(a * v, {10, 40, 30, 80});
  expect_values(a / v, {0.1, 0.1, 0.3, 0.2});
  // [3, 1] op [1, 4]: an outer sum
  const Tensor col = f64({1, 2, 3}, {3, 1}), row = f64({10, 20, 30, 40}, {1, 4});
  const Tensor outer = col + row;
  EXPECT_EQ(outer.shape(), (Shape{3, 4}));
  expect_values(outer, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  // [2, 3, 1] * [3] -> [2, 3, 3]
  const Tensor p = f64({1, 2, 3, 4, 5, 6}, {2, 3, 1}) * f64({1, 10, 100}, {3});
  EXPECT_EQ(p.shape(), (Shape{2, 3, 3}));
  EXPECT_EQ(p.at({1, 2, 2}), 600.0);
  EXPECT_EQ(p.at({0, 1, 0}), 2.0);
  // scalar tensor with a matrix
  const Tensor s = scalar(2, DType::Float64) * a;
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  expect_values(s, {2, 4, 6, 8});
  EXPECT_EQ((scalar(2.0) + scalar(3.0)).shape(), Shape{});
}

TEST(ElementwiseForward, ScalarOverloads) {
  const Tensor x = f64({1, 2, 4}, {3});
  expect_values(x + 1.0, {2, 3, 5});
  expect_values(1.0 + x, {2, 3, 5});
  expect_values(x - 1.0, {0, 1, 3});
  expect_values(1.0 - x, {0, -1, -3});
  expect_values(x * 3.0, {3, 6, 12});
  expect_values(3.0 * x, {3, 6, 12});
  expect_values(x / 2.0, {0.5, 1, 2});
  expect_values(2.0 / x, {2, 1, 0.5});
  expect_values(-x, {-1, -2, -4});
  expect_values(rsub(5.0, x), {4, 3, 1});
  expect_values(rdiv(8.0, x), {8, 4, 2});
  // dtypes are kept
  EXPECT_EQ((x * 2.0).dtype(), DType::Float64);
  EXPECT_EQ((tensor({1, 2}) * 2.0).dtype(), DType::Float32);
  EXPECT_EQ((tensor({1, 2}) + tensor({3, 4})).dtype(), DType::Float32);
}

TEST(ElementwiseForward, UnaryHandComputed) {
  const double pi = std::acos(-1.0);
  expect_values(exp(f64({0, 1, -1}, {3})), {1, std::exp(1.0), std::exp(-1.0)});
  expect_values(log(f64({1, std::exp(2.0)}, {2})), {0, 2});
  expect_values(sqrt(f64({4, 0, 2.25}, {3})), {2, 0, 1.5});
  expect_values(pow(f64({2, 3, 4}, {3}), 3.0), {8, 27, 64});
  expect_values(pow(f64({4, 9}, {2}), 0.5), {2, 3});
  expect_values(pow(f64({-3, 2}, {2}), 2.0), {9, 4});
  expect_values(square(f64({-3, 0.5}, {2})), {9, 0.25});
  expect_values(abs(f64({-3, 0, 2}, {3})), {3, 0, 2});
  expect_values(relu(f64({-1, 0, 2}, {3})), {0, 0, 2});
  expect_values(sigmoid(f64({0, std::log(3.0)}, {2})), {0.5, 0.75});
  expect_values(tanh(f64({0, 1}, {2})), {0, std::tanh(1.0)});
  expect_values(softplus(f64({0, 1}, {2})), {std::log(2.0), std::log(1 + std::exp(1.0))});
  expect_values(cos(f64({0, pi}, {2})), {1, -1});
  expect_values(sin(f64({pi / 2, 0}, {2})), {1, 0});
  expect_values(acos(f64({0, 0.5, -0.5}, {3})), {pi / 2, pi / 3, 2 * pi / 3});
  expect_values(clamp(f64({-2, -0.5, 0, 0.5, 2}, {5}), -0.5, 0.5), {-0.5, -0.5, 0, 0.5, 0.5});
  expect_values(clamp_min(f64({-2, 0.1, 3}, {3}), 0.1), {0.1, 0.1, 3});
  // float32 computes in float32
  const Tensor y = exp(tensor({0, 1}));
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_FLOAT_EQ(static_cast<float>(y.at({1})), std::exp(1.0f));
}

TEST(ElementwiseForward, ExtremeInputsStayFinite) {
  // sigmoid and softplus are computed without overflowing exp
  const Tensor x = f64({-1000, 1000}, {2});
  expect_values(sigmoid(x), {0, 1});
  expect_values(softplus(x), {0, 1000});
  const Tensor xf = tensor({-200, 200});
  expect_values(sigmoid(xf), {0, 1});
  expect_values(softplus(xf), {0, 200});
}

TEST(ElementwiseForward, BroadcastToWhereAndMasks) {
  const Tensor b = broadcast_to(f64({1, 2, 3}, {3, 1}), {2, 3, 2});
  EXPECT_EQ(b.shape(), (Shape{2, 3, 2}));
  expect_values(b, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  // int64 tensors broadcast too (labels)
  const Tensor bi = broadcast_to(from_vector(std::vector<std::int64_t>{7, 8}, {2}), {2, 2});
  EXPECT_EQ(bi.dtype(), DType::Int64);
  EXPECT_EQ(bi.to_vector<std::int64_t>(), (std::vector<std::int64_t>{7, 8, 7, 8}));

  const Tensor w = where(f64({1, 0, 1}, {3}), f64({1, 2, 3}, {3}), f64({-1}, {1}));
  expect_values(w, {1, -1, 3});
  // a selection, not c a + (1 - c) b: an inf in the branch not taken stays out of the result
  const Tensor a0 = f64({1, 0}, {2});
  expect_values(where(gt(a0, 0.5), log(a0), zeros({2}, DType::Float64)), {0, 0});
  // each element's gradient goes to the branch it came from
  Tensor a = f64({1, 2, 3}, {3}).requires_grad_();
  sum(where(f64({1, 0, 1}, {3}), a * 2.0, a * 3.0)).backward();
  expect_values(a.grad(), {2, 3, 2});

  const Tensor x = f64({-1, 0, 2}, {3});
  expect_values(gt(x, 0.0), {0, 0, 1});
  expect_values(lt(x, 0.0), {1, 0, 0});
  EXPECT_EQ(gt(x, 0.0).dtype(), DType::Float64);
  const Tensor e = eq(from_vector(std::vector<std::int64_t>{1, 2, 3}, {3, 1}),
                      from_vector(std::vector<std::int64_t>{1, 2, 3}, {1, 3}));
  EXPECT_EQ(e.dtype(), DType::Float32);
  EXPECT_EQ(e.shape(), (Shape{3, 3}));
  expect_values(e, {1, 0, 0, 0, 1, 0, 0, 0, 1});
  // masks carry no gradient
  Tensor r = randn64({3}).requires_grad_();
  EXPECT_FALSE(gt(r, 0.0).requires_grad());
  EXPECT_FALSE(lt(r, 0.0).requires_grad());
  EXPECT_FALSE(eq(r, r).requires_grad());
}

TEST(ElementwiseForward, LargeTensorsUseTheParallelPathCorrectly) {
  // > kParallelGrain elements, general broadcasting path ([N, D] + [N, 1] + [D])
  manual_seed(108);
  const Tensor a = randn64({300, 257}), c = randn64({300, 1}), r = randn64({257});
  const Tensor y = a + c * r;
  const double *pa = a.data<double>(), *pc = c.data<double>(), *pr = r.data<double>(), *py = y.data<double>();
  for (std::int64_t i = 0; i < 300; ++i)
    for (std::int64_t j = 0; j < 257; ++j) ASSERT_NEAR(py[i * 257 + j], pa[i * 257 + j] + pc[i] * pr[j], 1e-12);
  // and its gradient, compared with the closed form: d(sum(w * y))/dc = sum_j w r
  Tensor cc = c.detach().clone().requires_grad_();
  const Tensor w = randn64({300, 257});
  sum(w * (a + cc * r)).backward();
  const double* pw = w.data<double>();
  for (std::int64_t i = 0; i < 300; i += 37) {
    double s = 0;
    for (std::int64_t j = 0; j < 257; ++j) s += pw[i * 257 + j] * pr[j];
    EXPECT_NEAR(cc.grad().at({i, 0}), s, 1e-9);
  }
}

// ---------------------------------------------------------------- kinks

TEST(ElementwiseKinks, ReluAndAbsAtZeroHaveGradientZero) {
  Tensor x = f64({-1, 0, 2}, {3}).requires_grad_();
  sum(relu(x) * f64({5, 5, 5}, {3})).backward();
  expect_values(x.grad(), {0, 0, 5});
  x.zero_grad();
  sum(abs(x) * f64({5, 5, 5}, {3})).backward();
  expect_values(x.grad(), {-5, 0, 5});
  Tensor xf = tensor({0.0f}).requires_grad_();
  sum(relu(xf) + abs(xf)).backward();
  expect_values(xf.grad(), {0});
}

TEST(ElementwiseKinks, ClampEdgesPassTheGradient) {
  // gradient 1 on [lo, hi] including both edges, 0 strictly outside
  Tensor x = f64({-2, -0.5, 0, 0.5, 2}, {5}).requires_grad_();
  sum(clamp(x, -0.5, 0.5) * 3.0).backward();
  expect_values(x.grad(), {0, 3, 3, 3, 0});
  Tensor y = f64({0.1, 0.2, 0.3}, {3}).requires_grad_();
  sum(clamp_min(y, 0.2)).backward();
  expect_values(y.grad(), {0, 1, 1});
  // lo == hi is allowed: a constant except exactly at the point
  expect_values(clamp(f64({-1, 1}, {2}), 0.25, 0.25), {0.25, 0.25});
}

// acos as torch.acos, no hidden clamp: torch.acos([-1, -0.999999, 0, 0.999999, 1, 2]) ->
// [pi, 3.1401784, pi/2, 0.0014142, 0, nan], grad [-inf, -707.1070, -1, -707.1070, -inf, nan].
TEST(ElementwiseKinks, AcosAtPlusMinusOneIsPyTorchs) {
  Tensor x = f64({-1, -0.999999, 0, 0.999999, 1, 2}, {6}).requires_grad_();
  const Tensor y = acos(x);
  sum(y).backward();
  const auto yv = y.to_vector<double>();
  const auto gv = x.grad().to_vector<double>();
  EXPECT_DOUBLE_EQ(yv[0], std::acos(-1.0));
  EXPECT_DOUBLE_EQ(yv[2], std::acos(0.0));
  EXPECT_EQ(yv[4], 0.0);
  EXPECT_TRUE(std::isnan(yv[5]));
  EXPECT_EQ(gv[0], -INFINITY);
  EXPECT_NEAR(gv[1], -1.0 / std::sqrt(1 - 0.999999 * 0.999999), 1e-6);
  EXPECT_NEAR(gv[1], -707.1069579, 1e-6);
  EXPECT_EQ(gv[2], -1.0);
  EXPECT_EQ(gv[4], -INFINITY);
  EXPECT_TRUE(std::isnan(gv[5]));
}

// ---------------------------------------------------------------- errors

TEST(ElementwiseErrors, ShapeMismatchNamesOpAndShapes) {
  const Tensor a = zeros({2, 3}), b = zeros({4});
  expect_error([&] { add(a, b); }, {"add", "[2, 3]", "[4]"});
  expect_error([&] { sub(a, b); }, {"sub", "[2, 3]", "[4]"});
  expect_error([&] { mul(a, b); }, {"mul", "[2, 3]", "[4]"});
  expect_error([&] { div(a, b); }, {"div", "[2, 3]", "[4]"});
  expect_error([&] { a + zeros({3, 3}); }, {"add", "[2, 3]", "[3, 3]"});
  expect_error([&] { where(ones({2, 3}), a, b); }, {"where", "[4]"});
  expect_error([&] { eq(a, b); }, {"eq", "[2, 3]", "[4]"});
}

TEST(ElementwiseErrors, DtypeMismatchNamesOpAndDtypes) {
  const Tensor a = zeros({2}), b = zeros({2}, DType::Float64);
  for (auto [name, f] : std::vector<std::pair<std::string, std::function<void()>>>{
           {"add", [&] { add(a, b); }}, {"sub", [&] { sub(a, b); }},
           {"mul", [&] { mul(a, b); }}, {"div", [&] { div(a, b); }}})
    expect_error(f, {name, "float32", "float64", "[2]"});
  expect_error([&] { where(ones({2}), a, b); }, {"where", "float32", "float64"});
  expect_error([&] { eq(a, b); }, {"eq", "float32", "float64"});
}

TEST(ElementwiseErrors, IntegerInputsAreRejected) {
  const Tensor i = arange(3);
  expect_error([&] { exp(i); }, {"exp", "int64"});
  expect_error([&] { relu(i); }, {"relu", "int64"});
  expect_error([&] { add(i, i); }, {"add", "int64"});
  expect_error([&] { i * 2.0; }, {"mul", "int64"});
  expect_error([&] { gt(i, 1.0); }, {"gt", "int64"});
}

TEST(ElementwiseErrors, ClampAndBroadcastTo) {
  expect_error([] { clamp(zeros({2}), 1.0, -1.0); }, {"clamp", "lo", "hi"});
  expect_error([] { broadcast_to(zeros({3}), {2, 4}); }, {"broadcast_to", "[3]", "[2, 4]"});
  expect_error([] { broadcast_to(zeros({2, 3}), {3}); }, {"broadcast_to", "[2, 3]", "[3]"});
  expect_error([] { broadcast_to(zeros({2, 1}), {1, 3}); }, {"broadcast_to", "[2, 1]", "[1, 3]"});
}
