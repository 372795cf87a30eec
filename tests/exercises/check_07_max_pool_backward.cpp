// tests/exercises/check_07_max_pool_backward.cpp — exercise 07's check
// (tests/exercises/check_07_max_pool_backward.h).
#include "tests/exercises/check_07_max_pool_backward.h"

#include <cmath>
#include <limits>

#include "core/exercise.h"
#include "ops/pooling.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace chalk::checker {

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

struct Input {
  std::string name;
  CaseKind kind = CaseKind::kRegular;
  Shape shape;  // N x C x H x W
  int kernel = 2, stride = 2;
  std::vector<double> x, g;
  std::vector<double> dx, y;  // worked by hand (the NaN cases); empty: from central differences
  std::string special;        // kSpecial: what is special
  bool check_y = false;       // compare y too
  bool nudge = false;         // ties: take the truth where each element is nudged down by its position
};

std::int64_t out_size(std::int64_t n, int kernel, int stride) { return (n - kernel) / stride + 1; }

// Max pooling from ops no exercise touches: the windows gathered with index_select, then the
// maximum of each (reduce.h's max). For the truth only (its NaN rule is not max_pool2d's).
Tensor pool_twin(const Tensor& x, int kernel, int stride) {
  const std::int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  const std::int64_t OH = out_size(H, kernel, stride), OW = out_size(W, kernel, stride);
  std::vector<std::int64_t> window;  // the plane indices of every window's elements
  for (std::int64_t i = 0; i < OH; ++i)
    for (std::int64_t j = 0; j < OW; ++j)
      for (int p = 0; p < kernel; ++p)
        for (int q = 0; q < kernel; ++q) window.push_back((i * stride + p) * W + (j * stride + q));
  const Tensor gathered = index_select(x.reshape({N * C, H * W}), 1,
                                       from_vector(window, {static_cast<std::int64_t>(window.size())}));
  return max(gathered.reshape({N * C * OH * OW, std::int64_t{kernel} * kernel}), 1).reshape({N, C, OH, OW});
}

// x nudged down by each element's index in its plane: of equal values the earliest in row-major
// order is now the largest (delta well below the inputs' spacing, well above central
// differences' step).
std::vector<double> nudged(std::vector<double> x, std::int64_t plane, double delta) {
  for (std::size_t e = 0; e < x.size(); ++e) x[e] -= delta * static_cast<double>(static_cast<std::int64_t>(e) % plane);
  return x;
}

// y and dx from the student's pieces, plane by plane, as max_pool2d runs them.
template <class T>
void run_pieces(const PoolPlane<T>& plane, const PoolPlane2x2<T>& plane_2x2, const PoolVjp<T>& vjp, const Input& in,
                std::vector<double>* y, std::vector<double>* dx) {
  const std::int64_t planes = in.shape[0] * in.shape[1], H = in.shape[2], W = in.shape[3];
  const std::int64_t OH = out_size(H, in.kernel, in.stride), OW = out_size(W, in.kernel, in.stride);
  const std::vector<T> xt(in.x.begin(), in.x.end()), gt(in.g.begin(), in.g.end());
  std::vector<T> yt(static_cast<std::size_t>(planes * OH * OW)), dxt(static_cast<std::size_t>(planes * H * W), T(0));
  std::vector<std::int64_t> arg(static_cast<std::size_t>(OH * OW));
  for (std::int64_t p = 0; p < planes; ++p) {
    std::fill(arg.begin(), arg.end(), std::int64_t{-1});
    if (in.kernel == 2 && in.stride == 2) plane_2x2(xt.data() + p * H * W, W, OH, OW, yt.data() + p * OH * OW, arg.data());
    else plane(xt.data() + p * H * W, W, OH, OW, in.kernel, in.stride, yt.data() + p * OH * OW, arg.data());
    for (std::int64_t k = 0; k < OH * OW; ++k)  // an index outside the plane would write outside dx
      if (arg[k] < 0 || arg[k] >= H * W)
        fail("argmax[", k / OW, ", ", k % OW, "] of plane ", p, " is ", arg[k], ", outside the ", H, " x ", W,
             " plane (an argmax is a flat index into the plane, row W + column)");
    vjp(arg.data(), gt.data() + p * OH * OW, OH * OW, dxt.data() + p * H * W);
  }
  y->assign(yt.begin(), yt.end());
  dx->assign(dxt.begin(), dxt.end());
}

