// losses/margin_softmax.cpp — NormFace, CosFace, ArcFace, combined margin, SphereFace.
// Read with docs/losses/margin_softmax.md (the derivations); tested in tests/test_loss_softmax.cpp.
//
// The file has four parts:
//   1. the target-logit functions f(c) and df/dc, one per loss (the only math that differs);
//   2. the fused op: forward and the hand-derived VJP through the two normalisations;
//   3. the composed twins, from autograd ops only;
//   4. the Loss classes that own W.
#include "losses/margin_softmax.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "core/autograd.h"
#include "core/checks.h"
#include "core/exercise.h"  // exercise_not_done: the stub a student edition puts in the regions below
#include "losses/cross_entropy_rows.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "core/random.h"
#include "losses/softmax.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/distances.h"
#include "ops/softmax.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace chalk {

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kNormEps = 1e-12;              // normalize(v) = v / max(||v||, 1e-12)

// theta = acos(c) and sin(theta) for a cosine c, exact up to c = +-1.
// c is clamped to [-1, 1] first (round-off can put a cosine a few ulps outside), and
//   sin(theta) = sqrt((1 - c)(1 + c))      ((1 - c) is exact near 1: no cancellation)
// d theta / dc = -1 / sin(theta) is infinite at c = +-1, but every target logit below
// multiplies it by something that makes the product finite, or is a cone there (see
// arcface_target); each handles sin(theta) = 0 itself. No acos clamp at 1 - 1e-7: that
// clamp dropped the whole margin gradient within 4.5e-4 rad of W_y (docs/ops.md, acos).
struct Angle {
  double c;      // the cosine, clamped to [-1, 1]
  double theta;  // acos(c), in [0, pi]
  double sin;    // sin(theta) >= 0
};
Angle angle_of(double c) {
  const double u = std::clamp(c, -1.0, 1.0);
  return {u, std::acos(u), std::sqrt((1.0 - u) * (1.0 + u))};
}

// SphereFace's piece of [0, pi]: k = floor(m theta / pi) (clamped to m - 1 at theta = pi,
// where the last piece ends) and its sign (-1)^k. psi, its derivative and the composed
// twin all take the piece from here.
struct SpherePiece {
  double k;
  double sign;
};
SpherePiece sphere_piece(double theta, int m) {
  const double k = std::min(std::floor(m * theta / kPi), static_cast<double>(m - 1));
  return {k, std::fmod(k, 2.0) == 0.0 ? 1.0 : -1.0};
}

}  // namespace

// ================================================================ 1. target logits f(c)

// CosFace (Wang et al. 2018): subtract m from the cosine.   f = c - m,   df/dc = 1
TargetLogit cosface_target(double c, double m) { return {c - m, 1.0}; }

// ArcFace (Deng et al. 2019): add m (radians) to the angle between x and W_y,
//   f(c) = cos(theta + m),  theta = acos(c),     while theta + m < pi  (c > cos(pi - m))
// with its derivative df/dc, the one number of the loss's backward that depends on the margin.
// df/dc grows like 1 / sin(theta) as x approaches W_y, but dc/dx_i has size sin(theta) / ||x_i||
// (c moves only with the tangential part of x), so the gradient w.r.t. x and W stays finite:
// its margin part tends to sin m / ||x_i|| along the unit tangent from x_i to W_y. At c = +-1
// exactly f is a cone in x and no tangent exists: we take the cone's subgradient 0 and keep the
// derivative of the part of f that is smooth in c. (A former acos clamp at 1 - 1e-7 dropped the
// margin's gradient for theta < 4.5e-4 rad: x's gradient 7.2 where InsightFace's gives 14.4.)
// cos(theta + m) is decreasing in theta only while theta + m <= pi. Past that (c <= cos(pi - m))
// the margin would *raise* the logit of a badly wrong sample, so the InsightFace code falls back
// to CosFace's shape with a matching size: f = c - m sin(m), df/dc = 1.
// easy_margin instead applies the margin only where c > 0 (theta < pi/2): else f = c, df/dc = 1.
TargetLogit arcface_target(double c, double m, bool easy_margin) {
  // ---- exercise 10 begin: docs/exercises/10-arcface-margin.md ----
  const bool with_margin = easy_margin ? c > 0.0 : c > std::cos(kPi - m);
  if (!with_margin) return easy_margin ? TargetLogit{c, 1.0} : TargetLogit{c - m * std::sin(m), 1.0};
  // InsightFace's form, exact up to c = +-1 (angle_of: sin(theta) = sqrt((1 - c)(1 + c))):
  //   f = cos(theta + m) = c cos m - sin(theta) sin m
  //   df/dc = cos m - sin m d sin(theta)/dc = cos m + sin m c / sin(theta)
  // At sin(theta) = 0 the cone -sin(theta) sin m gets the subgradient 0: df/dc = cos m.
  const Angle a = angle_of(c);
  const double cm = std::cos(m), sm = std::sin(m);
  const double df = a.sin > 0.0 ? cm + sm * a.c / a.sin : cm;
  return {a.c * cm - a.sin * sm, df};
  // ---- exercise 10 end ----
}

