// demos/03_gradient_checking.cpp — central differences, why they need float64, and a broken
// VJP caught by gradcheck. Read top to bottom like a notebook.
//
//   build/demo_03_gradient_checking [--quick] [--out DIR] [--seed N]
//
// 1. central differences and their two errors: truncation ~ h^2, rounding ~ eps / h;
// 2. the error against h in float32 and float64 (table and log-log chart): the best h is near
//    eps^(1/3), and float32 cannot get a gradient check below ~1e-4;
// 3. a custom op (softsign) with its VJP written by hand, as chalk's own ops are, and two
//    broken versions of it: gradcheck passes the correct one and names the worst element of
//    each broken one; an upstream gradient of ones would have missed one of the bugs.
//
// Everything takes well under a second; --quick changes nothing but is accepted (the test
// suite runs every demo with --quick). --seed draws the points x.
#include <chalk.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "demos/notebook.h"
#include "plot/plot.h"

using namespace chalk;
using chalk::demo::fmt;
using chalk::demo::Table;

namespace {

// ---- the function of part 1 ----------------------------------------------------------------
// L(x) = sum_i sin(x_i) exp(x_i), through chalk's ops in x's dtype (float32 or float64).
double L_of(const Tensor& x) { return sum(sin(x) * exp(x)).item(); }

// dL/dx_i = exp(x_i) (sin x_i + cos x_i)          (the exact derivative, in double)
double dL(double x) { return std::exp(x) * (std::sin(x) + std::cos(x)); }
// d^3 f / dx^3 of f(x) = sin(x) exp(x):  2 exp(x) (cos x - sin x)   (the truncation error's constant)
double d3f(double x) { return 2 * std::exp(x) * (std::cos(x) - std::sin(x)); }

// Central differences of L at x in dtype T (float or double): element i is
// (L(x + h e_i) - L(x - h e_i)) / (2 h), every value and every step rounded to T.
// Returns the largest |numeric_i - exact_i| over i.
template <class T>
double central_difference_error(const std::vector<double>& x, double h) {
  std::vector<T> xv(x.begin(), x.end());
  const Shape shape{static_cast<std::int64_t>(x.size())};
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::vector<T> plus = xv, minus = xv;
    plus[i] = static_cast<T>(xv[i] + static_cast<T>(h));   // x_i + h, rounded to T
    minus[i] = static_cast<T>(xv[i] - static_cast<T>(h));
    const double Lp = L_of(from_vector(plus, shape)), Lm = L_of(from_vector(minus, shape));
    const T numeric = static_cast<T>((static_cast<T>(Lp) - static_cast<T>(Lm)) / static_cast<T>(2 * h));
    worst = std::max(worst, std::fabs(static_cast<double>(numeric) - dL(static_cast<double>(xv[i]))));
  }
  return worst;
}

// ---- the custom op of part 3 -----------------------------------------------------------------
// softsign(x) = x / (1 + |x|), a smooth squashing function (PyTorch: torch.nn.functional.softsign).
// Written as a primitive, the way ops/elementwise.cpp writes chalk's own ops: the forward value
// (computed with recording off, so the graph holds one node, not four), then record() with the
// VJP right under it:
//   y = x / (1 + |x|)        dx = g / (1 + |x|)^2
// (d/dx [x / (1 + |x|)] = ((1 + |x|) - x sign(x)) / (1 + |x|)^2 = 1 / (1 + |x|)^2.)
Tensor softsign(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x / (1.0 + abs(x));
  }
  record(y, "softsign", {x}, [x = x.detach()](const Tensor& g, Grads& dx) {
    if (dx.wants(0)) dx.add(0, g / square(1.0 + abs(x)));  // dx = g / (1 + |x|)^2
  });
  return y;
}

// Broken 1: forgets the upstream gradient g (returns the local derivative alone).
Tensor softsign_forgets_g(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x / (1.0 + abs(x));
  }
  record(y, "softsign_forgets_g", {x}, [x = x.detach()](const Tensor& g, Grads& dx) {
    (void)g;
    if (dx.wants(0)) dx.add(0, 1.0 / square(1.0 + abs(x)));  // BUG: dx = 1 / (1 + |x|)^2, no g
  });
  return y;
}

