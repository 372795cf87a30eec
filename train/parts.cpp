// train/parts.cpp — a Trainer's parts, built by name (train/parts.h).
#include "train/parts.h"

#include <utility>

#include "core/random.h"
#include "nn/models.h"

namespace chalk {

TrainerParts make_trainer_parts(TrainConfig config) {
  config.resolve();
  TrainerParts parts;
  parts.data = load_training_data(config);
  const std::int64_t out = config.emb_dim > 0 ? config.emb_dim : parts.data.num_classes();
  Generator init(config.seed);  // the model's own generator: the global one is the program's
  parts.model = nn::make_model(config.model, out, init);
  parts.flat_input = nn::find_model(config.model).flat_input;
  parts.loss = make_loss(config.loss, config.loss_options);
  parts.config = std::move(config);
  return parts;
}

}  // namespace chalk