// Combined margin (InsightFace): all three margins at once, no fallback,
//   f(c) = cos(m1 theta + m2) - m3,  theta = acos(c),
// and df/dc. Like ArcFace's, df/dc ~ 1/sin(theta) near c = +-1 with a finite gradient in x and
// W; at sin(theta) = 0 exactly, the cone's subgradient 0 and the derivative of the smooth part.
// (m1, m2, m3) = (1, m, 0) is ArcFace without its fallback.
TargetLogit combined_target(double c, double m1, double m2, double m3) {
  // ---- exercise 10 begin: docs/exercises/10-arcface-margin.md ----
  //   df/dc = -m1 sin(m1 theta + m2) dtheta/dc = m1 sin(m1 theta + m2) / sin(theta)
  // At sin(theta) = 0 exactly, the smooth part's limit (cos(theta) = +-1; = cos m for m1 = 1, m2 = m):
  //   df/dc = m1^2 cos(m1 theta + m2) / cos(theta)
  const Angle a = angle_of(c);
  const double phi = m1 * a.theta + m2;
  const double df = a.sin > 0.0 ? m1 * std::sin(phi) / a.sin : m1 * m1 * std::cos(phi) / a.c;
  return {std::cos(phi) - m3, df};
  // ---- exercise 10 end ----
}

// SphereFace (Liu et al. 2017): multiply the angle by an integer m. cos(m theta) alone is not
// monotone on [0, pi]; psi glues its decreasing pieces together, shifted down by 2 each:
//   psi(theta) = (-1)^k cos(m theta) - 2k   on  [k pi/m, (k+1) pi/m],  k = floor(m theta / pi)
// Continuous: at theta = (k+1) pi/m, piece k gives (-1)^k (-1)^(k+1) - 2k = -1 - 2k and
// piece k+1 gives (-1)^(k+1) (-1)^(k+1) - 2(k+1) = -1 - 2k. psi(0) = 1, psi(pi) = -(2m - 1).
double sphereface_psi(double theta, int m) {
  const SpherePiece p = sphere_piece(theta, m);
  return p.sign * std::cos(m * theta) - 2.0 * p.k;
}

// The annealed target logit, divided by ||x||:
//   F(c) = (lambda c + psi(theta)) / (1 + lambda)
//   dF/dc = (lambda + dpsi/dc) / (1 + lambda),
//   dpsi/dc = (-1)^k (-m sin(m theta)) dtheta/dc = (-1)^k m sin(m theta) / sin(theta)
//   (k is piecewise constant: no gradient). cos(m theta) is a polynomial in c (Chebyshev), so
//   dpsi/dc stays finite at c = +-1: there sin(m theta) / sin(theta) -> m cos(m theta) / cos(theta).
TargetLogit sphereface_target(double c, int m, double lambda) {
  const Angle a = angle_of(c);
  const SpherePiece p = sphere_piece(a.theta, m);
  const double psi = p.sign * std::cos(m * a.theta) - 2.0 * p.k;
  const double ratio = a.sin > 0.0 ? std::sin(m * a.theta) / a.sin : m * std::cos(m * a.theta) / a.c;
  const double dpsi_dc = p.sign * m * ratio;
  return {(lambda * a.c + psi) / (1.0 + lambda), (lambda + dpsi_dc) / (1.0 + lambda)};
}

// lambda(t) = max(lambda_min, base (1 + gamma t)^(-power))
double sphereface_lambda(std::int64_t t, double base, double gamma, double power, double lambda_min) {
  if (t < 0) fail("sphereface_lambda: iteration t must be >= 0, got ", t);
  return std::max(lambda_min, base * std::pow(1.0 + gamma * static_cast<double>(t), -power));
}

// ================================================================ input checks