// Broken 2: drops the absolute value in the derivative: right for x > 0, wrong for x < 0.
Tensor softsign_drops_abs(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x / (1.0 + abs(x));
  }
  record(y, "softsign_drops_abs", {x}, [x = x.detach()](const Tensor& g, Grads& dx) {
    if (dx.wants(0)) dx.add(0, g / square(1.0 + x));  // BUG: (1 + x)^2 instead of (1 + |x|)^2
  });
  return y;
}

// A naive check with the upstream gradient fixed to ones (L = sum(f(x))), in float64:
// the largest |analytic - numeric| over the elements.
double check_with_ones(const TensorFn& f, const Tensor& x0, double h) {
  Tensor x = x0.detach().clone().requires_grad_();
  sum(f({x})).backward();
  const auto analytic = x.grad().to_vector<double>();
  NoGradGuard no_grad;
  auto xv = x0.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const double orig = xv[i];
    xv[i] = orig + h;
    const double Lp = sum(f({from_vector(xv, x0.shape())})).item();
    xv[i] = orig - h;
    const double Lm = sum(f({from_vector(xv, x0.shape())})).item();
    xv[i] = orig;
    worst = std::max(worst, std::fabs(analytic[i] - (Lp - Lm) / (2 * h)));
  }
  return worst;
}

// Two significant digits, always scientific: errors span 20 decades.
std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1e", v);
  return buf;
}

// "1e-3" for an exact power of ten, else two significant digits.
std::string h_str(double h) {
  const double k = std::log10(h);
  if (std::fabs(k - std::round(k)) < 1e-9) return "1e" + std::to_string(static_cast<int>(std::round(k)));
  return sci(h);
}

// ---- 1. Central differences and their two errors -------------------------------------------------

// The 16 points x, and the constants of section 2's model terms.
struct Points {
  Tensor x_t;                    // the points as a float64 tensor
  std::vector<double> x;         // the same, as numbers
  double backward_vs_exact = 0;  // max |backward() - dL/dx| in float64
  double M3 = 0, S = 0;          // max |f'''(x_i)|, sum |f(x_i)|
};

Points central_differences_and_their_two_errors(demo::Notebook& nb) {
  nb.markdown(
      "## 1. Central differences and their two errors\n\n"
      "A VJP written by hand is checked against the definition of the derivative. The central "
      "difference\n\n"
      "    f'(x) ~ (f(x + h) - f(x - h)) / (2 h)\n\n"
      "is wrong in two ways. **Truncation**: by Taylor's theorem "
      "`f(x +- h) = f +- h f' + h^2 f''/2 +- h^3 f'''/6 + ...`; the even terms cancel and the quotient "
      "is `f' + h^2 f'''/6 + O(h^4)`: an error ~ `h^2` that wants h small. **Rounding**: `f(x + h)` "
      "and `f(x - h)` are each computed with a relative error of about the machine epsilon eps "
      "(float32: `2^-23 = 1.2e-7`; float64: `2^-52 = 2.2e-16`); their difference keeps that absolute "
      "error while the true difference shrinks with h, so the quotient's error is ~ `eps |f| / h`, "
      "which wants h large. The sum `h^2 |f'''| / 6 + eps |f| / h` is smallest at "
      "`h* = (3 eps |f| / |f'''|)^(1/3) ~ eps^(1/3)` (float32: ~5e-3, float64: ~6e-6), where the "
      "error is ~ `eps^(2/3)` (float32: ~2e-5, float64: ~4e-11) times constants of the function.\n\n"
      "The function: `L(x) = sum_i sin(x_i) exp(x_i)` at 16 points `x_i` drawn from U[-1.5, 1.5] with "
      "--seed, computed with chalk's ops (sin, exp, mul, sum) in float32 and in float64. Its "
      "exact gradient is `dL/dx_i = exp(x_i) (sin x_i + cos x_i)`; the error below is the largest "
      "`|numeric - exact|` over the 16 elements.");
  Points P;
  P.x_t = 3.0 * rand({16}, DType::Float64) - 1.5;
  P.x = P.x_t.to_vector<double>();
  std::string xs;
  for (double v : P.x) xs += (xs.empty() ? "" : ", ") + fmt(v, 4);
  nb.output("x = [" + xs + "]");
  // chalk's own backward() against the exact derivative: the reference is right
  Tensor xg = P.x_t.detach().clone().requires_grad_();
  sum(sin(xg) * exp(xg)).backward();
  const auto g_back = xg.grad().to_vector<double>();
  for (std::size_t i = 0; i < P.x.size(); ++i)
    P.backward_vs_exact = std::max(P.backward_vs_exact, std::fabs(g_back[i] - dL(P.x[i])));
  nb.markdown("(chalk's backward() in float64 gives the same gradient to " + fmt(P.backward_vs_exact, 2) +
              ", so either can serve as the exact one.)");
  for (double v : P.x) {
    P.M3 = std::max(P.M3, std::fabs(d3f(v)));
    P.S += std::fabs(std::sin(v) * std::exp(v));
  }
  return P;
}

