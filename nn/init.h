// nn/init.h — weight initialisation, in place, like torch.nn.init.
//
// Each function overwrites the data of `t` (a handle: the caller's tensor
// changes) with draws from `gen`, element by element in row-major order, and
// returns t. Nothing is recorded for autograd. Float32 and float64 only.
//
// Fans, for a weight of shape [out, in, k1, k2, ...] (Linear: [out, in];
// Conv2d: [out, in, KH, KW]):
//   fan_in  = in  * k1 * k2 * ...        fan_out = out * k1 * k2 * ...
//
// Gains (torch.nn.init.calculate_gain):
//   linear 1,  relu sqrt(2),  leaky_relu(a) sqrt(2 / (1 + a^2)),  tanh 5/3
//
// Bounds:
//   kaiming_uniform_(a):  U(-b, b),  b = gain(a) * sqrt(3 / fan_in)     gain(a) = leaky_relu gain
//   kaiming_normal_(a):   N(0, s^2), s = gain(a) / sqrt(fan_in)
//   xavier_uniform_(g):   U(-b, b),  b = g * sqrt(6 / (fan_in + fan_out))
//   xavier_normal_(g):    N(0, s^2), s = g * sqrt(2 / (fan_in + fan_out))
// a = 0 is the ReLU gain sqrt(2) (He et al. 2015). PyTorch's default for
// Linear and Conv2d weights is kaiming_uniform_ with a = sqrt(5): then
// gain = sqrt(1/3) and b = 1/sqrt(fan_in); their biases are
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the weight's fan_in (see layers.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "core/random.h"
#include "core/tensor.h"

namespace chalk::nn {

// {fan_in, fan_out} of a weight with at least 2 dimensions (throws otherwise).
std::pair<std::int64_t, std::int64_t> fan_in_and_fan_out(const Tensor& weight);

// "linear" (also "conv2d", "sigmoid": 1), "relu", "leaky_relu" (slope `param`), "tanh".
double calculate_gain(const std::string& nonlinearity, double param = 0.0);

Tensor uniform_(Tensor t, double low, double high, Generator& gen = global_generator());
Tensor normal_(Tensor t, double mean, double std, Generator& gen = global_generator());
Tensor constant_(Tensor t, double value);
Tensor zeros_(Tensor t);
Tensor ones_(Tensor t);

// He init, fan_in mode, leaky-ReLU gain with negative slope a (a = 0: ReLU).
Tensor kaiming_uniform_(Tensor t, double a = 0.0, Generator& gen = global_generator());
Tensor kaiming_normal_(Tensor t, double a = 0.0, Generator& gen = global_generator());
// Glorot init.
Tensor xavier_uniform_(Tensor t, double gain = 1.0, Generator& gen = global_generator());
Tensor xavier_normal_(Tensor t, double gain = 1.0, Generator& gen = global_generator());

}  // namespace chalk::nn
