// losses/registry.cpp — every loss by its --loss name: one line per loss in the table below.
// Adding a loss (docs/adding-a-loss.md): its source in losses/, one line here, tests, doc page.
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "losses/centroid.h"
#include "losses/loss.h"
#include "losses/margin_softmax.h"
#include "losses/softmax.h"
#include "losses/triplet.h"

namespace chalk {

const std::vector<LossEntry>& loss_registry() {
  static const std::vector<LossEntry> table = {
      {"softmax", "cross-entropy over the logits (a linear head W, b when emb_dim > 0)", [](const LossOptions& o) { return std::make_shared<SoftmaxLoss>(o); }},
      {"normface", "normalised softmax: logits s cos(theta) (NormFace)", [](const LossOptions& o) { return std::make_shared<NormFaceLoss>(o); }},
      {"sphereface", "A-Softmax: ||x|| psi(theta), integer angular margin m, annealed lambda", [](const LossOptions& o) { return std::make_shared<SphereFaceLoss>(o); }},
      {"cosface", "additive cosine margin: s (cos(theta) - m) for the target (CosFace / LMCL)", [](const LossOptions& o) { return std::make_shared<CosFaceLoss>(o); }},
      {"arcface", "additive angular margin: s cos(theta + m) for the target (ArcFace)", [](const LossOptions& o) { return std::make_shared<ArcFaceLoss>(o); }},
      {"combined", "InsightFace combined margin: s (cos(m1 theta + m2) - m3)", [](const LossOptions& o) { return std::make_shared<CombinedMarginLoss>(o); }},
      {"triplet", "triplet loss with in-batch mining (all, hard, semihard) on P x K batches", [](const LossOptions& o) { return std::make_shared<TripletLoss>(o); }},
      {"centroid", "centroid upper bound of the triplet loss (Do et al. 2019), fixed centroids", [](const LossOptions& o) { return std::make_shared<CentroidLoss>(o); }},
  };
  return table;
}

std::shared_ptr<Loss> make_loss(const std::string& name, const LossOptions& options) {
  std::string known;
  for (const LossEntry& e : loss_registry()) {
    if (e.name == name) return e.make(options);
    known += (known.empty() ? "" : ", ") + e.name;
  }
  fail("unknown loss '", name, "' (known losses: ", known, ")");
}

}  // namespace chalk
