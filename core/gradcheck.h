// core/gradcheck.h — does an op's backward match its forward?
//
// For a function f of some tensors, compare the gradient autograd computes
// (the "analytic" one, from the VJPs) with central differences (the
// "numeric" one), in float64:
//
//   numeric dL/dx_i = (L(x + h e_i) - L(x - h e_i)) / (2 h),   L(x) = sum(w * f(x))
//
// w is a fixed random weight of f's output shape (seeded), so a backward
// that ignores its upstream gradient cannot pass. Defaults are PyTorch
// gradcheck's: h = 1e-6, atol = 1e-5, rtol = 1e-3; an element passes when
// |analytic - numeric| <= atol + rtol * |numeric|. These tolerances only make
// sense in double precision, so every floating input is converted to float64.
// Integer inputs (labels, indices) are passed through and not differentiated.
//
// Usage:
//   auto r = chalk::gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]) * in[1]; },
//                             {randn({3, 4}), randn({4})});
//   if (!r.ok) std::cerr << r.report;
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace chalk {

struct GradcheckOptions {
  double eps = 1e-6;   // h
  double atol = 1e-5;
  double rtol = 1e-3;
  std::uint64_t seed = 1234;  // for the upstream weight w
  // Only differentiate these inputs (indices); empty = every floating input.
  std::vector<int> wrt;
};

struct GradcheckResult {
  bool ok = true;
  // The element with the largest error relative to its tolerance:
  int worst_input = -1;
  std::int64_t worst_index = -1;
  double analytic = 0, numeric = 0, error = 0;
  std::int64_t checked = 0;  // how many elements were compared
  std::int64_t failed = 0;   // ... and how many of them were outside the tolerance
  std::string report;        // a human-readable summary (names the worst element)
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// The numeric gradient gradcheck compares with: dL/dx_j for every element x_j of inputs[i],
// where L = sum(w * f(inputs)), by central differences in float64,
//   dL/dx_j ~ (L(x + h e_j) - L(x - h e_j)) / (2 h),   h = eps,
// whose error is of order h^2 (a one-sided difference's is of order h). PyTorch:
// torch.autograd.gradcheck's numerical Jacobian (_compute_numerical_gradient), here reduced
// with the upstream weight w as gradcheck's fast mode reduces it with a random vector.
//   f       the function checked; called 2 n times (n = inputs[i].numel()) with gradient
//           recording off; its output, any floating dtype, has w.size() elements.
//   inputs  f's arguments; inputs[i] is float64. Its data is written in place, one element at a
//           time (x_j + h, then x_j - h), and each element is restored to its exact value before
//           the next; its version is bumped once (increment_version). The others are untouched.
//   w       the upstream weight, row-major over f's output.
//   eps     the step h > 0 (gradcheck's default: 1e-6).
// Returns n values, row-major in inputs[i]'s shape.
// Throws chalk::Error naming numeric_gradient when i is out of range, inputs[i] is not float64,
// eps is not finite and > 0 (all before any write), or f's output does not have w.size()
// elements. An exception from f, or that last one, leaves the element being perturbed at x_j + h
// or x_j - h (gradcheck perturbs its own copies).
std::vector<double> numeric_gradient(const TensorFn& f, const std::vector<Tensor>& inputs, std::size_t i,
                                     const std::vector<double>& w, double eps);

}  // namespace chalk
