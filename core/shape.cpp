#include "core/shape.h"

#include <algorithm>

#include "core/error.h"

namespace chalk {

std::int64_t numel(const Shape& s) { return checked_numel(s, "numel"); }

std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* op, const char* what) {
  std::int64_t r = 0;
  if (a < 0 || b < 0) fail(op, ": ", what, " ", a, " x ", b, ": a negative size");
  if (__builtin_mul_overflow(a, b, &r)) fail(op, ": ", what, " ", a, " x ", b, " overflows int64");
  return r;
}

std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* op, const char* what) {
  std::int64_t r = 0;
  if (a < 0 || b < 0) fail(op, ": ", what, " ", a, " + ", b, ": a negative size");
  if (__builtin_add_overflow(a, b, &r)) fail(op, ": ", what, " ", a, " + ", b, " overflows int64");
  return r;
}

std::int64_t checked_numel(const Shape& s, const char* op) {
  // nonzero: the product of the nonzero dimensions, which every stride divides
  std::int64_t nonzero = 1;
  bool has_zero = false;
  for (auto d : s) {
    if (d < 0) fail(op, ": negative dimension ", d, " in shape ", shape_str(s));
    if (d == 0) has_zero = true;
    else if (__builtin_mul_overflow(nonzero, d, &nonzero))
      fail(op, ": the element count of shape ", shape_str(s), " overflows int64",
           std::find(s.begin(), s.end(), 0) != s.end()
               ? " in its nonzero dimensions (a zero dimension makes the count 0, but the strides overflow)"
               : " (storage size calculation overflowed)");
  }
  return has_zero ? 0 : nonzero;
}

std::int64_t checked_nbytes(const Shape& s, std::size_t itemsize, const char* op) {
  const std::int64_t n = checked_numel(s, op);
  std::int64_t bytes = 0;
  if (__builtin_mul_overflow(n, static_cast<std::int64_t>(itemsize), &bytes))
    fail(op, ": shape ", shape_str(s), " has ", n, " elements of ", itemsize,
         " bytes: the byte count overflows int64 (storage size calculation overflowed)");
  return bytes;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

std::vector<std::int64_t> contiguous_strides(const Shape& s) {
  checked_numel(s, "contiguous_strides");  // then every product below fits
  std::vector<std::int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    // i counts from the last axis
    std::int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    std::int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      fail(op, ": shapes ", shape_str(a), " and ", shape_str(b),
           " do not broadcast (axis ", static_cast<long>(n - 1 - i), ": ", da, " vs ", db, ")");
    out[n - 1 - i] = da == 1 ? db : da;
  }
  checked_numel(out, op);
  return out;
}

int normalize_axis(int axis, std::size_t ndim, const char* op) {
  const int n = static_cast<int>(ndim);
  if (axis < -n || axis >= n)
    fail(op, ": axis ", axis, " is out of range for a tensor with ", n, " dimension(s)");
  return axis < 0 ? axis + n : axis;
}

AxisView axis_view(const Shape& shape, int axis, bool keepdim, const char* op) {
  const int nd = static_cast<int>(shape.size());
  if (axis < -nd || axis >= nd)
    fail(op, ": axis ", axis, " is out of range for shape ", shape_str(shape), " (", nd, " dimension(s))");
  checked_numel(shape, op);  // then outer, n and inner below fit int64
  AxisView v;
  v.axis = axis < 0 ? axis + nd : axis;
  for (int i = 0; i < nd; ++i) {
    const std::int64_t d = shape[i];
    if (i < v.axis) v.outer *= d;
    if (i > v.axis) v.inner *= d;
    if (i == v.axis) {
      v.n = d;
      v.keep_shape.push_back(1);
      if (keepdim) v.out_shape.push_back(1);
    } else {
      v.keep_shape.push_back(d);
      v.out_shape.push_back(d);
    }
  }
  return v;
}

}  // namespace chalk
