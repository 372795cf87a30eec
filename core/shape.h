// core/shape.h — shapes, element counts, broadcasting.
//
// Tensors are contiguous and row-major: the last axis varies fastest.
// Shapes are written in the dimension letters of docs/notation.md
// (N batch, D embedding, C classes, H W image height/width, K kernel size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace chalk {

using Shape = std::vector<std::int64_t>;

// Number of elements: the product of the dimensions (1 for a scalar, shape []).
// Checked as checked_numel(s, "numel") is: throws chalk::Error on a negative dimension or a
// product that overflows int64, never wraps.
std::int64_t numel(const Shape& s);

// ---- checked size arithmetic ----
// Every size computed from numbers a caller or a file gives (element counts, byte counts,
// strides, output sizes of convolutions and pools, scratch buffers, batch sizes, tables sized
// from data) goes through these, before anything is allocated or indexed: signed overflow is
// undefined behaviour, and a wrapped count allocates too little and then writes past it
// (PyTorch refuses the same shapes: "Storage size calculation overflowed with sizes=[...]").

// a * b for sizes a, b >= 0. Throws chalk::Error naming `op`, `what` and both values when the
// product does not fit int64:
//   "conv2d: the column buffer (C KH KW) x OW = 4611686018427387904 x 2 overflows int64"
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* op, const char* what);
// a + b for sizes a, b >= 0, checked the same way.
std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* op, const char* what);

// The element count of a tensor of shape s, for `op`. Throws chalk::Error naming `op` and the
// shape when a dimension is negative, or when the product of the nonzero dimensions overflows
// int64: a zero dimension makes the count 0, but chalk's row-major strides and offsets are
// products of the other dimensions (contiguous_strides), so they must fit too, as the
// safetensors reader requires of a file's shapes. E.g.
//   "zeros: the element count of shape [4294967296, 4294967296] overflows int64
//    (storage size calculation overflowed)"
std::int64_t checked_numel(const Shape& s, const char* op);
// The bytes of a tensor of shape s with `itemsize`-byte elements: checked_numel(s) * itemsize,
// throwing chalk::Error naming `op`, the shape and the item size when it exceeds int64.
std::int64_t checked_nbytes(const Shape& s, std::size_t itemsize, const char* op);

// "[2, 3]" — used in every error message.
std::string shape_str(const Shape& s);

// Row-major strides in elements: strides([2,3,4]) = [12, 4, 1]. Throws chalk::Error (as
// checked_numel) when a stride would overflow int64.
std::vector<std::int64_t> contiguous_strides(const Shape& s);

// NumPy broadcasting: align trailing axes; each pair must be equal or 1.
// Throws chalk::Error naming `op` and both shapes when they do not broadcast, and naming the
// result's shape when its element count overflows int64 ([2^32, 1] with [1, 2^32]).
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
// Throws chalk::Error naming `op`, the axis and the shape when the axis is out of range, or
// when the shape's element count overflows (checked_numel).
AxisView axis_view(const Shape& shape, int axis, bool keepdim, const char* op);

}  // namespace chalk
