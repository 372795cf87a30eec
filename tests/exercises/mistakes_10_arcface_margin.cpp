// ---- exercise 10 whole file ----
// tests/exercises/mistakes_10_arcface_margin.cpp — wrong answers to exercise 10 (arcface_target,
// combined_target) that students write, and the diagnosis docs/exercises/10-arcface-margin.md
// promises for each. A student edition that blanks exercise 10 leaves this file out.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tests/exercises/check_10_arcface_margin.h"

using namespace chalk;
using namespace chalk::checker;

namespace {

constexpr double kPi = std::numbers::pi;

// One way of writing ArcFace, with switches for the mistakes.
struct Arc {
  bool clamp = true;              // clamp c to [-1, 1] first
  double clamp_gap = 0;           // clamp to [-1 + gap, 1 - gap] instead
  bool guard_sin_zero = true;     // at sin(theta) = 0 return the smooth part's derivative
  bool fallback = true;           // c - m sin m past pi - m
  double sin_term_sign = +1;      // the sign of the 1/sin(theta) term of df/dc
  double derivative_sign = +1;    // the sign of the whole df/dc (d theta/dc = +1/sin(theta))
  bool cancelling_sin = false;    // sin(theta) = sqrt(1 - c^2), not sqrt((1 - c)(1 + c))

  TargetLogit operator()(double c, double m, bool easy_margin) const {
    const bool with_margin = easy_margin ? c > 0.0 : (!fallback || c > std::cos(kPi - m));
    if (!with_margin) return easy_margin ? TargetLogit{c, 1.0} : TargetLogit{c - m * std::sin(m), 1.0};
    const double u = clamp ? std::clamp(c, -1.0 + clamp_gap, 1.0 - clamp_gap) : c;
    const double s = cancelling_sin ? std::sqrt(1.0 - u * u) : std::sqrt((1.0 - u) * (1.0 + u));
    const double cm = std::cos(m), sm = std::sin(m);
    double df = cm + sin_term_sign * sm * u / s;
    if (guard_sin_zero && s == 0.0) df = cm;
    return {u * cm - s * sm, derivative_sign * df};
  }
};

Verdict check_arc(const Arc& arc) { return check_10(arc, chalk::combined_target); }

}  // namespace

// d sin(theta)/dc = +c / sin(theta) instead of -c / sin(theta): the 1/sin(theta) term flips
TEST(Exercise10Checker, RecognisesTheSinTermsSign) {
  Arc a;
  a.sin_term_sign = -1;
  const Verdict v = check_arc(a);
  EXPECT_EQ(v.kind, "sign") << v.text;
  EXPECT_NE(v.text.find("the 1/sin(theta) term of df/dc has the wrong sign"), std::string::npos) << v.text;
}

// d theta/dc = +1/sin(theta) (acos' minus forgotten): the whole derivative is negated
TEST(Exercise10Checker, RecognisesANegatedDerivative) {
  Arc a;
  a.derivative_sign = -1;
  const Verdict v = check_arc(a);
  EXPECT_EQ(v.kind, "sign") << v.text;
  EXPECT_NE(v.text.find("equal and opposite"), std::string::npos) << v.text;
}

// c / sin(theta) with sin(theta) = 0 at c = 1: inf
TEST(Exercise10Checker, RecognisesInfAtCosOne) {
  Arc a;
  a.guard_sin_zero = false;
  const Verdict v = check_arc(a);
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("c = 1, x exactly on W_y"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("NaN or inf"), std::string::npos) << v.text;
}

// cos(theta + m) everywhere: no fallback past pi - m
TEST(Exercise10Checker, RecognisesNoFallbackPastPiMinusM) {
  Arc a;
  a.fallback = false;
  const Verdict v = check_arc(a);
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("just past pi - m"), std::string::npos) << v.text;
}

// the acos clamp of many re-implementations: c in [-1 + 1e-7, 1 - 1e-7]
TEST(Exercise10Checker, RecognisesAClampShortOfOne) {
  Arc a;
  a.clamp_gap = 1e-7;
  const Verdict v = check_arc(a);
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("is c clamped short of 1?"), std::string::npos) << v.text;
}

// sqrt(1 - c^2) of an unclamped c: NaN one ulp above 1
TEST(Exercise10Checker, RecognisesAnUnclampedCosine) {
  Arc a;
  a.clamp = false;
  a.cancelling_sin = true;
  const Verdict v = check_arc(a);
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("c one ulp above 1"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("NaN or inf"), std::string::npos) << v.text;
}

// InsightFace's sqrt(1 - c^2), clamped: it cancels near 1, but by less than the check's tolerance
TEST(Exercise10Checker, AcceptsInsightFacesSqrtOfOneMinusCSquared) {
  Arc a;
  a.cancelling_sin = true;
  const Verdict v = check_arc(a);
  EXPECT_TRUE(v.passed) << v.text;
}

// the combined margin at sin(theta) = 0: m1^2 cos(m1 theta + m2), the division by cos(theta) = -1
// forgotten (right at c = 1, the wrong sign at c = -1)
TEST(Exercise10Checker, RecognisesTheCombinedLimitWithoutCosTheta) {
  const Verdict v = check_10(chalk::arcface_target, [](double c, double m1, double m2, double m3) {
    const double u = std::clamp(c, -1.0, 1.0), theta = std::acos(u), s = std::sqrt((1.0 - u) * (1.0 + u));
    const double phi = m1 * theta + m2;
    return TargetLogit{std::cos(phi) - m3, s > 0.0 ? m1 * std::sin(phi) / s : m1 * m1 * std::cos(phi)};
  });
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("c = -1: sin(theta) = 0 and cos(theta) = -1"), std::string::npos) << v.text;
}
