// nn/optim.cpp — SGD, Adam, AdamW: PyTorch's update rules (torch.optim 1.13),
// element by element, in place on the parameter data (no autograd graph). Each update bumps
// the version of what it wrote (core/autograd.h: increment_version), as PyTorch's in-place
// ops do: a graph recorded before step() and walked after it throws instead of using the
// new weights.
// Notation: p parameter, g its gradient, lr learning rate, wd weight decay,
// t the parameter's step count (1 at its first update).
#include "nn/optim.h"

#include <cmath>
#include <initializer_list>
#include <set>

#include "core/autograd.h"
#include "core/error.h"
#include "core/exercise.h"  // exercise_not_done: the stub a student edition puts in the update functions
#include "core/parallel.h"

namespace chalk::nn {

namespace {

Tensor int_scalar(std::int64_t v) { return from_vector(std::vector<std::int64_t>{v}, {}); }

std::int64_t int_value(const Tensor& t, const std::string& key) {
  if (t.numel() != 1) fail("Optimizer::load_state: '", key, "' should be a scalar, got ", shape_str(t.shape()));
  return static_cast<std::int64_t>(std::llround(t.item()));
}

// A private copy of a state tensor (a checkpoint must not alias live state).
Tensor snapshot(const Tensor& t) { return t.detach().clone(); }

// The options SGD's constructor and sgd_update both refuse; `who` names the caller.
void check_sgd_options(const SGDOptions& o, const char* who) {
  if (!(o.momentum >= 0.0)) fail(who, ": expected momentum >= 0, got ", o.momentum);
  if (!(o.weight_decay >= 0.0)) fail(who, ": expected weight_decay >= 0, got ", o.weight_decay);
  if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0))
    fail(who, ": nesterov needs momentum > 0 and dampening = 0, got momentum = ", o.momentum,
         ", dampening = ", o.dampening);
}

// The options Adam's and AdamW's constructors and adam_update all refuse.
void check_adam_options(const AdamOptions& o, const char* who) {
  if (!(o.beta1 >= 0.0 && o.beta1 < 1.0) || !(o.beta2 >= 0.0 && o.beta2 < 1.0))
    fail(who, ": expected betas in [0, 1), got (", o.beta1, ", ", o.beta2, ")");
  if (!(o.eps >= 0.0)) fail(who, ": expected eps >= 0, got ", o.eps);
  if (!(o.weight_decay >= 0.0)) fail(who, ": expected weight_decay >= 0, got ", o.weight_decay);
}

// What the update functions check of their arrays and learning rate.
void check_update_arguments(const char* who, std::int64_t n, double lr, std::initializer_list<const void*> arrays) {
  if (n < 0) fail(who, ": expected n >= 0 elements, got ", n);
  if (!(lr >= 0.0) || !std::isfinite(lr)) fail(who, ": expected a finite lr >= 0, got ", lr);
  if (n > 0)
    for (const void* a : arrays)
      if (!a) fail(who, ": an array of the ", n, " elements is null");
}

}  // namespace

// ---- Optimizer ----
Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined()) fail("Optimizer: parameter ", i, " is undefined");
    if (!is_floating(p.dtype()))
      fail("Optimizer: parameter ", i, " ", shape_str(p.shape()), " has dtype ", dtype_name(p.dtype()),
           ", expected float32 or float64");
    if (!p.is_leaf()) fail("Optimizer: parameter ", i, " ", shape_str(p.shape()), " is not a leaf tensor");
  }
  set_lr(lr);
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) fail("Optimizer: expected a finite lr >= 0, got ", lr);
  lr_ = lr;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;  // no backward reached it: skipped, state unchanged
    if (g.shape() != p.shape() || g.dtype() != p.dtype())
      fail(name(), ".step: parameter ", i, " is ", dtype_name(p.dtype()), " ", shape_str(p.shape()),
           " but its grad is ", dtype_name(g.dtype()), " ", shape_str(g.shape()));
    update(i, p, g);
  }
  ++steps_;
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

NamedTensors Optimizer::state() const {
  NamedTensors out{{"step", int_scalar(steps_)}};
  for (auto& kv : export_state()) out.push_back(std::move(kv));
  return out;
}

void Optimizer::load_state(const NamedTensors& state) {
  const Tensor* step = nullptr;
  for (auto& [k, t] : state)
    if (k == "step") step = &t;
  if (!step) fail(name(), ".load_state: no 'step' entry (is this an optimizer state?)");
  consumed_.clear();
  consumed_.insert("step");
  import_state(state);
  for (auto& [k, t] : state)
    if (!consumed_.count(k))
      fail(name(), ".load_state: unexpected entry '", k, "' (state of another optimizer, or of ",
           "a model with more parameters than the ", params_.size(), " given?)");
  steps_ = int_value(*step, "step");
}

