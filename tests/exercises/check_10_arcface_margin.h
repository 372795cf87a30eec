// tests/exercises/check_10_arcface_margin.h — exercise 10's check: ArcFace's target logit
// cos(theta + m) and the combined margin's cos(m1 theta + m2) - m3, each with its derivative
// d/dc and its special points (docs/exercises/10-arcface-margin.md).
#pragma once

#include <functional>

#include "losses/margin_softmax.h"
#include "tests/exercises/checker.h"

namespace chalk::checker {

// arcface_target(c, m, easy_margin) -> {f(c), df/dc}            (losses/margin_softmax.h)
using ArcFaceTarget = std::function<TargetLogit(double c, double m, bool easy_margin)>;
// combined_target(c, m1, m2, m3) -> {f(c), df/dc}
using CombinedTarget = std::function<TargetLogit(double c, double m1, double m2, double m3)>;

// The values are checked against committed reference values (hand-worked special points, and
// cosines computed once at 50 digits and with PyTorch 1.13 in InsightFace's form; none is
// computed here). The derivatives are checked against central differences of YOUR value
// function (so a wrong value is reported by the value cases, not twice), except where central
// differences cannot be taken: at c = +-1 and within 1e-5 rad of them (hand-worked and
// 50-digit values). Cases: regular cosines for two margins, easy_margin, and two combined
// margins; special: c = 1, one ulp above 1, theta ~ 1e-3 and 1e-5 rad, just before and just
// past pi - m, the fallback, c = -1 and one ulp below -1, and the combined margin at c = +-1.
Verdict check_10(const ArcFaceTarget& arcface_target, const CombinedTarget& combined_target);

}  // namespace chalk::checker
