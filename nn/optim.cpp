// nn/optim.cpp — SGD, Adam, AdamW: PyTorch's update rules (torch.optim 1.13),
// element by element, in place on the parameter data (no autograd graph). Each update bumps
// the version of what it wrote (core/autograd.h: increment_version), as PyTorch's in-place
// ops do: a graph recorded before step() and walked after it throws instead of using the
// new weights.
// Notation: p parameter, g its gradient, lr learning rate, wd weight decay,
// t the parameter's step count (1 at its first update).
#include "nn/optim.h"

#include <cmath>
#include <set>

#include "core/autograd.h"
#include "core/error.h"
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
  if (!(o.momentum >= 0.0)) fail("SGD: expected momentum >= 0, got ", o.momentum);
  if (!(o.weight_decay >= 0.0)) fail("SGD: expected weight_decay >= 0, got ", o.weight_decay);
  if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0))
    fail("SGD: nesterov needs momentum > 0 and dampening = 0, got momentum = ", o.momentum,
         ", dampening = ", o.dampening);
}

// PyTorch's SGD:
//   d = g + wd p
//   if momentum mu != 0:
//     b = d                           (first update: the buffer starts as d)
//     b = mu b + (1 - dampening) d    (later updates)
//     d = d + mu b  (nesterov)   or   d = b
//   p = p - lr d
void SGD::update(std::size_t i, const Tensor& param, const Tensor& grad) {
  const double lr = lr_, wd = options_.weight_decay, mu = options_.momentum;
  const double damp = 1.0 - options_.dampening;
  const bool nesterov = options_.nesterov;
  const bool first = !momentum_[i].defined();
  if (mu != 0.0 && first) momentum_[i] = zeros_like(param);
  Tensor p = param, g = grad, b = momentum_[i];
  dispatch_float(p.dtype(), "SGD.step", [&](auto tag) {
    using T = decltype(tag);
    T* pp = p.data<T>();
    const T* pg = g.data<T>();
    T* pb = mu != 0.0 ? b.data<T>() : nullptr;
    const T tlr = static_cast<T>(lr), twd = static_cast<T>(wd), tmu = static_cast<T>(mu), tdamp = static_cast<T>(damp);
    // One loop per case, with no branch inside, so the compiler vectorises each:
    //   d = g + wd p;  buf = d (first step) or mu buf + (1 - dampening) d;
    //   p -= lr (nesterov ? d + mu buf : buf)     (p -= lr d without momentum)
    // Captured by value: with [&] the pointers and scalars live behind references that a
    // store to pb[k] might change, and GCC falls back to scalar code (4.5x slower).
    parallel_for(p.numel(), [=](std::int64_t s, std::int64_t e) {
      if (!pb) {
        for (std::int64_t k = s; k < e; ++k) pp[k] -= tlr * (pg[k] + twd * pp[k]);
      } else if (first) {
        for (std::int64_t k = s; k < e; ++k) {
          const T d = pg[k] + twd * pp[k];
          pb[k] = d;
          pp[k] -= tlr * (nesterov ? d + tmu * d : d);
        }
      } else if (nesterov) {
        for (std::int64_t k = s; k < e; ++k) {
          const T d = pg[k] + twd * pp[k];
          const T buf = tmu * pb[k] + tdamp * d;
          pb[k] = buf;
          pp[k] -= tlr * (d + tmu * buf);
        }
      } else {
        for (std::int64_t k = s; k < e; ++k) {
          const T d = pg[k] + twd * pp[k];
          const T buf = tmu * pb[k] + tdamp * d;
          pb[k] = buf;
          pp[k] -= tlr * buf;
        }
      }
    });
  });
  increment_version(p);  // backward() refuses a graph that saved p before this step
  if (mu != 0.0) increment_version(b);
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
  const char* who = decoupled ? "AdamW" : "Adam";
  if (!(o.beta1 >= 0.0 && o.beta1 < 1.0) || !(o.beta2 >= 0.0 && o.beta2 < 1.0))
    fail(who, ": expected betas in [0, 1), got (", o.beta1, ", ", o.beta2, ")");
  if (!(o.eps >= 0.0)) fail(who, ": expected eps >= 0, got ", o.eps);
  if (!(o.weight_decay >= 0.0)) fail(who, ": expected weight_decay >= 0, got ", o.weight_decay);
}

// PyTorch's Adam (decoupled = false) and AdamW (decoupled = true):
//   t = t + 1
//   Adam:  g = g + wd p                  AdamW:  p = p (1 - lr wd)
//   m = b1 m + (1 - b1) g                (m, v start at 0)
//   v = b2 v + (1 - b2) g^2
//   p = p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
void Adam::update(std::size_t i, const Tensor& param, const Tensor& grad) {
  if (!m_[i].defined()) {
    m_[i] = zeros_like(param);
    v_[i] = zeros_like(param);
  }
  const std::int64_t t = ++t_[i];
  const double lr = lr_, wd = options_.weight_decay, b1 = options_.beta1, b2 = options_.beta2;
  const double eps = options_.eps;
  const double step_size = lr / (1.0 - std::pow(b1, static_cast<double>(t)));
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(b2, static_cast<double>(t)));
  const double l2 = decoupled_ ? 0.0 : wd;          // Adam: into the gradient
  const double shrink = decoupled_ ? 1.0 - lr * wd : 1.0;  // AdamW: on the parameter
  Tensor p = param, g = grad, m = m_[i], v = v_[i];
  dispatch_float(p.dtype(), "Adam.step", [&](auto tag) {
    using T = decltype(tag);
    T* pp = p.data<T>();
    const T* pg = g.data<T>();
    T* pm = m.data<T>();
    T* pv = v.data<T>();
    parallel_for(p.numel(), [=](std::int64_t s, std::int64_t e) {
      for (std::int64_t k = s; k < e; ++k) {
        const double gk = static_cast<double>(pg[k]) + l2 * pp[k];
        const double mk = b1 * pm[k] + (1.0 - b1) * gk;
        const double vk = b2 * pv[k] + (1.0 - b2) * gk * gk;
        pm[k] = static_cast<T>(mk);
        pv[k] = static_cast<T>(vk);
        const double denom = std::sqrt(vk) / bc2_sqrt + eps;
        pp[k] = static_cast<T>(pp[k] * shrink - step_size * mk / denom);
      }
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

}  // namespace chalk::nn
