// ---- exercise 07 whole file ----
// tests/exercises/mistakes_07_max_pool_backward.cpp — wrong answers to exercise 07 (max_pool2d's
// argmax and its route) that students write, and the diagnosis
// docs/exercises/07-max-pool-backward.md promises for each. A student edition that blanks
// exercise 07 leaves this file out.
#include <gtest/gtest.h>

#include "tests/exercises/check_07_max_pool_backward.h"

using namespace chalk;
using namespace chalk::checker;

namespace {

enum class Rule { kRight, kLastOfTies, kNanIgnored };

// The general window loop, with the comparison a student writes.
template <class T, Rule R>
void plane(const T* x, std::int64_t W, std::int64_t OH, std::int64_t OW, int kernel, int stride, T* y,
           std::int64_t* argmax) {
  for (std::int64_t i = 0; i < OH; ++i)
    for (std::int64_t j = 0; j < OW; ++j) {
      std::int64_t best = i * stride * W + j * stride;
      for (std::int64_t p = 0; p < kernel; ++p)
        for (std::int64_t q = 0; q < kernel; ++q) {
          const std::int64_t k = (i * stride + p) * W + j * stride + q;
          const bool takes = R == Rule::kLastOfTies ? (x[k] >= x[best] || x[k] != x[k])   // >=: the last of ties
                             : R == Rule::kNanIgnored ? x[k] > x[best]                    // a NaN never taken
                                                      : (x[k] > x[best] || x[k] != x[k]);
          if (takes) best = k;
        }
      y[i * OW + j] = x[best];
      argmax[i * OW + j] = best;
    }
}
template <class T, Rule R>
void plane_2x2(const T* x, std::int64_t W, std::int64_t OH, std::int64_t OW, T* y, std::int64_t* argmax) {
  plane<T, R>(x, W, OH, OW, 2, 2, y, argmax);
}
template <class T, bool Overwrite>
void vjp(const std::int64_t* argmax, const T* g, std::int64_t n, T* dx) {
  for (std::int64_t k = 0; k < n; ++k) {
    if (Overwrite) dx[argmax[k]] = g[k]; else dx[argmax[k]] += g[k];
  }
}

template <Rule R, bool Overwrite>
MaxPoolPieces pieces() {
  return {plane<double, R>, plane_2x2<double, R>, vjp<double, Overwrite>,
          plane<float, R>,  plane_2x2<float, R>,  vjp<float, Overwrite>};
}

}  // namespace

// the general loop alone (also for 2 x 2 windows) is right: the check passes it
TEST(Exercise07Checker, PassesTheGeneralLoopForEveryWindow) {
  const Verdict v = check_07(pieces<Rule::kRight, false>());
  EXPECT_TRUE(v.passed) << v.text;
}

// >= instead of >: a tie goes to the last of the equal maxima
TEST(Exercise07Checker, RecognisesTheLastMaximumOfATie) {
  const Verdict v = check_07(pieces<Rule::kLastOfTies, false>());
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("a tie goes to another of the window's equal maxima"), std::string::npos) << v.text;
}

// a plain `>`: a NaN is never taken, the window's largest number wins
TEST(Exercise07Checker, RecognisesAnIgnoredNaN) {
  const Verdict v = check_07(pieces<Rule::kNanIgnored, false>());
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("right except at a special point: a NaN in the windows"), std::string::npos) << v.text;
}

// dx[argmax] = g: overlapping windows that share a maximum keep one gradient
TEST(Exercise07Checker, RecognisesAnOverwriteInsteadOfAnAdd) {
  const Verdict v = check_07(pieces<Rule::kRight, true>());
  EXPECT_EQ(v.kind, "overlap") << v.text;
  EXPECT_NE(v.text.find("keeps only one window's gradient"), std::string::npos) << v.text;
}
