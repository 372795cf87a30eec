// ops/distances.cpp — norms, normalize and pairwise distances: forward, then the VJP right below.
//
// The hot path of the triplet and centroid losses and of the retrieval metrics, so each has
// its own kernel and a hand-derived VJP. Their plain twins, the same formulas composed from
// element-wise ops and reductions, are in tests/test_ops_distances.cpp and are checked
// against these.
//
// Axis ops see x along `axis` as [outer, n, inner] (core/shape.h AxisView): one "lane" (o, i)
// is the vector x[o, :, i] the op normalises.
#include "ops/distances.h"

#include <cmath>
#include <limits>

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
  Tensor y = Tensor::empty(l.out_shape, x.dtype());
  dispatch_float(x.dtype(), "l2_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    kernels::for_each_lane(l, [&](std::int64_t j, std::int64_t base) {
      double s = 0;
      for (std::int64_t k = 0; k < l.n; ++k) {
        const double v = px[base + k * l.inner];
        s += v * v;
      }
      py[j] = static_cast<T>(std::sqrt(s));
    });
  });
  record(y, "l2_norm", {x}, [x = x.detach(), y_ = y.detach(), l](const Tensor& g, Grads& dx) {
    Tensor d = Tensor::empty(x.shape(), x.dtype());
    dispatch_float(x.dtype(), "l2_norm backward", [&](auto tag) {
      using T = decltype(tag);
      const T *px = x.data<T>(), *py = y_.data<T>(), *pg = g.data<T>();
      T* pd = d.data<T>();
      kernels::for_each_lane(l, [&](std::int64_t j, std::int64_t base) {
        const T c = py[j] > T(0) ? pg[j] / py[j] : T(0);  // g / ||x||, 0 at x = 0
        for (std::int64_t k = 0; k < l.n; ++k) pd[base + k * l.inner] = c * px[base + k * l.inner];
      });
    });
    dx.add(0, d);
  });
  return y;
}

