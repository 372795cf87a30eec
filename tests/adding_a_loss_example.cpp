// tests/adding_a_loss_example.cpp — the walk-through's loss (docs/adding-a-loss.md). In a real
// addition this file is losses/contrastive.cpp and contrastive_entry()'s value is one more entry
// of the table in losses/registry.cpp.
#include "adding_a_loss_example.h"

#include <cmath>
#include <memory>
#include <vector>

#include "core/autograd.h"
#include "core/checks.h"
#include "core/error.h"
#include "ops/distances.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace chalk {

namespace {

void check_contrastive(const Tensor& embeddings, const Tensor& labels, double margin, const char* op) {
  check_embeddings(embeddings, op);
  check_class_labels(labels, embeddings.shape()[0], /*C=*/0, op);
  if (!(margin > 0) || !std::isfinite(margin)) fail(op, ": the margin m must be a finite number > 0, got ", margin);
}

}  // namespace

// Forward, on the distance matrix d (N x N, an op with its own VJP: ops/distances.h):
//   l_ij = d_ij (positive pair),  max(0, m - d_ij) (negative pair);  L = pos_sum / n_pos + neg_sum / n_neg
// VJP (g = dJ/dL; the counts n_pos, n_neg are piecewise constant: no gradient):
//   dL/dd_ij = +g / n_pos   positive pair with d_ij > 0
//            = -g / n_neg   negative pair with m - d_ij > 0
//            = 0            otherwise (at d_ij = m exactly: slope 0, like relu at 0)
// pairwise_distances' VJP takes it on to the embeddings (0 at d_ij = 0: its kink).
Tensor contrastive_loss(const Tensor& embeddings, const Tensor& labels, double margin) {
  check_contrastive(embeddings, labels, margin, "contrastive_loss");
  const Tensor d = pairwise_distances(embeddings, embeddings);
  const std::int64_t N = d.shape()[0];
  const std::vector<double> dv = d.to(DType::Float64).to_vector<double>();
  const std::vector<std::int64_t> y = labels.to_vector<std::int64_t>();
  double pos_sum = 0, neg_sum = 0;
  std::int64_t n_pos = 0, n_neg = 0;
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      if (i == j) continue;
      const double dij = dv[i * N + j];
      if (y[i] == y[j]) {
        if (dij > 0) pos_sum += dij, ++n_pos;                       // l = d_ij
      } else if (margin - dij > 0) {
        neg_sum += margin - dij, ++n_neg;                           // l = m - d_ij
      }
    }
  const double L = (n_pos > 0 ? pos_sum / n_pos : 0.0) + (n_neg > 0 ? neg_sum / n_neg : 0.0);
  Tensor loss = full({}, L, embeddings.dtype());
  record(loss, "contrastive_loss", {d}, [dv, y, N, margin, n_pos, n_neg](const Tensor& g, Grads& dx) {
    const double gs = g.item();
    std::vector<double> dd(static_cast<std::size_t>(N * N), 0.0);  // dL/dd, N x N
    for (std::int64_t i = 0; i < N; ++i)
      for (std::int64_t j = 0; j < N; ++j) {
        if (i == j) continue;
        const double dij = dv[i * N + j];
        if (y[i] == y[j]) {
          if (dij > 0) dd[i * N + j] = gs / n_pos;                  // +g / n_pos
        } else if (margin - dij > 0) {
          dd[i * N + j] = -gs / n_neg;                              // -g / n_neg
        }
      }
    dx.add(0, from_vector(dd, {N, N}).to(g.dtype()));
  });
  return loss;
}

// The composed twin: the same formula from autograd ops (constant masks, relu, sums).
Tensor contrastive_loss_composed(const Tensor& embeddings, const Tensor& labels, double margin) {
  check_contrastive(embeddings, labels, margin, "contrastive_loss_composed");
  const Tensor d = pairwise_distances(embeddings, embeddings);
  const std::int64_t N = d.shape()[0];
  const std::vector<std::int64_t> y = labels.to_vector<std::int64_t>();
  std::vector<double> same(static_cast<std::size_t>(N * N), 0.0), other(same);
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      if (i == j) continue;
      (y[i] == y[j] ? same : other)[i * N + j] = 1.0;
    }
  const Tensor P = from_vector(same, {N, N}).to(d.dtype()), Q = from_vector(other, {N, N}).to(d.dtype());
  const Tensor pos = d * P;                       // d_ij on positive pairs, 0 elsewhere
  const Tensor neg = relu(rsub(margin, d)) * Q;   // max(0, m - d_ij) on negative pairs
  const double n_pos = sum(gt(pos.detach(), 0.0)).item(), n_neg = sum(gt(neg.detach(), 0.0)).item();
  return sum(pos) * (n_pos > 0 ? 1.0 / n_pos : 0.0) + sum(neg) * (n_neg > 0 ? 1.0 / n_neg : 0.0);
}

const OptionTable<ContrastiveOptions>& contrastive_options() {
  static const OptionTable<ContrastiveOptions> table(
      "contrastive",
      {option("margin", &ContrastiveOptions::margin, "m: negative pairs are pushed apart until d_ij >= m").above(0),
       option("normalize", &ContrastiveOptions::normalize,
              "L2-normalise the embeddings inside the loss; retrieval then compares the normalised embeddings too")});
  return table;
}

ContrastiveLoss::ContrastiveLoss(const LossOptions& options) : options_(contrastive_options().read(options)) {}

Tensor ContrastiveLoss::forward(const Tensor& embeddings, const Tensor& labels) {
  return contrastive_loss(metric_embedding(embeddings), labels, options_.margin);
}

Tensor ContrastiveLoss::metric_embedding(const Tensor& embeddings) {
  return options_.normalize ? normalize(embeddings, 1) : embeddings;
}

std::string ContrastiveLoss::name() const {
  return str_cat("ContrastiveLoss(m = ", options_.margin, options_.normalize ? "" : ", not normalised", ")");
}

// TrainingDefaults: a pair loss on unit vectors, like the triplet loss, so it starts from the
// triplet loss's recipe (Adam at lr 1e-3, emb_dim 64); not tuned (docs/losses.md measures the others).
LossEntry contrastive_entry() {
  TrainingDefaults defaults;
  defaults.optimizer = "adam";
  return {"contrastive", "contrastive loss (Hadsell et al. 2006): positives pulled together, negatives pushed beyond m",
          contrastive_options().specs(), defaults,
          [](const LossOptions& o) { return std::make_shared<ContrastiveLoss>(o); }};
}

}  // namespace chalk
