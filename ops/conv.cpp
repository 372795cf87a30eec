// ops/conv.cpp — 2-D convolution (im2col + GEMM) and its plain twin: forward, then the VJP below.
//
// Shapes: x N x C x H x W, w O x C x KH x KW, y N x O x OH x OW,
//         OH = (H + 2 pad - KH) / stride + 1   (likewise OW).
#include "ops/conv.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/exercise.h"  // the stub a student edition puts in exercise 06's regions
#include "core/gemm.h"
#include "core/parallel.h"
#include "ops/conv_im2col.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace chalk {

ConvGeometry conv_geometry(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int padding,
                           const char* op) {
  if (x.dim() != 4) fail(op, ": expected input N x C x H x W, got ", shape_str(x.shape()));
  if (w.dim() != 4) fail(op, ": expected weight O x C x KH x KW, got ", shape_str(w.shape()));
  if (x.dtype() != w.dtype())
    fail(op, ": dtype mismatch: input is ", dtype_name(x.dtype()), ", weight is ", dtype_name(w.dtype()));
  if (x.shape()[1] != w.shape()[1])
    fail(op, ": input has ", x.shape()[1], " channels ", shape_str(x.shape()), " but the weight ",
         shape_str(w.shape()), " expects ", w.shape()[1]);
  if (stride < 1) fail(op, ": stride must be >= 1, got ", stride);
  if (padding < 0) fail(op, ": padding must be >= 0, got ", padding);
  ConvGeometry g{x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3], w.shape()[0], w.shape()[2],
                 w.shape()[3], 0, 0, stride, padding};
  // Every size below comes from the caller's shapes, stride and padding: each is checked before
  // the kernels allocate or index with it (core/shape.h checked_mul), so none can wrap.
  const std::int64_t pad2 = 2 * std::int64_t{padding};  // (2 * padding in int overflows from 2^30)
  const std::int64_t Hp = checked_add(g.H, pad2, op, "the padded height H + 2 pad ="),
                     Wp = checked_add(g.W, pad2, op, "the padded width W + 2 pad =");
  if (g.KH > Hp || g.KW > Wp)
    fail(op, ": kernel ", g.KH, "x", g.KW, " is larger than the padded input ", Hp, "x", Wp, " (input ",
         shape_str(x.shape()), ", padding ", padding, ")");
  g.OH = (Hp - g.KH) / stride + 1;
  g.OW = (Wp - g.KW) / stride + 1;
  if (b.defined() && (b.dim() != 1 || b.shape()[0] != g.O || b.dtype() != w.dtype()))
    fail(op, ": bias must be a ", dtype_name(w.dtype()), " vector of length ", g.O, ", got ",
         dtype_name(b.dtype()), " ", shape_str(b.shape()));
  checked_numel({g.N, g.O, g.OH, g.OW}, op);                                             // the output y
  checked_mul(g.C, checked_mul(Hp, Wp, op, "the padded image (H + 2 pad) x (W + 2 pad) ="), op,
              "the padded image buffer C x (H + 2 pad)(W + 2 pad) =");                  // pad_image's scratch
  const std::int64_t patch = checked_mul(checked_mul(g.C, g.KH, op, "the patch C x KH ="), g.KW, op,
                                         "the patch (C KH) x KW =");
  checked_mul(checked_mul(patch, g.OW, op, "a column-matrix row block (C KH KW) x OW ="), 8, op,
              "the bytes of a column-matrix row block (C KH KW OW) x 8 =");             // im2col's scratch
  const std::int64_t pixels = checked_mul(g.OH, g.OW, op, "the output pixels OH x OW =");
  // multiply-adds per image and per batch (the thread and GEMM-block heuristics use both)
  const std::int64_t macs = checked_mul(checked_mul(g.O, patch, op, "the multiply-adds O x (C KH KW) ="), pixels,
                                        op, "the multiply-adds per image O (C KH KW) x (OH OW) =");
  checked_mul(g.N, macs, op, "the multiply-adds N x O (C KH KW)(OH OW) =");
  return g;
}

