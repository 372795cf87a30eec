// tests/exercises/check_12_optimizer_step.h — exercise 12's check: one optimizer update, SGD
// (momentum, dampening, Nesterov, weight decay) and Adam / AdamW (docs/exercises/12-optimizer-step.md).
#pragma once

#include <cstdint>
#include <functional>

#include "nn/optim.h"
#include "tests/exercises/checker.h"

namespace chalk::checker {

// nn::sgd_update and nn::adam_update (nn/optim.h) for one element type.
template <typename T>
using SgdUpdate = std::function<void(T* param, const T* grad, T* momentum_buffer, std::int64_t n,
                                     bool first_step, const nn::SGDOptions& options)>;
template <typename T>
using AdamUpdate = std::function<void(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, std::int64_t n,
                                      std::int64_t step, const nn::AdamOptions& options,
                                      bool decoupled_weight_decay)>;

// The exercise's two functions, in float64 and float32 (each one template in nn/optim.cpp).
struct OptimizerUpdates {
  SgdUpdate<double> sgd;
  SgdUpdate<float> sgd_float32;
  AdamUpdate<double> adam;
  AdamUpdate<float> adam_float32;
};

// chalk's own: nn::sgd_update<double>, <float>, nn::adam_update<double>, <float>.
OptimizerUpdates library_updates();

// The truth is PyTorch 1.13 (tests/reference/optim.json: torch.optim.SGD, Adam, AdamW given
// explicit gradients, the parameter and the state after each of 10 steps) and three runs
// worked by hand. For each optimizer setting: the first step from a fresh state, the tenth
// step from PyTorch's state after the ninth (p's step and the new state, compared), and ten
// steps in a row from the function's own state; and two settings in float32. No backward runs:
// the gradients are given.
Verdict check_12(const OptimizerUpdates& yours);

}  // namespace chalk::checker
