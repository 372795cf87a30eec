// ops/linalg.cpp — matmul and linear: forward, then the VJP right below; then the SVD (no VJP).
#include "ops/linalg.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/autograd.h"
#include "core/exercise.h"  // the stub a student edition puts in matmul_vjp's region
#include "core/gemm.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace chalk {

namespace {

// C = op(A) op(B) into a fresh tensor, through GEMM's transpose flags: op(X) = X^T when its
// flag is set. A and B are 2-D tensors of one floating dtype; op(A) M x K, op(B) K x N.
// Throws chalk::Error naming both operands when the inner dimensions differ (a product written
// in the wrong order, or with a transpose on the wrong factor), before GEMM could read past them.
Tensor gemm_tensor(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const std::int64_t M = ta ? a.shape()[1] : a.shape()[0];
  const std::int64_t K = ta ? a.shape()[0] : a.shape()[1];
  const std::int64_t Kb = tb ? b.shape()[1] : b.shape()[0];
  const std::int64_t N = tb ? b.shape()[0] : b.shape()[1];
  if (K != Kb || a.dtype() != b.dtype())
    fail("gemm_tensor: cannot multiply its first factor, ", dtype_name(a.dtype()), " ", shape_str(a.shape()),
         ta ? " transposed" : "", ", by its second, ", dtype_name(b.dtype()), " ", shape_str(b.shape()),
         tb ? " transposed" : "", ": ",
         K != Kb ? str_cat("the inner dimensions differ (", M, " x ", K, " times ", Kb, " x ", N, ")")
                 : std::string("two dtypes"));
  Tensor c = Tensor::empty({M, N}, a.dtype());
  dispatch_float(a.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    gemm<T>(ta, tb, M, N, K, T(1), a.data<T>(), a.shape()[1], b.data<T>(), b.shape()[1], T(0),
            c.data<T>(), N);
  });
  return c;
}

}  // namespace

// C (M x N) = op(A) (M x K) op(B) (K x N), one GEMM; VJP: matmul_vjp below.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  if (a.dim() != 2 || b.dim() != 2)
    fail("matmul: expected 2-D tensors, got a ", shape_str(a.shape()), " and b ", shape_str(b.shape()));
  if (a.dtype() != b.dtype())
    fail("matmul: dtype mismatch: a is ", dtype_name(a.dtype()), " ", shape_str(a.shape()), ", b is ",
         dtype_name(b.dtype()), " ", shape_str(b.shape()));
  const std::int64_t Ka = transpose_a ? a.shape()[0] : a.shape()[1];
  const std::int64_t Kb = transpose_b ? b.shape()[1] : b.shape()[0];
  if (Ka != Kb)
    fail("matmul: inner dimensions differ: a", transpose_a ? "^T" : "", " is ", shape_str(a.shape()),
         ", b", transpose_b ? "^T" : "", " is ", shape_str(b.shape()), " (", Ka, " vs ", Kb, ")");
  Tensor c = gemm_tensor(a, b, transpose_a, transpose_b);
  record(c, "matmul", {a, b}, Saved{.inputs = {0, 1}},
         [a = a.detach(), b = b.detach(), transpose_a, transpose_b](const Tensor& g, Grads& dx) {
    const MatmulGrads d = matmul_vjp(a, b, g, transpose_a, transpose_b, dx.wants(0), dx.wants(1));
    if (dx.wants(0)) dx.add(0, d.a);
    if (dx.wants(1)) dx.add(1, d.b);
  });
  return c;
}

