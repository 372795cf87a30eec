// ops/distances.cpp — norms, normalize and pairwise distances: forward, then the VJP right below.
//
// The hot path of the triplet and centroid losses and of the retrieval metrics, so each has
// its own kernel and a hand-derived VJP. Their plain twins, the same formulas composed from
// element-wise ops and reductions, are in tests/test_ops_nn.cpp and are checked
// against these.
//
// Axis ops see x along `axis` as [outer, n, inner] (core/shape.h AxisView): one "lane" (o, i)
// is the vector x[o, :, i] the op normalises.
#include "ops/distances.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "ops/kernels.h"
#include "ops/linalg.h"

namespace chalk {

// ---------------------------------------------------------------- l2_norm, normalize

// y = ||x||_2 = sqrt(sum_k x_k^2) along axis
// VJP: dx_k = g x_k / y; at x = 0 (y = 0) the norm has a kink and we pick the
// subgradient 0 (PyTorch's choice too).
Tensor l2_norm(const Tensor& x, int axis, bool keepdim) {
  const AxisView l = axis_view(x.shape(), axis, keepdim, "l2_norm");
  // sqrt(sum_k x_k^2), the sum in double
  Tensor y = kernels::reduce(
      x, l, "l2_norm", [](double s, auto u) { return s + static_cast<double>(u) * u; },
      [](double s) { return std::sqrt(s); });
  record(y, "l2_norm", {x}, Saved{.inputs = {0}, .output = true},
         [x = x.detach(), y_ = y.detach(), l](const Tensor& g, Grads& dx) {
    Tensor d = Tensor::empty(x.shape(), x.dtype());
    dispatch_float(x.dtype(), "l2_norm backward", [&](auto tag) {
      using T = decltype(tag);
      const T *px = x.data<T>(), *py = y_.data<T>(), *pg = g.data<T>();
      T* pd = d.data<T>();
      kernels::for_each_lane(l, [&](std::int64_t j, std::int64_t base) {
        const T c = py[j] == T(0) ? T(0) : pg[j] / py[j];  // g / ||x||, 0 at x = 0 (nan stays nan)
        for (std::int64_t k = 0; k < l.n; ++k) pd[base + k * l.inner] = c * px[base + k * l.inner];
      });
    });
    dx.add(0, d);
  });
  return y;
}

// ---- the normalize kernel: one lane, then whole rows (the fused margin-softmax losses call
// the row form, kernels::normalize_rows in ops/distances.h, so the formula lives only here).

namespace {

// u = v / max(||v||, eps) over one lane v[0], v[st], ..., v[(n-1) st]; returns ||v|| (in double:
// the sum of squares, the norm and 1 / max(||v||, eps) are double, u is rounded once).
// NaN propagates: max(nan, eps) is nan.
template <class T>
inline double normalize_lane(const T* v, std::int64_t n, std::int64_t st, double eps, T* u) {
  double ss = 0;
#pragma omp simd reduction(+ : ss)
  for (std::int64_t k = 0; k < n; ++k) ss += static_cast<double>(v[k * st]) * v[k * st];
  const double norm = std::sqrt(ss);
  const double inv = 1.0 / std::max(norm, eps);
  for (std::int64_t k = 0; k < n; ++k) u[k * st] = static_cast<T>(v[k * st] * inv);
  return norm;
}

// Its VJP on the lane, from u (the output), ||v|| and the upstream g; d may be g (in place):
//   ||v|| >= eps:  dv = (g - u (u . g)) / ||v||   (r = ||v||, dr/dv = u: dy_j/dv_k = (delta_jk - u_j u_k) / r,
//                                                  the projection onto the tangent plane: a radial
//                                                  change of v does not move u)
//   ||v|| <  eps:  dv = g / eps                   (r = eps is a constant: u = v / eps is linear;
//                                                  PyTorch's clamp_min passes no gradient to the norm)
// At ||v|| = eps exactly the first form is used (clamp's gradient passes at its edge); a NaN norm
// takes it too, so the NaN reaches dv.
template <class T>
inline void normalize_lane_backward(const T* u, double norm, std::int64_t n, std::int64_t st, double eps, const T* g,
                                    T* d) {
  if (!(norm < eps)) {
    double dot = 0;  // u . g
#pragma omp simd reduction(+ : dot)
    for (std::int64_t k = 0; k < n; ++k) dot += static_cast<double>(u[k * st]) * g[k * st];
    for (std::int64_t k = 0; k < n; ++k) d[k * st] = static_cast<T>((g[k * st] - u[k * st] * dot) / norm);
  } else {
    for (std::int64_t k = 0; k < n; ++k) d[k * st] = static_cast<T>(g[k * st] / eps);
  }
}

}  // namespace

namespace kernels {

// The lane functions with st = 1: contiguous rows, which GCC vectorises. (Row pointers first:
// indexing v[r * D + k] inside the simd loop made GCC emit gathers, 6x slower.)
template <class T>
void normalize_rows(const T* v, std::int64_t R, std::int64_t D, double eps, T* u, double* norm) {
  parallel_for(R, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(D, 1)),
               [=](std::int64_t b, std::int64_t e) {
                 for (std::int64_t r = b; r < e; ++r) norm[r] = normalize_lane(v + r * D, D, 1, eps, u + r * D);
               });
}

template <class T>
void normalize_rows_backward(const T* u, const double* norm, std::int64_t R, std::int64_t D, double eps, const T* g,
                             T* d) {
  parallel_for(R, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(D, 1)),
               [=](std::int64_t b, std::int64_t e) {
                 for (std::int64_t r = b; r < e; ++r)
                   normalize_lane_backward(u + r * D, norm[r], D, 1, eps, g + r * D, d + r * D);
               });
}

