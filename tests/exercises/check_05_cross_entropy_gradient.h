// tests/exercises/check_05_cross_entropy_gradient.h — exercise 05's check: softmax
// cross-entropy's gradient p - t, with label smoothing and the reduction
// (docs/exercises/05-cross-entropy-gradient.md).
#pragma once

#include <cstdint>
#include <functional>

#include "losses/cross_entropy_rows.h"
#include "tests/exercises/checker.h"

namespace chalk::checker {

// cross_entropy_rows::grad_rows<T>(p, N, C, y, s, reduction, g, dz), which calls row_grad<T> for
// each row: the batch's dL/dz from the forward's softmax p (declared in losses/cross_entropy_rows.h,
// defined in losses/cross_entropy_rows.cpp).
template <class T>
using GradRowsOf = std::function<void(const double* p, std::int64_t N, std::int64_t C, const std::int64_t* y,
                                      double s, cross_entropy_rows::Reduction reduction, const T* g, T* dz)>;
struct GradRows {
  GradRowsOf<double> f64;
  GradRowsOf<float> f32;
};

// The truth is the VJP of the fused cross_entropy's forward by central differences (float64; its
// forward is row_loss, its backward, never run here, is the exercise), and PyTorch's gradients
// from tests/reference/cross_entropy.json. The p given to yours is row_loss's, as in the library.
// Cases: every reduction without smoothing (regular), smoothing s = 0.1, 0.3, 1 and one class
// (special), two PyTorch cases, and float32 (logits near 0, and near 1000 where exp(z) overflows).
// Beyond the checker's own diagnoses it names a target that is wrong only with smoothing (the
// value off the label, the value on it), a missing or extra 1/N, and one upstream for every row
// under reduction "none".
Verdict check_05(const GradRows& grad_rows);

}  // namespace chalk::checker