// y = x / r,   r = max(||x||, eps)   along axis (PyTorch's F.normalize)
// VJP, where ||x|| >= eps (r = ||x||, dr/dx = x / r = y):
//   dy_j/dx_k = (delta_jk - y_j y_k) / r   =>   dx = (g - y (g . y)) / r
// where ||x|| < eps (r = eps, a constant):   dx = g / eps
// (At ||x|| = eps exactly the first form is used: clamp's gradient passes at its edge.)
// Plain twin: div(x, clamp_min(l2_norm(x, axis, true), eps)), in the tests.
Tensor normalize(const Tensor& x, int axis, double eps) {
  if (!(eps > 0)) fail("normalize: eps must be > 0, got ", eps);
  const AxisView l = axis_view(x.shape(), axis, true, "normalize");
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  Tensor r = Tensor::empty(l.out_shape, x.dtype());  // r = max(||x||, eps) per lane
  Tensor clamped = Tensor::empty(l.out_shape, DType::Int64);  // 1 where ||x|| < eps
  dispatch_float(x.dtype(), "normalize", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T *py = y.data<T>(), *pr = r.data<T>();
    std::int64_t* pc = clamped.data<std::int64_t>();
    kernels::for_each_lane(l, [&](std::int64_t j, std::int64_t base) {
      double s = 0;
      for (std::int64_t k = 0; k < l.n; ++k) {
        const double v = px[base + k * l.inner];
        s += v * v;
      }
      const T norm = static_cast<T>(std::sqrt(s));
      pc[j] = norm < T(eps);
      pr[j] = pc[j] ? T(eps) : norm;
      const T inv = T(1) / pr[j];
      for (std::int64_t k = 0; k < l.n; ++k) py[base + k * l.inner] = px[base + k * l.inner] * inv;
    });
  });
  record(y, "normalize", {x}, [y_ = y.detach(), r, clamped, l](const Tensor& g, Grads& dx) {
    Tensor d = Tensor::empty(g.shape(), g.dtype());
    dispatch_float(g.dtype(), "normalize backward", [&](auto tag) {
      using T = decltype(tag);
      const T *pg = g.data<T>(), *py = y_.data<T>(), *pr = r.data<T>();
      const std::int64_t* pc = clamped.data<std::int64_t>();
      T* pd = d.data<T>();
      const std::int64_t n = l.n, st = l.inner;
      kernels::for_each_lane(l, [&](std::int64_t j, std::int64_t base) {
        double gy = 0;  // g . y  (0 in the clamped case: r is a constant there)
        if (!pc[j])
          for (std::int64_t k = 0; k < n; ++k) gy += static_cast<double>(pg[base + k * st]) * py[base + k * st];
        const T inv = T(1) / pr[j], c = static_cast<T>(gy);
        for (std::int64_t k = 0; k < n; ++k) {
          const std::int64_t e = base + k * st;
          pd[e] = (pg[e] - py[e] * c) * inv;
        }
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

// Below this fraction of ||a_i||^2 + ||b_j||^2, the GEMM form's cancellation
// error (a few ulps of ||a_i||^2 + ||b_j||^2 per term) is no longer small
// next to d2, so such entries are recomputed directly (see below).
template <class T>
constexpr T kRecomputeBelow = T(4096) * std::numeric_limits<T>::epsilon();

// d2 (N x M) = ||a_i||^2 + ||b_j||^2 - 2 a_i . b_j, clamped at 0, with ONE GEMM.
// No N x M x D temporary. The GEMM form loses digits when a_i and b_j are
// close (two big numbers cancel), so entries with
//   d2 < kRecomputeBelow * (||a_i||^2 + ||b_j||^2)
// are recomputed as sum_k (a_ik - b_jk)^2: identical points then give exactly
// 0 and near points keep their relative accuracy. There are few such entries
// (the diagonal of pairwise(x, x), duplicates, collapsed embeddings).
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
      std::vector<T> s(static_cast<std::size_t>(rows));
      for (std::int64_t r = 0; r < rows; ++r) {
        double acc = 0;
        for (std::int64_t k = 0; k < D; ++k) acc += static_cast<double>(p[r * D + k]) * p[r * D + k];
        s[r] = static_cast<T>(acc);
      }
      return s;
    };
    const std::vector<T> na = sq_norms(pa, N), nb = sq_norms(pb, M);
    parallel_for(N, std::max<std::int64_t>(1, kParallelGrain / M), [&](std::int64_t ib, std::int64_t ie) {
      for (std::int64_t i = ib; i < ie; ++i) {
        T* row = pd + i * M;
        for (std::int64_t j = 0; j < M; ++j) {
          T v = na[i] + nb[j] + row[j];
          if (v < kRecomputeBelow<T> * (na[i] + nb[j])) {  // close points: the direct sum
            const T *ai = pa + i * D, *bj = pb + j * D;
            T s = 0;
#pragma omp simd reduction(+ : s)
            for (std::int64_t k = 0; k < D; ++k) s += (ai[k] - bj[k]) * (ai[k] - bj[k]);
            v = s;
          }
          row[j] = v > T(0) ? v : T(0);
        }
      }
    });
  });
  return d2;
}

// The VJP of every d_ij = f(||a_i - b_j||^2): with h_ij = g_ij f'(d2_ij) (N x M),
//   dL/da_i = sum_j h_ij 2 (a_i - b_j) = 2 (rowsum(h)_i a_i - (h b)_i)
//   dL/db_j = sum_i h_ij 2 (b_j - a_i) = 2 (colsum(h)_j b_j - (h^T a)_j)
// h b and h^T a are GEMMs (N x M times M x D); `scale` carries the 2 and f'.
void pairwise_vjp(const Tensor& h, const Tensor& a, const Tensor& b, double scale, Grads& dx) {
  const std::int64_t N = a.shape()[0], M = b.shape()[0], D = a.shape()[1];
  dispatch_float(a.dtype(), "pairwise distances backward", [&](auto tag) {
    using T = decltype(tag);
    const T *ph = h.data<T>(), *pa = a.data<T>(), *pb = b.data<T>();
    const T s = static_cast<T>(scale);
    if (dx.wants(0)) {
      Tensor da = Tensor::empty({N, D}, a.dtype());
      T* p = da.data<T>();
      if (M > 0)
        gemm<T>(false, false, N, D, M, -s, ph, M, pb, D, T(0), p, D);  // -s h b
      else
        std::fill(p, p + N * D, T(0));
      parallel_for(N, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(M + D, 1)),
                   [&](std::int64_t ib, std::int64_t ie) {
                     for (std::int64_t i = ib; i < ie; ++i) {
                       double r = 0;
                       for (std::int64_t j = 0; j < M; ++j) r += ph[i * M + j];
                       const T c = s * static_cast<T>(r);  // s rowsum(h)_i
                       for (std::int64_t k = 0; k < D; ++k) p[i * D + k] += c * pa[i * D + k];
                     }
                   });
      dx.add(0, da);
    }
    if (dx.wants(1)) {
      Tensor db = Tensor::empty({M, D}, b.dtype());
      T* p = db.data<T>();
      if (N > 0)
        gemm<T>(true, false, M, D, N, -s, ph, M, pa, D, T(0), p, D);  // -s h^T a
      else
        std::fill(p, p + M * D, T(0));
      std::vector<double> col(static_cast<std::size_t>(M), 0.0);
      for (std::int64_t i = 0; i < N; ++i)
        for (std::int64_t j = 0; j < M; ++j) col[j] += ph[i * M + j];
      for (std::int64_t j = 0; j < M; ++j) {
        const T c = s * static_cast<T>(col[j]);  // s colsum(h)_j
        for (std::int64_t k = 0; k < D; ++k) p[j * D + k] += c * pb[j * D + k];
      }
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
  record(d2, "pairwise_squared_distances", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g, Grads& dx) {
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
  dispatch_float(d.dtype(), "pairwise_distances", [&](auto tag) {
    using T = decltype(tag);
    T* p = d.data<T>();
    parallel_for(d.numel(), [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t i = s; i < e; ++i) p[i] = std::sqrt(p[i]);
    });
  });
  record(d, "pairwise_distances", {a, b}, [a = a.detach(), b = b.detach(), d_ = d.detach()](const Tensor& g, Grads& dx) {
    Tensor h = Tensor::empty(g.shape(), g.dtype());
    dispatch_float(g.dtype(), "pairwise_distances backward", [&](auto tag) {
      using T = decltype(tag);
      const T *pg = g.data<T>(), *pd = d_.data<T>();
      T* ph = h.data<T>();
      parallel_for(h.numel(), [&](std::int64_t s, std::int64_t e) {
        for (std::int64_t i = s; i < e; ++i) ph[i] = pd[i] > T(0) ? pg[i] / pd[i] : T(0);  // 0 at the kink
      });
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
