// ops/dropout.h — inverted dropout (torch.nn.functional.dropout), with autograd.
#pragma once

#include "core/random.h"
#include "core/tensor.h"

namespace chalk {

// Training: zero each element with probability p, scale the rest by 1/(1-p)
// (inverted dropout). Evaluation (training = false): the identity.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = global_generator());

}  // namespace chalk
