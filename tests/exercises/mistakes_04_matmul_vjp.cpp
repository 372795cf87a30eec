// ---- exercise 04 whole file ----
// tests/exercises/mistakes_04_matmul_vjp.cpp — wrong answers to exercise 04 (matmul_vjp) that
// students write, and the diagnosis docs/exercises/04-matmul-vjp.md promises for each. A student
// edition that blanks exercise 04 leaves this file out. (The products here use matmul's forward,
// which records nothing for inputs that need no gradient; chalk's own code uses gemm_tensor.)
#include <gtest/gtest.h>

#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "tests/exercises/check_04_matmul_vjp.h"

using namespace chalk;
using namespace chalk::checker;

namespace {

// A candidate from the two gradients' formulas.
MatmulVjp from(std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, bool, bool)> da,
               std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, bool, bool)> db) {
  return [da, db](const Tensor& a, const Tensor& b, const Tensor& g, bool ta, bool tb, bool want_a, bool want_b) {
    MatmulGrads r;
    if (want_a) r.a = da(a, b, g, ta, tb);
    if (want_b) r.b = db(a, b, g, ta, tb);
    return r;
  };
}

}  // namespace

// each gradient transposed: the branches for a flagged and an unflagged input exchanged, so
// dA = B g^T where g B^T belongs
TEST(Exercise04Checker, RecognisesTransposesOnTheWrongSide) {
  const Verdict v = check_04(from(
      [](const Tensor& a, const Tensor& b, const Tensor& g, bool ta, bool tb) {
        (void)a;
        return ta ? matmul(g, b, false, !tb) : matmul(b, g, tb, true);
      },
      [](const Tensor& a, const Tensor&, const Tensor& g, bool ta, bool tb) {
        return tb ? matmul(a, g, !ta, false) : matmul(g, a, true, ta);
      }));
  EXPECT_EQ(v.kind, "transpose") << v.text;
  EXPECT_NE(v.text.find("the gradient of a^T"), std::string::npos) << v.text;
}

// the gradients of op(a) and op(b), never transposed back to the shapes a and b are stored in
TEST(Exercise04Checker, RecognisesAFlagNotTransposedBack) {
  const Verdict v = check_04(from(
      [](const Tensor&, const Tensor& b, const Tensor& g, bool, bool tb) { return matmul(g, b, false, !tb); },
      [](const Tensor& a, const Tensor&, const Tensor& g, bool ta, bool) { return matmul(a, g, !ta, false); }));
  EXPECT_EQ(v.kind, "transpose") << v.text;
  EXPECT_NE(v.text.find("with transpose_a set, a is stored as [3, 2]"), std::string::npos) << v.text;
}

// the factors in the wrong order: dA = B^T g, dB = g A^T
TEST(Exercise04Checker, RecognisesFactorsInTheWrongOrder) {
  const Verdict v = check_04(from(
      [](const Tensor&, const Tensor& b, const Tensor& g, bool, bool) { return matmul(b, g, true, false); },
      [](const Tensor& a, const Tensor&, const Tensor& g, bool, bool) { return matmul(g, a, false, true); }));
  EXPECT_EQ(v.kind, "shape") << v.text;
  EXPECT_NE(v.text.find("a product's factors do not fit"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("matmul: inner dimensions differ"), std::string::npos) << v.text;  // the product's own error
}

// a transpose missing: dA = g B, dB = A g
TEST(Exercise04Checker, RecognisesAMissingTranspose) {
  const Verdict v = check_04(from(
      [](const Tensor&, const Tensor& b, const Tensor& g, bool, bool) { return matmul(g, b); },
      [](const Tensor& a, const Tensor&, const Tensor& g, bool, bool) { return matmul(a, g); }));
  EXPECT_EQ(v.kind, "shape") << v.text;
  EXPECT_NE(v.text.find("dA [2, 3], dB [3, 4]), g is [2, 4]"), std::string::npos) << v.text;
}

// right formulas, returned for the wrong inputs
TEST(Exercise04Checker, RecognisesTheTwoGradientsSwapped) {
  const Verdict v = check_04(from(
      [](const Tensor& a, const Tensor&, const Tensor& g, bool, bool) { return matmul(a, g, true, false); },
      [](const Tensor&, const Tensor& b, const Tensor& g, bool, bool) { return matmul(g, b, false, true); }));
  EXPECT_EQ(v.kind, "swapped") << v.text;
  EXPECT_NE(v.text.find("dA and dB are swapped"), std::string::npos) << v.text;
}

// chalk's answer negated
TEST(Exercise04Checker, RecognisesASign) {
  const Verdict v = check_04([](const Tensor& a, const Tensor& b, const Tensor& g, bool ta, bool tb, bool want_a,
                                bool want_b) {
    MatmulGrads r = matmul_vjp(a, b, g, ta, tb, want_a, want_b);
    if (r.a.defined()) r.a = neg(r.a);
    if (r.b.defined()) r.b = neg(r.b);
    return r;
  });
  EXPECT_EQ(v.kind, "sign") << v.text;
  EXPECT_NE(v.text.find("equal and opposite"), std::string::npos) << v.text;
}
