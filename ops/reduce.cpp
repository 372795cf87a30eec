// ops/reduce.cpp — reductions: forward, then the VJP right below.
//
// An axis reduction views x as [outer, n, inner] (n = the reduced axis) and
// produces [outer, inner]; keepdim puts a 1 where the axis was.
#include "ops/reduce.h"

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/parallel.h"
#include "ops/broadcast.h"
#include "ops/elementwise.h"
#include "ops/kernels.h"

namespace chalk {

namespace {

// Fixed chunking for whole-tensor sums: same result whatever the thread count.
constexpr std::int64_t kSumChunk = 16384;

template <class T>
double sum_all_kernel(const T* p, std::int64_t n) {
  const std::int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<double> partial(static_cast<std::size_t>(chunks), 0.0);
  parallel_for(chunks, 4, [&](std::int64_t cb, std::int64_t ce) {
    for (std::int64_t c = cb; c < ce; ++c) {
      double s = 0;
      const std::int64_t e = std::min(n, (c + 1) * kSumChunk);
      for (std::int64_t i = c * kSumChunk; i < e; ++i) s += p[i];
      partial[c] = s;
    }
  });
  double s = 0;
  for (double v : partial) s += v;
  return s;
}


// Max (sign = +1) or min (sign = -1) along the axis, with the index of the
// first extreme element (ties go to the lowest index).
template <class T>
void extreme_axis_kernel(const T* x, T* out, std::int64_t* idx, const AxisView& v, int sign) {
  parallel_for(v.outer * v.inner, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t j = b; j < e; ++j) {
      const std::int64_t o = j / v.inner, i = j % v.inner;
      const T* base = x + o * v.n * v.inner + i;
      std::int64_t best = 0;
      T bv = base[0];
      for (std::int64_t k = 1; k < v.n; ++k) {
        const T val = base[k * v.inner];
        if (sign > 0 ? val > bv : val < bv) bv = val, best = k;
        if (std::isnan(val) && !std::isnan(bv)) bv = val, best = k;  // NaN wins, like PyTorch
      }
      out[j] = bv;
      idx[j] = best;
    }
  });
}

Tensor extreme_all(const Tensor& x, int sign, const char* name) {
  if (x.numel() == 0) fail(name, ": empty tensor (shape ", shape_str(x.shape()), ") has no ", name);
  const Tensor flat = x.detach().reshape({1, x.numel()});
  AxisView v;  // the whole tensor as one lane: outer 1, n = numel, inner 1
  v.n = x.numel();
  Tensor y = Tensor::empty({}, x.dtype());
  Tensor index = Tensor::empty({}, DType::Int64);
  dispatch_float(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    extreme_axis_kernel<T>(flat.data<T>(), y.data<T>(), index.data<std::int64_t>(), v, sign);
  });
  // VJP: the gradient goes to the chosen element only: dx[argmax] = g
  record(y, name, {x}, Saved{}, [index, sx = x.shape(), dt = x.dtype()](const Tensor& g, Grads& dx) {
    Tensor d = zeros(sx, dt);
    dispatch_float(dt, "max backward", [&](auto tag) {
      using T = decltype(tag);
      d.data<T>()[index.data<std::int64_t>()[0]] = g.data<T>()[0];
    });
    dx.add(0, d);
  });
  return y;
}

Tensor extreme_axis(const Tensor& x, int axis, bool keepdim, int sign, const char* name) {
  const AxisView v = axis_view(x.shape(), axis, keepdim, name);
  if (v.n == 0) fail(name, ": cannot reduce an axis of size 0 (shape ", shape_str(x.shape()), ")");
  Tensor y = Tensor::empty(v.out_shape, x.dtype());
  Tensor index = Tensor::empty(v.out_shape, DType::Int64);
  dispatch_float(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    extreme_axis_kernel<T>(x.data<T>(), y.data<T>(), index.data<std::int64_t>(), v, sign);
  });
  // VJP: dx[o, index[o, i], i] = g[o, i], zero elsewhere
  record(y, name, {x}, Saved{}, [index, v, sx = x.shape(), dt = x.dtype()](const Tensor& g, Grads& dx) {
    Tensor d = zeros(sx, dt);
    dispatch_float(dt, "max backward", [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      const std::int64_t* pi = index.data<std::int64_t>();
      T* pd = d.data<T>();
      for (std::int64_t j = 0; j < v.outer * v.inner; ++j) {
        const std::int64_t o = j / v.inner, i = j % v.inner;
        pd[(o * v.n + pi[j]) * v.inner + i] = pg[j];
      }
    });
    dx.add(0, d);
  });
  return y;
}

