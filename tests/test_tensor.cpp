// Tests for core/tensor.h: creation, random tensors, element access,
// reshape/view, clone, detach, dtype conversion, printing.
#include <gtest/gtest.h>

#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/autograd.h"
#include "core/random.h"
#include "core/tensor.h"
#include "ops/elementwise.h"

using namespace chalk;
using namespace chalk::test_util;

namespace {

// Runs `f`, expects it to throw chalk::Error, returns the message.

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

// ---------------------------------------------------------------- creation

TEST(Creation, ZerosOnesFull) {
  const Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.dim(), 2);
  for (float v : z.to_vector<float>()) EXPECT_EQ(v, 0.0f);

  const Tensor o = ones({4}, DType::Float64);
  EXPECT_EQ(o.dtype(), DType::Float64);
  for (double v : o.to_vector<double>()) EXPECT_EQ(v, 1.0);

  const Tensor f = full({2, 2}, 2.5, DType::Float64);
  for (double v : f.to_vector<double>()) EXPECT_EQ(v, 2.5);
  const Tensor fi = full({3}, 7, DType::Int64);
  EXPECT_EQ(fi.to_vector<std::int64_t>(), (std::vector<std::int64_t>{7, 7, 7}));

  const Tensor zl = zeros_like(f), ol = ones_like(fi);
  EXPECT_EQ(zl.shape(), f.shape());
  EXPECT_EQ(zl.dtype(), DType::Float64);
  EXPECT_EQ(ol.dtype(), DType::Int64);
  EXPECT_EQ(ol.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 1, 1}));
}

TEST(Creation, EmptyShapesAndZeroSizes) {
  const Tensor s = zeros({});
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);  // a scalar has one element
  const Tensor e = zeros({3, 0});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(e.to_vector<float>().empty());
  const std::string msg = error_of([] { Tensor::empty({2, -1}); });
  EXPECT_TRUE(contains(msg, "negative")) << msg;
  EXPECT_TRUE(contains(msg, "[2, -1]")) << msg;
}

TEST(Creation, Arange) {
  const Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), DType::Int64);
  EXPECT_EQ(a.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));

  const Tensor b = arange(1.0, 2.0, 0.25);  // 1, 1.25, 1.5, 1.75 (end excluded)
  EXPECT_EQ(b.dtype(), DType::Float32);
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{1.0f, 1.25f, 1.5f, 1.75f}));

  const Tensor c = arange(3.0, 0.0, -1.0, DType::Float64);  // 3, 2, 1
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{3, 2, 1}));

  EXPECT_EQ(arange(0).numel(), 0);
  EXPECT_EQ(arange(2.0, 1.0, 1.0).numel(), 0);  // empty range, not an error
  EXPECT_TRUE(contains(error_of([] { arange(0.0, 1.0, 0.0); }), "arange"));
}

TEST(Creation, FromVectorTensorScalar) {
  const Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(a.dtype(), DType::Float32);
  EXPECT_EQ(a.at({1, 0}), 4.0);
  const Tensor b = from_vector(std::vector<double>{1.5, -2}, {2});
  EXPECT_EQ(b.dtype(), DType::Float64);
  const Tensor c = from_vector(std::vector<std::int64_t>{3, 1}, {2, 1});
  EXPECT_EQ(c.dtype(), DType::Int64);
  EXPECT_EQ(c.at({0, 0}), 3.0);

  const std::string msg = error_of([] { from_vector(std::vector<float>{1, 2, 3}, {2, 2}); });
  EXPECT_TRUE(contains(msg, "from_vector")) << msg;
  EXPECT_TRUE(contains(msg, "[2, 2]")) << msg;
  EXPECT_TRUE(contains(msg, "3 values")) << msg;

  const Tensor t = tensor({1, 2.5, -3});
  EXPECT_EQ(t.shape(), (Shape{3}));
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2.5f, -3}));
  const Tensor ti = tensor({4, 5}, DType::Int64);
  EXPECT_EQ(ti.to_vector<std::int64_t>(), (std::vector<std::int64_t>{4, 5}));

  const Tensor s = scalar(3.25, DType::Float64);
  EXPECT_EQ(s.shape(), Shape{});
  EXPECT_EQ(s.item(), 3.25);
}

// ---------------------------------------------------------------- random

