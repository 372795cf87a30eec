// tests/exercises/check_01_sum_to.h — exercise 01's check: sum_to, the backward of a broadcast
// (docs/exercises/01-sum-to.md).
#pragma once

#include <functional>

#include "tests/exercises/checker.h"

namespace chalk::checker {

// sum_to(g, shape): g summed over the axes along which `shape` was broadcast to g's shape.
using SumTo = std::function<Tensor(const Tensor& g, const Shape& shape)>;

// The truth is the VJP of broadcast_to by central differences: for y = broadcast_to(x, s),
// <g, dy/dx> = sum_to(g, x.shape). Cases: shapes that need no reduction, a leading axis added,
// size-1 axes kept, both at once, a scalar, and float32.
Verdict check_01(const SumTo& sum_to);

}  // namespace chalk::checker