template void normalize_rows<float>(const float*, std::int64_t, std::int64_t, double, float*, double*);
template void normalize_rows<double>(const double*, std::int64_t, std::int64_t, double, double*, double*);
template void normalize_rows_backward<float>(const float*, const double*, std::int64_t, std::int64_t, double,
                                             const float*, float*);
template void normalize_rows_backward<double>(const double*, const double*, std::int64_t, std::int64_t, double,
                                              const double*, double*);

// trans = false:  out_i = s (rowsum(h)_i x_i - (h y)_i)      (h: rows x cols)
// trans = true:   out_j = s (colsum(h)_j x_j - (h^T y)_j)
template <class T>
void pairwise_vjp_rows(bool trans, const T* h, std::int64_t rows, std::int64_t cols, const T* x, const T* y,
                       std::int64_t D, double s, T* out) {
  const std::int64_t n_out = trans ? cols : rows, n_sum = trans ? rows : cols;
  const T st = static_cast<T>(s);
  // out = -s h y   (or -s h^T y): the GEMM, h's transpose through the flag
  if (n_sum > 0)
    gemm<T>(trans, false, n_out, D, n_sum, -st, h, cols, y, D, T(0), out, D);
  else
    std::fill(out, out + n_out * D, T(0));
  // out_i += s (sum of h's row i, or column i) x_i
  std::vector<double> sums;
  if (trans) {  // column sums: one pass down the rows of h (contiguous), in double
    sums.assign(static_cast<std::size_t>(cols), 0.0);
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) sums[j] += h[i * cols + j];
  }
  const double* ps = sums.data();
  parallel_for(n_out, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(n_sum + D, 1)),
               [=](std::int64_t ib, std::int64_t ie) {
                 for (std::int64_t i = ib; i < ie; ++i) {
                   double r = 0;
                   if (trans)
                     r = ps[i];
                   else
                     for (std::int64_t j = 0; j < cols; ++j) r += h[i * cols + j];
                   const T c = st * static_cast<T>(r);
                   T* o = out + i * D;
                   const T* xi = x + i * D;
                   for (std::int64_t k = 0; k < D; ++k) o[k] += c * xi[k];
                 }
               });
}

template void pairwise_vjp_rows<float>(bool, const float*, std::int64_t, std::int64_t, const float*, const float*,
                                       std::int64_t, double, float*);
