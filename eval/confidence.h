// eval/confidence.h — how sure a comparison over a few seeds is.
//
// A demo that says "X beats Y" from one seed reports rounding noise: another CPU's kernels,
// another seed, and the verdict flips. So every comparative verdict rests on several seeds and
// says how sure it is, with Student's t interval of a mean (n seeds, n - 1 degrees of freedom):
//
//   mean m = (1/n) sum v_i,   s^2 = 1/(n - 1) sum (v_i - m)^2,   m +- t_{0.975, n-1} s / sqrt(n)
//
// and, when two methods ran on the same seeds, the interval of the paired differences
// d_i = a_i - b_i (the seed's share of the noise cancels). A difference whose 95% interval holds 0
// is "no difference measured at this budget", not a win.
#pragma once

#include <string>
#include <vector>

namespace chalk {

// A mean with its 95% interval [low, high] (low = high = mean for one value: no interval).
struct Interval {
  double mean = 0, low = 0, high = 0;
  int n = 0;  // how many values
  double half_width() const { return high - mean; }
  bool holds(double v) const { return low <= v && v <= high; }
};

// Student's t quantile t_{0.975, dof}: the 95% two-sided interval's factor (12.706 for 1
// degree of freedom, 4.303 for 2, ... 1.96 in the limit). Throws chalk::Error for dof < 1.
double student_t_975(int dof);

// The mean of `values` (n >= 1) with its 95% t interval. Throws chalk::Error for no values or
// a non-finite one (naming its index).
Interval mean_interval(const std::vector<double>& values);

// The paired difference a_i - b_i over the same seeds, with its 95% interval. Throws
// chalk::Error when the lengths differ or a value is not finite.
Interval paired_difference(const std::vector<double>& a, const std::vector<double>& b);

// Which of two measurements is larger, with how much certainty.
enum class Verdict {
  kFirstLarger,   // the 95% interval of a - b lies above 0
  kSecondLarger,  // ... below 0
  kNoDifference,  // it holds 0: no difference measured at this budget
  kOneSample,     // one seed: no interval, so no verdict
};

// The verdict of paired_difference(a, b).
Verdict compare(const std::vector<double>& a, const std::vector<double>& b);

// Whether a larger value is the better one (P@1, a margin) or a smaller one (a distance, a jump).
enum class Better { kHigher, kLower };

// A sentence for a report: "triplet - arcface = +0.0120, 95% interval [-0.0200, +0.0440]
// (paired over 3 seeds): no difference measured at this budget", or "... : triplet ahead" (the
// better of the two by `better`), or "(one seed: no interval, so no verdict)". `digits` decimals.
std::string describe_comparison(const std::string& name_a, const std::vector<double>& a,
                                const std::string& name_b, const std::vector<double>& b, int digits = 4,
                                Better better = Better::kHigher);

// "0.9120 [0.9050, 0.9190]" (the mean and its interval; the mean alone for one value).
std::string describe_interval(const Interval& i, int digits = 4);

}  // namespace chalk
