// tests/exercises/check_02_accumulate_gradients.cpp — exercise 02's check
// (tests/exercises/check_02_accumulate_gradients.h).
//
// Every use of a tensor here is a forward no exercise touches (2y, sin y, y * y, e^y, y itself,
// all of one shape), and its contribution is the checker's central difference of that forward
// alone; the truth is the central difference of all the uses as one forward. Only the end-to-end
// cases (through_backward) run VJPs, those of exp, sin, mul and add on equal shapes, which call
// sum_to only where it returns g unchanged, before exercise 01's region.
#include "tests/exercises/check_02_accumulate_gradients.h"

#include <cmath>
#include <optional>

#include "core/autograd.h"
#include "core/exercise.h"
#include "ops/elementwise.h"

namespace chalk::checker {

namespace {

// One use of a tensor y: the forward that reads it.
struct Use {
  const char* name;
  Tensor (*forward)(const Tensor& y);
};
const Use kTwice{"2y", [](const Tensor& y) { return y * 2.0; }};
const Use kSin{"sin y", [](const Tensor& y) { return sin(y); }};
const Use kSquare{"y * y", [](const Tensor& y) { return y * y; }};
const Use kExp{"e^y", [](const Tensor& y) { return exp(y); }};
const Use kItself{"y itself", [](const Tensor& y) { return y; }};  // add's operand: its VJP is g

// dL/dy for L = sum_k w_k . f_k(y), by central differences of all the uses as one forward
// (with one use, the contribution that use hands on).
std::vector<double> gradient_of(const std::vector<Use>& uses, const std::vector<double>& y, const Shape& shape,
                                const std::vector<std::vector<double>>& ws) {
  std::vector<double> w;
  for (const auto& wk : ws) w.insert(w.end(), wk.begin(), wk.end());
  const VectorFn all = [&](const std::vector<double>& v) {
    std::vector<double> out;
    const Tensor t = from_vector(v, shape);
    for (const Use& u : uses) {
      const std::vector<double> part = values_of(u.forward(t));
      out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  };
  return central_difference_vjp(all, y, w);
}

Tensor tensor_of(const std::vector<double>& v, const Shape& shape, DType dtype) {
  const Tensor t = from_vector(v, shape);
  return dtype == DType::Float64 ? t : t.to(dtype);
}

std::vector<double> concat(std::initializer_list<std::vector<double>> parts) {
  std::vector<double> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Is `yours` `other` (within the case's tolerance)? When it is, `evidence` shows the worst
// element of yours against the truth.
bool matches(const Case& k, const std::vector<double>& other, std::string* evidence) {
  Case alt = k;
  alt.truth = other;
  double factor = 0;
  std::string unused;
  if (!element_pattern(alt, &factor, &unused).empty()) return false;
  element_pattern(k, &factor, evidence);
  return true;
}

// A tensor's values, or zeros when it is undefined (after recording why).
std::vector<double> values_or_zeros(Checker& c, const Tensor& t, std::size_t n, const std::string& what,
                                    const std::string& case_name) {
  if (t.defined()) return values_of(t);
  c.add_finding("zero", str_cat(what, " is still undefined after a contribution: the first contribution must "
                                      "become the gradient"),
                str_cat("case \"", case_name, "\""));
  return std::vector<double>(n, 0.0);
}

// Were the tensors handed in left as they were? Records the finding when not.
void expect_unchanged(Checker& c, const Tensor& t, const std::vector<double>& before, const std::string& what,
                      const std::string& case_name) {
  const std::vector<double> now = values_of(t);
  for (std::size_t i = 0; i < now.size(); ++i)
    if (now[i] != before[i]) {
      c.add_finding("aliasing",
                    str_cat("your code wrote into a tensor it was handed (", what, "): a contribution is not yours "
                            "to change. The engine shares it: add's VJP hands the same g to both of its inputs, and "
                            "the first contribution can be the caller's upstream gradient, so a sum written in place "
                            "into it changes another tensor's gradient too. Make the sum a new tensor, and copy a "
                            "contribution before .grad() is added to in place"),
                    str_cat("case \"", case_name, "\", ", what, " element ", i, ": ", before[i], " before, ", now[i],
                            " after"));
      return;
    }
}

}  // namespace

Verdict check_02(const AccumulateGradient& accumulate_gradient, const AccumulateGrad& accumulate_grad,
                 bool through_backward) {
  Checker c(2, "accumulate_gradient and accumulate_grad");

  // ---- an intermediate result: its pending gradient, summed over its uses ----
  struct Sum {
    std::string name;
    std::vector<Use> uses;
    Shape shape;
    DType dtype;
  };
  const std::vector<Sum> sums = {
      {"y = e^x [2, 3] used once, by sin y", {kSin}, {2, 3}, DType::Float64},
      {"y = e^x [2, 3] used twice, by 2y and sin y", {kTwice, kSin}, {2, 3}, DType::Float64},
      {"y = e^x [3, 4] used three times, by 2y, sin y and y * y", {kTwice, kSin, kSquare}, {3, 4}, DType::Float64},
      {"float32: y = e^x [4, 8] used twice, by 2y and sin y", {kTwice, kSin}, {4, 8}, DType::Float32},
  };
  std::uint64_t seed = 1;
  for (const Sum& s : sums) {
    const bool f32 = s.dtype == DType::Float32;
    const std::string& name = s.name;
    c.run(name, [&] {
      const auto n = static_cast<std::size_t>(numel(s.shape));
      std::vector<double> y = random_values(n, 300 + seed);
      for (auto& v : y) v = std::exp(v);
      if (f32)
        for (auto& v : y) v = static_cast<double>(static_cast<float>(v));
      std::vector<std::vector<double>> ws;
      std::vector<Tensor> contributions;
      std::vector<std::vector<double>> handed;  // each contribution's values, as handed in
      for (std::size_t k = 0; k < s.uses.size(); ++k) {
        ws.push_back(random_values(n, 400 + 10 * seed + k));
        contributions.push_back(tensor_of(gradient_of({s.uses[k]}, y, s.shape, {ws.back()}), s.shape, s.dtype));
        handed.push_back(values_of(contributions.back()));
      }
      Tensor pending;
      for (const Tensor& g : contributions) accumulate_gradient(pending, g);
      for (std::size_t k = 0; k < contributions.size(); ++k)
        expect_unchanged(c, contributions[k], handed[k], str_cat("the contribution of ", s.uses[k].name), name);
      if (pending.defined() && pending.dtype() != s.dtype)
        fail("accumulate_gradient made a ", dtype_name(pending.dtype()), " sum of ", dtype_name(s.dtype),
             " contributions: keep their dtype");
      Case k;
      k.name = name;
      k.kind = f32 ? CaseKind::kFloat32 : CaseKind::kRegular;
      k.shape = s.shape;
      k.truth = gradient_of(s.uses, y, s.shape, ws);
      k.yours = values_or_zeros(c, pending, n, "the pending gradient", name);
      k.yours_shape = pending.defined() ? pending.shape() : s.shape;
      if (f32) k.atol = k.rtol = 1e-4;
      std::string evidence;
      double factor = 0;
      if (handed.size() > 1 && !element_pattern(k, &factor, &evidence).empty())
        for (std::size_t u = 0; u < handed.size(); ++u)
          if (matches(k, handed[u], &evidence)) {
            c.add_finding("one-path",
                          str_cat("only one path's gradient survives: y is used ", handed.size(),
                                  " times, and its gradient must be the SUM of what every use contributes (the "
                                  "multivariable chain rule), but yours is the contribution of ", s.uses[u].name,
                                  " alone — the sum was overwritten or never added to"),
                          str_cat("case \"", name, "\", ", evidence));
            break;
          }
      return k;
    });
    ++seed;
  }

  // add's VJP hands the same g to both of its inputs: one tensor in two pending sums
  c.run("one g pending for two inputs (add's VJP), then a second use of the first", [&] {
    const std::string name = "one g pending for two inputs (add's VJP), then a second use of the first";
    const Shape shape{2, 3};
    const std::vector<double> y = random_values(6, 501), w = random_values(6, 502), w2 = random_values(6, 503);
    const Tensor g = from_vector(w, shape);  // what add hands on: the upstream gradient itself
    const std::vector<double> second = gradient_of({kSin}, y, shape, {w2});
    Tensor a, b;
    accumulate_gradient(a, g);
    accumulate_gradient(b, g);
    accumulate_gradient(a, from_vector(second, shape));
    expect_unchanged(c, g, w, "the g handed to both inputs", name);
    Case k;
    k.name = name;
    k.kind = CaseKind::kSpecial;
    k.special = "a contribution shared by two pending sums";
    k.shape = {2, 2, 3};  // the first input's sum, then the second's
    k.truth = concat({gradient_of({kItself, kSin}, y, shape, {w, w2}), gradient_of({kItself}, y, shape, {w})});
    k.yours = concat({values_or_zeros(c, a, 6, "the pending gradient", name),
                      values_or_zeros(c, b, 6, "the pending gradient", name)});
    return k;
  });

  // ---- a leaf: its .grad(), summed over its uses and over backward() calls ----
  const Shape xs{2, 3};
  const std::vector<double> x0 = random_values(6, 600);
  auto leaf = [&] { return from_vector(x0, xs).requires_grad_(); };
  auto contribution = [&](const Use& u, std::uint64_t s) {
    return gradient_of({u}, x0, xs, {random_values(6, s)});
  };

  c.run("leaf x [2, 3], one backward() by sin x", [&] {
    const std::string name = "leaf x [2, 3], one backward() by sin x";
    Tensor x = leaf();
    const std::vector<double> c1 = contribution(kSin, 601);
    accumulate_grad(x, from_vector(c1, xs));
    Case k;
    k.name = name;
    k.shape = xs;
    k.truth = c1;
    k.yours = values_or_zeros(c, x.grad(), 6, "x.grad()", name);
    std::string evidence;
    std::vector<double> twice = c1;  // the wrong answer: c1 counted twice
    for (auto& v : twice) v *= 2;
    if (matches(k, twice, &evidence))
      c.add_finding("factor",
                    "yours is 2x the true gradient: the first contribution was counted twice — it became .grad() "
                    "and was then added to it as well (an `else` missing?)",
                    str_cat("case \"", name, "\", ", evidence));
    return k;
  });

  c.run("leaf x [2, 3], two backward() calls: by sin x, then by e^x", [&] {
    const std::string name = "leaf x [2, 3], two backward() calls: by sin x, then by e^x";
    Tensor x = leaf();
    const std::vector<double> w1 = random_values(6, 611), w2 = random_values(6, 612);
    const std::vector<double> c1 = gradient_of({kSin}, x0, xs, {w1}), c2 = gradient_of({kExp}, x0, xs, {w2});
    accumulate_grad(x, from_vector(c1, xs));
    accumulate_grad(x, from_vector(c2, xs));
    Case k;
    k.name = name;
    k.shape = xs;
    k.truth = gradient_of({kSin, kExp}, x0, xs, {w1, w2});
    k.yours = values_or_zeros(c, x.grad(), 6, "x.grad()", name);
    std::string evidence;
    if (matches(k, c2, &evidence))
      c.add_finding("overwritten",
                    ".grad() was overwritten by the second backward() call: a leaf's gradient accumulates across "
                    "backward() calls until zero_grad(), as PyTorch's .grad does (that is how a loop sums the "
                    "gradients of several micro-batches). Add the contribution to .grad() when it is there",
                    str_cat("case \"", name, "\", ", evidence, " (yours is the second call's gradient alone)"));
    else if (matches(k, c1, &evidence))
      c.add_finding("overwritten",
                    "the second backward() call's gradient never reached .grad(): a leaf's gradient accumulates "
                    "across backward() calls until zero_grad(), as PyTorch's .grad does. Add the contribution to "
                    ".grad() when it is there",
                    str_cat("case \"", name, "\", ", evidence, " (yours is the first call's gradient alone)"));
    return k;
  });

  c.run("leaf x [2, 3]: a backward(), zero_grad(), another backward()", [&] {
    const std::string name = "leaf x [2, 3]: a backward(), zero_grad(), another backward()";
    Tensor x = leaf();
    const std::vector<double> c1 = contribution(kSin, 621), c2 = contribution(kSquare, 622);
    accumulate_grad(x, from_vector(c1, xs));
    x.zero_grad();
    accumulate_grad(x, from_vector(c2, xs));
    Case k;
    k.name = name;
    k.shape = xs;
    k.truth = c2;
    k.yours = values_or_zeros(c, x.grad(), 6, "x.grad()", name);
    return k;
  });

  // add's VJP hands the same g to two leaves; the caller keeps its upstream gradient too
  c.run("leaves x and z handed the same g (add's VJP), then a second backward() into x", [&] {
    const std::string name = "leaves x and z handed the same g (add's VJP), then a second backward() into x";
    Tensor x = leaf(), z = leaf();
    const std::vector<double> w = random_values(6, 631), w2 = random_values(6, 632);
    const Tensor g = from_vector(w, xs);  // held here, as the caller and the other slot hold it
    const std::vector<double> c2 = gradient_of({kExp}, x0, xs, {w2});
    accumulate_grad(x, g);
    accumulate_grad(z, g);
    accumulate_grad(x, from_vector(c2, xs));
    expect_unchanged(c, g, w, "the g handed to both leaves", name);
    Case k;
    k.name = name;
    k.kind = CaseKind::kSpecial;
    k.special = "a contribution shared by two leaves and the caller";
    k.shape = {2, 2, 3};  // x.grad(), then z.grad()
    k.truth = concat({gradient_of({kItself, kExp}, x0, xs, {w, w2}), gradient_of({kItself}, x0, xs, {w})});
    k.yours = concat({values_or_zeros(c, x.grad(), 6, "x.grad()", name), values_or_zeros(c, z.grad(), 6, "z.grad()", name)});
    return k;
  });

  // a .grad() handle taken between two backward() calls (an optimizer's, a hook's)
  std::optional<std::int64_t> version_before, version_after;  // .grad()'s, around the second call
  bool added_in_place = false;  // .grad() is still the tensor the handle holds
  c.run("leaf x [2, 3]: a .grad() handle held across a second backward()", [&] {
    const std::string name = "leaf x [2, 3]: a .grad() handle held across a second backward()";
    Tensor x = leaf();
    const std::vector<double> w1 = random_values(6, 641), w2 = random_values(6, 642);
    const std::vector<double> c1 = gradient_of({kSin}, x0, xs, {w1}), c2 = gradient_of({kTwice}, x0, xs, {w2});
    accumulate_grad(x, from_vector(c1, xs));
    const Tensor held = x.grad();
    if (!held.defined()) fail("x.grad() is undefined after a contribution");
    version_before = held.version();
    accumulate_grad(x, from_vector(c2, xs));
    version_after = held.version();
    added_in_place = x.grad().defined() && x.grad().impl() == held.impl();
    Case k;
    k.name = name;
    k.kind = CaseKind::kSpecial;
    k.special = "a .grad() handle held by the caller";
    k.shape = xs;
    k.truth = gradient_of({kSin, kTwice}, x0, xs, {w1, w2});
    k.yours = values_of(held);
    std::string evidence;
    if (x.grad().defined() && x.grad().impl() != held.impl() && matches(k, c1, &evidence))
      c.add_finding("replaced",
                    ".grad() was replaced by a new tensor holding the sum, not added to in place: a handle to "
                    ".grad() taken before the second backward() (an optimizer's, a hook's) still holds the old "
                    "gradient. PyTorch adds into .grad in place; so does chalk (add_in_place)",
                    str_cat("case \"", name, "\", the held handle's ", evidence));
    return k;
  });

  c.run("leaf x [2, 3]: .grad()'s version after a second backward(): grown", [&] {
    if (!version_after) fail("the case before stopped before a second contribution reached .grad()");
    Case k;
    k.kind = CaseKind::kSpecial;
    k.special = "the version of .grad() after it was added to in place";
    k.shape = {};
    k.truth = {1.0};
    k.yours = {*version_after > *version_before ? 1.0 : 0.0};
    if (k.yours[0] == 0.0 && added_in_place)
      c.add_finding("version",
                    ".grad() was added to, but its version was not bumped: call increment_version(t) after "
                    "writing a tensor's data yourself (add_in_place does), or a VJP that saved it would read "
                    "the new values unwarned (docs/autograd.md section 7)",
                    str_cat("case \"leaf x [2, 3]: a .grad() handle held across a second backward()\": .grad()'s "
                            "version is ", *version_before, " before the second contribution and ", *version_after,
                            " after it"));
    return k;
  });

  // ---- end to end: backward() itself, which calls chalk's two functions ----
  if (through_backward) {
    const std::vector<double> w = random_values(6, 701), w2 = random_values(6, 702);
    c.run("backward(): y = e^x [2, 3] feeding 2y and sin y", [&] {
      Tensor x = leaf();
      const Tensor y = exp(x);
      backward({y * 2.0 + sin(y)}, {from_vector(w, xs)});
      Case k;
      k.shape = xs;
      k.truth = central_difference_vjp(
          [&](const std::vector<double>& v) {
            const Tensor e = exp(from_vector(v, xs));
            return values_of(e * 2.0 + sin(e));
          },
          x0, w);
      k.yours = values_or_zeros(c, x.grad(), 6, "x.grad()", "backward()");
      return k;
    });
    c.run("backward() twice into x [2, 3]: sin x, then e^x", [&] {
      Tensor x = leaf();
      backward({sin(x)}, {from_vector(w, xs)});
      backward({exp(x)}, {from_vector(w2, xs)});
      Case k;
      k.shape = xs;
      k.truth = gradient_of({kSin, kExp}, x0, xs, {w, w2});
      k.yours = values_or_zeros(c, x.grad(), 6, "x.grad()", "backward() twice");
      return k;
    });
    c.run("backward() of x + x, then of x itself, with the caller's gradient kept", [&] {
      Tensor x = leaf();
      const Tensor g = from_vector(w, xs);
      backward({x + x}, {g});
      backward({x}, {g});
      Case k;
      k.shape = {2, 2, 3};  // x.grad(), then the caller's g
      // x + x is two uses of x, and x itself a third: dL/dx = 3 g
      k.truth = concat({gradient_of({kItself, kItself, kItself}, x0, xs, {w, w, w}), w});
      k.yours = concat({values_or_zeros(c, x.grad(), 6, "x.grad()", "x + x"), values_of(g)});
      return k;
    });
  }
  return c.verdict();
}

namespace {
const Register registered{
    {2, [] { return check_02(chalk::accumulate_gradient, chalk::accumulate_grad, /*through_backward=*/true); },
     [] {
       return check_02([](Tensor&, const Tensor&) { exercise_not_done(2); },
                       [](const Tensor&, Tensor) { exercise_not_done(2); }, /*through_backward=*/false);
     }}};
}  // namespace

}  // namespace chalk::checker
