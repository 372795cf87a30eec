// Tests for core/autograd.h: the engine (seeding, accumulation, inputs used
// twice, freeing the graph, long chains) and NoGradGuard.
#include <gtest/gtest.h>

#include "test_util.h"

#include <cmath>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"

using namespace chalk;
using namespace chalk::test_util;

namespace {


bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }



}  // namespace

// ---------------------------------------------------------------- seeding

TEST(Backward, ScalarOutput) {
  Tensor x = f64({1, -2, 3}, {3}).requires_grad_();
  Tensor L = sum(x * x);  // dL/dx = 2x
  EXPECT_TRUE(L.requires_grad());
  EXPECT_FALSE(L.is_leaf());
  EXPECT_EQ(L.grad_fn_name(), "sum");
  L.backward();
  expect_values(x.grad(), {2, -4, 6});
  EXPECT_EQ(x.grad().dtype(), DType::Float64);
  EXPECT_FALSE(x.grad().requires_grad());
}

TEST(Backward, OneElementNonScalarIsAccepted) {
  Tensor x = f64({2}, {1, 1}).requires_grad_();
  Tensor y = x * 3.0;  // shape [1, 1]: one element, dL/dy = 1
  y.backward();
  expect_values(x.grad(), {3});
}

TEST(Backward, NonScalarWithoutGradOutThrowsNamingTheShape) {
  Tensor x = randn({2, 3}, DType::Float64).requires_grad_();
  Tensor y = x * 2.0;
  const std::string msg = error_of([&] { y.backward(); });
  EXPECT_TRUE(contains(msg, "backward")) << msg;
  EXPECT_TRUE(contains(msg, "[2, 3]")) << msg;
  EXPECT_TRUE(contains(msg, "scalar")) << msg;
  EXPECT_FALSE(x.grad().defined());
}

TEST(Backward, ExplicitGradOut) {
  Tensor x = f64({1, 2, 3, 4}, {2, 2}).requires_grad_();
  Tensor y = x * x;  // dy/dx = 2x
  y.backward(f64({1, 10, 100, 1000}, {2, 2}));
  expect_values(x.grad(), {2, 40, 600, 8000});
}

TEST(Backward, GradOutMustMatchShapeAndDtype) {
  Tensor x = randn({2, 3}, DType::Float64).requires_grad_();
  Tensor y = x * 2.0;
  std::string msg = error_of([&] { y.backward(ones({3, 2}, DType::Float64)); });
  EXPECT_TRUE(contains(msg, "[3, 2]")) << msg;
  EXPECT_TRUE(contains(msg, "[2, 3]")) << msg;
  msg = error_of([&] { y.backward(ones({2, 3}, DType::Float32)); });
  EXPECT_TRUE(contains(msg, "float32")) << msg;
  EXPECT_TRUE(contains(msg, "float64")) << msg;
}

TEST(Backward, OutputThatDoesNotRequireGradThrows) {
  const Tensor x = ones({2});
  const std::string msg = error_of([&] { sum(x).backward(); });
  EXPECT_TRUE(contains(msg, "does not require grad")) << msg;
}

TEST(Backward, LeafAsOutputGetsItsSeed) {
  Tensor x = f64({5}, {}).requires_grad_();
  x.backward();
  expect_values(x.grad(), {1});
}

TEST(Backward, SeveralOutputsAtOnce) {
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  Tensor a = x * 3.0, b = x * x;
  backward({a, b}, {f64({1, 1}, {2}), f64({1, 2}, {2})});  // 3 + 2x * [1, 2]
  expect_values(x.grad(), {5, 11});
  EXPECT_THROW(backward({a}, {}), Error);
}

// ---------------------------------------------------------------- accumulation

TEST(Backward, GradientsAccumulateUntilZeroGrad) {
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  sum(x * x).backward();
  expect_values(x.grad(), {2, 4});
  sum(x * 3.0).backward();  // a second graph adds to .grad
  expect_values(x.grad(), {5, 7});
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(x * x).backward();
  expect_values(x.grad(), {2, 4});
}

TEST(Backward, AccumulationDoesNotWriteIntoTheCallersGradOut) {
  // The upstream gradient handed to backward() flows unchanged to x: x.grad
  // must not become an alias of it (a later backward would add into the
  // caller's tensor, and the sum would be wrong).
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  const Tensor g = f64({1, 1}, {2});
  x.clone().backward(g);
  x.clone().backward(g);
  x.clone().backward(g);
  expect_values(g, {1, 1});
  expect_values(x.grad(), {3, 3});
}

TEST(Backward, InputUsedTwiceGetsTheSum) {
  Tensor x = f64({1, -2, 3}, {3}).requires_grad_();
  sum(x * x).backward();
  expect_values(x.grad(), {2, -4, 6});

  x.zero_grad();
  sum(x + x).backward();
  expect_values(x.grad(), {2, 2, 2});

  x.zero_grad();
  sum(x - x).backward();
  expect_values(x.grad(), {0, 0, 0});

  x.zero_grad();
  sum(x / x).backward();  // y = 1: d/dx = 1/x - x/x^2 = 0
  expect_values(x.grad(), {0, 0, 0});
}

