// core/checks.cpp — the shared input checks of losses and metrics (core/checks.h).
#include "core/checks.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace chalk {

void check_finite(const Tensor& x, const char* what, const char* op) {
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    const std::int64_t n = x.numel();
    for (std::int64_t i = 0; i < n; ++i) {
      if (std::isfinite(p[i])) continue;
      // where the first one is: "in row r, at [r, c]" for a matrix, "at index [i]" (flat) otherwise
      const std::string at = x.dim() == 2 ? str_cat("in row ", i / x.shape()[1], ", at [", i / x.shape()[1], ", ",
                                                    i % x.shape()[1], "]")
                                          : str_cat("at flat index [", i, "]");
      fail(op, ": ", what, " ", shape_str(x.shape()), ": a non-finite value (", p[i], ") ", at,
           " (diverged training? a learning rate too large?)");
    }
  });
}

void check_embeddings(const Tensor& x, const char* op, const char* what) {
  if (!x.defined() || x.dim() != 2 || !is_floating(x.dtype()))
    fail(op, ": expected float ", what, " N x D, got ",
         x.defined() ? str_cat(dtype_name(x.dtype()), " ", shape_str(x.shape())) : "none");
  if (x.shape()[0] == 0 || x.shape()[1] == 0) fail(op, ": ", what, " ", shape_str(x.shape()), " are empty");
  check_finite(x, what, op);
}

void check_class_labels(const Tensor& labels, std::int64_t N, std::int64_t C, const char* op) {
  if (!labels.defined() || labels.dtype() != DType::Int64 || labels.dim() != 1 || labels.shape()[0] != N)
    fail(op, ": expected int64 labels of shape [", N, "], got ",
         labels.defined() ? str_cat(dtype_name(labels.dtype()), " ", shape_str(labels.shape())) : "none");
  const std::int64_t* y = labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < N; ++i) {
    if (C > 0 && (y[i] < 0 || y[i] >= C))
      fail(op, ": label ", y[i], " at index ", i, " is outside [0, C) with C = ", C, " classes");
    if (y[i] < 0) fail(op, ": label ", y[i], " at index ", i, " is negative");
  }
}

}  // namespace chalk
