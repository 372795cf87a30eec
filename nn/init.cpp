// nn/init.cpp — weight initialisation (formulas in nn/init.h).
#include "nn/init.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"

namespace chalk::nn {

namespace {

// t[i] = draw() for every element, in row-major order (so a seed fixes the values).
template <class Draw>
Tensor fill_with(Tensor t, const char* op, Draw draw) {
  if (!t.defined()) fail(op, ": tensor is undefined");
  dispatch_float(t.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(draw());
  });
  increment_version(t);  // an in-place write: a VJP that saved t must not use the new values
  return t;
}

}  // namespace

std::pair<std::int64_t, std::int64_t> fan_in_and_fan_out(const Tensor& w) {
  if (!w.defined() || w.dim() < 2)
    fail("fan_in_and_fan_out: expected a weight with at least 2 dimensions [out, in, ...], got ",
         w.defined() ? shape_str(w.shape()) : std::string("an undefined tensor"));
  std::int64_t receptive = 1;  // k1 * k2 * ... (1 for Linear)
  for (int i = 2; i < w.dim(); ++i) receptive *= w.shape()[i];
  return {w.shape()[1] * receptive, w.shape()[0] * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "conv2d" || nonlinearity == "sigmoid") return 1.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  fail("calculate_gain: unknown nonlinearity '", nonlinearity,
       "' (expected linear, conv2d, sigmoid, relu, leaky_relu or tanh)");
}

// U(low, high): low + (high - low) u,  u ~ U[0, 1)
Tensor uniform_(Tensor t, double low, double high, Generator& gen) {
  if (!(low <= high)) fail("uniform_: expected low <= high, got [", low, ", ", high, ")");
  return fill_with(t, "uniform_", [&] { return low + (high - low) * gen.uniform(); });
}

// N(mean, std^2): mean + std z,  z ~ N(0, 1)
Tensor normal_(Tensor t, double mean, double std, Generator& gen) {
  if (!(std >= 0)) fail("normal_: expected std >= 0, got ", std);
  return fill_with(t, "normal_", [&] { return mean + std * gen.normal(); });
}

Tensor constant_(Tensor t, double value) {
  return fill_with(t, "constant_", [&] { return value; });
}
Tensor zeros_(Tensor t) { return constant_(t, 0.0); }
Tensor ones_(Tensor t) { return constant_(t, 1.0); }

// b = gain(a) sqrt(3 / fan_in): a uniform of variance b^2 / 3 = gain^2 / fan_in
Tensor kaiming_uniform_(Tensor t, double a, Generator& gen) {
  const double fan_in = static_cast<double>(fan_in_and_fan_out(t).first);
  const double bound = calculate_gain("leaky_relu", a) * std::sqrt(3.0 / fan_in);
  return uniform_(t, -bound, bound, gen);
}

// s = gain(a) / sqrt(fan_in)
Tensor kaiming_normal_(Tensor t, double a, Generator& gen) {
  const double fan_in = static_cast<double>(fan_in_and_fan_out(t).first);
  return normal_(t, 0.0, calculate_gain("leaky_relu", a) / std::sqrt(fan_in), gen);
}

// b = gain sqrt(6 / (fan_in + fan_out))
Tensor xavier_uniform_(Tensor t, double gain, Generator& gen) {
  const auto [fi, fo] = fan_in_and_fan_out(t);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fi + fo));
  return uniform_(t, -bound, bound, gen);
}

// s = gain sqrt(2 / (fan_in + fan_out))
Tensor xavier_normal_(Tensor t, double gain, Generator& gen) {
  const auto [fi, fo] = fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fi + fo)), gen);
}

}  // namespace chalk::nn
