// losses/loss.h — one interface for every loss, and the registry by name.
//
// A loss takes a batch of embeddings (N x D) and their labels (N, int64 in
// [0, C)) and returns a scalar. Losses with a class head (the softmax family)
// own it as a parameter: it is trained with the model and saved in the same
// checkpoint (names prefixed "loss.").
//
// Adding a loss (docs/adding-a-loss.md): one source file in losses/, one line
// in the table in losses/registry.cpp, its tests, its doc page.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"

namespace chalk {

// Every option a loss may read; each loss documents which it uses.
// Defaults train well on MNIST (see docs/losses.md).
struct LossOptions {
  std::int64_t num_classes = 10;      // C
  std::int64_t emb_dim = 64;          // D (softmax: 0 = the model outputs C logits, no head)
  // triplet family
  double margin = -1;                 // < 0: the loss's own default
  std::string mining = "hard";        // all | hard | semihard
  std::string distance = "euclidean"; // euclidean | squared | cosine
  bool soft_margin = false;           // softplus instead of the hinge
  std::string reduction = "";         // "" (the loss's default) | mean | sum | nonzero (mean over positive-loss triplets)
  int normalize = -1;                 // L2-normalise embeddings first: 1 yes, 0 no, -1 the loss's default
  // centroid bound
  std::string centroids = "onehot";   // onehot | simplex | kmeans | random
  // softmax family
  double scale = -1;                  // s; < 0: the loss's own default
  double label_smoothing = 0.0;
  int sphere_m = 4;                   // SphereFace integer margin
  bool easy_margin = false;           // ArcFace
  double m1 = 1.0, m2 = 0.3, m3 = 0.2;  // combined margin: cos(m1 theta + m2) - m3 (docs/losses/margin_softmax.md section 2)
  std::uint64_t seed = 0;             // for random/kmeans centroids and W init
};

class Loss : public nn::Module {
 public:
  // The scalar loss of a batch. embeddings: N x D float; labels: N int64.
  virtual Tensor forward(const Tensor& embeddings, const Tensor& labels) = 0;
  Tensor operator()(const Tensor& e, const Tensor& y) { return forward(e, y); }

  // Class scores for test accuracy (argmax), N x C; empty when the loss has
  // none (triplet: evaluation then uses the nearest class mean).
  virtual Tensor logits(const Tensor& embeddings) { (void)embeddings; return Tensor(); }
  // The embedding the retrieval metrics (P@1, MAP@R, NMI, class means) compare with Euclidean
  // distance: the model output itself, or its L2-normalised version for losses that only see
  // directions (the margin-softmax family, a normalising triplet loss).
  virtual Tensor metric_embedding(const Tensor& embeddings) { return embeddings; }
  // The triplet family mines inside batches: the loader then draws P classes x K samples.
  virtual bool wants_pk_batches() const { return false; }
  // Called once before training with the model's initial embeddings of (a
  // sample of) the training set (K-means centroids need them). Default: nothing.
  virtual void prepare(const Tensor& embeddings, const Tensor& labels) { (void)embeddings; (void)labels; }
  // Called at the start of every training iteration (SphereFace anneals lambda).
  virtual void set_iteration(std::int64_t t) { (void)t; }
};

struct LossEntry {
  std::string name;         // the --loss value
  std::string description;  // one line for --help
  std::function<std::shared_ptr<Loss>(const LossOptions&)> make;
};

// The table of all losses (losses/registry.cpp).
const std::vector<LossEntry>& loss_registry();
// Build a loss by name; throws chalk::Error listing the known names.
std::shared_ptr<Loss> make_loss(const std::string& name, const LossOptions& options);

}  // namespace chalk
