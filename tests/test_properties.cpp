// tests/test_properties.cpp — properties of broadcasting and the shape ops that must hold for
// EVERY shape, checked on random shapes and values with RapidCheck (the way minitorch's tests use
// hypothesis). A failing property is shrunk to its smallest counterexample and printed.
//
// The central property: every shape op L is linear, and its backward is its adjoint L^T. For any
// x and any upstream weight g,  <L(x), g> = <x, L^T g>,  and autograd's x.grad after
// L(x).backward(g) must be that L^T g. This one identity checks the VJP of broadcast_to, sum_to,
// reshape, transpose, permute, slice, cat and index_select on shapes no one wrote down.
//   ctest --test-dir build -R Properties
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/shape.h"
#include "core/tensor.h"
#include "ops/broadcast.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

using namespace chalk;

namespace {

// A shape of rank 1..4 with sizes 1..4 (small: every property builds tensors of that size).
rc::Gen<Shape> gen_shape() {
  return rc::gen::container<Shape>(*rc::gen::inRange<std::size_t>(1, 5), rc::gen::inRange<std::int64_t>(1, 5));
}

// A shape that broadcasts to `s`: some leading axes dropped, some sizes replaced by 1.
Shape broadcastable_to(const Shape& s) {
  const std::size_t drop = *rc::gen::inRange<std::size_t>(0, s.size());
  Shape out(s.begin() + static_cast<std::ptrdiff_t>(drop), s.end());
  for (auto& d : out)
    if (*rc::gen::arbitrary<bool>()) d = 1;
  return out;
}

// Float64 values from the generator (small integers / 4: sums are exact, so equality is exact).
Tensor values_of(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  std::vector<double> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = *rc::gen::inRange(-16, 17) / 4.0;
  return from_vector(v, s);
}

double dot(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  RC_ASSERT(x.size() == y.size());
  return std::inner_product(x.begin(), x.end(), y.begin(), 0.0);
}

// <L(x), g> == <x, x.grad> after L(x).backward(g): the backward of L is its adjoint.
template <class L>
void check_adjoint(const Tensor& x0, L&& op) {
  Tensor x = x0.clone().requires_grad_();
  const Tensor y = op(x);
  const Tensor g = values_of(y.shape());
  y.backward(g);
  RC_ASSERT(x.grad().defined());
  RC_ASSERT(x.grad().shape() == x.shape());
  RC_ASSERT(dot(y.detach(), g) == dot(x0, x.grad()));
}

}  // namespace

RC_GTEST_PROP(Properties, BroadcastShapesFollowNumPysRule, ()) {
  const Shape s = *gen_shape();
  const Shape a = broadcastable_to(s), b = broadcastable_to(s);
  const Shape out = broadcast_shapes(a, b, "test");
  // the result has the longer rank, and every axis is the larger of the two aligned sizes
  RC_ASSERT(out.size() == std::max(a.size(), b.size()));
  for (std::size_t k = 0; k < out.size(); ++k) {
    const std::int64_t da = k < out.size() - a.size() ? 1 : a[k - (out.size() - a.size())];
    const std::int64_t db = k < out.size() - b.size() ? 1 : b[k - (out.size() - b.size())];
    RC_ASSERT(out[k] == std::max(da, db));
  }
  // and it is symmetric
  RC_ASSERT(broadcast_shapes(b, a, "test") == out);
}

RC_GTEST_PROP(Properties, BroadcastAddIsTheAddOfTheBroadcastOperands, ()) {
  const Shape s = *gen_shape();
  const Tensor a = values_of(broadcastable_to(s)), b = values_of(broadcastable_to(s));
  const Tensor y = add(a, b);
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "test");
  RC_ASSERT(y.shape() == out);
  RC_ASSERT(y.to_vector<double>() == add(broadcast_to(a, out), broadcast_to(b, out)).to_vector<double>());
}

// The gradient of a broadcast operand is the upstream gradient summed over the broadcast axes:
// its total equals the upstream total, and it equals sum_to(g) exactly.
RC_GTEST_PROP(Properties, BroadcastBackwardIsASum, ()) {
  const Shape s = *gen_shape();
  Tensor a = values_of(broadcastable_to(s)).requires_grad_();
  Tensor b = values_of(s).requires_grad_();
  const Tensor y = mul(a, b);
  const Tensor g = values_of(y.shape());
  y.backward(g);
  RC_ASSERT(a.grad().to_vector<double>() == sum_to(mul(g, b.detach()), a.shape()).to_vector<double>());
  const Tensor ones = full(a.shape(), 1.0, DType::Float64);
  Tensor a2 = ones.clone().requires_grad_();
  add(a2, b.detach()).backward(g);
  RC_ASSERT(sum(a2.grad()).item() == sum(g).item());
}

