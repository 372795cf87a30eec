// ops/shape_ops.cpp — moving data around: forward, then the VJP right below.
//
// None of these ops does arithmetic, so every VJP moves g back to where the
// forward took each element from: a transpose back, a write into zeros, or a
// scatter-add when one element of x may have been read several times.
//
// Many ops here view a tensor as [outer, n, inner] around one axis (n = that
// axis' size, outer = the product of the axes before, inner = after): an
// element [o, k, i] sits at (o * n + k) * inner + i.
#include "ops/shape_ops.h"

#include <memory>
#include <numeric>

#include "core/autograd.h"
#include "core/parallel.h"

namespace chalk {

namespace {

// dst[o, dst_off + k, i] (+)= src[o, src_off + k, i]  for k in [0, len):
// a block of `len` slices along the axis, copied between two tensors that
// share outer and inner (slice, cat and their VJPs).
template <class T>
void copy_block(const T* src, std::int64_t src_n, std::int64_t src_off, T* dst, std::int64_t dst_n,
                std::int64_t dst_off, std::int64_t len, std::int64_t outer, std::int64_t inner) {
  const std::int64_t run = len * inner;  // contiguous elements per outer index
  // Nothing to copy: an empty tensor may still have a huge outer count ([2^62, 0] joined along
  // axis 1), and looping over it copying nothing would not end.
  if (run == 0) return;
  parallel_for(outer, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(run, 1)),
               [&](std::int64_t ob, std::int64_t oe) {
                 for (std::int64_t o = ob; o < oe; ++o) {
                   const T* s = src + (o * src_n + src_off) * inner;
                   T* d = dst + (o * dst_n + dst_off) * inner;
                   std::copy(s, s + run, d);
                 }
               });
}

void check_index_dtype(const Tensor& index, const char* op) {
  if (index.dtype() != DType::Int64)
    fail(op, ": index must be int64, got ", dtype_name(index.dtype()), " ", shape_str(index.shape()));
}

}  // namespace

// ---------------------------------------------------------------- permute, transpose

// y.shape[i] = x.shape[dims[i]],  y[j_0, .., j_r] = x[i] with i[dims[k]] = j_k
// VJP: dx = permute(g, inverse(dims)),  inverse[dims[k]] = k
Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  const int nd = x.dim();
  if (static_cast<int>(dims.size()) != nd)
    fail("permute: got ", dims.size(), " dims for a tensor of shape ", shape_str(x.shape()), " (expected ", nd, ")");
  std::vector<int> p(nd), inverse(nd, -1);
  for (int k = 0; k < nd; ++k) {
    const int d = dims[k] < 0 ? dims[k] + nd : dims[k];
    if (d < 0 || d >= nd || inverse[d] != -1) {
      std::string ds;
      for (int v : dims) ds += (ds.empty() ? "" : ", ") + std::to_string(v);
      fail("permute: dims [", ds, "] are not a permutation of 0..", nd - 1, " (x is ", shape_str(x.shape()), ")");
    }
    p[k] = d;
    inverse[d] = k;
  }
  Shape ys(nd);
  for (int k = 0; k < nd; ++k) ys[k] = x.shape()[p[k]];
  Tensor y = Tensor::empty(ys, x.dtype());
  // in_stride[k]: how far x's data moves when y's index k grows by one
  const auto xs = contiguous_strides(x.shape());
  std::vector<std::int64_t> in_stride(nd);
  for (int k = 0; k < nd; ++k) in_stride[k] = xs[p[k]];
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const std::int64_t n = y.numel();
    if (n == 0) return;
    if (nd == 0) {
      py[0] = px[0];
      return;
    }
    const std::int64_t inner = ys[nd - 1], rows = n / inner, step = in_stride[nd - 1];
    parallel_for(rows, std::max<std::int64_t>(1, kParallelGrain / inner), [&](std::int64_t rb, std::int64_t re) {
      for (std::int64_t r = rb; r < re; ++r) {
        std::int64_t rem = r, off = 0;  // x's offset of y's row r: decompose r over y's outer axes
        for (int d = nd - 2; d >= 0; --d) {
          off += (rem % ys[d]) * in_stride[d];
          rem /= ys[d];
        }
        T* out = py + r * inner;
        for (std::int64_t j = 0; j < inner; ++j) out[j] = px[off + j * step];
      }
    });
  });
  record(y, "permute", {x}, Saved{}, [inverse](const Tensor& g, Grads& dx) { dx.add(0, permute(g, inverse)); });
  return y;
}

