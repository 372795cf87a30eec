// train/config.h — a training run's settings, as chalk-train's flags and config.json hold them.
//
//   chalk::TrainConfig cfg;                 // every chalk-train flag is a field here
//   cfg.loss = "arcface"; cfg.epochs = 2;
//   cfg.resolve();                          // the loss's defaults filled in, every value checked
//   std::string json = cfg.to_json();       // config.json (also in every checkpoint's metadata)
//
// The JSON's keys are frozen: checkpoints and runs written by earlier versions must still load
// (docs/training.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "losses/loss.h"
#include "nn/optim.h"

namespace chalk {

struct TrainConfig {
  std::string model = "mlp";       // a name from nn::model_registry(): mlp | cnn
  std::string loss = kDefaultLoss; // a name from loss_registry()
  std::int64_t emb_dim = -1;       // -1: the loss's default (TrainingDefaults; softmax: 0 = the model outputs C logits)
  // The loss's options by name (--margin 0.5: values["margin"] = 0.5); one not given takes the
  // loss's default, which resolve() fills in (the loss's own table: losses/options.h). num_classes,
  // emb_dim and seed are set by resolve() from the data set, emb_dim and seed.
  LossOptions loss_options;
  std::string optimizer;           // sgd | adam | adamw; empty: the loss's default
  double lr = -1;                  // -1: the loss's default for the optimizer (TrainingDefaults sgd_lr, adam_lr)
  double momentum = 0.9;           // sgd
  bool nesterov = false;           // sgd
  double weight_decay = 0.0;
  std::string schedule = "cosine"; // constant | step | cosine
  std::int64_t warmup_steps = -1;  // -1: the loss's default (TrainingDefaults::warmup_epochs, at most half the run)
  int epochs = 10;
  std::int64_t batch_size = 128;
  std::int64_t samples_per_class = 8;   // K of PK batches (triplet family): P = min(C, batch_size / K) (train/sampler.h)
  // The sampler's order, the model's initial weights (make_trainer_parts) and the loss's own
  // (loss_options.seed), the NMI's K-means. Each draws from a generator of its own seeded from it:
  // the Trainer never reseeds the global generator (chalk::manual_seed is the program's).
  std::uint64_t seed = 0;
  // 0: adaptive (core/parallel.h: the cores other processes leave free). The program applies it
  // (chalk-train's main, the demos' Notebook: set_num_threads), not the Trainer: the thread
  // count is the process's, and a Trainer is one object in it.
  int threads = 0;
  std::string dataset;             // a name from dataset_registry() (io/mnist.h): mnist | fashion-mnist;
                                   // "" : the data set whose folder data_dir is (dataset_of_folder), else mnist
  std::string data_dir;            // "" : the data set's full set if there, else its shipped subset
  std::string out_dir;             // "" : write nothing
  bool progress = true;            // progress bar on a terminal, plain lines otherwise
  bool stop_on_collapse = true;    // outputs identical for a whole batch, or one predicted class:
                                   // stop with an error (false: warn in the run's log and train on;
                                   // Trainer::collapse_warning(); demo 06 shows the collapse)
  std::int64_t limit_train = 0;    // > 0: use only the first N training images (quick runs, tests)
  bool hflip = false;              // flip each training image left-right with probability 1/2 (augmentation;
                                   // train/batches.h flip_horizontally: for Fashion-MNIST, not digits)

  // Fill the "-1: default" fields from the loss's TrainingDefaults (its registry entry), the loss
  // options not given from the loss's option table (resolve_options), and an empty dataset from
  // data_dir, then check(). Throws chalk::Error naming the flag (an option the loss does not
  // have names the loss and lists its options; an unknown --dataset lists the known ones; a
  // --data folder that is another data set's names both).
  void resolve();
  // Check the values that need no registry: optimizer (sgd, adam or adamw), lr (> 0, finite),
  // warmup_steps (>= -1), schedule, epochs (>= 1), batch_size (>= 2), samples_per_class (>= 1),
  // threads (>= 0). Throws chalk::Error naming the flag and the value. A Trainer built from
  // objects calls it (its loss need not be in the registry, so nothing is filled in).
  void check() const;
  // warmup_steps, or when it is -1 the loss's default (warmup_epochs of an epoch of
  // `steps_per_epoch` steps, at most half of the run's steps). Throws chalk::Error when it is -1
  // and `loss` is not a registry name (there is no default to take).
  std::int64_t resolved_warmup_steps(std::int64_t steps_per_epoch) const;
  // config.json: every field, and "loss_options" with the loss's options given or resolved.
  std::string to_json() const;
  // Throws chalk::Error naming a missing or mistyped field, or a loss option its loss does not
  // have ("loss_options.mining: the cosface loss has no option 'mining' ..."). Also reads the
  // earlier format, whose "loss_options" held every option of every loss (train/config_v1.cpp).
  static TrainConfig from_json(const std::string& json);
};

// The optimizer a run's config names, over `params`: SGD (lr, momentum, nesterov, weight_decay;
// torch.optim.SGD), Adam or AdamW (lr, weight_decay; torch.optim.Adam / AdamW). config must be
// resolved (TrainConfig::resolve: optimizer and lr filled in). Throws chalk::Error for an unknown
// optimizer name.
std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& config, std::vector<Tensor> params);

}  // namespace chalk
