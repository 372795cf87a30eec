// Tests for ops/conv.h: conv2d (im2col + GEMM) against its plain twin conv2d_naive and the
// float64 gradient check; max_pool2d; dropout. PyTorch agreement is in test_reference_ops.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/parallel.h"
#include "core/random.h"
#include "ops/conv.h"
#include "ops/dropout.h"
#include "ops/pooling.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "test_util.h"

using namespace chalk;
using chalk::test_util::expect_error;

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

// |a - b| <= tol (1 + max |b|) element-wise: the round-off of a sum (a convolution, a
// gradient summed over pixels) is relative to the size of its terms, not of its result
void expect_close(const Tensor& a, const Tensor& b, double tol, const char* what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto va = a.to(DType::Float64).to_vector<double>(), vb = b.to(DType::Float64).to_vector<double>();
  double scale = 1;
  for (double v : vb) scale = std::max(scale, 1 + std::fabs(v));
  for (std::size_t i = 0; i < va.size(); ++i) ASSERT_NEAR(va[i], vb[i], tol * scale) << what << " at " << i;
}

// conv2d and conv2d_naive: the same values and the same gradients for x, w, b.
void compare_twins(const ConvCase& c, DType dt, double tol) {
  SCOPED_TRACE(testing::Message() << dtype_name(dt) << " N" << c.N << " C" << c.C << " " << c.H << "x" << c.W << " O"
                                  << c.O << " K" << c.K << " s" << c.stride << " p" << c.pad << " bias " << c.bias);
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
    compare_twins(c, DType::Float32, 1e-5);
  }
  // output rows of every length im2col copies differently: OW < 8, 8..16 (two overlapping
  // 8-element moves), > 16 (one memcpy); stride 2 with OW in 8..16
  const ConvCase widths[] = {{2, 2, 8, 6, 3, 3, 1, 0, true},
                             {2, 3, 9, 11, 4, 3, 1, 1, true},
                             {1, 2, 6, 20, 3, 3, 1, 1, false},
                             {2, 2, 21, 25, 3, 3, 2, 1, true}};
  for (const ConvCase& c : widths) {
    compare_twins(c, DType::Float64, 1e-12);
    compare_twins(c, DType::Float32, 1e-5);
  }
  // an MNIST-like layer: SmallCNN's second convolution on a small batch
  compare_twins({4, 16, 14, 14, 32, 5, 1, 2, true}, DType::Float32, 1e-5);
  compare_twins({4, 16, 14, 14, 32, 5, 1, 2, true}, DType::Float64, 1e-12);
}

TEST(Conv2d, LargeImagesAreDoneInBlocksOfOutputRows) {
  // 16 channels, 3 x 3, 64 x 64: one image's column matrix is 144 x 4096 elements (2.4 MB in
  // float32, 4.7 MB in float64), more than the 1 MB block budget of ops/conv.cpp, so the
  // image is done in several blocks of output rows (the last one shorter).
  manual_seed(5);
  compare_twins({1, 16, 64, 64, 2, 3, 1, 1, true}, DType::Float64, 1e-12);
  compare_twins({1, 16, 64, 64, 2, 3, 1, 1, true}, DType::Float32, 1e-5);
  compare_twins({2, 16, 64, 64, 2, 3, 2, 1, false}, DType::Float64, 1e-12);
}

TEST(Conv2d, SameResultForEveryThreadCount) {
  // large enough to be split over threads (ops/conv.cpp runs tiny batches on one thread);
  // 5 and 37 images: uneven splits over threads and over the backward's slabs of images.
  // Every output and gradient is bit-identical for 1, 2 and 3 threads: dW and db are summed
  // per fixed slab of images, not per thread, so adaptive threads (core/parallel.h), which
  // may change the count between steps, never change a number.
  for (const std::int64_t N : {5, 37}) {
    manual_seed(3);
    const Tensor x = randn({N, 4, 16, 16}), w = randn({8, 4, 3, 3}), b = randn({8}), up = randn({N, 8, 16, 16});
    auto run = [&](int threads) {
      set_num_threads(threads);
      Tensor xv = x.clone().detach().requires_grad_(), wv = w.clone().detach().requires_grad_(),
             bv = b.clone().detach().requires_grad_();
      Tensor y = conv2d(xv, wv, bv, 1, 1);
      y.backward(up);
      return std::vector<Tensor>{y, xv.grad(), wv.grad(), bv.grad()};
    };
    const int before = num_threads();
    const auto one = run(1), two = run(2), three = run(3);
    set_num_threads(before);
    const char* what[] = {"y", "dx", "dw", "db"};
    for (int k = 0; k < 4; ++k) {
      EXPECT_EQ(one[k].to_vector<float>(), two[k].to_vector<float>()) << what[k] << ", N = " << N;
      EXPECT_EQ(one[k].to_vector<float>(), three[k].to_vector<float>()) << what[k] << ", N = " << N;
    }
  }
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
  const Tensor x = zeros({2, 3, 8, 8}), w = zeros({4, 3, 3, 3});
  for (int naive = 0; naive < 2; ++naive) {
    auto conv = [naive](const Tensor& a, const Tensor& b, const Tensor& c = Tensor(), int s = 1, int p = 0) {
      return naive ? conv2d_naive(a, b, c, s, p) : conv2d(a, b, c, s, p);
    };
    const char* op = naive ? "conv2d_naive" : "conv2d";
    // channel mismatch: both shapes named
    expect_error([&] { conv(x, zeros({4, 2, 3, 3})); }, {op, "[2, 3, 8, 8]", "[4, 2, 3, 3]", "channels"});
    // ranks
    expect_error([&] { conv(zeros({3, 8, 8}), w); }, {op, "N x C x H x W", "[3, 8, 8]"});
    expect_error([&] { conv(x, zeros({4, 3, 3})); }, {op, "O x C x KH x KW", "[4, 3, 3]"});
    // kernel larger than the padded input (9 > 8 + 2 * 0), fine with padding 1
    expect_error([&] { conv(x, zeros({4, 3, 9, 9})); }, {op, "9x9", "larger", "8x8"});
    EXPECT_NO_THROW(conv(x, zeros({4, 3, 9, 9}), Tensor(), 1, 1));
    expect_error([&] { conv(x, w, Tensor(), 0); }, {op, "stride", ">= 1", "0"});
    expect_error([&] { conv(x, w, Tensor(), 1, -1); }, {op, "padding", ">= 0", "-1"});
    expect_error([&] { conv(x, w, zeros({5})); }, {op, "bias", "length 4", "[5]"});
    expect_error([&] { conv(x, zeros({4, 3, 3, 3}, DType::Float64)); }, {op, "float32", "float64"});
  }
}