Tensor arg_extreme(const Tensor& x, int axis, bool keepdim, int sign, const char* name) {
  NoGradGuard no_grad;
  const AxisView v = axis_view(x.shape(), axis, keepdim, name);
  if (v.n == 0) fail(name, ": cannot reduce an axis of size 0 (shape ", shape_str(x.shape()), ")");
  Tensor values = Tensor::empty(v.out_shape, x.dtype());
  Tensor index = Tensor::empty(v.out_shape, DType::Int64);
  dispatch_float(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    extreme_axis_kernel<T>(x.data<T>(), values.data<T>(), index.data<std::int64_t>(), v, sign);
  });
  return index;
}

}  // namespace

// y = sum_i x_i              dx = g (broadcast to x's shape)
Tensor sum(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    return full({}, sum_all_kernel<T>(x.data<T>(), x.numel()), x.dtype());
  });
  record(y, "sum", {x}, Saved{}, [sx = x.shape()](const Tensor& g, Grads& dx) { dx.add(0, broadcast_to(g, sx)); });
  return y;
}

// y[o, i] = sum_k x[o, k, i]  dx[o, k, i] = g[o, i]
Tensor sum(const Tensor& x, int axis, bool keepdim) {
  const AxisView v = axis_view(x.shape(), axis, keepdim, "sum");
  Tensor y = kernels::reduce(x, v, "sum", [](double s, auto u) { return s + u; }, [](double s) { return s; });
  record(y, "sum", {x}, Saved{}, [keep = v.keep_shape, sx = x.shape()](const Tensor& g, Grads& dx) {
    dx.add(0, broadcast_to(g.reshape(keep), sx));
  });
  return y;
}

// y = sum(x) / numel         dx = g / numel
Tensor mean(const Tensor& x) {
  if (x.numel() == 0) fail("mean: empty tensor (shape ", shape_str(x.shape()), ")");
  return mul(sum(x), 1.0 / static_cast<double>(x.numel()));
}

Tensor mean(const Tensor& x, int axis, bool keepdim) {
  const int a = axis_view(x.shape(), axis, keepdim, "mean").axis;
  if (x.shape()[a] == 0) fail("mean: axis ", axis, " of shape ", shape_str(x.shape()), " is empty");
  return mul(sum(x, a, keepdim), 1.0 / static_cast<double>(x.shape()[a]));
}

Tensor max(const Tensor& x) { return extreme_all(x, +1, "max"); }
Tensor min(const Tensor& x) { return extreme_all(x, -1, "min"); }
Tensor max(const Tensor& x, int axis, bool keepdim) { return extreme_axis(x, axis, keepdim, +1, "max"); }
Tensor min(const Tensor& x, int axis, bool keepdim) { return extreme_axis(x, axis, keepdim, -1, "min"); }
Tensor argmax(const Tensor& x, int axis, bool keepdim) { return arg_extreme(x, axis, keepdim, +1, "argmax"); }
Tensor argmin(const Tensor& x, int axis, bool keepdim) { return arg_extreme(x, axis, keepdim, -1, "argmin"); }

