// ops/dropout.cpp — inverted dropout (ops/dropout.h).
#include "ops/dropout.h"

#include "ops/elementwise.h"

namespace chalk {

// ---------------------------------------------------------------- dropout
//
// Training: y = x * m / (1 - p), m_i ~ Bernoulli(1 - p) drawn from `gen` (inverted
// dropout: the expected value of y is x, so evaluation needs no rescaling).
// VJP: dx = g * m / (1 - p) — the same mask as the forward.
// Evaluation: y = x.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  if (!(p >= 0.0 && p < 1.0)) fail("dropout: probability p must be in [0, 1), got ", p);
  if (!training || p == 0.0) return x;
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  dispatch_float(x.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    T* pm = mask.data<T>();
    const T keep = static_cast<T>(1.0 / (1.0 - p));
    for (std::int64_t i = 0, n = mask.numel(); i < n; ++i) pm[i] = gen.uniform() < p ? T(0) : keep;
  });
  return mul(x, mask);  // mul's VJP multiplies g by the same mask
}

}  // namespace chalk
