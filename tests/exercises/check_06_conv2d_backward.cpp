// tests/exercises/check_06_conv2d_backward.cpp — exercise 06's check
// (tests/exercises/check_06_conv2d_backward.h).
#include "tests/exercises/check_06_conv2d_backward.h"

#include <algorithm>
#include <cmath>

#include "core/exercise.h"
#include "core/gemm.h"
#include "ops/conv.h"

namespace chalk::checker {

namespace {

struct Geometry {
  std::int64_t N, C, H, W, O, K;
  int stride, pad;
  std::int64_t blocks = 1;  // blocks of output rows per image (conv2d's way with large images)
};

std::string describe(const Geometry& s, bool dx) {
  return str_cat("x ", shape_str({s.N, s.C, s.H, s.W}), ", w ", shape_str({s.O, s.C, s.K, s.K}), ", stride ",
                 s.stride, ", padding ", s.pad,
                 !dx ? "" : s.stride < s.K ? " (overlapping windows)" : " (windows apart)",
                 s.blocks > 1 ? str_cat(", in ", s.blocks, " blocks of output rows") : std::string());
}

std::vector<double> rounded_to_float(std::vector<double> v) {
  for (auto& e : v) e = static_cast<double>(static_cast<float>(e));
  return v;
}

// Output rows per block, for `blocks` blocks of an image's OH rows.
std::int64_t block_rows(const ConvGeometry& geo, std::int64_t blocks) {
  return std::max<std::int64_t>(1, (geo.OH + blocks - 1) / blocks);
}

// dx from the pieces, as conv2d's backward does it: per image and block of output rows,
// dcol = W^T g (the gradient of the column matrix, a matrix product's), then col2im into the
// zeroed padded gradient, then unpad_image.
template <class T>
std::vector<double> dx_from_pieces(const Col2im<T>& col2im, const std::vector<double>& w, const std::vector<double>& g,
                                   const ConvGeometry& geo, std::int64_t blocks) {
  const std::int64_t K = geo.patch(), P = geo.pixels(), padded = geo.C * (geo.H + 2 * geo.pad) * (geo.W + 2 * geo.pad);
  const std::vector<T> wt(w.begin(), w.end()), gt(g.begin(), g.end());
  std::vector<T> dx(static_cast<std::size_t>(geo.N * geo.C * geo.H * geo.W)), dxp(static_cast<std::size_t>(padded)),
      dcol(static_cast<std::size_t>(K * P));
  const std::int64_t rows = block_rows(geo, blocks);
  for (std::int64_t n = 0; n < geo.N; ++n) {
    std::fill(dxp.begin(), dxp.end(), T(0));
    for (std::int64_t i0 = 0; i0 < geo.OH; i0 += rows) {
      const std::int64_t i1 = std::min(geo.OH, i0 + rows), L = (i1 - i0) * geo.OW;
      gemm<T>(true, false, K, L, geo.O, T(1), wt.data(), K, gt.data() + n * geo.O * P + i0 * geo.OW, P, T(0),
              dcol.data(), L);
      col2im(dcol.data(), dxp.data(), i0, i1, geo);
    }
    unpad_image(dxp.data(), dx.data() + n * geo.C * geo.H * geo.W, geo);
  }
  return {dx.begin(), dx.end()};
}

// dW from the pieces, as conv2d's backward does it: one running dW^T (K x O, zeroed once),
// to which every image's every block adds its part; then dW = its transpose (O x K).
// `raw` gets the running sum as the student left it.
template <class T>
std::vector<double> dw_from_pieces(const WeightGrad<T>& weight_grad, const std::vector<double>& x,
                                   const std::vector<double>& g, const ConvGeometry& geo, std::int64_t blocks,
                                   std::vector<double>* raw) {
  const std::int64_t K = geo.patch(), P = geo.pixels(), padded = geo.C * (geo.H + 2 * geo.pad) * (geo.W + 2 * geo.pad);
  const std::vector<T> xt(x.begin(), x.end()), gt(g.begin(), g.end());
  std::vector<T> dwt(static_cast<std::size_t>(K * geo.O), T(0)), xp(static_cast<std::size_t>(padded)),
      col(static_cast<std::size_t>(K * P));
  const std::int64_t rows = block_rows(geo, blocks);
  for (std::int64_t n = 0; n < geo.N; ++n) {
    pad_image(xt.data() + n * geo.C * geo.H * geo.W, xp.data(), geo);
    for (std::int64_t i0 = 0; i0 < geo.OH; i0 += rows) {
      const std::int64_t i1 = std::min(geo.OH, i0 + rows), L = (i1 - i0) * geo.OW;
      im2col(xp.data(), col.data(), i0, i1, geo);
      weight_grad(col.data(), gt.data() + n * geo.O * P + i0 * geo.OW, P, L, dwt.data(), geo);
    }
  }
  raw->assign(dwt.begin(), dwt.end());
  std::vector<double> dw(dwt.size());
  for (std::int64_t o = 0; o < geo.O; ++o)
    for (std::int64_t k = 0; k < K; ++k) dw[o * K + k] = dwt[k * geo.O + o];
  return dw;
}

bool all_close(const std::vector<double>& a, const std::vector<double>& b, double atol, double rtol) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(std::abs(a[i] - b[i]) <= atol + rtol * std::abs(b[i]))) return false;
  return true;
}

