// ---- exercise 03 whole file ----
// tests/exercises/mistakes_03_gradient_check.cpp — wrong answers to exercise 03 (numeric_gradient)
// that students write, and the diagnosis docs/exercises/03-gradient-check.md promises for each. A
// student edition that blanks exercise 03 leaves this file out.
#include <gtest/gtest.h>

#include "core/autograd.h"
#include "ops/reduce.h"
#include "tests/exercises/check_03_gradient_check.h"

using namespace chalk;
using namespace chalk::checker;

namespace {

// L = sum(w * f(inputs)) in float64, as the right answer computes it
double weighted(const TensorFn& f, const std::vector<Tensor>& inputs, const std::vector<double>& w) {
  const std::vector<double> y = values_of(f(inputs).to(DType::Float64));
  double s = 0;
  for (std::size_t k = 0; k < w.size(); ++k) s += w[k] * y[k];
  return s;
}

}  // namespace

// a forward difference, (L(x + h) - L(x)) / h
TEST(Exercise03Checker, RecognisesAOneSidedDifference) {
  const Verdict v = check_03([](const TensorFn& f, const std::vector<Tensor>& inputs, std::size_t i,
                                const std::vector<double>& w, double eps) {
    NoGradGuard no_grad;
    Tensor x = inputs[i];
    double* p = x.data<double>();
    std::vector<double> grad(static_cast<std::size_t>(x.numel()));
    const double l0 = weighted(f, inputs, w);
    for (std::int64_t j = 0; j < x.numel(); ++j) {
      const double orig = p[j];
      p[j] = orig + eps;
      grad[static_cast<std::size_t>(j)] = (weighted(f, inputs, w) - l0) / eps;
      p[j] = orig;
    }
    increment_version(x);
    return grad;
  });
  EXPECT_EQ(v.kind, "one-sided") << v.text;
  EXPECT_NE(v.text.find("one-sided difference: error of order h"), std::string::npos) << v.text;
}

// L = sum(f(x)): the upstream weight forgotten
TEST(Exercise03Checker, RecognisesAnIgnoredUpstreamWeight) {
  const Verdict v = check_03([](const TensorFn& f, const std::vector<Tensor>& inputs, std::size_t i,
                                const std::vector<double>&, double eps) {
    NoGradGuard no_grad;
    Tensor x = inputs[i];
    double* p = x.data<double>();
    std::vector<double> grad(static_cast<std::size_t>(x.numel()));
    for (std::int64_t j = 0; j < x.numel(); ++j) {
      const double orig = p[j];
      p[j] = orig + eps;
      const double lp = sum(f(inputs)).item();
      p[j] = orig - eps;
      const double lm = sum(f(inputs)).item();
      p[j] = orig;
      grad[static_cast<std::size_t>(j)] = (lp - lm) / (2 * eps);
    }
    increment_version(x);
    return grad;
  });
  EXPECT_EQ(v.kind, "weight") << v.text;
  EXPECT_NE(v.text.find("yours ignores the upstream weight w"), std::string::npos) << v.text;
}

// the central difference divided by h, not 2h
TEST(Exercise03Checker, RecognisesADivisionByHInsteadOf2H) {
  const Verdict v = check_03([](const TensorFn& f, const std::vector<Tensor>& inputs, std::size_t i,
                                const std::vector<double>& w, double eps) {
    NoGradGuard no_grad;
    Tensor x = inputs[i];
    double* p = x.data<double>();
    std::vector<double> grad(static_cast<std::size_t>(x.numel()));
    for (std::int64_t j = 0; j < x.numel(); ++j) {
      const double orig = p[j];
      p[j] = orig + eps;
      const double lp = weighted(f, inputs, w);
      p[j] = orig - eps;
      const double lm = weighted(f, inputs, w);
      p[j] = orig;
      grad[static_cast<std::size_t>(j)] = (lp - lm) / eps;
    }
    increment_version(x);
    return grad;
  });
  EXPECT_EQ(v.kind, "factor") << v.text;
  EXPECT_NE(v.text.find("yours is 2x the true gradient: L(x + h) - L(x - h) is the change over a step of 2h"),
            std::string::npos)
      << v.text;
}

// x perturbed to x + h, then x - h, and left there
TEST(Exercise03Checker, RecognisesAnInputNotRestored) {
  const Verdict v = check_03([](const TensorFn& f, const std::vector<Tensor>& inputs, std::size_t i,
                                const std::vector<double>& w, double eps) {
    NoGradGuard no_grad;
    Tensor x = inputs[i];
    double* p = x.data<double>();
    std::vector<double> grad(static_cast<std::size_t>(x.numel()));
    for (std::int64_t j = 0; j < x.numel(); ++j) {
      const double orig = p[j];
      p[j] = orig + eps;
      const double lp = weighted(f, inputs, w);
      p[j] = orig - eps;
      const double lm = weighted(f, inputs, w);
      grad[static_cast<std::size_t>(j)] = (lp - lm) / (2 * eps);
    }
    increment_version(x);
    return grad;
  });
  EXPECT_EQ(v.kind, "not-restored") << v.text;
  EXPECT_NE(v.text.find("x was not restored after perturbing it: an element was left at x - h"), std::string::npos)
      << v.text;
}

// x moved by +h, -2h, +h: back where it was only up to rounding
TEST(Exercise03Checker, RecognisesAnInputRestoredByArithmetic) {
  const Verdict v = check_03([](const TensorFn& f, const std::vector<Tensor>& inputs, std::size_t i,
                                const std::vector<double>& w, double eps) {
    NoGradGuard no_grad;
    Tensor x = inputs[i];
    double* p = x.data<double>();
    std::vector<double> grad(static_cast<std::size_t>(x.numel()));
    for (std::int64_t j = 0; j < x.numel(); ++j) {
      p[j] += eps;
      const double lp = weighted(f, inputs, w);
      p[j] -= 2 * eps;
      const double lm = weighted(f, inputs, w);
      p[j] += eps;
      grad[static_cast<std::size_t>(j)] = (lp - lm) / (2 * eps);
    }
    increment_version(x);
    return grad;
  });
  EXPECT_EQ(v.kind, "not-restored") << v.text;
  EXPECT_NE(v.text.find("x was not restored exactly"), std::string::npos) << v.text;
}

// right values, but the in-place writes never announced
TEST(Exercise03Checker, RecognisesAWriteWithoutAVersionBump) {
  const Verdict v = check_03([](const TensorFn& f, const std::vector<Tensor>& inputs, std::size_t i,
                                const std::vector<double>& w, double eps) {
    NoGradGuard no_grad;
    Tensor x = inputs[i];
    double* p = x.data<double>();
    std::vector<double> grad(static_cast<std::size_t>(x.numel()));
    for (std::int64_t j = 0; j < x.numel(); ++j) {
      const double orig = p[j];
      p[j] = orig + eps;
      const double lp = weighted(f, inputs, w);
      p[j] = orig - eps;
      const double lm = weighted(f, inputs, w);
      p[j] = orig;
      grad[static_cast<std::size_t>(j)] = (lp - lm) / (2 * eps);
    }
    return grad;
  });
  EXPECT_EQ(v.kind, "version") << v.text;
  EXPECT_NE(v.text.find("its version was not bumped"), std::string::npos) << v.text;
}
