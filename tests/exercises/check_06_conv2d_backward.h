// tests/exercises/check_06_conv2d_backward.h — exercise 06's check: conv2d's backward through
// im2col, col2im and the weight gradient (docs/exercises/06-conv2d-backward.md).
#pragma once

#include <functional>

#include "ops/conv_im2col.h"
#include "tests/exercises/checker.h"

namespace chalk::checker {

// col2im(dcol, dxp, i0, i1, g) and conv2d_weight_grad(col, g, ldg, L, dwt, geo), as
// ops/conv_im2col.h declares them, for one element type.
template <class T>
using Col2im = std::function<void(const T* dcol, T* dxp, std::int64_t i0, std::int64_t i1, const ConvGeometry& g)>;
template <class T>
using WeightGrad =
    std::function<void(const T* col, const T* g, std::int64_t ldg, std::int64_t L, T* dwt, const ConvGeometry& geo)>;

// The two functions the student writes, in float64 and float32.
struct Conv2dBackward {
  Col2im<double> col2im;
  WeightGrad<double> weight_grad;
  Col2im<float> col2im_f32;
  WeightGrad<float> weight_grad_f32;
};

// The check assembles conv2d's backward from the pieces as conv2d does (per image: dcol =
// W^T g_n, col2im, unpad_image for dx; pad_image, im2col and the weight gradient into one
// running dW^T for dW), and compares dx and dW with central differences of conv2d's forward
// (float64). Cases: windows apart (stride = kernel, with and without padding), overlapping
// windows (stride < kernel: pixels seen by several windows), images done in blocks of output
// rows, several images, and float32.
Verdict check_06(const Conv2dBackward& yours);

}  // namespace chalk::checker