namespace {

// Embeddings x (N x D) and class weights W (C x D): shapes, dtypes, finite values.
void check_embeddings_and_weights(const Tensor& x, const Tensor& W, const char* op) {
  check_embeddings(x, op);
  check_embeddings(W, op, "class weights W");
  if (W.shape()[1] != x.shape()[1])
    fail(op, ": class weights W ", shape_str(W.shape()), " do not match embeddings ", shape_str(x.shape()),
         " (expected C x ", x.shape()[1], ")");
  if (W.dtype() != x.dtype())
    fail(op, ": dtype mismatch: embeddings are ", dtype_name(x.dtype()), ", W is ", dtype_name(W.dtype()));
}

// ... and labels (N int64 in [0, C)).
void check_inputs(const Tensor& x, const Tensor& W, const Tensor& labels, const char* op) {
  check_embeddings_and_weights(x, W, op);
  check_class_labels(labels, x.shape()[0], W.shape()[0], op);
}

void check_scale(double s, const char* op) {
  if (!(s > 0.0 && std::isfinite(s))) fail(op, ": scale s must be > 0 (and finite), got ", s);
}

void check_cosface(double s, double m, const char* op) {
  check_scale(s, op);
  if (!(m >= 0.0 && m < 1.0))
    fail(op, ": margin m must be in [0, 1) (a margin on the cosine, which lies in [-1, 1]), got ", m);
}

void check_arcface(double s, double m, const char* op) {
  check_scale(s, op);
  if (!(m >= 0.0 && m < kPi / 2))
    fail(op, ": margin m must be in [0, pi/2) radians (ArcFace's m is an angle; 0.5 rad = 28.6 degrees), got ", m);
}

void check_combined(double s, double m1, double m2, double m3, const char* op) {
  check_scale(s, op);
  if (!(m1 > 0.0 && m1 <= 10.0)) fail(op, ": m1 (multiplies the angle) must be in (0, 10], got ", m1);
  if (!(m2 >= 0.0 && m2 < kPi / 2)) fail(op, ": m2 (added to the angle) must be in [0, pi/2), got ", m2);
  if (!(m3 >= 0.0 && m3 < 1.0)) fail(op, ": m3 (subtracted from the cosine) must be in [0, 1), got ", m3);
}

void check_sphereface(int m, double lambda, const char* op) {
  if (m < 1 || m > 6) fail(op, ": the margin m must be an integer in [1, 6], got ", m);
  if (!(lambda >= 0.0 && std::isfinite(lambda))) fail(op, ": lambda must be >= 0, got ", lambda);
}

// ================================================================ 2. the fused op

// The two normalisations are normalize's own kernels (ops/distances.h, kernels::normalize_rows
// and its VJP normalize_rows_backward): u_r = v_r / max(||v_r||, eps), and
//   dv_r = (du_r - u_r (u_r . du_r)) / ||v_r||     (||v_r|| >= eps: the projection onto the tangent plane)
//   dv_r = du_r / eps                              (||v_r|| <  eps, PyTorch's F.normalize)

using TargetFn = TargetLogit (*)(double c, const double* params);

// What the fused op's VJP reads: the labels, the scale, the op's own normalised copies of x and W
// with the norms, the cosines, the target logits f(c_i) and f'(c_i), and the softmax probabilities.
struct MarginSoftmaxSaved {
  Tensor labels;
  double s;
  bool scale_by_norm;
  Tensor xh, Wh, cos_nc;
  std::vector<double> x_norm, W_norm, f, df, probs;
};
// The fused op's VJP, right below it.
void margin_softmax_backward(const MarginSoftmaxSaved& sv, const Tensor& g, Grads& grads);

// The fused margin-softmax cross-entropy. `target(c, params)` is one of the functions of part 1;
// scale_by_norm selects SphereFace's logits (a_i = ||x_i|| instead of s).
//
// Forward, x (N x D), W (C x D), labels y:
//   xh_i = x_i / max(||x_i||, eps),  Wh_j = W_j / max(||W_j||, eps)
//   cos  = xh Wh^T                                           one GEMM, N x C (cos_nc below)
//   a_i  = s  (SphereFace: ||x_i||)
//   z_ij = a_i cos_ij (j != y_i),   z_iy = a_i f(c_i),  c_i = cos_{i,y_i}
//   L    = (1/N) sum_i [ logsumexp_j z_ij - z_{i,y_i} ]
//
// VJP, g = dL upstream (a scalar). Chain rule, one layer at a time:
//   dz_ij   = (g/N) (p_ij - [j = y_i])                      p = softmax(z), cross-entropy's gradient
//   dcos_ij = a_i dz_ij          (j != y_i)                  z_ij = a_i cos_ij
//   dcos_iy = a_i dz_iy f'(c_i)                              z_iy = a_i f(c_i): the margin's only trace
//   da_i    = sum_{j != y_i} dz_ij cos_ij + dz_iy f(c_i)     (SphereFace only: a_i = ||x_i||)
//   dxh     = dcos Wh            (N x C)(C x D)              one GEMM
//   dWh     = dcos^T xh          (C x N)(N x D)              one GEMM
//   dx_i    = normalize-VJP(dxh_i)  [+ da_i x_i / ||x_i||  for SphereFace, 0 at x_i = 0]
//   dW_j    = normalize-VJP(dWh_j)
// Nothing N x C x D is ever formed: the per-pair work is all inside the three GEMMs.
Tensor margin_softmax_fused(const char* op, const Tensor& x, const Tensor& W, const Tensor& labels, double s,
                            bool scale_by_norm, TargetFn target, std::vector<double> params) {
  const std::int64_t N = x.shape()[0], D = x.shape()[1], C = W.shape()[0];
  const DType dt = x.dtype();
  Tensor xh = Tensor::empty({N, D}, dt), Wh = Tensor::empty({C, D}, dt);
  Tensor cos_nc = Tensor::empty({N, C}, dt), z = Tensor::empty({N, C}, dt);
  std::vector<double> x_norm(N), W_norm(C), f(N), df(N), probs(N * C);
  const std::int64_t* y = labels.data<std::int64_t>();
  double total = 0;
  dispatch_float(dt, op, [&](auto tag) {
    using T = decltype(tag);
    kernels::normalize_rows(x.data<T>(), N, D, kNormEps, xh.data<T>(), x_norm.data());
    kernels::normalize_rows(W.data<T>(), C, D, kNormEps, Wh.data<T>(), W_norm.data());
    // cos (N x C) = xh (N x D) Wh^T (D x C)
    gemm<T>(false, true, N, C, D, T(1), xh.data<T>(), D, Wh.data<T>(), D, T(0), cos_nc.data<T>(), C);
    const T* pc = cos_nc.data<T>();
    T* pz = z.data<T>();
    for (std::int64_t i = 0; i < N; ++i) {
      const double a = scale_by_norm ? x_norm[i] : s;
      for (std::int64_t j = 0; j < C; ++j) pz[i * C + j] = static_cast<T>(a * pc[i * C + j]);  // a cos_ij
      const TargetLogit t = target(pc[i * C + y[i]], params.data());
      f[i] = t.value;
      df[i] = t.dvalue_dcos;
      pz[i * C + y[i]] = static_cast<T>(a * t.value);                                           // a f(c_i)
      total += cross_entropy_rows::row_loss(pz + i * C, C, y[i], 0.0, probs.data() + i * C);
    }
  });
  Tensor loss = full({}, total / N, dt);

  MarginSoftmaxSaved saved{labels, s, scale_by_norm, xh, Wh, cos_nc, std::move(x_norm), std::move(W_norm),
                           std::move(f), std::move(df), std::move(probs)};
  record(loss, op, {x, W}, Saved{.other = {labels}},  // the VJP reads its own normalised copies
         [saved = std::move(saved)](const Tensor& g, Grads& grads) { margin_softmax_backward(saved, g, grads); });
  return loss;
}

// margin_softmax_fused's VJP (the chain rule above it), g = dL upstream (a scalar): adds dL/dx
// and dL/dW for the inputs that want them.
void margin_softmax_backward(const MarginSoftmaxSaved& sv, const Tensor& g, Grads& grads) {
  const Tensor &labels = sv.labels, &xh = sv.xh, &Wh = sv.Wh, &cos_nc = sv.cos_nc;
  const double s = sv.s;
  const bool scale_by_norm = sv.scale_by_norm;
  const std::vector<double> &x_norm = sv.x_norm, &W_norm = sv.W_norm, &f = sv.f, &df = sv.df, &probs = sv.probs;
  const std::int64_t N = xh.shape()[0], D = xh.shape()[1], C = Wh.shape()[0];
  const std::int64_t* y = labels.data<std::int64_t>();
  Tensor dcos = Tensor::empty({N, C}, xh.dtype());
  std::vector<double> da(scale_by_norm ? N : 0);
  dispatch_float(xh.dtype(), "margin_softmax backward", [&](auto tag) {
    using T = decltype(tag);
    const double gN = static_cast<double>(g.data<T>()[0]) / N;
    const T* pc = cos_nc.data<T>();
    T* pd = dcos.data<T>();
    for (std::int64_t i = 0; i < N; ++i) {
      T* row = pd + i * C;
      cross_entropy_rows::row_grad(probs.data() + i * C, C, y[i], 0.0, gN, row);  // dz_ij = (g/N)(p_ij - [j = y_i])
      if (scale_by_norm) {                                             // da_i
        double acc = 0;
        for (std::int64_t j = 0; j < C; ++j) acc += row[j] * (j == y[i] ? f[i] : pc[i * C + j]);
        da[i] = acc;
      }
      const double a = scale_by_norm ? x_norm[i] : s;
      const T dz_target = row[y[i]];
      for (std::int64_t j = 0; j < C; ++j) row[j] = static_cast<T>(a * row[j]);  // dcos_ij = a dz_ij
      row[y[i]] = static_cast<T>(a * dz_target * df[i]);                        // dcos_iy = a dz_iy f'(c_i)
    }
    if (grads.wants(0)) {
      Tensor dx = Tensor::empty({N, D}, xh.dtype());
      // dxh (N x D) = dcos (N x C) Wh (C x D)
      gemm<T>(false, false, N, D, C, T(1), pd, C, Wh.data<T>(), D, T(0), dx.data<T>(), D);
      kernels::normalize_rows_backward(xh.data<T>(), x_norm.data(), N, D, kNormEps, dx.data<T>(), dx.data<T>());
      if (scale_by_norm) {
        // d||x_i|| / dx_i = x_i / ||x_i|| = xh_i max(||x_i||, eps) / ||x_i||   (0 at x_i = 0)
        T* p = dx.data<T>();
        const T* u = xh.data<T>();
        for (std::int64_t i = 0; i < N; ++i) {
          if (x_norm[i] == 0) continue;
          const double w = da[i] * std::max(x_norm[i], kNormEps) / x_norm[i];
          for (std::int64_t k = 0; k < D; ++k) p[i * D + k] += static_cast<T>(w * u[i * D + k]);
        }
      }
      grads.add(0, dx);
    }
    if (grads.wants(1)) {
      Tensor dW = Tensor::empty({C, D}, xh.dtype());
      // dWh (C x D) = dcos^T (C x N) xh (N x D)
      gemm<T>(true, false, C, D, N, T(1), pd, C, xh.data<T>(), D, T(0), dW.data<T>(), D);
      kernels::normalize_rows_backward(Wh.data<T>(), W_norm.data(), C, D, kNormEps, dW.data<T>(), dW.data<T>());
      grads.add(1, dW);
    }
  });
}

// The target functions of part 1 in the one signature the fused op takes (params = margins).
TargetLogit normface_fn(double c, const double*) { return {c, 1.0}; }
TargetLogit cosface_fn(double c, const double* p) { return cosface_target(c, p[0]); }
TargetLogit arcface_fn(double c, const double* p) { return arcface_target(c, p[0], false); }
TargetLogit arcface_easy_fn(double c, const double* p) { return arcface_target(c, p[0], true); }
TargetLogit combined_fn(double c, const double* p) { return combined_target(c, p[0], p[1], p[2]); }
TargetLogit sphereface_fn(double c, const double* p) { return sphereface_target(c, static_cast<int>(p[0]), p[1]); }

}  // namespace

