// nn/layers.h — the building blocks of the models: Linear, Conv2d, MaxPool2d,
// ReLU, Flatten, Dropout and the Sequential container.
//
// Shapes (docs/notation.md): N batch, C channels, H x W image, K kernel size.
// Parameter names follow PyTorch's state_dict: "weight", "bias"; inside a
// Sequential they become "0.weight", "2.bias", ... (checkpoint keys).
// Default initialisation is PyTorch's (nn/init.h): weight and bias
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from `gen`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "nn/module.h"

namespace chalk::nn {

// y = x W^T + b:  x (N x in),  W (out x in),  b (out),  y (N x out).  ops/linalg.h's linear.
class Linear : public Layer {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true,
         Generator& gen = global_generator());
  Tensor forward(const Tensor& x) override;
  std::string name() const override;  // "Linear(784 -> 256)"

  std::int64_t in_features, out_features;
  Tensor weight;  // out x in
  Tensor bias;    // out (undefined when bias = false)
};

// y = conv2d(x, W, b):  x (N x C x H x W),  W (O x C x K x K),  b (O),
// y (N x O x OH x OW),  OH = (H + 2 padding - K) / stride + 1.  ops/conv.h's conv2d.
class Conv2d : public Layer {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, int kernel_size, int stride = 1,
         int padding = 0, bool bias = true, Generator& gen = global_generator());
  Tensor forward(const Tensor& x) override;
  std::string name() const override;  // "Conv2d(1 -> 16, 5x5, stride 1, padding 2)"

  std::int64_t in_channels, out_channels;
  int kernel_size, stride, padding;
  Tensor weight;  // O x C x K x K
  Tensor bias;    // O (undefined when bias = false)
};

// Max over kernel x kernel windows moved by stride (stride 0 = kernel, PyTorch's default).
class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(int kernel_size, int stride = 0);
  Tensor forward(const Tensor& x) override;
  std::string name() const override;  // "MaxPool2d(2x2, stride 2)"

  int kernel_size, stride;
};

// ReLU followed by MaxPool2d, computed as one op (relu_max_pool2d, ops/pooling.h): the
// pool goes first (relu keeps the order of positive values), which saves the ReLU output
// (as large as the convolution's) and two passes over it. Same values and gradients as
// the two layers (tested bit for bit).
class ReLUMaxPool2d : public MaxPool2d {
 public:
  using MaxPool2d::MaxPool2d;  // the same window and stride, and the same checks
  Tensor forward(const Tensor& x) override;
  std::string name() const override;  // "ReLU + MaxPool2d(2x2, stride 2)"
};

// y = max(x, 0) element-wise (subgradient 0 at x = 0).
class ReLU : public Layer {
 public:
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "ReLU"; }
};

// Merge axes start_axis.. into one: [N, C, H, W] -> [N, C*H*W] (a reshape; differentiable).
class Flatten : public Layer {
 public:
  explicit Flatten(int start_axis = 1) : start_axis(start_axis) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Flatten"; }

  int start_axis;
};

// Inverted dropout while training (zero with probability p, scale the rest by
// 1/(1-p)); the identity after eval(). Draws its masks from `gen`.
class Dropout : public Layer {
 public:
  explicit Dropout(double p = 0.5, Generator& gen = global_generator());
  Tensor forward(const Tensor& x) override;
  std::string name() const override;  // "Dropout(p=0.5)"

  double p;

 private:
  Generator* gen_;
};

// Layers applied in order; child i is named "i" ("0", "1", ...), so the
// parameters of the first layer are "0.weight", "0.bias".
class Sequential : public Layer {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Layer>> layers);

  void push_back(std::shared_ptr<Layer> layer);
  // push_back that hands back the typed layer: auto fc = seq.add(std::make_shared<Linear>(4, 2));
  template <class L>
  std::shared_ptr<L> add(std::shared_ptr<L> layer) {
    push_back(layer);
    return layer;
  }

  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Sequential"; }

  std::size_t size() const { return layers_.size(); }
  const std::shared_ptr<Layer>& operator[](std::size_t i) const;

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace chalk::nn
