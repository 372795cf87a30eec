// losses/loss.h — one interface for every loss, and the registry by name.
//
// A loss takes a batch of embeddings (N x D) and their labels (N, int64 in
// [0, C)) and returns a scalar. Losses with a class head (the softmax family)
// own it as a parameter: it is trained with the model and saved in the same
// checkpoint (names prefixed "loss.").
//
// Adding a loss (docs/adding-a-loss.md): one source file in losses/, one line
// in the table in losses/registry.cpp, its tests, its doc page. Everything the
// training loop needs to know about a loss comes from that line (its TrainingDefaults,
// its option help) and from the Loss interface below: train/ names no loss.
#pragma once

#include <deque>
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
  // True when the loss sees only the direction of each embedding: L(c x) = L(x) for every
  // c > 0 (NormFace, CosFace, ArcFace, combined; triplet and centroid when they normalise).
  // Its gradient is then orthogonal to x and scaled by 1 / ||x|| (NormFace, Wang et al. 2017,
  // Fig. 4): every SGD step lengthens x, and a long x learns slowly. The trainer watches the
  // embedding norm of such losses (train/monitors.h, check_embedding_growth).
  virtual bool scale_invariant() const { return false; }
  // The triplet family mines inside batches: the loader then draws P classes x K samples.
  virtual bool wants_pk_batches() const { return false; }
  // True when prepare() needs the model's initial embeddings of the training set (K-means
  // centroids do); the trainer then computes them (a pass over up to 10,000 images).
  virtual bool needs_data_pass() const { return false; }
  // Called by the trainer once before the first training step of every run (not on resume:
  // the checkpoint holds what prepare computed). embeddings (N x D) and labels (N) are the
  // initial embeddings of the first training images when needs_data_pass(), else undefined
  // tensors. Default: nothing.
  virtual void prepare(const Tensor& embeddings, const Tensor& labels) { (void)embeddings; (void)labels; }
  // Called at the start of every training iteration (SphereFace anneals lambda).
  virtual void set_iteration(std::int64_t t) { (void)t; }
};

// How a loss trains when the user leaves a flag at "the loss's default" (TrainConfig's -1 and
// empty fields). Each loss defines its own in its source file, with the measurement behind
// each value; the trainer reads them from the registry and never asks which loss it has.
struct TrainingDefaults {
  std::int64_t emb_dim = 64;      // D, the model's output size
  bool logits_output = false;     // emb_dim 0 is allowed: the model outputs the C logits (no head)
  std::string optimizer = "sgd";  // sgd | adam | adamw
  double sgd_lr = 0.05;           // the learning rate when the optimizer is sgd
  double adam_lr = 1e-3;          // ... when it is adam or adamw
  double warmup_epochs = 0;       // linear learning-rate warm-up, in epochs (at most half the run)
};

// The loss a TrainConfig trains with unless told otherwise: the first one a student meets.
inline constexpr const char* kDefaultLoss = "softmax";

struct LossEntry {
  std::string name;          // the --loss value
  std::string description;   // one line for --help
  std::string options_help;  // the loss options it reads, with their defaults, for --help
  TrainingDefaults defaults;
  std::function<std::shared_ptr<Loss>(const LossOptions&)> make;
};

// The table of all losses (losses/registry.cpp), in --help order. A deque: register_loss appends
// without moving the entries already there (references from find_loss stay valid).
const std::deque<LossEntry>& loss_registry();
// Add a loss defined outside losses/ (a program's own, or a test's: tests/adding_a_loss_example.cpp)
// to the table at run time, before the Trainer or make_loss asks for it by name; from then on it
// is trained by name like the built-in ones. Throws chalk::Error if entry.name is empty or taken,
// or entry.make is empty. Not thread-safe: call it at start-up, before training threads exist.
// The built-in losses are not registered this way: they are the table in losses/registry.cpp.
void register_loss(LossEntry entry);
// The entry called `name`; throws chalk::Error listing the known names.
const LossEntry& find_loss(const std::string& name);
// The defaults as one line for --help: "emb_dim 64, sgd lr 0.01 (adam/adamw 0.001), warm-up 1 epoch".
std::string describe_defaults(const TrainingDefaults& d);
// find_loss(name).make(options).
std::shared_ptr<Loss> make_loss(const std::string& name, const LossOptions& options);

}  // namespace chalk
