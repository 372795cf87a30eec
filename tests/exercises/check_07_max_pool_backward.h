// tests/exercises/check_07_max_pool_backward.h — exercise 07's check: max_pool2d's argmax route
// (docs/exercises/07-max-pool-backward.md).
#pragma once

#include <cstdint>
#include <functional>

#include "tests/exercises/checker.h"

namespace chalk::checker {

// max_pool2d_plane, max_pool2d_plane_2x2 and max_pool2d_vjp as ops/pooling.h declares them,
// for one element type.
template <class T>
using PoolPlane = std::function<void(const T* x, std::int64_t W, std::int64_t OH, std::int64_t OW, int kernel,
                                     int stride, T* y, std::int64_t* argmax)>;
template <class T>
using PoolPlane2x2 =
    std::function<void(const T* x, std::int64_t W, std::int64_t OH, std::int64_t OW, T* y, std::int64_t* argmax)>;
template <class T>
using PoolVjp = std::function<void(const std::int64_t* argmax, const T* g, std::int64_t n, T* dx)>;

// The three functions the student writes, in float64 and float32.
struct MaxPoolPieces {
  PoolPlane<double> plane;
  PoolPlane2x2<double> plane_2x2;
  PoolVjp<double> vjp;
  PoolPlane<float> plane_f32;
  PoolPlane2x2<float> plane_2x2_f32;
  PoolVjp<float> vjp_f32;
};

// The check runs max_pool2d's forward and backward as max_pool2d does, plane by plane (the
// 2 x 2 / stride 2 windows through max_pool2d_plane_2x2, every other window through
// max_pool2d_plane; then max_pool2d_vjp into a zeroed plane), and compares dx with central
// differences of max pooling built from index_select and max (float64): random values (no
// ties) with windows apart and overlapping (stride < kernel: gradients add), ties (the first
// maximum in row-major order gets the gradient, as in PyTorch: the truth is taken where every
// element is nudged down by its position), windows holding NaN (the NaN, the last of several,
// gets it: worked by hand, with PyTorch's values), and float32. It also compares y on some.
Verdict check_07(const MaxPoolPieces& yours);

}  // namespace chalk::checker
