// losses/loss.h — one interface for every loss, and the registry by name.
//
// A loss takes a batch of embeddings (N x D) and their labels (N, int64 in
// [0, C)) and returns a scalar. Losses with a class head (the softmax family)
// own it as a parameter: it is trained with the model and saved in the same
// checkpoint (names prefixed "loss.").
//
// Adding a loss (docs/adding-a-loss.md): its source files in losses/ (the Loss, its
// options struct and table (losses/options.h), its LossEntry), one line in the table in
// losses/registry.cpp, its tests, its doc page. Everything the training loop needs to know
// about a loss comes from its LossEntry (its options, its TrainingDefaults) and from the
// Loss interface below: train/ names no loss and no loss option.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "losses/options.h"
#include "nn/module.h"

namespace chalk {

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
// empty fields). Each loss defines its own in its source file (in its LossEntry), with the
// measurement behind each value; the trainer reads them from the registry and never asks which
// loss it has.
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

// Everything chalk-train, config.json and the trainer know about a loss. Each loss of the library
// defines its own in its source file (softmax_entry() in losses/softmax.cpp, ...), next to its
// options table; losses/registry.cpp lists them.
struct LossEntry {
  std::string name;                  // the --loss value
  std::string description;           // one line for --help
  std::vector<OptionSpec> options;   // its options table (OptionTable::specs()), in --help order
  TrainingDefaults defaults;
  std::function<std::shared_ptr<Loss>(const LossOptions&)> make;
};

// The table of all losses (losses/registry.cpp), in --help order. A deque: register_loss appends
// without moving the entries already there (references from find_loss stay valid).
const std::deque<LossEntry>& loss_registry();
// Add a loss defined outside losses/ (a program's own, or a test's: tests/adding_a_loss_example.cpp)
// to the table at run time, before the Trainer or make_loss asks for it by name; from then on it
// is trained by name like the built-in ones. Throws chalk::Error if entry.name is empty or taken,
// entry.make is empty, or an option shares its name with another loss's option of another kind
// (one flag, one config.json key: loss_option_flags). Not thread-safe: call it at start-up, before training threads exist.
// The built-in losses are not registered this way: they are the table in losses/registry.cpp.
void register_loss(LossEntry entry);
// The entry called `name`; throws chalk::Error listing the known names.
const LossEntry& find_loss(const std::string& name);
// The defaults as one line for --help: "emb_dim 64, sgd lr 0.01 (adam/adamw 0.001), warm-up 1 epoch".
std::string describe_defaults(const TrainingDefaults& d);
// find_loss(name).make(options).
std::shared_ptr<Loss> make_loss(const std::string& name, const LossOptions& options);

// The option `name` of a loss; nullptr when the loss has none of that name.
const OptionSpec* find_option(const LossEntry& loss, const std::string& name);
// The option `name` of a loss; throws chalk::Error naming the flag and the loss and listing its
// options when it has none of that name: "--mining: the cosface loss has no option --mining
// (its options: --scale, --margin)".
const OptionSpec& loss_option(const LossEntry& loss, const std::string& name);
// The loss's options with their defaults, for --help: "--scale 30, --margin 0.35" ("none"); a
// default the loss chooses in parentheses: "--reduction (nonzero for all, mean for hard and semihard)".
std::string describe_options(const LossEntry& loss);
// `given` checked against the loss's options and completed with their defaults: every option
// the loss declares with a default, and each one given. Throws chalk::Error naming the flag and
// the loss for an option the loss does not have ("--mining: the cosface loss has no option
// --mining (its options: --scale, --margin)") or a value it does not allow (check_option_value).
std::map<std::string, OptionValue> resolve_options(const LossEntry& loss, const std::map<std::string, OptionValue>& given);

// One command-line flag for the options of every registered loss that share its name (--margin
// is CosFace's m, ArcFace's m and the triplet margin alpha): chalk-train adds one flag per entry.
struct LossOptionFlag {
  std::string name;  // the option's name (config.json's key); the flag is takers.front().second->flag()
  std::vector<std::pair<const LossEntry*, const OptionSpec*>> takers;  // each loss that has it, registry order
};
// The flags, in the order of first appearance in the registry. Throws chalk::Error when two
// losses give one name different kinds (a type, or a switch against a flag with a value).
std::vector<LossOptionFlag> loss_option_flags();

}  // namespace chalk
