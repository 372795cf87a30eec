// core/checks.h — the input checks every loss and metric shares: one wording, one place.
//
// Each throws chalk::Error naming `op`, what was expected and what came, e.g.
//   "arcface_loss: embeddings [128, 64]: a non-finite value (nan) in row 17, at [17, 3]
//    (diverged training? a learning rate too large?)"
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace chalk {

// x: a defined floating-point tensor of shape N x D with N >= 1 and D >= 1, every value
// finite. `what` names it in the message ("embeddings", "centroids", "W", ...).
void check_embeddings(const Tensor& x, const char* op, const char* what = "embeddings");

// labels: an int64 tensor of shape [N]; every value >= 0, and < C when C > 0 (C <= 0: no
// upper bound is known, e.g. the triplet loss). The message names the offending label, its
// index and C.
void check_class_labels(const Tensor& labels, std::int64_t N, std::int64_t C, const char* op);

// Every value of the floating-point tensor x is finite; otherwise names `op`, `what`, its shape,
// the value and where the first non-finite one is: "in row 1, at [1, 2]" for a matrix, "at flat
// index [5]" otherwise.
void check_finite(const Tensor& x, const char* what, const char* op);

}  // namespace chalk
