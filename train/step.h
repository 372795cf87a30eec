// train/step.h — one training step: the five lines every training loop is built around.
//
//   for (const auto& idx : sampler.batches(epoch)) {          // train/sampler.h
//     optimizer.set_lr(schedule.lr_at(step++));               // nn/schedule.h
//     chalk::StepResult r = chalk::train_step(model, loss, optimizer, chalk::make_batch(train, idx));
//     std::cout << r.loss << "\n";
//   }
//
// As in llm.c's train_gpt2.c and PyTorch's examples: forward, loss, zero the gradients,
// backward, update. The Trainer (train/trainer.h) runs exactly this function for every batch;
// what it adds around it (the schedule, the monitors, the epoch and step in error messages,
// checkpoints) lives in the files named for each.
#pragma once

#include <functional>

#include "core/tensor.h"
#include "losses/loss.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "train/batches.h"

namespace chalk {

struct StepResult {
  double loss = 0;  // the batch's loss, before the update
  Tensor output;    // the model's output for the batch, B x D (embeddings or logits), before the update
};

// Called between the forward pass and the update with the model's output and the loss: a
// monitor (train/monitors.h) that throws here stops the step before any parameter changes.
using StepCheck = std::function<void(const Tensor& output, double loss)>;

// One step of gradient descent on `batch` (images B x ..., labels B, train/batches.h):
//   output = model(images); L = loss(output, labels);        forward
//   every parameter's gradient = 0; dL/dparameter;           zero_grad, backward
//   parameter -= optimizer's rule(gradient)                  update, at optimizer.lr()
// The optimizer must hold the parameters of both model and loss (a loss may own some: a class
// head, centroids). Modes are the caller's: call model.train() and loss.train() first.
// Throws chalk::Error when the loss is NaN or infinite (before any update: an update from it
// would make every parameter NaN), and whatever forward, the loss, `check` or backward throw.
StepResult train_step(nn::Layer& model, Loss& loss, nn::Optimizer& optimizer, const Batch& batch,
                      const StepCheck& check = nullptr);

}  // namespace chalk
