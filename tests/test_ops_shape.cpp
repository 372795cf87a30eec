// Tests for ops/shape_ops.h: transpose, permute, slice, index_select, gather,
// cat, stack, one_hot, flatten — forward values by hand, float64 gradchecks
// (random upstream weight), accumulation of repeated reads, every error path.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/autograd.h"
#include "core/error.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "test_util.h"

using chalk::test_util::expect_error;

using namespace chalk;

namespace {

// x = 0, 1, 2, ... in float64, reshaped.
Tensor iota(const Shape& s) { return arange(0.0, static_cast<double>(numel(s)), 1.0, DType::Float64).reshape(s); }

Tensor longs(std::vector<std::int64_t> v, Shape s = {}) {
  if (s.empty()) s = {static_cast<std::int64_t>(v.size())};
  return from_vector(v, s);
}

void expect_gradcheck(const TensorFn& f, const std::vector<Tensor>& in) {
  const auto r = gradcheck(f, in);
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_GT(r.checked, 0);
}

}  // namespace

// ---------------------------------------------------------------- permute, transpose

TEST(Cat, AJoinedAxisLongerThanInt64IsRefused) {
  // [2^62, 0] tensors hold nothing, but two of them joined along axis 0 have 2^63 rows
  const Tensor a = zeros({std::int64_t{1} << 62, 0});
  expect_error([&] { cat({a, a}, 0); }, {"cat", "4611686018427387904 + 4611686018427387904", "overflows int64"});
  // joined along the empty axis: 2^62 rows of nothing, copied without visiting each row
  EXPECT_EQ(cat({a, a}, 1).shape(), (Shape{std::int64_t{1} << 62, 0}));
  EXPECT_EQ(slice(a, 0, 5, std::int64_t{1} << 61).shape(), (Shape{(std::int64_t{1} << 61) - 5, 0}));
  const Tensor b = zeros({std::int64_t{1} << 61, 2, 0});  // index_select: 2^62 rows of nothing
  EXPECT_EQ(index_select(b, 1, from_vector(std::vector<std::int64_t>{1, 0}, {2})).shape(), b.shape());
}

TEST(Permute, ForwardValues) {
  const Tensor x = iota({2, 3, 4});
  const Tensor t = transpose(x, 0, 2);
  ASSERT_EQ(t.shape(), (Shape{4, 3, 2}));
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j)
      for (std::int64_t k = 0; k < 4; ++k) EXPECT_EQ(t.at({k, j, i}), x.at({i, j, k}));
  const Tensor p = permute(x, {2, 0, 1});
  ASSERT_EQ(p.shape(), (Shape{4, 2, 3}));
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j)
      for (std::int64_t k = 0; k < 4; ++k) EXPECT_EQ(p.at({k, i, j}), x.at({i, j, k}));
  // a 2 x 3 matrix by hand
  const Tensor m = transpose(from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}), -1, -2);
  EXPECT_EQ(m.to_vector<double>(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
  // integer tensors too
  EXPECT_EQ(transpose(longs({1, 2, 3, 4}, {2, 2}), 0, 1).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{1, 3, 2, 4}));
}

TEST(Permute, Gradcheck) {
  manual_seed(1);
  expect_gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 1); }, {randn({3, 5})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 2); }, {randn({2, 1, 3})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], 1, 1); }, {randn({1, 4})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return permute(in[0], {1, 2, 0}); }, {randn({2, 3, 4})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return permute(in[0], {3, 1, 0, 2}); }, {randn({2, 1, 3, 2})});
}

TEST(Permute, Errors) {
  const Tensor x = zeros({2, 3});
  expect_error([&] { permute(x, {0}); }, {"permute", "[2, 3]"});
  expect_error([&] { permute(x, {0, 0}); }, {"permute", "not a permutation"});
  expect_error([&] { permute(x, {0, 2}); }, {"permute", "not a permutation"});
  expect_error([&] { transpose(x, 0, 2); }, {"transpose", "axis 2"});
}

// ---------------------------------------------------------------- slice