struct Run {
  const Input* in = nullptr;
  std::vector<double> yours, truth, coverage;  // coverage: how many windows route to each element
  double atol = 1e-6, rtol = 1e-5;
  bool ran = false;
};

std::vector<Input> inputs() {
  std::vector<Input> all;
  std::uint64_t seed = 700;
  auto random_input = [&](const std::string& what, CaseKind kind, Shape shape, int kernel, int stride) {
    Input in;
    in.kind = kind;
    in.shape = shape;
    in.kernel = kernel;
    in.stride = stride;
    in.name = str_cat(kind == CaseKind::kFloat32 ? "float32: " : "", what, ": x ", shape_str(shape), ", kernel ",
                      kernel, ", stride ", stride);
    in.x = random_values(static_cast<std::size_t>(numel(shape)), ++seed);
    const std::int64_t out = shape[0] * shape[1] * out_size(shape[2], kernel, stride) * out_size(shape[3], kernel, stride);
    in.g = random_values(static_cast<std::size_t>(out), ++seed);
    if (kind == CaseKind::kFloat32)
      for (auto* v : {&in.x, &in.g})
        for (auto& e : *v) e = static_cast<double>(static_cast<float>(e));
    return in;
  };
  // random values: no ties
  all.push_back(random_input("random values", CaseKind::kRegular, {2, 3, 6, 8}, 2, 2));
  all.back().check_y = true;
  all.push_back(random_input("random values, odd sizes (the last row and column fill no window)", CaseKind::kRegular,
                             {2, 2, 5, 7}, 2, 2));
  all.push_back(random_input("random values", CaseKind::kRegular, {1, 2, 6, 7}, 3, 3));
  // overlapping windows
  for (const auto& [k, s] : {std::pair{3, 1}, std::pair{2, 1}, std::pair{3, 2}}) {
    all.push_back(random_input("overlapping windows", CaseKind::kSpecial, {2, 2, 6, 7}, k, s));
    all.back().special = str_cat("overlapping windows (kernel ", k, ", stride ", s,
                                 "): an element that is the maximum of several windows");
  }
  // ties: small integers, nudged for the truth
  for (const auto& [k, s] : {std::pair{2, 2}, std::pair{3, 3}, std::pair{3, 1}}) {
    Input in = random_input("ties (values -2 .. 2)", CaseKind::kSpecial, {2, 2, 6, 6}, k, s);
    for (auto& e : in.x) e = std::round(2 * e);
    in.nudge = true;
    in.check_y = k == 2;
    all.push_back(in);
  }
  // NaN, worked by hand (PyTorch: F.max_pool2d gives nan and routes the gradient to the NaN,
  // the last one of several; tests/test_nan_propagation.cpp)
  {
    Input in;
    in.name = "NaN: x [1, 1, 2, 6] = [[1, nan, nan, 5, 0, 1], [3, 4, 2, nan, 9, 3]], kernel 2, stride 2";
    in.kind = CaseKind::kSpecial;
    in.special = "a NaN in the windows [0, 0, 0, 0] (one NaN) and [0, 0, 0, 1] (two): the NaN is the maximum";
    in.shape = {1, 1, 2, 6};
    in.x = {1, kNan, kNan, 5, 0, 1, 3, 4, 2, kNan, 9, 3};
    in.g = {0.5, -2, 3};
    in.dx = {0, 0.5, 0, 0, 0, 0, 0, 0, 0, -2, 3, 0};
    in.y = {kNan, kNan, 9};
    in.check_y = true;
    all.push_back(in);
  }
  {
    Input in;
    in.name = "NaN: x [1, 1, 3, 3] = [[1, 2, 3], [4, nan, 6], [7, 8, 9]], kernel 2, stride 1 (in every window)";
    in.kind = CaseKind::kSpecial;
    in.special = "a NaN in all four (overlapping) windows: each sends its gradient to it";
    in.shape = {1, 1, 3, 3};
    in.kernel = 2;
    in.stride = 1;
    in.x = {1, 2, 3, 4, kNan, 6, 7, 8, 9};
    in.g = {1, 2, 3, 4};
    in.dx = {0, 0, 0, 0, 10, 0, 0, 0, 0};
    all.push_back(in);
  }
  {
    Input in;
    in.name = "NaN: x [1, 1, 3, 3] = [[nan, 2, 3], [4, 5, 6], [7, nan, 1]], kernel 3, stride 1";
    in.kind = CaseKind::kSpecial;
    in.special = "two NaNs in the window [0, 0, 0, 0]: the last one is the maximum";
    in.shape = {1, 1, 3, 3};
    in.kernel = 3;
    in.stride = 1;
    in.x = {kNan, 2, 3, 4, 5, 6, 7, kNan, 1};
    in.g = {1.5};
    in.dx = {0, 0, 0, 0, 0, 0, 0, 1.5, 0};
    all.push_back(in);
  }
  // float32
  all.push_back(random_input("random values", CaseKind::kFloat32, {2, 4, 14, 14}, 2, 2));
  all.push_back(random_input("random values", CaseKind::kFloat32, {2, 2, 9, 8}, 3, 2));
  return all;
}