// What the findings below read, per case.
struct Run {
  bool dx = true;  // a dx case (else dW)
  std::string name;
  Geometry s;
  std::vector<double> yours, truth, raw, x, g;
  std::vector<double> coverage;  // dx cases: how many windows read each pixel (H x W)
  double atol = 1e-6, rtol = 1e-5;
  bool ran = false;
};

}  // namespace

Verdict check_06(const Conv2dBackward& yours) {
  Checker c(6, "col2im and conv2d_weight_grad");
  const std::vector<std::pair<Geometry, CaseKind>> dx_cases = {
      {{2, 2, 6, 6, 3, 2, 2, 0}, CaseKind::kRegular},     // 2 x 2 windows, stride 2: each pixel in one window
      {{1, 3, 6, 9, 2, 3, 3, 0}, CaseKind::kRegular},
      {{2, 2, 4, 6, 3, 2, 2, 1}, CaseKind::kRegular},     // with padding
      {{2, 2, 5, 6, 3, 3, 1, 0}, CaseKind::kSpecial},     // 3 x 3, stride 1: up to 9 windows per pixel
      {{2, 3, 6, 7, 2, 3, 1, 1}, CaseKind::kSpecial},
      {{1, 2, 7, 6, 3, 3, 2, 1}, CaseKind::kSpecial},     // stride 2: windows share a row or a column
      {{1, 2, 9, 8, 2, 3, 1, 2, 3}, CaseKind::kSpecial},  // in blocks of output rows
      {{2, 3, 10, 12, 4, 3, 1, 1}, CaseKind::kFloat32},   // rows of 12 (chalk adds them in two blocks of 8)
      {{1, 2, 9, 21, 3, 3, 1, 1}, CaseKind::kFloat32},    // rows of 21
      {{1, 2, 11, 13, 2, 3, 2, 1}, CaseKind::kFloat32},
  };
  const std::vector<std::pair<Geometry, CaseKind>> dw_cases = {
      {{3, 2, 5, 5, 3, 3, 1, 0}, CaseKind::kRegular},     // three images
      {{2, 3, 6, 7, 4, 2, 2, 1}, CaseKind::kRegular},
      {{2, 2, 8, 7, 3, 3, 1, 1, 3}, CaseKind::kRegular},  // in blocks of output rows
      {{2, 3, 10, 12, 4, 3, 1, 1}, CaseKind::kFloat32},
  };
  std::vector<Run> runs;
  std::uint64_t seed = 600;
  for (int pass = 0; pass < 2; ++pass) {
    const bool dx = pass == 0;
    for (const auto& [s, kind] : dx ? dx_cases : dw_cases) {
      ++seed;
      const bool f32 = kind == CaseKind::kFloat32;
      const std::string name = str_cat(f32 ? "float32: " : "", dx ? "dx of " : "dW of ", describe(s, dx));
      runs.push_back(Run{});
      Run& r = runs.back();
      r.dx = dx;
      r.name = name;
      r.s = s;
      c.run(name, [&] {
        const Shape xs{s.N, s.C, s.H, s.W}, ws{s.O, s.C, s.K, s.K};
        std::vector<double> x = random_values(static_cast<std::size_t>(numel(xs)), seed);
        std::vector<double> w = random_values(static_cast<std::size_t>(numel(ws)), seed + 1000);
        const ConvGeometry geo = conv_geometry(from_vector(x, xs), from_vector(w, ws), Tensor(), s.stride, s.pad,
                                               "check_06");
        std::vector<double> g = random_values(static_cast<std::size_t>(geo.N * geo.O * geo.OH * geo.OW), seed + 2000);
        if (f32) x = rounded_to_float(x), w = rounded_to_float(w), g = rounded_to_float(g);
        // the truth: central differences of conv2d's forward (a linear map of x, and of w)
        Case k;
        k.name = name;
        k.kind = kind;
        if (kind == CaseKind::kSpecial)
          k.special = str_cat("overlapping windows (kernel ", s.K, ", stride ", s.stride,
                              "): pixels seen by several windows");
        if (dx) {
          k.shape = xs;
          k.truth = central_difference_vjp(
              [&](const std::vector<double>& v) {
                return values_of(conv2d(from_vector(v, xs), from_vector(w, ws), Tensor(), s.stride, s.pad));
              },
              x, g);
          k.yours = f32 ? dx_from_pieces<float>(yours.col2im_f32, w, g, geo, s.blocks)
                        : dx_from_pieces<double>(yours.col2im, w, g, geo, s.blocks);
          // how many windows read each pixel: the gradient of the sum of a conv2d with a
          // kernel of ones
          r.coverage = central_difference_vjp(
              [&](const std::vector<double>& v) {
                return values_of(conv2d(from_vector(v, {1, 1, s.H, s.W}), ones({1, 1, s.K, s.K}, DType::Float64),
                                        Tensor(), s.stride, s.pad));
              },
              std::vector<double>(static_cast<std::size_t>(s.H * s.W), 0.0),
              std::vector<double>(static_cast<std::size_t>(geo.OH * geo.OW), 1.0));
        } else {
          k.shape = ws;
          k.truth = central_difference_vjp(
              [&](const std::vector<double>& v) {
                return values_of(conv2d(from_vector(x, xs), from_vector(v, ws), Tensor(), s.stride, s.pad));
              },
              w, g);
          k.yours = f32 ? dw_from_pieces<float>(yours.weight_grad_f32, x, g, geo, s.blocks, &r.raw)
                        : dw_from_pieces<double>(yours.weight_grad, x, g, geo, s.blocks, &r.raw);
        }
        if (f32) k.atol = k.rtol = 1e-4;
        r.yours = k.yours, r.truth = k.truth, r.x = x, r.g = g, r.atol = k.atol, r.rtol = k.rtol, r.ran = true;
        return k;
      });
    }
  }

  // ---- the diagnoses of this exercise
  auto right = [](const Run& r) { return all_close(r.yours, r.truth, r.atol, r.rtol); };
  // col2im copies instead of adding: every case whose windows are apart is right, and where
  // windows overlap only pixels that several windows read are wrong
  {
    bool apart_right = true, only_shared = true;
    std::string evidence;
    for (const Run& r : runs) {
      if (!r.ran || !r.dx) continue;
      if (r.s.stride >= r.s.K) {
        apart_right = apart_right && right(r);
        continue;
      }
      const std::size_t plane = r.coverage.size();
      for (std::size_t i = 0; i < r.yours.size(); ++i) {
        if (std::abs(r.yours[i] - r.truth[i]) <= r.atol + r.rtol * std::abs(r.truth[i])) continue;
        const double seen_by = std::round(r.coverage[i % plane]);
        if (seen_by <= 1) only_shared = false;
        if (evidence.empty())
          evidence = str_cat("case \"", r.name, "\": pixel [", i / (plane * r.s.C), ", ", (i / plane) % r.s.C, ", ",
                             (i % plane) / r.s.W, ", ", i % r.s.W, "] of x is read by ", seen_by,
                             " windows: yours ", r.yours[i], ", true ", r.truth[i]);
      }
    }
    if (apart_right && only_shared && !evidence.empty())
      c.add_finding("overlap",
                    "pixels seen by several windows keep only one window's gradient: col2im must add each entry "
                    "of dcol to the pixel it was copied from (+=), not overwrite the pixel with it",
                    evidence);
  }
  // right without padding, wrong with it: the padded buffer's geometry
  {
    bool unpadded_right = true, padded_wrong = false;
    const Run* shown = nullptr;
    for (const Run& r : runs) {
      if (!r.ran || !r.dx) continue;
      if (r.s.pad == 0 && !right(r)) unpadded_right = false;
      if (r.s.pad > 0 && !right(r) && !shown) padded_wrong = true, shown = &r;
    }
    if (unpadded_right && padded_wrong)
      c.add_finding("padding",
                    "right without padding, wrong with it: dxp is the padded image's gradient, C x (H + 2 pad) x "
                    "(W + 2 pad), and pixel (i stride + p, j stride + q) of it is where column (i, j) of row "
                    "(c, p, q) came from (no pad to subtract, and rows of W + 2 pad elements)",
                    str_cat("case \"", shown->name, "\""));
  }
  // the weight gradient: transposed, or not summed over the images
  for (const Run& r : runs) {
    if (!r.ran || r.dx || right(r)) continue;
    const std::string where = str_cat("case \"", r.name, "\"");
    if (all_close(r.raw, r.truth, r.atol, r.rtol)) {
      c.add_finding("transpose",
                    "the weight gradient is transposed: dwt holds dW^T, K x O (row (c, p, q), column o), and "
                    "yours wrote dW, O x K, into it",
                    where);
      break;
    }
    // is yours one image's part alone? (the truth of image n by itself)
    const Shape xs{r.s.N, r.s.C, r.s.H, r.s.W}, ws{r.s.O, r.s.C, r.s.K, r.s.K};
    const std::int64_t x_image = r.s.C * r.s.H * r.s.W, g_image = static_cast<std::int64_t>(r.g.size()) / r.s.N;
    std::vector<double> w0(static_cast<std::size_t>(numel(ws)), 0.0);
    bool found = false;
    for (std::int64_t n = r.s.N - 1; n >= 0 && !found && r.s.N > 1; --n) {
      const std::vector<double> xn(r.x.begin() + n * x_image, r.x.begin() + (n + 1) * x_image);
      const std::vector<double> gn(r.g.begin() + n * g_image, r.g.begin() + (n + 1) * g_image);
      const std::vector<double> one = central_difference_vjp(
          [&](const std::vector<double>& v) {
            return values_of(conv2d(from_vector(xn, {1, r.s.C, r.s.H, r.s.W}), from_vector(v, ws), Tensor(),
                                    r.s.stride, r.s.pad));
          },
          w0, gn);
      if (all_close(r.yours, one, r.atol, r.rtol)) {
        c.add_finding("images",
                      str_cat("the weight gradient is not summed over the images: yours is image ", n,
                              "'s part alone. conv2d's backward calls the function for every image (and block of "
                              "rows) with the same running sum dwt: add to it, do not overwrite it"),
                      where);
        found = true;
      }
    }
    if (found) break;
  }
  return c.verdict();
}

namespace {
template <class T>
Col2im<T> stub_col2im() {
  return [](const T*, T*, std::int64_t, std::int64_t, const ConvGeometry&) { exercise_not_done(6); };
}
template <class T>
WeightGrad<T> stub_weight_grad() {
  return [](const T*, const T*, std::int64_t, std::int64_t, T*, const ConvGeometry&) { exercise_not_done(6); };
}
const Register registered{
    {6,
     [] {
       return check_06({chalk::col2im<double>, chalk::conv2d_weight_grad<double>, chalk::col2im<float>,
                        chalk::conv2d_weight_grad<float>});
     },
     [] {
       return check_06({stub_col2im<double>(), stub_weight_grad<double>(), stub_col2im<float>(),
                        stub_weight_grad<float>()});
     }}};
}  // namespace

}  // namespace chalk::checker