TEST(Slice, ForwardValues) {
  const Tensor x = iota({3, 4});  // rows 0..3, 4..7, 8..11
  EXPECT_EQ(slice(x, 1, 1, 3).to_vector<double>(), (std::vector<double>{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(slice(x, 0, -1, 3).to_vector<double>(), (std::vector<double>{8, 9, 10, 11}));  // -1 = the last row
  EXPECT_EQ(slice(x, -1, -3, -1).to_vector<double>(), (std::vector<double>{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(slice(x, 0, 2, 2).shape(), (Shape{0, 4}));  // empty is fine
  EXPECT_EQ(slice(x, 0, 0, 3).to_vector<double>(), x.to_vector<double>());
}

TEST(Slice, Gradcheck) {
  manual_seed(2);
  expect_gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 0, 1, 3); }, {randn({4, 3})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 1, -2, 5); }, {randn({2, 5, 3})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 2, 0, 1); }, {randn({2, 3, 1})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 0, 0, 1); }, {randn({1, 4})});
  // the same input sliced twice (overlapping): gradients add
  expect_gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 0, 0, 2) * slice(in[0], 0, 1, 3); },
                   {randn({3, 2})});
}

TEST(Slice, Errors) {
  const Tensor x = zeros({3, 4});
  expect_error([&] { slice(x, 1, 0, 5); }, {"slice", "axis 1", "[3, 4]"});
  expect_error([&] { slice(x, 0, -4, 2); }, {"slice", "axis 0", "size 3"});
  expect_error([&] { slice(x, 0, 2, 1); }, {"slice", "[3, 4]"});
  expect_error([&] { slice(x, 2, 0, 1); }, {"slice", "axis 2"});
}

// ---------------------------------------------------------------- index_select

TEST(IndexSelect, ForwardValues) {
  const Tensor x = iota({3, 2});  // [[0,1],[2,3],[4,5]]
  EXPECT_EQ(index_select(x, 0, longs({2, 0, 2})).to_vector<double>(), (std::vector<double>{4, 5, 0, 1, 4, 5}));
  EXPECT_EQ(index_select(x, 1, longs({1})).to_vector<double>(), (std::vector<double>{1, 3, 5}));
  EXPECT_EQ(index_select(x, 0, longs({})).shape(), (Shape{0, 2}));
}

TEST(IndexSelect, RepeatedIndicesAccumulate) {
  Tensor x = iota({3, 2}).requires_grad_();
  const Tensor y = index_select(x, 0, longs({0, 2, 0, 0}));
  y.backward(ones({4, 2}, DType::Float64) * 0.5);
  // row 0 was read three times, row 1 never, row 2 once
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1.5, 1.5, 0, 0, 0.5, 0.5}));
}

TEST(IndexSelect, Gradcheck) {
  manual_seed(3);
  const Tensor i0 = longs({1, 1, 0, 3}), i1 = longs({2, 0}), i2 = longs({0});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], 0, i0); }, {randn({4, 3})});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], 1, i1); }, {randn({2, 3, 2})});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], -1, i2); }, {randn({3, 1})});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], 0, i2); }, {randn({1, 5})});
}

TEST(IndexSelect, Errors) {
  const Tensor x = zeros({3, 2});
  expect_error([&] { index_select(x, 0, longs({0, 3})); }, {"index_select", "index value 3", "size 3"});
  expect_error([&] { index_select(x, 1, longs({-1})); }, {"index_select", "index value -1", "size 2"});
  expect_error([&] { index_select(x, 0, tensor({0, 1})); }, {"index_select", "int64", "float32"});
  expect_error([&] { index_select(x, 0, longs({0, 1}, {1, 2})); }, {"index_select", "1-D", "[1, 2]"});
  expect_error([&] { index_select(x, 2, longs({0})); }, {"index_select", "axis 2"});
}

// ---------------------------------------------------------------- gather

TEST(Gather, ForwardValues) {
  const Tensor x = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  // PyTorch's documented example: torch.gather(t, 1, [[0, 0], [1, 0]]) = [[1, 1], [4, 3]]
  EXPECT_EQ(gather(x, 1, longs({0, 0, 1, 0}, {2, 2})).to_vector<double>(), (std::vector<double>{1, 1, 4, 3}));
  // axis 0: y[i][j] = x[index[i][j]][j]
  EXPECT_EQ(gather(x, 0, longs({1, 0, 1, 1, 0, 0}, {3, 2})).to_vector<double>(),
            (std::vector<double>{3, 2, 3, 4, 1, 2}));
  // the target logit of each row: index [N, 1] smaller than x along axis 1
  const Tensor logits = iota({3, 4});
  EXPECT_EQ(gather(logits, 1, longs({3, 0, 2}, {3, 1})).to_vector<double>(), (std::vector<double>{3, 4, 10}));
  // index smaller than x along another axis too (PyTorch allows index.size(d) <= x.size(d))
  EXPECT_EQ(gather(logits, 1, longs({1}, {1, 1})).to_vector<double>(), (std::vector<double>{1}));
  // 3-D, middle axis: y[i][j][k] = x[i][index[i][j][k]][k]
  const Tensor x3 = iota({2, 3, 2});
  const Tensor y3 = gather(x3, 1, longs({2, 0, 1, 1}, {2, 1, 2}));
  EXPECT_EQ(y3.to_vector<double>(), (std::vector<double>{4, 1, 8, 9}));
}