// Swap axes axis0 and axis1: a permute.   VJP: the same transpose of g.
Tensor transpose(const Tensor& x, int axis0, int axis1) {
  const int a0 = normalize_axis(axis0, x.shape().size(), "transpose");
  const int a1 = normalize_axis(axis1, x.shape().size(), "transpose");
  std::vector<int> dims(x.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[a0], dims[a1]);
  return permute(x, dims);
}

// ---------------------------------------------------------------- slice

// y[o, k, i] = x[o, start + k, i],  k in [0, end - start)
// VJP: dx = zeros of x's shape with dx[o, start + k, i] = g[o, k, i]
Tensor slice(const Tensor& x, int axis, std::int64_t start, std::int64_t end) {
  const int a = normalize_axis(axis, x.shape().size(), "slice");
  const std::int64_t n = x.shape()[a];
  const std::int64_t s = start < 0 ? start + n : start, e = end < 0 ? end + n : end;
  if (s < 0 || s > n || e < 0 || e > n || s > e)
    fail("slice: [", start, ", ", end, ") is out of range for axis ", axis, " of size ", n, " (x is ",
         shape_str(x.shape()), "; expected -", n, " <= start <= end <= ", n, " after counting negatives from the end)");
  const AxisView v = axis_view(x.shape(), a, false, "slice");
  Shape ys = x.shape();
  ys[a] = e - s;
  Tensor y = Tensor::empty(ys, x.dtype());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    copy_block<T>(x.data<T>(), n, s, y.data<T>(), e - s, 0, e - s, v.outer, v.inner);
  });
  record(y, "slice", {x}, Saved{}, [sx = x.shape(), v, s, len = e - s](const Tensor& g, Grads& dx) {
    Tensor d = zeros(sx, g.dtype());
    dispatch_float(g.dtype(), "slice backward", [&](auto tag) {
      using T = decltype(tag);
      copy_block<T>(g.data<T>(), len, 0, d.data<T>(), v.n, s, len, v.outer, v.inner);
    });
    dx.add(0, d);
  });
  return y;
}

// ---------------------------------------------------------------- index_select, gather

// y[o, k, i] = x[o, index[k], i]     (index: K int64 values in [0, n), repeats allowed)
// VJP: dx[o, index[k], i] += g[o, k, i]   (a repeated index receives every g that read it)
Tensor index_select(const Tensor& x, int axis, const Tensor& index) {
  const int a = normalize_axis(axis, x.shape().size(), "index_select");
  check_index_dtype(index, "index_select");
  if (index.dim() > 1)
    fail("index_select: index must be 1-D, got ", shape_str(index.shape()));
  const AxisView v = axis_view(x.shape(), a, false, "index_select");
  const std::int64_t K = index.numel();
  const std::int64_t* pi = index.data<std::int64_t>();
  for (std::int64_t k = 0; k < K; ++k)
    if (pi[k] < 0 || pi[k] >= v.n)
      fail("index_select: index value ", pi[k], " (at position ", k, ") is out of range for axis ", axis,
           " of size ", v.n, " (x is ", shape_str(x.shape()), ")");
  Shape ys = x.shape();
  ys[a] = K;
  Tensor y = Tensor::empty(ys, x.dtype());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    if (v.inner == 0) return;  // empty rows: nothing to copy, however many (as copy_block)
    parallel_for(v.outer * K, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(v.inner, 1)),
                 [&](std::int64_t rb, std::int64_t re) {
                   for (std::int64_t r = rb; r < re; ++r) {
                     const std::int64_t o = r / K, k = r % K;
                     const T* src = px + (o * v.n + pi[k]) * v.inner;
                     std::copy(src, src + v.inner, py + r * v.inner);
                   }
                 });
  });
  record(y, "index_select", {x}, Saved{.other = {index}},
         [sx = x.shape(), v, K, index = index.detach()](const Tensor& g, Grads& dx) {
    Tensor d = zeros(sx, g.dtype());
    dispatch_float(g.dtype(), "index_select backward", [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      T* pd = d.data<T>();
      const std::int64_t* idx = index.data<std::int64_t>();
      // Threads split the inner axis, so two threads never add into the same element.
      parallel_for(v.inner, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(v.outer * K, 1)),
                   [&](std::int64_t ib, std::int64_t ie) {
                     for (std::int64_t o = 0; o < v.outer; ++o)
                       for (std::int64_t k = 0; k < K; ++k) {
                         const T* src = pg + (o * K + k) * v.inner;
                         T* dst = pd + (o * v.n + idx[k]) * v.inner;
                         for (std::int64_t i = ib; i < ie; ++i) dst[i] += src[i];
                       }
                   });
    });
    dx.add(0, d);
  });
  return y;
}

