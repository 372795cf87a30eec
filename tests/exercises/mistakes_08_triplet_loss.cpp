// ---- exercise 08 whole file ----
// tests/exercises/mistakes_08_triplet_loss.cpp — wrong answers to exercise 08 (batch_hard_pair and
// triplet_margin_vjp) that students write, and the diagnosis docs/exercises/08-triplet-loss.md
// promises for each. A student edition that blanks exercise 08 leaves this file out.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/exercises/check_08_triplet_loss.h"

using namespace chalk;
using namespace chalk::checker;

namespace {

const BatchHardPair kMining = chalk::batch_hard_pair<double>;
const TripletMarginVjp kVjp = chalk::triplet_margin_vjp<double>;

// A VJP body with one thing changed: the slope where active, the sign of dn, whether inactive
// triplets are skipped, whether the anchor gets its negative term, and the edge's convention.
struct VjpVariant {
  double slope = 1;
  double dn_sign = 1;
  bool skip_inactive = true;
  bool anchor_negative_term = true;
  bool active_at_edge = true;
};

TripletMarginVjp vjp_with(VjpVariant m) {
  return [m](std::span<const double> a, std::span<const double> p, std::span<const double> n, const TripletDistances& t,
             double margin, double eps, double w, std::span<double> da, std::span<double> dp, std::span<double> dn) {
    const double h = t.d_ap - t.d_an + margin;
    const bool active = m.active_at_edge ? h >= 0 : h > 0;
    if (m.skip_inactive && !active) return;
    const double s = w * m.slope;
    for (std::size_t k = 0; k < a.size(); ++k) {
      const double u = (a[k] - p[k] + eps) / t.d_ap;
      da[k] += s * u;
      dp[k] -= s * u;
      if (t.swapped) {
        const double v = (p[k] - n[k] + eps) / t.d_an;
        dp[k] -= s * v;
        dn[k] += m.dn_sign * s * v;
      } else {
        const double v = (a[k] - n[k] + eps) / t.d_an;
        if (m.anchor_negative_term) da[k] -= s * v;
        dn[k] += m.dn_sign * s * v;
      }
    }
  };
}

}  // namespace

// the easiest pair: the nearest positive and the farthest negative
TEST(Exercise08Checker, RecognisesTheEasiestPair) {
  const Verdict v = check_08(
      [](std::int64_t anchor, std::span<const double> d, std::span<const std::int64_t> y) {
        HardestPair h;
        for (std::size_t j = 0; j < d.size(); ++j) {
          const auto J = static_cast<std::int64_t>(j);
          if (y[j] == y[static_cast<std::size_t>(anchor)]) {
            if (J != anchor && (h.positive < 0 || d[j] < d[static_cast<std::size_t>(h.positive)])) h.positive = J;
          } else if (h.negative < 0 || d[j] > d[static_cast<std::size_t>(h.negative)]) {
            h.negative = J;
          }
        }
        return h;
      },
      kVjp);
  EXPECT_EQ(v.kind, "easiest") << v.text;
  EXPECT_NE(v.text.find("you mined the easiest pair, the nearest positive and the farthest negative"), std::string::npos)
      << v.text;
}

// >= and <= instead of > and <: ties go to the highest index
TEST(Exercise08Checker, RecognisesTiesToTheLastIndex) {
  const Verdict v = check_08(
      [](std::int64_t anchor, std::span<const double> d, std::span<const std::int64_t> y) {
        HardestPair h;
        for (std::size_t j = 0; j < d.size(); ++j) {
          const auto J = static_cast<std::int64_t>(j);
          if (y[j] == y[static_cast<std::size_t>(anchor)]) {
            if (J != anchor && (h.positive < 0 || d[j] >= d[static_cast<std::size_t>(h.positive)])) h.positive = J;
          } else if (h.negative < 0 || d[j] <= d[static_cast<std::size_t>(h.negative)]) {
            h.negative = J;
          }
        }
        return h;
      },
      kVjp);
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("right except at ties: where two samples are equally far (or near), yours takes the later one"),
            std::string::npos) << v.text;
}

// the hinge's slope taken as 1/2 (or any constant but 1)
TEST(Exercise08Checker, RecognisesTheWrongHingeSlope) {
  const Verdict v = check_08(kMining, vjp_with({.slope = 0.5}));
  EXPECT_EQ(v.kind, "factor") << v.text;
  EXPECT_NE(v.text.find("are all 0.5x the true ones: the hinge max(0, h) has slope 1"), std::string::npos) << v.text;
}

// dL/dn = -w v: the sign of d(a, n) in the loss carried into the negative's gradient
TEST(Exercise08Checker, RecognisesTheNegativesSign) {
  const Verdict v = check_08(kMining, vjp_with({.dn_sign = -1}));
  EXPECT_EQ(v.kind, "sign") << v.text;
  EXPECT_NE(v.text.find("the negative's gradient has the wrong sign"), std::string::npos) << v.text;
}

// every triplet sends its gradient, active or not
TEST(Exercise08Checker, RecognisesInactiveTripletsNotSkipped) {
  const Verdict v = check_08(kMining, vjp_with({.skip_inactive = false}));
  EXPECT_EQ(v.kind, "inactive") << v.text;
  EXPECT_NE(v.text.find("an inactive triplet (loss 0"), std::string::npos) << v.text;
}

// dL/da = w u only: the anchor's term from d(a, n) forgotten
TEST(Exercise08Checker, RecognisesTheAnchorsMissingTerm) {
  const Verdict v = check_08(kMining, vjp_with({.anchor_negative_term = false}));
  EXPECT_EQ(v.kind, "anchor-term") << v.text;
  EXPECT_NE(v.text.find("yours misses the second, the negative's"), std::string::npos) << v.text;
}

// relu's convention at the edge (slope 0 at h = 0): not PyTorch's clamp_min
TEST(Exercise08Checker, RecognisesSlopeZeroAtTheEdge) {
  const Verdict v = check_08(kMining, vjp_with({.active_at_edge = false}));
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("exactly at the hinge's edge"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("zero everywhere"), std::string::npos) << v.text;
}