TEST(Gather, RepeatedIndicesAccumulate) {
  Tensor x = iota({2, 3}).requires_grad_();
  gather(x, 1, longs({2, 2, 2, 0, 1, 0}, {2, 3})).backward(ones({2, 3}, DType::Float64));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 3, 2, 1, 0}));
}

TEST(Gather, Gradcheck) {
  manual_seed(4);
  const Tensor i1 = longs({0, 2, 2, 1, 0, 0}, {3, 2});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], 1, i1); }, {randn({3, 3})});
  const Tensor i0 = longs({1, 0, 1, 1, 1, 1, 0, 0}, {4, 2});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], 0, i0); }, {randn({2, 2})});
  const Tensor i2 = longs({0, 3, 1}, {3, 1});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], -1, i2); }, {randn({3, 4})});
  const Tensor i3 = longs({0, 0, 0, 0}, {2, 1, 2});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], 1, i3); }, {randn({2, 1, 3})});
}

TEST(Gather, Errors) {
  const Tensor x = zeros({2, 3});
  expect_error([&] { gather(x, 1, longs({0, 3}, {2, 1})); }, {"gather", "index value 3", "size 3"});
  expect_error([&] { gather(x, 1, longs({0, 1})); }, {"gather", "[2]", "[2, 3]"});
  expect_error([&] { gather(x, 1, longs({0, 0, 0}, {3, 1})); }, {"gather", "[3, 1]", "[2, 3]"});
  expect_error([&] { gather(x, 1, zeros({2, 1})); }, {"gather", "int64"});
  expect_error([&] { gather(x, -3, longs({0}, {1, 1})); }, {"gather", "axis -3"});
}

// ---------------------------------------------------------------- cat, stack

TEST(Cat, ForwardValues) {
  const Tensor a = iota({2, 2}), b = iota({2, 1}) + 10.0;
  EXPECT_EQ(cat({a, b}, 1).to_vector<double>(), (std::vector<double>{0, 1, 10, 2, 3, 11}));
  EXPECT_EQ(cat({a, transpose(b, 0, 1)}, 0).to_vector<double>(), (std::vector<double>{0, 1, 2, 3, 10, 11}));
  EXPECT_EQ(cat({a}, 0).to_vector<double>(), a.to_vector<double>());
  EXPECT_EQ(cat({longs({1, 2}), longs({3})}, 0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 2, 3}));
}

TEST(Cat, Gradcheck) {
  manual_seed(5);
  expect_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2]}, 1); },
                   {randn({2, 3}), randn({2, 1}), randn({2, 4})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, 0); }, {randn({1, 3}), randn({4, 3})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, -2); },
                   {randn({2, 2, 3}), randn({2, 1, 3})});
  // one input twice: both slices' gradients reach it
  expect_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[0]}, 0); },
                   {randn({2, 3}), randn({1, 3})});
}

TEST(Cat, Errors) {
  const Tensor a = zeros({2, 3});
  expect_error([&] { cat({a, zeros({2, 3}), zeros({3, 4})}, 1); }, {"cat", "tensor 2", "[3, 4]", "[2, 3]"});
  expect_error([&] { cat({a, zeros({2, 3, 1})}, 0); }, {"cat", "tensor 1", "[2, 3, 1]"});
  expect_error([&] { cat({a, zeros({2, 3}, DType::Float64)}, 0); }, {"cat", "tensor 1", "float64", "float32"});
  expect_error([&] { cat({}, 0); }, {"cat", "empty"});
  expect_error([&] { cat({a, a}, 2); }, {"cat", "axis 2"});
}

