// losses/registry.cpp — every loss by its --loss name, with the training defaults it brings.
// Adding a loss (docs/adding-a-loss.md): its source in losses/, one entry here, tests, doc page.
//
// Each entry: name, one line for --help, the loss options it reads (with their defaults, also
// for --help), its TrainingDefaults (losses/loss.h), and how to build it. The comment above a
// default says why it is as it is; the runs that chose it are in docs/losses.md.
#include <deque>
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

namespace {

template <class L>
std::shared_ptr<Loss> make(const LossOptions& o) {
  return std::make_shared<L>(o);
}

// The margin-softmax losses multiply their logits by a scale s (16..64), which multiplies
// their gradients too: with SGD they want a smaller step (0.01) than the others (0.05).
// And one epoch of linear warm-up: these losses see only directions, so they pass the network
// a gradient divided by the embeddings' length (Loss::scale_invariant); large first steps
// lengthen the embeddings, and a run can then stall for good. The runs that stalled without it
// and trained with it: docs/losses.md, "ArcFace, CosFace, the combined margin and a warm-up".
TrainingDefaults scaled_logits() {
  TrainingDefaults d;
  d.sgd_lr = 0.01;
  d.warmup_epochs = 1;
  return d;
}

}  // namespace

namespace {

// The table itself; loss_registry() shows it read-only, register_loss() appends to it.
std::deque<LossEntry>& registry_table() {
  static std::deque<LossEntry> table = [] {
    TrainingDefaults softmax;  // emb_dim 0: the model outputs the 10 logits (no head)
    softmax.emb_dim = 0;
    softmax.logits_output = true;
    // SGD at lr 0.05 with momentum 0.9 from PyTorch's default init is at the edge of stability:
    // SmallCNN's loss can spike in the first steps and the run lose every ReLU for good. A
    // quarter epoch of linear warm-up removes the spike (docs/losses.md, "Softmax, the centroid
    // bound and a quarter epoch of warm-up").
    softmax.warmup_epochs = 0.25;
    TrainingDefaults centroid;  // the same optimizer and learning rate: the same warm-up
    centroid.warmup_epochs = 0.25;
    // Batch-hard triplet training starts on a plateau (every hardest negative as near as the
    // hardest positive: the loss sits at the margin). Adam leaves it within an epoch; SGD with
    // momentum had not left it after 5 epochs (docs/losses/triplet.md, section 13).
    TrainingDefaults triplet;
    triplet.optimizer = "adam";
    return std::deque<LossEntry>{
        {"softmax", "cross-entropy over the logits (a linear head W, b when emb_dim > 0)",
         "--label-smoothing 0, --reduction mean", softmax, make<SoftmaxLoss>},
        {"normface", "normalised softmax: logits s cos(theta) (NormFace)", "--scale 16", scaled_logits(),
         make<NormFaceLoss>},
        {"sphereface", "A-Softmax: ||x|| psi(theta), integer angular margin m, annealed lambda", "--sphere-m 4",
         scaled_logits(), make<SphereFaceLoss>},
        {"cosface", "additive cosine margin: s (cos(theta) - m) for the target (CosFace / LMCL)",
         "--scale 30, --margin 0.35", scaled_logits(), make<CosFaceLoss>},
        {"arcface", "additive angular margin: s cos(theta + m) for the target (ArcFace)",
         "--scale 30, --margin 0.5 (radians), --easy-margin off", scaled_logits(), make<ArcFaceLoss>},
        {"combined", "InsightFace combined margin: s (cos(m1 theta + m2) - m3)",
         "--scale 30, --m1 1, --m2 0.3, --m3 0.2", scaled_logits(), make<CombinedMarginLoss>},
        {"triplet", "triplet loss with in-batch mining (all, hard, semihard) on P x K batches",
         "--mining hard, --distance euclidean, --margin 0.2, --soft-margin off, --normalize 1, "
         "--reduction (all: nonzero; hard, semihard: mean), --samples-per-class 8",
         triplet, make<TripletLoss>},
        {"centroid", "centroid upper bound of the triplet loss (Do et al. 2019), fixed centroids",
         "--centroids onehot, --normalize 1", centroid, make<CentroidLoss>},
    };
  }();
  return table;
}

}  // namespace

const std::deque<LossEntry>& loss_registry() { return registry_table(); }

void register_loss(LossEntry entry) {
  if (entry.name.empty()) fail("register_loss: the loss needs a name (its --loss value)");
  if (!entry.make) fail("register_loss: loss '", entry.name, "' has no make function");
  for (const LossEntry& e : registry_table())
    if (e.name == entry.name) fail("register_loss: a loss named '", entry.name, "' is already registered");
  registry_table().push_back(std::move(entry));
}

const LossEntry& find_loss(const std::string& name) {
  std::string known;
  for (const LossEntry& e : loss_registry()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  fail("unknown loss '", name, "' (known losses: ", known, ")");
}

std::string describe_defaults(const TrainingDefaults& d) {
  std::string s = d.emb_dim == 0 ? std::string("emb_dim 0 (the model outputs the logits)") : str_cat("emb_dim ", d.emb_dim);
  s += d.optimizer == "sgd" ? str_cat(", sgd lr ", d.sgd_lr, " (adam/adamw lr ", d.adam_lr, ")")
                            : str_cat(", ", d.optimizer, " lr ", d.adam_lr, " (sgd lr ", d.sgd_lr, ")");
  if (d.warmup_epochs > 0) s += str_cat(", warm-up ", d.warmup_epochs, " epoch(s)");
  return s;
}

std::shared_ptr<Loss> make_loss(const std::string& name, const LossOptions& options) {
  return find_loss(name).make(options);
}

}  // namespace chalk