// Padding is applied once per image: the image is copied into the middle of a zeroed
// (H + 2 pad) x (W + 2 pad) buffer, so that the loops below read every patch element
// without a bounds check. Hp, Wp: the padded size.
template <class T>
void pad_image(const T* x, T* xp, const ConvGeometry& g) {
  const std::int64_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
  std::fill(xp, xp + g.C * Hp * Wp, T(0));
  for (std::int64_t c = 0; c < g.C; ++c)
    for (std::int64_t h = 0; h < g.H; ++h)
      std::memcpy(xp + (c * Hp + h + g.pad) * Wp + g.pad, x + (c * g.H + h) * g.W, g.W * sizeof(T));
}

// The adjoint of pad_image: drop the border of a padded gradient.
template <class T>
void unpad_image(const T* dxp, T* dx, const ConvGeometry& g) {
  const std::int64_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
  for (std::int64_t c = 0; c < g.C; ++c)
    for (std::int64_t h = 0; h < g.H; ++h)
      std::memcpy(dx + (c * g.H + h) * g.W, dxp + (c * Hp + h + g.pad) * Wp + g.pad, g.W * sizeof(T));
}

namespace {

// The rows im2col copies and col2im adds are short (OW: 28 and 14 in SmallCNN), so loop
// overhead, not memory, sets their cost. For B <= n <= 2B they are done as two fixed
// B-element blocks, [0, B) and [n - B, n): the blocks may overlap, which is harmless when
// both are computed before either is stored. Fixed-size blocks compile to a few vector
// instructions, several times faster than a loop over n elements (docs/performance.md).
template <int B, class T>
void copy_two_blocks(const T* __restrict__ src, T* __restrict__ out, std::int64_t n) {
  std::memcpy(out, src, B * sizeof(T));
  std::memcpy(out + n - B, src + n - B, B * sizeof(T));
}
template <int B, class T>
void add_two_blocks(const T* __restrict__ in, T* __restrict__ dst, std::int64_t n) {
  T lo[B], hi[B];
#pragma omp simd
  for (int k = 0; k < B; ++k) lo[k] = dst[k] + in[k];
#pragma omp simd
  for (int k = 0; k < B; ++k) hi[k] = dst[n - B + k] + in[n - B + k];
  std::memcpy(dst, lo, B * sizeof(T));
  std::memcpy(dst + n - B, hi, B * sizeof(T));
}

// out[j] = src[j], j < n
template <class T>
void copy_row(const T* __restrict__ src, T* __restrict__ out, std::int64_t n) {
  if (n >= 8 && n <= 16)
    copy_two_blocks<8>(src, out, n);
  else if (n > 16 && n <= 32)
    copy_two_blocks<16>(src, out, n);
  else
    std::memcpy(out, src, n * sizeof(T));
}

// dst[j] += in[j], j < n
template <class T>
void add_row(const T* __restrict__ in, T* __restrict__ dst, std::int64_t n) {
  if (n >= 8 && n <= 16) {
    add_two_blocks<8>(in, dst, n);
  } else if (n > 16 && n <= 32) {
    add_two_blocks<16>(in, dst, n);
  } else {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) dst[j] += in[j];
  }
}

}  // namespace

// im2col for output rows i0 <= i < i1 of one (padded) image:
//   col[(c, p, q), (i - i0, j)] = xp[c, i*stride + p, j*stride + q]
// col is (C KH KW) x ((i1 - i0) OW), row-major. With stride 1 each output row i of column
// (c, p, q) is a contiguous run of OW inputs.
template <class T>
void im2col(const T* xp, T* col, std::int64_t i0, std::int64_t i1, const ConvGeometry& g) {
  // (the sizes as locals: the compiler keeps them in registers, though col is written)
  const std::int64_t C = g.C, KH = g.KH, KW = g.KW, OW = g.OW, s = g.stride, L = (i1 - i0) * OW;
  const std::int64_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t p = 0; p < KH; ++p)
      for (std::int64_t q = 0; q < KW; ++q) {
        T* row = col + ((c * KH + p) * KW + q) * L;
        for (std::int64_t i = i0; i < i1; ++i) {
          const T* src = xp + (c * Hp + i * s + p) * Wp + q;
          T* out = row + (i - i0) * OW;
          if (s == 1)
            copy_row(src, out, OW);
          else
            for (std::int64_t j = 0; j < OW; ++j) out[j] = src[j * s];
        }
      }
}