Tensor normface_loss(const Tensor& x, const Tensor& W, const Tensor& labels, double s) {
  check_inputs(x, W, labels, "normface_loss");
  check_scale(s, "normface_loss");
  return margin_softmax_fused("normface_loss", x, W, labels, s, false, normface_fn, {});
}

Tensor cosface_loss(const Tensor& x, const Tensor& W, const Tensor& labels, double s, double m) {
  check_inputs(x, W, labels, "cosface_loss");
  check_cosface(s, m, "cosface_loss");
  return margin_softmax_fused("cosface_loss", x, W, labels, s, false, cosface_fn, {m});
}

Tensor arcface_loss(const Tensor& x, const Tensor& W, const Tensor& labels, double s, double m, bool easy_margin) {
  check_inputs(x, W, labels, "arcface_loss");
  check_arcface(s, m, "arcface_loss");
  return margin_softmax_fused("arcface_loss", x, W, labels, s, false, easy_margin ? arcface_easy_fn : arcface_fn,
                              {m});
}

Tensor combined_margin_loss(const Tensor& x, const Tensor& W, const Tensor& labels, double s, double m1, double m2,
                            double m3) {
  check_inputs(x, W, labels, "combined_margin_loss");
  check_combined(s, m1, m2, m3, "combined_margin_loss");
  return margin_softmax_fused("combined_margin_loss", x, W, labels, s, false, combined_fn, {m1, m2, m3});
}

