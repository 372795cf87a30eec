// ops/pooling.h — 2-D max pooling, with autograd.
//
// Shapes: x is N x C x H x W (batch, channels, height, width).
#pragma once

#include "core/tensor.h"

namespace chalk {

// Max over kernel x kernel windows moved by stride; the argmax of each window
// is kept for the VJP (ties: the first in row-major order).
// 2 x 2 windows with stride 2 take a loop written out for them.
Tensor max_pool2d(const Tensor& x, int kernel = 2, int stride = 2);
// The plain twin: the general window loop for every kernel and stride (same results).
Tensor max_pool2d_naive(const Tensor& x, int kernel = 2, int stride = 2);
// max_pool2d(relu(x)) fused into one pass (the pool goes first: relu keeps the order of
// positive values); same values and gradients as its twin, max_pool2d(relu(x)).
Tensor relu_max_pool2d(const Tensor& x, int kernel = 2, int stride = 2);

}  // namespace chalk
