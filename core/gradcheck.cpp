// core/gradcheck.cpp — gradcheck (core/gradcheck.h): does an op's backward match its forward?
//
// One call does, in order:
//   1. every floating input copied to a float64 leaf (integer inputs passed through);
//   2. y = f(x), and one backward() with a random upstream weight w of y's shape, drawn uniform
//      in [-1, 1) from the options' seed: the analytic gradient, in each leaf's .grad();
//   3. for each input checked, numeric_gradient (defined after gradcheck below): central
//      differences of L = sum(w * f(x)), the same w, in float64;
//   4. each element compared, |analytic - numeric| <= atol + rtol |numeric| (PyTorch's
//      torch.autograd.gradcheck and its defaults), and the report names the element with the
//      largest error relative to its tolerance.
// Both gradients use the same w, so a VJP that ignores its upstream gradient g cannot pass.
#include "core/gradcheck.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/exercise.h"  // exercise_not_done: what a student edition puts in place of the regions
#include "core/random.h"

namespace chalk {

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
    const Tensor g = x[k].grad();
    const std::vector<double> numerics = numeric_gradient(f, x, k, w, opt.eps);
    for (std::int64_t i = 0; i < x[k].numel(); ++i) {
      const double numeric = numerics[static_cast<std::size_t>(i)];
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

std::vector<double> numeric_gradient(const TensorFn& f, const std::vector<Tensor>& inputs, std::size_t i,
                                     const std::vector<double>& w, double eps) {
  if (i >= inputs.size()) fail("numeric_gradient: no input ", i, " (f has ", inputs.size(), ")");
  if (!inputs[i].defined() || inputs[i].dtype() != DType::Float64)
    fail("numeric_gradient: input ", i, " is ", inputs[i].defined() ? dtype_name(inputs[i].dtype()) : "undefined",
         "; central differences need float64 (gradcheck converts its inputs)");
  if (!(eps > 0) || !std::isfinite(eps)) fail("numeric_gradient: the step h must be finite and > 0, got ", eps);
  NoGradGuard no_grad;   // the 2 n evaluations of f record no graph
  Tensor x = inputs[i];  // a handle to the data f reads: written in place below, then restored
  // ---- exercise 03 begin: docs/exercises/03-gradient-check.md ----
  // L = sum(w * f(inputs)), in float64
  auto loss = [&] {
    const Tensor y = f(inputs).to(DType::Float64);
    if (static_cast<std::size_t>(y.numel()) != w.size())
      fail("numeric_gradient: f returned ", shape_str(y.shape()), " (", y.numel(), " values), but w has ", w.size());
    const double* p = y.data<double>();
    double s = 0;
    for (std::size_t k = 0; k < w.size(); ++k) s += w[k] * p[k];
    return s;
  };
  std::vector<double> grad(static_cast<std::size_t>(x.numel()));
  double* p = x.data<double>();
  for (std::int64_t j = 0; j < x.numel(); ++j) {
    const double orig = p[j];
    p[j] = orig + eps;
    const double lp = loss();
    p[j] = orig - eps;
    const double lm = loss();
    p[j] = orig;  // the saved value: (x - h) + h need not be x in floating point
    grad[static_cast<std::size_t>(j)] = (lp - lm) / (2 * eps);
  }
  increment_version(x);  // written in place (and restored): the versions say so
  return grad;
  // ---- exercise 03 end ----
}

}  // namespace chalk