// Sizes computed from the caller's stride and padding are checked before any buffer is sized
// from them: 2 * padding overflowed int for padding >= 2^30, and (H + 2 pad)^2 output pixels
// overflow int64 for padding near 2^31.
TEST(Conv2d, SizesThatOverflowAreRefusedBeforeAllocating) {
  const Tensor x = ones({1, 1, 1, 1}), w = ones({1, 1, 1, 1});
  // padding INT_MAX: OH = OW = 2^32 - 1, the output's element count overflows int64
  expect_error([&] { conv2d(x, w, Tensor(), 1, INT_MAX); }, {"conv2d", "overflows int64"});
  expect_error([&] { conv2d_naive(x, w, Tensor(), 1, INT_MAX); }, {"conv2d_naive", "overflows int64"});
  // padding 2^30: y is [1, 1, 2^31 + 1, 2^31 + 1], 2^62 elements of 4 bytes
  expect_error([&] { conv2d(x, w, Tensor(), 1, 1 << 30); }, {"conv2d", "[1, 1, 2147483649, 2147483649]", "byte count"});
}

TEST(MaxPool2d, AnEmptyBatchHasAnEmptyGradient) {
  // the backward took the output plane size as g.numel() / (N C): a division by zero at N = 0
  for (auto pool : {+[](const Tensor& x) { return max_pool2d(x, 2, 2); },
                    +[](const Tensor& x) { return max_pool2d_naive(x, 2, 2); },
                    +[](const Tensor& x) { return relu_max_pool2d(x, 2, 2); }}) {
    Tensor x = zeros({0, 3, 4, 4}, DType::Float64).requires_grad_();
    const Tensor y = pool(x);
    EXPECT_EQ(y.shape(), (Shape{0, 3, 2, 2}));
    sum(y).backward();
    EXPECT_EQ(x.grad().shape(), (Shape{0, 3, 4, 4}));
  }
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
  // a tie between (0, 1) and (1, 0): the first in row-major order is (0, 1)
  Tensor t2 = from_vector(std::vector<float>{0, 5, 5, 1}, {1, 1, 2, 2}).requires_grad_();
  max_pool2d(t2).backward(full({1, 1, 1, 1}, 3.0));
  EXPECT_EQ(t2.grad().to_vector<float>(), (std::vector<float>{0, 3, 0, 0}));
  // overlapping windows (kernel 2, stride 1): an input that is the maximum of several
  // windows receives the sum of their gradients
  Tensor t3 = from_vector(std::vector<float>{1, 2, 3, 4, 9, 5, 6, 7, 8}, {1, 1, 3, 3}).requires_grad_();
  Tensor y3 = max_pool2d(t3, 2, 1);
  EXPECT_EQ(y3.to_vector<float>(), (std::vector<float>{9, 9, 9, 9}));
  y3.backward(from_vector(std::vector<float>{1, 2, 3, 4}, {1, 1, 2, 2}));
  EXPECT_EQ(t3.grad().to_vector<float>(), (std::vector<float>{0, 0, 0, 0, 10, 0, 0, 0, 0}));
  expect_error([] { max_pool2d(zeros({1, 1, 1, 1})); }, {"max_pool2d", "kernel 2", "larger", "[1, 1, 1, 1]"});
  expect_error([] { max_pool2d(zeros({4, 4})); }, {"max_pool2d", "N x C x H x W", "[4, 4]"});
  expect_error([] { max_pool2d(zeros({1, 1, 4, 4}), 2, 0); }, {"max_pool2d", "stride", ">= 1"});
}