Tensor Optimizer::find_state(const NamedTensors& state, const std::string& key, std::size_t i) const {
  for (auto& [k, t] : state) {
    if (k != key) continue;
    consumed_.insert(k);
    const Tensor& p = params_[i];
    if (t.shape() != p.shape())
      fail(name(), ".load_state: '", key, "' has shape ", shape_str(t.shape()), " but parameter ", i,
           " is ", shape_str(p.shape()));
    return t.detach().to(p.dtype()).clone();
  }
  return Tensor();
}

// ---- SGD ----
SGD::SGD(std::vector<Tensor> params, const SGDOptions& o)
    : Optimizer(std::move(params), o.lr), options_(o), momentum_(params_.size()) {
  check_sgd_options(o, "SGD");
}

void SGD::update(std::size_t i, const Tensor& param, const Tensor& grad) {
  const bool with_momentum = options_.momentum != 0.0;
  const bool first = !momentum_[i].defined();
  if (with_momentum && first) momentum_[i] = zeros_like(param);
  SGDOptions o = options_;
  o.lr = lr_;  // the schedule's learning rate of this step
  Tensor p = param, g = grad, b = momentum_[i];
  dispatch_float(p.dtype(), "SGD.step", [&](auto tag) {
    using T = decltype(tag);
    T* pp = p.data<T>();
    const T* pg = g.data<T>();
    T* pb = with_momentum ? b.data<T>() : nullptr;
    parallel_for(p.numel(), [=](std::int64_t s, std::int64_t e) {
      sgd_update(pp + s, pg + s, pb ? pb + s : nullptr, e - s, first, o);
    });
  });
  increment_version(p);  // backward() refuses a graph that saved p before this step
  if (with_momentum) increment_version(b);
}

NamedTensors SGD::export_state() const {
  NamedTensors out;
  for (std::size_t i = 0; i < momentum_.size(); ++i)
    if (momentum_[i].defined()) out.emplace_back("momentum." + std::to_string(i), snapshot(momentum_[i]));
  return out;
}

void SGD::import_state(const NamedTensors& state) {
  for (std::size_t i = 0; i < params_.size(); ++i)
    momentum_[i] = find_state(state, "momentum." + std::to_string(i), i);
}

// ---- Adam / AdamW ----
Adam::Adam(std::vector<Tensor> params, const AdamOptions& o) : Adam(std::move(params), o, false) {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& o, bool decoupled)
    : Optimizer(std::move(params), o.lr), options_(o), decoupled_(decoupled),
      m_(params_.size()), v_(params_.size()), t_(params_.size(), 0) {
  check_adam_options(o, decoupled ? "AdamW" : "Adam");
}

void Adam::update(std::size_t i, const Tensor& param, const Tensor& grad) {
  if (!m_[i].defined()) {
    m_[i] = zeros_like(param);
    v_[i] = zeros_like(param);
  }
  const std::int64_t t = ++t_[i];
  AdamOptions o = options_;
  o.lr = lr_;  // the schedule's learning rate of this step
  const bool decoupled = decoupled_;
  Tensor p = param, g = grad, m = m_[i], v = v_[i];
  dispatch_float(p.dtype(), "Adam.step", [&](auto tag) {
    using T = decltype(tag);
    T* pp = p.data<T>();
    const T* pg = g.data<T>();
    T* pm = m.data<T>();
    T* pv = v.data<T>();
    parallel_for(p.numel(), [=](std::int64_t s, std::int64_t e) {
      adam_update(pp + s, pg + s, pm + s, pv + s, e - s, t, o, decoupled);
    });
  });
  increment_version(p);  // backward() refuses a graph that saved p before this step
  increment_version(m);
  increment_version(v);
}

NamedTensors Adam::export_state() const {
  NamedTensors out;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!m_[i].defined()) continue;
    const std::string s = std::to_string(i);
    out.emplace_back("adam.m." + s, snapshot(m_[i]));
    out.emplace_back("adam.v." + s, snapshot(v_[i]));
    out.emplace_back("adam.step." + s, int_scalar(t_[i]));
  }
  return out;
}

void Adam::import_state(const NamedTensors& state) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const std::string s = std::to_string(i);
    m_[i] = find_state(state, "adam.m." + s, i);
    v_[i] = find_state(state, "adam.v." + s, i);
    t_[i] = 0;
    const std::string tk = "adam.step." + s;
    for (auto& [k, tt] : state)
      if (k == tk) {
        consumed_.insert(k);
        t_[i] = int_value(tt, k);
      }
    if (m_[i].defined() != v_[i].defined() || (m_[i].defined() && t_[i] <= 0))
      fail(name(), ".load_state: parameter ", i, " needs all of adam.m.", s, ", adam.v.", s,
           " and adam.step.", s, " (>= 1), or none");
  }
}

// ---- one update, element by element (nn/optim.h) ----

