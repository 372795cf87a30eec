#include "eval/confidence.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace chalk {

double student_t_975(int dof) {
  // t_{0.975, dof} for dof = 1..30 (the standard table); beyond, 1.96 + 2.4 / dof is within
  // 0.003 of the exact value (dof = 40: 2.021 vs 2.020; 120: 1.980 vs 1.980).
  static const double table[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                   2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                   2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof < 1) fail("student_t_975: degrees of freedom must be >= 1, got ", dof);
  if (dof <= 30) return table[dof - 1];
  return 1.96 + 2.4 / dof;
}

Interval mean_interval(const std::vector<double>& values) {
  if (values.empty()) fail("mean_interval: no values");
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) fail("mean_interval: value ", i, " is ", values[i], " (expected a finite number)");
  const int n = static_cast<int>(values.size());
  double m = 0;
  for (double v : values) m += v;
  m /= n;
  Interval r{m, m, m, n};
  if (n < 2) return r;
  double ss = 0;
  for (double v : values) ss += (v - m) * (v - m);
  const double half = student_t_975(n - 1) * std::sqrt(ss / (n - 1)) / std::sqrt(static_cast<double>(n));
  r.low = m - half;
  r.high = m + half;
  return r;
}

Interval paired_difference(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    fail("paired_difference: ", a.size(), " values against ", b.size(), " (a pair per seed expected)");
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return mean_interval(d);
}

Verdict compare(const std::vector<double>& a, const std::vector<double>& b) {
  const Interval d = paired_difference(a, b);
  if (d.n < 2) return Verdict::kOneSample;
  if (d.low > 0) return Verdict::kFirstLarger;
  if (d.high < 0) return Verdict::kSecondLarger;
  return Verdict::kNoDifference;
}

namespace {
std::string signed_fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.*f", digits, v);
  return buf;
}
std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
}  // namespace

std::string describe_interval(const Interval& i, int digits) {
  if (i.n < 2) return fixed(i.mean, digits);
  return fixed(i.mean, digits) + " [" + fixed(i.low, digits) + ", " + fixed(i.high, digits) + "]";
}

std::string describe_comparison(const std::string& name_a, const std::vector<double>& a,
                                const std::string& name_b, const std::vector<double>& b, int digits,
                                Better better) {
  const Interval d = paired_difference(a, b);
  const std::string s = name_a + " - " + name_b + " = " + signed_fixed(d.mean, digits);
  const Verdict v = compare(a, b);
  if (v == Verdict::kOneSample) return s + " (one seed: no interval, so no verdict)";
  const bool a_better = (v == Verdict::kFirstLarger) == (better == Better::kHigher);
  const std::string verdict = v == Verdict::kNoDifference ? "no difference measured at this budget"
                                                          : (a_better ? name_a : name_b) + " ahead";
  return s + ", 95% interval [" + signed_fixed(d.low, digits) + ", " + signed_fixed(d.high, digits) + "] (paired over " +
         std::to_string(d.n) + " seeds): " + verdict;
}

}  // namespace chalk