Tensor sphereface_loss(const Tensor& x, const Tensor& W, const Tensor& labels, int m, double lambda) {
  check_inputs(x, W, labels, "sphereface_loss");
  check_sphereface(m, lambda, "sphereface_loss");
  return margin_softmax_fused("sphereface_loss", x, W, labels, 1.0, true, sphereface_fn,
                              {static_cast<double>(m), lambda});
}

// ================================================================ 3. the composed twins

namespace {

// cos_ij = normalize(x_i) . normalize(W_j)        N x C, from autograd ops
Tensor cosines(const Tensor& x, const Tensor& W) { return matmul(normalize(x, 1), normalize(W, 1), false, true); }

// theta = acos(c), exact up to c = +-1 like the fused op's angle_of: c is clamped to [-1, 1]
// (round-off), and where |c| = 1 exactly theta is a constant (0 or pi) with no gradient
// (acos' derivative is -inf there). acos is evaluated at 0 on those rows so that its unused
// gradient is finite (not inf * 0). At |c| = 1 the fused op keeps the smooth part of df/dc,
// this twin 0: both multiply a tangent projection that is 0 there.
Tensor angle(const Tensor& c) {
  const Tensor cc = clamp(c, -1.0, 1.0);
  const Tensor inside = lt(abs(cc.detach()), 1.0);
  const Tensor safe = where(inside, cc, zeros({}, c.dtype()));
  return where(inside, acos(safe), acos(cc.detach()));
}

// Put the target logits f (N) into the cosine matrix and cross-entropy it:
//   z_ij = a_i (j == y_i ? f_i : cos_ij),   L = cross_entropy_composed(z, y)
// `mask` = one_hot(y); where() selects, so the gradient of cos_iy goes only through f_i.
Tensor margin_cross_entropy(const Tensor& cos, const Tensor& mask, const Tensor& f, const Tensor& a,
                            const Tensor& labels) {
  const std::int64_t N = cos.shape()[0];
  return cross_entropy_composed(a * where(mask, f.reshape({N, 1}), cos), labels);
}

struct Composed {
  Tensor cos;   // N x C
  Tensor mask;  // N x C one-hot of the labels (a constant)
  Tensor c;     // N: cos theta_{i, y_i}
};
Composed composed_cosines(const Tensor& x, const Tensor& W, const Tensor& labels) {
  Composed r;
  r.cos = cosines(x, W);
  r.mask = one_hot(labels, W.shape()[0], x.dtype());
  r.c = sum(r.cos * r.mask, 1);  // picks cos_{i, y_i}: adding zeros is exact
  return r;
}

}  // namespace

