// losses/softmax.h — softmax cross-entropy, and the "softmax" loss (a linear class head).
// Derivation: docs/losses/softmax.md.  Tests: tests/test_loss_softmax.cpp.
//
// For logits z (N x C) and labels y (N, int64 in [0, C)), with label smoothing s:
//     log p_ij = z_ij - logsumexp_k(z_ik)                 (log-softmax, max subtracted)
//     t_ij     = (1 - s) [j = y_i] + s / C                (the smoothed target)
//     loss_i   = - sum_j t_ij log p_ij
//              = (1 - s)(-log p_{i,y_i}) + (s / C) sum_j (-log p_ij)
// and its gradient, the one line every classifier trains on:
//     d loss_i / d z_ij = p_ij - t_ij
// PyTorch: torch.nn.CrossEntropyLoss(label_smoothing = s, reduction = ...).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "losses/loss.h"

namespace chalk {

// The fused op: forward and hand-derived VJP in one function (one pass over N x C).
// logits: N x C float; labels: N int64 in [0, C); label_smoothing in [0, 1];
// reduction: "mean" (default, a scalar), "sum" (a scalar) or "none" (N losses).
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing = 0.0,
                     const std::string& reduction = "mean");

// The same value built only from autograd ops (log_softmax, mul, sum, mean): the twin the
// tests compare the hand-derived VJP against.
Tensor cross_entropy_composed(const Tensor& logits, const Tensor& labels, double label_smoothing = 0.0,
                              const std::string& reduction = "mean");

// ---- the Loss for chalk-train: --loss softmax ----
// emb_dim == 0: the model's outputs are the C logits themselves (no head, no parameters).
// emb_dim == D > 0: the loss owns a linear head, parameters "W" (C x D) and "b" (C),
// initialised like PyTorch's nn.Linear: U(-1/sqrt(D), 1/sqrt(D)) (seeded by options.seed),
// and logits = X W^T + b.
// Options read: num_classes, emb_dim, label_smoothing, reduction ("" = mean, mean, sum), seed.
class SoftmaxLoss : public Loss {
 public:
  explicit SoftmaxLoss(const LossOptions& options);
  Tensor forward(const Tensor& embeddings, const Tensor& labels) override;
  // The C logits (with the head applied when there is one).
  Tensor logits(const Tensor& embeddings) override;
  std::string name() const override;

  bool has_head() const { return W_.defined(); }
  const Tensor& W() const { return W_; }
  const Tensor& b() const { return b_; }

 private:
  Tensor apply_head(const Tensor& embeddings) const;
  LossOptions options_;
  std::string reduction_;
  Tensor W_, b_;  // undefined when emb_dim == 0
};

// ---- the row kernels behind cross_entropy, shared with the fused margin losses ----
// (losses/margin_softmax.cpp builds its logits, then calls these: the same arithmetic, so
// the fused losses and cross_entropy agree to the last bit.)
namespace ce_kernel {

// One row z (C values), label y, smoothing s. Returns loss_i, and writes the softmax
// p_j (C values, double) for the VJP:
//   m     = max_j z_j                           (subtracted: exp never overflows)
//   e_j   = exp(z_j - m),  S = sum_j e_j
//   lse   = m + log S                           (= log sum_j exp z_j)
//   p_j   = e_j / S                             (= exp(z_j - lse), the softmax)
//   loss  = -sum_j t_j (z_j - lse) = lse - sum_j t_j z_j      (since sum_j t_j = 1)
//         = lse - (1 - s) z_y - (s / C) sum_j z_j
// Keeping p costs N x C doubles and saves the backward from computing every exp again
// (exp was half of cross_entropy's time).
template <class T>
double row_loss(const T* z, std::int64_t C, std::int64_t y, double s, double* p) {
  double m = z[0];
  for (std::int64_t j = 1; j < C; ++j) m = std::max(m, static_cast<double>(z[j]));
  double sum_exp = 0, sum_z = 0;
  for (std::int64_t j = 0; j < C; ++j) {
    p[j] = std::exp(static_cast<double>(z[j]) - m);
    sum_exp += p[j];
    sum_z += z[j];
  }
  const double inv = 1.0 / sum_exp;
  for (std::int64_t j = 0; j < C; ++j) p[j] *= inv;
  const double lse = m + std::log(sum_exp);
  return lse - (1.0 - s) * static_cast<double>(z[y]) - (s / C) * sum_z;
}

// Its gradient, scaled by the upstream g_i, written into dz (C values), from the p above:
//   d loss / d z_j = p_j - t_j = p_j - (1 - s) [j = y] - s / C
template <class T>
void row_grad(const double* p, std::int64_t C, std::int64_t y, double s, double g_i, T* dz) {
  const double off = s / C, on = 1.0 - s + s / C;
  for (std::int64_t j = 0; j < C; ++j) dz[j] = static_cast<T>(g_i * (p[j] - (j == y ? on : off)));
}

// Input checks shared by the softmax family (they throw chalk::Error naming `op`):
// labels must be int64 of shape [N] with every value in [0, C) (the message names the
// offending label, its index and C); every value of a float tensor must be finite.
void check_class_labels(const Tensor& labels, std::int64_t N, std::int64_t C, const char* op);
void check_finite(const Tensor& x, const char* what, const char* op);

}  // namespace ce_kernel

}  // namespace chalk