// "the window [n, c, i, j] holds its maximum v at (r, c) and (r, c)": the first tied window.
std::string first_tie(const Input& in, const std::vector<double>& y) {
  const std::int64_t C = in.shape[1], H = in.shape[2], W = in.shape[3];
  const std::int64_t OH = out_size(H, in.kernel, in.stride), OW = out_size(W, in.kernel, in.stride);
  for (std::int64_t p = 0; p < in.shape[0] * C; ++p)
    for (std::int64_t i = 0; i < OH; ++i)
      for (std::int64_t j = 0; j < OW; ++j) {
        const double m = y[static_cast<std::size_t>((p * OH + i) * OW + j)];
        std::string at;
        int count = 0;
        for (int r = 0; r < in.kernel; ++r)
          for (int q = 0; q < in.kernel; ++q) {
            const std::int64_t u = i * in.stride + r, v = j * in.stride + q;
            if (in.x[static_cast<std::size_t>(p * H * W + u * W + v)] == m)
              at += str_cat(count++ ? " and " : "", "(", u, ", ", v, ")");
          }
        if (count > 1)
          return str_cat("a tie in the window [", p / C, ", ", p % C, ", ", i, ", ", j, "]: its maximum ", m,
                         " is at ", at, " of its plane");
      }
  return "ties";
}

// Which elements are a maximum that their window shares with another element.
std::vector<bool> tied_maxima(const Input& in) {
  const std::int64_t planes = in.shape[0] * in.shape[1], H = in.shape[2], W = in.shape[3];
  const std::int64_t OH = out_size(H, in.kernel, in.stride), OW = out_size(W, in.kernel, in.stride);
  const std::vector<double> y = values_of(pool_twin(from_vector(in.x, in.shape), in.kernel, in.stride));
  std::vector<bool> tied(in.x.size(), false);
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t i = 0; i < OH; ++i)
      for (std::int64_t j = 0; j < OW; ++j) {
        std::vector<std::size_t> at;
        for (int r = 0; r < in.kernel; ++r)
          for (int q = 0; q < in.kernel; ++q) {
            const auto e = static_cast<std::size_t>(p * H * W + (i * in.stride + r) * W + j * in.stride + q);
            if (in.x[e] == y[static_cast<std::size_t>((p * OH + i) * OW + j)]) at.push_back(e);
          }
        if (at.size() > 1)
          for (std::size_t e : at) tied[e] = true;
      }
  return tied;
}