TEST(Backward, IntermediateUsedInTwoBranches) {
  // y = exp(x), z = 2y + sin(y):  dz/dx = (2 + cos(y)) exp(x)
  const std::vector<double> xs{0.1, -0.5, 0.7};
  Tensor x = f64(xs, {3}).requires_grad_();
  Tensor y = exp(x);
  sum(y * 2.0 + sin(y)).backward();
  std::vector<double> want;
  for (double v : xs) want.push_back((2 + std::cos(std::exp(v))) * std::exp(v));
  expect_values(x.grad(), want, 1e-12);
}

TEST(Backward, SameUpstreamGradientReachingALeafTwiceThroughAdds) {
  // L = sum(x + (x + d)):  dL/dx = 2, dL/dd = 1. Both adds pass g through
  // unchanged, so the leaf buffers must not alias each other.
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  Tensor d = f64({5, 6}, {2}).requires_grad_();
  sum(x + (x + d)).backward();
  expect_values(x.grad(), {2, 2});
  expect_values(d.grad(), {1, 1});

  Tensor a = f64({1, 2}, {2}).requires_grad_();
  Tensor b = f64({3, 4}, {2}).requires_grad_();
  Tensor c = f64({5, 6}, {2}).requires_grad_();
  (a + (b + (a + c))).backward(f64({1, 10}, {2}));
  expect_values(a.grad(), {2, 20});
  expect_values(b.grad(), {1, 10});
  expect_values(c.grad(), {1, 10});
}

// The two functions every contribution goes through (core/autograd.h), called directly.
TEST(Backward, AccumulateGradientSumsIntoANewTensor) {
  Tensor pending;
  const Tensor a = f64({1, 2}, {2}), b = f64({10, 20}, {2});
  accumulate_gradient(pending, a);
  EXPECT_EQ(pending.impl(), a.impl());  // the first contribution as it is: nothing writes into it
  accumulate_gradient(pending, b);
  expect_values(pending, {11, 22});
  expect_values(a, {1, 2});  // neither contribution written
  expect_values(b, {10, 20});
  expect_error([&] { accumulate_gradient(pending, f64({1, 2, 3}, {3})); },
               {"accumulate_gradient", "[3] float64", "[2] float64"});
  expect_error([&] { accumulate_gradient(pending, ones({2}, DType::Float32)); },
               {"accumulate_gradient", "float32", "float64"});
  expect_error([&] { accumulate_gradient(pending, Tensor()); }, {"accumulate_gradient", "undefined"});
}

TEST(Backward, AccumulateGradCopiesASharedContributionAndAddsInPlace) {
  Tensor x = f64({0, 0}, {2}).requires_grad_();
  const Tensor g = f64({1, 2}, {2});  // held here: .grad() must not alias it
  accumulate_grad(x, g);
  const Tensor held = x.grad();
  EXPECT_NE(held.data<double>(), g.data<double>());
  const std::int64_t version = held.version();
  accumulate_grad(x, f64({10, 20}, {2}));
  expect_values(held, {11, 22});  // added in place: the handle sees the sum
  EXPECT_GT(held.version(), version);
  expect_values(g, {1, 2});
  expect_error([&] { accumulate_grad(x, f64({1, 2, 3}, {3})); }, {"accumulate_grad", "[3] float64", "leaf of shape [2]"});
  expect_error([&] { accumulate_grad(x * 2.0, f64({1, 2}, {2})); }, {"accumulate_grad", "output of mul", "not a leaf"});
  expect_error([&] { accumulate_grad(Tensor(), f64({1, 2}, {2})); }, {"accumulate_grad", "leaf is undefined"});
}

TEST(Backward, GraphsWithSharedNodesPassGradcheck) {
  manual_seed(3);
  const auto r = gradcheck(
      [](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        const Tensor y = tanh(x);
        return x + (y * x + (y + x)) * y;
      },
      {randn({2, 3}, DType::Float64)});
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(Backward, OnlyInputsThatRequireGradGetOne) {
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  Tensor c = f64({3, 4}, {2});  // a constant
  sum(x * c).backward();
  expect_values(x.grad(), {3, 4});
  EXPECT_FALSE(c.grad().defined());
  EXPECT_FALSE(c.requires_grad());
}

// ---------------------------------------------------------------- no grad

TEST(NoGrad, RecordsNothing) {
  Tensor x = ones({3}).requires_grad_();
  EXPECT_TRUE(grad_enabled());
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    Tensor y = exp(x * 2.0) + x;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
    EXPECT_EQ(y.grad_fn_name(), "");
    EXPECT_THROW(sum(y).backward(), Error);
    {
      NoGradGuard nested;
      EXPECT_FALSE(grad_enabled());
    }
    EXPECT_FALSE(grad_enabled());  // the inner guard restores "off", not "on"
  }
  EXPECT_TRUE(grad_enabled());
  Tensor z = x * 2.0;
  EXPECT_TRUE(z.requires_grad());
  EXPECT_EQ(z.grad_fn_name(), "mul_scalar");
}