template void pairwise_vjp_rows<double>(bool, const double*, std::int64_t, std::int64_t, const double*, const double*,
                                        std::int64_t, double, double*);

}  // namespace kernels

// y = x / r,   r = max(||x||, eps)   along axis (PyTorch's F.normalize)
// VJP, where ||x|| >= eps:  dx = (g - y (g . y)) / ||x||;   where ||x|| < eps:  dx = g / eps
// (normalize_lane and normalize_lane_backward above, with the derivation.)
// Plain twin: div(x, clamp_min(l2_norm(x, axis, true), eps)), in the tests.
Tensor normalize(const Tensor& x, int axis, double eps) {
  if (!(eps > 0)) fail("normalize: eps must be > 0, got ", eps);
  const AxisView l = axis_view(x.shape(), axis, true, "normalize");
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  std::vector<double> norm(static_cast<std::size_t>(l.outer * l.inner));  // ||x|| per lane
  dispatch_float(x.dtype(), "normalize", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    if (l.inner == 1) return kernels::normalize_rows(px, l.outer, l.n, eps, py, norm.data());  // the common case
    kernels::for_each_lane(l, [&](std::int64_t j, std::int64_t base) {
      norm[j] = normalize_lane(px + base, l.n, l.inner, eps, py + base);
    });
  });
  record(y, "normalize", {x}, Saved{.output = true},
         [y_ = y.detach(), norm = std::move(norm), l, eps](const Tensor& g, Grads& dx) {
    Tensor d = Tensor::empty(g.shape(), g.dtype());
    dispatch_float(g.dtype(), "normalize backward", [&](auto tag) {
      using T = decltype(tag);
      const T *pg = g.data<T>(), *py = y_.data<T>();
      T* pd = d.data<T>();
      if (l.inner == 1) return kernels::normalize_rows_backward(py, norm.data(), l.outer, l.n, eps, pg, pd);
      kernels::for_each_lane(l, [&](std::int64_t j, std::int64_t base) {
        normalize_lane_backward(py + base, norm[j], l.n, l.inner, eps, pg + base, pd + base);
      });
    });
    dx.add(0, d);
  });
  return y;
}

// ---------------------------------------------------------------- pairwise distances

namespace {

void check_pair(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dim() != 2 || b.dim() != 2)
    fail(op, ": expected a (N x D) and b (M x D), got a ", shape_str(a.shape()), " and b ", shape_str(b.shape()));
  if (a.shape()[1] != b.shape()[1])
    fail(op, ": a ", shape_str(a.shape()), " and b ", shape_str(b.shape()), " have different D (",
         a.shape()[1], " vs ", b.shape()[1], ")");
  if (a.dtype() != b.dtype())
    fail(op, ": dtype mismatch: a is ", dtype_name(a.dtype()), ", b is ", dtype_name(b.dtype()));
  if (!is_floating(a.dtype())) fail(op, ": expected float32 or float64 tensors, got ", dtype_name(a.dtype()));
}

// When the GEMM form is accurate enough, and when it is not.
// The GEMM form d2 = ||a||^2 + ||b||^2 - 2 a.b rounds each of its terms, so its absolute
// error is about kappa eps (||a||^2 + ||b||^2) (kappa: a few units, growing slowly with D),
// whatever d2 is. Its relative error is therefore
//   |delta d2| / d2  ~  kappa eps S / d2,        S = ||a_i||^2 + ||b_j||^2,
// and that of d = sqrt(d2) half of it. Cancellation makes this large exactly for near
// points. Every entry with
//   d2 < kRecomputeBelow * S,      kRecomputeBelow = 2^-8
// is recomputed directly as sum_k (a_ik - b_jk)^2 (relative error a few eps: the
// differences of near values are exact). Everywhere else d2 >= S / 256, so the GEMM's
// relative error on d is at most ~128 kappa eps: the same few digits in float32 and
// float64, for every separation. (A threshold of a fixed multiple of eps instead, say
// 4096 eps, leaves a relative error of ~kappa / 8192 just above it: 1e-4 in float64 too.)
// The recompute region is separations below ~9% of the norms (d2 / S = r^2 / 2 for two
// points at relative separation r): the diagonal of pairwise(x, x), duplicates, collapsed
// embeddings, tight classes. It costs D multiply-adds per such entry, on batch-sized
// matrices only (the triplet losses; the retrieval metrics have their own kernel).
constexpr double kRecomputeBelow = 1.0 / 256.0;