TEST(Random, ReproducibleUnderManualSeed) {
  manual_seed(42);
  const auto u1 = rand({100}).to_vector<float>();
  const auto n1 = randn({101}, DType::Float64).to_vector<double>();  // odd: Box-Muller spare
  const auto i1 = randint(-3, 4, {50}).to_vector<std::int64_t>();
  manual_seed(42);
  const auto u2 = rand({100}).to_vector<float>();
  const auto n2 = randn({101}, DType::Float64).to_vector<double>();
  const auto i2 = randint(-3, 4, {50}).to_vector<std::int64_t>();
  EXPECT_EQ(u1, u2);
  EXPECT_EQ(n1, n2);
  EXPECT_EQ(i1, i2);
  manual_seed(43);
  EXPECT_NE(rand({100}).to_vector<float>(), u1);  // another seed, other numbers
}

TEST(Random, Ranges) {
  manual_seed(1);
  const auto u = rand({10000}, DType::Float64).to_vector<double>();
  double mean = 0;
  for (double v : u) {
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0);
    mean += v / u.size();
  }
  EXPECT_NEAR(mean, 0.5, 0.02);

  const auto n = randn({10000}, DType::Float64).to_vector<double>();
  double m = 0, m2 = 0;
  for (double v : n) m += v / n.size(), m2 += v * v / n.size();
  EXPECT_NEAR(m, 0.0, 0.05);
  EXPECT_NEAR(std::sqrt(m2 - m * m), 1.0, 0.05);

  const Tensor ri = randint(-2, 3, {1000});
  EXPECT_EQ(ri.dtype(), DType::Int64);
  std::set<std::int64_t> seen;
  for (auto v : ri.to_vector<std::int64_t>()) {
    EXPECT_GE(v, -2);
    EXPECT_LT(v, 3);  // high is excluded
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 5u);  // every value in [-2, 3) occurs
  EXPECT_TRUE(contains(error_of([] { randint(3, 3, {2}); }), "randint"));
  EXPECT_TRUE(contains(error_of([] { rand({2}, DType::Int64); }), "rand"));
}

// ---------------------------------------------------------------- access

TEST(Access, ItemAtToVector) {
  const Tensor x = from_vector(std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});
  EXPECT_EQ(x.at({0, 0, 0}), 0.0);
  EXPECT_EQ(x.at({1, 2, 1}), 11.0);
  EXPECT_EQ(x.at({1, 0, 1}), 7.0);
  EXPECT_EQ(x.size(0), 2);
  EXPECT_EQ(x.size(-1), 2);
  EXPECT_EQ(x.size(1), 3);
  EXPECT_TRUE(contains(error_of([&] { x.size(3); }), "size"));

  std::string msg = error_of([&] { x.at({0, 3, 0}); });
  EXPECT_TRUE(contains(msg, "at")) << msg;
  EXPECT_TRUE(contains(msg, "[2, 3, 2]")) << msg;
  msg = error_of([&] { x.at({0, 0}); });
  EXPECT_TRUE(contains(msg, "2 indices")) << msg;

  EXPECT_EQ(scalar(-1.5).item(), -1.5);
  EXPECT_EQ(full({1, 1}, 4, DType::Int64).item(), 4.0);
  msg = error_of([&] { x.item(); });
  EXPECT_TRUE(contains(msg, "item")) << msg;
  EXPECT_TRUE(contains(msg, "[2, 3, 2]")) << msg;

  const auto v = x.to_vector<double>();
  ASSERT_EQ(v.size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(v[i], i);
}

TEST(Access, DataDtypeMismatchThrows) {
  Tensor x = zeros({2}, DType::Float64);
  EXPECT_NO_THROW(x.data<double>());
  const std::string msg = error_of([&] { x.data<float>(); });
  EXPECT_TRUE(contains(msg, "float32")) << msg;
  EXPECT_TRUE(contains(msg, "float64")) << msg;
  EXPECT_THROW(x.to_vector<std::int64_t>(), Error);
  const Tensor undefined;
  EXPECT_FALSE(undefined.defined());
  EXPECT_TRUE(contains(error_of([&] { undefined.shape(); }), "undefined"));
}

// ---------------------------------------------------------------- shape

