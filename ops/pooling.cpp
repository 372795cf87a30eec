// ops/pooling.cpp — max_pool2d (a 2x2/stride-2 fast loop and the general plain twin) and
// relu_max_pool2d: forward, then the VJP right below (ops/pooling.h).
#include "ops/pooling.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/exercise.h"  // the stub a student edition puts in exercise 07's regions
#include "core/parallel.h"

namespace chalk {

// ---------------------------------------------------------------- max_pool2d
//
// y[n, c, i, j] = max over the window x[n, c, i s .. i s + k - 1, j s .. j s + k - 1]
// The forward keeps, for each output, the index of its window's maximum (its argmax): when
// several elements are equal, the first in row-major order; a window with a NaN gives NaN and
// its argmax is the NaN (the last NaN when there are several), as PyTorch's max_pool2d.
// VJP: the whole gradient of each output goes to its window's argmax (max_pool2d_vjp).
// The per-plane pieces (max_pool2d_plane, max_pool2d_plane_2x2, max_pool2d_vjp) are
// declared in ops/pooling.h: exercise 07 (docs/exercises/07-max-pool-backward.md) writes them.
//
// relu_max_pool2d is max_pool2d(relu(x)) in one pass. relu keeps the order of positive
// values and sends every other one to 0, so the pool can go first:
//   max_window relu(x) = relu(max_window x) = max(m, 0),  m = the window's maximum
// and the VJP sends g to the argmax where m > 0, nothing elsewhere — exactly what relu's
// VJP (0 where x <= 0) does to max_pool2d's. It saves the relu tensor (as large as the
// convolution's output) and the two passes over it. A NaN window stays NaN (relu(nan) = nan)
// and passes its gradient, as relu's VJP does: the tests are `m <= 0`, never `m > 0`.
namespace {

// Does v replace the running maximum m of a window scanned in row-major order?
template <class T>
inline bool takes(T v, T m) {
  // ---- exercise 07 begin: docs/exercises/07-max-pool-backward.md ----
  // Yes if strictly larger (so on a tie the first maximum stays), and always if v is NaN:
  // every comparison with NaN is false, so a plain `v > m` would skip a NaN and hide it.
  return v > m || v != v;  // v != v: v is NaN
  // ---- exercise 07 end ----
}

}  // namespace

template <class T>
void max_pool2d_plane(const T* x, std::int64_t W, std::int64_t OH, std::int64_t OW, int kernel, int stride, T* y,
                      std::int64_t* argmax) {
  // ---- exercise 07 begin: docs/exercises/07-max-pool-backward.md ----
  for (std::int64_t i = 0; i < OH; ++i)
    for (std::int64_t j = 0; j < OW; ++j) {
      std::int64_t best = (i * stride) * W + j * stride;
      for (std::int64_t p = 0; p < kernel; ++p)
        for (std::int64_t q = 0; q < kernel; ++q) {
          const std::int64_t k = (i * stride + p) * W + (j * stride + q);
          if (takes(x[k], x[best])) best = k;
        }
      y[i * OW + j] = x[best];
      argmax[i * OW + j] = best;
    }
  // ---- exercise 07 end ----
}

template <class T>
void max_pool2d_plane_2x2(const T* x, std::int64_t W, std::int64_t OH, std::int64_t OW, T* y, std::int64_t* argmax) {
  // ---- exercise 07 begin: docs/exercises/07-max-pool-backward.md ----
  // The comparisons of max_pool2d_plane in the same order, written out for two input rows
  // at a time: the compiler vectorises the loop over j (3x faster than the general loop).
  for (std::int64_t i = 0; i < OH; ++i) {
    const T* r0 = x + 2 * i * W;
    const T* r1 = r0 + W;
    const std::int64_t base = 2 * i * W;
    for (std::int64_t j = 0; j < OW; ++j) {
      const std::int64_t c = 2 * j;
      T m = r0[c];
      std::int64_t a = base + c;
      if (takes(r0[c + 1], m)) m = r0[c + 1], a = base + c + 1;
      if (takes(r1[c], m)) m = r1[c], a = base + W + c;
      if (takes(r1[c + 1], m)) m = r1[c + 1], a = base + W + c + 1;
      y[i * OW + j] = m;
      argmax[i * OW + j] = a;
    }
  }
  // ---- exercise 07 end ----
}

template <class T>
void max_pool2d_vjp(const std::int64_t* argmax, const T* g, std::int64_t n, T* dx) {
  // ---- exercise 07 begin: docs/exercises/07-max-pool-backward.md ----
  // +=, not =: where windows overlap (stride < kernel) one element can be the maximum of
  // several of them, and receives the sum of their gradients.
  for (std::int64_t k = 0; k < n; ++k) dx[argmax[k]] += g[k];
  // ---- exercise 07 end ----
}

#define CHALK_POOL_PIECES(T)                                                                                  \
  template void max_pool2d_plane<T>(const T*, std::int64_t, std::int64_t, std::int64_t, int, int, T*,         \
                                    std::int64_t*);                                                           \
  template void max_pool2d_plane_2x2<T>(const T*, std::int64_t, std::int64_t, std::int64_t, T*, std::int64_t*); \
  template void max_pool2d_vjp<T>(const std::int64_t*, const T*, std::int64_t, T*);
CHALK_POOL_PIECES(float)
CHALK_POOL_PIECES(double)
#undef CHALK_POOL_PIECES

namespace {

enum class PoolKernel { Fast, Generic };

Tensor max_pool2d_impl(const Tensor& x, int kernel, int stride, bool with_relu, PoolKernel which, const char* op) {
  if (x.dim() != 4) fail(op, ": expected input N x C x H x W, got ", shape_str(x.shape()));
  if (kernel < 1 || stride < 1) fail(op, ": kernel and stride must be >= 1, got ", kernel, " and ", stride);
  const std::int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  if (kernel > H || kernel > W)
    fail(op, ": kernel ", kernel, " is larger than the input ", H, "x", W, " (", shape_str(x.shape()), ")");
  const std::int64_t OH = (H - kernel) / stride + 1, OW = (W - kernel) / stride + 1;
  Tensor y = Tensor::empty({N, C, OH, OW}, x.dtype(), op);
  Tensor arg = Tensor::empty({N, C, OH, OW}, DType::Int64, op);  // flat index in the H x W plane
  const bool fast = which == PoolKernel::Fast && kernel == 2 && stride == 2;
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    std::int64_t* pa = arg.data<std::int64_t>();
    parallel_for(N * C, std::max<std::int64_t>(1, kParallelGrain / (H * W)), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t plane = b; plane < e; ++plane) {
        T* out = py + plane * OH * OW;
        if (fast) max_pool2d_plane_2x2(px + plane * H * W, W, OH, OW, out, pa + plane * OH * OW);
        else max_pool2d_plane(px + plane * H * W, W, OH, OW, kernel, stride, out, pa + plane * OH * OW);
        if (with_relu)
          for (std::int64_t k = 0; k < OH * OW; ++k) out[k] = out[k] <= T(0) ? T(0) : out[k];  // nan stays
      }
    });
  });
  // With relu, an output of 0 passes no gradient (its window had no positive value; a NaN
  // output passes it); y is kept for that test only.
  record(y, op, {x}, Saved{.output = with_relu},
         [arg, y_ = with_relu ? y.detach() : Tensor(), xs = x.shape(), dt = x.dtype(), op](
                         const Tensor& g, Grads& dx) {
    Tensor gx = Tensor::empty(xs, dt);  // zeroed plane by plane below, while in cache
    dispatch_float(dt, op, [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      const T* pyr = y_.defined() ? y_.data<T>() : nullptr;
      const std::int64_t* pa = arg.data<std::int64_t>();
      T* pgx = gx.data<T>();
      // (out from g's shape, not g.numel() / planes: an empty batch has 0 planes)
      const std::int64_t planes = xs[0] * xs[1], hw = xs[2] * xs[3], out = g.shape()[2] * g.shape()[3];
      parallel_for(planes, std::max<std::int64_t>(1, kParallelGrain / hw), [&](std::int64_t b, std::int64_t e) {
        // relu: a window whose output relu set to 0 passes nothing, so its gradient is
        // replaced by 0 before the route (a select, not a branch: about half the windows of
        // a convolution's output are negative, in no order a branch predictor could learn)
        std::vector<T> masked(pyr ? static_cast<std::size_t>(out) : 0);
        for (std::int64_t plane = b; plane < e; ++plane) {
          T* d = pgx + plane * hw;
          const T* gp = pg + plane * out;
          std::fill(d, d + hw, T(0));
          if (pyr) {
            const T* yp = pyr + plane * out;
            for (std::int64_t k = 0; k < out; ++k) masked[k] = yp[k] <= T(0) ? T(0) : gp[k];
            gp = masked.data();
          }
          max_pool2d_vjp(pa + plane * out, gp, out, d);
        }
      });
    });
    dx.add(0, gx);
  });
  return y;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, int kernel, int stride) {
  return max_pool2d_impl(x, kernel, stride, false, PoolKernel::Fast, "max_pool2d");
}

Tensor max_pool2d_naive(const Tensor& x, int kernel, int stride) {
  return max_pool2d_impl(x, kernel, stride, false, PoolKernel::Generic, "max_pool2d_naive");
}

Tensor relu_max_pool2d(const Tensor& x, int kernel, int stride) {
  return max_pool2d_impl(x, kernel, stride, true, PoolKernel::Fast, "relu_max_pool2d");
}

}  // namespace chalk
