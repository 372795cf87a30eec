// losses/cross_entropy_rows.cpp — cross-entropy's backward kernels (losses/cross_entropy_rows.h):
// one row's gradient p - t with label smoothing, and the batch's with its reduction, for float and
// double. The forward's row kernel, row_loss, is inline in the header.
#include "losses/cross_entropy_rows.h"

#include "core/exercise.h"  // the stub a student edition puts in row_grad's and grad_rows' regions

namespace chalk::cross_entropy_rows {

template <class T>
void row_grad(const double* p, std::int64_t C, std::int64_t y, double s, double g_i, T* dz) {
  // ---- exercise 05 begin: docs/exercises/05-cross-entropy-gradient.md ----
  //   d loss / d z_j = p_j - t_j = p_j - (1 - s) [j = y] - s / C
  const double off = s / C, on = 1.0 - s + s / C;
  for (std::int64_t j = 0; j < C; ++j) dz[j] = static_cast<T>(g_i * (p[j] - (j == y ? on : off)));
  // ---- exercise 05 end ----
}

template <class T>
void grad_rows(const double* p, std::int64_t N, std::int64_t C, const std::int64_t* y, double s,
               Reduction reduction, const T* g, T* dz) {
  // ---- exercise 05 begin: docs/exercises/05-cross-entropy-gradient.md ----
  //   dL/dz_ij = g_i (p_ij - t_ij),   g_i = g / N (Mean),  g (Sum),  g_i (None)
  for (std::int64_t i = 0; i < N; ++i) {
    const double g_i = reduction == Reduction::None ? static_cast<double>(g[i])
                       : reduction == Reduction::Mean ? static_cast<double>(g[0]) / N
                                                      : static_cast<double>(g[0]);
    row_grad(p + i * C, C, y[i], s, g_i, dz + i * C);
  }
  // ---- exercise 05 end ----
}

template void row_grad<float>(const double*, std::int64_t, std::int64_t, double, double, float*);
template void row_grad<double>(const double*, std::int64_t, std::int64_t, double, double, double*);
template void grad_rows<float>(const double*, std::int64_t, std::int64_t, const std::int64_t*, double, Reduction,
                               const float*, float*);
template void grad_rows<double>(const double*, std::int64_t, std::int64_t, const std::int64_t*, double, Reduction,
                                const double*, double*);

}  // namespace chalk::cross_entropy_rows