Tensor normface_loss_composed(const Tensor& x, const Tensor& W, const Tensor& labels, double s) {
  check_inputs(x, W, labels, "normface_loss_composed");
  check_scale(s, "normface_loss_composed");
  const Composed k = composed_cosines(x, W, labels);
  return margin_cross_entropy(k.cos, k.mask, k.c, scalar(s, x.dtype()), labels);  // f = c
}

Tensor cosface_loss_composed(const Tensor& x, const Tensor& W, const Tensor& labels, double s, double m) {
  check_inputs(x, W, labels, "cosface_loss_composed");
  check_cosface(s, m, "cosface_loss_composed");
  const Composed k = composed_cosines(x, W, labels);
  return margin_cross_entropy(k.cos, k.mask, k.c - m, scalar(s, x.dtype()), labels);  // f = c - m
}

Tensor arcface_loss_composed(const Tensor& x, const Tensor& W, const Tensor& labels, double s, double m,
                             bool easy_margin) {
  check_inputs(x, W, labels, "arcface_loss_composed");
  check_arcface(s, m, "arcface_loss_composed");
  const Composed k = composed_cosines(x, W, labels);
  // cos(theta + m) = c cos m - sin(theta) sin m,  sin(theta) = sqrt((1 - c)(1 + c))
  // (InsightFace's form, as the fused op.) At c = +-1, sqrt's derivative is infinite; like the
  // fused op we take the cone's subgradient 0 there: sin(theta) = where(s2 > 0, sqrt(s2), 0),
  // with sqrt evaluated at 1 where s2 <= 0 so that its unused gradient is finite, not inf * 0.
  const Tensor s2 = (1.0 - k.c) * (1.0 + k.c);
  const Tensor positive = gt(s2, 0.0);
  const Tensor zero = zeros({}, x.dtype());
  const Tensor sin_theta = where(positive, sqrt(where(positive, s2, zero + 1.0)), zero);
  const Tensor with_margin = k.c * std::cos(m) - sin_theta * std::sin(m);
  const Tensor f = easy_margin ? where(gt(k.c, 0.0), with_margin, k.c)
                               : where(gt(k.c, std::cos(kPi - m)), with_margin, k.c - m * std::sin(m));
  return margin_cross_entropy(k.cos, k.mask, f, scalar(s, x.dtype()), labels);
}

Tensor combined_margin_loss_composed(const Tensor& x, const Tensor& W, const Tensor& labels, double s, double m1,
                                     double m2, double m3) {
  check_inputs(x, W, labels, "combined_margin_loss_composed");
  check_combined(s, m1, m2, m3, "combined_margin_loss_composed");
  const Composed k = composed_cosines(x, W, labels);
  const Tensor f = cos(angle(k.c) * m1 + m2) - m3;  // cos(m1 theta + m2) - m3
  return margin_cross_entropy(k.cos, k.mask, f, scalar(s, x.dtype()), labels);
}

Tensor sphereface_loss_composed(const Tensor& x, const Tensor& W, const Tensor& labels, int m, double lambda) {
  check_inputs(x, W, labels, "sphereface_loss_composed");
  check_sphereface(m, lambda, "sphereface_loss_composed");
  const std::int64_t N = x.shape()[0];
  const Composed k = composed_cosines(x, W, labels);
  const Tensor theta = angle(k.c);
  // k_i = floor(m theta_i / pi) and (-1)^k_i: piecewise constant, computed on detached
  // values (no gradient), then psi = (-1)^k cos(m theta) - 2k.
  std::vector<double> piece(N), sign(N);
  const Tensor th = theta.detach().to(DType::Float64);
  for (std::int64_t i = 0; i < N; ++i) {
    const SpherePiece p = sphere_piece(th.data<double>()[i], m);
    piece[i] = p.k;
    sign[i] = p.sign;
  }
  const Tensor kt = from_vector(piece, {N}).to(x.dtype()), st = from_vector(sign, {N}).to(x.dtype());
  const Tensor psi = st * cos(theta * static_cast<double>(m)) - kt * 2.0;
  const Tensor F = (k.c * lambda + psi) / (1.0 + lambda);
  const Tensor r = l2_norm(x, 1, true);  // ||x_i||, N x 1: x is not normalised in SphereFace
  return margin_cross_entropy(k.cos, k.mask, F, r, labels);
}

// ---- logits without a margin (autograd ops: differentiable, also used by logits())

Tensor cosine_logits(const Tensor& x, const Tensor& W, double s) {
  check_embeddings_and_weights(x, W, "cosine_logits");
  check_scale(s, "cosine_logits");
  return cosines(x, W) * s;
}

Tensor sphereface_logits(const Tensor& x, const Tensor& W) {
  check_embeddings_and_weights(x, W, "sphereface_logits");
  return cosines(x, W) * l2_norm(x, 1, true);
}

// ================================================================ 4. the Loss classes

