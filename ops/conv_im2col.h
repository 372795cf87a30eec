// ops/conv_im2col.h — the pieces of conv2d (ops/conv.cpp), declared so that tests and
// exercise 06's check (docs/exercises/06-conv2d-backward.md) can call them one by one.
// Derivation: docs/conv2d.md. A user calls conv2d (ops/conv.h), never these.
//
// Layouts (all row-major, one image at a time):
//   x   the image,            C x H x W
//   xp  the padded image,     C x Hp x Wp,  Hp = H + 2 pad, Wp = W + 2 pad (zero border)
//   col its column matrix,    K x L,  K = C KH KW (rows (c, p, q)), L = (i1 - i0) OW
//       for the block of output rows i0 <= i < i1 (columns (i - i0, j)); conv2d uses blocks
//       only for images too large for the cache, usually i0 = 0, i1 = OH
//   g   the output gradient,  O x OH OW (dL/dy for one image)
//   dwt the weight gradient, transposed: K x O (dW^T; dW is w's shape O x C x KH x KW,
//       seen as O x K)
// Defined for T = float and double. They check nothing (conv_geometry checked the sizes) and
// throw nothing.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace chalk {

// The sizes of one convolution: x N x C x H x W, w O x C x KH x KW, y N x O x OH x OW.
struct ConvGeometry {
  std::int64_t N, C, H, W, O, KH, KW, OH, OW, stride, pad;
  std::int64_t patch() const { return C * KH * KW; }  // K: rows of the column matrix
  std::int64_t pixels() const { return OH * OW; }     // its columns (a whole image)
};

// The geometry of conv2d(x, w, b, stride, padding). Throws chalk::Error naming `op` and the
// shapes when x or w is not 4-D, their dtypes or channels differ, stride < 1 or padding < 0,
// the kernel is larger than the padded input, b is not a vector of O elements of w's dtype,
// or a size the kernels compute would overflow int64.
ConvGeometry conv_geometry(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int padding, const char* op);

// xp = x with a zero border of `pad` on every side (C x Hp x Wp).
template <class T>
void pad_image(const T* x, T* xp, const ConvGeometry& g);

// The adjoint of pad_image: dx = the middle of dxp (its border dropped).
template <class T>
void unpad_image(const T* dxp, T* dx, const ConvGeometry& g);

// col[(c, p, q), (i - i0, j)] = xp[c, i stride + p, j stride + q] for i0 <= i < i1: each
// column is the receptive field of one output pixel (docs/conv2d.md §2).
template <class T>
void im2col(const T* xp, T* col, std::int64_t i0, std::int64_t i1, const ConvGeometry& g);

// The adjoint of im2col for the same block of output rows (exercise 06): for every dcol,
//   <im2col(xp), dcol> = <xp, col2im(dcol)>,
// the VJP of im2col, written into dxp (C x Hp x Wp, zeroed by the caller; conv2d then calls
// unpad_image). docs/conv2d.md §3.
template <class T>
void col2im(const T* dcol, T* dxp, std::int64_t i0, std::int64_t i1, const ConvGeometry& g);

// One image's (or one block of output rows') part of conv2d's weight gradient, added to the
// running sum dwt (K x O, dW^T) that conv2d's backward keeps over the images (exercise 06):
// col is im2col's K x L block, g the O x L block of the output gradient for the same rows,
// whose rows are ldg apart in memory (ldg = OH OW for a block of a whole image's gradient).
// PyTorch: the weight part of convolution_backward. docs/conv2d.md §3.
template <class T>
void conv2d_weight_grad(const T* col, const T* g, std::int64_t ldg, std::int64_t L, T* dwt, const ConvGeometry& geo);

}  // namespace chalk