TEST(Reshape, SharesDataAndInfers) {
  Tensor x = arange(0.0, 12.0, 1.0);
  Tensor y = x.reshape({3, -1});
  EXPECT_EQ(y.shape(), (Shape{3, 4}));
  EXPECT_EQ(x.view({-1, 2, 3}).shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(x.reshape({2, 2, 3}).at({1, 1, 2}), 11.0);
  // a view: writing through y changes x
  y.data<float>()[5] = 100.0f;
  EXPECT_EQ(x.at({5}), 100.0);
  // scalar <-> one element
  EXPECT_EQ(scalar(2.0).reshape({1, 1}).shape(), (Shape{1, 1}));
  EXPECT_EQ(ones({1}).reshape({}).shape(), Shape{});
  EXPECT_EQ(ones({1}).reshape({-1}).shape(), (Shape{1}));
  EXPECT_EQ(zeros({0, 3}).reshape({-1, 3}).shape(), (Shape{0, 3}));
}

TEST(Reshape, Errors) {
  const Tensor x = zeros({3, 4});
  std::string msg = error_of([&] { x.reshape({5, 2}); });
  EXPECT_TRUE(contains(msg, "reshape")) << msg;
  EXPECT_TRUE(contains(msg, "[3, 4]")) << msg;
  EXPECT_TRUE(contains(msg, "[5, 2]")) << msg;
  msg = error_of([&] { x.reshape({-1, -1}); });
  EXPECT_TRUE(contains(msg, "only one")) << msg;
  msg = error_of([&] { x.reshape({5, -1}); });  // 12 is not a multiple of 5
  EXPECT_TRUE(contains(msg, "[5, -1]")) << msg;
  msg = error_of([&] { x.reshape({-2, 6}); });
  EXPECT_TRUE(contains(msg, "-2")) << msg;
  msg = error_of([&] { x.view({0, -1}); });
  EXPECT_TRUE(contains(msg, "reshape")) << msg;
}

// ---------------------------------------------------------------- sizes that overflow int64
// PyTorch 1.13: torch.zeros(2**32, 2**32) -> "Storage size calculation overflowed with
// sizes=[4294967296, 4294967296]"; chalk accepted these shapes with a wrapped element count
// (numel 0, or -2^63) and then crashed indexing them.
TEST(Sizes, ShapesWhoseElementCountOverflowsAreRefusedNamingTheShape) {
  const std::int64_t two32 = std::int64_t{1} << 32, two61 = std::int64_t{1} << 61;
  expect_error([&] { zeros({two32, two32}); }, {"zeros", "[4294967296, 4294967296]", "overflows int64"});
  expect_error([&] { ones({2, 2, 1, two61}); }, {"ones", "[2, 2, 1, 2305843009213693952]", "overflows int64"});
  expect_error([&] { zeros({0}).reshape({two32, two32}); }, {"reshape", "[4294967296, 4294967296]", "overflows int64"});
  expect_error([&] { zeros({0}).reshape({-1, two32, two32}); }, {"reshape", "[-1, 4294967296, 4294967296]", "overflows"});
  expect_error([&] { full({two32, two32}, 1.0); }, {"full", "[4294967296, 4294967296]"});
  expect_error([&] { rand({two32, two32}); }, {"rand", "[4294967296, 4294967296]"});
  expect_error([&] { randn({two32, two32}); }, {"randn", "[4294967296, 4294967296]"});
  expect_error([&] { randint(0, 2, {two32, two32}); }, {"randint", "[4294967296, 4294967296]"});
  expect_error([&] { from_vector(std::vector<float>{}, {two32, two32}); }, {"from_vector", "[4294967296, 4294967296]"});
  expect_error([&] { Tensor::empty({two32, two32}); }, {"empty", "[4294967296, 4294967296]"});
  expect_error([&] { numel({two32, two32}); }, {"numel", "[4294967296, 4294967296]"});
  expect_error([&] { contiguous_strides({2, two32, two32}); }, {"contiguous_strides", "[2, 4294967296, 4294967296]"});
  // the result of broadcasting, before anything is allocated
  expect_error([&] { broadcast_shapes({two32, 1}, {1, two32}, "add"); }, {"add", "[4294967296, 4294967296]", "overflows"});
}

TEST(Sizes, AZeroDimensionDoesNotExcuseOverflowingStrides) {
  // numel is 0, but the strides of [0, 2^40, 2^40] are [2^80, 2^40, 1]: refused (as the safetensors
  // reader refuses such a header); PyTorch refuses [2^40, 2^40, 0] with the same overflow message.
  const std::int64_t two40 = std::int64_t{1} << 40;
  expect_error([&] { zeros({0, two40, two40}); }, {"zeros", "[0, 1099511627776, 1099511627776]", "strides"});
  expect_error([&] { zeros({two40, two40, 0}); }, {"zeros", "[1099511627776, 1099511627776, 0]"});
  // within int64 a zero dimension is an empty tensor, whatever the others
  const std::int64_t two30 = std::int64_t{1} << 30;
  const Tensor e = zeros({two30, 0, two30});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_EQ(contiguous_strides(e.shape()), (std::vector<std::int64_t>{0, two30, 1}));
  EXPECT_EQ(e.reshape({0}).numel(), 0);
}

TEST(Sizes, ByteCountsThatOverflowAreRefused) {
  // 2^62 float32 elements fit int64, their 2^64 bytes do not
  const std::int64_t two62 = std::int64_t{1} << 62;
  expect_error([&] { zeros({two62}); }, {"zeros", "[4611686018427387904]", "4 bytes", "byte count overflows int64"});
  expect_error([&] { zeros({two62 / 2}, DType::Int64); }, {"zeros", "[2305843009213693952]", "8 bytes"});
  EXPECT_EQ(checked_nbytes({3, 5}, 8, "test"), 120);
  EXPECT_EQ(checked_nbytes({}, 4, "test"), 4);
}

TEST(Sizes, NegativeDimensionsAreRefusedByEveryCreationFunction) {
  expect_error([] { zeros({-1, 2}); }, {"zeros", "negative dimension -1", "[-1, 2]"});
  expect_error([] { ones({2, -3}); }, {"ones", "negative dimension -3"});
  expect_error([] { rand({-2}); }, {"rand", "negative dimension -2"});
  expect_error([] { numel({4, -1}); }, {"numel", "negative"});
  expect_error([] { arange(-1); }, {"arange", "-1"});
}

TEST(Sizes, CheckedArithmeticNamesTheOpAndTheValues) {
  const std::int64_t big = std::int64_t{1} << 62;
  EXPECT_EQ(checked_mul(1 << 20, 1 << 20, "op", "x"), std::int64_t{1} << 40);
  EXPECT_EQ(checked_mul(0, INT64_MAX, "op", "x"), 0);
  EXPECT_EQ(checked_add(big, big - 1, "op", "x"), INT64_MAX);
  expect_error([&] { checked_mul(big, 2, "conv2d", "the buffer"); }, {"conv2d: the buffer 4611686018427387904 x 2 overflows int64"});
  expect_error([&] { checked_add(big, big, "cat", "the axis"); }, {"cat: the axis 4611686018427387904 + 4611686018427387904 overflows"});
  expect_error([&] { checked_mul(-1, 2, "op", "the size"); }, {"op: the size -1 x 2", "negative"});
}

TEST(Sizes, ArangeRefusesCountsBeyondInt64AndNonFiniteBounds) {
  expect_error([] { arange(0, 1e30, 1); }, {"arange", "1e+30", "more than int64"});
  expect_error([] { arange(0, 1, 1e-300); }, {"arange", "more than int64"});
  expect_error([] { arange(0, std::nan(""), 1); }, {"arange", "finite", "nan"});
  expect_error([] { arange(0, INFINITY, 1); }, {"arange", "finite", "inf"});
  EXPECT_EQ(arange(2.0, 5.0, 1.0).numel(), 3);
}

TEST(Sizes, RandintSpansTheWholeInt64Range) {
  // high - low overflows int64 here: the range is taken in unsigned arithmetic
  manual_seed(3);
  const auto v = randint(INT64_MIN, INT64_MAX, {2000}).to_vector<std::int64_t>();
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  EXPECT_LT(*lo, -(std::int64_t{1} << 60));  // both halves are drawn
  EXPECT_GT(*hi, std::int64_t{1} << 60);
  EXPECT_NE(*hi, INT64_MAX);  // [low, high): high itself never
  const auto w = randint(-5, 5, {500}).to_vector<std::int64_t>();
  for (auto x : w) EXPECT_TRUE(x >= -5 && x < 5) << x;
}

TEST(Reshape, IsDifferentiable) {
  Tensor x = randn({2, 3}, DType::Float64).requires_grad_();
  Tensor y = x.reshape({6});
  EXPECT_EQ(y.grad_fn_name(), "reshape");
  y.backward(from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {6}));
  EXPECT_EQ(x.grad().shape(), (Shape{2, 3}));
  EXPECT_EQ(x.grad().at({1, 2}), 6.0);
}

