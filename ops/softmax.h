// ops/softmax.h — softmax and log_softmax along an axis, with autograd.
// Derivation of softmax + cross-entropy's gradient: docs/losses/softmax.md.
#pragma once

#include "core/tensor.h"

namespace chalk {

// softmax(x)_k = exp(x_k - m) / sum_j exp(x_j - m), m = max_j x_j (stable).
// VJP: dx = y * (g - sum_k g_k y_k)
Tensor softmax(const Tensor& x, int axis = -1);
// log_softmax(x)_k = x_k - logsumexp(x), computed as (x_k - m) - log sum_j exp(x_j - m): exact
// at every size of x (float32 [1e8, 1e8] gives -log 2), as PyTorch's log_softmax.
// VJP: dx = g - softmax(x) * sum_k g_k
Tensor log_softmax(const Tensor& x, int axis = -1);

}  // namespace chalk
