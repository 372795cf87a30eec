// losses/cross_entropy_rows.h — the row kernels behind cross_entropy (losses/softmax.cpp): one row's
// loss and softmax (inline here: the forward's loop), its gradient and the batch's backward (declared
// here, defined for float and double in losses/cross_entropy_rows.cpp, so that editing them rebuilds
// one small file). The fused margin losses (losses/margin_softmax.cpp) build their logits, then call
// the row kernels: the same arithmetic, so they and cross_entropy agree to the last bit.
// Derivation: docs/losses/softmax.md.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace chalk {
namespace cross_entropy_rows {

// One row z (C values), label y, smoothing s. Returns loss_i, and writes the softmax
// p_j (C values, double) for the VJP:
//   m     = max_j z_j                           (subtracted: exp never overflows)
//   e_j   = exp(z_j - m),  S = sum_j e_j
//   lse   = m + log S                           (= log sum_j exp z_j)
//   p_j   = e_j / S                             (= exp(z_j - lse), the softmax)
//   loss  = -sum_j t_j (z_j - lse) = log S - sum_j t_j (z_j - m)      (since sum_j t_j = 1)
//         = log S - (1 - s) (z_y - m) - (s / C) sum_j (z_j - m)
// The loss is formed from the shifted logits z_j - m, never as lse - z_y: lse is rounded at m's
// magnitude, which swallows log S when m is large (float64 logits [1e16, 1e16] would give 0,
// not log 2).
// Keeping p costs N x C doubles and saves the backward from computing every exp again
// (exp was half of cross_entropy's time).
template <class T>
double row_loss(const T* z, std::int64_t C, std::int64_t y, double s, double* p) {
  double m = z[0];
  for (std::int64_t j = 1; j < C; ++j) m = std::max(m, static_cast<double>(z[j]));
  double sum_exp = 0, sum_shifted = 0;  // S, and sum_j (z_j - m) (only when smoothing)
  for (std::int64_t j = 0; j < C; ++j) {
    const double shifted = static_cast<double>(z[j]) - m;
    p[j] = std::exp(shifted);
    sum_exp += p[j];
    sum_shifted += shifted;
  }
  const double inv = 1.0 / sum_exp;
  for (std::int64_t j = 0; j < C; ++j) p[j] *= inv;
  // (without smoothing the sum is not used: 0 x sum_shifted would be nan when it overflows)
  const double smooth = s == 0 ? 0.0 : (s / C) * sum_shifted;
  return std::log(sum_exp) - (1.0 - s) * (static_cast<double>(z[y]) - m) - smooth;
}

// One row's gradient: dz_j = g_i d loss / d z_j (C values, in T) for row_loss's loss with the target
// t_j = (1 - s) [j = y] + s / C, from its p. PyTorch: CrossEntropyLoss; docs/losses/softmax.md §2-§3.
template <class T>
void row_grad(const double* p, std::int64_t C, std::int64_t y, double s, double g_i, T* dz);
// g_i is the upstream gradient of this row's loss; no exp: p is the forward's. grad_rows below and
// the fused margin losses call row_grad once per row. Nothing is checked (the op's forward checked
// its arguments), nothing throws.

// How the row losses are reduced to the op's output, as PyTorch's `reduction` argument:
//   Mean: L = (1/N) sum_i loss_i     Sum: L = sum_i loss_i     None: L_i = loss_i (N outputs)
enum class Reduction { Mean, Sum, None };

// cross_entropy's backward: dz = dL/dz (N x C, written in T) for the reduced loss L above, from the
// softmax p (N x C doubles, row_loss's), the labels y (N), the smoothing s, and the upstream
// gradient g of the op's output (1 value for Mean and Sum, N for None). Each row is row_grad's.
// Source: PyTorch's CrossEntropyLoss(reduction = ...); derivation: docs/losses/softmax.md §2.
template <class T>
void grad_rows(const double* p, std::int64_t N, std::int64_t C, const std::int64_t* y, double s,
               Reduction reduction, const T* g, T* dz);

}  // namespace cross_entropy_rows

}  // namespace chalk