// ---------------------------------------------------------------- copies

TEST(Clone, OwnsItsDataAndPassesGradient) {
  Tensor x = tensor({1, 2, 3});
  Tensor c = x.clone();
  c.data<float>()[0] = 9;
  EXPECT_EQ(x.at({0}), 1.0);  // the original is untouched
  EXPECT_EQ(c.at({0}), 9.0);
  EXPECT_EQ(c.shape(), x.shape());

  Tensor w = tensor({1, 2, 3}, DType::Float64).requires_grad_();
  Tensor cw = w.clone();
  EXPECT_EQ(cw.grad_fn_name(), "clone");
  cw.backward(tensor({4, 5, 6}, DType::Float64));
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{4, 5, 6}));
}

TEST(Detach, SharesDataCutsGraph) {
  Tensor x = tensor({1, 2}).requires_grad_();
  Tensor y = x * 2.0;
  Tensor d = y.detach();
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.grad_fn_name(), "");
  d.data<float>()[0] = -7;  // same data as y
  EXPECT_EQ(y.at({0}), -7.0);
  EXPECT_FALSE(x.detach().requires_grad());
}

TEST(To, RoundTripAndGradient) {
  const Tensor x = tensor({0.5, -1.25, 3});
  const Tensor x64 = x.to(DType::Float64);
  EXPECT_EQ(x64.dtype(), DType::Float64);
  EXPECT_EQ(x64.to_vector<double>(), (std::vector<double>{0.5, -1.25, 3}));
  EXPECT_EQ(x64.to(DType::Float32).to_vector<float>(), x.to_vector<float>());
  // to int truncates toward zero, back to float
  const Tensor xi = x.to(DType::Int64);
  EXPECT_EQ(xi.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, -1, 3}));
  EXPECT_EQ(xi.to(DType::Float64).to_vector<double>(), (std::vector<double>{0, -1, 3}));
  // same dtype: no copy needed, same values
  EXPECT_EQ(x.to(DType::Float32).to_vector<float>(), x.to_vector<float>());

  // differentiable between floats: the gradient comes back in the input's dtype
  Tensor w = tensor({1, 2}).requires_grad_();
  Tensor w64 = w.to(DType::Float64);
  EXPECT_EQ(w64.grad_fn_name(), "to");
  w64.backward(tensor({3, 4}, DType::Float64));
  EXPECT_EQ(w.grad().dtype(), DType::Float32);
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{3, 4}));
}

