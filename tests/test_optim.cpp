// Tests for nn/optim.h (SGD, Adam, AdamW, and their one-parameter updates sgd_update and
// adam_update) and nn/schedule.h.
//
// The optimizers are compared with PyTorch 1.13 itself (torch.optim, float64) in two ways:
// (1) on a fixed quadratic
//     L(p) = 1/2 sum_k a_k (p_k - c_k)^2,      dL/dp_k = a_k (p_k - c_k)
// with numbers printed by /usr/bin/python3 (5 steps from p = [1, 2, -3]), and (2) on the
// trajectories of tests/reference/optim.json (scripts/make_reference.py): given gradients,
// 10 steps, the parameter after each. The update rule itself is not written out again here:
// it is exercise 12 (docs/exercises/12-optimizer-step.md), and a copy would be its answer.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "core/autograd.h"
#include "core/random.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "reference.h"
#include "test_util.h"

using namespace chalk;
using namespace chalk::nn;

namespace {

const std::vector<double> kA = {1.0, 3.0, 0.5};
const std::vector<double> kC = {0.5, -1.0, 2.0};
const std::vector<double> kP0 = {1.0, 2.0, -3.0};

// L = 1/2 sum(a (p - c)^2), built from autograd ops; backward fills p.grad().
void quadratic_backward(const Tensor& p) {
  const Tensor a = from_vector(kA, {3}), c = from_vector(kC, {3});
  Tensor loss = mul(sum(mul(a, square(sub(p, c)))), 0.5);
  loss.backward();
}

Tensor start_param() {
  Tensor p = from_vector(kP0, {3});
  p.requires_grad_(true);
  return p;
}

// Run `steps` optimizer steps on the quadratic; return the final p.
std::vector<double> run(Optimizer& opt, const Tensor& p, int steps) {
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    quadratic_backward(p);
    opt.step();
  }
  return p.to_vector<double>();
}

// PyTorch 1.13 on the quadratic, float64: Adam with lr = 0.1 (other options default) after 3 and
// 5 steps, and SGD with lr = 0.1 after one step (g = a (p - c) = [0.5, 9, -2.5]).
const std::vector<double> kAdamTorch3 = {0.7048712557394511, 1.7003815232817217, -2.7002132922411284};
const std::vector<double> kAdamTorch5 = {0.52781445653074444, 1.5017794559421693, -2.5009829493429749};
const std::vector<double> kSgdTorch1 = {0.95, 1.0999999999999999, -2.75};

void expect_all_near(const std::vector<double>& got, const std::vector<double>& want, double tol,
                     const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t k = 0; k < got.size(); ++k) EXPECT_NEAR(got[k], want[k], tol) << what << " [" << k << "]";
}

}  // namespace

// ---------------------------------------------------------------- SGD
TEST(SGD, PlainMatchesPyTorch) {
  Tensor p = start_param();
  SGD opt({p}, {.lr = 0.1});
  const auto got = run(opt, p, 5);
  expect_all_near(got, {0.79524499999999998, -0.49579000000000012, -1.8689046875000004}, 1e-14, "torch");
  EXPECT_EQ(opt.steps(), 5);
}

TEST(SGD, MomentumDampeningWeightDecayMatchesPyTorch) {
  Tensor p = start_param();
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
  const auto got = run(opt, p, 5);
  expect_all_near(got, {0.50292131227508752, -3.3079697852973995, -0.23437200499740002}, 1e-13, "torch");
}

TEST(SGD, NesterovWeightDecayMatchesPyTorch) {
  Tensor p = start_param();
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .nesterov = true, .weight_decay = 0.05});
  const auto got = run(opt, p, 5);
  expect_all_near(got, {0.40555074925285595, -1.9974702142662728, 0.54981937017192928}, 1e-13, "torch");
}

TEST(SGD, FirstMomentumStepIsPlainSgd) {
  // The buffer starts as the first gradient (not 0, not (1 - dampening) g).
  Tensor p = start_param();
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  run(opt, p, 1);
  expect_all_near(p.to_vector<double>(), kSgdTorch1, 1e-15, "one step");
}