template <typename T>
void sgd_update(T* param, const T* grad, T* momentum_buffer, std::int64_t n, bool first_step,
                const SGDOptions& options) {
  check_update_arguments("sgd_update", n, options.lr,
                         {param, grad, options.momentum != 0.0 ? momentum_buffer : param});
  check_sgd_options(options, "sgd_update");
  // ---- exercise 12 begin: docs/exercises/12-optimizer-step.md ----
  // PyTorch's SGD, with d the step's direction and b the momentum buffer:
  //   d = g + weight_decay p
  //   if momentum mu != 0:
  //     b = d                                (the first step: the buffer starts as d)
  //     b = mu b + (1 - dampening) d         (every later step)
  //     d = d + mu b  (nesterov)   or   d = b
  //   p = p - lr d
  // One loop per case, with no branch inside, so that the compiler vectorises each. The scalars
  // are local copies: read through `options`, a store to b[k] might change them as far as the
  // compiler knows, and it would fall back to scalar code (4.5x slower).
  const T lr = static_cast<T>(options.lr), wd = static_cast<T>(options.weight_decay);
  const T mu = static_cast<T>(options.momentum), damp = static_cast<T>(1.0 - options.dampening);
  const bool nesterov = options.nesterov;
  T* p = param;
  const T* g = grad;
  T* b = momentum_buffer;
  if (options.momentum == 0.0) {
    for (std::int64_t k = 0; k < n; ++k) p[k] -= lr * (g[k] + wd * p[k]);
  } else if (first_step) {
    for (std::int64_t k = 0; k < n; ++k) {
      const T d = g[k] + wd * p[k];
      b[k] = d;
      p[k] -= lr * (nesterov ? d + mu * d : d);
    }
  } else if (nesterov) {
    for (std::int64_t k = 0; k < n; ++k) {
      const T d = g[k] + wd * p[k];
      const T buf = mu * b[k] + damp * d;
      b[k] = buf;
      p[k] -= lr * (d + mu * buf);
    }
  } else {
    for (std::int64_t k = 0; k < n; ++k) {
      const T d = g[k] + wd * p[k];
      const T buf = mu * b[k] + damp * d;
      b[k] = buf;
      p[k] -= lr * buf;
    }
  }
  // ---- exercise 12 end ----
}

template <typename T>
void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, std::int64_t n, std::int64_t step,
                 const AdamOptions& options, bool decoupled_weight_decay) {
  check_update_arguments("adam_update", n, options.lr, {param, grad, exp_avg, exp_avg_sq});
  check_adam_options(options, "adam_update");
  if (step < 1) fail("adam_update: expected step >= 1 (the step count including this update), got ", step);
  // ---- exercise 12 begin: docs/exercises/12-optimizer-step.md ----
  // PyTorch's Adam (decoupled_weight_decay = false) and AdamW (true), t = step:
  //   Adam:  g = g + wd p                  AdamW:  p = p (1 - lr wd)
  //   m = b1 m + (1 - b1) g
  //   v = b2 v + (1 - b2) g^2
  //   p = p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
  // in double whatever T is (PyTorch's float32 Adam rounds each intermediate to float32: the
  // two agree to float32 round-off).
  const double lr = options.lr, wd = options.weight_decay, b1 = options.beta1, b2 = options.beta2;
  const double eps = options.eps;
  const double step_size = lr / (1.0 - std::pow(b1, static_cast<double>(step)));
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(b2, static_cast<double>(step)));
  const double l2 = decoupled_weight_decay ? 0.0 : wd;              // Adam: into the gradient
  const double shrink = decoupled_weight_decay ? 1.0 - lr * wd : 1.0;  // AdamW: on the parameter
  T* p = param;
  const T* g = grad;
  T* m = exp_avg;
  T* v = exp_avg_sq;
  for (std::int64_t k = 0; k < n; ++k) {
    const double gk = static_cast<double>(g[k]) + l2 * p[k];
    const double mk = b1 * m[k] + (1.0 - b1) * gk;
    const double vk = b2 * v[k] + (1.0 - b2) * gk * gk;
    m[k] = static_cast<T>(mk);
    v[k] = static_cast<T>(vk);
    const double denom = std::sqrt(vk) / bc2_sqrt + eps;
    p[k] = static_cast<T>(p[k] * shrink - step_size * mk / denom);
  }
  // ---- exercise 12 end ----
}

template void sgd_update<float>(float*, const float*, float*, std::int64_t, bool, const SGDOptions&);
template void sgd_update<double>(double*, const double*, double*, std::int64_t, bool, const SGDOptions&);
template void adam_update<float>(float*, const float*, float*, float*, std::int64_t, std::int64_t,
                                 const AdamOptions&, bool);
template void adam_update<double>(double*, const double*, double*, double*, std::int64_t, std::int64_t,
                                  const AdamOptions&, bool);

}  // namespace chalk::nn
