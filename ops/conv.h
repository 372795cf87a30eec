// ops/conv.h — 2-D convolution (im2col + GEMM, and its plain twin), with autograd.
// Derivation: docs/conv2d.md.
//
// Shapes: x is N x C x H x W (batch, channels, height, width).
#pragma once

#include "core/tensor.h"

namespace chalk {

// 2-D cross-correlation (what every framework calls convolution):
//   y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] x[n, c, i*stride + p - pad, j*stride + q - pad]
// x: N x C x H x W,  w: O x C x KH x KW,  b: O (optional),
// y: N x O x OH x OW,  OH = (H + 2 pad - KH) / stride + 1.
// Fast path: im2col, then per image the GEMM W col_n in small blocks (what OpenBLAS multiplies
// fastest), images split over the threads (OpenMP); very large images in blocks of output
// rows, so memory stays bounded (ops/conv.cpp).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), int stride = 1,
              int padding = 0);
// The plain twin: seven nested loops straight from the formula above, with its
// own hand-written VJP. Slow; the tests compare conv2d against it.
Tensor conv2d_naive(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), int stride = 1,
                    int padding = 0);

}  // namespace chalk