// Values and gradients of y = f(x), with a random upstream weight g.
std::pair<std::vector<float>, std::vector<float>> pool_values_and_grad(Tensor (*f)(const Tensor&), const Tensor& x0,
                                                                       const Tensor& g) {
  Tensor x = x0.detach().clone().requires_grad_();
  Tensor y = f(x);
  y.backward(g);
  return {y.to_vector<float>(), x.grad().to_vector<float>()};
}

// The 2 x 2 fast path against the general loop (its plain twin), and relu_max_pool2d
// against max_pool2d(relu(x)): bit-identical values and gradients, on integer-valued
// inputs full of ties, zeros and negatives, and on odd plane sizes (the last row and
// column are dropped).
TEST(MaxPool2d, FastPathAndReluFusionAgreeWithTheirTwins) {
  manual_seed(11);
  for (const Shape& shape : {Shape{3, 4, 28, 28}, Shape{2, 3, 7, 9}, Shape{1, 1, 2, 2}}) {
    const Tensor x = randint(-3, 4, shape).to(DType::Float32);  // values -3..3: many ties and zeros
    const std::int64_t out = shape[0] * shape[1] * (shape[2] / 2) * (shape[3] / 2);
    const Tensor g = randn({shape[0], shape[1], shape[2] / 2, shape[3] / 2});
    ASSERT_EQ(g.numel(), out);
    const auto fast = pool_values_and_grad([](const Tensor& t) { return max_pool2d(t); }, x, g);
    const auto plain = pool_values_and_grad([](const Tensor& t) { return max_pool2d_naive(t); }, x, g);
    EXPECT_EQ(fast.first, plain.first) << shape_str(shape);
    EXPECT_EQ(fast.second, plain.second) << shape_str(shape);
    const auto fused = pool_values_and_grad([](const Tensor& t) { return relu_max_pool2d(t); }, x, g);
    const auto composed = pool_values_and_grad([](const Tensor& t) { return max_pool2d(relu(t)); }, x, g);
    EXPECT_EQ(fused.first, composed.first) << shape_str(shape);
    EXPECT_EQ(fused.second, composed.second) << shape_str(shape);
  }
  // other windows go through the general loop in all three
  const Tensor r = randn({2, 2, 7, 7});
  EXPECT_EQ(max_pool2d(r, 3, 2).to_vector<float>(), max_pool2d_naive(r, 3, 2).to_vector<float>());
  EXPECT_EQ(relu_max_pool2d(r, 3, 1).to_vector<float>(), max_pool2d(relu(r), 3, 1).to_vector<float>());
  // a window with no positive value gives 0 and passes no gradient
  Tensor neg = from_vector(std::vector<float>{-1, -2, -3, -4}, {1, 1, 2, 2}).requires_grad_();
  Tensor yn = relu_max_pool2d(neg);
  EXPECT_EQ(yn.to_vector<float>(), (std::vector<float>{0}));
  yn.backward(ones({1, 1, 1, 1}));
  EXPECT_EQ(neg.grad().to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  // float64 gradient checks (random values: no ties, no zeros)
  manual_seed(12);
  const Tensor r64 = randn({2, 3, 6, 5}, DType::Float64);
  for (int k : {2, 3}) {
    auto gc = gradcheck([k](const std::vector<Tensor>& in) { return relu_max_pool2d(in[0], k, k == 2 ? 2 : 1); }, {r64});
    EXPECT_TRUE(gc.ok) << gc.report;
    auto gn = gradcheck([k](const std::vector<Tensor>& in) { return max_pool2d_naive(in[0], k, k == 2 ? 2 : 1); }, {r64});
    EXPECT_TRUE(gn.ok) << gn.report;
  }
  expect_error([] { relu_max_pool2d(zeros({4, 4})); }, {"relu_max_pool2d", "N x C x H x W", "[4, 4]"});
  expect_error([] { max_pool2d_naive(zeros({1, 1, 1, 1})); }, {"max_pool2d_naive", "kernel 2", "larger"});
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
  int kept = 0;
  for (int i = 0; i < 50; ++i) {  // dx = m / (1 - p): 0 where dropped, 2 where kept
    kept += yi.at({i}) != 0.0;
    EXPECT_EQ(xi.grad().at({i}), yi.at({i}) == 0.0 ? 0.0 : 2.0) << i;
    if (yi.at({i}) != 0.0) {
      EXPECT_FLOAT_EQ(yi.at({i}), 2 * xi.at({i})) << i;
    }
  }
  EXPECT_GT(kept, 10);
  EXPECT_LT(kept, 40);
  // evaluation: the identity
  EXPECT_EQ(dropout(x, 0.3, false).to_vector<float>(), x.to_vector<float>());
  EXPECT_THROW(dropout(x, 1.0, true), Error);
  EXPECT_THROW(dropout(x, -0.1, true), Error);
}
