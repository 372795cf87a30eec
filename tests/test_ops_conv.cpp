// Tests for ops/conv.h: conv2d (im2col + GEMM) against its plain twin conv2d_naive and the
// float64 gradient check; max_pool2d; dropout. PyTorch agreement is in test_reference_ops.cpp.
#include <gtest/gtest.h>

#include <cmath>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/parallel.h"
#include "core/random.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

using namespace chalk;

namespace {

struct ConvCase {
  std::int64_t N, C, H, W, O, K;
  int stride, pad;
  bool bias;
};

const ConvCase kCases[] = {
    {2, 2, 5, 5, 3, 3, 1, 0, true},  {2, 3, 6, 7, 3, 3, 1, 1, false}, {1, 2, 7, 6, 3, 3, 2, 1, true},
    {2, 1, 5, 5, 2, 5, 1, 2, true},  {3, 2, 6, 6, 4, 2, 2, 0, true},  {1, 3, 5, 7, 2, 3, 2, 2, false},
};

void expect_close(const Tensor& a, const Tensor& b, double tol, const char* what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto va = a.to(DType::Float64).to_vector<double>(), vb = b.to(DType::Float64).to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i) ASSERT_NEAR(va[i], vb[i], tol) << what << " at " << i;
}

// conv2d and conv2d_naive: the same values and the same gradients for x, w, b.
void compare_twins(const ConvCase& c, DType dt, double tol) {
  Tensor x = randn({c.N, c.C, c.H, c.W}, dt), w = randn({c.O, c.C, c.K, c.K}, dt), b = randn({c.O}, dt);
  Tensor up = randn({c.N, c.O, (c.H + 2 * c.pad - c.K) / c.stride + 1, (c.W + 2 * c.pad - c.K) / c.stride + 1}, dt);
  Tensor grads[2][3];
  Tensor out[2];
  for (int v = 0; v < 2; ++v) {
    Tensor xv = x.clone().detach().requires_grad_(), wv = w.clone().detach().requires_grad_(),
           bv = b.clone().detach().requires_grad_();
    out[v] = v == 0 ? conv2d(xv, wv, c.bias ? bv : Tensor(), c.stride, c.pad)
                    : conv2d_naive(xv, wv, c.bias ? bv : Tensor(), c.stride, c.pad);
    out[v].backward(up);
    grads[v][0] = xv.grad();
    grads[v][1] = wv.grad();
    grads[v][2] = c.bias ? bv.grad() : zeros({c.O}, dt);
  }
  expect_close(out[0], out[1], tol, "y");
  expect_close(grads[0][0], grads[1][0], tol, "dx");
  expect_close(grads[0][1], grads[1][1], tol, "dw");
  expect_close(grads[0][2], grads[1][2], tol, "db");
}

}  // namespace

TEST(Conv2d, GradcheckFastAndNaive) {
  manual_seed(1);
  for (const ConvCase& c : kCases) {
    SCOPED_TRACE(testing::Message() << "N" << c.N << " C" << c.C << " " << c.H << "x" << c.W << " O" << c.O << " K"
                                    << c.K << " s" << c.stride << " p" << c.pad << " bias " << c.bias);
    const Tensor x = randn({c.N, c.C, c.H, c.W}, DType::Float64), w = randn({c.O, c.C, c.K, c.K}, DType::Float64),
                 b = randn({c.O}, DType::Float64);
    for (int naive = 0; naive < 2; ++naive) {
      auto r = gradcheck(
          [&](const std::vector<Tensor>& in) {
            const Tensor bias = c.bias ? in[2] : Tensor();
            return naive ? conv2d_naive(in[0], in[1], bias, c.stride, c.pad) : conv2d(in[0], in[1], bias, c.stride, c.pad);
          },
          {x, w, b});
      EXPECT_TRUE(r.ok) << (naive ? "naive: " : "im2col: ") << r.report;
    }
  }
}

TEST(Conv2d, AgreesWithNaiveTwinFloat64AndFloat32) {
  manual_seed(2);
  for (const ConvCase& c : kCases) {
    compare_twins(c, DType::Float64, 1e-12);
    compare_twins(c, DType::Float32, 1e-4);
  }
  // an MNIST-like layer: SmallCNN's second convolution on a small batch
  compare_twins({4, 16, 14, 14, 32, 5, 1, 2, true}, DType::Float32, 2e-3);
}

TEST(Conv2d, SameResultWithOneOrTwoThreads) {
  manual_seed(3);
  const Tensor x = randn({5, 3, 9, 9}), w = randn({4, 3, 3, 3}), b = randn({4}), up = randn({5, 4, 9, 9});
  std::vector<float> results[2];
  const int before = num_threads();
  for (int t = 1; t <= 2; ++t) {
    set_num_threads(t);
    Tensor xv = x.clone().detach().requires_grad_(), wv = w.clone().detach().requires_grad_();
    Tensor y = conv2d(xv, wv, b, 1, 1);
    y.backward(up);
    results[t - 1] = y.to_vector<float>();
    for (float v : xv.grad().to_vector<float>()) results[t - 1].push_back(v);
    for (float v : wv.grad().to_vector<float>()) results[t - 1].push_back(v);
  }
  set_num_threads(before);
  // x and y do not depend on the split; dW sums per-thread parts, so allow float round-off
  ASSERT_EQ(results[0].size(), results[1].size());
  for (std::size_t i = 0; i < results[0].size(); ++i) EXPECT_NEAR(results[0][i], results[1][i], 1e-4);
}

