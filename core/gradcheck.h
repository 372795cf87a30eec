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

}  // namespace chalk
