// ops/softmax.cpp — softmax and log_softmax along an axis: forward, then the VJP right below.
//
// The hot path of every softmax-family loss, so each has its own lane kernel and a
// hand-derived VJP (no chain of small ops). Their plain twins, the same formulas composed
// from element-wise ops and reductions, are in tests/test_ops_softmax.cpp and are checked
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

// y_k = exp(x_k - m) / sum_j exp(x_j - m),   m = max_j x_j
// (subtracting m changes nothing mathematically and keeps every exp <= 1:
// no overflow for logits of 1000, no 0/0 for logits of -1000.)
// VJP: dx_k = sum_j g_j dy_j/dx_k = sum_j g_j y_j (delta_jk - y_k) = y_k (g_k - sum_j g_j y_j)
Tensor softmax(const Tensor& x, int axis) {
  const AxisView l = axis_view(x.shape(), axis, false, "softmax");
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch_float(x.dtype(), "softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const std::int64_t n = l.n, st = l.inner;
    if (n == 0) return;
    kernels::for_each_lane(l, [&](std::int64_t, std::int64_t base) {
      const T* xl = px + base;
      T* yl = py + base;
      T m = xl[0];
      for (std::int64_t k = 1; k < n; ++k) m = std::max(m, xl[k * st]);
      double s = 0;
      for (std::int64_t k = 0; k < n; ++k) {
        const T e = std::exp(xl[k * st] - m);
        yl[k * st] = e;
        s += e;
      }
      const T inv = static_cast<T>(1.0 / s);
      for (std::int64_t k = 0; k < n; ++k) yl[k * st] *= inv;
    });
  });
  record(y, "softmax", {x}, [y_ = y.detach(), l](const Tensor& g, Grads& dx) {
    Tensor d = Tensor::empty(g.shape(), g.dtype());
    dispatch_float(g.dtype(), "softmax backward", [&](auto tag) {
      using T = decltype(tag);
      const T *pg = g.data<T>(), *py = y_.data<T>();
      T* pd = d.data<T>();
      const std::int64_t n = l.n, st = l.inner;
      kernels::for_each_lane(l, [&](std::int64_t, std::int64_t base) {
        double gy = 0;  // sum_j g_j y_j
        for (std::int64_t k = 0; k < n; ++k) gy += static_cast<double>(pg[base + k * st]) * py[base + k * st];
        for (std::int64_t k = 0; k < n; ++k) {
          const std::int64_t e = base + k * st;
          pd[e] = py[e] * (pg[e] - static_cast<T>(gy));
        }
      });
    });
    dx.add(0, d);
  });
  return y;
}

// y_k = x_k - m - log(sum_j exp(x_j - m)),   m = max_j x_j   (= x_k - logsumexp(x))
// VJP: dy_j/dx_k = delta_jk - softmax(x)_k, so dx_k = g_k - exp(y_k) sum_j g_j
Tensor log_softmax(const Tensor& x, int axis) {
  const AxisView l = axis_view(x.shape(), axis, false, "log_softmax");
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch_float(x.dtype(), "log_softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const std::int64_t n = l.n, st = l.inner;
    if (n == 0) return;
    kernels::for_each_lane(l, [&](std::int64_t, std::int64_t base) {
      const T* xl = px + base;
      T* yl = py + base;
      T m = xl[0];
      for (std::int64_t k = 1; k < n; ++k) m = std::max(m, xl[k * st]);
      double s = 0;
      for (std::int64_t k = 0; k < n; ++k) s += std::exp(xl[k * st] - m);
      const T lse = m + static_cast<T>(std::log(s));
      for (std::int64_t k = 0; k < n; ++k) yl[k * st] = xl[k * st] - lse;
    });
  });
  record(y, "log_softmax", {x}, [y_ = y.detach(), l](const Tensor& g, Grads& dx) {
    Tensor d = Tensor::empty(g.shape(), g.dtype());
    dispatch_float(g.dtype(), "log_softmax backward", [&](auto tag) {
      using T = decltype(tag);
      const T *pg = g.data<T>(), *py = y_.data<T>();
      T* pd = d.data<T>();
      const std::int64_t n = l.n, st = l.inner;
      kernels::for_each_lane(l, [&](std::int64_t, std::int64_t base) {
        double gs = 0;  // sum_j g_j
        for (std::int64_t k = 0; k < n; ++k) gs += pg[base + k * st];
        for (std::int64_t k = 0; k < n; ++k) {
          const std::int64_t e = base + k * st;
          pd[e] = pg[e] - std::exp(py[e]) * static_cast<T>(gs);
        }
      });
    });
    dx.add(0, d);
  });
  return y;
}

}  // namespace chalk
