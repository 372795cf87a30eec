// nn/schedule.h — learning-rate schedules as pure functions of the step.
//
// lr_at(s) depends only on s (the number of optimizer steps already taken,
// 0 for the first update), so a run resumed from a checkpoint at step s gets
// exactly the learning rates it would have had. Use it as
//   optimizer.set_lr(schedule.lr_at(optimizer.steps()));  optimizer.step();
//
//   constant:  lr(s) = lr
//   step:      lr(s) = lr * gamma^floor(s / step_size)           (PyTorch StepLR)
//   cosine:    lr(s) = eta_min + (lr - eta_min) (1 + cos(pi s / T_max)) / 2   for s <= T_max,
//              eta_min afterwards (PyTorch's CosineAnnealingLR would climb back up)
// with_warmup(W) puts a linear warm-up in front of any of them:
//   s <  W:    lr(s) = main(0) * (s + 1) / W
//   s >= W:    lr(s) = main(s - W)     (the main schedule starts after the warm-up,
//                                       like PyTorch's SequentialLR)
#pragma once

#include <cstdint>
#include <string>

namespace chalk::nn {

class LRSchedule {
 public:
  enum class Kind { Constant, Step, Cosine };

  static LRSchedule constant(double lr);
  static LRSchedule step(double lr, std::int64_t step_size, double gamma = 0.1);
  static LRSchedule cosine(double lr, std::int64_t T_max, double eta_min = 0.0);
  // The same schedule with a linear warm-up of `warmup_steps` steps in front (0 = none).
  LRSchedule with_warmup(std::int64_t warmup_steps) const;

  double lr_at(std::int64_t step) const;
  // "cosine(lr=0.1, T_max=1000, eta_min=0) after 100 warm-up steps"
  std::string describe() const;

  Kind kind() const { return kind_; }
  double base_lr() const { return lr_; }
  std::int64_t warmup_steps() const { return warmup_; }

 private:
  LRSchedule(Kind kind, double lr) : kind_(kind), lr_(lr) {}
  double main_lr(std::int64_t s) const;  // without warm-up

  Kind kind_;
  double lr_;
  std::int64_t step_size_ = 1;
  double gamma_ = 1.0;
  std::int64_t T_max_ = 1;
  double eta_min_ = 0.0;
  std::int64_t warmup_ = 0;
};

// For command lines: "constant" | "step" | "cosine", sized for a run of
// total_steps optimizer steps: step decays by 10x at 1/3 and 2/3 of the
// steps after warm-up; cosine anneals to 0 over the steps after warm-up.
// Throws chalk::Error naming the known schedules otherwise.
LRSchedule make_schedule(const std::string& name, double lr, std::int64_t total_steps,
                         std::int64_t warmup_steps = 0);

}  // namespace chalk::nn