RC_GTEST_PROP(Properties, BroadcastToAndSumToAreAdjoint, ()) {
  const Shape s = *gen_shape();
  const Tensor x = values_of(broadcastable_to(s));
  check_adjoint(x, [&](const Tensor& t) { return broadcast_to(t, s); });
  check_adjoint(values_of(s), [&](const Tensor& t) { return sum_to(t, x.shape()); });
}

RC_GTEST_PROP(Properties, ShapeOpsAreLinearWithTheirAdjointAsBackward, ()) {
  const Shape s = *gen_shape();
  const Tensor x = values_of(s);
  const int r = static_cast<int>(s.size());
  // reshape to the flat vector
  check_adjoint(x, [&](const Tensor& t) { return t.reshape({t.numel()}); });
  // transpose two axes, permute all of them
  const int a0 = *rc::gen::inRange(0, r), a1 = *rc::gen::inRange(0, r);
  check_adjoint(x, [&](const Tensor& t) { return transpose(t, a0, a1); });
  std::vector<int> perm(static_cast<std::size_t>(r));
  std::iota(perm.begin(), perm.end(), 0);
  perm = *rc::gen::elementOf(std::vector<std::vector<int>>{perm, [&] {
    auto p = perm;
    std::reverse(p.begin(), p.end());
    return p;
  }()});
  check_adjoint(x, [&](const Tensor& t) { return permute(t, perm); });
  // slice a range of one axis, and cat two copies along it
  const int axis = *rc::gen::inRange(0, r);
  const std::int64_t n = s[static_cast<std::size_t>(axis)];
  const std::int64_t start = *rc::gen::inRange<std::int64_t>(0, n), end = *rc::gen::inRange<std::int64_t>(start + 1, n + 1);
  check_adjoint(x, [&](const Tensor& t) { return slice(t, axis, start, end); });
  check_adjoint(x, [&](const Tensor& t) { return cat({t, mul(t, 2.0)}, axis); });
  // index_select with repeats: a repeated index receives every gradient that read it
  std::vector<std::int64_t> idx = *rc::gen::container<std::vector<std::int64_t>>(
      *rc::gen::inRange<std::size_t>(1, 6), rc::gen::inRange<std::int64_t>(0, n));
  const Tensor index = from_vector(idx, {static_cast<std::int64_t>(idx.size())});
  check_adjoint(x, [&](const Tensor& t) { return index_select(t, axis, index); });
  // a reduction along an axis is the adjoint of broadcasting back
  check_adjoint(x, [&](const Tensor& t) { return sum(t, axis, *rc::gen::arbitrary<bool>()); });
}

RC_GTEST_PROP(Properties, ShapeOpsRoundTrip, ()) {
  const Shape s = *gen_shape();
  const Tensor x = values_of(s);
  const int r = static_cast<int>(s.size());
  const int a0 = *rc::gen::inRange(0, r), a1 = *rc::gen::inRange(0, r);
  RC_ASSERT(transpose(transpose(x, a0, a1), a0, a1).to_vector<double>() == x.to_vector<double>());
  RC_ASSERT(x.reshape({x.numel()}).reshape(s).to_vector<double>() == x.to_vector<double>());
  const int axis = *rc::gen::inRange(0, r);
  const std::int64_t n = s[static_cast<std::size_t>(axis)], k = *rc::gen::inRange<std::int64_t>(0, n + 1);
  if (k > 0 && k < n)
    RC_ASSERT(cat({slice(x, axis, 0, k), slice(x, axis, k, n)}, axis).to_vector<double>() == x.to_vector<double>());
}

// ---------------------------------------------------------------- sizes: a count or an error, never a wrap
//
// Shapes of rank 0..6 whose dimensions mix small sizes (0..4), large powers of two (2^20 ..
// 2^62), random int64s, INT64_MAX and negative values. For each, the exact product is computed
// in 128 bits and every shape function must give either the right number or a chalk::Error;
// signed overflow inside them would be undefined behaviour, which the UBSan build reports.
namespace {

using i128 = __int128;

rc::Gen<std::int64_t> gen_dim() {
  return rc::gen::weightedOneOf<std::int64_t>({
      {6, rc::gen::inRange<std::int64_t>(0, 5)},
      {3, rc::gen::map(rc::gen::inRange(20, 63), [](int k) { return std::int64_t{1} << k; })},
      {1, rc::gen::inRange<std::int64_t>(0, INT64_MAX)},
      {1, rc::gen::just(INT64_MAX)},
      {1, rc::gen::element<std::int64_t>(-1, -2, INT64_MIN)},
  });
}

rc::Gen<Shape> gen_any_shape() { return rc::gen::container<Shape>(*rc::gen::inRange<std::size_t>(0, 7), gen_dim()); }

// The product of the nonzero dimensions, saturated at 2^64 (enough to tell "fits int64" apart).
i128 nonzero_product(const Shape& s) {
  i128 p = 1;
  for (auto d : s)
    if (d > 0) p = std::min<i128>(p * d, i128{1} << 64);
  return p;
}

bool has_negative(const Shape& s) { return std::any_of(s.begin(), s.end(), [](auto d) { return d < 0; }); }
bool has_zero(const Shape& s) { return std::any_of(s.begin(), s.end(), [](auto d) { return d == 0; }); }

// Does f throw a chalk::Error (true) or return normally (false)? Anything else fails the property.
template <class F>
bool throws_error(F&& f) {
  try {
    f();
  } catch (const Error&) {
    return true;
  }
  return false;
}

}  // namespace

