// nn/layers.cpp — the layers: each forward is one call into ops/ (whose VJPs
// do the backward); the layer only owns the parameters and checks shapes.
#include "nn/layers.h"

#include <cmath>

#include "core/error.h"
#include "nn/init.h"
#include "ops/conv.h"
#include "ops/dropout.h"
#include "ops/pooling.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"

namespace chalk::nn {

namespace {

// PyTorch's reset_parameters() for Linear and Conv2d:
//   weight: kaiming_uniform_(a = sqrt(5))  =>  U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//   bias:   U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in of the weight
void default_init(Tensor& weight, Tensor& bias, Generator& gen) {
  kaiming_uniform_(weight, std::sqrt(5.0), gen);
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in_and_fan_out(weight).first));
    uniform_(bias, -bound, bound, gen);
  }
}

}  // namespace

// ---- Linear ----
Linear::Linear(std::int64_t in, std::int64_t out, bool has_bias, Generator& gen)
    : in_features(in), out_features(out) {
  if (in <= 0 || out <= 0) fail("Linear: expected positive sizes, got in = ", in, ", out = ", out);
  Tensor w = Tensor::empty({out, in});
  Tensor b = has_bias ? Tensor::empty({out}) : Tensor();
  default_init(w, b, gen);
  weight = register_parameter("weight", w);
  if (has_bias) bias = register_parameter("bias", b);
}

// y (N x out) = x (N x in) W^T + b
Tensor Linear::forward(const Tensor& x) {
  if (x.dim() != 2 || x.shape()[1] != in_features)
    fail(name(), ": expected input N x ", in_features, ", got ", shape_str(x.shape()));
  return linear(x, weight, bias);
}

std::string Linear::name() const {
  return str_cat("Linear(", in_features, " -> ", out_features, bias.defined() ? ")" : ", no bias)");
}

// ---- Conv2d ----
Conv2d::Conv2d(std::int64_t in_ch, std::int64_t out_ch, int k, int s, int pad, bool has_bias,
               Generator& gen)
    : in_channels(in_ch), out_channels(out_ch), kernel_size(k), stride(s), padding(pad) {
  if (in_ch <= 0 || out_ch <= 0 || k <= 0 || s <= 0 || pad < 0)
    fail("Conv2d: expected positive channels, kernel and stride and padding >= 0, got in = ", in_ch,
         ", out = ", out_ch, ", kernel = ", k, ", stride = ", s, ", padding = ", pad);
  Tensor w = Tensor::empty({out_ch, in_ch, k, k});
  Tensor b = has_bias ? Tensor::empty({out_ch}) : Tensor();
  default_init(w, b, gen);
  weight = register_parameter("weight", w);
  if (has_bias) bias = register_parameter("bias", b);
}

Tensor Conv2d::forward(const Tensor& x) {
  if (x.dim() != 4 || x.shape()[1] != in_channels)
    fail(name(), ": expected input N x ", in_channels, " x H x W, got ", shape_str(x.shape()));
  return conv2d(x, weight, bias, stride, padding);
}

std::string Conv2d::name() const {
  return str_cat("Conv2d(", in_channels, " -> ", out_channels, ", ", kernel_size, "x", kernel_size,
                 ", stride ", stride, ", padding ", padding, bias.defined() ? ")" : ", no bias)");
}

// ---- MaxPool2d ----
MaxPool2d::MaxPool2d(int k, int s) : kernel_size(k), stride(s == 0 ? k : s) {
  if (k <= 0 || stride <= 0)
    fail("MaxPool2d: expected kernel > 0 and stride >= 0 (0 = kernel), got kernel = ", k, ", stride = ", s);
}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel_size, stride); }

std::string MaxPool2d::name() const {
  return str_cat("MaxPool2d(", kernel_size, "x", kernel_size, ", stride ", stride, ")");
}

// ---- ReLUMaxPool2d ----
Tensor ReLUMaxPool2d::forward(const Tensor& x) { return relu_max_pool2d(x, kernel_size, stride); }

std::string ReLUMaxPool2d::name() const { return "ReLU + " + MaxPool2d::name(); }

// ---- ReLU ----
Tensor ReLU::forward(const Tensor& x) { return relu(x); }

// ---- Flatten ----
// [d0, ..., d(s-1), ds, ..., d(n-1)] -> [d0, ..., d(s-1), ds * ... * d(n-1)]
Tensor Flatten::forward(const Tensor& x) {
  const int s = normalize_axis(start_axis, x.shape().size(), "Flatten");
  Shape out(x.shape().begin(), x.shape().begin() + s);
  std::int64_t rest = 1;
  for (int i = s; i < x.dim(); ++i) rest *= x.shape()[i];
  out.push_back(rest);
  return x.reshape(out);
}

// ---- Dropout ----
Dropout::Dropout(double p_, Generator& gen) : p(p_), gen_(&gen) {
  if (!(p >= 0.0 && p < 1.0)) fail("Dropout: expected 0 <= p < 1, got p = ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), *gen_); }

std::string Dropout::name() const { return str_cat("Dropout(p=", p, ")"); }

// ---- Sequential ----
Sequential::Sequential(std::initializer_list<std::shared_ptr<Layer>> layers) {
  for (const auto& l : layers) push_back(l);
}

void Sequential::push_back(std::shared_ptr<Layer> layer) {
  if (!layer) fail("Sequential::push_back: null layer at position ", layers_.size());
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& l : layers_) y = l->forward(y);
  return y;
}

const std::shared_ptr<Layer>& Sequential::operator[](std::size_t i) const {
  if (i >= layers_.size()) fail("Sequential: index ", i, " out of range (", layers_.size(), " layers)");
  return layers_[i];
}

}  // namespace chalk::nn