TEST(SGD, BadOptionsThrow) {
  Tensor p = start_param();
  EXPECT_THROW(SGD({p}, {.lr = 0.1, .nesterov = true}), Error);  // nesterov without momentum
  EXPECT_THROW(SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}), Error);
  EXPECT_THROW(SGD({p}, {.lr = -1.0}), Error);
  EXPECT_THROW(SGD({p}, {.lr = 0.1, .momentum = -0.5}), Error);
  EXPECT_THROW(SGD({Tensor()}, {}), Error);
  EXPECT_THROW(SGD({from_vector(std::vector<std::int64_t>{1, 2}, {2})}, {}), Error);
  try {
    SGD({p}, {.lr = 0.1, .nesterov = true});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nesterov"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- Adam / AdamW
TEST(Adam, MatchesPyTorch) {
  Tensor p = start_param();
  Adam opt({p}, {.lr = 0.1});
  const auto got = run(opt, p, 5);
  expect_all_near(got, kAdamTorch5, 1e-13, "torch");
  EXPECT_EQ(opt.name(), "Adam");
}

TEST(Adam, L2WeightDecayMatchesPyTorch) {
  Tensor p = start_param();
  Adam opt({p}, {.lr = 0.1, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1});
  const auto got = run(opt, p, 5);
  expect_all_near(got, {0.53367012934211411, 1.5033621654213949, -2.5020363451706293}, 1e-13, "torch");
}

TEST(AdamW, DecoupledWeightDecayMatchesPyTorch) {
  Tensor p = start_param();
  AdamW opt({p}, {.lr = 0.1, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1});
  const auto got = run(opt, p, 5);
  expect_all_near(got, {0.50658044104524902, 1.4158910583868556, -2.3653368119235592}, 1e-13, "torch");
  EXPECT_EQ(opt.name(), "AdamW");
  // And it differs from L2 Adam: the decay is not the same thing.
  EXPECT_GT(std::fabs(got[1] - 1.5033621654213949), 1e-3);
}

TEST(Adam, FirstStepMovesEveryCoordinateByLr) {
  // Bias correction: m_hat = g, v_hat = g^2 at t = 1, so |dp| = lr g / (|g| + eps) ~ lr.
  Tensor p = start_param();
  Adam opt({p}, {.lr = 0.01});
  run(opt, p, 1);
  const auto q = p.to_vector<double>();
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(std::fabs(q[k] - kP0[k]), 0.01, 1e-8) << k;
}

TEST(Adam, BadOptionsThrow) {
  Tensor p = start_param();
  EXPECT_THROW(Adam({p}, {.beta1 = 1.0}), Error);
  EXPECT_THROW(Adam({p}, {.beta2 = -0.1}), Error);
  EXPECT_THROW(AdamW({p}, {.eps = -1.0}), Error);
  EXPECT_THROW(AdamW({p}, {.weight_decay = -1.0}), Error);
}

// ---------------------------------------------------------------- common behaviour
TEST(Optimizer, ParametersWithoutGradAreSkippedAndKeepNoState) {
  Tensor used = start_param();
  Tensor unused = from_vector(std::vector<double>{7.0, 8.0}, {2});
  unused.requires_grad_(true);
  Adam opt({unused, used}, {.lr = 0.1});
  run(opt, used, 3);
  EXPECT_EQ(unused.to_vector<double>(), (std::vector<double>{7.0, 8.0}));
  expect_all_near(used.to_vector<double>(), kAdamTorch3, 1e-13, "used");
  bool has_unused_state = false, has_used_state = false;
  for (auto& [k, t] : opt.state()) {
    has_unused_state = has_unused_state || k == "adam.m.0";
    has_used_state = has_used_state || k == "adam.m.1";
    if (k == "adam.step.1" || k == "step") {
      EXPECT_EQ(t.item(), 3.0) << k;
    }
  }
  EXPECT_FALSE(has_unused_state);
  EXPECT_TRUE(has_used_state);

  // When `unused` first gets a gradient, its own bias correction starts at t = 1.
  opt.zero_grad();
  sum(mul(unused, 2.0)).backward();  // g = 2
  opt.step();
  const auto u = unused.to_vector<double>();
  EXPECT_NEAR(u[0], 7.0 - 0.1, 1e-7);  // first Adam step: lr g / (|g| + eps)
  EXPECT_NEAR(u[1], 8.0 - 0.1, 1e-7);
}

TEST(Optimizer, ZeroGradForgetsGradients) {
  Tensor p = start_param();
  SGD opt({p}, {.lr = 0.1});
  quadratic_backward(p);
  ASSERT_TRUE(p.grad().defined());
  opt.zero_grad();
  EXPECT_FALSE(p.grad().defined());
  opt.step();  // nothing to do
  EXPECT_EQ(p.to_vector<double>(), kP0);
}

TEST(Optimizer, StepRecordsNoGraph) {
  Tensor p = start_param();
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
  run(opt, p, 2);
  EXPECT_TRUE(p.is_leaf());
  EXPECT_TRUE(p.requires_grad());
}

TEST(Optimizer, Float32ParametersFollowTheSameRule) {
  Tensor p = from_vector(std::vector<float>{1.0f, 2.0f, -3.0f}, {3});
  p.requires_grad_(true);
  Adam opt({p}, {.lr = 0.1});
  for (int s = 0; s < 5; ++s) {
    opt.zero_grad();
    const Tensor a = from_vector(std::vector<float>{1.0f, 3.0f, 0.5f}, {3});
    const Tensor c = from_vector(std::vector<float>{0.5f, -1.0f, 2.0f}, {3});
    mul(sum(mul(a, square(sub(p, c)))), 0.5).backward();
    opt.step();
  }
  const auto got = p.to_vector<float>();
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(got[k], kAdamTorch5[k], 1e-5) << k;
}

TEST(Optimizer, BigTensorParallelUpdateMatchesTheFormula) {
  // Above kParallelGrain elements the update runs with OpenMP; every element must still
  // follow the rule: here g = 1 everywhere, so after one Adam step p = p0 - lr / (1 + eps)
  // and after a second step (m = 0.19, v = 0.001999) the same again.
  const std::int64_t n = 100003;
  Tensor p = zeros({n}, DType::Float64);
  p.requires_grad_(true);
  AdamW opt({p}, {.lr = 0.01, .weight_decay = 0.5});
  for (int s = 0; s < 2; ++s) {
    opt.zero_grad();
    sum(p).backward();
    opt.step();
  }
  // hand: t=1: p = 0*(1-0.005) - 0.01 * 1/(1 + 1e-8);  t=2: p = p (1 - 0.005) - 0.01 * 1/(1 + 1e-8)
  const double step = 0.01 / (1.0 + 1e-8);
  const double want = -step * (1 - 0.005) - step;
  const auto got = p.to_vector<double>();
  for (std::int64_t i = 0; i < n; i += 997) ASSERT_NEAR(got[i], want, 1e-15) << i;
  ASSERT_NEAR(got[n - 1], want, 1e-15);
}

TEST(Optimizer, StateRoundTripResumesExactly) {
  for (int which = 0; which < 3; ++which) {
    Tensor p = start_param(), q;
    auto make = [&](Tensor t) -> std::unique_ptr<Optimizer> {
      if (which == 0) return std::make_unique<SGD>(std::vector<Tensor>{t}, SGDOptions{.lr = 0.05, .momentum = 0.9});
      if (which == 1) return std::make_unique<Adam>(std::vector<Tensor>{t}, AdamOptions{.lr = 0.05});
      return std::make_unique<AdamW>(std::vector<Tensor>{t}, AdamOptions{.lr = 0.05, .weight_decay = 0.1});
    };
    auto a = make(p);
    run(*a, p, 3);
    const NamedTensors saved = a->state();
    // A fresh optimizer on a copy of the parameter, given the saved state ...
    q = p.detach().clone();
    q.requires_grad_(true);
    auto b = make(q);
    b->load_state(saved);
    EXPECT_EQ(b->steps(), 3);
    // ... continues exactly like the original.
    run(*a, p, 4);
    run(*b, q, 4);
    EXPECT_EQ(p.to_vector<double>(), q.to_vector<double>()) << a->name();
    // The saved state was a snapshot, not a view of the live buffers.
    const NamedTensors now = a->state();
    for (auto& [k, t] : saved) {
      if (k.find("step") != std::string::npos) continue;  // step counters: int64
      for (auto& [k2, t2] : now) {
        if (k2 == k) {
          EXPECT_NE(t.to_vector<double>(), t2.to_vector<double>()) << k;
        }
      }
    }
  }
}

TEST(Optimizer, LoadStateRejectsForeignOrMismatchedState) {
  Tensor p = start_param();
  Adam adam({p}, {.lr = 0.1});
  run(adam, p, 1);
  SGD sgd({p}, {.lr = 0.1, .momentum = 0.9});
  EXPECT_THROW(sgd.load_state(adam.state()), Error);  // adam.* keys are unexpected for SGD
  EXPECT_THROW(sgd.load_state({}), Error);            // no "step"
  NamedTensors bad = {{"step", from_vector(std::vector<std::int64_t>{1}, {})},
                      {"momentum.0", zeros({4}, DType::Float64)}};
  try {
    sgd.load_state(bad);
    FAIL() << "expected a shape error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("momentum.0"), std::string::npos) << e.what();
  }
  NamedTensors partial = {{"step", from_vector(std::vector<std::int64_t>{1}, {})},
                          {"adam.m.0", zeros({3}, DType::Float64)}};
  EXPECT_THROW(adam.load_state(partial), Error);  // m without v and step
}

TEST(Optimizer, TrainsATinyLinearRegression) {
  // y = X w* + b* exactly; a Linear(3, 1) trained on the mean squared error must find w*, b*.
  for (int which = 0; which < 3; ++which) {
    manual_seed(3);
    const Tensor X = randn({64, 3}, DType::Float64);
    const Tensor w_star = from_vector(std::vector<double>{2.0, -1.0, 0.5}, {1, 3});
    const Tensor y = add(linear(X, w_star), 0.3);  // 64 x 1
    Linear model(3, 1);
    model.to(DType::Float64);
    std::unique_ptr<Optimizer> opt;
    if (which == 0) opt = std::make_unique<SGD>(model.parameters(), SGDOptions{.lr = 0.1, .momentum = 0.9});
    if (which == 1) opt = std::make_unique<SGD>(model.parameters(), SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
    if (which == 2) opt = std::make_unique<Adam>(model.parameters(), AdamOptions{.lr = 0.05});
    double first = 0, last = 0;
    for (int s = 0; s < 400; ++s) {
      opt->zero_grad();
      Tensor loss = mean(square(sub(model(X), y)));
      loss.backward();
      opt->step();
      (s == 0 ? first : last) = loss.item();
    }
    EXPECT_LT(last, 1e-8 * first) << opt->name() << " " << which;
    const auto w = model.weight.to_vector<double>();
    EXPECT_NEAR(w[0], 2.0, 1e-4) << which;
    EXPECT_NEAR(w[1], -1.0, 1e-4) << which;
    EXPECT_NEAR(w[2], 0.5, 1e-4) << which;
    EXPECT_NEAR(model.bias.item(), 0.3, 1e-4) << which;
  }
}

// ---------------------------------------------------------------- PyTorch's trajectories
namespace {

std::vector<double> row_of(const Tensor& t, std::int64_t r) {
  const std::int64_t n = t.shape()[1];
  const auto all = t.to_vector<double>();
  return {all.begin() + r * n, all.begin() + (r + 1) * n};
}

std::unique_ptr<Optimizer> optimizer_for(const chalk::reference::Case& c, const Tensor& p) {
  const std::string kind = c.param_str("optimizer");
  if (kind == "sgd")
    return std::make_unique<SGD>(std::vector<Tensor>{p},
                                 SGDOptions{.lr = c.param("lr"), .momentum = c.param("momentum"),
                                            .dampening = c.param("dampening"), .nesterov = c.param_bool("nesterov"),
                                            .weight_decay = c.param("weight_decay")});
  const AdamOptions o{.lr = c.param("lr"), .beta1 = c.param("beta1"), .beta2 = c.param("beta2"),
                      .eps = c.param("eps"), .weight_decay = c.param("weight_decay")};
  if (kind == "adam") return std::make_unique<Adam>(std::vector<Tensor>{p}, o);
  return std::make_unique<AdamW>(std::vector<Tensor>{p}, o);
}

}  // namespace

// Every case of tests/reference/optim.json, through the optimizer classes: 10 steps with the
// stored gradients, the parameter and the state after each as torch.optim has them. In float64
// to round-off; in float32 to float32 round-off.
TEST(Optimizer, FollowsPyTorchsTrajectoriesInOptimJson) {
  const auto fam = chalk::reference::load_reference("optim");
  ASSERT_GE(fam.cases.size(), 12u);
  for (const auto& c : fam.cases) {
    for (DType dt : {DType::Float64, DType::Float32}) {
      SCOPED_TRACE(c.name + (dt == DType::Float32 ? " float32" : " float64"));
      const bool f32 = dt == DType::Float32;
      const double atol = f32 ? 1e-5 : 1e-14, rtol = f32 ? 1e-4 : 1e-12;
      Tensor p = c.input("param").to(dt);
      p.requires_grad_(true);
      auto opt = optimizer_for(c, p);
      const Tensor grads = c.input("grads"), want = c.output("param");
      for (std::int64_t t = 0; t < c.param_int("steps"); ++t) {
        opt->zero_grad();
        const Tensor g = from_vector(row_of(grads, t), {grads.shape()[1]}).to(dt);
        sum(mul(p, g)).backward();  // p.grad() = g exactly
        opt->step();
        EXPECT_TRUE(chalk::reference::close(p, from_vector(row_of(want, t), p.shape()), atol, rtol)) << "step " << t + 1;
        // the state, under chalk's checkpoint names
        for (const auto& [torch_name, chalk_name] :
             std::vector<std::pair<std::string, std::string>>{{"momentum_buffer", "momentum.0"}, {"exp_avg", "adam.m.0"},
                                                              {"exp_avg_sq", "adam.v.0"}}) {
          if (!c.has_output(torch_name)) continue;
          bool found = false;
          for (const auto& [k, state] : opt->state())
            if (k == chalk_name) {
              found = true;
              EXPECT_TRUE(chalk::reference::close(state, from_vector(row_of(c.output(torch_name), t), p.shape()),
                                                  atol * (torch_name == "exp_avg_sq" ? 1e-3 : 1.0), rtol))
                  << torch_name << " after step " << t + 1;
            }
          EXPECT_TRUE(found) << chalk_name;
        }
      }
    }
  }
}

// sgd_update and adam_update are what step() runs: called directly on the same values (one call
// over all elements, where step() splits them between threads), they give the same bits.
TEST(OptimizerUpdate, CalledDirectlyTheyAreWhatStepRuns) {
  const std::int64_t n = 100003;  // above kParallelGrain: step() runs its chunks on threads
  manual_seed(7);
  const Tensor p0 = randn({n}, DType::Float64);
  const std::vector<Tensor> grads = {randn({n}, DType::Float64), randn({n}, DType::Float64),
                                     randn({n}, DType::Float64)};
  const std::vector<SGDOptions> sgd_options = {
      {.lr = 0.1}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.3, .weight_decay = 0.01},
      {.lr = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 0.1}};
  for (const auto& o : sgd_options) {
    Tensor p = p0.clone();
    p.requires_grad_(true);
    SGD opt({p}, o);
    std::vector<double> q = p0.to_vector<double>(), b(static_cast<std::size_t>(n), 0.0);
    for (std::size_t t = 0; t < grads.size(); ++t) {
      opt.zero_grad();
      sum(mul(p, grads[t])).backward();
      opt.step();
      const auto g = grads[t].to_vector<double>();
      sgd_update(q.data(), g.data(), o.momentum != 0.0 ? b.data() : nullptr, n, t == 0, o);
    }
    EXPECT_EQ(p.to_vector<double>(), q) << "momentum " << o.momentum << " nesterov " << o.nesterov;
  }
  for (bool decoupled : {false, true}) {
    const AdamOptions o{.lr = 0.01, .beta1 = 0.8, .eps = 1e-6, .weight_decay = 0.1};
    Tensor p = p0.clone();
    p.requires_grad_(true);
    std::unique_ptr<Optimizer> opt;
    if (decoupled) opt = std::make_unique<AdamW>(std::vector<Tensor>{p}, o);
    else opt = std::make_unique<Adam>(std::vector<Tensor>{p}, o);
    std::vector<double> q = p0.to_vector<double>(), m(static_cast<std::size_t>(n), 0.0), v = m;
    for (std::size_t t = 0; t < grads.size(); ++t) {
      opt->zero_grad();
      sum(mul(p, grads[t])).backward();
      opt->step();
      const auto g = grads[t].to_vector<double>();
      adam_update(q.data(), g.data(), m.data(), v.data(), n, static_cast<std::int64_t>(t + 1), o, decoupled);
    }
    EXPECT_EQ(p.to_vector<double>(), q) << opt->name();
  }
}

TEST(OptimizerUpdate, BadArgumentsThrowNamingTheFunction) {
  using chalk::test_util::expect_error;
  std::vector<double> p(3, 1.0), g(3, 0.5), b(3, 0.0), v(3, 0.0);
  expect_error([&] { sgd_update(p.data(), g.data(), b.data(), -1, true, SGDOptions{}); },
               {"sgd_update", "n >= 0", "-1"});
  expect_error([&] { sgd_update(p.data(), g.data(), static_cast<double*>(nullptr), 3, true, SGDOptions{.momentum = 0.9}); },
               {"sgd_update", "null"});
  expect_error([&] { sgd_update(p.data(), static_cast<const double*>(nullptr), b.data(), 3, true, SGDOptions{}); },
               {"sgd_update", "null"});
  expect_error([&] { sgd_update(p.data(), g.data(), b.data(), 3, true, SGDOptions{.lr = -0.1}); },
               {"sgd_update", "lr", "-0.1"});
  expect_error([&] { sgd_update(p.data(), g.data(), b.data(), 3, true, SGDOptions{.nesterov = true}); },
               {"sgd_update", "nesterov needs momentum > 0"});
  expect_error([&] { sgd_update(p.data(), g.data(), b.data(), 3, true, SGDOptions{.weight_decay = -1.0}); },
               {"sgd_update", "weight_decay"});
  // without momentum the buffer is not needed: null is fine, and nothing else is touched
  sgd_update(p.data(), g.data(), static_cast<double*>(nullptr), 3, true, SGDOptions{.lr = 0.5});
  EXPECT_EQ(p, (std::vector<double>{0.75, 0.75, 0.75}));
  sgd_update(static_cast<double*>(nullptr), static_cast<const double*>(nullptr), static_cast<double*>(nullptr), 0,
             true, SGDOptions{.momentum = 0.9});  // n = 0: nothing to do, nothing read

  expect_error([&] { adam_update(p.data(), g.data(), b.data(), v.data(), 3, 0, AdamOptions{}, false); },
               {"adam_update", "step >= 1", "got 0"});
  expect_error([&] { adam_update(p.data(), g.data(), static_cast<double*>(nullptr), v.data(), 3, 1, AdamOptions{}, false); },
               {"adam_update", "null"});
  expect_error([&] { adam_update(p.data(), g.data(), b.data(), v.data(), 3, 1, AdamOptions{.beta2 = 1.0}, true); },
               {"adam_update", "betas in [0, 1)"});
  expect_error([&] { adam_update(p.data(), g.data(), b.data(), v.data(), 3, 1, AdamOptions{.eps = -1e-8}, false); },
               {"adam_update", "eps >= 0"});
  expect_error([&] { adam_update(p.data(), g.data(), b.data(), v.data(), -2, 1, AdamOptions{}, false); },
               {"adam_update", "n >= 0", "-2"});
}

// ---------------------------------------------------------------- schedules
TEST(Schedule, Constant) {
  const auto s = LRSchedule::constant(0.1);
  for (std::int64_t t : {0, 1, 100, 100000}) EXPECT_EQ(s.lr_at(t), 0.1);
}

TEST(Schedule, StepDecaysEveryStepSize) {
  const auto s = LRSchedule::step(1.0, 10, 0.5);  // PyTorch StepLR(step_size=10, gamma=0.5)
  EXPECT_DOUBLE_EQ(s.lr_at(0), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(9), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(10), 0.5);
  EXPECT_DOUBLE_EQ(s.lr_at(19), 0.5);
  EXPECT_DOUBLE_EQ(s.lr_at(20), 0.25);
  EXPECT_DOUBLE_EQ(s.lr_at(35), 0.125);
}

TEST(Schedule, CosineAnnealsToEtaMinAndStays) {
  const auto s = LRSchedule::cosine(0.1, 100, 0.01);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_NEAR(s.lr_at(50), 0.01 + 0.09 * 0.5, 1e-15);                           // cos(pi/2) = 0
  EXPECT_NEAR(s.lr_at(25), 0.01 + 0.09 * (1 + std::sqrt(0.5)) / 2, 1e-15);      // cos(pi/4)
  EXPECT_NEAR(s.lr_at(100), 0.01, 1e-15);
  EXPECT_NEAR(s.lr_at(250), 0.01, 1e-15);
  for (std::int64_t t = 1; t <= 100; ++t) EXPECT_LE(s.lr_at(t), s.lr_at(t - 1)) << t;
}

TEST(Schedule, WarmupRampsThenHandsOver) {
  const auto s = LRSchedule::cosine(0.2, 10).with_warmup(4);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.05);  // 0.2 * 1/4
  EXPECT_DOUBLE_EQ(s.lr_at(1), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(3), 0.2);
  EXPECT_DOUBLE_EQ(s.lr_at(4), 0.2);   // cosine's step 0
  EXPECT_NEAR(s.lr_at(9), 0.1, 1e-15);  // cosine's step 5 of 10: halfway
  EXPECT_NEAR(s.lr_at(14), 0.0, 1e-15);
  const auto st = LRSchedule::step(1.0, 2, 0.1).with_warmup(2);
  EXPECT_DOUBLE_EQ(st.lr_at(0), 0.5);
  EXPECT_DOUBLE_EQ(st.lr_at(2), 1.0);
  EXPECT_DOUBLE_EQ(st.lr_at(4), 0.1);
  EXPECT_DOUBLE_EQ(LRSchedule::constant(0.3).with_warmup(3).lr_at(2), 0.3);
  EXPECT_EQ(s.warmup_steps(), 4);
  EXPECT_NE(s.describe().find("cosine"), std::string::npos);
  EXPECT_NE(s.describe().find("4 warm-up"), std::string::npos);
}

