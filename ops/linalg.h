// ops/linalg.h — matrix multiply, with autograd.
#pragma once

#include "core/tensor.h"

namespace chalk {

// C = op(A) op(B), 2-D, where op(X) = X^T when the flag is set. The
// transposes are passed to GEMM as flags: no transposed copy is made.
//   A (M x K) or (K x M) if transpose_a,  B (K x N) or (N x K) if transpose_b,  C (M x N)
// Throws chalk::Error for a tensor that is not 2-D, two dtypes, or inner dimensions that differ.
// PyTorch: torch.matmul on 2-D tensors (torch.mm), with A.T / B.T for the flags.
// VJP: matmul_vjp.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);

// The gradients of matmul's two inputs; a member is undefined when it was not asked for.
struct MatmulGrads {
  Tensor a;  // dL/dA, A's shape as stored (K x M when transpose_a)
  Tensor b;  // dL/dB, B's shape as stored (N x K when transpose_b)
};

// matmul's vector-Jacobian product: for C = matmul(a, b, transpose_a, transpose_b) and the
// upstream gradient g = dL/dC (M x N, a's dtype), dL/da when want_a and dL/db when want_b, each
// of its input's shape and dtype, computed with GEMM's transpose flags (no transposed copy).
// matmul's backward calls it (so do linear's, through matmul, and every op built on matmul).
// Throws chalk::Error for a tensor that is not 2-D, a and b that cannot be multiplied, or a g
// that is not dtype a.dtype() and shape [M, N]. The derivation: docs/ops.md, "Matrix products";
// PyTorch: the mm entry of tools/autograd/derivatives.yaml (mm_mat1_backward, mm_mat2_backward).
MatmulGrads matmul_vjp(const Tensor& a, const Tensor& b, const Tensor& g, bool transpose_a = false,
                       bool transpose_b = false, bool want_a = true, bool want_b = true);

// y = x W^T + b: x (N x in), W (out x in), b (out) optional. PyTorch's nn.functional.linear.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

}  // namespace chalk
