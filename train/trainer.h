// train/trainer.h — the training loop, callable from a small program (the demos)
// as well as from chalk-train.
//
//   chalk::TrainConfig cfg;            // every chalk-train flag is a field here
//   cfg.model = "cnn"; cfg.loss = "arcface"; cfg.epochs = 2;
//   chalk::Trainer t(cfg);             // loads MNIST, builds model, loss, optimizer
//   for (int e = 0; e < cfg.epochs; ++e) {
//     double train_loss = t.train_epoch(e);
//     chalk::EpochMetrics m = t.evaluate(e);     // test loss, accuracy, P@1, MAP@R, NMI...
//     chalk::Tensor emb = t.embed(t.test_set());  // the embeddings themselves, N x D
//   }
//
// Layering: train/ uses nn/ (models, optimizers, data) and losses/; programs use train/.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "losses/loss.h"
#include "losses/metrics.h"
#include "nn/data.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "nn/schedule.h"

namespace chalk {

struct TrainConfig {
  std::string model = "mlp";       // mlp | cnn
  std::string loss = "softmax";    // a name from loss_registry()
  std::int64_t emb_dim = -1;       // -1: the loss's default (softmax: 0 = the model outputs C logits; others: 64)
  LossOptions loss_options;        // margin, scale, mining, distance, centroids, ...
  std::string optimizer;           // sgd | adam | adamw; empty: the loss's default (triplet: adam, others: sgd)
  double lr = -1;                  // -1: the optimizer's default (sgd 0.05 or 0.01, adam/adamw 1e-3)
  double momentum = 0.9;           // sgd
  bool nesterov = false;           // sgd
  double weight_decay = 0.0;
  std::string schedule = "cosine"; // constant | step | cosine
  std::int64_t warmup_steps = -1;  // -1: the loss's default (arcface: one epoch, at most half the run; others 0)
  int epochs = 10;
  std::int64_t batch_size = 128;
  std::int64_t samples_per_class = 8;   // K of PK batches (triplet family): P = min(C, batch_size / K)
  std::uint64_t seed = 0;
  int threads = 0;                 // 0: OpenMP's default
  std::string data_dir;            // "" : the full set if fetched, else the shipped subset
  std::string out_dir;             // "" : write nothing
  bool progress = true;            // progress bar on a terminal, plain lines otherwise
  std::int64_t limit_train = 0;    // > 0: use only the first N training images (quick runs, tests)

  // Fill the "-1: default" fields from the loss and optimizer; check values. Throws chalk::Error.
  void resolve();
  std::string to_json() const;
  static TrainConfig from_json(const std::string& json);
};

struct EpochMetrics {
  int epoch = 0;                   // 1-based, as printed
  double train_loss = 0, test_loss = 0, test_accuracy = 0;
  double epoch_seconds = 0;        // training time of the epoch alone (no evaluation)
  double samples_per_second = 0;
  double lr = 0;
  RetrievalMetrics retrieval;
  double nmi = 0;
  std::string to_json() const;     // one line of metrics.jsonl
};

// Called after every training step: (batch index, batches in the epoch, running mean loss).
using ProgressFn = std::function<void(std::int64_t, std::int64_t, double)>;

class Trainer {
 public:
  explicit Trainer(TrainConfig config);

  // One pass over the training set (epoch counts from 0). Returns the mean loss.
  // A non-finite loss throws chalk::Error naming the epoch and step, with a hint.
  double train_epoch(int epoch, const ProgressFn& progress = nullptr);
  // Test-set metrics after `epoch` (0-based) — no gradient, eval mode.
  EpochMetrics evaluate(int epoch);
  // The whole run as chalk-train does it: resume if asked, epochs, metrics.jsonl,
  // checkpoints. Returns the last epoch's metrics.
  EpochMetrics run(bool resume, std::ostream& log);

  // Embeddings (model outputs) of a whole split, N x D, computed in batches, eval mode.
  Tensor embed(const nn::MnistSplit& split);

  // Checkpoint: model, loss (its head or centroids) and optimizer state, the epoch,
  // and the config, in one safetensors file, written atomically.
  void save_checkpoint(const std::string& path, int epochs_done) const;
  // Returns the number of epochs the checkpoint had completed.
  int load_checkpoint(const std::string& path);

  const TrainConfig& config() const { return config_; }
  nn::Layer& model() { return *model_; }
  Loss& loss() { return *loss_; }
  nn::Optimizer& optimizer() { return *optimizer_; }
  const nn::MnistSplit& train_set() const { return train_; }
  const nn::MnistSplit& test_set() const { return test_; }
  const nn::MnistLocation& data_location() const { return location_; }
  std::int64_t num_classes() const { return 10; }
  std::int64_t global_step() const { return step_; }

 private:
  std::vector<std::vector<std::int64_t>> epoch_batches(int epoch) const;
  Tensor batch_images(const nn::MnistSplit& split, const std::vector<std::int64_t>& idx) const;

  TrainConfig config_;
  nn::MnistLocation location_;
  nn::MnistSplit train_, test_;
  std::shared_ptr<nn::Layer> model_;
  std::shared_ptr<Loss> loss_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  std::unique_ptr<nn::LRSchedule> schedule_;
  std::int64_t step_ = 0;
  bool prepared_ = false;
};

// Rebuild the model and loss a checkpoint was trained with and evaluate it on the test set
// (chalk-eval). `data_dir` as in TrainConfig.
EpochMetrics evaluate_checkpoint(const std::string& path, const std::string& data_dir, std::ostream& log);

}  // namespace chalk