// "n, c, row, column" of a flat index into N x C x H x W
std::string index_in(const Shape& s, std::size_t e) {
  const auto i = static_cast<std::int64_t>(e);
  return str_cat(i / (s[1] * s[2] * s[3]), ", ", (i / (s[2] * s[3])) % s[1], ", ", (i / s[3]) % s[2], ", ", i % s[3]);
}

bool close(double a, double b, double atol, double rtol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::abs(a - b) <= atol + rtol * std::abs(b);
}

}  // namespace

Verdict check_07(const MaxPoolPieces& yours) {
  Checker c(7, "max_pool2d_plane, max_pool2d_plane_2x2 and max_pool2d_vjp");
  const std::vector<Input> all = inputs();
  std::vector<Run> runs(all.size());
  for (std::size_t t = 0; t < all.size(); ++t) {
    const Input& in = all[t];
    Run& r = runs[t];
    r.in = &in;
    const bool f32 = in.kind == CaseKind::kFloat32;
    const std::int64_t plane = in.shape[2] * in.shape[3];
    std::vector<double> y, dx;
    std::string error;
    try {
      if (f32) run_pieces<float>(yours.plane_f32, yours.plane_2x2_f32, yours.vjp_f32, in, &y, &dx);
      else run_pieces<double>(yours.plane, yours.plane_2x2, yours.vjp, in, &y, &dx);
    } catch (const std::exception& e) {
      error = e.what();
    }
    // the truth
    std::vector<double> truth_dx = in.dx, truth_y = in.y;
    const Shape out_shape{in.shape[0], in.shape[1], out_size(in.shape[2], in.kernel, in.stride),
                          out_size(in.shape[3], in.kernel, in.stride)};
    if (truth_dx.empty()) {
      const std::vector<double> at = in.nudge ? nudged(in.x, plane, 1e-3) : in.x;
      const VectorFn forward = [&](const std::vector<double>& v) {
        return values_of(pool_twin(from_vector(v, in.shape), in.kernel, in.stride));
      };
      truth_dx = central_difference_vjp(forward, at, in.g);
      r.coverage = central_difference_vjp(forward, at, std::vector<double>(in.g.size(), 1.0));
      truth_y = values_of(pool_twin(from_vector(in.x, in.shape), in.kernel, in.stride));
    }
    const std::string special = in.nudge ? first_tie(in, truth_y) : in.special;
    auto make = [&](bool values) {
      if (!error.empty()) fail(error);
      Case k;
      k.name = values ? str_cat("y of ", in.name) : in.name;
      k.kind = in.kind;
      k.special = special;
      k.shape = values ? out_shape : in.shape;
      if (values) k.quantity = "value";
      k.yours = values ? y : dx;
      k.truth = values ? truth_y : truth_dx;
      if (f32) k.atol = k.rtol = 1e-5;
      return k;
    };
    c.run(in.name, [&] { return make(false); });
    if (in.check_y) c.run(str_cat("y of ", in.name), [&] { return make(true); });
    if (error.empty()) {
      r.yours = dx, r.truth = truth_dx, r.ran = true;
      if (f32) r.atol = r.rtol = 1e-5;
    }
  }

  // ---- the diagnoses of this exercise
  auto right = [](const Run& r) {
    for (std::size_t e = 0; e < r.yours.size(); ++e)
      if (!close(r.yours[e], r.truth[e], r.atol, r.rtol)) return false;
    return true;
  };
  // overwritten instead of added: right wherever windows are apart; where they overlap, wrong
  // only at elements that are the maximum of several windows
  {
    bool apart_right = true, only_shared = true;
    std::string evidence;
    for (const Run& r : runs) {
      if (!r.ran) continue;
      if (r.in->stride >= r.in->kernel) {
        apart_right = apart_right && right(r);
        continue;
      }
      if (r.coverage.empty()) continue;  // the NaN cases: no central differences
      for (std::size_t e = 0; e < r.yours.size(); ++e) {
        if (close(r.yours[e], r.truth[e], r.atol, r.rtol)) continue;
        const double maxima = std::round(r.coverage[e]);
        if (maxima <= 1) only_shared = false;
        if (evidence.empty())
          evidence = str_cat("case \"", r.in->name, "\": element [", index_in(r.in->shape, e),
                             "] of x is the maximum of ", maxima, " windows: yours ", r.yours[e], ", true ",
                             r.truth[e]);
      }
    }
    if (apart_right && only_shared && !evidence.empty())
      c.add_finding("overlap",
                    "an element that is the maximum of several overlapping windows keeps only one window's "
                    "gradient: max_pool2d_vjp must add each output's gradient to its argmax (+=), not overwrite it",
                    evidence);
  }
  // a tie sent to another of the tied maxima: every case without ties is right, and each
  // element that got a gradient it should not have holds a maximum that its window shares
  {
    bool untied_right = true;
    for (const Run& r : runs)
      if (r.ran && !r.in->nudge && r.in->kind != CaseKind::kSpecial) untied_right = untied_right && right(r);
    for (const Run& r : runs) {
      if (!untied_right || !r.ran || !r.in->nudge || right(r)) continue;
      const std::vector<bool> tied = tied_maxima(*r.in);
      bool at_tied = true;
      for (std::size_t e = 0; e < r.yours.size(); ++e)
        if (!close(r.yours[e], r.truth[e], r.atol, r.rtol) && r.yours[e] != 0 && !tied[e]) at_tied = false;
      if (at_tied)
        c.add_finding("special",
                      "a tie goes to another of the window's equal maxima: the gradient goes to the first of them "
                      "in row-major order (PyTorch's rule), and yours sends it to a later one",
                      str_cat("case \"", r.in->name, "\", ",
                              first_tie(*r.in, values_of(pool_twin(from_vector(r.in->x, r.in->shape), r.in->kernel,
                                                                   r.in->stride)))));
      break;
    }
  }
  return c.verdict();
}

