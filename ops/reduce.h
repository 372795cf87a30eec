// ops/reduce.h — reductions, with autograd.
//
// Over all elements (result shape []) or over one axis (removed, or kept with
// size 1 when keepdim). Sums accumulate in double and are split in fixed
// chunks, so the result does not depend on the thread count.
#pragma once

#include "core/tensor.h"

namespace chalk {

Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, int axis, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);
// max/min: the gradient goes to the first maximal element (ties: lowest index).
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, int axis, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, int axis, bool keepdim = false);
// Index of the first maximum along axis (int64, no gradient).
Tensor argmax(const Tensor& x, int axis, bool keepdim = false);
Tensor argmin(const Tensor& x, int axis, bool keepdim = false);
// log(sum(exp(x))) along axis, computed as m + log(sum(exp(x - m))), m = max.
Tensor logsumexp(const Tensor& x, int axis, bool keepdim = false);


}  // namespace chalk