MarginSoftmaxLoss::MarginSoftmaxLoss(const LossOptions& o, const char* loss, double scale, bool scale_by_norm)
    : scale_by_norm_(scale_by_norm) {
  const std::int64_t C = o.num_classes, D = o.emb_dim;
  if (C < 2) fail(loss, " loss: need at least 2 classes, got num_classes = ", C);
  if (D < 1) fail(loss, " loss: needs an embedding dimension emb_dim >= 1 (W is C x D), got ", D);
  if (!scale_by_norm) {
    s_ = scale;
    check_scale(s_, loss);
  }
  // W ~ N(0, 1), C x D, from its own seeded generator (the scale does not matter: normalised).
  Generator gen(o.seed);
  std::vector<float> w(static_cast<std::size_t>(checked_mul(C, D, loss, "the weight W, num_classes x emb_dim =")));
  for (float& v : w) v = static_cast<float>(gen.normal());
  W_ = register_parameter("W", from_vector(w, {C, D}));
}

Tensor MarginSoftmaxLoss::W_as(const Tensor& e) const { return e.dtype() == W_.dtype() ? W_ : W_.to(e.dtype()); }

// s cos_ij (SphereFace: ||x_i|| cos_ij), no margin: argmax = the nearest class in angle.
Tensor MarginSoftmaxLoss::logits(const Tensor& embeddings) {
  NoGradGuard no_grad;
  const Tensor e = embeddings.detach();
  if (e.dim() != 2 || e.shape()[1] != W_.shape()[1])
    fail(name(), ": logits: embeddings ", shape_str(e.shape()), " do not match W ", shape_str(W_.shape()));
  return scale_by_norm_ ? sphereface_logits(e, W_as(e)) : cosine_logits(e, W_as(e), s_);
}

// ---- NormFace
NormFaceLoss::NormFaceLoss(const LossOptions& o) : NormFaceLoss(o, normface_options().read(o)) {}
NormFaceLoss::NormFaceLoss(const LossOptions& o, const NormFaceOptions& read)
    : MarginSoftmaxLoss(o, "normface", read.scale, false) {}
Tensor NormFaceLoss::forward(const Tensor& e, const Tensor& y) { return normface_loss(e, W_as(e), y, s_); }
std::string NormFaceLoss::name() const { return str_cat("NormFaceLoss(s = ", s_, ")"); }

// ---- CosFace
CosFaceLoss::CosFaceLoss(const LossOptions& o) : CosFaceLoss(o, cosface_options().read(o)) {}
CosFaceLoss::CosFaceLoss(const LossOptions& o, const CosFaceOptions& read)
    : MarginSoftmaxLoss(o, "cosface", read.scale, false), m_(read.margin) {
  check_cosface(s_, m_, "cosface loss");
}
Tensor CosFaceLoss::forward(const Tensor& e, const Tensor& y) { return cosface_loss(e, W_as(e), y, s_, m_); }
std::string CosFaceLoss::name() const { return str_cat("CosFaceLoss(s = ", s_, ", m = ", m_, ")"); }

// ---- ArcFace
ArcFaceLoss::ArcFaceLoss(const LossOptions& o) : ArcFaceLoss(o, arcface_options().read(o)) {}
ArcFaceLoss::ArcFaceLoss(const LossOptions& o, const ArcFaceOptions& read)
    : MarginSoftmaxLoss(o, "arcface", read.scale, false), m_(read.margin), easy_margin_(read.easy_margin) {
  check_arcface(s_, m_, "arcface loss");
}
Tensor ArcFaceLoss::forward(const Tensor& e, const Tensor& y) {
  return arcface_loss(e, W_as(e), y, s_, m_, easy_margin_);
}
std::string ArcFaceLoss::name() const {
  return str_cat("ArcFaceLoss(s = ", s_, ", m = ", m_, " rad", easy_margin_ ? ", easy margin" : "", ")");
}

// ---- combined
CombinedMarginLoss::CombinedMarginLoss(const LossOptions& o) : CombinedMarginLoss(o, combined_options().read(o)) {}
CombinedMarginLoss::CombinedMarginLoss(const LossOptions& o, const CombinedMarginOptions& read)
    : MarginSoftmaxLoss(o, "combined", read.scale, false), options_(read) {
  check_combined(s_, options_.m1, options_.m2, options_.m3, "combined loss");
}
Tensor CombinedMarginLoss::forward(const Tensor& e, const Tensor& y) {
  return combined_margin_loss(e, W_as(e), y, s_, options_.m1, options_.m2, options_.m3);
}
std::string CombinedMarginLoss::name() const {
  return str_cat("CombinedMarginLoss(s = ", s_, ", m1 = ", options_.m1, ", m2 = ", options_.m2, ", m3 = ",
                 options_.m3, ")");
}