namespace {
const Register registered{
    {7,
     [] {
       return check_07({chalk::max_pool2d_plane<double>, chalk::max_pool2d_plane_2x2<double>,
                        chalk::max_pool2d_vjp<double>, chalk::max_pool2d_plane<float>,
                        chalk::max_pool2d_plane_2x2<float>, chalk::max_pool2d_vjp<float>});
     },
     [] {
       MaxPoolPieces s;
       s.plane = [](const double*, std::int64_t, std::int64_t, std::int64_t, int, int, double*, std::int64_t*) {
         exercise_not_done(7);
       };
       s.plane_2x2 = [](const double*, std::int64_t, std::int64_t, std::int64_t, double*, std::int64_t*) {
         exercise_not_done(7);
       };
       s.vjp = [](const std::int64_t*, const double*, std::int64_t, double*) { exercise_not_done(7); };
       s.plane_f32 = [](const float*, std::int64_t, std::int64_t, std::int64_t, int, int, float*, std::int64_t*) {
         exercise_not_done(7);
       };
       s.plane_2x2_f32 = [](const float*, std::int64_t, std::int64_t, std::int64_t, float*, std::int64_t*) {
         exercise_not_done(7);
       };
       s.vjp_f32 = [](const std::int64_t*, const float*, std::int64_t, float*) { exercise_not_done(7); };
       return check_07(s);
     }}};
}  // namespace

}  // namespace chalk::checker