// d2 (N x M) = ||a_i||^2 + ||b_j||^2 - 2 a_i . b_j, clamped at 0, with ONE GEMM.
// No N x M x D temporary. Entries where cancellation would cost more than a few digits
// (above) are recomputed directly: identical points then give exactly 0 and near points
// keep their relative accuracy (tests/test_nan_propagation.cpp,
// PairwiseDistancesAccuracy.RelativeErrorAtEverySeparation).
// NaN propagates: the clamp is `v < 0 ? 0 : v`, so a NaN stays NaN (PyTorch's cdist too).
Tensor squared_distances_kernel(const Tensor& a, const Tensor& b) {
  const std::int64_t N = a.shape()[0], M = b.shape()[0], D = a.shape()[1];
  Tensor d2 = Tensor::empty({N, M}, a.dtype());
  dispatch_float(a.dtype(), "pairwise_squared_distances", [&](auto tag) {
    using T = decltype(tag);
    const T *pa = a.data<T>(), *pb = b.data<T>();
    T* pd = d2.data<T>();
    if (N == 0 || M == 0) return;
    // d2 = -2 a b^T   (the GEMM; b^T through the transpose flag)
    if (D > 0)
      gemm<T>(false, true, N, M, D, T(-2), pa, D, pb, D, T(0), pd, M);
    else
      std::fill(pd, pd + N * M, T(0));
    auto sq_norms = [D](const T* p, std::int64_t rows) {
      std::vector<double> s(static_cast<std::size_t>(rows));
      for (std::int64_t r = 0; r < rows; ++r) {
        double acc = 0;
        for (std::int64_t k = 0; k < D; ++k) acc += static_cast<double>(p[r * D + k]) * p[r * D + k];
        s[r] = acc;
      }
      return s;
    };
    const std::vector<double> na = sq_norms(pa, N), nb = sq_norms(pb, M);
    parallel_for(N, std::max<std::int64_t>(1, kParallelGrain / M), [&](std::int64_t ib, std::int64_t ie) {
      for (std::int64_t i = ib; i < ie; ++i) {
        T* row = pd + i * M;
        for (std::int64_t j = 0; j < M; ++j) {
          const double S = na[i] + nb[j];
          double v = S + static_cast<double>(row[j]);
          if (v < kRecomputeBelow * S) {  // near points: the direct sum
            const T *ai = pa + i * D, *bj = pb + j * D;
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (std::int64_t k = 0; k < D; ++k) {
              const double dk = static_cast<double>(ai[k]) - bj[k];
              s += dk * dk;
            }
            v = s;
          }
          row[j] = static_cast<T>(v < 0 ? 0.0 : v);  // round-off below 0 -> 0; nan stays nan
        }
      }
    });
  });
  return d2;
}

// The VJP of every d_ij = f(||a_i - b_j||^2): with h_ij = g_ij f'(d2_ij) (N x M),
//   dL/da_i = sum_j h_ij 2 (a_i - b_j) = 2 (rowsum(h)_i a_i - (h b)_i)
//   dL/db_j = sum_i h_ij 2 (b_j - a_i) = 2 (colsum(h)_j b_j - (h^T a)_j)
// Both are kernels::pairwise_vjp_rows (below the namespace); `scale` carries the 2 and f'.
void pairwise_vjp(const Tensor& h, const Tensor& a, const Tensor& b, double scale, Grads& dx) {
  const std::int64_t N = a.shape()[0], M = b.shape()[0], D = a.shape()[1];
  dispatch_float(a.dtype(), "pairwise distances backward", [&](auto tag) {
    using T = decltype(tag);
    const T *ph = h.data<T>(), *pa = a.data<T>(), *pb = b.data<T>();
    if (dx.wants(0)) {
      Tensor da = Tensor::empty({N, D}, a.dtype());
      kernels::pairwise_vjp_rows<T>(false, ph, N, M, pa, pb, D, scale, da.data<T>());
      dx.add(0, da);
    }
    if (dx.wants(1)) {
      Tensor db = Tensor::empty({M, D}, b.dtype());
      kernels::pairwise_vjp_rows<T>(true, ph, N, M, pb, pa, D, scale, db.data<T>());
      dx.add(1, db);
    }
  });
}

}  // namespace