// col2im, the adjoint of im2col (ops/conv_im2col.h), for the same block of output rows, into
// a padded gradient buffer (zeroed by the caller; unpad_image then drops the border).
// conv2d's backward hands it the gradient of the column matrix, W^T g_n, and gets back the
// gradient of the padded image: it is the VJP of im2col (docs/conv2d.md §3). Its rows are as
// short as im2col's (OW: 28 and 14 in SmallCNN), so loop overhead, not memory, sets the cost.
template <class T>
void col2im(const T* dcol, T* dxp, std::int64_t i0, std::int64_t i1, const ConvGeometry& g) {
  const std::int64_t C = g.C, KH = g.KH, KW = g.KW, OW = g.OW, s = g.stride, L = (i1 - i0) * OW;
  const std::int64_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
  // ---- exercise 06 begin: docs/exercises/06-conv2d-backward.md ----
  // im2col's loop with its copy turned into +=: every entry of dcol is added to the padded
  // pixel it was copied from, and a pixel that sat in several receptive fields receives the
  // sum of their gradients.
  //   dxp[c, i*stride + p, j*stride + q] += dcol[(c, p, q), (i - i0, j)]
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t p = 0; p < KH; ++p)
      for (std::int64_t q = 0; q < KW; ++q) {
        const T* row = dcol + ((c * KH + p) * KW + q) * L;
        for (std::int64_t i = i0; i < i1; ++i) {
          T* dst = dxp + (c * Hp + i * s + p) * Wp + q;
          const T* in = row + (i - i0) * OW;
          if (s == 1)
            add_row(in, dst, OW);
          else
            for (std::int64_t j = 0; j < OW; ++j) dst[j * s] += in[j];
        }
      }
  // ---- exercise 06 end ----
}

// One image block's weight gradient, added to dW^T (ops/conv_im2col.h).
template <class T>
void conv2d_weight_grad(const T* col, const T* g, std::int64_t ldg, std::int64_t L, T* dwt, const ConvGeometry& geo) {
  // ---- exercise 06 begin: docs/exercises/06-conv2d-backward.md ----
  // For fixed col, y = W col is a linear layer whose batch is the block's L pixels, so
  //   dW += g col^T   (O x L times L x K),  in the transposed form  dW^T += col g^T  (K x L
  // times L x O): the same sum, which OpenBLAS computes in 60% of the time (its kernel prefers
  // the long side, K, as rows; measured for SmallCNN's second layer). beta = 1 adds to the
  // running sum: dW is summed over the images (and over the blocks of an image).
  gemm<T>(false, true, geo.patch(), geo.O, L, T(1), col, L, g, ldg, T(1), dwt, geo.O);
  // ---- exercise 06 end ----
}

#define CHALK_CONV_PIECES(T)                                                                                        \
  template void pad_image<T>(const T*, T*, const ConvGeometry&);                                                     \
  template void unpad_image<T>(const T*, T*, const ConvGeometry&);                                                   \
  template void im2col<T>(const T*, T*, std::int64_t, std::int64_t, const ConvGeometry&);                            \
  template void col2im<T>(const T*, T*, std::int64_t, std::int64_t, const ConvGeometry&);                            \
  template void conv2d_weight_grad<T>(const T*, const T*, std::int64_t, std::int64_t, T*, const ConvGeometry&);
CHALK_CONV_PIECES(float)
CHALK_CONV_PIECES(double)
#undef CHALK_CONV_PIECES

