// core/shape.h — shapes, element counts, broadcasting.
//
// Tensors are contiguous and row-major: the last axis varies fastest.
// Shapes are written in the dimension letters of docs/notation.md
// (N batch, D embedding, C classes, H W image height/width, K kernel size).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chalk {

using Shape = std::vector<std::int64_t>;

// Number of elements: the product of the dimensions (1 for a scalar, shape []).
std::int64_t numel(const Shape& s);

// "[2, 3]" — used in every error message.
std::string shape_str(const Shape& s);

// Row-major strides in elements: strides([2,3,4]) = [12, 4, 1].
std::vector<std::int64_t> contiguous_strides(const Shape& s);

// NumPy broadcasting: align trailing axes; each pair must be equal or 1.
// Throws chalk::Error naming `op` and both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Map a possibly negative axis (-1 = last) into [0, ndim); throws naming `op`.
int normalize_axis(int axis, std::size_t ndim, const char* op);

// A row-major tensor seen along one axis as [outer, n, inner]: element (o, k, i) of the view
// is at flat index (o * n + k) * inner + i. Reductions, softmax, norms, slice and cat all
// walk their axis through this one view.
//   out_shape:  the shape with the axis removed (or kept as 1 when keepdim)
//   keep_shape: the shape with 1 at the axis (a reduction's result, ready to broadcast back)
struct AxisView {
  int axis = 0;
  std::int64_t outer = 1, n = 1, inner = 1;
  Shape out_shape, keep_shape;
};
// Throws chalk::Error naming `op`, the axis and the shape when the axis is out of range.
AxisView axis_view(const Shape& shape, int axis, bool keepdim, const char* op);

}  // namespace chalk
