// ops/kernels.h — the loops behind element-wise ops and reductions (internal to ops/).
//
// The three higher-order kernels every element-wise op and axis reduction is written with
// (minitorch's tensor_ops map/zip/reduce). Each takes the op's formula as a generic lambda and
// dispatches the dtype itself (float32, float64), so an op body is written once:
//   map(x, "exp", [](auto u) { return std::exp(u); })                       y[i] = f(x[i])
//   zip(a, b, "mul", [](auto u, auto v) { return u * v; })                   y[i] = f(a[i'], b[i''])  (broadcasting)
//   reduce(x, v, "sum", [](double s, auto u) { return s + u; }, finish)     y[o, i] = finish(fold over k of x[o, k, i])
// The lambda is instantiated once per dtype and inlined into a plain contiguous loop: no
// virtual call, no std::function, no allocation per element; the loops run with OpenMP
// (parallel_for) above kParallelGrain elements. Inside a lambda, decltype(u) is the element
// type (float or double): write constants as decltype(u)(1) so float32 stays float32.
//
// Below them, the typed loops they call (map1<T>, map2<T>, reduce_kernel<T>), also used
// directly where an op needs the int64 dtype too (broadcast_to), and for_each_lane(v, f):
// f(j, base) for every lane of an AxisView, over threads (softmax, normalize).
#pragma once

#include <vector>

#include "core/parallel.h"
#include "core/shape.h"
#include "core/tensor.h"

namespace chalk::kernels {

template <class T, class F>
Tensor map1(const Tensor& x, F f) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const T* px = x.data<T>();
  T* py = y.data<T>();
  // The loops capture by value ([=]): with [&] the pointers are references that a store
  // to py[i] might change, and GCC leaves the loop scalar (see nn/optim.cpp, SGD).
  parallel_for(x.numel(), [=](std::int64_t s, std::int64_t e) {
    for (std::int64_t i = s; i < e; ++i) py[i] = static_cast<T>(f(px[i]));
  });
  return y;
}

template <class T, class F>
Tensor map2(const Tensor& a, const Tensor& b, const char* op, F f) {
  if (a.dtype() != b.dtype())
    fail(op, ": dtype mismatch: ", dtype_name(a.dtype()), " ", shape_str(a.shape()), " vs ",
         dtype_name(b.dtype()), " ", shape_str(b.shape()), " (convert one with .to())");
  const Shape os = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
  Tensor y = Tensor::empty(os, a.dtype());
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* py = y.data<T>();
  const std::int64_t n = y.numel();
  if (a.shape() == b.shape()) {  // fast path: same shape
    parallel_for(n, [=](std::int64_t s, std::int64_t e) {
      for (std::int64_t i = s; i < e; ++i) py[i] = static_cast<T>(f(pa[i], pb[i]));
    });
    return y;
  }
  if (b.numel() == 1) {  // fast path: b is a single value (then a.numel() == n)
    const T vb = pb[0];
    parallel_for(n, [=](std::int64_t s, std::int64_t e) {
      for (std::int64_t i = s; i < e; ++i) py[i] = static_cast<T>(f(pa[i], vb));
    });
    return y;
  }
  if (a.numel() == 1) {  // fast path: a is a single value (then b.numel() == n)
    const T va = pa[0];
    parallel_for(n, [=](std::int64_t s, std::int64_t e) {
      for (std::int64_t i = s; i < e; ++i) py[i] = static_cast<T>(f(va, pb[i]));
    });
    return y;
  }
  // General case: strides of a and b in the output's axes, 0 where broadcast.
  const int nd = static_cast<int>(os.size());
  std::vector<std::int64_t> sa(nd, 0), sb(nd, 0);
  {
    const auto ca = contiguous_strides(a.shape()), cb = contiguous_strides(b.shape());
    const int offa = nd - a.dim(), offb = nd - b.dim();
    for (int i = 0; i < a.dim(); ++i) sa[i + offa] = a.shape()[i] == 1 ? 0 : ca[i];
    for (int i = 0; i < b.dim(); ++i) sb[i + offb] = b.shape()[i] == 1 ? 0 : cb[i];
  }
  const std::int64_t inner = os[nd - 1];
  const std::int64_t rows = inner == 0 ? 0 : n / inner;
  const std::int64_t ia = sa[nd - 1], ib = sb[nd - 1];
  parallel_for(rows, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(inner, 1)),
               [&](std::int64_t s, std::int64_t e) {
                 for (std::int64_t r = s; r < e; ++r) {
                   // offsets of row r in a and b: decompose r over the outer axes
                   std::int64_t rem = r, oa = 0, ob = 0;
                   for (int d = nd - 2; d >= 0; --d) {
                     const std::int64_t idx = rem % os[d];
                     rem /= os[d];
                     oa += idx * sa[d];
                     ob += idx * sb[d];
                   }
                   T* out = py + r * inner;
                   for (std::int64_t j = 0; j < inner; ++j) out[j] = static_cast<T>(f(pa[oa + j * ia], pb[ob + j * ib]));
                 }
               });
  return y;
}

