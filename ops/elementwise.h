// ops/elementwise.h — element-wise arithmetic and activations, with autograd.
//
// Binary ops follow NumPy broadcasting (core/shape.h); their backward sums
// the gradient back to each input's shape (sum_to, ops/broadcast.h). Both inputs
// must have the same dtype. Scalar overloads (x * 2.0) keep x's dtype.
//
// Each op's forward and VJP sit side by side in ops/elementwise.cpp, with the
// formula in a comment (g = dL/dy, the upstream gradient).
#pragma once

#include "core/tensor.h"
#include "ops/broadcast.h"  // broadcast_to, sum_to: the two halves of broadcasting

namespace chalk {

Tensor add(const Tensor& a, const Tensor& b);  // a + b
Tensor sub(const Tensor& a, const Tensor& b);  // a - b
Tensor mul(const Tensor& a, const Tensor& b);  // a * b
Tensor div(const Tensor& a, const Tensor& b);  // a / b

Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor rsub(double s, const Tensor& a);  // s - a
Tensor rdiv(double s, const Tensor& a);  // s / a

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(const Tensor& a, double s);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(const Tensor& a, double s);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(const Tensor& a, double s);
Tensor operator/(double s, const Tensor& a);
Tensor operator-(const Tensor& a);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, double p);  // x^p element-wise
Tensor square(const Tensor& x);         // x^2
Tensor abs(const Tensor& x);            // subgradient 0 at x = 0 (like PyTorch)
Tensor relu(const Tensor& x);           // subgradient 0 at x = 0 (like PyTorch)
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor softplus(const Tensor& x);       // log(1 + exp(x)), computed stably
Tensor cos(const Tensor& x);
Tensor sin(const Tensor& x);
// acos(x), x clamped to [-1 + kAcosEps, 1 - kAcosEps] first so that
// d acos/dx = -1/sqrt(1 - x^2) stays finite (see docs/ops.md#acos).
inline constexpr double kAcosEps = 1e-7;
Tensor acos(const Tensor& x);
// clamp(x, lo, hi); gradient 1 inside [lo, hi], 0 outside (PyTorch's choice at the edges: 1).
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor clamp_min(const Tensor& x, double lo);
// where(cond, a, b): a where cond != 0, else b. cond is any dtype; a, b broadcast with it.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Comparisons give a float tensor of 0/1 of a's dtype (no gradient): masks for where().
Tensor gt(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);
Tensor eq(const Tensor& a, const Tensor& b);  // broadcast; any dtype; result float32

}  // namespace chalk