// ---------------------------------------------------------------- conv2d (im2col + GEMM)
//
// Forward, per image n:   col_n = im2col(x_n)                       (C KH KW) x (OH OW)
//                         y_n   = W col_n + b                        O x (OH OW),  W seen as O x (C KH KW)
// VJP, per image (g_n = dL/dy_n, O x (OH OW)), derived in docs/conv2d.md §3:
//   dW    a linear layer's weight gradient, summed over images: conv2d_weight_grad adds each
//         image's part to a running sum kept transposed, dW^T (K x O)
//   db   += row sums of g_n  (sum over images and pixels)
//   dx_n  = unpad(col2im(W^T g_n))  (col2im: the adjoint of im2col)
//
// Speed. Images are split over the threads (OpenMP), one contiguous block each. A thread
// builds col_n for one image at a time in its own scratch buffer (C KH KW x OH OW: 313 KB
// for SmallCNN's second layer, it stays in the core's L2 cache) and multiplies it at once,
// with GEMMs that run single-threaded (OpenMP OpenBLAS does so inside a parallel region;
// this is the one place chalk calls GEMM from a parallel region, core/parallel.h). Why so
// (the timings: docs/performance.md, "conv2d's design, measured"):
//   - per-image GEMMs are faster than one GEMM over the whole batch (a column matrix of
//     40 MB for SmallCNN's second layer, the usual "batched im2col"), whose operands no
//     longer fit in cache;
//   - the weight gradient's GEMM is done in its transposed form (a K x O result): OpenBLAS's
//     kernel prefers the long side as rows;
//   - the forward and dx GEMMs are split into small blocks (kSmallGemmMacs below).
// Memory stays bounded: when one image's column matrix would exceed kColumnBytes (large
// images), the image is done in blocks of output rows (rows i0..i1 of y_n need columns
// i0 OW .. i1 OW only). col_n is rebuilt in the backward instead of being stored (storing
// it would be 40 MB per layer and step). dW^T and db are summed per fixed slab of images,
// then across slabs in order: the same numbers for every thread count (see the backward).
namespace {

constexpr std::int64_t kColumnBytes = std::int64_t{1} << 20;  // ~ one core's L2 cache

// Output rows per block: the block's column matrix (C KH KW) x (rows OW) stays under
// kColumnBytes, but a block has at least one row.
std::int64_t rows_per_block(const ConvGeometry& g, std::size_t elem_bytes) {
  const std::int64_t row_bytes = g.patch() * g.OW * static_cast<std::int64_t>(elem_bytes);
  return std::clamp<std::int64_t>(kColumnBytes / row_bytes, 1, g.OH);
}

// OpenBLAS (0.3.21, AVX-512) multiplies small products (M N K <= 10^6) with kernels that
// read both operands where they lie; larger ones are first copied ("packed") into its own
// layout. A column matrix serves only O output channels, so packing it costs about as much
// as the multiply. So the forward GEMM is split along its inner dimension (the patch rows k,
// accumulating: y_n = sum over blocks of W[:, block] col_n[block, :]) and the dx GEMM along
// its rows, into even blocks of at most kSmallGemmMacs multiply-adds each (what that gained:
// docs/performance.md, "conv2d's design, measured"; splitting dW^T's GEMM gained nothing).
// With another BLAS the split only costs a few more calls.
constexpr std::int64_t kSmallGemmMacs = 500000;

// Block size for splitting a dimension of size D, each unit of which costs `macs`
// multiply-adds, into even blocks of at most kSmallGemmMacs (at least one unit each).
std::int64_t gemm_block(std::int64_t D, std::int64_t macs) {
  const std::int64_t blocks = std::max<std::int64_t>(1, (D * macs + kSmallGemmMacs - 1) / kSmallGemmMacs);
  return (D + blocks - 1) / blocks;
}

// Scratch memory that stays allocated across calls (one per thread and element type):
// no page faults and no zero-filling of fresh buffers in the hot loop.
enum ScratchSlot { kColumns, kColumnGrad, kPadded, kPaddedGrad };
template <class T>
T* scratch(ScratchSlot slot, std::int64_t n) {
  thread_local std::vector<T> buffers[4];
  if (buffers[slot].size() < static_cast<std::size_t>(n)) buffers[slot].resize(static_cast<std::size_t>(n));
  return buffers[slot].data();
}

// Threads for N images of `macs` multiply-adds each: one when the whole batch is small
// (waking a thread costs more than the work; gradient checks call tiny convolutions
// thousands of times), else up to one per image.
constexpr std::int64_t kParallelMacs = std::int64_t{1} << 18;
// Slabs of images for the weight gradient's partial sums (conv2d backward): fixed, so the sum
// is the same for every thread count; at most this many threads share one backward.
constexpr std::int64_t kGradSlabs = 16;
int image_threads(std::int64_t N, std::int64_t macs) {
  if (N * macs < kParallelMacs) return 1;
  adapt_threads();
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(num_threads(), N)));
}