// ---------------------------------------------------------------- printing

TEST(Print, LikePyTorch) {
  const std::string s = to_string(from_vector(std::vector<float>{1, 2.5f, -3, 4}, {2, 2}));
  EXPECT_TRUE(contains(s, "tensor(")) << s;
  EXPECT_TRUE(contains(s, "1.0000")) << s;
  EXPECT_TRUE(contains(s, "2.5000")) << s;
  EXPECT_TRUE(contains(s, "-3.0000")) << s;
  EXPECT_TRUE(contains(s, "shape=[2, 2]")) << s;
  EXPECT_TRUE(contains(s, "dtype=float32")) << s;
  EXPECT_FALSE(contains(s, "...")) << s;
  // rows on their own lines
  EXPECT_TRUE(contains(s, "[[1.0000, 2.5000],\n")) << s;

  const std::string i = to_string(arange(4));
  EXPECT_TRUE(contains(i, "[0, 1, 2, 3]")) << i;
  EXPECT_TRUE(contains(i, "dtype=int64")) << i;

  const std::string sc = to_string(scalar(2, DType::Float64));
  EXPECT_TRUE(contains(sc, "2.0000")) << sc;
  EXPECT_TRUE(contains(sc, "shape=[]")) << sc;
  EXPECT_TRUE(contains(sc, "dtype=float64")) << sc;

  EXPECT_EQ(to_string(Tensor()), "tensor(undefined)");

  Tensor leaf = ones({2}).requires_grad_();
  EXPECT_TRUE(contains(to_string(leaf), "requires_grad=true"));
  EXPECT_TRUE(contains(to_string(leaf * 2.0), "grad_fn=<mul_scalar>"));

  std::ostringstream os;
  os << arange(3);
  EXPECT_EQ(os.str(), to_string(arange(3)));
}

TEST(Print, LongTensorsAreTruncated) {
  const std::string s = to_string(arange(2000));
  EXPECT_TRUE(contains(s, "[0, 1, 2, ..., 1997, 1998, 1999]")) << s;
  EXPECT_TRUE(contains(s, "shape=[2000]")) << s;
  EXPECT_FALSE(contains(s, "1000")) << s;  // the middle is not printed
  EXPECT_LT(s.size(), 100u);

  const std::string m = to_string(zeros({100, 100}));
  EXPECT_TRUE(contains(m, "...")) << m;
  EXPECT_TRUE(contains(m, "shape=[100, 100]")) << m;
  // 3 + 3 rows of 3 + 3 values each
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 6) << m;
  EXPECT_LT(m.size(), 500u);

  // up to 1000 elements everything is printed
  const std::string full_print = to_string(arange(1000));
  EXPECT_FALSE(contains(full_print, "...")) << full_print;
  EXPECT_TRUE(contains(full_print, " 500,")) << full_print;
}