TEST(NoGrad, BackwardLambdasRunWithoutRecording) {
  // A second-order graph is never built: the gradient is a plain tensor.
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  sum(exp(x) * x).backward();
  EXPECT_FALSE(x.grad().requires_grad());
  EXPECT_EQ(x.grad().grad_fn_name(), "");
  EXPECT_TRUE(grad_enabled());
}

// ---------------------------------------------------------------- freeing

TEST(Backward, SecondBackwardThroughFreedGraphThrows) {
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  Tensor L = sum(exp(x));
  L.backward();
  const std::string msg = error_of([&] { L.backward(); });
  EXPECT_TRUE(contains(msg, "freed")) << msg;
  EXPECT_TRUE(contains(msg, "retain_graph")) << msg;
  // the gradient of the first call is intact
  expect_values(x.grad(), {std::exp(1.0), std::exp(2.0)});
}

TEST(Backward, FreedIntermediateReachedFromANewGraphThrows) {
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  Tensor y = exp(x);
  sum(y).backward();
  EXPECT_THROW(sum(y * 2.0).backward(), Error);
}

TEST(Backward, RetainGraphAllowsASecondBackward) {
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  Tensor L = sum(x * x);
  L.backward(Tensor(), /*retain_graph=*/true);
  L.backward(Tensor(), /*retain_graph=*/true);
  expect_values(x.grad(), {4, 8});
  L.backward();  // the last one may free it
  expect_values(x.grad(), {6, 12});
  EXPECT_THROW(L.backward(), Error);
}

// ---------------------------------------------------------------- long chains

TEST(LongChain, BackwardThrough100000OpsDoesNotOverflow) {
  Tensor x = f64({0.5}, {1}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y + 1.0;
  EXPECT_NEAR(y.item(), 100000.5, 1e-9);
  y.backward();
  expect_values(x.grad(), {1});
}

TEST(LongChain, DestroyingAnUnusedChainDoesNotOverflow) {
  Tensor x = f64({0.5}, {1}).requires_grad_();
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y + 1.0;
  }  // y and its 100,000 nodes are freed here, without backward
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y * y;  // each node uses its input twice
  }
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y + relu(y);  // residual: two nodes share each input
  }
  SUCCEED();
}

TEST(LongChain, BackwardThroughAChainWithSharedInputs) {
  Tensor x = f64({1}, {1}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = (y + y) * 0.5;  // y = x at every step, dy/dx = 1
  y.backward();
  expect_values(x.grad(), {1}, 1e-9);
}

// ---------------------------------------------------------------- leaves

TEST(Leaves, RequiresGradOnNonLeafThrows) {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = x * 2.0;
  const std::string msg = error_of([&] { y.requires_grad_(); });
  EXPECT_TRUE(contains(msg, "requires_grad_")) << msg;
  EXPECT_TRUE(contains(msg, "leaf")) << msg;
  EXPECT_TRUE(contains(msg, "mul_scalar")) << msg;  // names the op that produced it
  // detach() makes a leaf that may require grad
  Tensor d = y.detach();
  EXPECT_NO_THROW(d.requires_grad_());
  EXPECT_TRUE(d.requires_grad());
}

TEST(Leaves, IntegerTensorsCannotRequireGrad) {
  Tensor i = arange(3);
  const std::string msg = error_of([&] { i.requires_grad_(); });
  EXPECT_TRUE(contains(msg, "int64")) << msg;
  EXPECT_NO_THROW(i.requires_grad_(false));
}

TEST(Leaves, RequiresGradCanBeSwitchedOff) {
  Tensor x = ones({2}).requires_grad_();
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  x.requires_grad_(false);
  EXPECT_FALSE(x.requires_grad());
  EXPECT_FALSE((x * 2.0).requires_grad());
}

// ---------------------------------------------------------------- custom ops

// A tiny op written against record(): y = 3x, with a configurable VJP.
Tensor triple(const Tensor& x, Shape grad_shape) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * 3.0;
  }
  record(y, "triple", {x}, [grad_shape](const Tensor& g, Grads& dx) {
    EXPECT_TRUE(dx.wants(0));
    dx.add(0, (g * 3.0).reshape(grad_shape));
  });
  return y;
}

TEST(Record, CustomOpGradientAndShapeCheck) {
  Tensor x = f64({1, 2, 3, 4}, {2, 2}).requires_grad_();
  sum(triple(x, {2, 2})).backward();
  expect_values(x.grad(), {3, 3, 3, 3});

  Tensor w = f64({1, 2, 3, 4}, {2, 2}).requires_grad_();
  const std::string msg = error_of([&] { sum(triple(w, {4})).backward(); });
  EXPECT_TRUE(contains(msg, "triple")) << msg;  // the op's name
  EXPECT_TRUE(contains(msg, "[4]")) << msg;     // what it gave
  EXPECT_TRUE(contains(msg, "[2, 2]")) << msg;  // what was expected
}

TEST(Record, NothingRecordedWithoutGradInputs) {
  Tensor x = ones({2});
  Tensor y = triple(x, {2});
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn_name(), "");
}