// f(thread, first image, end image) with the N images split evenly over T threads.
template <class F>
void over_images(std::int64_t N, int T, F&& f) {
#ifdef _OPENMP
  if (T > 1 && !omp_in_parallel()) {
    FirstException error;  // an exception in one thread reaches the caller (core/parallel.h)
#pragma omp parallel num_threads(T)
    {  // (the runtime may grant fewer than T threads: split over those it gave)
      const std::int64_t t = omp_get_thread_num(), team = omp_get_num_threads(), chunk = (N + team - 1) / team;
      const std::int64_t b = t * chunk, e = std::min(N, b + chunk);
      if (b < e) error.run([&] { f(static_cast<int>(t), b, e); });
    }
    error.rethrow();
    return;
  }
#endif
  f(0, 0, N);
}

}  // namespace

// conv2d's VJP, defined right below conv2d.
static void conv2d_backward(const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& gy, Grads& dx);

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int padding) {
  const ConvGeometry g = conv_geometry(x, w, b, stride, padding, "conv2d");
  Tensor y = Tensor::empty({g.N, g.O, g.OH, g.OW}, x.dtype(), "conv2d");
  dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pw = w.data<T>();
    const T* pb = b.defined() ? b.data<T>() : nullptr;
    T* py = y.data<T>();
    const std::int64_t P = g.pixels(), K = g.patch(), rows = rows_per_block(g, sizeof(T));
    over_images(g.N, image_threads(g.N, g.O * K * P), [&](int, std::int64_t n0, std::int64_t n1) {
      T* col = scratch<T>(kColumns, K * rows * g.OW);
      T* xp = scratch<T>(kPadded, g.C * (g.H + 2 * g.pad) * (g.W + 2 * g.pad));
      for (std::int64_t n = n0; n < n1; ++n) {
        T* yn = py + n * g.O * P;
        pad_image(px + n * g.C * g.H * g.W, xp, g);
        if (pb)  // y_n = b (broadcast over pixels), then y_n += W col_n
          for (std::int64_t o = 0; o < g.O; ++o) std::fill(yn + o * P, yn + (o + 1) * P, pb[o]);
        for (std::int64_t i0 = 0; i0 < g.OH; i0 += rows) {  // one block (usually the whole image)
          const std::int64_t i1 = std::min(g.OH, i0 + rows), L = (i1 - i0) * g.OW;
          im2col(xp, col, i0, i1, g);
          const std::int64_t kb = gemm_block(K, g.O * L);
          for (std::int64_t k0 = 0; k0 < K; k0 += kb)  // y_n += W[:, k0..k1) col_n[k0..k1, :]
            gemm<T>(false, false, g.O, L, std::min(kb, K - k0), T(1), pw + k0, K, col + k0 * L, L,
                    (pb || k0 > 0) ? T(1) : T(0), yn + i0 * g.OW, P);
        }
      }
    });
  });
  record(y, "conv2d", {x, w, b}, Saved{.inputs = {0, 1}},
         [x = x.detach(), w = w.detach(), g](const Tensor& gy, Grads& dx) { conv2d_backward(x, w, g, gy, dx); });
  return y;
}

