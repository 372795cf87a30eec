// train/parts.h — what a Trainer is built from (a model, a loss, data, the run's settings), and
// the by-name factory that builds them from a TrainConfig, as chalk-train does.
//
//   chalk::TrainerParts parts = chalk::make_trainer_parts(cfg);   // cfg.model, cfg.loss, cfg.dataset by name
//   parts.loss = std::make_shared<MyLoss>(parts.config.loss_options);  // or a loss of your own
//   chalk::Trainer t(std::move(parts));                            // trains it with chalk-train's loop
//
// A program with its own model, loss or data fills the fields itself (parts.config's optimizer,
// lr, schedule, batches ... then apply; its model and loss names are what a checkpoint records).
#pragma once

#include <cstdint>
#include <memory>

#include "losses/loss.h"
#include "nn/module.h"
#include "train/config.h"
#include "train/data.h"

namespace chalk {

struct TrainerParts {
  TrainConfig config;                // optimizer, lr, schedule, epochs, batches, seed, ... (checked)
  std::shared_ptr<nn::Layer> model;  // outputs B x D embeddings (or B x C logits)
  bool flat_input = false;           // the model takes images as rows [B, rows * cols] (the MLP;
                                     // nn::ModelEntry::flat_input), else [B, 1, rows, cols]
  std::shared_ptr<Loss> loss;        // its parameters (a class head, centroids) are trained too
  TrainingData data;                 // the data set, its class names, its two splits
};

// The by-name factory: config resolved (TrainConfig::resolve: the loss's defaults), the data set
// it names loaded (load_training_data), the model from nn::model_registry() with emb_dim outputs
// (or C logits for emb_dim 0) initialised from a generator seeded with config.seed (so the same
// seed gives the same weights, whatever else the program draws), and the loss from
// loss_registry() with config.loss_options. Throws chalk::Error naming the flag or file at fault.
TrainerParts make_trainer_parts(TrainConfig config);

}  // namespace chalk