RC_GTEST_PROP(Properties, ElementCountsAreRightOrRefusedNeverWrapped, ()) {
  const Shape s = *gen_any_shape();
  const i128 nz = nonzero_product(s);
  const bool valid = !has_negative(s) && nz <= INT64_MAX;
  const std::int64_t want = valid ? (has_zero(s) ? 0 : static_cast<std::int64_t>(nz)) : -1;
  // numel, checked_numel
  RC_ASSERT(throws_error([&] { numel(s); }) == !valid);
  if (valid) RC_ASSERT(numel(s) == want);
  // strides: each the exact product of the later dimensions
  RC_ASSERT(throws_error([&] { contiguous_strides(s); }) == !valid);
  if (valid) {
    const auto st = contiguous_strides(s);
    for (std::size_t i = 0; i < s.size(); ++i) {
      i128 p = 1;
      for (std::size_t j = i + 1; j < s.size(); ++j) p *= s[j];
      RC_ASSERT(static_cast<i128>(st[i]) == p);
    }
  }
  // bytes, for every item size chalk has
  for (std::size_t item : {4, 8}) {
    const bool bytes_fit = valid && static_cast<i128>(want) * static_cast<i128>(item) <= INT64_MAX;
    RC_ASSERT(throws_error([&] { checked_nbytes(s, item, "test"); }) == !bytes_fit);
    if (bytes_fit) RC_ASSERT(checked_nbytes(s, item, "test") == want * static_cast<std::int64_t>(item));
  }
  // creation: refused exactly when the bytes do not fit; created (when small enough to allocate
  // here) with the right count otherwise
  const bool bytes_fit = valid && static_cast<i128>(want) * 4 <= INT64_MAX;
  if (!bytes_fit) {
    RC_ASSERT(throws_error([&] { zeros(s); }));
    RC_ASSERT(throws_error([&] { Tensor::empty(s, DType::Float64); }));
  } else if (want <= 4096) {
    RC_ASSERT(zeros(s).numel() == want);
  }
}

RC_GTEST_PROP(Properties, ReshapeAcceptsExactlyTheShapesWithTheSameCount, ()) {
  // x: a small tensor (0..24 elements); the target: any shape, perhaps with one -1
  const Shape xs = *rc::gen::container<Shape>(*rc::gen::inRange<std::size_t>(1, 4), rc::gen::inRange<std::int64_t>(0, 4));
  const Tensor x = zeros(xs);
  Shape s = *gen_any_shape();
  for (auto& d : s)
    if (d == -1) d = -2;  // -1 only where chosen below: reshape reads it as "infer this one"
  const bool infer = !s.empty() && *rc::gen::arbitrary<bool>();
  std::size_t at = 0;
  if (infer) {
    at = *rc::gen::inRange<std::size_t>(0, s.size());
    s[at] = -1;
  }
  // the expected outcome, in 128 bits
  Shape given = s;
  if (infer) given[at] = 1;
  bool ok = !has_negative(given) && nonzero_product(given) <= INT64_MAX;
  if (ok && infer) {
    const i128 known = has_zero(given) ? 0 : nonzero_product(given);
    ok = known != 0 && x.numel() % known == 0;
    if (ok) given[at] = static_cast<std::int64_t>(x.numel() / known);
  }
  ok = ok && nonzero_product(given) <= INT64_MAX && (has_zero(given) ? 0 : nonzero_product(given)) == x.numel();
  RC_ASSERT(throws_error([&] { x.reshape(s); }) == !ok);
  if (ok) RC_ASSERT(x.reshape(s).shape() == given);
}

RC_GTEST_PROP(Properties, BroadcastResultsThatOverflowAreRefused, ()) {
  // two shapes that broadcast: each size is a's or 1; the result takes the size that is not 1
  const Shape a = *gen_any_shape();
  Shape a1 = a, b = a, r = a;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (*rc::gen::arbitrary<bool>()) a1[i] = 1;
    if (*rc::gen::arbitrary<bool>()) b[i] = 1;
    r[i] = a1[i] == 1 ? b[i] : a1[i];
  }
  const bool valid = !has_negative(r) && nonzero_product(r) <= INT64_MAX;
  RC_ASSERT(throws_error([&] { broadcast_shapes(a1, b, "add"); }) == !valid);
  if (valid) RC_ASSERT(broadcast_shapes(a1, b, "add") == r);
}
