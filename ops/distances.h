// ops/distances.h — norms, normalize, pairwise distances and cosine similarity, with autograd.
// What the triplet and centroid losses and the retrieval metrics are built from (docs/ops.md).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace chalk {

// ||x||_2 = sqrt(sum_k x_k^2) along axis. VJP: dx = g x / ||x||, defined as 0 where ||x|| = 0.
Tensor l2_norm(const Tensor& x, int axis = -1, bool keepdim = false);
// x / max(||x||, eps) along axis (PyTorch's F.normalize, eps = 1e-12).
Tensor normalize(const Tensor& x, int axis = -1, double eps = 1e-12);
// Pairwise squared Euclidean distances between rows: a (N x D), b (M x D) -> (N x M),
//   d2[i, j] = ||a_i||^2 + ||b_j||^2 - 2 a_i . b_j   (one GEMM), clamped at 0.
Tensor pairwise_squared_distances(const Tensor& a, const Tensor& b);
// Pairwise Euclidean distances d[i, j] = sqrt(d2[i, j]); the gradient is defined
// as 0 where d = 0 (coinciding points: the kink; see docs/ops.md).
Tensor pairwise_distances(const Tensor& a, const Tensor& b);
// Cosine similarity matrix: normalize(a) normalize(b)^T  (N x M).
Tensor cosine_similarity_matrix(const Tensor& a, const Tensor& b, double eps = 1e-12);

// ---- kernel level: the loops behind normalize and the pairwise-distance VJP, for fused ops that
// work on raw rows (losses/margin_softmax.cpp, losses/triplet.cpp), so that each formula lives in
// one place. No autograd: plain arrays, row-major, T = float or double.
namespace kernels {

// Rows v_r (R x D) -> u_r = v_r / max(||v_r||, eps) (normalize's forward, axis 1);
// norm[r] = ||v_r|| (R values, unclamped).
template <class T>
void normalize_rows(const T* v, std::int64_t R, std::int64_t D, double eps, T* u, double* norm);
// normalize's VJP on rows: d_r = (g_r - u_r (u_r . g_r)) / ||v_r||, or g_r / eps where ||v_r|| < eps.
// u and norm as normalize_rows wrote them; d may be g (in place).
template <class T>
void normalize_rows_backward(const T* u, const double* norm, std::int64_t R, std::int64_t D, double eps, const T* g,
                             T* d);

// The VJP of a matrix of pairwise distances D_ij = f(||x_i - y_j||^2) with respect to x's rows,
// given h (rows x cols) = the upstream gradient times f' (h_ij = g_ij f'(.)):
//   trans = false:  out (rows x D) = s (rowsum(h)_i x_i - (h y)_i)        x: rows x D, y: cols x D
//   trans = true:   out (cols x D) = s (colsum(h)_j x_j - (h^T y)_j)      x: cols x D, y: rows x D
// (dD_ij/dx_i = 2 f' (x_i - y_j); `s` carries the 2 and any constant.) One GEMM plus a row pass.
// pairwise_(squared_)distances use it for both inputs; the fused triplet loss for u against itself.
template <class T>
void pairwise_vjp_rows(bool trans, const T* h, std::int64_t rows, std::int64_t cols, const T* x, const T* y,
                       std::int64_t D, double s, T* out);

}  // namespace kernels

}  // namespace chalk
