// train/trainer.h — the training loop, callable from a small program (the demos)
// as well as from chalk-train.
//
//   chalk::TrainConfig cfg;            // every chalk-train flag is a field here
//   cfg.model = "cnn"; cfg.loss = "arcface"; cfg.epochs = 2;
//   chalk::Trainer t(cfg);             // loads the data set, builds model, loss, optimizer
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
#include <vector>

#include "losses/loss.h"
#include "eval/metrics.h"
#include "io/mnist.h"
#include "train/batches.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "nn/schedule.h"

namespace chalk {

struct TrainConfig {
  std::string model = "mlp";       // a name from nn::model_registry(): mlp | cnn
  std::string loss = kDefaultLoss; // a name from loss_registry()
  std::int64_t emb_dim = -1;       // -1: the loss's default (TrainingDefaults; softmax: 0 = the model outputs C logits)
  LossOptions loss_options;        // margin, scale, mining, distance, centroids, ...
  std::string optimizer;           // sgd | adam | adamw; empty: the loss's default
  double lr = -1;                  // -1: the loss's default for the optimizer (TrainingDefaults sgd_lr, adam_lr)
  double momentum = 0.9;           // sgd
  bool nesterov = false;           // sgd
  double weight_decay = 0.0;
  std::string schedule = "cosine"; // constant | step | cosine
  std::int64_t warmup_steps = -1;  // -1: the loss's default (TrainingDefaults::warmup_epochs, at most half the run)
  int epochs = 10;
  std::int64_t batch_size = 128;
  std::int64_t samples_per_class = 8;   // K of PK batches (triplet family): P = min(C, batch_size / K)
  std::uint64_t seed = 0;
  int threads = 0;                 // 0: adaptive (core/parallel.h: the cores other processes leave free)
  std::string dataset;             // a name from dataset_registry() (io/mnist.h): mnist | fashion-mnist;
                                   // "" : the data set whose folder data_dir is (dataset_of_folder), else mnist
  std::string data_dir;            // "" : the data set's full set if there, else its shipped subset
  std::string out_dir;             // "" : write nothing
  bool progress = true;            // progress bar on a terminal, plain lines otherwise
  bool stop_on_collapse = true;    // outputs identical for a whole batch, or one predicted class:
                                   // stop with an error (false: warn in run()'s log and train on;
                                   // Trainer::collapse_warning(); demo 06 shows the collapse)
  std::int64_t limit_train = 0;    // > 0: use only the first N training images (quick runs, tests)

  // Fill the "-1: default" fields from the loss's TrainingDefaults (its registry entry), and an
  // empty dataset from data_dir, and check every value. Throws chalk::Error naming the flag (an
  // unknown --dataset lists the known ones; a --data folder that is another data set's names both).
  void resolve();
  // warmup_steps, or when it is -1 the loss's default (warmup_epochs of an epoch of
  // `steps_per_epoch` steps, at most half of the run's steps).
  std::int64_t resolved_warmup_steps(std::int64_t steps_per_epoch) const;
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
  double embedding_norm = 0;       // median L2 norm of the test set's model outputs (0: not measured)
  std::string to_json() const;     // one line of metrics.jsonl
  static EpochMetrics from_json(const std::string& json);  // throws on a missing or mistyped field
};

// Called after every training step: (batch index, batches in the epoch, running mean loss).
using ProgressFn = std::function<void(std::int64_t, std::int64_t, double)>;

class Trainer {
 public:
  explicit Trainer(TrainConfig config);

