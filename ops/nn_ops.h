// ops/nn_ops.h — functions the losses and layers are built from, with autograd:
// softmax, log_softmax, norms, normalize, pairwise distances, cosine similarity.
#pragma once

#include "core/tensor.h"

namespace chalk {

// softmax(x)_k = exp(x_k - m) / sum_j exp(x_j - m), m = max_j x_j (stable).
// VJP: dx = y * (g - sum_k g_k y_k)
Tensor softmax(const Tensor& x, int axis = -1);
// log_softmax(x)_k = x_k - logsumexp(x).   VJP: dx = g - softmax(x) * sum_k g_k
Tensor log_softmax(const Tensor& x, int axis = -1);
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