// matmul's VJP (ops/linalg.h). The lines before the region check the arguments, so the products
// below only ever see 2-D tensors that fit; each product is one gemm_tensor (above) call.
MatmulGrads matmul_vjp(const Tensor& a, const Tensor& b, const Tensor& g, bool transpose_a, bool transpose_b,
                       bool want_a, bool want_b) {
  if (a.dim() != 2 || b.dim() != 2 || g.dim() != 2)
    fail("matmul_vjp: expected 2-D tensors, got a ", shape_str(a.shape()), ", b ", shape_str(b.shape()), " and g ",
         shape_str(g.shape()));
  const std::int64_t M = transpose_a ? a.shape()[1] : a.shape()[0];
  const std::int64_t Ka = transpose_a ? a.shape()[0] : a.shape()[1];
  const std::int64_t Kb = transpose_b ? b.shape()[1] : b.shape()[0];
  const std::int64_t N = transpose_b ? b.shape()[0] : b.shape()[1];
  auto product = [&] {  // for the messages only
    return str_cat("a", transpose_a ? "^T" : "", " (", dtype_name(a.dtype()), " ", shape_str(a.shape()), ") times b",
                   transpose_b ? "^T" : "", " (", dtype_name(b.dtype()), " ", shape_str(b.shape()), ")");
  };
  if (Ka != Kb || b.dtype() != a.dtype())
    fail("matmul_vjp: ", product(), " cannot be multiplied: ",
         Ka != Kb ? str_cat("the inner dimensions differ (", Ka, " vs ", Kb, ")") : std::string("two dtypes"));
  if (g.shape()[0] != M || g.shape()[1] != N || g.dtype() != a.dtype())
    fail("matmul_vjp: ", product(), " needs a ", dtype_name(a.dtype()), " g of shape [", M, ", ", N, "], got ",
         dtype_name(g.dtype()), " ", shape_str(g.shape()));
  // ---- exercise 04 begin: docs/exercises/04-matmul-vjp.md ----
  // C = op(A) op(B), g = dL/dC (M x N):
  //   dL/d op(A) = g op(B)^T   (M x K)      dL/d op(B) = op(A)^T g   (K x N)
  // and when A itself was transposed (transpose_a), dA = (dL/d op(A))^T = op(B) g^T; when B was,
  // dB = (dL/d op(B))^T = g^T op(A). Every transpose is a GEMM flag: no transposed copy is made.
  MatmulGrads grads;
  if (want_a) grads.a = transpose_a ? gemm_tensor(b, g, transpose_b, true) : gemm_tensor(g, b, false, !transpose_b);
  if (want_b) grads.b = transpose_b ? gemm_tensor(g, a, true, transpose_a) : gemm_tensor(a, g, !transpose_a, false);
  return grads;
  // ---- exercise 04 end ----
}

// y = x W^T + b   (x: N x in, W: out x in, b: out)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  if (x.dim() != 2 || w.dim() != 2)
    fail("linear: expected x (N x in) and W (out x in), got x ", shape_str(x.shape()), " and W ",
         shape_str(w.shape()));
  if (x.shape()[1] != w.shape()[1])
    fail("linear: x ", shape_str(x.shape()), " has ", x.shape()[1], " features but W ", shape_str(w.shape()),
         " expects ", w.shape()[1]);
  if (x.dtype() != w.dtype())
    fail("linear: dtype mismatch: x is ", dtype_name(x.dtype()), " ", shape_str(x.shape()), ", W is ",
         dtype_name(w.dtype()), " ", shape_str(w.shape()));
  if (b.defined() && (b.dim() != 1 || b.shape()[0] != w.shape()[0]))
    fail("linear: bias has shape ", shape_str(b.shape()), ", expected [", w.shape()[0], "]");
  if (b.defined() && b.dtype() != w.dtype())
    fail("linear: bias is ", dtype_name(b.dtype()), ", W is ", dtype_name(w.dtype()));
  Tensor y = matmul(x, w, false, true);
  if (b.defined()) {
    y = add(y, b);
  }
  return y;
}

// ---- the singular value decomposition ----

