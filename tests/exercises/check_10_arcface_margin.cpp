// tests/exercises/check_10_arcface_margin.cpp — exercise 10's check
// (tests/exercises/check_10_arcface_margin.h).
//
// Where the reference values come from. Every value below was computed once from the exact
// double c (the literal as written) with mpmath at 50 digits from the definitions on the page,
// and compared with PyTorch 1.13 in float64, InsightFace's form (arcface_torch's
//   sine = sqrt((1 - cos^2).clamp(0, 1));  phi = where(cos > cos(pi - m), cos cos_m - sine sin_m,
//   cos - sin(pi - m) m)
// and autograd for d/dc): they agree to 2.3e-16 in the value and 2e-16 relative in d/dc
// everywhere except where PyTorch's sqrt(1 - c^2) cancels near 1 (1.2e-11 relative at
// theta = 1e-5 rad) and at c = +-1, where PyTorch's d/dc is inf or nan: there the value is the
// page's convention (the derivative of the part of f that is smooth in c), worked by hand.
#include "tests/exercises/check_10_arcface_margin.h"

#include <array>
#include <charconv>
#include <cmath>

#include "core/exercise.h"

namespace chalk::checker {

namespace {

struct Point {
  double c, value, derivative;  // derivative: only where central differences cannot be taken
};

// a cosine's round-off can put it one ulp outside [-1, 1] (a GEMM of unit vectors)
constexpr double kOneUlpAbove1 = 1.0000000000000002, kOneUlpBelowMinus1 = -1.0000000000000002;

// ArcFace, theta + m < pi: f = cos(theta + m). The derivatives are central differences.
const std::vector<Point> kArc05 = {{0.95, 0.68400285734763789, 0}, {0.5, 0.023596585290909477, 0},
                                   {0.0, -0.479425538604203, 0},    {-0.5, -0.85398597659946324, 0},
                                   {-0.85, -0.99849825135725765, 0}};
const std::vector<Point> kArc02 = {{0.9, 0.795461966445465, 0},     {0.3, 0.10450151058769276, 0},
                                   {-0.3, -0.48353843611705219, 0}, {-0.9, -0.96865787366876998, 0},
                                   {-0.97, -0.99896207140578866, 0}};
// easy_margin, m = 0.5: the margin where c > 0, c itself elsewhere
const std::vector<Point> kArcEasy05 = {{0.7, 0.27192947624750855, 0}, {0.2, -0.29422266331764378, 0},
                                       {-0.4, -0.4, 0}, {-0.95, -0.95, 0}};
// the combined margin cos(m1 theta + m2) - m3
const std::vector<Point> kComb = {{0.9, 0.46654478937726722, 0},   {0.4, -0.32004881224713349, 0},
                                  {-0.2, -0.95508828702516736, 0}, {-0.7, -1.1996578449998935, 0},
                                  {-0.95, -1.0539607597767768, 0}};  // (m1, m2, m3) = (1.2, 0.3, 0.2)
const std::vector<Point> kComb2 = {{0.9, 0.51695855671636456, 0},  {0.4, -0.07255865104301535, 0},
                                   {-0.2, -0.60047080177679907, 0}, {-0.7, -0.962797863333199, 0},
                                   {-0.95, -1.0950077933935735, 0}};  // (0.9, 0.5, 0.1)

// a double as its shortest round-trip decimal (0.99999999995, not the stream's 1)
std::string exact(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string list(const std::vector<Point>& ps) {
  std::string s;
  for (const auto& p : ps) s += str_cat(s.empty() ? "" : ", ", p.c);
  return s;
}

std::vector<double> values(const std::vector<Point>& ps) {
  std::vector<double> v;
  for (const auto& p : ps) v.push_back(p.value);
  return v;
}

// f'(c) by central differences of the student's own f: f is applied to each c on its own, so the
// VJP with weight 1 everywhere is the derivative at each point.
std::vector<double> derivative_of(const std::function<double(double)>& f, const std::vector<Point>& ps) {
  std::vector<double> x;
  for (const auto& p : ps) x.push_back(p.c);
  const VectorFn forward = [&](const std::vector<double>& v) {
    std::vector<double> y;
    for (double c : v) y.push_back(f(c));
    return y;
  };
  return central_difference_vjp(forward, x, std::vector<double>(x.size(), 1.0), 1e-6);
}

}  // namespace

Verdict check_10(const ArcFaceTarget& arcface_target, const CombinedTarget& combined_target) {
  Checker chk(10, "arcface_target, combined_target");
  // the student's derivatives on the regular ArcFace cases, for the sign finding below
  struct Seen {
    double m;
    std::vector<double> yours, truth;
  };
  std::vector<Seen> arc_derivatives;
  bool arc_values_right = true;

  // ---- one value or derivative case over several cosines
  auto value_case = [&](const std::string& name, CaseKind kind, const std::string& special,
                        const std::vector<Point>& ps, const std::function<TargetLogit(double)>& f) {
    chk.run(name, [&] {
      Case k;
      k.name = name;
      k.kind = kind;
      k.special = special;
      k.shape = {static_cast<std::int64_t>(ps.size())};
      k.quantity = "value";
      k.truth = values(ps);
      for (const auto& p : ps) k.yours.push_back(f(p.c).value);
      // the sqrt(1 - c^2) of InsightFace's form cancels near c = 1 (2.6e-12 at theta = 1e-5
      // rad, m = 0.5): that much is accepted; a clamp short of 1 is off by 2e-4 there
      k.atol = 1e-10;
      k.rtol = 1e-10;
      return k;
    });
  };
  auto derivative_case = [&](const std::string& name, CaseKind kind, const std::string& special,
                             const std::vector<Point>& ps, const std::function<TargetLogit(double)>& f,
                             bool by_central_differences, Seen* seen = nullptr) {
    chk.run(name, [&] {
      Case k;
      k.name = name;
      k.kind = kind;
      k.special = special;
      k.shape = {static_cast<std::int64_t>(ps.size())};
      k.quantity = "derivative";
      if (by_central_differences) {
        k.truth = derivative_of([&](double c) { return f(c).value; }, ps);
      } else {
        for (const auto& p : ps) k.truth.push_back(p.derivative);
      }
      for (const auto& p : ps) k.yours.push_back(f(p.c).dvalue_dcos);
      if (seen) seen->yours = k.yours, seen->truth = k.truth;
      return k;
    });
  };

  // ---- regular: ArcFace, theta + m < pi, for two margins; easy_margin; the combined margin
  for (const auto& [m, ps] : {std::pair{0.5, kArc05}, std::pair{0.2, kArc02}}) {
    const auto f = [&, m = m](double c) { return arcface_target(c, m, false); };
    const std::string where = str_cat("m = ", m, ", c = ", list(ps));
    value_case(str_cat("ArcFace f(c), ", where, " (theta + m < pi)"), CaseKind::kRegular, "", ps, f);
    Seen seen{m, {}, {}};
    derivative_case(str_cat("ArcFace df/dc, ", where, " (central differences of your f)"), CaseKind::kRegular, "",
                    ps, f, true, &seen);
    arc_derivatives.push_back(seen);
  }
  {
    const auto f = [&](double c) { return arcface_target(c, 0.5, true); };
    const std::string where = str_cat("m = 0.5, c = ", list(kArcEasy05));
    value_case(str_cat("ArcFace with easy_margin f(c), ", where), CaseKind::kRegular, "", kArcEasy05, f);
    derivative_case(str_cat("ArcFace with easy_margin df/dc, ", where, " (central differences of your f)"),
                    CaseKind::kRegular, "", kArcEasy05, f, true);
  }
  for (const auto& [m, ps] :
       {std::pair{std::array{1.2, 0.3, 0.2}, kComb}, std::pair{std::array{0.9, 0.5, 0.1}, kComb2}}) {
    const auto f = [&, m = m](double c) { return combined_target(c, m[0], m[1], m[2]); };
    const std::string where = str_cat("(m1, m2, m3) = (", m[0], ", ", m[1], ", ", m[2], "), c = ", list(ps));
    value_case(str_cat("combined f(c), ", where), CaseKind::kRegular, "", ps, f);
    derivative_case(str_cat("combined df/dc, ", where, " (central differences of your f)"), CaseKind::kRegular, "",
                    ps, f, true);
  }

  // ---- special points: one cosine each, a case of two numbers [f(c), df/dc]
  struct Special {
    std::string name, special;
    Point p;
    bool derivative_by_central_differences = false;
  };
  auto special_case = [&](const std::string& what, const Special& s, const std::function<TargetLogit(double)>& f) {
    const std::string name = str_cat(what, ", ", s.name, ": [f, df/dc]");
    chk.run(name, [&] {
      Case k;
      k.name = name;
      k.kind = CaseKind::kSpecial;
      k.special = s.special;
      k.shape = {2};
      k.quantity = "value and derivative";
      const double derivative =
          s.derivative_by_central_differences ? derivative_of([&](double c) { return f(c).value; }, {s.p})[0]
                                              : s.p.derivative;
      k.truth = {s.p.value, derivative};
      const TargetLogit yours = f(s.p.c);
      k.yours = {yours.value, yours.dvalue_dcos};
      // df/dc is up to 1e5 near c = 1, where InsightFace's sqrt(1 - c^2) is good to 6e-7 relative;
      // f's wrong answers at these points (no fallback, a clamp short of 1) are off by 2e-4 or more
      k.atol = 1e-10;
      k.rtol = 1e-6;
      return k;
    });
  };
  const std::string smooth_part = "chalk returns the derivative of the part of f that is smooth in c";
  const std::vector<Special> arc_special = {
      {"c = 1", str_cat("c = 1, x exactly on W_y: sin(theta) = 0, d theta/dc is infinite (", smooth_part, ")"),
       {1.0, 0.87758256189037272, 0.87758256189037272}},
      {"c = 1 + 2^-52", "c one ulp above 1, a cosine's round-off: clamp it to [-1, 1] first",
       {kOneUlpAbove1, 0.87758256189037272, 0.87758256189037272}},
      {"theta ~ 1e-3 rad (c = 0.9999995)", "theta ~ 1e-3 rad, x close to W_y",
       {0.9999995, 0.87710269762043552, 480.30294140121804}},
      {"theta ~ 1e-5 rad (c = 0.99999999995)",
       "theta ~ 1e-5 rad, closer to W_y than the acos clamp at 1 - 1e-7 of many re-implementations (4.5e-4 rad)",
       {0.99999999995, 0.87757776759090926, 47943.429457792121}},
      {"theta = pi - m - 0.001 (c = -0.8771026976404284)",
       "theta = pi - m - 0.001, just before the switch to the fallback: still cos(theta + m)",
       {-0.8771026976404284, -0.99999950000004167, 0}, true},
      {"theta = pi - m + 0.001 (c = -0.8780615485578281)",
       "theta = pi - m + 0.001, just past pi - m, where cos(theta + m) would rise again: the fallback",
       {-0.8780615485578281, -1.1177743178599296, 1.0}},
      {"theta > pi - m (c = -0.95)", "theta past pi - m, where cos(theta + m) would rise again: the fallback",
       {-0.95, -1.1897127693021015, 1.0}},
      {"c = -1", "c = -1, x opposite W_y (past pi - m: the fallback)", {-1.0, -1.2397127693021015, 1.0}},
      {"c = -1 - 2^-52", "c one ulp below -1, a cosine's round-off (past pi - m: the fallback)",
       {kOneUlpBelowMinus1, -1.2397127693021017, 1.0}},
  };
  for (const auto& s : arc_special)
    special_case("ArcFace, m = 0.5", s, [&](double c) { return arcface_target(c, 0.5, false); });
  // m = 0.2: the switch moves with m
  special_case("ArcFace, m = 0.2",
               {"theta > pi - m (c = -0.99)", "theta past pi - m for m = 0.2: the fallback",
                {-0.99, -1.0297338661590122, 1.0}},
               [&](double c) { return arcface_target(c, 0.2, false); });

  // ---- special points of the combined margin, (m1, m2, m3) = (1.2, 0.3, 0.2)
  const std::vector<Special> comb_special = {
      {"c = 1", str_cat("c = 1: sin(theta) = 0 (", smooth_part, ")"), {1.0, 0.75533648912560601, 1.3756845443408726}},
      {"c = -1", str_cat("c = -1: sin(theta) = 0 and cos(theta) = -1 (", smooth_part, ")"),
       {-1.0, -0.79918103581915328, 0.86282069157958064}},
      {"theta ~ 1e-5 rad (c = 0.99999999995)", "theta ~ 1e-5 rad",
       {0.99999999995, 0.7553329428141952, 35463.799014708062}},
      {"pi - theta ~ 1e-5 rad (c = -0.99999999995)", "pi - theta ~ 1e-5 rad",
       {-0.99999999995, -0.79919064313923337, -96072.761437622869}},
  };
  for (const auto& s : comb_special)
    special_case("combined, (1.2, 0.3, 0.2)", s, [&](double c) { return combined_target(c, 1.2, 0.3, 0.2); });

  // ---- diagnoses of this exercise
  // The regular ArcFace values, once more (cheap, and independent of the order of the cases above).
  for (const auto& [m, ps] : {std::pair{0.5, kArc05}, std::pair{0.2, kArc02}})
    for (const auto& p : ps) {
      try {
        if (!(std::abs(arcface_target(p.c, m, false).value - p.value) <= 1e-10)) arc_values_right = false;
      } catch (const std::exception&) {
        arc_values_right = false;
      }
    }
  // The 1/sin(theta) term's sign: f right, and df/dc = 2 cos m - (the true df/dc) on every regular point.
  if (arc_values_right) {
    bool all_mirrored = true, any_wrong = false;
    std::string evidence;
    for (const auto& s : arc_derivatives) {
      if (s.yours.size() != s.truth.size() || s.truth.empty()) {
        all_mirrored = false;
        continue;
      }
      for (std::size_t i = 0; i < s.truth.size(); ++i) {
        const double mirrored = 2 * std::cos(s.m) - s.truth[i];
        if (!(std::abs(s.yours[i] - mirrored) <= 1e-6 + 1e-5 * std::abs(mirrored))) all_mirrored = false;
        if (!(std::abs(s.yours[i] - s.truth[i]) <= 1e-6 + 1e-5 * std::abs(s.truth[i])) && evidence.empty())
          any_wrong = true, evidence = str_cat("m = ", s.m, ", c = ", (s.m == 0.5 ? kArc05 : kArc02)[i].c, ": yours ",
                                               s.yours[i], ", true ", s.truth[i]);
      }
    }
    if (all_mirrored && any_wrong)
      chk.add_finding("sign",
                      "f is right, but the 1/sin(theta) term of df/dc has the wrong sign (yours is cos m minus the "
                      "term instead of plus it): differentiate sin(theta) = sqrt(1 - c^2) again, or check the sign "
                      "of d theta/dc",
                      evidence);
  }
  // A clamp of c short of 1: right at 1e-3 rad from W_y (arc_special[2]), wrong at 1e-5 rad ([3]).
  if (arc_values_right) {
    auto right_at = [&](const Point& p, TargetLogit* yours) {
      try {
        *yours = arcface_target(p.c, 0.5, false);
      } catch (const std::exception&) {
        return false;  // the cases above have recorded the error
      }
      return std::abs(yours->value - p.value) <= 1e-10 &&
             std::abs(yours->dvalue_dcos - p.derivative) <= 1e-10 + 1e-6 * std::abs(p.derivative);
    };
    const Point& near = arc_special[2].p;
    const Point& nearer = arc_special[3].p;
    TargetLogit y_near{}, y_nearer{};
    if (right_at(near, &y_near) && !right_at(nearer, &y_nearer) && std::isfinite(y_nearer.value))
      chk.add_finding("special",
                      "right at 1e-3 rad from W_y but wrong at 1e-5 rad: is c clamped short of 1? A clamp at "
                      "1 - 1e-7 treats every x within 4.5e-4 rad of W_y as if it were 4.5e-4 rad away, and its "
                      "margin gradient is lost there; clamp to [-1, 1] only",
                      str_cat("c = ", exact(nearer.c), " (theta ~ 1e-5 rad), m = 0.5: yours f = ",
                              exact(y_nearer.value), ", df/dc = ", exact(y_nearer.dvalue_dcos), "; true f = ",
                              exact(nearer.value), ", df/dc = ", exact(nearer.derivative)));
  }
  return chk.verdict();
}

namespace {
const Register registered{
    {10, [] { return check_10(chalk::arcface_target, chalk::combined_target); },
     [] {
       return check_10([](double, double, bool) -> TargetLogit { exercise_not_done(10); },
                       [](double, double, double, double) -> TargetLogit { exercise_not_done(10); });
     }}};
}  // namespace

}  // namespace chalk::checker
