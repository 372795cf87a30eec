// tests/adding_a_loss_example.h — the loss that docs/adding-a-loss.md adds, step by step: the
// contrastive loss. In a real addition these lines are losses/contrastive.h; here they are built
// by tests/test_adding_a_loss.cpp, which checks that every code block of the walk-through is
// copied verbatim from this file, tests/adding_a_loss_example.cpp or the test itself.
#pragma once

#include <string>

#include "core/tensor.h"
#include "losses/loss.h"

namespace chalk {

// The contrastive loss (Hadsell, Chopra & LeCun, CVPR 2006), as pytorch-metric-learning's
// ContrastiveLoss(pos_margin=0, neg_margin=m) with its default AvgNonZeroReducer.
// embeddings: N x D (float32 or float64, finite), labels: N int64 >= 0, margin m > 0.
// Over all ordered pairs i != j, with d_ij = ||x_i - x_j||:
//   positive pair (y_i == y_j):  l_ij = d_ij                 pull together
//   negative pair (y_i != y_j):  l_ij = max(0, m - d_ij)     push apart, until m
//   L = (sum of positive l_ij) / #{positive l_ij > 0} + (sum of negative l_ij) / #{negative l_ij > 0}
// (each group's mean over the pairs that still contribute; an empty group adds 0).
// Returns a scalar. Throws chalk::Error for bad shapes, dtypes, labels, non-finite values or m <= 0.
Tensor contrastive_loss(const Tensor& embeddings, const Tensor& labels, double margin);
// The same loss from autograd ops only: the reference contrastive_loss's VJP is tested against.
Tensor contrastive_loss_composed(const Tensor& embeddings, const Tensor& labels, double margin);

// --loss contrastive's options, with their defaults: the one place they are written (as
// pytorch-metric-learning's ContrastiveLoss(neg_margin=1) on its LpDistance(normalize_embeddings=True)).
struct ContrastiveOptions {
  double margin = 1.0;    // m, how far negative pairs are pushed apart (neg_margin)
  bool normalize = true;  // L2-normalise the embeddings first: d_ij then lies in [0, 2]
};
// Their table (tests/adding_a_loss_example.cpp): what chalk-train's flags, config.json and the
// docs call them.
const OptionTable<ContrastiveOptions>& contrastive_options();

// --loss contrastive: the loss above, on the L2-normalised embeddings unless normalize is off.
// Trains on P x K batches: every sample needs a positive in its batch.
class ContrastiveLoss : public Loss {
 public:
  // Reads num_classes, emb_dim, seed and ContrastiveOptions (contrastive_options()).
  explicit ContrastiveLoss(const LossOptions& options);
  Tensor forward(const Tensor& embeddings, const Tensor& labels) override;
  Tensor metric_embedding(const Tensor& embeddings) override;
  bool wants_pk_batches() const override { return true; }
  std::string name() const override;

 private:
  ContrastiveOptions options_;
};

// Its entry for the loss table: name, help, options table, TrainingDefaults, how to build it.
LossEntry contrastive_entry();

}  // namespace chalk
