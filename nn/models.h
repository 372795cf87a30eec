// nn/models.h — the two MNIST models chalk trains, and a factory by name.
//
// Both output `out` numbers per image: class logits for softmax losses, or an
// embedding of dimension D = out for the metric losses. Their parameter names
// are checkpoint keys: renaming one makes older checkpoints unreadable (SmallCNN's
// changed once, when each ReLU and pool became one ReLUMaxPool2d layer):
//   MLP       net.0.{weight,bias} net.2.* net.4.*              (235,146 parameters for out = 10)
//   SmallCNN  net.0.* net.2.* (convs)  net.5.* net.7.* (linears) (215,370 parameters for out = 10)
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/random.h"
#include "nn/layers.h"

namespace chalk::nn {

// 784 -> 256 -> ReLU -> 128 -> ReLU -> out.
// Input N x 784, or N x 1 x 28 x 28 (flattened first).
class MLP : public Layer {
 public:
  explicit MLP(std::int64_t out = 10, Generator& gen = global_generator());
  Tensor forward(const Tensor& x) override;
  std::string name() const override;  // "MLP(784-256-128-10)"

  std::int64_t out;
  std::shared_ptr<Sequential> net;
};

// Input N x 1 x 28 x 28:
//   conv 5x5, 16 ch, pad 2 -> ReLU -> maxpool 2    -> N x 16 x 14 x 14
//   conv 5x5, 32 ch, pad 2 -> ReLU -> maxpool 2    -> N x 32 x 7 x 7
//   flatten -> linear 1568 -> 128 -> ReLU -> linear 128 -> out
class SmallCNN : public Layer {
 public:
  explicit SmallCNN(std::int64_t out = 10, Generator& gen = global_generator());
  Tensor forward(const Tensor& x) override;
  std::string name() const override;  // "SmallCNN(out=10)"

  std::int64_t out;
  std::shared_ptr<Sequential> net;
};

// ---- the models by their --model name (one line per model in nn/models.cpp) ----
struct ModelEntry {
  std::string name;         // the --model value
  std::string description;  // one line for --help
  bool flat_input;          // true: takes images as [B, 784] rows; false: as [B, 1, 28, 28]
  std::function<std::shared_ptr<Layer>(std::int64_t out, Generator& gen)> make;
};
const std::vector<ModelEntry>& model_registry();
// The entry called `name`; throws chalk::Error listing the known names otherwise.
const ModelEntry& find_model(const std::string& name);
// find_model(name).make(out, gen): a model with `out` outputs (embedding size or C logits).
std::shared_ptr<Layer> make_model(const std::string& name, std::int64_t out = 10,
                                  Generator& gen = global_generator());

}  // namespace chalk::nn