// out[o, i] = finish(step(... step(step(0, x[o, 0, i]), x[o, 1, i]) ..., x[o, n-1, i]))
// The fold runs in double, k in order, so the result does not depend on the thread count.
// inner == 1: one lane per row, contiguous; inner > 1: the fold runs across a block of i at
// once (rows of x are read contiguously, never strided by inner).
template <class T, class Step, class Finish>
void reduce_kernel(const T* x, T* out, const AxisView& v, Step step, Finish finish) {
  if (v.inner == 1) {
    parallel_for(v.outer, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(v.n, 1)),
                 [&](std::int64_t ob, std::int64_t oe) {
                   for (std::int64_t o = ob; o < oe; ++o) {
                     double s = 0;
                     const T* row = x + o * v.n;
                     for (std::int64_t k = 0; k < v.n; ++k) s = step(s, row[k]);
                     out[o] = static_cast<T>(finish(s));
                   }
                 });
    return;
  }
  for (std::int64_t o = 0; o < v.outer; ++o) {
    parallel_for(v.inner, std::max<std::int64_t>(64, kParallelGrain / std::max<std::int64_t>(v.n, 1)),
                 [&](std::int64_t ib, std::int64_t ie) {
                   std::vector<double> acc(static_cast<std::size_t>(ie - ib), 0.0);
                   for (std::int64_t k = 0; k < v.n; ++k) {
                     const T* row = x + (o * v.n + k) * v.inner;
                     for (std::int64_t i = ib; i < ie; ++i) acc[i - ib] = step(acc[i - ib], row[i]);
                   }
                   for (std::int64_t i = ib; i < ie; ++i) out[o * v.inner + i] = static_cast<T>(finish(acc[i - ib]));
                 });
  }
}

// out[o, i] = sum_k x[o, k, i]   (sum along one axis, in double; sum(x, axis) and sum_to)
template <class T>
void sum_axis_kernel(const T* x, T* out, const AxisView& v) {
  reduce_kernel<T>(x, out, v, [](double s, T u) { return s + u; }, [](double s) { return s; });
}

// ---------------------------------------------------------------- the dtype-dispatching front ends

// y[i] = f(x[i]), same shape; float32 or float64 (else a chalk::Error naming `op`).
template <class F>
Tensor map(const Tensor& x, const char* op, F f) {
  return dispatch_float(x.dtype(), op, [&](auto tag) { return map1<decltype(tag)>(x, f); });
}

// y[i] = f(a[i'], b[i'']) over the broadcast shape of a and b (same dtype, float32 or float64).
template <class F>
Tensor zip(const Tensor& a, const Tensor& b, const char* op, F f) {
  return dispatch_float(a.dtype(), op, [&](auto tag) { return map2<decltype(tag)>(a, b, op, f); });
}

// y = x reduced along the axis of v (v = axis_view(x.shape(), axis, keepdim, op)), shape
// v.out_shape: y[o, i] = finish(fold of step over x[o, :, i], from 0, in double).
template <class Step, class Finish>
Tensor reduce(const Tensor& x, const AxisView& v, const char* op, Step step, Finish finish) {
  Tensor y = Tensor::empty(v.out_shape, x.dtype());
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    reduce_kernel<T>(x.data<T>(), y.data<T>(), v, step, finish);
  });
  return y;
}

// Call f(o, i, base) for every lane, base = &x[o, 0, i] offset; the lane's
// k-th element is at base + k * inner. Lanes are split over threads.
template <class F>
void for_each_lane(const AxisView& l, F&& f) {
  parallel_for(l.outer * l.inner, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(l.n, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t j = b; j < e; ++j) {
                   const std::int64_t o = j / l.inner, i = j % l.inner;
                   f(j, o * l.n * l.inner + i);
                 }
               });
}


}  // namespace chalk::kernels