  // One pass over the training set (epoch counts from 0). Returns the mean loss.
  // A non-finite loss throws chalk::Error naming the epoch and step, with a hint.
  double train_epoch(int epoch, const ProgressFn& progress = nullptr);
  // One training step (forward, loss, backward, optimizer step at the schedule's learning rate
  // for global_step()) on the training samples at `indices`, in that order; returns the batch's
  // loss. train_epoch calls it for each batch of its sampler; call it yourself to train on a
  // batch order of your own (tests/test_train_reference.cpp replays PyTorch's). Throws
  // chalk::Error for an index outside the training set, or a non-finite loss (naming the step).
  double train_step(const std::vector<std::int64_t>& indices);
  // Test-set metrics after `epoch` (0-based) — no gradient, eval mode.
  // predicted_classes(): how many distinct classes its test predictions used (run() stops with a
  // "training collapsed" error when that is 1).
  EpochMetrics evaluate(int epoch);
  // The whole run as chalk-train does it: resume if asked, epochs, metrics.jsonl,
  // checkpoints. Returns the last epoch's metrics.
  EpochMetrics run(bool resume, std::ostream& log);

  // Embeddings (model outputs) of a whole split, N x D, computed in batches, eval mode.
  Tensor embed(const MnistSplit& split);

  // Checkpoint: model, loss (its head or centroids) and optimizer state, the epoch,
  // and the config, in one safetensors file, written atomically.
  void save_checkpoint(const std::string& path, int epochs_done) const;
  // Returns the number of epochs the checkpoint had completed.
  int load_checkpoint(const std::string& path);

  const TrainConfig& config() const { return config_; }
  nn::Layer& model() { return *model_; }
  Loss& loss() { return *loss_; }
  nn::Optimizer& optimizer() { return *optimizer_; }
  const MnistSplit& train_set() const { return train_; }
  const MnistSplit& test_set() const { return test_; }
  const MnistLocation& data_location() const { return location_; }
  // The data set trained on: its name, class names (label k is dataset().class_names[k]), ...
  const Dataset& dataset() const { return location_.dataset; }
  std::int64_t num_classes() const { return location_.dataset.num_classes(); }
  std::int64_t global_step() const { return step_; }
  // How many training samples one batch holds: batch_size, or P x K for a loss that trains on
  // P x K batches (Loss::wants_pk_batches; P = min(classes, batch_size / K)), e.g. 10 x 8 = 80 for
  // the triplet loss at batch size 128. The progress bar's and metrics.jsonl's samples per second
  // count these.
  std::int64_t samples_per_batch() const;
  std::int64_t predicted_classes() const { return predicted_classes_; }
  // With stop_on_collapse off: the message of the first step whose outputs were identical for the
  // whole batch (the collapse that would have stopped the run), "" when none was. run() prints it
  // to its log as a warning after the epoch.
  const std::string& collapse_warning() const { return collapse_warning_; }
  // The median L2 norm of the model's outputs for the first batch of the run (0 before it; kept
  // in the checkpoint). run() compares each epoch's EpochMetrics::embedding_norm with it.
  double first_embedding_norm() const { return first_embedding_norm_; }
  // "" or, for a scale-invariant loss (Loss::scale_invariant) whose embeddings have grown to over
  // kEmbeddingGrowthLimit times first_embedding_norm(), the warning run() prints: learning has
  // slowed by that factor (the gradient reaching the network is divided by ||x||).
  std::string embedding_growth_warning(const EpochMetrics& m) const;
  // 400: the stalled runs seen grew 1030-2900x; healthy ones up to 180x (CosFace, ArcFace,
  // combined on a 16-d MLP, 48 steps) and 71x (triplet with Adam, 10 epochs of the subset).
  static constexpr double kEmbeddingGrowthLimit = 400;
  // The learning rate of the last step taken (the schedule's value at global_step() - 1).
  double lr_at_last_step() const;
  // The metrics of every epoch so far (saved in the checkpoint; metrics.jsonl is written from it).
  const std::vector<EpochMetrics>& history() const { return history_; }
  // Throws chalk::Error naming the first model or loss parameter with a NaN or infinity, with
  // `when` ("after epoch 3") and a hint. Reads every parameter once.
  void check_parameters_finite(const std::string& when) const;