namespace {

// One-sided Jacobi on a tall matrix (rows >= cols), row-major in `a`, which it overwrites with
// A V (orthogonal columns); `v` receives V (cols x cols). Start from V = I and rotate pairs of
// columns (p, q) of A, and the same columns of V, by the plane rotation that makes them orthogonal:
//     alpha = a_p.a_p, beta = a_q.a_q, gamma = a_p.a_q,  zeta = (beta - alpha) / (2 gamma),
//     t = sign(zeta) / (|zeta| + sqrt(1 + zeta^2)),  c = 1 / sqrt(1 + t^2),  s = c t,
//     a_p <- c a_p - s a_q,   a_q <- s a_p + c a_q          (then a_p . a_q = 0)
// (t is the smaller root of t^2 + 2 zeta t - 1 = 0: the rotation by less than 45 degrees, the
// stable choice). Each rotation keeps A V = M V_total with V orthogonal; a sweep visits every pair;
// sweeps repeat until no pair is more than rounding away from orthogonal. Returns whether they did
// within `max_sweeps`.
bool jacobi_orthogonalize(std::vector<double>& a, std::vector<double>& v, std::int64_t rows, std::int64_t cols,
                          int max_sweeps) {
  v.assign(static_cast<std::size_t>(cols * cols), 0.0);
  for (std::int64_t i = 0; i < cols; ++i) v[static_cast<std::size_t>(i * cols + i)] = 1;
  auto col_dot = [&](std::int64_t p, std::int64_t q) {
    double s = 0;
    for (std::int64_t i = 0; i < rows; ++i) s += a[static_cast<std::size_t>(i * cols + p)] * a[static_cast<std::size_t>(i * cols + q)];
    return s;
  };
  auto rotate = [cols](std::vector<double>& x, std::int64_t n, std::int64_t p, std::int64_t q, double c, double s) {
    for (std::int64_t i = 0; i < n; ++i) {
      const double xp = x[static_cast<std::size_t>(i * cols + p)], xq = x[static_cast<std::size_t>(i * cols + q)];
      x[static_cast<std::size_t>(i * cols + p)] = c * xp - s * xq;
      x[static_cast<std::size_t>(i * cols + q)] = s * xp + c * xq;
    }
  };
  for (int sweep = 0; sweep < max_sweeps; ++sweep) {
    int rotations = 0;
    for (std::int64_t p = 0; p < cols - 1; ++p)
      for (std::int64_t q = p + 1; q < cols; ++q) {
        const double alpha = col_dot(p, p), beta = col_dot(q, q), gamma = col_dot(p, q);
        if (gamma == 0 || std::fabs(gamma) <= 1e-15 * std::sqrt(alpha * beta)) continue;  // already orthogonal
        const double zeta = (beta - alpha) / (2 * gamma);
        const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(1 + zeta * zeta));
        const double c = 1 / std::sqrt(1 + t * t), s = c * t;
        rotate(a, rows, p, q, c, s);
        rotate(v, cols, p, q, c, s);
        ++rotations;
      }
    if (rotations == 0) return true;
  }
  return false;
}

// The SVD of a tall matrix (rows >= cols, row-major), all in float64: u (rows x cols), s (cols),
// v (cols x cols), A = u diag(s) v^T, in the order the sweeps leave (not sorted).
void svd_tall(std::vector<double> a, std::int64_t rows, std::int64_t cols, std::vector<double>& u,
              std::vector<double>& s, std::vector<double>& v) {
  constexpr int kMaxSweeps = 100;  // Jacobi converges quadratically: a few sweeps in practice
  if (!jacobi_orthogonalize(a, v, rows, cols, kMaxSweeps))
    fail("svd: the Jacobi sweeps did not converge after ", kMaxSweeps, " sweeps (a ", rows, " x ", cols, " matrix)");
  // The columns of A V are now orthogonal: A V = U S with S_j = ||a_j||, U_j = a_j / S_j.
  s.assign(static_cast<std::size_t>(cols), 0.0);
  double smax = 0;
  for (std::int64_t j = 0; j < cols; ++j) {
    double d = 0;
    for (std::int64_t i = 0; i < rows; ++i) d += a[static_cast<std::size_t>(i * cols + j)] * a[static_cast<std::size_t>(i * cols + j)];
    s[static_cast<std::size_t>(j)] = std::sqrt(d);
    smax = std::max(smax, s[static_cast<std::size_t>(j)]);
  }
  u.assign(static_cast<std::size_t>(rows * cols), 0.0);
  std::vector<bool> done(static_cast<std::size_t>(cols), false);
  for (std::int64_t j = 0; j < cols; ++j) {
    const double sj = s[static_cast<std::size_t>(j)];
    if (sj > 1e-12 * smax && sj > 0) {
      for (std::int64_t i = 0; i < rows; ++i) u[static_cast<std::size_t>(i * cols + j)] = a[static_cast<std::size_t>(i * cols + j)] / sj;
      done[static_cast<std::size_t>(j)] = true;
    }
  }
  // A column with S_j ~ 0 (A of lower rank) gives no direction: complete U with the unit vector
  // e_k that has the largest part outside the columns so far, orthogonalised against them
  // (Gram-Schmidt, twice: orthogonal to rounding). With r columns done, the parts' squared norms
  // sum to rows - r >= 1 over the rows unit vectors, so the best one is never ~0. U S V^T is
  // unchanged: the new column multiplies S_j = 0.
  auto residual = [&](std::int64_t k) {
    std::vector<double> r(static_cast<std::size_t>(rows), 0.0);
    r[static_cast<std::size_t>(k)] = 1;
    for (int pass = 0; pass < 2; ++pass)
      for (std::int64_t c = 0; c < cols; ++c) {
        if (!done[static_cast<std::size_t>(c)]) continue;
        double d = 0;
        for (std::int64_t i = 0; i < rows; ++i) d += u[static_cast<std::size_t>(i * cols + c)] * r[static_cast<std::size_t>(i)];
        for (std::int64_t i = 0; i < rows; ++i) r[static_cast<std::size_t>(i)] -= d * u[static_cast<std::size_t>(i * cols + c)];
      }
    return r;
  };
  for (std::int64_t j = 0; j < cols; ++j) {
    if (done[static_cast<std::size_t>(j)]) continue;
    s[static_cast<std::size_t>(j)] = 0;
    std::vector<double> best;
    double best_norm = -1;
    for (std::int64_t k = 0; k < rows; ++k) {
      std::vector<double> r = residual(k);
      double n = 0;
      for (double x : r) n += x * x;
      if (n > best_norm) best_norm = n, best = std::move(r);
    }
    for (std::int64_t i = 0; i < rows; ++i) u[static_cast<std::size_t>(i * cols + j)] = best[static_cast<std::size_t>(i)] / std::sqrt(best_norm);
    done[static_cast<std::size_t>(j)] = true;
  }
}

}  // namespace