TEST(Schedule, IsAPureFunctionOfTheStep) {
  // Resuming at step 37 gives the same learning rates as running through.
  const auto s = make_schedule("cosine", 0.1, 100, 10);
  std::vector<double> through;
  for (std::int64_t t = 0; t < 100; ++t) through.push_back(s.lr_at(t));
  const auto resumed = make_schedule("cosine", 0.1, 100, 10);
  for (std::int64_t t = 37; t < 100; ++t) EXPECT_EQ(resumed.lr_at(t), through[t]);
  // Driving an optimizer: lr set from its own step count.
  Tensor p = start_param();
  SGD opt({p}, {.lr = 1.0});
  for (int t = 0; t < 12; ++t) {
    opt.set_lr(s.lr_at(opt.steps()));
    opt.zero_grad();
    quadratic_backward(p);
    opt.step();
    EXPECT_EQ(opt.lr(), through[t]);
  }
}

TEST(Schedule, MakeScheduleAndErrors) {
  const auto st = make_schedule("step", 0.3, 90);
  EXPECT_DOUBLE_EQ(st.lr_at(29), 0.3);
  EXPECT_NEAR(st.lr_at(30), 0.03, 1e-15);
  EXPECT_NEAR(st.lr_at(60), 0.003, 1e-15);
  EXPECT_DOUBLE_EQ(make_schedule("constant", 0.3, 90).lr_at(89), 0.3);
  try {
    make_schedule("exponential", 0.1, 10);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("constant, step, cosine"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_schedule("cosine", 0.1, 10, 10), Error);
  EXPECT_THROW(LRSchedule::step(0.1, 0), Error);
  EXPECT_THROW(LRSchedule::cosine(0.1, 0), Error);
  EXPECT_THROW(LRSchedule::cosine(0.1, 10, 0.5), Error);
  EXPECT_THROW(LRSchedule::constant(-1.0), Error);
  EXPECT_THROW(LRSchedule::constant(0.1).with_warmup(-1), Error);
  EXPECT_THROW(LRSchedule::constant(0.1).lr_at(-1), Error);
}
