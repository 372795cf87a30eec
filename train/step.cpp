// train/step.cpp — one training step (train/step.h).
#include "train/step.h"

#include <cmath>

#include "core/error.h"

namespace chalk {

StepResult train_step(nn::Layer& model, Loss& loss, nn::Optimizer& optimizer, const Batch& batch,
                      const StepCheck& check) {
  const Tensor output = model.forward(batch.images);        // forward: B x D
  const Tensor value = loss.forward(output, batch.labels);  // the loss: a scalar
  const double l = value.item();
  if (!std::isfinite(l))                                     // never update from it: every parameter would be NaN
    fail("train_step: the loss is ", l, " (no update made)");
  if (check) check(output, l);                               // a monitor may stop here, before anything changes
  optimizer.zero_grad();                                     // forget the last step's gradients
  value.backward();                                          // backward: dL/dp for every parameter p
  optimizer.step();                                          // update: p -= the optimizer's step from dL/dp
  return {l, output};
}

}  // namespace chalk