// ---- 2. The error against h, in float32 and float64 -----------------------------------------------

constexpr double kEps32 = std::numeric_limits<float>::epsilon(), kEps64 = std::numeric_limits<double>::epsilon();

// The errors at every h, the best h of each dtype and the fitted slopes.
struct Sweep {
  std::vector<double> hs, e64, e32;
  double h64 = 0, h32 = 0, min64 = 0, min32 = 0;
  double slope_trunc = 0, slope_round = 0;
};

Sweep the_error_against_h(demo::Notebook& nb, const Points& P) {
  nb.markdown(
      "## 2. The error against h, in float32 and float64\n\n"
      "h runs from 1e-1 down to 1e-12 in quarter decades (every 4th is in the table). The model "
      "columns are the two terms above with this function's constants: M = max |f'''(x_i)| = " + fmt(P.M3, 3) +
      " and S = sum |f(x_i)| = " + fmt(P.S, 3) + " (the rounding term is an upper estimate: the measured "
      "rounding errors run a few times below it, as rounding errors partly cancel).");
  Sweep w;
  for (int k = 4; k <= 48; ++k) {
    const double h = std::pow(10.0, -k / 4.0);
    w.hs.push_back(h);
    w.e64.push_back(central_difference_error<double>(P.x, h));
    w.e32.push_back(central_difference_error<float>(P.x, h));
  }
  Table t{{"h", "error float64", "error float32", "h^2 M / 6", "eps64 S / h", "eps32 S / h"}, {}};
  for (std::size_t j = 0; j < w.hs.size(); j += 4)
    t.row({h_str(w.hs[j]), sci(w.e64[j]), sci(w.e32[j]), sci(w.hs[j] * w.hs[j] * P.M3 / 6),
           sci(kEps64 * P.S / w.hs[j]), sci(kEps32 * P.S / w.hs[j])});
  nb.table(t);
  const auto best64 = static_cast<std::size_t>(std::min_element(w.e64.begin(), w.e64.end()) - w.e64.begin());
  const auto best32 = static_cast<std::size_t>(std::min_element(w.e32.begin(), w.e32.end()) - w.e32.begin());
  w.h64 = w.hs[best64], w.h32 = w.hs[best32];
  w.min64 = w.e64[best64], w.min32 = w.e32[best32];
  const double hstar64 = std::cbrt(3 * kEps64 * P.S / P.M3), hstar32 = std::cbrt(3 * kEps32 * P.S / P.M3);
  nb.markdown(
      "The best h measured: float64 " + h_str(w.h64) + " (error " + sci(w.min64) + "; the model's `h*` = " +
      sci(hstar64) + "), float32 " + h_str(w.h32) + " (error " + sci(w.min32) + "; `h*` = " + sci(hstar32) +
      "). The two bottoms differ by a factor " + sci(w.min32 / w.min64) + "; the model predicts "
      "(eps32 / eps64)^(2/3) = " + sci(std::pow(kEps32 / kEps64, 2.0 / 3.0)) + ". Below h ~ 1e-8 float32 cannot even represent x + h as different from x "
      "(the spacing of floats near 1 is 1.2e-7): both evaluations are the same number, the "
      "quotient is 0 and the error is the whole derivative. At h = 1e-6, gradcheck's default, "
      "float32's error is " + fmt(w.e32[20], 2) + " — far above gradcheck's tolerance of 1e-5 + 1e-3 |numeric|. "
      "That is why chalk's gradcheck (like PyTorch's) converts every input to float64 first.");
  // slopes on the log-log chart: truncation (large h, float64) and rounding (small h, float64)
  std::vector<double> th, te, rh, re;
  for (std::size_t j = 0; j < w.hs.size(); ++j) {
    if (w.hs[j] >= 1e-3) th.push_back(w.hs[j]), te.push_back(w.e64[j]);
    if (w.hs[j] <= 1e-9) rh.push_back(w.hs[j]), re.push_back(w.e64[j]);
  }
  w.slope_trunc = plot::fit_loglog_slope(th, te);
  w.slope_round = plot::fit_loglog_slope(rh, re);
  return w;
}

