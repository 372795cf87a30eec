#include "core/gradcheck.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/random.h"

namespace chalk {

namespace {

// L = sum(w * y), in double.
double weighted_sum(const Tensor& y, const std::vector<double>& w) {
  const Tensor y64 = y.to(DType::Float64);
  const double* p = y64.data<double>();
  double s = 0;
  for (std::size_t i = 0; i < w.size(); ++i) s += w[i] * p[i];
  return s;
}

}  // namespace

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opt) {
  // float64 leaf copies of the inputs we differentiate
  std::vector<Tensor> x;
  std::vector<bool> diff(inputs.size(), false);
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& in = inputs[k];
    bool want = is_floating(in.dtype());
    if (!opt.wrt.empty()) {
      want = false;
      for (int i : opt.wrt) want = want || i == static_cast<int>(k);
    }
    diff[k] = want;
    Tensor c = is_floating(in.dtype()) ? in.detach().to(DType::Float64).clone().detach() : in.detach();
    if (want) c.requires_grad_(true);
    x.push_back(c);
  }

  // analytic: one backward with upstream gradient w
  Tensor y = f(x);
  if (!y.defined() || y.dtype() != DType::Float64)
    fail("gradcheck: the function must return a float64 tensor when given float64 inputs");
  Generator gen(opt.seed);
  std::vector<double> w(static_cast<std::size_t>(y.numel()));
  for (auto& v : w) v = gen.uniform() * 2.0 - 1.0;  // U[-1, 1)
  if (y.requires_grad()) y.backward(from_vector(w, y.shape()));

  GradcheckResult r;
  double worst_ratio = -1;
  NoGradGuard no_grad;
  for (std::size_t k = 0; k < x.size(); ++k) {
    if (!diff[k]) continue;
    Tensor g = x[k].grad();
    double* p = x[k].data<double>();
    for (std::int64_t i = 0; i < x[k].numel(); ++i) {
      const double orig = p[i];
      p[i] = orig + opt.eps;
      const double lp = weighted_sum(f(x), w);
      p[i] = orig - opt.eps;
      const double lm = weighted_sum(f(x), w);
      p[i] = orig;
      const double numeric = (lp - lm) / (2 * opt.eps);
      const double analytic = g.defined() ? g.data<double>()[i] : 0.0;  // no grad reached: 0
      const double err = std::fabs(analytic - numeric);
      const double tol = opt.atol + opt.rtol * std::fabs(numeric);
      const double ratio = std::isnan(err) ? INFINITY : err / tol;
      ++r.checked;
      if (ratio > worst_ratio) {
        worst_ratio = ratio;
        r.worst_input = static_cast<int>(k);
        r.worst_index = i;
        r.analytic = analytic;
        r.numeric = numeric;
        r.error = err;
      }
      if (!(err <= tol)) r.ok = false, ++r.failed;
    }
    increment_version(x[k]);  // written in place (and restored): the versions say so
  }
  std::ostringstream os;
  os.precision(10);
  os << "gradcheck " << (r.ok ? "passed" : "FAILED") << ": ";
  if (!r.ok) os << r.failed << " of ";
  os << r.checked << " elements" << (r.ok ? "" : " outside the tolerance");
  if (r.worst_input >= 0)
    os << "; worst: input " << r.worst_input << " " << shape_str(x[r.worst_input].shape())
       << " flat index " << r.worst_index << ", analytic " << r.analytic << ", numeric "
       << r.numeric << ", |error| " << r.error << " (tolerance " << opt.atol << " + " << opt.rtol
       << " * |numeric|)";
  r.report = os.str();
  return r;
}

}  // namespace chalk
