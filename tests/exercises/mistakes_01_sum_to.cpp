// ---- exercise 01 whole file ----
// tests/exercises/mistakes_01_sum_to.cpp — wrong answers to exercise 01 (sum_to) that students
// write, and the diagnosis docs/exercises/01-sum-to.md promises for each. A student edition that
// blanks exercise 01 leaves this file out.
#include <gtest/gtest.h>

#include "ops/reduce.h"
#include "ops/elementwise.h"
#include "tests/exercises/check_01_sum_to.h"

using namespace chalk;
using namespace chalk::checker;

// g returned as it is: no reduction at all
TEST(Exercise01Checker, RecognisesTheMissingReduction) {
  const Verdict v = check_01([](const Tensor& g, const Shape&) { return g; });
  EXPECT_EQ(v.kind, "broadcast") << v.text;
  EXPECT_NE(v.text.find("summed over the broadcast axes"), std::string::npos) << v.text;
}

// the size-1 axes reduced with a mean instead of a sum
TEST(Exercise01Checker, RecognisesAMeanForASum) {
  const Verdict v = check_01([](const Tensor& g, const Shape& shape) {
    Tensor r = g;
    const int lead = g.dim() - static_cast<int>(shape.size());
    for (int a = 0; a < lead; ++a) r = mean(r, 0, /*keepdim=*/false);
    for (int a = 0; a < r.dim(); ++a)
      if (shape[static_cast<std::size_t>(a)] == 1 && r.shape()[static_cast<std::size_t>(a)] != 1) r = mean(r, a, true);
    return r.reshape(shape);
  });
  EXPECT_EQ(v.kind, "broadcast") << v.text;
  // the verdict's own line names the mean, whatever the number of values summed (2 in the first case)
  EXPECT_NE(v.text.find("what is wrong: right where the shapes match"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("On that case yours is 0.5x the true gradient: a mean of 2 values where their sum belongs"),
            std::string::npos)
      << v.text;
}

// the leading axes forgotten: only the kept size-1 axes summed
TEST(Exercise01Checker, RecognisesForgottenLeadingAxes) {
  const Verdict v = check_01([](const Tensor& g, const Shape& shape) {
    Tensor r = g;
    const int lead = g.dim() - static_cast<int>(shape.size());
    for (int a = lead; a < r.dim(); ++a)
      if (shape[static_cast<std::size_t>(a - lead)] == 1 && r.shape()[static_cast<std::size_t>(a)] != 1) r = sum(r, a, true);
    return r;
  });
  EXPECT_EQ(v.kind, "broadcast") << v.text;
  EXPECT_NE(v.text.find("kept the broadcast shape"), std::string::npos) << v.text;
}

// no check that `shape` broadcasts to g's: [2, 3] "reduced" to [3, 2] by a reshape, and the other
// bad shapes met with reshape's message instead of one naming sum_to
TEST(Exercise01Checker, RecognisesAMissingShapeCheck) {
  const Verdict v = check_01([](const Tensor& g, const Shape& shape) {
    Tensor r = g;
    const int lead = g.dim() - static_cast<int>(shape.size());
    for (int a = 0; a < lead; ++a) r = sum(r, 0, false);
    for (int a = 0; a < r.dim() && a < static_cast<int>(shape.size()); ++a)
      if (shape[static_cast<std::size_t>(a)] == 1 && r.shape()[static_cast<std::size_t>(a)] != 1) r = sum(r, a, true);
    return r.reshape(shape);
  });
  EXPECT_EQ(v.kind, "no-error") << v.text;
  EXPECT_NE(v.text.find("a result returned for input that is not valid"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("[2, 3] is not a broadcast of [3, 2]"), std::string::npos) << v.text;
}

// the sum negated (the sign of sub's VJP carried into the wrong function)
TEST(Exercise01Checker, RecognisesASign) {
  const Verdict v = check_01([](const Tensor& g, const Shape& shape) {
    Tensor r = g;
    const int lead = g.dim() - static_cast<int>(shape.size());
    for (int a = 0; a < lead; ++a) r = sum(r, 0, false);
    for (int a = 0; a < r.dim(); ++a)
      if (shape[static_cast<std::size_t>(a)] == 1 && r.shape()[static_cast<std::size_t>(a)] != 1) r = sum(r, a, true);
    return neg(r.reshape(shape));
  });
  EXPECT_EQ(v.kind, "sign") << v.text;
}