// The log-log chart of section 2: measured errors as points, the model terms as dashed lines.
void the_error_chart(demo::Notebook& nb, const Points& P, const Sweep& w) {
  const auto model = [&](const std::string& label, auto term) {  // cut to the chart's range
    plot::Series s{label, {}, {}, false, true};
    for (double h : w.hs) {
      const double v = term(h);
      if (v <= 10 && v >= 1e-14) s.x.push_back(h), s.y.push_back(v);
    }
    return s;
  };
  // an error of exactly 0 cannot sit on a log axis: drawn at 1e-17 (none occurred in our runs)
  const auto floor0 = [](std::vector<double> v) {
    for (auto& e : v) e = std::max(e, 1e-17);
    return v;
  };
  plot::lines(nb.figure_path("error_vs_h"),
              {{"float64", w.hs, floor0(w.e64), true},
               {"float32", w.hs, floor0(w.e32), true},
               model("h^2 M/6 (truncation)", [&](double h) { return h * h * P.M3 / 6; }),
               model("eps64 S/h (rounding)", [&](double h) { return kEps64 * P.S / h; }),
               model("eps32 S/h (rounding)", [&](double h) { return kEps32 * P.S / h; })},
              plot::axes("Central-difference error against the step h", "step h", "max |numeric - exact| (error)")
                  .with_log_x()
                  .with_log_y());
  nb.figure("error_vs_h",
            "the error of central differences (points: the largest |numeric - exact| over 16 elements) "
            "against h, both axes log10; dashed: the model terms, M = max |f'''|, S = sum |f|. Right of "
            "each minimum the points follow the truncation line (slope 2: ten times smaller h, a hundred "
            "times smaller error); left of it they run parallel to their rounding line (slope -1), "
            "float32's eps32 / eps64 = 5e8 times higher than float64's. The V's bottom is the best a check "
            "can do: ~1e-10 in float64, ~1e-5 to 1e-4 in float32. Far left, float32's error flattens at the "
            "derivative itself (x + h rounds to x).");
  nb.markdown("Fitted slopes of the float64 error (log10 error against log10 h): " + fmt(w.slope_trunc, 2) +
              " for h >= 1e-3 (truncation, expected 2) and " + fmt(w.slope_round, 2) +
              " for h <= 1e-9 (rounding, expected -1; rounding errors are noisy, so the fit is rough).");
}