TEST(Stack, ForwardValues) {
  const Tensor a = from_vector(std::vector<double>{1, 2, 3}, {3}), b = from_vector(std::vector<double>{4, 5, 6}, {3});
  const Tensor s0 = stack({a, b}, 0), s1 = stack({a, b}, 1), sm = stack({a, b}, -1);
  EXPECT_EQ(s0.shape(), (Shape{2, 3}));
  EXPECT_EQ(s0.to_vector<double>(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(s1.shape(), (Shape{3, 2}));
  EXPECT_EQ(s1.to_vector<double>(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(sm.to_vector<double>(), s1.to_vector<double>());
}

TEST(Stack, Gradcheck) {
  manual_seed(6);
  expect_gradcheck([](const std::vector<Tensor>& in) { return stack({in[0], in[1], in[0]}, 0); },
                   {randn({2, 3}), randn({2, 3})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 1); }, {randn({3, 1}), randn({3, 1})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 2); }, {randn({2, 4}), randn({2, 4})});
}

TEST(Stack, Errors) {
  expect_error([&] { stack({zeros({2, 3}), zeros({2, 3}), zeros({3, 2})}, 0); }, {"stack", "tensor 2", "[3, 2]", "[2, 3]"});
  expect_error([&] { stack({zeros({2}), zeros({2}, DType::Float64)}, 0); }, {"stack", "tensor 1", "float64"});
  expect_error([&] { stack({}, 0); }, {"stack", "empty"});
  expect_error([&] { stack({zeros({2}), zeros({2})}, 2); }, {"stack", "axis 2"});
}

// ---------------------------------------------------------------- one_hot, flatten

TEST(OneHot, ForwardValues) {
  const Tensor y = one_hot(longs({2, 0, 1, 2}), 3);
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_EQ(y.shape(), (Shape{4, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(one_hot(longs({1}), 2, DType::Float64).to_vector<double>(), (std::vector<double>{0, 1}));
  EXPECT_EQ(one_hot(longs({0}), 1, DType::Int64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1}));
}

TEST(OneHot, Errors) {
  expect_error([&] { one_hot(longs({0, 3, 1}), 3); }, {"one_hot", "label 3", "C = 3"});
  expect_error([&] { one_hot(longs({-1}), 3); }, {"one_hot", "label -1", "C = 3"});
  expect_error([&] { one_hot(tensor({0, 1}), 3); }, {"one_hot", "int64", "float32"});
  expect_error([&] { one_hot(longs({0}), 0); }, {"one_hot", "num_classes"});
}

TEST(Flatten, ShapesValuesGradcheck) {
  const Tensor x = iota({2, 3, 4, 5});
  EXPECT_EQ(flatten(x).shape(), (Shape{2, 60}));
  EXPECT_EQ(flatten(x, 0).shape(), (Shape{120}));
  EXPECT_EQ(flatten(x, 2).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(flatten(x, -1).shape(), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(flatten(x).to_vector<double>(), x.to_vector<double>());
  manual_seed(7);
  expect_gradcheck([](const std::vector<Tensor>& in) { return flatten(in[0], 1) * 2.0; }, {randn({2, 1, 3})});
  expect_error([&] { flatten(x, 4); }, {"flatten", "axis 4"});
}

TEST(ShapeOps, LargeInputsTakeTheParallelPaths) {
  manual_seed(8);
  const Tensor x = randn({400, 130}, DType::Float64);
  const Tensor t = transpose(x, 0, 1);
  for (std::int64_t i = 0; i < 400; i += 41)
    for (std::int64_t j = 0; j < 130; j += 17) EXPECT_EQ(t.at({j, i}), x.at({i, j}));
  const Tensor s = slice(x, 0, 100, 350);
  EXPECT_EQ(s.at({0, 5}), x.at({100, 5}));
  EXPECT_EQ(s.at({249, 129}), x.at({349, 129}));
  // index_select backward over many repeated rows: count how often each row was picked
  std::vector<std::int64_t> idx;
  for (int k = 0; k < 1000; ++k) idx.push_back((k * 7) % 400);
  Tensor xg = x.clone().requires_grad_();
  sum(index_select(xg, 0, longs(idx))).backward();
  std::vector<double> count(400, 0);
  for (auto v : idx) count[v] += 1;
  for (std::int64_t r = 0; r < 400; r += 13) {
    EXPECT_EQ(xg.grad().at({r, 0}), count[r]);
    EXPECT_EQ(xg.grad().at({r, 129}), count[r]);
  }
  const Tensor c = cat({x, x}, 1);
  EXPECT_EQ(c.shape(), (Shape{400, 260}));
  EXPECT_EQ(c.at({399, 259}), x.at({399, 129}));
}
