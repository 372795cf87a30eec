// tests/exercises/check_03_gradient_check.cpp — exercise 03's check
// (tests/exercises/check_03_gradient_check.h). Only forwards run here (mul, sin, tanh, exp, add,
// sum, matmul's forward); the truths are derivatives worked by hand, and the checker's own
// central differences for the composed function.
#include "tests/exercises/check_03_gradient_check.h"

#include <cmath>
#include <optional>
#include <sstream>

#include "core/exercise.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"

namespace chalk::checker {

namespace {

// One call of numeric_gradient: the function, its inputs (float64 values and shapes), which
// input, and dL/d(input) as a function of the upstream weight w.
struct Problem {
  std::string name;
  TensorFn f;
  std::vector<std::vector<double>> values;
  std::vector<Shape> shapes;
  std::size_t i = 0;
  Shape out;  // f's output shape: w's
  std::function<std::vector<double>(const std::vector<std::vector<double>>& x, const std::vector<double>& w)> truth;
};

std::vector<Tensor> tensors_of(const Problem& p) {
  std::vector<Tensor> in;
  for (std::size_t k = 0; k < p.values.size(); ++k) in.push_back(from_vector(p.values[k], p.shapes[k]));
  return in;
}

// The checker's own central differences of f with respect to input i (the others fixed).
std::vector<double> by_central_differences(const TensorFn& f, const std::vector<std::vector<double>>& x,
                                           const std::vector<Shape>& shapes, std::size_t i,
                                           const std::vector<double>& w) {
  const VectorFn fi = [&](const std::vector<double>& v) {
    std::vector<Tensor> in;
    for (std::size_t k = 0; k < x.size(); ++k) in.push_back(from_vector(k == i ? v : x[k], shapes[k]));
    return values_of(f(in));
  };
  return central_difference_vjp(fi, x[i], w);
}

// Every digit of a double, as the evidence of a value restored almost, but not exactly.
std::string num(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

std::string short_num(double v) {
  std::ostringstream os;
  os.precision(3);
  os << v;
  return os.str();
}

}  // namespace

Verdict check_03(const NumericGradient& numeric_gradient) {
  Checker c(3, "numeric_gradient");
  const double h = 1e-6;  // gradcheck's default

  // What a call must leave behind: every input bit for bit as it was, and the input it wrote
  // with a bumped version. The first call that does not is kept, and becomes two cases and a
  // finding after the gradients' cases (a wrong gradient is the first thing to fix).
  struct SideEffect {
    std::string problem, finding, evidence;
    std::vector<double> before, after;
    Shape shape;
  };
  std::optional<SideEffect> not_restored, not_bumped;
  std::size_t calls = 0, bumped = 0;

  // Calls yours on p with weight w and step eps, and looks at what it left behind.
  auto call = [&](const Problem& p, const std::vector<double>& w, double eps) {
    const std::vector<Tensor> in = tensors_of(p);
    const std::int64_t version = in[p.i].version();
    std::vector<double> yours = numeric_gradient(p.f, in, p.i, w, eps);
    ++calls;
    const bool grew = in[p.i].version() > version;
    bumped += grew;
    if (!grew && !not_bumped)
      not_bumped = SideEffect{p.name, "", str_cat("case \"", p.name, "\": version ", version, " before your call and after"),
                              {}, {}, {}};
    for (std::size_t k = 0; k < in.size() && !not_restored; ++k) {
      const std::vector<double> now = values_of(in[k]);
      for (std::size_t j = 0; j < now.size(); ++j) {
        if (now[j] == p.values[k][j]) continue;
        const double off = now[j] - p.values[k][j];
        const bool by_h = std::abs(std::abs(off) - eps) <= 1e-3 * eps;
        not_restored = SideEffect{
            p.name,
            k != p.i ? str_cat("input ", k, " changed, but yours was asked about input ", p.i,
                               ": perturb inputs[i], and only it")
            : by_h   ? str_cat("x was not restored after perturbing it: an element was left at x ",
                               off < 0 ? "- h" : "+ h", ", so every later evaluation of f, and the caller "
                               "(gradcheck, and whoever reads the input after it), sees a changed input. Save x_j, "
                               "and put it back after the two evaluations")
                     : "x was not restored exactly: an element is off by a rounding error, because it was put "
                       "back by arithmetic ((x + h) - 2h + h is not x in floating point). Save x_j before "
                       "perturbing it, and assign the saved value back",
            str_cat("case \"", p.name, "\", input ", k, " element ", j, ": ", num(p.values[k][j]),
                    " before your call, ", num(now[j]), " after"),
            p.values[k], now, p.shapes[k]};
        break;
      }
    }
    return yours;
  };

  // A case at the default step: yours against the truth for this w; the truth for w = 1 too, to
  // recognise a gradient of sum(f) instead of sum(w * f).
  auto run = [&](const Problem& p, std::uint64_t seed) {
    c.run(p.name, [&] {
      const std::vector<double> w = random_values(static_cast<std::size_t>(numel(p.out)), seed);
      Case k;
      k.name = p.name;
      k.shape = p.shapes[p.i];
      k.truth = p.truth(p.values, w);
      k.yours = call(p, w, h);
      double factor = 0;
      std::string evidence;
      const std::string pattern = element_pattern(k, &factor, &evidence);
      if (pattern.empty()) return k;
      Case unweighted = k;
      unweighted.truth = p.truth(p.values, std::vector<double>(w.size(), 1.0));
      double unused_factor = 0;
      std::string unused;
      if (element_pattern(unweighted, &unused_factor, &unused).empty())
        c.add_finding("weight",
                      "yours ignores the upstream weight w: it is the gradient of sum(f(x)), not of L = "
                      "sum(w * f(x)). gradcheck draws w at random so that a VJP ignoring its upstream gradient "
                      "cannot pass; a numeric gradient without w would let it",
                      str_cat("case \"", p.name, "\", ", evidence));
      else if (pattern == "factor" && std::abs(factor - 2) < 1e-3)
        c.add_finding("factor",
                      "yours is 2x the true gradient: L(x + h) - L(x - h) is the change over a step of 2h "
                      "(from x - h to x + h), so divide it by 2h, not h",
                      str_cat("case \"", p.name, "\", ", evidence));
      return k;
    });
  };

  auto random = [](std::size_t n, std::uint64_t seed) { return random_values(n, seed); };
  std::uint64_t seed = 10;

  run({"x^3, x [2, 3]", [](const std::vector<Tensor>& in) { return in[0] * in[0] * in[0]; },
       {random(6, 1)}, {{2, 3}}, 0, {2, 3},
       [](const auto& x, const auto& w) {
         std::vector<double> g(6);
         for (std::size_t j = 0; j < 6; ++j) g[j] = 3 * x[0][j] * x[0][j] * w[j];
         return g;
       }},
      seed++);
  run({"sin x, x [4]", [](const std::vector<Tensor>& in) { return sin(in[0]); }, {random(4, 2)}, {{4}}, 0, {4},
       [](const auto& x, const auto& w) {
         std::vector<double> g(4);
         for (std::size_t j = 0; j < 4; ++j) g[j] = std::cos(x[0][j]) * w[j];
         return g;
       }},
      seed++);
  const auto product = [](const std::vector<Tensor>& in) { return in[0] * in[1]; };
  run({"a * b with respect to a (input 0), a, b [2, 3]", product, {random(6, 3), random(6, 4)}, {{2, 3}, {2, 3}}, 0,
       {2, 3},
       [](const auto& x, const auto& w) {
         std::vector<double> g(6);
         for (std::size_t j = 0; j < 6; ++j) g[j] = x[1][j] * w[j];
         return g;
       }},
      seed++);
  run({"a * b with respect to b (input 1), a, b [2, 3]", product, {random(6, 3), random(6, 4)}, {{2, 3}, {2, 3}}, 1,
       {2, 3},
       [](const auto& x, const auto& w) {
         std::vector<double> g(6);
         for (std::size_t j = 0; j < 6; ++j) g[j] = x[0][j] * w[j];
         return g;
       }},
      seed++);
  // Y = A B, L = sum(W * Y):  dL/dA[i, k] = sum_j W[i, j] B[k, j],  dL/dB[k, j] = sum_i A[i, k] W[i, j]
  const auto matrix_product = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  run({"A B with respect to A [3, 3], B [3, 4]", matrix_product, {random(9, 5), random(12, 6)}, {{3, 3}, {3, 4}}, 0,
       {3, 4},
       [](const auto& x, const auto& w) {
         std::vector<double> g(9, 0.0);
         for (std::size_t i = 0; i < 3; ++i)
           for (std::size_t k = 0; k < 3; ++k)
             for (std::size_t j = 0; j < 4; ++j) g[i * 3 + k] += w[i * 4 + j] * x[1][k * 4 + j];
         return g;
       }},
      seed++);
  run({"A B with respect to B [3, 4], A [3, 3]", matrix_product, {random(9, 5), random(12, 6)}, {{3, 3}, {3, 4}}, 1,
       {3, 4},
       [](const auto& x, const auto& w) {
         std::vector<double> g(12, 0.0);
         for (std::size_t k = 0; k < 3; ++k)
           for (std::size_t j = 0; j < 4; ++j)
             for (std::size_t i = 0; i < 3; ++i) g[k * 4 + j] += x[0][i * 3 + k] * w[i * 4 + j];
         return g;
       }},
      seed++);
  run({"sum(x^3) to a scalar, x [5]", [](const std::vector<Tensor>& in) { return sum(in[0] * in[0] * in[0]); },
       {random(5, 7)}, {{5}}, 0, {},
       [](const auto& x, const auto& w) {
         std::vector<double> g(5);
         for (std::size_t j = 0; j < 5; ++j) g[j] = 3 * x[0][j] * x[0][j] * w[0];
         return g;
       }},
      seed++);
  {
    const TensorFn composed = [](const std::vector<Tensor>& in) { return tanh(in[0] * in[1]) + exp(in[0]); };
    const std::vector<Shape> shapes{{3, 2}, {3, 2}};
    run({"tanh(a * b) + e^a with respect to a [3, 2], against the checker's own central differences", composed,
         {random(6, 8), random(6, 9)}, shapes, 0, {3, 2},
         [composed, shapes](const auto& x, const auto& w) { return by_central_differences(composed, x, shapes, 0, w); }},
        seed++);
  }

  // The step where the formula's own error shows: sin x at h = 1e-2 and at h / 2. A central
  // difference is off by h^2 |sin'''| / 6 <= 1.7e-5 at h = 1e-2; a one-sided one by about
  // h |sin''| / 2, a hundred times more, and halving h only halves it.
  c.run("sin x, x [6], at a large step h = 1e-2 (and 5e-3)", [&] {
    const std::string name = "sin x, x [6], at a large step h = 1e-2 (and 5e-3)";
    const Problem p{name, [](const std::vector<Tensor>& in) { return sin(in[0]); }, {random(6, 11)}, {{6}}, 0, {6}, {}};
    const std::vector<double> w = random_values(6, seed++);
    std::vector<double> truth(6);
    for (std::size_t j = 0; j < 6; ++j) truth[j] = std::cos(p.values[0][j]) * w[j];
    Case k;
    k.name = name;
    k.kind = CaseKind::kSpecial;
    k.special = "a large step h = 1e-2, where the error of the difference formula itself shows";
    k.shape = {6};
    k.truth = truth;
    k.yours = call(p, w, 1e-2);
    k.atol = 1e-4;
    k.rtol = 0;
    double factor = 0;
    std::string evidence;
    if (element_pattern(k, &factor, &evidence).empty() || k.yours.size() != truth.size()) return k;
    const std::vector<double> half = call(p, w, 5e-3);
    double e1 = 0, e2 = 0;  // the sum of |yours - truth| at h and at h / 2
    for (std::size_t j = 0; j < 6 && j < half.size(); ++j) e1 += std::abs(k.yours[j] - truth[j]), e2 += std::abs(half[j] - truth[j]);
    const double ratio = e2 > 0 ? e1 / e2 : 0;
    if (ratio > 1.6 && ratio < 2.6)
      c.add_finding("one-sided",
                    str_cat("one-sided difference: error of order h. Halving h from 1e-2 to 5e-3 divided your error "
                            "by ", short_num(ratio), " (", short_num(e1), " to ", short_num(e2),
                            ", summed over the elements), as (L(x + h) - L(x)) / h does; a central difference's "
                            "error, of order h^2, falls by 4. Expand L(x + h) and L(x - h) in Taylor series: in "
                            "their difference the h^2 terms cancel"),
                    str_cat("case \"", name, "\", ", evidence));
    return k;
  });
  // What the calls left behind, as two cases (and the findings that say why they fail).
  c.run("every input after each call: bit for bit as it was", [&] {
    if (calls == 0) fail("no call of numeric_gradient returned: nothing to look at");
    Case k;
    k.kind = CaseKind::kSpecial;
    k.special = "the input after the call, compared bit for bit";
    k.atol = k.rtol = 0;
    if (not_restored) {
      c.add_finding("not-restored", not_restored->finding, not_restored->evidence);
      k.name = str_cat("the inputs after a call: bit for bit as they were (case \"", not_restored->problem, "\")");
      k.shape = not_restored->shape;
      k.truth = not_restored->before;
      k.yours = not_restored->after;
    } else {
      k.shape = {1};
      k.truth = k.yours = {0.0};
    }
    return k;
  });
  c.run("the version of the input written, after each call: grown", [&] {
    if (calls == 0) fail("no call of numeric_gradient returned: nothing to look at");
    if (not_bumped)
      c.add_finding("version",
                    "the input was written in place (and restored), but its version was not bumped: call "
                    "increment_version(x) once after the loop, so that a VJP that saved x before is refused "
                    "instead of reading data written since (docs/autograd.md section 7)",
                    not_bumped->evidence);
    Case k;
    k.kind = CaseKind::kSpecial;
    k.special = "the input's version after the call";
    k.shape = {};
    k.truth = {static_cast<double>(calls)};
    k.yours = {static_cast<double>(bumped)};  // the calls after which it grew
    return k;
  });
  return c.verdict();
}

namespace {
const Register registered{{3, [] { return check_03(chalk::numeric_gradient); },
                           [] {
                             return check_03([](const TensorFn&, const std::vector<Tensor>&, std::size_t,
                                                const std::vector<double>&, double) -> std::vector<double> {
                               exercise_not_done(3);
                             });
                           }}};
}  // namespace

}  // namespace chalk::checker
