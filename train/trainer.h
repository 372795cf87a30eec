// train/trainer.h — a model, a loss and data, trained: chalk-train's loop, callable from a small
// program (the demos) with the parts named or given.
//
//   chalk::TrainConfig cfg;                  // every chalk-train flag is a field (train/config.h)
//   cfg.model = "cnn"; cfg.loss = "arcface"; cfg.epochs = 2;
//   chalk::Trainer t(cfg);                   // by name: loads the data set, builds model and loss
//   for (int e = 0; e < cfg.epochs; ++e) {
//     double train_loss = t.train_epoch(e);
//     chalk::EpochMetrics m = t.evaluate(e);     // test loss, accuracy, P@1, MAP@R, NMI...
//     chalk::Tensor emb = t.embed(t.test_set());  // the embeddings themselves, N x D
//   }
//   chalk::run_training(t, /*resume=*/false, std::cout);  // or all of it as chalk-train does (train/run.h)
//
// With a model, loss or data of your own: build the parts (train/parts.h) and pass them,
//   chalk::TrainerParts parts = chalk::make_trainer_parts(cfg);
//   parts.loss = my_loss;
//   chalk::Trainer t(std::move(parts));
//
// Each training step is chalk::train_step (train/step.h); around it the Trainer keeps the run's
// state (step count, schedule, the monitors' findings, the metrics history) and calls the parts
// named for what they do: the sampler (train/sampler.h), the monitors (train/monitors.h),
// evaluation (train/evaluate.h), checkpoints (train/checkpoint.h).
//
// A Trainer sets nothing process-wide: the thread count and the global generator's seed are the
// program's (chalk-train's main; the demos' Notebook).
//
// Layering: train/ uses nn/ (models, optimizers), losses/ and eval/; programs use train/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/mnist.h"
#include "losses/loss.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "train/config.h"
#include "train/data.h"
#include "train/evaluate.h"
#include "train/parts.h"
#include "train/sampler.h"

namespace chalk {

// Called after every training step: (batch index, batches in the epoch, running mean loss).
using ProgressFn = std::function<void(std::int64_t, std::int64_t, double)>;

class Trainer {
 public:
  // From objects: parts.config is checked (TrainConfig::check; nothing is looked up by name),
  // parts.data too (check_training_data), and the optimizer (over the model's and the loss's
  // parameters), the sampler and the learning-rate schedule are built from parts.config; a
  // warmup_steps of -1 takes the registry default of parts.config.loss. parts.config.dataset
  // becomes parts.data's name (what a checkpoint records). Throws chalk::Error naming what is
  // missing or wrong, chalk::FlagError for a flag the data shows cannot work (a K of P x K
  // batches that does not fit the training set, a warm-up as long as the run).
  explicit Trainer(TrainerParts parts);
  // By name, as chalk-train: Trainer(make_trainer_parts(config)).
  explicit Trainer(TrainConfig config);

  // One pass over the training set (epoch counts from 0). Returns the mean loss.
  // A non-finite loss throws chalk::Error naming the epoch and step, with a hint.
  double train_epoch(int epoch, const ProgressFn& progress = nullptr);
  // One training step (train_step: forward, loss, backward, optimizer step at the schedule's
  // learning rate for global_step()) on the training samples at `indices`, in that order; returns
  // the batch's loss. train_epoch calls it for each batch of its sampler; call it yourself to
  // train on a batch order of your own (tests/test_train_reference.cpp replays PyTorch's).
  // Throws chalk::Error for an index outside the training set, or a failed step (a non-finite
  // loss, an op's error: naming the epoch and step, with a hint), or a monitor's stop
  // (TrainingStopped: dead units with stop_on_collapse).
  double train_batch(const std::vector<std::int64_t>& indices);
  // Test-set metrics after `epoch` (0-based) — no gradient, eval mode (chalk::evaluate), with the
  // epoch and the optimizer's current lr. Sets predicted_classes().
  EpochMetrics evaluate(int epoch);

  // Embeddings (model outputs) of a whole split, N x D, computed in batches, eval mode.
  Tensor embed(const MnistSplit& split);