TEST(Conv2d, OnlyNeededGradientsAreComputed) {
  // the image needs no gradient (the first layer): only w and b get one
  const Tensor x = randn({2, 1, 6, 6});
  Tensor w = randn({3, 1, 3, 3}).requires_grad_(), b = zeros({3}).requires_grad_();
  sum(conv2d(x, w, b, 1, 1)).backward();
  EXPECT_TRUE(w.grad().defined());
  EXPECT_TRUE(b.grad().defined());
  EXPECT_FALSE(x.requires_grad());
  // db = number of output pixels per channel when dL/dy = 1
  EXPECT_DOUBLE_EQ(b.grad().at({0}), 2 * 36);
}

TEST(Conv2d, HandComputedValue) {
  // 1 x 1 x 3 x 3 input 1..9, a 2 x 2 kernel of ones, no padding: sums of 2 x 2 windows
  const Tensor x = arange(1, 10, 1).reshape({1, 1, 3, 3});
  const Tensor w = ones({1, 1, 2, 2});
  const Tensor y = conv2d(x, w);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{12, 16, 24, 28}));
  // padding 1, stride 2: corners see one 2x2 window each, partly padding
  const Tensor y2 = conv2d(x, w, Tensor(), 2, 1);
  EXPECT_EQ(y2.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(y2.to_vector<float>(), (std::vector<float>{1, 5, 11, 28}));
}

TEST(Conv2d, ErrorsNameShapes) {
  const Tensor x = zeros({2, 3, 8, 8});
  try {
    conv2d(x, zeros({4, 2, 3, 3}));
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("conv2d"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3, 8, 8]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 2, 3, 3]"), std::string::npos) << m;
  }
  EXPECT_THROW(conv2d(zeros({3, 8, 8}), zeros({4, 3, 3, 3})), Error);         // rank
  EXPECT_THROW(conv2d(x, zeros({4, 3, 9, 9})), Error);                        // kernel too large
  EXPECT_THROW(conv2d(x, zeros({4, 3, 3, 3}), Tensor(), 0), Error);           // stride
  EXPECT_THROW(conv2d(x, zeros({4, 3, 3, 3}), Tensor(), 1, -1), Error);       // padding
  EXPECT_THROW(conv2d(x, zeros({4, 3, 3, 3}), zeros({5})), Error);            // bias length
  EXPECT_THROW(conv2d(x, zeros({4, 3, 3, 3}, DType::Float64)), Error);        // dtype
}

TEST(MaxPool2d, ValuesGradcheckAndTies) {
  const Tensor x = from_vector(std::vector<float>{1, 2, 5, 3, 4, 0, 1, 9, 7, 8, 2, 2, 6, 1, 3, 4}, {1, 1, 4, 4});
  EXPECT_EQ(max_pool2d(x).to_vector<float>(), (std::vector<float>{4, 9, 8, 4}));
  manual_seed(4);
  const Tensor r = randn({2, 3, 6, 5}, DType::Float64);  // random values: no ties
  auto gc = gradcheck([](const std::vector<Tensor>& in) { return max_pool2d(in[0], 2, 2); }, {r});
  EXPECT_TRUE(gc.ok) << gc.report;
  auto gc3 = gradcheck([](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 1); }, {r});
  EXPECT_TRUE(gc3.ok) << gc3.report;
  // a tie: the whole gradient goes to the first maximum in row-major order
  Tensor t = ones({1, 1, 2, 2}).requires_grad_();
  max_pool2d(t).backward(ones({1, 1, 1, 1}));
  EXPECT_EQ(t.grad().to_vector<float>(), (std::vector<float>{1, 0, 0, 0}));
  EXPECT_THROW(max_pool2d(zeros({1, 1, 1, 1})), Error);
  EXPECT_THROW(max_pool2d(zeros({4, 4})), Error);
}

TEST(Dropout, StatisticsMaskAndEval) {
  Generator g1(5), g2(5);
  const Tensor x = ones({100000});
  const Tensor y = dropout(x, 0.3, true, g1);
  const auto v = y.to_vector<float>();
  double zeros_seen = 0, total = 0;
  for (float e : v) {
    zeros_seen += e == 0.0f;
    total += e;
    ASSERT_TRUE(e == 0.0f || std::fabs(e - 1.0 / 0.7) < 1e-6);
  }
  EXPECT_NEAR(zeros_seen / v.size(), 0.3, 0.01);
  EXPECT_NEAR(total / v.size(), 1.0, 0.02);  // inverted dropout keeps the mean
  EXPECT_EQ(dropout(x, 0.3, true, g2).to_vector<float>(), v);  // same seed, same mask
  // backward uses the forward's mask
  Tensor xi = randn({50}).requires_grad_();
  Generator g3(9);
  Tensor yi = dropout(xi, 0.5, true, g3);
  yi.backward(ones({50}));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(xi.grad().at({i}) == 0.0, yi.at({i}) == 0.0) << i;
  // evaluation: the identity
  EXPECT_EQ(dropout(x, 0.3, false).to_vector<float>(), x.to_vector<float>());
  EXPECT_THROW(dropout(x, 1.0, true), Error);
  EXPECT_THROW(dropout(x, -0.1, true), Error);
}
