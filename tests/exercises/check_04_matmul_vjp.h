// tests/exercises/check_04_matmul_vjp.h — exercise 04's check: matmul's VJP for both operands
// (docs/exercises/04-matmul-vjp.md).
#pragma once

#include <functional>

#include "ops/linalg.h"
#include "tests/exercises/checker.h"

namespace chalk::checker {

// matmul_vjp(a, b, g, transpose_a, transpose_b, want_a, want_b): dL/da and dL/db for
// C = matmul(a, b, transpose_a, transpose_b) and g = dL/dC (ops/linalg.h).
using MatmulVjp = std::function<MatmulGrads(const Tensor& a, const Tensor& b, const Tensor& g, bool transpose_a,
                                            bool transpose_b, bool want_a, bool want_b)>;

// The truth is w . dC/da and w . dC/db by central differences of matmul's forward (float64), for a
// random upstream g. Cases (each operand's gradient is one case): square and non-square products,
// an outer product (K = 1), an empty inner dimension (K = 0), each transpose flag and both (special:
// the gradient must come back in the shape the operand is stored in), no rows (M = 0: dB is zero),
// one gradient asked for, and float32. Beyond the checker's own diagnoses it names a gradient of
// the transposed shape holding the true gradient transposed (the product in the wrong order, or a
// flag's transpose forgotten), the two gradients swapped, and factors that do not fit on
// non-square shapes (the product's error).
Verdict check_04(const MatmulVjp& matmul_vjp);

}  // namespace chalk::checker
