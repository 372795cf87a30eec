// ---- exercise 05 whole file ----
// tests/exercises/mistakes_05_cross_entropy_gradient.cpp — wrong answers to exercise 05
// (grad_rows and row_grad) that students write, and the diagnosis
// docs/exercises/05-cross-entropy-gradient.md promises for each. A student edition that blanks
// exercise 05 leaves this file out.
#include <gtest/gtest.h>

#include <type_traits>

#include "tests/exercises/check_05_cross_entropy_gradient.h"

using namespace chalk;
using namespace chalk::checker;
using chalk::cross_entropy_rows::Reduction;

namespace {

// Which mistake a candidate makes (none: chalk's answer).
struct Mistake {
  bool sign = false;                // t - p for p - t
  bool no_off_value = false;        // smoothing's s / C left off the other classes
  bool only_wrong_classes = false;  // 1 - s on the label, s / (C - 1) on each other class
  bool no_one_over_n = false;       // reduction mean summed like reduction sum
  bool one_over_n_for_sum = false;  // reduction sum divided by N too
  bool one_upstream = false;        // reduction none: g[0] for every row
};

GradRows candidate(Mistake m) {
  const auto f = [m](const double* p, std::int64_t N, std::int64_t C, const std::int64_t* y, double s,
                     Reduction reduction, const auto* g, auto* dz) {
    using T = std::remove_pointer_t<decltype(dz)>;
    for (std::int64_t i = 0; i < N; ++i) {
      double g_i = reduction == Reduction::None ? static_cast<double>(g[m.one_upstream ? 0 : i]) : static_cast<double>(g[0]);
      if ((reduction == Reduction::Mean && !m.no_one_over_n) || (reduction == Reduction::Sum && m.one_over_n_for_sum))
        g_i /= static_cast<double>(N);
      double on = 1 - s + s / C, off = s / C;
      if (m.no_off_value) off = 0;
      if (m.only_wrong_classes) on = 1 - s, off = C > 1 ? s / (C - 1) : 0;
      for (std::int64_t j = 0; j < C; ++j) {
        const double d = p[i * C + j] - (j == y[i] ? on : off);
        dz[i * C + j] = static_cast<T>(g_i * (m.sign ? -d : d));
      }
    }
  };
  return {f, f};
}

}  // namespace

// the mistakes' own baseline: with no mistake the candidate passes (so each test below fails
// because of its one mistake)
TEST(Exercise05Checker, TheMistakesBaselinePasses) {
  const Verdict v = check_05(candidate({}));
  EXPECT_TRUE(v.passed) << v.text;
}

// t - p for p - t: the two terms swapped (the course's "break it" of step 4)
TEST(Exercise05Checker, RecognisesASign) {
  const Verdict v = check_05(candidate({.sign = true}));
  EXPECT_EQ(v.kind, "sign") << v.text;
  EXPECT_NE(v.text.find("equal and opposite"), std::string::npos) << v.text;
}

// label smoothing's s / C put on the label only: the other classes keep target 0
TEST(Exercise05Checker, RecognisesAForgottenOffValue) {
  const Verdict v = check_05(candidate({.no_off_value = true}));
  EXPECT_EQ(v.kind, "smoothing") << v.text;
  EXPECT_NE(v.text.find("on every class but the label's"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("wrong off the label"), std::string::npos) << v.text;
}

// the other smoothing convention: 1 - s on the label, s / (C - 1) on each other class
TEST(Exercise05Checker, RecognisesSmoothingOnlyTheWrongClasses) {
  const Verdict v = check_05(candidate({.only_wrong_classes = true}));
  EXPECT_EQ(v.kind, "smoothing") << v.text;
  EXPECT_NE(v.text.find("on the label's class and, by another amount, on every other class"), std::string::npos)
      << v.text;
  EXPECT_NE(v.text.find("wrong on the label and off it"), std::string::npos) << v.text;
}

// reduction "mean" without its 1/N
TEST(Exercise05Checker, RecognisesAForgottenOneOverN) {
  const Verdict v = check_05(candidate({.no_one_over_n = true}));
  EXPECT_EQ(v.kind, "factor") << v.text;
  EXPECT_NE(v.text.find("the 1/N is missing"), std::string::npos) << v.text;
}

// reduction "sum" divided by N as if it were "mean"
TEST(Exercise05Checker, RecognisesAOneOverNUnderSum) {
  const Verdict v = check_05(candidate({.one_over_n_for_sum = true}));
  EXPECT_EQ(v.kind, "factor") << v.text;
  EXPECT_NE(v.text.find("reduction \"sum\" is L = sum_i loss_i, with no 1/N"), std::string::npos) << v.text;
}

// reduction "none" with g[0] as every row's upstream
TEST(Exercise05Checker, RecognisesOneUpstreamForEveryRow) {
  const Verdict v = check_05(candidate({.one_upstream = true}));
  EXPECT_EQ(v.kind, "factor") << v.text;
  EXPECT_NE(v.text.find("its own upstream gradient g[i]"), std::string::npos) << v.text;
}
