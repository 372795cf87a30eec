// ops/linalg.h — matrix multiply, with autograd; and the singular value decomposition (no autograd).
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

// The thin singular value decomposition A = U diag(S) Vh of a 2-D tensor A (M x N), K = min(M, N):
//   U  (M x K)  orthonormal columns (U^T U = I),
//   S  (K)      the singular values, >= 0, in descending order,
//   Vh (K x N)  orthonormal rows (Vh Vh^T = I); V = Vh^T holds the right singular vectors.
// PyTorch: torch.linalg.svd(A, full_matrices=False), which returns the same three in this order.
// A pair (U_k, Vh_k) is unique only up to a common sign, and a repeated singular value leaves
// any rotation of its vectors a valid answer: compare U diag(S) Vh, not the factors, across
// implementations. Where A has rank r < K, the columns of U for the zero singular values are
// completed to an orthonormal set (any completion is an SVD: they multiply zeros).
struct SvdResult {
  Tensor U, S, Vh;
};
// One-sided Jacobi SVD (Hestenes, "Inversion of matrices by biorthogonalization", 1958), computed in
// float64 whatever A's dtype and returned in A's dtype (float32 or float64). Accurate to rounding
// for the small matrices chalk meets (D x D with D in the tens: the cross-covariance of two
// embeddings in orthogonal Procrustes, demos/10); O(sweeps M N^2), so not for large ones.
// No autograd: the results never require a gradient. Throws chalk::Error for a tensor that is not
// 2-D or has no element, a dtype that is not floating, a non-finite entry (naming its index), an
// A that requires a gradient while gradient mode is on (call svd(a.detach()) or use NoGradGuard:
// no VJP is defined here), and a decomposition that has not converged after 100 sweeps.
SvdResult svd(const Tensor& a);

}  // namespace chalk