void the_claims_of_sections_1_and_2(demo::Notebook& nb, const Points& P, const Sweep& w) {
  nb.check(w.min64 < 1e-8, "float64 central differences reach an error below 1e-8",
           "best " + sci(w.min64) + " at h = " + h_str(w.h64));
  nb.check(w.min32 > 1e-5, "float32 central differences cannot get below 1e-5 at any h",
           "best " + sci(w.min32) + " at h = " + h_str(w.h32));
  nb.check(std::fabs(w.slope_round + 1) < 0.25, "the rounding error grows as 1/h (fitted slope -1 +- 0.25)",
           "slope " + fmt(w.slope_round, 3));
  nb.check(w.h64 >= 1e-7 && w.h64 <= 1e-4 && w.h32 >= 1e-4 && w.h32 <= 1e-1,
           "the best h is near eps^(1/3): in [1e-7, 1e-4] for float64, [1e-4, 1e-1] for float32",
           "float64 " + h_str(w.h64) + ", float32 " + h_str(w.h32));
  nb.check(std::fabs(w.slope_trunc - 2) < 0.2, "the truncation error falls as h^2 (fitted slope 2 +- 0.2)",
           "slope " + fmt(w.slope_trunc, 3));
  nb.result("best_h_float64", w.h64);
  nb.result("min_error_float64", w.min64);
  nb.result("best_h_float32", w.h32);
  nb.result("min_error_float32", w.min32);
  nb.result("truncation_slope_float64", w.slope_trunc);
  nb.result("rounding_slope_float64", w.slope_round);
  nb.result("backward_vs_exact", P.backward_vs_exact);
}

// ---- 3. A VJP written by hand, and two ways to get it wrong ---------------------------------------

// softsign and its two broken versions through gradcheck, on x = randn([3, 4]).
struct Verdicts {
  Tensor xs;
  GradcheckResult ok, bad_g, bad_abs;
  double worst_x = 0;  // x at the worst element gradcheck names for the dropped |.|
};

Verdicts a_vjp_by_hand_and_two_ways_to_get_it_wrong(demo::Notebook& nb) {
  nb.markdown(
      "## 3. A VJP written by hand, and two ways to get it wrong\n\n"
      "softsign(x) = x / (1 + |x|) is not one of chalk's ops, so we write it here the way "
      "ops/elementwise.cpp writes every op: the forward value, then `record(...)` "
      "(core/autograd.h) with the VJP right under it. Its derivative is "
      "((1 + |x|) - x sign(x)) / (1 + |x|)^2 = 1 / (1 + |x|)^2.");
  nb.code(
      "Tensor softsign(const Tensor& x) {\n"
      "  Tensor y;\n"
      "  { NoGradGuard no_grad; y = x / (1.0 + abs(x)); }      // forward: one node, not four\n"
      "  record(y, \"softsign\", {x}, [x = x.detach()](const Tensor& g, Grads& dx) {\n"
      "    if (dx.wants(0)) dx.add(0, g / square(1.0 + abs(x)));   // dx = g / (1 + |x|)^2\n"
      "  });\n"
      "  return y;\n"
      "}\n"
      "// broken 1, softsign_forgets_g:  dx.add(0, 1.0 / square(1.0 + abs(x)));   // no g\n"
      "// broken 2, softsign_drops_abs:  dx.add(0, g / square(1.0 + x));          // (1 + x)^2");
  nb.markdown(
      "`gradcheck` (core/gradcheck.h) compares the VJP with central differences in float64 at "
      "h = 1e-6 — near float64's best h from part 2 — on `L = sum(w * f(x))` with a fixed random "
      "upstream weight w, and an element passes when `|analytic - numeric| <= 1e-5 + 1e-3 |numeric|`. "
      "The input: x = randn([3, 4]) (--seed).");
  Verdicts v;
  v.xs = randn({3, 4}, DType::Float64);
  const auto xs_v = v.xs.to_vector<double>();
  v.ok = gradcheck([](const std::vector<Tensor>& in) { return softsign(in[0]); }, {v.xs});
  v.bad_g = gradcheck([](const std::vector<Tensor>& in) { return softsign_forgets_g(in[0]); }, {v.xs});
  v.bad_abs = gradcheck([](const std::vector<Tensor>& in) { return softsign_drops_abs(in[0]); }, {v.xs});
  nb.output("softsign:           " + v.ok.report + "\nsoftsign_forgets_g: " + v.bad_g.report +
            "\nsoftsign_drops_abs: " + v.bad_abs.report);
  v.worst_x = xs_v[static_cast<std::size_t>(std::max<std::int64_t>(v.bad_abs.worst_index, 0))];
  int negatives = 0;
  for (double e : xs_v) negatives += e < 0 ? 1 : 0;
  nb.markdown(
      "The report names the worst element: for softsign_drops_abs it is flat index " +
      std::to_string(v.bad_abs.worst_index) + ", where x = " + fmt(v.worst_x, 4) +
      " — a negative x, as it must be: for x > 0 the broken formula is the right one (" +
      std::to_string(negatives) + " of the 12 elements are negative). The analytic value there is " +
      fmt(v.bad_abs.analytic, 4) + " against the numeric " + fmt(v.bad_abs.numeric, 4) + ".");
  return v;
}