 private:
  std::vector<std::vector<std::int64_t>> epoch_batches(int epoch) const;
  void prepare_loss();  // the loss's one data pass (e.g. K-means centroids), before the first step
  Tensor batch_images(const MnistSplit& split, const std::vector<std::int64_t>& idx) const;

  TrainConfig config_;
  MnistLocation location_;
  MnistSplit train_, test_;
  std::shared_ptr<nn::Layer> model_;
  std::shared_ptr<Loss> loss_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  std::unique_ptr<nn::LRSchedule> schedule_;
  std::int64_t step_ = 0;
  std::int64_t steps_per_epoch_ = 1;
  std::int64_t predicted_classes_ = -1;  // distinct classes among the last evaluate()'s predictions
  std::string collapse_warning_;         // the first collapsed step's message (stop_on_collapse off)
  bool collapse_warned_ = false;         // run() has printed it
  double first_embedding_norm_ = 0;      // median output norm of the run's first batch
  bool growth_warned_ = false;           // run() has printed the embedding-growth warning
  bool prepared_ = false;
  bool flat_input_ = false;
  std::vector<EpochMetrics> history_;  // the model takes images as rows (nn::ModelEntry::flat_input)
};

// The step's collapse check (Trainer::train_step). True when every row of the model's output
// is the same up to rounding: the network ignores its input (all ReLUs of a layer dead). O(B D).
// "Up to rounding": a dead layer feeds the next one the same row B times, but the BLAS kernel
// may still compute the B rows of that product along different paths (OpenBLAS's Haswell kernels
// treat the rows at a block's edge with other instructions), so equal inputs can give outputs
// that differ in their last bits. Row i counts as row 0 when every |out[i, j] - out[0, j]| is at
// most sqrt(epsilon) (3.5e-4 in float32, 1.5e-8 in float64) times |out[0, j]| + the median
// |out[0, k]| (the median keeps one huge logit from hiding the other columns, and an output near
// 0 from cancellation from counting as different); a network that sees its input differs by more.
// Shapes: out is B x D (float32 or float64); any other rank, or B < 2, gives false. NaN is never
// the same as anything. Throws chalk::Error only for a non-float dtype.
bool outputs_identical(const Tensor& out);

// Rebuild the model and loss a checkpoint was trained with and evaluate it on the test set
// (chalk-eval). `data_dir` as in TrainConfig; `dataset` names the data set to evaluate on ("":
// the one whose folder data_dir is, else the checkpoint's own). A checkpoint trained on another
// data set than that one throws chalk::Error naming both (its metrics would score a model on
// classes it never learned), unless `allow_other_dataset`: then the log says so in a warning.
// A checkpoint that records no data set was trained on MNIST.
EpochMetrics evaluate_checkpoint(const std::string& path, const std::string& data_dir, std::ostream& log,
                                 const std::string& dataset = "", bool allow_other_dataset = false);

// The optimizer a run's config names, over `params`: SGD (lr, momentum, nesterov, weight_decay;
// torch.optim.SGD), Adam or AdamW (lr, weight_decay; torch.optim.Adam / AdamW). config must be
// resolved (TrainConfig::resolve: optimizer and lr filled in). Throws chalk::Error for an unknown
// optimizer name.
std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& config, std::vector<Tensor> params);

// The configuration saved in a chalk checkpoint's metadata. Throws chalk::Error naming the file
// and the field when it is missing or not what chalk writes.
TrainConfig checkpoint_config(const std::string& path);

// The configuration a resumed run continues with: `stored` (the checkpoint's), with the epoch
// count (--epochs extends the run), threads, progress and out_dir from `given`. Every other flag
// in `given_flags` (chalk-train's names: "--loss", "--emb-dim", "--lr", ...) must agree with the
// stored value; otherwise throws chalk::Error naming the flag and both values.
TrainConfig resume_config(const TrainConfig& stored, const TrainConfig& given,
                          const std::vector<std::string>& given_flags);

}  // namespace chalk
