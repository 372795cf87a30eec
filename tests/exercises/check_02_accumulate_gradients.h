// tests/exercises/check_02_accumulate_gradients.h — exercise 02's check: how backward() sums a
// tensor's gradient over all its uses (docs/exercises/02-accumulate-gradients.md).
#pragma once

#include <functional>

#include "tests/exercises/checker.h"

namespace chalk::checker {

// accumulate_gradient(pending, contribution): pending += contribution for an intermediate result
// (core/autograd.h).
using AccumulateGradient = std::function<void(Tensor& pending, const Tensor& contribution)>;
// accumulate_grad(leaf, contribution): leaf.grad() += contribution (core/autograd.h).
using AccumulateGrad = std::function<void(const Tensor& leaf, Tensor contribution)>;

// The truth is central differences of the composed forward: for a tensor y used by the forwards
// f_1, ..., f_k with upstream weights w_1, ..., w_k, dL/dy of L = sum_j w_j . f_j(y), one forward
// of all uses at once; each contribution handed to your functions is the central difference of
// one use alone. Cases: one use, two (y = e^x feeding 2y and sin y), three, a contribution shared
// by two sums (add's VJP), float32; a leaf's first contribution, two backward() calls, zero_grad(),
// a contribution the caller keeps, a .grad() handle the caller holds, .grad()'s version.
// `through_backward`: the two functions are chalk's own, the ones backward() calls (in a student
// edition, the student's), so the check also runs backward() on three small graphs. The wrong
// answers of tests/exercises/mistakes_02_*.cpp, which backward() does not call, pass false.
Verdict check_02(const AccumulateGradient& accumulate_gradient, const AccumulateGrad& accumulate_grad,
                 bool through_backward);

}  // namespace chalk::checker
