// nn/optim.h — optimizers: SGD (momentum, Nesterov, weight decay), Adam, AdamW.
//
// Each follows PyTorch's update rule exactly (torch.optim, 1.13); the free functions
// sgd_update and adam_update at the end of this file are one update of one parameter. An
// optimizer holds handles to the parameters and updates their data in place, outside the
// autograd graph; a parameter whose grad is undefined (no backward reached it) is skipped, and
// its state does not advance (as in PyTorch).
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

// ---- one update, element by element ----
// What SGD::step and Adam::step run on each parameter (split into chunks by parallel_for), and
// what a test can call directly with explicit gradients. T is float or double (explicitly
// instantiated in nn/optim.cpp). All arrays hold n values and are updated in place; they must
// not overlap. Units: those of the options (lr in parameter units per gradient unit).

// One step of torch.optim.SGD (PyTorch 1.13,
// https://pytorch.org/docs/1.13/generated/torch.optim.SGD.html) on n elements: param p, its
// gradient grad, and the momentum buffer (torch's "momentum_buffer"). options.lr is this step's
// learning rate. first_step: the parameter's first update with momentum, when the buffer has no
// history yet (SGD passes it zero-filled); its value afterwards is the buffer as PyTorch keeps
// it. The buffer is read and written only when options.momentum != 0 (SGD passes null without
// momentum). The arithmetic is in T.
// Throws chalk::Error naming sgd_update for n < 0, a null param or grad (or buffer, with
// momentum), lr < 0 or not finite, momentum < 0, weight_decay < 0, or nesterov without
// momentum > 0 and dampening = 0.
template <typename T>
void sgd_update(T* param, const T* grad, T* momentum_buffer, std::int64_t n, bool first_step,
                const SGDOptions& options);

// One step of torch.optim.Adam (decoupled_weight_decay = false) or torch.optim.AdamW (true)
// (PyTorch 1.13, https://pytorch.org/docs/1.13/generated/torch.optim.Adam.html; Kingma & Ba
// 2015, Loshchilov & Hutter 2019) on n elements: param, its gradient grad, and the moments
// exp_avg (m) and exp_avg_sq (v), torch's names, zero before the parameter's first update.
// step: the parameter's step count t including this update (1 at its first). options.lr is
// this step's learning rate. The arithmetic is in double, the results are stored as T.
// Throws chalk::Error naming adam_update for n < 0, a null array, step < 1, lr < 0 or not
// finite, betas outside [0, 1), eps < 0 or weight_decay < 0.
template <typename T>
void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, std::int64_t n, std::int64_t step,
                 const AdamOptions& options, bool decoupled_weight_decay);

}  // namespace chalk::nn
