// tests/test_confidence.cpp — the intervals behind every comparative verdict a demo prints
// (eval/confidence.h). Expected values from the formulas by hand (and scipy.stats.t.ppf for the
// quantiles: t_{0.975, 2} = 4.302653, t_{0.975, 40} = 2.021075).
#include <gtest/gtest.h>

#include <cmath>

#include "eval/confidence.h"
#include "test_util.h"

using namespace chalk;
using chalk::test_util::expect_error;

TEST(Confidence, StudentQuantiles) {
  EXPECT_NEAR(student_t_975(1), 12.706, 1e-3);
  EXPECT_NEAR(student_t_975(2), 4.303, 1e-3);
  EXPECT_NEAR(student_t_975(30), 2.042, 1e-3);
  EXPECT_NEAR(student_t_975(40), 2.021075, 3e-3);
  EXPECT_NEAR(student_t_975(1000), 1.962, 3e-3);
  expect_error([] { student_t_975(0); }, {"student_t_975: degrees of freedom must be >= 1, got 0"});
}

TEST(Confidence, MeanIntervalOfThreeSeeds) {
  // mean 0.9, s = 0.01 (values 0.89, 0.90, 0.91), half width 4.303 * 0.01 / sqrt(3) = 0.024843
  const Interval i = mean_interval({0.89, 0.90, 0.91});
  EXPECT_NEAR(i.mean, 0.9, 1e-12);
  EXPECT_NEAR(i.half_width(), 4.303 * 0.01 / std::sqrt(3.0), 1e-9);
  EXPECT_EQ(i.n, 3);
  EXPECT_TRUE(i.holds(0.88));
  EXPECT_FALSE(i.holds(0.87));
  const Interval one = mean_interval({0.5});
  EXPECT_EQ(one.low, 0.5);
  EXPECT_EQ(one.high, 0.5);
  expect_error([] { mean_interval({}); }, {"mean_interval: no values"});
  expect_error([] { mean_interval({0.1, std::nan("")}); }, {"mean_interval: value 1 is nan"});
}

TEST(Confidence, PairedDifferenceCancelsTheSeedsShare) {
  // a is b + 0.01 on every seed, while the seeds themselves differ by 0.1: unpaired intervals
  // overlap, the paired one says a is ahead.
  const std::vector<double> b = {0.70, 0.80, 0.90}, a = {0.71, 0.81, 0.9105};
  const Interval ia = mean_interval(a), ib = mean_interval(b);
  EXPECT_LT(ia.low, ib.high);  // the unpaired intervals overlap
  EXPECT_EQ(compare(a, b), Verdict::kFirstLarger);
  EXPECT_EQ(compare(b, a), Verdict::kSecondLarger);
  EXPECT_EQ(compare({0.8, 0.9, 0.7}, {0.85, 0.82, 0.74}), Verdict::kNoDifference);
  EXPECT_EQ(compare({0.8}, {0.7}), Verdict::kOneSample);
  expect_error([] { paired_difference({1, 2}, {1}); }, {"paired_difference: 2 values against 1"});
}

TEST(Confidence, SentencesSayHowSure) {
  EXPECT_EQ(describe_comparison("triplet", {0.71, 0.81, 0.9105}, "arcface", {0.70, 0.80, 0.90}, 4),
            "triplet - arcface = +0.0102, 95% interval [+0.0094, +0.0109] (paired over 3 seeds): triplet ahead");
  EXPECT_EQ(describe_comparison("a", {0.8, 0.9, 0.7}, "b", {0.85, 0.82, 0.74}, 3),
            "a - b = -0.003, 95% interval [-0.183, +0.176] (paired over 3 seeds): no difference measured at this budget");
  EXPECT_EQ(describe_comparison("a", {0.8}, "b", {0.7}, 2), "a - b = +0.10 (one seed: no interval, so no verdict)");
  // a distance: the smaller is ahead
  EXPECT_EQ(describe_comparison("centroid", {0.20, 0.21, 0.19}, "normface", {0.50, 0.48, 0.45}, 2, Better::kLower),
            "centroid - normface = -0.28, 95% interval [-0.33, -0.22] (paired over 3 seeds): centroid ahead");
  EXPECT_EQ(describe_interval(mean_interval({0.89, 0.90, 0.91}), 3), "0.900 [0.875, 0.925]");
  EXPECT_EQ(describe_interval(mean_interval({0.5}), 2), "0.50");
}