  // Checkpoint (train/checkpoint.h): model, loss and optimizer state, the step, the first
  // embedding norm, history() and the config, in one safetensors file, written atomically.
  void save_checkpoint(const std::string& path, int epochs_done) const;
  // Restores all of that (the config is the caller's: checkpoint_config reads it). Returns the
  // number of epochs the checkpoint had completed. Throws chalk::Error for a checkpoint of
  // another model or loss, or a damaged one.
  int load_checkpoint(const std::string& path);
  // Append an epoch's metrics to history() (run_training does, after each epoch's monitors).
  void record(const EpochMetrics& m) { history_.push_back(m); }

  const TrainConfig& config() const { return config_; }
  nn::Layer& model() { return *model_; }
  const nn::Layer& model() const { return *model_; }
  Loss& loss() { return *loss_; }
  const Loss& loss() const { return *loss_; }
  nn::Optimizer& optimizer() { return *optimizer_; }
  const nn::LRSchedule& schedule() const { return *schedule_; }
  const Sampler& sampler() const { return *sampler_; }
  // The data trained on: the data set (its name, class names: label k is dataset().class_names[k]),
  // a description for logs, the two splits.
  const TrainingData& data() const { return data_; }
  const MnistSplit& train_set() const { return data_.train; }
  const MnistSplit& test_set() const { return data_.test; }
  const Dataset& dataset() const { return data_.dataset; }
  std::int64_t num_classes() const { return data_.num_classes(); }
  bool flat_input() const { return flat_input_; }
  std::int64_t global_step() const { return step_; }
  // How many training samples one batch holds: batch_size, or P x K for a loss that trains on
  // P x K batches (Loss::wants_pk_batches; P = pk_classes_per_batch(C, batch_size, K)), e.g.
  // 10 x 8 = 80 for the triplet loss at batch size 128. The progress bar's and metrics.jsonl's
  // samples per second count these.
  std::int64_t samples_per_batch() const { return sampler_->samples_per_batch(); }
  // Distinct classes among the last evaluate()'s test predictions (-1 before it; 1: collapse).
  std::int64_t predicted_classes() const { return predicted_classes_; }
  // With stop_on_collapse off: the message of the first step whose outputs were identical for the
  // whole batch (the collapse that would have stopped the run), "" when none was. run_training
  // prints it to its log as a warning after the epoch.
  const std::string& collapse_warning() const { return collapse_warning_; }
  // The median L2 norm of the model's outputs for the first batch of the run (0 before it; kept
  // in the checkpoint). run_training compares each epoch's EpochMetrics::embedding_norm with it.
  double first_embedding_norm() const { return first_embedding_norm_; }
  // check_embedding_growth's warning for `m` (train/monitors.h), "" when there is none.
  std::string embedding_growth_warning(const EpochMetrics& m) const;
  // The learning rate of the last step taken (the schedule's value at global_step() - 1).
  double lr_at_last_step() const { return schedule_->lr_at(std::max<std::int64_t>(step_ - 1, 0)); }
  // The metrics of every epoch so far (saved in the checkpoint; metrics.jsonl is written from it).
  const std::vector<EpochMetrics>& history() const { return history_; }

 private:
  void prepare_loss();  // the loss's one data pass (e.g. K-means centroids), before the first step

  TrainConfig config_;
  TrainingData data_;
  bool flat_input_ = false;  // the model takes images as rows (nn::ModelEntry::flat_input)
  std::shared_ptr<nn::Layer> model_;
  std::shared_ptr<Loss> loss_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  std::optional<Sampler> sampler_;
  std::optional<nn::LRSchedule> schedule_;
  std::int64_t step_ = 0;
  std::int64_t predicted_classes_ = -1;  // distinct classes among the last evaluate()'s predictions
  std::string collapse_warning_;         // the first collapsed step's message (stop_on_collapse off)
  double first_embedding_norm_ = 0;      // median output norm of the run's first batch
  bool prepared_ = false;
  std::vector<EpochMetrics> history_;
};

}  // namespace chalk
