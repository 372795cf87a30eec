// ops/conv.h — convolution, pooling and dropout, with autograd.
//
// Shapes: x is N x C x H x W (batch, channels, height, width).
#pragma once

#include "core/random.h"
#include "core/tensor.h"

namespace chalk {

// 2-D cross-correlation (what every framework calls convolution):
//   y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] x[n, c, i*stride + p - pad, j*stride + q - pad]
// x: N x C x H x W,  w: O x C x KH x KW,  b: O (optional),
// y: N x O x OH x OW,  OH = (H + 2 pad - KH) / stride + 1.
// Fast path: im2col + one GEMM per image, images split over the threads (OpenMP); very
// large images in blocks of output rows, so memory stays bounded (ops/conv.cpp).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), int stride = 1,
              int padding = 0);
// The plain twin: six nested loops straight from the formula above, with its
// own hand-written VJP. Slow; the tests compare conv2d against it.
Tensor conv2d_naive(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), int stride = 1,
                    int padding = 0);

// Max over kernel x kernel windows moved by stride; the argmax of each window
// is kept for the VJP (ties: the first in row-major order).
// 2 x 2 windows with stride 2 take a loop written out for them.
Tensor max_pool2d(const Tensor& x, int kernel = 2, int stride = 2);
// The plain twin: the general window loop for every kernel and stride (same results).
Tensor max_pool2d_naive(const Tensor& x, int kernel = 2, int stride = 2);
// max_pool2d(relu(x)) fused into one pass (the pool goes first: relu keeps the order of
// positive values); same values and gradients as its twin, max_pool2d(relu(x)).
Tensor relu_max_pool2d(const Tensor& x, int kernel = 2, int stride = 2);

// Training: zero each element with probability p, scale the rest by 1/(1-p)
// (inverted dropout). Evaluation (training = false): the identity.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = global_generator());

}  // namespace chalk
