// ops/softmax.cpp — softmax and log_softmax along an axis: forward, then the VJP right below.
//
// The hot path of every softmax-family loss, so both share one lane kernel (softmax_lane,
// its VJP beside it) and a hand-derived VJP (no chain of small ops). Their plain twins, the same formulas composed
// from element-wise ops and reductions, are in tests/test_ops_nn.cpp and are checked
// against these.
//
// x is seen along `axis` as [outer, n, inner] (core/shape.h AxisView): one "lane" (o, i) is the
// vector x[o, :, i] the op normalises, its k-th element at base + k * inner.
#include "ops/softmax.h"

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "ops/kernels.h"
#include "ops/linalg.h"

namespace chalk {

// ---------------------------------------------------------------- softmax, log_softmax

namespace {

// The one lane kernel of both ops. With m = max_k x_k and s = sum_k exp(x_k - m):
//   softmax:      y_k = exp(x_k - m) / s
//   log_softmax:  y_k = (x_k - m) - log s           (= x_k - logsumexp(x))
// (subtracting m changes nothing mathematically and keeps every exp <= 1: no overflow for
// logits of 1000, no 0/0 for logits of -1000.) log_softmax subtracts m first and log s after,
// never x_k - (m + log s): m + log s is rounded at m's magnitude, which swallows log s when m
// is large (float32 [64, 64]: -0.693145752 instead of -log 2 = -0.693147181; [1e8, 1e8]: 0).
// x_k - m is exact for the logits near the maximum (Sterbenz), the ones that carry the mass.
// Log is a template flag, so each op's loop is exactly its own: softmax keeps exp(x_k - m)
// from the sum pass, log_softmax stores nothing there.
template <bool Log, class T>
void softmax_lane(const T* xl, T* yl, std::int64_t n, std::int64_t st) {
  T m = xl[0];
  for (std::int64_t k = 1; k < n; ++k) m = std::max(m, xl[k * st]);
  double s = 0;
  for (std::int64_t k = 0; k < n; ++k) {
    const T e = std::exp(xl[k * st] - m);
    if constexpr (!Log) yl[k * st] = e;
    s += e;
  }
  if constexpr (Log) {
    const T log_s = static_cast<T>(std::log(s));
    for (std::int64_t k = 0; k < n; ++k) yl[k * st] = (xl[k * st] - m) - log_s;
  } else {
    const T inv = static_cast<T>(1.0 / s);
    for (std::int64_t k = 0; k < n; ++k) yl[k * st] *= inv;
  }
}

// The one lane VJP of both, from y (the forward's output) and g:
//   softmax:      dx_k = sum_j g_j dy_j/dx_k = sum_j g_j y_j (delta_jk - y_k) = y_k (g_k - sum_j g_j y_j)
//   log_softmax:  dy_j/dx_k = delta_jk - softmax(x)_k,  so  dx_k = g_k - exp(y_k) sum_j g_j
// exp(y_k) is the softmax in the shifted form, exp((x_k - m) - log s) = exp(x_k - m) / s, as
// accurate as y_k is: y is formed shifted (above), so no rounded m + log s enters here.
template <bool Log, class T>
void softmax_lane_backward(const T* gl, const T* yl, T* dl, std::int64_t n, std::int64_t st) {
  double c = 0;  // softmax: sum_j g_j y_j;  log_softmax: sum_j g_j
  for (std::int64_t k = 0; k < n; ++k) c += Log ? static_cast<double>(gl[k * st]) : static_cast<double>(gl[k * st]) * yl[k * st];
  const T ct = static_cast<T>(c);
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t e = k * st;
    if constexpr (Log)
      dl[e] = gl[e] - std::exp(yl[e]) * ct;
    else
      dl[e] = yl[e] * (gl[e] - ct);
  }
}

// softmax (Log = false) or log_softmax (Log = true) of x along axis, with its VJP.
template <bool Log>
Tensor softmax_op(const Tensor& x, int axis, const char* op) {
  const AxisView l = axis_view(x.shape(), axis, false, op);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    if (l.n == 0) return;
    kernels::for_each_lane(l, [&](std::int64_t, std::int64_t base) {
      softmax_lane<Log, T>(px + base, py + base, l.n, l.inner);
    });
  });
  record(y, op, {x}, [y_ = y.detach(), l, op](const Tensor& g, Grads& dx) {
    Tensor d = Tensor::empty(g.shape(), g.dtype());
    dispatch_float(g.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      const T *pg = g.data<T>(), *py = y_.data<T>();
      T* pd = d.data<T>();
      kernels::for_each_lane(l, [&](std::int64_t, std::int64_t base) {
        softmax_lane_backward<Log, T>(pg + base, py + base, pd + base, l.n, l.inner);
      });
    });
    dx.add(0, d);
  });
  return y;
}

}  // namespace

// y_k = exp(x_k - m) / sum_j exp(x_j - m),   m = max_j x_j
// VJP: dx_k = y_k (g_k - sum_j g_j y_j)
Tensor softmax(const Tensor& x, int axis) { return softmax_op<false>(x, axis, "softmax"); }

// y_k = (x_k - m) - log(sum_j exp(x_j - m)),   m = max_j x_j   (= x_k - logsumexp(x))
// VJP: dx_k = g_k - exp(y_k) sum_j g_j
Tensor log_softmax(const Tensor& x, int axis) { return softmax_op<true>(x, axis, "log_softmax"); }

}  // namespace chalk
