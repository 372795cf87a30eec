// ops/pooling.h — 2-D max pooling, with autograd.
//
// Shapes: x is N x C x H x W (batch, channels, height, width).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace chalk {

// Max over kernel x kernel windows moved by stride, no padding: x N x C x H x W (float32 or
// float64) gives y N x C x OH x OW, OH = (H - kernel) / stride + 1 (likewise OW); rows and
// columns that fill no window are dropped. The argmax of each window is kept for the VJP, which
// sends each output's gradient there (ties: the first in row-major order; a window with a NaN
// gives NaN and its gradient goes to the NaN, the last one if several). PyTorch: F.max_pool2d.
// 2 x 2 windows with stride 2 take a loop written out for them. Throws chalk::Error naming the
// op and the shape for x not 4-D, kernel or stride < 1, or a kernel larger than H or W.
Tensor max_pool2d(const Tensor& x, int kernel = 2, int stride = 2);
// The plain twin: the general window loop for every kernel and stride (same results).
Tensor max_pool2d_naive(const Tensor& x, int kernel = 2, int stride = 2);
// max_pool2d(relu(x)) fused into one pass (the pool goes first: relu keeps the order of
// positive values); same values and gradients as its twin, max_pool2d(relu(x)).
Tensor relu_max_pool2d(const Tensor& x, int kernel = 2, int stride = 2);

// ---- the pieces, one H x W plane at a time (exercise 07: docs/exercises/07-max-pool-backward.md)
// PyTorch's max_pool2d_with_indices and max_pool2d_with_indices_backward, per plane. Shapes:
// x one H x W plane, row-major (row length W); y and argmax OH x OW. An argmax is a flat index
// into the plane, (row) W + (column). Defined for T = float and double. They check nothing
// (max_pool2d checked the sizes) and throw nothing.

// y[i, j] = the maximum of the window x[i stride .. i stride + kernel - 1, j stride .. j stride
// + kernel - 1], argmax[i, j] = its index: of several equal maxima the first in row-major order;
// a NaN is the maximum (of several NaNs the last).
template <class T>
void max_pool2d_plane(const T* x, std::int64_t W, std::int64_t OH, std::int64_t OW, int kernel, int stride, T* y,
                      std::int64_t* argmax);
// The same for kernel 2, stride 2 (SmallCNN's pools), written for speed: the same results.
template <class T>
void max_pool2d_plane_2x2(const T* x, std::int64_t W, std::int64_t OH, std::int64_t OW, T* y, std::int64_t* argmax);
// The VJP: dx[argmax[k]] += g[k] for k < n (n = OH OW). dx: the H x W plane of the gradient,
// zeroed by the caller; an element that is the maximum of several (overlapping) windows
// receives the sum of their gradients. g in any unit: dx has the same.
template <class T>
void max_pool2d_vjp(const std::int64_t* argmax, const T* g, std::int64_t n, T* dx);

}  // namespace chalk
