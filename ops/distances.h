// ops/distances.h — norms, normalize, pairwise distances and cosine similarity, with autograd.
// What the triplet and centroid losses and the retrieval metrics are built from (docs/ops.md).
#pragma once

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

}  // namespace chalk