// conv2d's VJP (the formulas above the forward), image by image: gy = dL/dy (N x O x OH x OW);
// adds dL/dx, dL/dw and dL/db for the inputs that want one. x and w are the forward's inputs.
static void conv2d_backward(const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& gy, Grads& dx) {
  dispatch_float(x.dtype(), "conv2d backward", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pw = w.data<T>();
    const T* pg = gy.data<T>();
    const bool want_x = dx.wants(0), want_w = dx.wants(1), want_b = dx.wants(2);
    const std::int64_t P = g.pixels(), K = g.patch(), rows = rows_per_block(g, sizeof(T));
    const int threads = image_threads(g.N, g.O * K * P);
    const std::int64_t padded = g.C * (g.H + 2 * g.pad) * (g.W + 2 * g.pad);
    Tensor gx = want_x ? Tensor::empty(x.shape(), x.dtype()) : Tensor();
    T* pgx = want_x ? gx.data<T>() : nullptr;
    // dW and db are sums over the images. Their partial sums are kept per *slab* of images
    // (a fixed split of the batch into S slabs, each summed in image order by one thread),
    // not per thread, and the slabs are added in order: so dW and db do not depend on the
    // thread count, which adaptive threads (core/parallel.h) may change between steps.
    // Partial sums: dW^T (K x O) and db (O, in double), one of each per slab.
    const std::int64_t S = std::min(g.N, kGradSlabs);
    std::vector<T> dwt_parts(want_w ? static_cast<std::size_t>(S * K * g.O) : 0, T(0));
    std::vector<double> db_parts(want_b ? static_cast<std::size_t>(S * g.O) : 0, 0.0);
    over_images(S, static_cast<int>(std::min<std::int64_t>(threads, S)), [&](int, std::int64_t s0, std::int64_t s1) {
      for (std::int64_t t = s0; t < s1; ++t) {  // slab t: images [t N / S, (t + 1) N / S)
        const std::int64_t n0 = t * g.N / S, n1 = (t + 1) * g.N / S;
        T* col = scratch<T>(kColumns, K * rows * g.OW);
        T* dcol = scratch<T>(kColumnGrad, K * rows * g.OW);
        T* xp = scratch<T>(kPadded, padded);
        T* dxp = scratch<T>(kPaddedGrad, padded);
        T* dwt = want_w ? dwt_parts.data() + t * K * g.O : nullptr;
        for (std::int64_t n = n0; n < n1; ++n) {
          const T* gn = pg + n * g.O * P;
          if (want_w) pad_image(px + n * g.C * g.H * g.W, xp, g);
          if (want_x) std::fill(dxp, dxp + padded, T(0));
          for (std::int64_t i0 = 0; i0 < g.OH; i0 += rows) {
            const std::int64_t i1 = std::min(g.OH, i0 + rows), L = (i1 - i0) * g.OW;
            const T* gblock = gn + i0 * g.OW;  // O x L, leading dimension P
            if (want_w) {  // this block's part of the weight gradient, added to the slab's dW^T
              im2col(xp, col, i0, i1, g);
              conv2d_weight_grad(col, gblock, P, L, dwt, g);
            }
            if (want_x) {  // dx_n = col2im(W^T g_n)
              const std::int64_t kb = gemm_block(K, g.O * L);
              for (std::int64_t k0 = 0; k0 < K; k0 += kb)  // rows k0..k1 of dcol = W^T g_n
                gemm<T>(true, false, std::min(kb, K - k0), L, g.O, T(1), pw + k0, K, gblock, P, T(0), dcol + k0 * L, L);
              col2im(dcol, dxp, i0, i1, g);
            }
          }
          if (want_x) unpad_image(dxp, pgx + n * g.C * g.H * g.W, g);
          if (want_b)  // db[o] += sum over pixels of g_n[o, :]
            for (std::int64_t o = 0; o < g.O; ++o) {
              const T* row = gn + o * P;
              T s = 0;
#pragma omp simd reduction(+ : s)
              for (std::int64_t k = 0; k < P; ++k) s += row[k];
              db_parts[t * g.O + o] += s;
            }
        }
      }
    });
    if (want_x) dx.add(0, gx);
    if (want_w) {  // dW[o, k] = sum over slabs of dW^T[k, o]
      Tensor gw = zeros(w.shape(), w.dtype());
      T* pgw = gw.data<T>();
      for (std::int64_t t = 0; t < S; ++t)
        for (std::int64_t k = 0; k < K; ++k)
          for (std::int64_t o = 0; o < g.O; ++o) pgw[o * K + k] += dwt_parts[(t * K + k) * g.O + o];
      dx.add(1, gw);
    }
    if (want_b) {
      Tensor gb = Tensor::empty({g.O}, w.dtype());
      T* pgb = gb.data<T>();
      for (std::int64_t o = 0; o < g.O; ++o) {
        double acc = 0;
        for (std::int64_t t = 0; t < S; ++t) acc += db_parts[t * g.O + o];
        pgb[o] = static_cast<T>(acc);
      }
      dx.add(2, gb);
    }
  });
}

