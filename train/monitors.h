// train/monitors.h — what the Trainer watches while it trains, each a function that returns its
// finding: nothing, a warning (the run prints it and trains on), or a stop (the run ends with
// the message as its error).
//
//   dead units         every step: the model gives the same output for the whole batch
//   collapse           every epoch: every test image is predicted as one class
//   embedding growth   every epoch: a scale-invariant loss's embeddings have grown so long that
//                      its gradients have all but vanished
//   parameters         every epoch, before a checkpoint is written: a NaN or infinity
//
// Each message says what happened, why it matters, and what to change (the flag and its value).
// Whether a collapse stops the run or warns is TrainConfig::stop_on_collapse.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/tensor.h"
#include "losses/loss.h"
#include "nn/module.h"
#include "train/config.h"
#include "train/evaluate.h"

namespace chalk {

struct Finding {
  enum class Action { kNone, kWarn, kStop };
  Action action = Action::kNone;
  std::string message;  // "" for kNone
  bool stops() const { return action == Action::kStop; }
  bool warns() const { return action == Action::kWarn; }
};

// The error a stop finding is thrown as: its message is the finding's, with nothing added.
class TrainingStopped : public Error {
 public:
  explicit TrainingStopped(const std::string& what) : Error(what) {}
};

// Where a step is in the run, for messages: "epoch 2, step 5 (global step 52)". global_step
// counts from 0 (the step about to be taken); steps_per_epoch >= 1.
std::string step_place(std::int64_t global_step, std::int64_t steps_per_epoch);

// Dead units, for the step at `global_step` (0-based): a stop (or, with stop_on_collapse off, a
// warning) when outputs_identical(output). O(B D) at most, usually one or two comparisons.
Finding check_dead_units(const Tensor& output, std::int64_t global_step, std::int64_t steps_per_epoch,
                         const TrainConfig& config);

// Collapse, after evaluating epoch m.epoch (1-based): a stop (or, with stop_on_collapse off, a
// warning) when the test predictions used one class only (predicted_classes == 1).
Finding check_collapse(std::int64_t predicted_classes, const EpochMetrics& m, const TrainConfig& config);

// Embedding growth: for a scale-invariant loss (Loss::scale_invariant) whose median embedding
// norm m.embedding_norm has grown to over kEmbeddingGrowthLimit times `first_norm` (the first
// batch's), a warning: learning has slowed by that factor (the gradient reaching the network is
// divided by ||x||). Nothing when either norm is 0 (not measured).
Finding check_embedding_growth(double first_norm, const EpochMetrics& m, const Loss& loss, const TrainConfig& config);
// 400: between the growth of the healthy runs and that of the stalled ones (docs/losses.md,
// "ArcFace, CosFace, the combined margin and a warm-up", gives both).
constexpr double kEmbeddingGrowthLimit = 400;

// Parameters: a stop naming the first model or loss parameter with a NaN or infinity, with
// `when` ("after epoch 3") and the global step. Reads every parameter once.
Finding check_parameters_finite(const nn::Module& model, const nn::Module& loss, const std::string& when,
                                std::int64_t global_step, const TrainConfig& config);

// The dead-units test. True when every row of the model's output is the same up to rounding:
// the network ignores its input (all ReLUs of a layer dead). O(B D).
// "Up to rounding": a dead layer feeds the next one the same row B times, but the BLAS kernel
// may still compute the B rows of that product along different paths (OpenBLAS's Haswell kernels
// treat the rows at a block's edge with other instructions), so equal inputs can give outputs
// that differ in their last bits. Row i counts as row 0 when every |out[i, j] - out[0, j]| is at
// most sqrt(epsilon) (3.5e-4 in float32, 1.5e-8 in float64) times |out[0, j]| + the median
// |out[0, k]| (the median keeps one huge logit from hiding the other columns, and an output near
// 0 from cancellation from counting as different); a network that sees its input differs by more.
// Shapes: out is B x D (float32 or float64); any other rank, or B < 2, gives false. NaN is never
// the same as anything. Throws chalk::Error only for a non-float dtype.
bool outputs_identical(const Tensor& out);

}  // namespace chalk
