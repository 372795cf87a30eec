// nn/models.cpp — MLP and SmallCNN (architectures in nn/models.h).
#include "nn/models.h"

#include "core/error.h"

namespace chalk::nn {

// ---- MLP ----
MLP::MLP(std::int64_t out_, Generator& gen) : out(out_) {
  if (out <= 0) fail("MLP: expected out > 0, got ", out);
  net = register_module("net", std::make_shared<Sequential>());
  net->push_back(std::make_shared<Linear>(784, 256, true, gen));  // net.0
  net->push_back(std::make_shared<ReLU>());                       // net.1
  net->push_back(std::make_shared<Linear>(256, 128, true, gen));  // net.2
  net->push_back(std::make_shared<ReLU>());                       // net.3
  net->push_back(std::make_shared<Linear>(128, out, true, gen));  // net.4
}

// N x 1 x 28 x 28 (or any N x ... with 784 values per image) -> N x 784 -> N x out
Tensor MLP::forward(const Tensor& x) {
  if (x.dim() < 2 || x.numel() != x.shape()[0] * 784)
    fail(name(), ": expected input N x 784 or N x 1 x 28 x 28, got ", shape_str(x.shape()));
  return net->forward(x.dim() == 2 ? x : x.reshape({x.shape()[0], 784}));
}

std::string MLP::name() const { return str_cat("MLP(784-256-128-", out, ")"); }

// ---- SmallCNN ----
SmallCNN::SmallCNN(std::int64_t out_, Generator& gen) : out(out_) {
  if (out <= 0) fail("SmallCNN: expected out > 0, got ", out);
  net = register_module("net", std::make_shared<Sequential>());
  // conv -> ReLU -> maxpool, with each ReLU and the pool after it run as one op
  // (ReLUMaxPool2d: the same numbers, one pass over the convolution's output).
  net->push_back(std::make_shared<Conv2d>(1, 16, 5, 1, 2, true, gen));   // net.0  N x 16 x 28 x 28
  net->push_back(std::make_shared<ReLUMaxPool2d>(2));                   // net.1  N x 16 x 14 x 14
  net->push_back(std::make_shared<Conv2d>(16, 32, 5, 1, 2, true, gen));  // net.2  N x 32 x 14 x 14
  net->push_back(std::make_shared<ReLUMaxPool2d>(2));                   // net.3  N x 32 x 7 x 7
  net->push_back(std::make_shared<Flatten>());                          // net.4  N x 1568
  net->push_back(std::make_shared<Linear>(32 * 7 * 7, 128, true, gen));  // net.5
  net->push_back(std::make_shared<ReLU>());                             // net.6
  net->push_back(std::make_shared<Linear>(128, out, true, gen));        // net.7
}

Tensor SmallCNN::forward(const Tensor& x) {
  if (x.dim() != 4 || x.shape()[1] != 1 || x.shape()[2] != 28 || x.shape()[3] != 28)
    fail(name(), ": expected input N x 1 x 28 x 28, got ", shape_str(x.shape()));
  return net->forward(x);
}

std::string SmallCNN::name() const { return str_cat("SmallCNN(out=", out, ")"); }

// ---- registry ----
const std::vector<ModelEntry>& model_registry() {
  static const std::vector<ModelEntry> table = {
      {"mlp", "MLP 784-256-128-out with ReLU (images as rows of 784 pixels)", true,
       [](std::int64_t out, Generator& gen) { return std::make_shared<MLP>(out, gen); }},
      {"cnn", "SmallCNN: conv 5x5 16 + pool, conv 5x5 32 + pool, 1568-128-out (images as 1x28x28)", false,
       [](std::int64_t out, Generator& gen) { return std::make_shared<SmallCNN>(out, gen); }},
  };
  return table;
}

const ModelEntry& find_model(const std::string& name) {
  std::string known;
  for (const ModelEntry& e : model_registry()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  fail("unknown model '", name, "' (known models: ", known, ")");
}

std::shared_ptr<Layer> make_model(const std::string& name, std::int64_t out, Generator& gen) {
  return find_model(name).make(out, gen);
}

}  // namespace chalk::nn