// A = U diag(S) Vh by one-sided Jacobi on A (M >= N) or on A^T (M < N: A^T = U' S V'^T, so
// A = V' S U'^T), then the singular values sorted in descending order, their vectors with them.
SvdResult svd(const Tensor& a) {
  if (a.dim() != 2 || a.numel() == 0)
    fail("svd: expected a 2-D tensor with at least one element, got ", shape_str(a.shape()));
  if (a.dtype() != DType::Float32 && a.dtype() != DType::Float64)
    fail("svd: expected a float32 or float64 tensor, got ", dtype_name(a.dtype()), " ", shape_str(a.shape()));
  if (a.requires_grad() && grad_enabled())
    fail("svd: its input ", shape_str(a.shape()), " requires a gradient, but svd has no VJP; call svd(a.detach()), "
         "or call it under NoGradGuard");
  const std::int64_t M = a.shape()[0], N = a.shape()[1];
  const bool tall = M >= N;
  const std::int64_t rows = tall ? M : N, cols = tall ? N : M;
  const Tensor a64 = a.to(DType::Float64);
  const double* p = a64.data<double>();
  std::vector<double> work(static_cast<std::size_t>(M * N));
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      const double x = p[i * N + j];
      if (!std::isfinite(x)) fail("svd: entry [", i, ", ", j, "] of its ", shape_str(a.shape()), " input is ", x);
      work[static_cast<std::size_t>(tall ? i * N + j : j * M + i)] = x;
    }
  std::vector<double> u, s, v;
  svd_tall(std::move(work), rows, cols, u, s, v);
  // descending singular values; ties keep the sweeps' order (a stable sort: the same answer every run)
  std::vector<std::int64_t> order(static_cast<std::size_t>(cols));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t x, std::int64_t y) { return s[static_cast<std::size_t>(x)] > s[static_cast<std::size_t>(y)]; });
  const std::int64_t K = cols;
  Tensor U = Tensor::empty({M, K}, DType::Float64), S = Tensor::empty({K}, DType::Float64),
         Vh = Tensor::empty({K, N}, DType::Float64);
  double *pu = U.data<double>(), *ps = S.data<double>(), *pv = Vh.data<double>();
  for (std::int64_t k = 0; k < K; ++k) {
    const std::int64_t j = order[static_cast<std::size_t>(k)];
    ps[k] = s[static_cast<std::size_t>(j)];
    // tall: U = u (rows = M), Vh = v^T (v is N x N); wide: U = v (M x M), Vh = u^T (u is N x M)
    for (std::int64_t i = 0; i < M; ++i)
      pu[i * K + k] = tall ? u[static_cast<std::size_t>(i * cols + j)] : v[static_cast<std::size_t>(i * cols + j)];
    for (std::int64_t i = 0; i < N; ++i)
      pv[k * N + i] = tall ? v[static_cast<std::size_t>(i * cols + j)] : u[static_cast<std::size_t>(i * cols + j)];
  }
  if (a.dtype() == DType::Float64) return {U, S, Vh};
  return {U.to(a.dtype()), S.to(a.dtype()), Vh.to(a.dtype())};
}

}  // namespace chalk
