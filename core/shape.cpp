#include "core/shape.h"

#include "core/error.h"

namespace chalk {

std::int64_t numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
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
