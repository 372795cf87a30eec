// nn/optim.h — optimizers: SGD (momentum, Nesterov, weight decay), Adam, AdamW.
//
// Each follows PyTorch's update rule exactly (torch.optim, 1.13), written out
// beside the code in nn/optim.cpp. An optimizer holds handles to the
// parameters and updates their data in place, outside the autograd graph;
// a parameter whose grad is undefined (no backward reached it) is skipped,
// and its state does not advance (as in PyTorch).
//
// Checkpoints: state() exports everything needed to resume exactly as named
// tensors (i = the parameter's index in the list given to the constructor):
//   "step"             int64 scalar, number of step() calls
//   "momentum.<i>"     SGD momentum buffer (once it exists)
//   "adam.m.<i>"       Adam/AdamW first moment  m
//   "adam.v.<i>"       Adam/AdamW second moment v
//   "adam.step.<i>"    int64 scalar, that parameter's own step count t
// and load_state() takes them back (checking names, shapes and dtypes).
// The learning rate is not state: a schedule (nn/schedule.h) sets it each step.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace chalk::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;

  // One update of every parameter that has a gradient.
  void step();
  // Forget every parameter's gradient (set it undefined, like set_to_none=True).
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  std::int64_t steps() const { return steps_; }
  const std::vector<Tensor>& params() const { return params_; }
  virtual std::string name() const = 0;

  NamedTensors state() const;
  void load_state(const NamedTensors& state);

 protected:
  // Update params_[i] in place from its gradient g (same dtype and shape).
  virtual void update(std::size_t i, const Tensor& param, const Tensor& g) = 0;
  // The per-parameter state (without "step").
  virtual NamedTensors export_state() const = 0;
  virtual void import_state(const NamedTensors& state) = 0;
  // For import_state: the tensor called `key` in `state`, checked against params_[i]
  // (shape and dtype); undefined when absent.
  Tensor find_state(const NamedTensors& state, const std::string& key, std::size_t i) const;

  std::vector<Tensor> params_;
  double lr_;
  std::int64_t steps_ = 0;
  mutable std::set<std::string> consumed_;  // keys load_state has read (to reject the rest)
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;      // needs momentum > 0 and dampening = 0
  double weight_decay = 0.0;  // L2: added to the gradient
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& options);
  std::string name() const override { return "SGD"; }
  const SGDOptions& options() const { return options_; }

 protected:
  void update(std::size_t i, const Tensor& param, const Tensor& g) override;
  NamedTensors export_state() const override;
  void import_state(const NamedTensors& state) override;

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_;  // undefined until the parameter's first update
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // Adam: L2 added to the gradient; AdamW: decoupled
};

// Adam (Kingma & Ba 2015) with PyTorch's bias correction and eps placement.
// decoupled = true is AdamW (Loshchilov & Hutter 2019): the weight decay
// shrinks the parameter directly instead of entering the moments.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options);
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled);
  void update(std::size_t i, const Tensor& param, const Tensor& g) override;
  NamedTensors export_state() const override;
  void import_state(const NamedTensors& state) override;

 private:
  AdamOptions options_;
  bool decoupled_;
  std::vector<Tensor> m_, v_;        // undefined until the parameter's first update
  std::vector<std::int64_t> t_;      // per-parameter step count
};

// AdamW: PyTorch's default weight_decay for AdamW is 1e-2 (pass it explicitly).
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamOptions& options) : Adam(std::move(params), options, true) {}
};

}  // namespace chalk::nn