// ---- SphereFace
SphereFaceLoss::SphereFaceLoss(const LossOptions& o)
    : MarginSoftmaxLoss(o, "sphereface", 0.0, true), m_(sphereface_options().read(o).sphere_m),
      lambda_(sphereface_lambda(0)) {
  check_sphereface(m_, lambda_, "sphereface loss");
}
Tensor SphereFaceLoss::forward(const Tensor& e, const Tensor& y) {
  return sphereface_loss(e, W_as(e), y, m_, lambda_);
}
void SphereFaceLoss::set_iteration(std::int64_t t) { lambda_ = sphereface_lambda(t); }
std::string SphereFaceLoss::name() const { return str_cat("SphereFaceLoss(m = ", m_, ", lambda = ", lambda_, ")"); }

Tensor MarginSoftmaxLoss::metric_embedding(const Tensor& embeddings) { return normalize(embeddings, 1); }

// ================================================================ 5. the options and registry entries

// Each loss's table names its options struct's members (losses/margin_softmax.h) for chalk-train,
// config.json and the docs; the defaults are the structs' member initialisers.
namespace {

template <class Options>
Option<Options> scale_option() {
  return option("scale", &Options::scale, "s, the scale of every logit s cos(theta)").above(0);
}

}  // namespace

const OptionTable<NormFaceOptions>& normface_options() {
  static const OptionTable<NormFaceOptions> table("normface", {scale_option<NormFaceOptions>()});
  return table;
}

const OptionTable<CosFaceOptions>& cosface_options() {
  static const OptionTable<CosFaceOptions> table(
      "cosface", {scale_option<CosFaceOptions>(),
                  option("margin", &CosFaceOptions::margin, "m in [0, 1), subtracted from the target's cosine: s (cos(theta) - m)")
                      .at_least(0)});
  return table;
}

const OptionTable<ArcFaceOptions>& arcface_options() {
  static const OptionTable<ArcFaceOptions> table(
      "arcface",
      {scale_option<ArcFaceOptions>(),
       option("margin", &ArcFaceOptions::margin, "m in radians, in [0, pi/2), added to the target's angle: s cos(theta + m)")
           .at_least(0),
       option("easy_margin", &ArcFaceOptions::easy_margin,
              "the margin only where cos(theta) > 0, elsewhere the plain cosine (InsightFace's easy_margin)")});
  return table;
}

const OptionTable<CombinedMarginOptions>& combined_options() {
  static const OptionTable<CombinedMarginOptions> table(
      "combined", {scale_option<CombinedMarginOptions>(),
                   option("m1", &CombinedMarginOptions::m1, "m1 in (0, 10], multiplying the target's angle: s (cos(m1 theta + m2) - m3)"),
                   option("m2", &CombinedMarginOptions::m2, "m2 in radians, in [0, pi/2), added to the multiplied angle"),
                   option("m3", &CombinedMarginOptions::m3, "m3 in [0, 1), subtracted from the cosine")});
  return table;
}

const OptionTable<SphereFaceOptions>& sphereface_options() {
  static const OptionTable<SphereFaceOptions> table(
      "sphereface", {option("sphere_m", &SphereFaceOptions::sphere_m,
                            "the integer angular margin m of psi(theta) = (-1)^k cos(m theta) - 2k (lambda annealed "
                            "as sphereface_lambda says)")
                         .between(1, 6)});
  return table;
}

namespace {

// The margin-softmax losses multiply their logits by a scale s (16..64), which multiplies
// their gradients too: with SGD they want a smaller step (0.01) than the others (0.05).
// And one epoch of linear warm-up: these losses see only directions, so they pass the network
// a gradient divided by the embeddings' length (Loss::scale_invariant); large first steps
// lengthen the embeddings, and a run can then stall for good. The runs that stalled without it
// and trained with it: docs/losses.md, "ArcFace, CosFace, the combined margin and a warm-up".
TrainingDefaults scaled_logits() {
  TrainingDefaults d;
  d.sgd_lr = 0.01;
  d.warmup_epochs = 1;
  return d;
}

template <class L>
std::shared_ptr<Loss> make(const LossOptions& o) {
  return std::make_shared<L>(o);
}

}  // namespace

LossEntry normface_entry() {
  return {"normface", "normalised softmax: logits s cos(theta) (NormFace)", normface_options().specs(),
          scaled_logits(), make<NormFaceLoss>};
}

LossEntry sphereface_entry() {
  return {"sphereface", "A-Softmax: ||x|| psi(theta), integer angular margin m, annealed lambda",
          sphereface_options().specs(), scaled_logits(), make<SphereFaceLoss>};
}

LossEntry cosface_entry() {
  return {"cosface", "additive cosine margin: s (cos(theta) - m) for the target (CosFace / LMCL)",
          cosface_options().specs(), scaled_logits(), make<CosFaceLoss>};
}

LossEntry arcface_entry() {
  return {"arcface", "additive angular margin: s cos(theta + m) for the target (ArcFace)", arcface_options().specs(),
          scaled_logits(), make<ArcFaceLoss>};
}

LossEntry combined_entry() {
  return {"combined", "InsightFace combined margin: s (cos(m1 theta + m2) - m3)", combined_options().specs(),
          scaled_logits(), make<CombinedMarginLoss>};
}

}  // namespace chalk