// d2[i, j] = ||a_i - b_j||^2 = ||a_i||^2 + ||b_j||^2 - 2 a_i . b_j   a (N x D), b (M x D)
// VJP (h = g):  da = 2 (rowsum(g)[:, None] * a - g b),   db = 2 (colsum(g)[:, None] * b - g^T a)
// The clamp at 0 only removes round-off (the exact d2 is >= 0), so the VJP is
// that of the exact formula: 2 (a_i - b_j) is smooth, even at a_i = b_j.
Tensor pairwise_squared_distances(const Tensor& a, const Tensor& b) {
  check_pair(a, b, "pairwise_squared_distances");
  Tensor d2 = squared_distances_kernel(a.detach(), b.detach());
  record(d2, "pairwise_squared_distances", {a, b}, Saved{.inputs = {0, 1}},
         [a = a.detach(), b = b.detach()](const Tensor& g, Grads& dx) {
    pairwise_vjp(g, a, b, 2.0, dx);
  });
  return d2;
}

// d[i, j] = sqrt(d2[i, j])
// VJP: dd_ij/da_i = (a_i - b_j) / d_ij, so with h_ij = g_ij / d_ij:
//   da = rowsum(h)[:, None] * a - h b,   db = colsum(h)[:, None] * b - h^T a
// Kink: at d_ij = 0 (a_i = b_j) the distance is not differentiable (a cone);
// we set h_ij = 0 there, i.e. the pair contributes no gradient. It is a valid
// subgradient (0 lies in the unit ball of subgradients) and keeps training on
// a batch with duplicate points, or on pairwise_distances(x, x)'s diagonal, finite.
// Identical points give exactly d = 0 (squared_distances_kernel recomputes close pairs).
Tensor pairwise_distances(const Tensor& a, const Tensor& b) {
  check_pair(a, b, "pairwise_distances");
  Tensor d = squared_distances_kernel(a.detach(), b.detach());
  // d = sqrt(d2), in place on the fresh d2 (map would allocate a second N x M matrix)
  dispatch_float(d.dtype(), "pairwise_distances", [&](auto tag) {
    using T = decltype(tag);
    T* p = d.data<T>();
    parallel_for(d.numel(), [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t i = s; i < e; ++i) p[i] = std::sqrt(p[i]);
    });
  });
  record(d, "pairwise_distances", {a, b}, Saved{.inputs = {0, 1}, .output = true},
         [a = a.detach(), b = b.detach(), d_ = d.detach()](const Tensor& g, Grads& dx) {
    // h = g / d, 0 at the kink d = 0 (a NaN stays NaN)
    const Tensor h = kernels::zip(g, d_, "pairwise_distances backward", [](auto gi, auto di) {
      return di == 0 ? decltype(gi)(0) : gi / di;
    });
    pairwise_vjp(h, a, b, 1.0, dx);
  });
  return d;
}

// S[i, j] = cos(a_i, b_j) = (a_i / max(||a_i||, eps)) . (b_j / max(||b_j||, eps))   (N x M)
// Composed: two normalize (fused kernels) and one GEMM (b^T through the flag);
// the VJP comes from theirs.
Tensor cosine_similarity_matrix(const Tensor& a, const Tensor& b, double eps) {
  check_pair(a, b, "cosine_similarity_matrix");
  return matmul(normalize(a, 1, eps), normalize(b, 1, eps), false, true);
}

}  // namespace chalk