// PyTorch's gather: y has index's shape, and for axis a
//   y[j_0, .., j_a, .., j_r] = x[j_0, .., index[j], .., j_r]
// (for a 2-D x and axis 1: y[i][j] = x[i][index[i][j]]). index has x's number
// of dimensions and index.size(d) <= x.size(d) for d != a (PyTorch's rule).
// VJP: dx[.., index[j], ..] += g[j]   (scatter-add: repeats accumulate)
Tensor gather(const Tensor& x, int axis, const Tensor& index) {
  const int a = normalize_axis(axis, x.shape().size(), "gather");
  check_index_dtype(index, "gather");
  const int nd = x.dim();
  bool shape_ok = index.dim() == nd;
  for (int d = 0; shape_ok && d < nd; ++d)
    if (d != a && index.shape()[d] > x.shape()[d]) shape_ok = false;
  if (!shape_ok)
    fail("gather: index ", shape_str(index.shape()), " does not fit x ", shape_str(x.shape()), " along axis ", axis,
         " (expected the same number of dimensions and index.size(d) <= x.size(d) for d != ", a, ")");
  // off[j] = x's offset of the element that y[j] reads; computed once, reused by the VJP.
  const std::int64_t n = index.numel(), na = x.shape()[a];
  const auto xs = contiguous_strides(x.shape());
  const Shape is = index.shape();
  const std::int64_t* pi = index.data<std::int64_t>();
  auto off = std::make_shared<std::vector<std::int64_t>>(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) {
    if (pi[j] < 0 || pi[j] >= na)
      fail("gather: index value ", pi[j], " is out of range for axis ", axis, " of size ", na, " (x is ",
           shape_str(x.shape()), ", index is ", shape_str(is), ")");
    std::int64_t rem = j, o = 0;
    for (int d = nd - 1; d >= 0; --d) {
      const std::int64_t id = rem % is[d];
      rem /= is[d];
      o += (d == a ? pi[j] : id) * xs[d];
    }
    (*off)[j] = o;
  }
  Tensor y = Tensor::empty(is, x.dtype());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (std::int64_t j = 0; j < n; ++j) py[j] = px[(*off)[j]];
  });
  record(y, "gather", {x}, Saved{}, [sx = x.shape(), off](const Tensor& g, Grads& dx) {
    Tensor d = zeros(sx, g.dtype());
    dispatch_float(g.dtype(), "gather backward", [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      T* pd = d.data<T>();
      for (std::size_t j = 0; j < off->size(); ++j) pd[(*off)[j]] += pg[j];  // serial: repeats collide
    });
    dx.add(0, d);
  });
  return y;
}

// ---------------------------------------------------------------- cat, stack

