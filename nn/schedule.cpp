// nn/schedule.cpp — learning-rate schedules (formulas in nn/schedule.h).
#include "nn/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace chalk::nn {

namespace {
void check_lr(const char* who, double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) fail(who, ": expected a finite lr >= 0, got ", lr);
}
}  // namespace

LRSchedule LRSchedule::constant(double lr) {
  check_lr("LRSchedule::constant", lr);
  return LRSchedule(Kind::Constant, lr);
}

LRSchedule LRSchedule::step(double lr, std::int64_t step_size, double gamma) {
  check_lr("LRSchedule::step", lr);
  if (step_size <= 0) fail("LRSchedule::step: expected step_size > 0, got ", step_size);
  if (!(gamma > 0.0)) fail("LRSchedule::step: expected gamma > 0, got ", gamma);
  LRSchedule s(Kind::Step, lr);
  s.step_size_ = step_size;
  s.gamma_ = gamma;
  return s;
}

LRSchedule LRSchedule::cosine(double lr, std::int64_t T_max, double eta_min) {
  check_lr("LRSchedule::cosine", lr);
  if (T_max <= 0) fail("LRSchedule::cosine: expected T_max > 0, got ", T_max);
  if (!(eta_min >= 0.0 && eta_min <= lr))
    fail("LRSchedule::cosine: expected 0 <= eta_min <= lr, got eta_min = ", eta_min, ", lr = ", lr);
  LRSchedule s(Kind::Cosine, lr);
  s.T_max_ = T_max;
  s.eta_min_ = eta_min;
  return s;
}

LRSchedule LRSchedule::with_warmup(std::int64_t warmup_steps) const {
  if (warmup_steps < 0) fail("LRSchedule::with_warmup: expected warmup_steps >= 0, got ", warmup_steps);
  LRSchedule s = *this;
  s.warmup_ = warmup_steps;
  return s;
}

double LRSchedule::main_lr(std::int64_t s) const {
  switch (kind_) {
    case Kind::Constant: return lr_;
    case Kind::Step:  // lr gamma^floor(s / step_size)
      return lr_ * std::pow(gamma_, static_cast<double>(s / step_size_));
    case Kind::Cosine: {  // eta_min + (lr - eta_min)(1 + cos(pi s / T_max)) / 2, held at eta_min after T_max
      const double x = static_cast<double>(std::min(s, T_max_)) / static_cast<double>(T_max_);
      return eta_min_ + (lr_ - eta_min_) * (1.0 + std::cos(M_PI * x)) / 2.0;
    }
  }
  return lr_;
}

double LRSchedule::lr_at(std::int64_t s) const {
  if (s < 0) fail("LRSchedule::lr_at: expected step >= 0, got ", s);
  if (s < warmup_)  // linear warm-up to main(0): (s + 1) / W of it
    return main_lr(0) * static_cast<double>(s + 1) / static_cast<double>(warmup_);
  return main_lr(s - warmup_);
}

std::string LRSchedule::describe() const {
  std::string d;
  switch (kind_) {
    case Kind::Constant: d = str_cat("constant(lr=", lr_, ")"); break;
    case Kind::Step: d = str_cat("step(lr=", lr_, ", step_size=", step_size_, ", gamma=", gamma_, ")"); break;
    case Kind::Cosine: d = str_cat("cosine(lr=", lr_, ", T_max=", T_max_, ", eta_min=", eta_min_, ")"); break;
  }
  if (warmup_ > 0) d += str_cat(" after ", warmup_, " warm-up steps");
  return d;
}

LRSchedule make_schedule(const std::string& name, double lr, std::int64_t total_steps,
                         std::int64_t warmup_steps) {
  if (warmup_steps < 0 || total_steps <= warmup_steps)
    fail("make_schedule: expected 0 <= warmup_steps < total_steps, got warmup_steps = ", warmup_steps,
         ", total_steps = ", total_steps);
  const std::int64_t main_steps = total_steps - warmup_steps;
  if (name == "constant") return LRSchedule::constant(lr).with_warmup(warmup_steps);
  if (name == "step")
    return LRSchedule::step(lr, std::max<std::int64_t>(1, (main_steps + 2) / 3), 0.1).with_warmup(warmup_steps);
  if (name == "cosine") return LRSchedule::cosine(lr, main_steps, 0.0).with_warmup(warmup_steps);
  fail("make_schedule: unknown schedule '", name, "' (known: constant, step, cosine)");
}

}  // namespace chalk::nn
