// tests/exercises/check_05_cross_entropy_gradient.cpp — exercise 05's check
// (tests/exercises/check_05_cross_entropy_gradient.h).
#include "tests/exercises/check_05_cross_entropy_gradient.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <optional>
#include <sstream>

#include "core/exercise.h"
#include "losses/softmax.h"
#include "tests/exercises/reference_case.h"

namespace chalk::checker {

namespace {

using cross_entropy_rows::Reduction;

const char* reduction_name(Reduction r) { return r == Reduction::Mean ? "mean" : r == Reduction::Sum ? "sum" : "none"; }

// One batch of logits: drawn (seeded) or read from a PyTorch reference case.
struct Batch {
  std::string reference;  // the case of tests/reference/cross_entropy.json, or "" to draw one
  std::int64_t N = 0, C = 0;
  double s = 0;
  Reduction reduction = Reduction::Mean;
  CaseKind kind = CaseKind::kRegular;
  double lo = -3, hi = 3;  // where the drawn logits lie
  std::string special{};
};

// What one case's inputs were, for the findings.
struct Inputs {
  std::int64_t N, C;
  std::vector<std::int64_t> y;
  double s;
  Reduction reduction;
  std::vector<double> yours, truth;
  double atol, rtol;
};

std::string num(double v) {
  std::ostringstream os;
  os << std::setprecision(4) << v;
  return os.str();
}

bool near(double a, double b, double atol, double rtol) { return std::abs(a - b) <= atol + rtol * std::abs(b); }

// yours = k_i truth on every row i (one factor per row), or nothing. Rows whose truth is 0
// (one class) must be 0 in yours too and get no factor.
std::optional<std::vector<double>> row_factors(const Inputs& in) {
  std::vector<double> k;
  for (std::int64_t i = 0; i < in.N; ++i) {
    const double* yr = in.yours.data() + i * in.C;
    const double* tr = in.truth.data() + i * in.C;
    double yt = 0, tt = 0;
    for (std::int64_t j = 0; j < in.C; ++j) yt += yr[j] * tr[j], tt += tr[j] * tr[j];
    const double ki = tt > 0 ? yt / tt : 0;
    for (std::int64_t j = 0; j < in.C; ++j)
      if (!near(yr[j], ki * tr[j], in.atol, in.rtol * 10)) return std::nullopt;
    if (tt > 0) k.push_back(ki);
  }
  if (k.empty()) return std::nullopt;
  return k;
}

// The diagnoses of this exercise, on a case yours gets wrong.
void find(Checker& c, const Inputs& in, const std::string& name, bool no_smoothing_case_failed) {
  const std::string evidence = str_cat("case \"", name, "\"");
  // 1. the rows are right up to a factor each: the upstream g_i of a row is wrong
  if (const auto k = row_factors(in)) {
    bool same = true;
    for (double ki : *k) same = same && near(ki, k->front(), 1e-6, 1e-6);
    const double N = static_cast<double>(in.N);
    if (same && in.reduction == Reduction::Mean && in.N > 1 && near(k->front(), N, 0, 1e-6)) {
      c.add_finding("factor",
                    str_cat("yours is N = ", in.N, " times the true gradient: reduction \"mean\" is L = (1/N) sum_i "
                            "loss_i, and the 1/N is missing from your rows' upstream g_i"),
                    evidence);
      return;
    }
    if (same && in.reduction == Reduction::Sum && in.N > 1 && near(k->front(), 1 / N, 0, 1e-6)) {
      c.add_finding("factor",
                    str_cat("yours is 1/N = 1/", in.N, " of the true gradient: reduction \"sum\" is L = sum_i loss_i, "
                            "with no 1/N"),
                    evidence);
      return;
    }
    if (!same && in.reduction == Reduction::None) {
      std::string rows;
      for (std::size_t i = 0; i < k->size() && i < 3; ++i) rows += str_cat(i ? ", " : "", "row ", i, ": ", num((*k)[i]), "x");
      c.add_finding("factor",
                    str_cat("each row of yours is the true row times a factor of its own (", rows,
                            "): with reduction \"none\" the op has N outputs, and row i's loss has its own upstream "
                            "gradient g[i]"),
                    evidence);
      return;
    }
  }
  // 2. right without smoothing, wrong with it, by one amount off the label and another on it in
  //    every row: the smoothed target is wrong
  if (in.s == 0 || no_smoothing_case_failed) return;
  double on = 0, off = 0, row_sum = 0;  // the largest |yours - truth| on the label, off it; |row sum|
  for (std::int64_t i = 0; i < in.N; ++i) {
    const std::int64_t base = i * in.C;
    std::optional<double> off_i;
    double sum = 0;
    for (std::int64_t j = 0; j < in.C; ++j) {
      const double d = in.yours[static_cast<std::size_t>(base + j)] - in.truth[static_cast<std::size_t>(base + j)];
      sum += in.yours[static_cast<std::size_t>(base + j)];
      if (j == in.y[static_cast<std::size_t>(i)]) {
        on = std::max(on, std::abs(d));
        continue;
      }
      if (!off_i) off_i = d;
      else if (!near(d, *off_i, in.atol, in.rtol)) return;  // not one amount off the label: not the target
      off = std::max(off, std::abs(d));
    }
    row_sum = std::max(row_sum, std::abs(sum));
  }
  const double tol = in.atol * 10;
  const std::string where = on > tol && off > tol ? "on the label's class and, by another amount, on every other class"
                            : on > tol            ? "only on the label's class"
                                                  : "on every class but the label's, by one amount";
  c.add_finding("smoothing",
                str_cat("right without label smoothing, wrong with it: yours is off ", where,
                        ", so the target you subtract is wrong ",
                        on > tol && off > tol ? "on the label and off it" : on > tol ? "on the label" : "off the label",
                        row_sum > tol ? " (your rows do not sum to 0, the true ones do: p and t each sum to 1, yours "
                                        "does not)"
                                      : "",
                        ". The smoothed target is t_j = (1 - s) [j = y] + s / C: every class, the label's included, "
                        "gets s / C (PyTorch's label_smoothing)"),
                str_cat(evidence, ": s = ", in.s, ", C = ", in.C));
}

}  // namespace

Verdict check_05(const GradRows& grad_rows) {
  Checker c(5, "grad_rows and row_grad");
  const std::vector<Batch> batches = {
      {"", 3, 4, 0.0, Reduction::Mean, CaseKind::kRegular},
      {"", 5, 2, 0.0, Reduction::Sum, CaseKind::kRegular},
      {"", 4, 3, 0.0, Reduction::None, CaseKind::kRegular},
      {"", 1, 7, 0.0, Reduction::Mean, CaseKind::kRegular},
      {"ce_N7_C3_ls0.0_none", 0, 0, 0.0, Reduction::None, CaseKind::kRegular},
      {"", 3, 5, 0.1, Reduction::Mean, CaseKind::kSpecial, -3, 3, "label smoothing s = 0.1"},
      {"", 4, 3, 0.3, Reduction::None, CaseKind::kSpecial, -3, 3, "label smoothing s = 0.3"},
      {"", 2, 4, 1.0, Reduction::Sum, CaseKind::kSpecial, -3, 3, "label smoothing s = 1 (a uniform target)"},
      {"", 4, 1, 0.1, Reduction::Mean, CaseKind::kSpecial, -3, 3, "one class (C = 1): p = t = 1, the gradient is 0"},
      {"ce_N10_C4_ls0.1_mean", 0, 0, 0.1, Reduction::Mean, CaseKind::kSpecial, -3, 3, "label smoothing s = 0.1"},
      {"", 8, 10, 0.1, Reduction::Mean, CaseKind::kFloat32},
      {"", 6, 5, 0.0, Reduction::Mean, CaseKind::kFloat32, 990, 1010},  // exp(z) overflows float32 and float64
  };
  bool no_smoothing_case_failed = false;
  std::uint64_t seed = 1;
  for (const Batch& b : batches) {
    const bool f32 = b.kind == CaseKind::kFloat32;
    Inputs in;
    std::vector<double> z, g;
    std::string name;
    if (!b.reference.empty()) {
      // PyTorch's gradient of its loss (or of sum(upstream * loss) for "none") is the truth
      const ReferenceCase rc = reference_case("cross_entropy", b.reference);
      const Tensor& logits = rc.input("logits");
      in.N = logits.shape()[0];
      in.C = logits.shape()[1];
      z = values_of(logits);
      in.y = rc.input("labels").to_vector<std::int64_t>();
      in.s = rc.number("label_smoothing");
      const std::string red = rc.string("reduction");
      in.reduction = red == "mean" ? Reduction::Mean : red == "sum" ? Reduction::Sum : Reduction::None;
      g = in.reduction == Reduction::None ? values_of(rc.input("upstream")) : std::vector<double>{1.0};
      in.truth = values_of(rc.grad("logits"));
      name = str_cat("PyTorch ", b.reference, ": z [", in.N, ", ", in.C, "], reduction ", red);
    } else {
      in.N = b.N;
      in.C = b.C;
      in.s = b.s;
      in.reduction = b.reduction;
      z = random_values(static_cast<std::size_t>(b.N * b.C), 100 + seed, b.lo, b.hi);
      if (f32)  // the float32 logits, exactly: the truth is of the numbers the student's code sees
        for (auto& v : z) v = static_cast<double>(static_cast<float>(v));
      for (double u : random_values(static_cast<std::size_t>(b.N), 200 + seed))
        in.y.push_back(std::min<std::int64_t>(b.C - 1, static_cast<std::int64_t>((u + 1) / 2 * static_cast<double>(b.C))));
      g = random_values(b.reduction == Reduction::None ? static_cast<std::size_t>(b.N) : 1, 300 + seed, 0.5, 2.0);
      if (f32)
        for (auto& v : g) v = static_cast<double>(static_cast<float>(v));
      // The truth: the VJP of the fused op's forward (row_loss; its backward is not run), w = g.
      const Tensor labels = from_vector(in.y, {b.N});
      in.truth = central_difference_vjp(
          [&](const std::vector<double>& v) {
            return values_of(cross_entropy(from_vector(v, {b.N, b.C}), labels, b.s, reduction_name(b.reduction)));
          },
          z, g);
      name = str_cat(f32 ? "float32: " : "", "z [", b.N, ", ", b.C, "]", b.lo > 100 ? " near 1000" : "",
                     ", reduction ", reduction_name(b.reduction), b.s > 0 ? str_cat(", smoothing ", b.s) : "");
    }
    ++seed;
    in.atol = f32 ? 1e-5 : 1e-6;
    in.rtol = f32 ? 1e-5 : 1e-5;
    c.run(name, [&] {
      const std::size_t n = static_cast<std::size_t>(in.N * in.C);
      std::vector<double> p(n);
      auto yours = [&](auto tag, const auto& f) {
        using T = decltype(tag);
        const std::vector<T> zt(z.begin(), z.end()), gt(g.begin(), g.end());
        // the forward's softmax, as cross_entropy keeps it for its backward
        for (std::int64_t i = 0; i < in.N; ++i)
          cross_entropy_rows::row_loss(zt.data() + i * in.C, in.C, in.y[static_cast<std::size_t>(i)], in.s,
                                       p.data() + i * in.C);
        std::vector<T> dz(n, T(0));
        f(p.data(), in.N, in.C, in.y.data(), in.s, in.reduction, gt.data(), dz.data());
        return std::vector<double>(dz.begin(), dz.end());
      };
      in.yours = f32 ? yours(float{}, grad_rows.f32) : yours(double{}, grad_rows.f64);
      Case k;
      k.name = name;
      k.kind = b.kind;
      k.special = b.special;
      k.shape = {in.N, in.C};
      k.truth = in.truth;
      k.yours = in.yours;
      k.atol = in.atol;
      k.rtol = in.rtol;
      double factor = 0;
      std::string evidence;
      if (!element_pattern(k, &factor, &evidence).empty()) {
        if (in.s == 0) no_smoothing_case_failed = true;
        find(c, in, name, no_smoothing_case_failed);
      }
      return k;
    });
  }
  return c.verdict();
}

namespace {
template <class T>
void stub(const double*, std::int64_t, std::int64_t, const std::int64_t*, double, cross_entropy_rows::Reduction,
          const T*, T*) {
  exercise_not_done(5);
}
const Register registered{{5,
                           [] {
                             return check_05({cross_entropy_rows::grad_rows<double>,
                                              cross_entropy_rows::grad_rows<float>});
                           },
                           [] { return check_05({stub<double>, stub<float>}); }}};
}  // namespace

}  // namespace chalk::checker
