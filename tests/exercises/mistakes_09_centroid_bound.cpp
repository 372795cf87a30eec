// ---- exercise 09 whole file ----
// tests/exercises/mistakes_09_centroid_bound.cpp — wrong answers to exercise 09
// (centroid_bound_rows and centroid_bound_loss_vjp) that students write, and the diagnosis
// docs/exercises/09-centroid-bound.md promises for each. A student edition that blanks exercise 09
// leaves this file out.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/exercises/check_09_centroid_bound.h"

using namespace chalk;
using namespace chalk::checker;

namespace {

const CentroidBoundRows kRows = chalk::centroid_bound_rows;
const CentroidBoundVjp kVjp = chalk::centroid_bound_loss_vjp;

// A linear form with its weights as parameters: own(n_i, n, N) multiplies d(x_i, c_{y_i}),
// other(n_i, n_m) multiplies d(x_i, c_m) for m != y_i (and is subtracted, times `sign`).
struct Weights {
  bool own_negative_role = true;  // d(x_i, c_{y_i}) also counted as the negative's term
  bool push_times_positives = true;  // the subtracted weight carries (n_i - 1)
  bool push_size_of_negative = true;  // ... and n_m, the negative's class size (not n_i)
  double push_sign = 1;
};

CentroidBoundRows rows_with(Weights wt) {
  return [wt](const Tensor& dists, const Tensor& labels) {
    const std::int64_t N = dists.shape()[0], C = dists.shape()[1];
    const double* d = dists.data<double>();
    const std::int64_t* y = labels.data<std::int64_t>();
    std::vector<double> n(static_cast<std::size_t>(C), 0), out(static_cast<std::size_t>(N));
    for (std::int64_t i = 0; i < N; ++i) n[y[i]] += 1;
    for (std::int64_t i = 0; i < N; ++i) {
      const double ni = n[y[i]];
      double own = 2 * (ni - 1) * (N - ni);
      if (wt.own_negative_role)
        for (std::int64_t m = 0; m < C; ++m)
          if (m != y[i]) own += n[m] * (n[m] - 1);
      double r = own * d[i * C + y[i]];
      for (std::int64_t m = 0; m < C; ++m) {
        if (m == y[i]) continue;
        const double w = (wt.push_times_positives ? ni - 1 : 1.0) * (wt.push_size_of_negative ? n[m] : ni);
        r -= wt.push_sign * w * d[i * C + m];
      }
      out[static_cast<std::size_t>(i)] = r;
    }
    return from_vector(out, {N});
  };
}

// The VJP with one thing changed: the push's sign, the 1/N of the mean, the kink.
struct VjpVariant {
  double push_sign = 1;
  bool mean = true;
  bool kink_is_zero = true;
};

CentroidBoundVjp vjp_with(VjpVariant v) {
  return [v](const Tensor& x, const Tensor& labels, const Tensor& c, const Tensor& dists, double g) {
    const Tensor x64 = x.to(DType::Float64), c64 = c.to(DType::Float64);
    const std::int64_t N = x.shape()[0], D = x.shape()[1], C = c.shape()[0];
    const double beta = 1.0 / (3.0 * (C - 1));
    const double* px = x64.data<double>();
    const double* pc = c64.data<double>();
    const double* pd = dists.data<double>();
    const std::int64_t* y = labels.data<std::int64_t>();
    std::vector<double> out(static_cast<std::size_t>(N * D), 0.0);
    for (std::int64_t i = 0; i < N; ++i)
      for (std::int64_t m = 0; m < C; ++m) {
        const double d = pd[i * C + m];
        if (v.kink_is_zero && d == 0) continue;
        const double coef = (m == y[i] ? 1.0 : -v.push_sign * beta) * g / (v.mean ? N : 1) / d;
        for (std::int64_t t = 0; t < D; ++t) out[i * D + t] += coef * (px[i * D + t] - pc[m * D + t]);
      }
    return from_vector(out, {N, D}).to(x.dtype());
  };
}

}  // namespace

// d(x_i, c_m) subtracted n_m times, not (n_i - 1) n_m: the positives forgotten
TEST(Exercise09Checker, RecognisesThePushWeightWithoutItsPositives) {
  const Verdict v = check_09(rows_with({.push_times_positives = false}), kVjp);
  EXPECT_EQ(v.kind, "counting") << v.text;
  EXPECT_NE(v.text.find("the weight of d(x_i, c_m), m != y_i, is 0.5x the truth"), std::string::npos) << v.text;
}

// d(x_i, c_{y_i}) counted as the anchor's and the positive's term, not the negative's
TEST(Exercise09Checker, RecognisesTheOwnWeightMissingARole) {
  const Verdict v = check_09(rows_with({.own_negative_role = false}), kVjp);
  EXPECT_EQ(v.kind, "counting") << v.text;
  EXPECT_NE(v.text.find("the weight of d(x_i, c_{y_i}) is 0.6667x the truth"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("in three roles"), std::string::npos) << v.text;
}

// (n_i - 1) n_i for (n_i - 1) n_m: right as long as the classes are balanced
TEST(Exercise09Checker, RecognisesTheClassSizesMixedUp) {
  const Verdict v = check_09(rows_with({.push_size_of_negative = false}), kVjp);
  EXPECT_EQ(v.kind, "counting") << v.text;
  EXPECT_NE(v.text.find("right when every class has the same size, wrong when they differ"), std::string::npos) << v.text;
}

// the subtracted distances added
TEST(Exercise09Checker, RecognisesThePushTermsSignInTheRows) {
  const Verdict v = check_09(rows_with({.push_sign = -1}), kVjp);
  EXPECT_EQ(v.kind, "sign") << v.text;
  EXPECT_NE(v.text.find("the push term's sign is flipped: each triplet subtracts d(x_i, c_{y_k})"), std::string::npos)
      << v.text;
}

// (m == y[i] ? 1.0 : beta): the push turned into a pull (the break-it of docs/course.md step 7)
TEST(Exercise09Checker, RecognisesThePushTermsSignInTheGradient) {
  const Verdict v = check_09(kRows, vjp_with({.push_sign = -1}));
  EXPECT_EQ(v.kind, "sign") << v.text;
  EXPECT_NE(v.text.find("the push term's sign is flipped in the gradient"), std::string::npos) << v.text;
}

// the loss is a mean: its gradient carries 1/N
TEST(Exercise09Checker, RecognisesTheMissingMean) {
  const Verdict v = check_09(kRows, vjp_with({.mean = false}));
  EXPECT_EQ(v.kind, "factor") << v.text;
  EXPECT_NE(v.text.find("yours is 6x the true gradient: a sum of 6 values where their mean belongs (a 1/6 left out)"), std::string::npos) << v.text;
}

// (x_i - c_m) / d_im with d_im = 0: NaN on a sample that sits on a centroid
TEST(Exercise09Checker, RecognisesTheKinkDividedByZero) {
  const Verdict v = check_09(kRows, vjp_with({.kink_is_zero = false}));
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("every sample sits exactly on its own centroid"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("NaN or inf where the true value is finite"), std::string::npos) << v.text;
}
