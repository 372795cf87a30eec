// ops/linalg.h — matrix multiply, with autograd.
#pragma once

#include "core/tensor.h"

namespace chalk {

// C = op(A) op(B), 2-D, where op(X) = X^T when the flag is set. The
// transposes are passed to GEMM as flags: no transposed copy is made.
//   A (M x K) or (K x M) if transpose_a,  B (K x N) or (N x K) if transpose_b
// VJP (g = dL/dC, M x N):  dA = g op(B)^T,  dB = op(A)^T g   (transposed back when flagged)
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);

// y = x W^T + b: x (N x in), W (out x in), b (out) optional. PyTorch's nn.functional.linear.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

}  // namespace chalk
