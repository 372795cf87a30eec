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
// Its options, with their defaults (torch.nn.CrossEntropyLoss(label_smoothing=0.0, reduction='mean')):
struct SoftmaxOptions {
  double label_smoothing = 0.0;    // s of the smoothed target above, in [0, 1]
  std::string reduction = "mean";  // over the batch: mean | sum
};
// Their table (losses/softmax.cpp): the names config.json and chalk-train's flags use, help, allowed values.
const OptionTable<SoftmaxOptions>& softmax_options();
// --loss softmax: its LossEntry, with its TrainingDefaults (losses/registry.cpp lists it).
LossEntry softmax_entry();

// emb_dim == 0: the model's outputs are the C logits themselves (no head, no parameters).
// emb_dim == D > 0: the loss owns a linear head, parameters "W" (C x D) and "b" (C),
// initialised like PyTorch's nn.Linear: U(-1/sqrt(D), 1/sqrt(D)) (seeded by options.seed),
// and logits = X W^T + b. Reads num_classes, emb_dim, seed and SoftmaxOptions (softmax_options()).
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
  LossOptions options_;     // num_classes, emb_dim, seed
  SoftmaxOptions softmax_;  // label_smoothing, reduction
  Tensor W_, b_;  // undefined when emb_dim == 0
};


}  // namespace chalk
