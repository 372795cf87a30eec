// tests/exercises/check_03_gradient_check.h — exercise 03's check: the numeric gradient of
// chalk::gradcheck (docs/exercises/03-gradient-check.md).
#pragma once

#include <functional>

#include "core/gradcheck.h"
#include "tests/exercises/checker.h"

namespace chalk::checker {

// numeric_gradient(f, inputs, i, w, eps): dL/d(inputs[i]) of L = sum(w * f(inputs)) by central
// differences, in float64 (core/gradcheck.h).
using NumericGradient = std::function<std::vector<double>(const TensorFn& f, const std::vector<Tensor>& inputs,
                                                          std::size_t i, const std::vector<double>& w, double eps)>;

// The truth is the derivative worked by hand for functions built from forwards (x^3, sin x,
// a * b for either input, a matrix product A B for either operand, a sum to a scalar), and the
// checker's own central differences for a composed one (tanh(a * b) + e^a). Every case has a
// random upstream weight w; one runs at h = 1e-2 and h = 5e-3, where the error of the difference
// formula shows (a central difference's falls by 4 when h halves, a one-sided one's by 2). After
// each call, the input must hold exactly its old values, and its version must have grown.
// Never calls chalk::gradcheck or backward().
Verdict check_03(const NumericGradient& numeric_gradient);

}  // namespace chalk::checker