// ---------------------------------------------------------------- conv2d_naive (the plain twin)
//
// y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] x[n, c, i s + p - pad, j s + q - pad]
// VJP, straight from the same sum (each term w * x sends g * x to w and g * w to x):
//   dw[o, c, p, q] += g[n, o, i, j] x[n, c, ih, iw]
//   dx[n, c, ih, iw] += g[n, o, i, j] w[o, c, p, q]
//   db[o] += g[n, o, i, j]
Tensor conv2d_naive(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int padding) {
  const ConvGeometry g = conv_geometry(x, w, b, stride, padding, "conv2d_naive");
  Tensor y = Tensor::empty({g.N, g.O, g.OH, g.OW}, x.dtype(), "conv2d_naive");
  // Visit every (n, o, i, j, c, p, q) term of the sum whose input pixel lies inside the image.
  auto for_each_term = [g](auto&& f) {
    for (std::int64_t n = 0; n < g.N; ++n)
      for (std::int64_t o = 0; o < g.O; ++o)
        for (std::int64_t i = 0; i < g.OH; ++i)
          for (std::int64_t j = 0; j < g.OW; ++j)
            for (std::int64_t c = 0; c < g.C; ++c)
              for (std::int64_t p = 0; p < g.KH; ++p)
                for (std::int64_t q = 0; q < g.KW; ++q) {
                  const std::int64_t ih = i * g.stride + p - g.pad, iw = j * g.stride + q - g.pad;
                  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                  f(((n * g.O + o) * g.OH + i) * g.OW + j,    // y index
                    ((n * g.C + c) * g.H + ih) * g.W + iw,    // x index
                    ((o * g.C + c) * g.KH + p) * g.KW + q, o);  // w index, channel
                }
  };
  dispatch_float(x.dtype(), "conv2d_naive", [&](auto tag) {
    using T = decltype(tag);
    const T *px = x.data<T>(), *pw = w.data<T>();
    T* py = y.data<T>();
    for (std::int64_t k = 0; k < y.numel(); ++k) py[k] = b.defined() ? b.data<T>()[(k / g.pixels()) % g.O] : T(0);
    for_each_term([&](std::int64_t yi, std::int64_t xi, std::int64_t wi, std::int64_t) { py[yi] += pw[wi] * px[xi]; });
  });
  record(y, "conv2d_naive", {x, w, b}, Saved{.inputs = {0, 1}},
         [x = x.detach(), w = w.detach(), g, for_each_term](const Tensor& gy, Grads& dx) {
    Tensor gx = zeros(x.shape(), x.dtype()), gw = zeros(w.shape(), w.dtype()), gb = zeros({g.O}, w.dtype());
    dispatch_float(x.dtype(), "conv2d_naive backward", [&](auto tag) {
      using T = decltype(tag);
      const T *px = x.data<T>(), *pw = w.data<T>(), *pg = gy.data<T>();
      T *pgx = gx.data<T>(), *pgw = gw.data<T>(), *pgb = gb.data<T>();
      for_each_term([&](std::int64_t yi, std::int64_t xi, std::int64_t wi, std::int64_t) {
        pgw[wi] += pg[yi] * px[xi];
        pgx[xi] += pg[yi] * pw[wi];
      });
      for (std::int64_t k = 0; k < gy.numel(); ++k) pgb[(k / g.pixels()) % g.O] += pg[k];
    });
    dx.add(0, gx);
    dx.add(1, gw);
    if (dx.wants(2)) dx.add(2, gb);
  });
  return y;
}

}  // namespace chalk