// Why gradcheck weights the output with a random w; the table and the claims of section 3.
void why_a_random_upstream_weight(demo::Notebook& nb, const Verdicts& v) {
  const Tensor& xs = v.xs;
  const GradcheckResult &ok = v.ok, &bad_g = v.bad_g, &bad_abs = v.bad_abs;
  const double worst_x = v.worst_x;
  // why gradcheck weights the output with a random w
  const double ones_ok = check_with_ones([](const std::vector<Tensor>& in) { return softsign(in[0]); }, xs, 1e-6);
  const double ones_bad =
      check_with_ones([](const std::vector<Tensor>& in) { return softsign_forgets_g(in[0]); }, xs, 1e-6);
  nb.markdown(
      "Why the random w: a check that backpropagates from `L = sum(f(x))` feeds every VJP an "
      "upstream gradient of ones, and a VJP that forgets g computes `1 * (its local derivative)` = "
      "the right answer. Checked that way (same central differences, h = 1e-6), softsign_forgets_g's "
      "largest error is " + fmt(ones_bad, 2) + " (the correct softsign's: " + fmt(ones_ok, 2) +
      ") — the bug is invisible. With gradcheck's random w it fails (above).");
  Table gt{{"op", "gradcheck", "worst element (flat index)", "analytic", "numeric", "abs. error"}, {}};
  for (const auto& [name, r] : {std::pair<std::string, const GradcheckResult&>{"softsign", ok},
                                {"softsign_forgets_g", bad_g},
                                {"softsign_drops_abs", bad_abs}})
    gt.row({name, r.ok ? "passed" : "FAILED", std::to_string(r.worst_index), fmt(r.analytic, 5), fmt(r.numeric, 5),
            fmt(r.error, 2)});
  nb.table(gt);

  const bool caught = !bad_g.ok && !bad_abs.ok;
  nb.check(ok.ok, "gradcheck passes the correct softsign VJP", ok.report);
  nb.check(caught, "gradcheck catches both broken VJPs",
           "forgets g: " + std::string(bad_g.ok ? "passed" : "FAILED") +
               ", drops |.|: " + std::string(bad_abs.ok ? "passed" : "FAILED"));
  nb.check(bad_abs.worst_index >= 0 && worst_x < 0,
           "the worst element gradcheck names for the dropped |.| is at a negative x, where the bug lives",
           "x = " + fmt(worst_x, 4));
  nb.check(ones_bad < 1e-6 && ones_ok < 1e-6,
           "a check with an upstream gradient of ones would have passed the VJP that forgets g",
           "largest error " + fmt(ones_bad, 2));
  nb.result("correct_vjp_passes", ok.ok ? 1 : 0);
  nb.result("broken_vjp_caught", caught ? 1 : 0);
  nb.result("forgets_g_error_with_ones", ones_bad);
  nb.result("drops_abs_worst_index", static_cast<double>(bad_abs.worst_index));
  nb.result("drops_abs_worst_x", worst_x);
}

}  // namespace

int main(int argc, char** argv) {
  demo::Notebook nb("03", "Gradient checking");
  if (auto code = nb.parse(argc, argv)) return *code;

  const Points points = central_differences_and_their_two_errors(nb);
  const Sweep sweep = the_error_against_h(nb, points);
  the_error_chart(nb, points, sweep);
  the_claims_of_sections_1_and_2(nb, points, sweep);
  const Verdicts verdicts = a_vjp_by_hand_and_two_ways_to_get_it_wrong(nb);
  why_a_random_upstream_weight(nb, verdicts);
  return nb.finish();
}
