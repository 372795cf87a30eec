// train/checkpoint.h — a run saved and restored: model, loss (its head or centroids) and
// optimizer state, with the epoch, step and configuration, in one safetensors file.
//
//   chalk::save_checkpoint(path, model, loss, optimizer, config, state);   // written atomically
//   chalk::CheckpointState s = chalk::load_checkpoint(path, model, loss, optimizer);
//   chalk::TrainConfig stored = chalk::checkpoint_config(path);            // the run's flags
//
// The file's names are frozen (runs written by earlier versions must load): tensors "model.*",
// "loss.*", "optim.*"; metadata "format" ("chalk checkpoint v1"), "epochs_done", "global_step",
// "first_embedding_norm", "config" (config.json's text) and "metrics" (the epochs' lines).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "losses/loss.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "train/config.h"
#include "train/evaluate.h"

namespace chalk {

// What a checkpoint holds besides the tensors and the configuration.
struct CheckpointState {
  int epochs_done = 0;
  std::int64_t global_step = 0;       // optimizer steps taken
  double first_embedding_norm = 0;    // the run's first batch's median output norm (0: not measured)
  std::vector<EpochMetrics> history;  // one entry per epoch done (metrics.jsonl is written from it)
};

// Write model and loss parameters and buffers, the optimizer's state, `config` and `state` to
// `path` atomically (io/atomic_file.h: a crash leaves the old file). Throws chalk::Error when the
// file cannot be written.
void save_checkpoint(const std::string& path, const nn::Module& model, const nn::Module& loss,
                     const nn::Optimizer& optimizer, const TrainConfig& config, const CheckpointState& state);

// Read `path` into model, loss and optimizer (in place: each tensor keeps its identity, and its
// version is bumped) and return its state. The model's and loss's tensors must match the file's
// exactly (names, shapes, dtypes, finite values); otherwise throws chalk::Error naming the file
// and the first tensor that differs, and leaves every tensor as it was. A checkpoint written
// before a metadata field existed reads it as its default (no history; first norm 0).
CheckpointState load_checkpoint(const std::string& path, nn::Module& model, nn::Module& loss, nn::Optimizer& optimizer);

// The configuration saved in a chalk checkpoint's metadata. Throws chalk::Error naming the file
// and the field when it is missing or not what chalk writes.
TrainConfig checkpoint_config(const std::string& path);

// The configuration a resumed run continues with: `stored` (the checkpoint's), with the epoch
// count (--epochs extends the run), threads, progress and out_dir from `given`. Every other flag
// in `given_flags` (chalk-train's names: "--loss", "--emb-dim", "--lr", "--margin", ...) must
// agree with the stored value; otherwise throws chalk::Error naming the flag and both values.
// `given` is resolved (TrainConfig::resolve), with the stored loss when "--loss" is not given
// (a loss option flag is then checked against the stored run's loss).
TrainConfig resume_config(const TrainConfig& stored, const TrainConfig& given,
                          const std::vector<std::string>& given_flags);

// Rebuild the model and loss a checkpoint was trained with and evaluate it on the test set
// (chalk-eval). `data_dir` as in TrainConfig; `dataset` names the data set to evaluate on ("":
// the one whose folder data_dir is, else the checkpoint's own). A checkpoint trained on another
// data set than that one throws chalk::Error naming both (its metrics would score a model on
// classes it never learned), unless `allow_other_dataset`: then the log says so in a warning.
// A checkpoint that records no data set was trained on MNIST. The result's metrics carry the
// checkpoint's epoch count and last learning rate; its embeddings are the test set's metric
// embeddings (train/evaluate.h).
Evaluation evaluate_checkpoint(const std::string& path, const std::string& data_dir, std::ostream& log,
                                 const std::string& dataset = "", bool allow_other_dataset = false);

}  // namespace chalk
