// ops/broadcast.h — broadcasting and its adjoint, with autograd.
//
// NumPy's rule (core/shape.h broadcast_shapes): align the shapes at their last axis; two sizes
// match when they are equal or one of them is 1 (a missing leading axis counts as 1).
//   broadcast_to(x, S)   copies x along its size-1 (or missing) axes up to shape S
//   sum_to(g, s)         sums g over those axes back down to shape s
// Each is the other's vector-Jacobian product: a value read once and used many times receives
// the sum of all the gradients of its uses. That is why the VJP of every broadcasting op
// (a + b with a [3, 1] and b [1, 4], ...) ends in sum_to. Derivation: docs/broadcasting.md.
#pragma once

#include "core/shape.h"
#include "core/tensor.h"

namespace chalk {

// y = x repeated along its size-1 (or missing leading) axes to `shape`: y[i] = x[i'] where
// i' is i with the broadcast axes set to 0.      VJP: dx = sum_to(g, x.shape())
// Throws chalk::Error when x's shape does not broadcast to `shape` (as torch.broadcast_to).
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// g summed over the axes where `shape` has 1 or is shorter, reshaped to `shape`: the inverse of
// broadcasting (PyTorch's internal sum_to_size / Tensor.sum_to_size).   VJP: dg = broadcast_to(h, g.shape())
// Throws chalk::Error when `shape` does not broadcast to g's shape.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace chalk