// y = m + log(sum_k exp(x_k - m)),  m = max_k x_k (a constant: it cancels in the gradient)
// dx_k = g softmax(x)_k = g exp(x_k - m) / sum_j exp(x_j - m)
// The VJP is formed in the shifted form, not as exp(x_k - y) from the rounded output: at large
// x the rounding of y = m + log(s) swallows log(s) (float64 [1e16, 1e16]: y = 1e16, and
// exp(x_k - y) = 1 for both, a gradient summing to 2; float64 [1e10, 1e10]: 0.9999995). The
// shifted softmax sums to 1 up to rounding at every size. (PyTorch 1.13 uses exp(x - y).)
Tensor logsumexp(const Tensor& x, int axis, bool keepdim) {
  const AxisView v = axis_view(x.shape(), axis, keepdim, "logsumexp");
  if (v.n == 0) fail("logsumexp: axis ", axis, " of shape ", shape_str(x.shape()), " is empty");
  Tensor y = Tensor::empty(v.out_shape, x.dtype());
  dispatch_float(x.dtype(), "logsumexp", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(v.outer * v.inner, std::max<std::int64_t>(1, kParallelGrain / v.n), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t j = b; j < e; ++j) {
        const std::int64_t o = j / v.inner, i = j % v.inner;
        const T* base = px + o * v.n * v.inner + i;
        // m = max_k x_k; a NaN anywhere makes the result NaN (PyTorch's too), also next to
        // a +inf, which would otherwise take the early exit below.
        T m = base[0];
        bool has_nan = false;
        for (std::int64_t k = 0; k < v.n; ++k) {
          const T u = base[k * v.inner];
          has_nan = has_nan || u != u;
          m = u > m ? u : m;
        }
        if (has_nan) {
          py[j] = std::numeric_limits<T>::quiet_NaN();
          continue;
        }
        if (std::isinf(m)) {  // all -inf (or a +inf): the answer is m itself
          py[j] = m;
          continue;
        }
        double s = 0;
        for (std::int64_t k = 0; k < v.n; ++k) s += std::exp(static_cast<double>(base[k * v.inner] - m));
        py[j] = static_cast<T>(m + std::log(s));
      }
    });
  });
  record(y, "logsumexp", {x}, Saved{.inputs = {0}, .output = true},
         [x = x.detach(), y_ = y.detach(), v](const Tensor& g, Grads& dx) {
    Tensor d = Tensor::empty(x.shape(), x.dtype());
    dispatch_float(x.dtype(), "logsumexp backward", [&](auto tag) {
      using T = decltype(tag);
      const T *px = x.data<T>(), *py = y_.data<T>(), *pg = g.data<T>();
      T* pd = d.data<T>();
      parallel_for(v.outer * v.inner, std::max<std::int64_t>(1, kParallelGrain / v.n), [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t j = b; j < e; ++j) {  // lane j = (o, i); g and y are indexed by it
          const std::int64_t off = (j / v.inner) * v.n * v.inner + j % v.inner;
          const T* xl = px + off;
          T* dl = pd + off;
          const double gj = pg[j];
          if (!std::isfinite(py[j])) {
            // y is nan or +-inf: the forward took no shifted sum. exp(x_k - y) gives PyTorch's
            // gradients there: nan wherever x_k - y is inf - inf or nan, 0 where it is -inf.
            for (std::int64_t k = 0; k < v.n; ++k)
              dl[k * v.inner] = static_cast<T>(gj * std::exp(static_cast<double>(xl[k * v.inner]) - py[j]));
            continue;
          }
          double m = xl[0];  // y finite: no nan and no +inf in the lane, m finite
          for (std::int64_t k = 1; k < v.n; ++k) m = std::max(m, static_cast<double>(xl[k * v.inner]));
          double s = 0;
          for (std::int64_t k = 0; k < v.n; ++k) s += std::exp(static_cast<double>(xl[k * v.inner]) - m);
          const double scale = gj / s;
          for (std::int64_t k = 0; k < v.n; ++k)
            dl[k * v.inner] = static_cast<T>(scale * std::exp(static_cast<double>(xl[k * v.inner]) - m));
        }
      });
    });
    dx.add(0, d);
  });
  return y;
}


}  // namespace chalk