// y = [x_0 | x_1 | ...] along axis: x_t occupies [off_t, off_t + n_t) of y's axis.
// VJP: dx_t = slice(g, axis, off_t, off_t + n_t)
Tensor cat(const std::vector<Tensor>& xs, int axis) {
  if (xs.empty()) fail("cat: expected at least one tensor, got an empty list");
  const Tensor& x0 = xs[0];
  const int a = normalize_axis(axis, x0.shape().size(), "cat");
  for (std::size_t t = 1; t < xs.size(); ++t) {
    if (xs[t].dtype() != x0.dtype())
      fail("cat: tensor ", t, " is ", dtype_name(xs[t].dtype()), " ", shape_str(xs[t].shape()), " but tensor 0 is ",
           dtype_name(x0.dtype()), " ", shape_str(x0.shape()));
    bool ok = xs[t].dim() == x0.dim();
    for (int d = 0; ok && d < x0.dim(); ++d)
      if (d != a && xs[t].shape()[d] != x0.shape()[d]) ok = false;
    if (!ok)
      fail("cat: tensor ", t, " has shape ", shape_str(xs[t].shape()), " but tensor 0 has shape ",
           shape_str(x0.shape()), " (they must match except along axis ", axis, ")");
  }
  Shape ys = x0.shape();
  ys[a] = 0;
  for (const Tensor& x : xs) ys[a] = checked_add(ys[a], x.shape()[a], "cat", "the joined axis' length");
  const AxisView v = axis_view(ys, a, false, "cat");
  Tensor y = Tensor::empty(ys, x0.dtype(), "cat");
  std::vector<std::int64_t> offsets;
  dispatch_all(x0.dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::int64_t off = 0;
    for (const Tensor& x : xs) {
      const std::int64_t nt = x.shape()[a];
      copy_block<T>(x.data<T>(), nt, 0, y.data<T>(), v.n, off, nt, v.outer, v.inner);
      offsets.push_back(off);
      off += nt;
    }
  });
  std::vector<std::int64_t> sizes;
  for (const Tensor& x : xs) sizes.push_back(x.shape()[a]);
  record(y, "cat", xs, Saved{}, [a, offsets, sizes](const Tensor& g, Grads& dx) {
    for (std::size_t t = 0; t < sizes.size(); ++t)
      if (dx.wants(t)) dx.add(t, slice(g, a, offsets[t], offsets[t] + sizes[t]));
  });
  return y;
}

// y = cat of the x_t, each with a new axis of size 1 at `axis` (axis in [-(r+1), r]).
// VJP: through cat and reshape (slices of g, reshaped back).
Tensor stack(const std::vector<Tensor>& xs, int axis) {
  if (xs.empty()) fail("stack: expected at least one tensor, got an empty list");
  const Shape& s0 = xs[0].shape();
  const int a = normalize_axis(axis, s0.size() + 1, "stack");
  for (std::size_t t = 1; t < xs.size(); ++t) {
    if (xs[t].shape() != s0)
      fail("stack: tensor ", t, " has shape ", shape_str(xs[t].shape()), " but tensor 0 has shape ", shape_str(s0),
           " (all must be equal)");
    if (xs[t].dtype() != xs[0].dtype())
      fail("stack: tensor ", t, " is ", dtype_name(xs[t].dtype()), " but tensor 0 is ", dtype_name(xs[0].dtype()));
  }
  Shape unsqueezed = s0;
  unsqueezed.insert(unsqueezed.begin() + a, 1);
  std::vector<Tensor> parts;
  parts.reserve(xs.size());
  for (const Tensor& x : xs) parts.push_back(x.reshape(unsqueezed));
  return cat(parts, a);
}

// ---------------------------------------------------------------- one_hot, flatten

// y[.., c] = 1 if labels[..] == c else 0    (no gradient: labels are integers)
Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dtype) {
  if (labels.dtype() != DType::Int64)
    fail("one_hot: labels must be int64, got ", dtype_name(labels.dtype()), " ", shape_str(labels.shape()));
  if (num_classes <= 0) fail("one_hot: num_classes must be positive, got ", num_classes);
  Shape ys = labels.shape();
  ys.push_back(num_classes);
  Tensor y = zeros(ys, dtype);
  const std::int64_t* pl = labels.data<std::int64_t>();
  for (std::int64_t i = 0, n = labels.numel(); i < n; ++i)
    if (pl[i] < 0 || pl[i] >= num_classes)
      fail("one_hot: label ", pl[i], " (at position ", i, ") is outside [0, ", num_classes, ") for C = ", num_classes);
  dispatch_all(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* py = y.data<T>();
    for (std::int64_t i = 0, n = labels.numel(); i < n; ++i) py[i * num_classes + pl[i]] = T(1);
  });
  return y;
}

// [d_0, .., d_{s-1}, d_s, .., d_r] -> [d_0, .., d_{s-1}, d_s * .. * d_r]: a reshape
// (it shares x's data, like reshape). VJP: reshape g back.
Tensor flatten(const Tensor& x, int start_axis) {
  const int s = normalize_axis(start_axis, x.shape().size(), "flatten");
  Shape ys(x.shape().begin(), x.shape().begin() + s);
  std::int64_t rest = 1;
  for (int d = s; d < x.dim(); ++d) rest *= x.shape()[d];
  ys.push_back(rest);
  return x.reshape(ys);
}

}  // namespace chalk
