// train/trainer.cpp — the Trainer: a run's state around chalk::train_step (train/trainer.h).
#include "train/trainer.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "core/exercise.h"  // ExerciseNotDone, passed on unwrapped
#include "core/shape.h"
#include "train/checkpoint.h"
#include "train/monitors.h"
#include "train/step.h"

namespace chalk {

Trainer::Trainer(TrainConfig config) : Trainer(make_trainer_parts(std::move(config))) {}

Trainer::Trainer(TrainerParts parts)
    : config_(std::move(parts.config)), data_(std::move(parts.data)), flat_input_(parts.flat_input),
      model_(std::move(parts.model)), loss_(std::move(parts.loss)) {
  if (!model_ || !loss_) fail("Trainer: the parts have no ", model_ ? "loss" : "model");
  config_.check();
  check_training_data(data_, "Trainer");
  config_.dataset = data_.dataset.name;  // what a checkpoint records: the data trained on
  std::vector<Tensor> params = model_->parameters();
  for (auto& p : loss_->parameters()) params.push_back(p);
  optimizer_ = make_optimizer(config_, std::move(params));
  try {
    sampler_.emplace(data_.train.labels, num_classes(), loss_->wants_pk_batches(), config_.batch_size,
                     config_.samples_per_class, config_.seed);
  } catch (const Error& e) {  // e.g. a class with fewer images than K
    if (!loss_->wants_pk_batches()) throw;
    fail_flag("--samples-per-class ", config_.samples_per_class, " (K of the P x K batches of --loss ", config_.loss,
              ") does not fit the training set of ", data_.train.n, " images",
              config_.limit_train > 0 ? " (--limit-train)" : "", ": ", e.what());
  }
  const std::int64_t per_epoch = sampler_->num_batches();
  const std::int64_t total = checked_mul(per_epoch, config_.epochs, "--epochs", "the run's steps, steps per epoch x epochs =");
  if (config_.warmup_steps >= total)
    fail_flag("--warmup-steps ", config_.warmup_steps, ": the warm-up must end before the run does, and this run has ",
              total, " steps (", config_.epochs, " epoch(s) of ", per_epoch, "); give fewer steps, or more --epochs");
  // A loss's default warm-up (TrainingDefaults::warmup_epochs) in steps, at most half the run.
  config_.warmup_steps = config_.resolved_warmup_steps(per_epoch);
  schedule_ = nn::make_schedule(config_.schedule, config_.lr, total, config_.warmup_steps);
}

Tensor Trainer::embed(const MnistSplit& split) { return chalk::embed(*model_, split, flat_input_); }

void Trainer::prepare_loss() {
  if (prepared_) return;  // once per run, before its first step (a resumed run was prepared before)
  Tensor embeddings, labels;
  if (loss_->needs_data_pass()) {  // e.g. K-means centroids: the initial embeddings of the first 10,000 images
    const MnistSplit head = first_samples(data_.train, 10000);
    embeddings = embed(head);
    labels = from_vector(head.labels, {head.n});
  }
  loss_->prepare(embeddings, labels);
  prepared_ = true;
}

double Trainer::train_batch(const std::vector<std::int64_t>& indices) {
  prepare_loss();
  model_->train();
  loss_->train();
  for (std::int64_t i : indices)
    if (i < 0 || i >= data_.train.n)
      fail("Trainer::train_batch: index ", i, " is outside the training set [0, ", data_.train.n, ")");
  Batch batch = make_batch(data_.train, indices, /*flatten=*/flat_input_);
  if (config_.hflip) {
    std::vector<bool> flip(indices.size());
    for (std::size_t b = 0; b < indices.size(); ++b) flip[b] = hflip_coin(config_.seed, step_, indices[b]);
    flip_horizontally(batch.images, data_.train.rows, data_.train.cols, flip);
  }
  optimizer_->set_lr(schedule_->lr_at(step_));
  loss_->set_iteration(step_);
  // The dead-units monitor runs between the forward pass and the update: its stop leaves the
  // parameters as they were; with stop_on_collapse off it keeps the run's first warning.
  const StepCheck dead_units = [&](const Tensor& output, double) {
    if (!collapse_warning_.empty()) return;
    const Finding f = check_dead_units(output, step_, sampler_->num_batches(), config_);
    if (f.stops()) throw TrainingStopped(f.message);
    collapse_warning_ = f.message;
  };
  StepResult r;
  try {
    r = train_step(*model_, *loss_, *optimizer_, batch, dead_units);
  } catch (const TrainingStopped&) {
    throw;
  } catch (const ExerciseNotDone&) {  // a student edition's blank function: its own message says it all
    throw;
  } catch (const Error& e) {  // a non-finite loss, or an op refusing its input: say where it happened
    fail("training stopped at ", step_place(step_, sampler_->num_batches()), ": ", e.what(),
         ". Hint: lower the learning rate (--lr, now ", config_.lr, "; this step's rate ", optimizer_->lr(),
         "), add --warmup-steps, or check the loss options; the last good checkpoint (if any) is untouched.");
  }
  // The first batch's typical embedding length: the run compares each epoch's with it (a
  // scale-invariant loss stalls when its embeddings grow long; check_embedding_growth).
  if (first_embedding_norm_ == 0 && r.output.dim() == 2 && r.output.shape()[0] > 0)
    first_embedding_norm_ = median_row_norm(r.output);
  ++step_;
  return r.loss;
}

double Trainer::train_epoch(int epoch, const ProgressFn& progress) {
  const auto batches = sampler_->batches(epoch);
  double total = 0;
  std::int64_t count = 0;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    total += train_batch(batches[b]);
    ++count;
    if (progress) progress(static_cast<std::int64_t>(b) + 1, static_cast<std::int64_t>(batches.size()), total / count);
  }
  return count ? total / count : 0.0;
}

EpochMetrics Trainer::evaluate(int epoch) {
  const Evaluation ev = chalk::evaluate(*model_, *loss_, data_, flat_input_, config_.seed);
  predicted_classes_ = ev.predicted_classes;
  EpochMetrics m = ev.metrics;
  m.epoch = epoch + 1;
  m.lr = optimizer_->lr();
  return m;
}

std::string Trainer::embedding_growth_warning(const EpochMetrics& m) const {
  return check_embedding_growth(first_embedding_norm_, m, *loss_, config_).message;
}

void Trainer::save_checkpoint(const std::string& path, int epochs_done) const {
  chalk::save_checkpoint(path, *model_, *loss_, *optimizer_, config_,
                         CheckpointState{epochs_done, step_, first_embedding_norm_, history_});
}

int Trainer::load_checkpoint(const std::string& path) {
  const CheckpointState s = chalk::load_checkpoint(path, *model_, *loss_, *optimizer_);
  step_ = s.global_step;
  first_embedding_norm_ = s.first_embedding_norm;
  history_ = s.history;
  prepared_ = true;  // the loss's prepared state (e.g. K-means centroids) is in the checkpoint
  return s.epochs_done;
}

}  // namespace chalk
