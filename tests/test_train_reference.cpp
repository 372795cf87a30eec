// chalk's Trainer against PyTorch 1.13, step by step (tests/reference/training.json, made by
// scripts/make_reference.py): the same initial weights (PyTorch's default init, written as
// safetensors), the same batches of the shipped subset, the same recipe (optimizer, learning
// rate, schedule, loss); the losses of the first 100 steps and the weights after them must agree
// to the tolerance the data supports (below). One case per model (MLP, SmallCNN with softmax cross-entropy) and per
// loss family on SmallCNN's 64-d embeddings (ArcFace with its W, batch-hard triplet on P x K
// batches with Adam, the centroid bound).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"
#include "reference.h"
#include "train/trainer.h"

using namespace chalk;

namespace {

// How close is close? Float32 training drifts from the reference by round-off (different
// summation orders in the convolutions and GEMMs, and, for ArcFace, PyTorch evaluating acos and
// cos(theta + m) in float32 where chalk evaluates them in double), and every step amplifies what
// came before. What the data supports was measured with scripts/replay_drift.py, which replays each
// case in PyTorch float32, float64, and float32 with every initial weight moved by one ulp, and
// prints the per-step relative loss differences |a - b| / max(1, |b|) (2026-11-30, 1 thread):
//
//                 chalk vs reference         PyTorch f32 vs f64    PyTorch f32 vs f32+1ulp
//   mlp_softmax   2.4e-7 (all 100 steps)     5.3e-7                1.3e-6
//   cnn_softmax   4.0e-6 steps < 40          4.3e-6 steps < 28     1.4e-3
//                 1.6e-4 steps < 55          2.6e-3 steps 28-39    1.5e-2
//                                            5.4e-3 steps 40-54    1.4e-2
//                 1.5e-2 steps < 100         2.2e-2                4.3e-2
//     ASan build  2.3e-3 steps < 40, 4.4e-3 steps < 55 (-O2 with sanitizers rounds otherwise:
//                 the same run, bit for bit, every time; its losses track PyTorch f32 vs f64)
//     weights after 100 steps, max |diff| / the tensor's max: f32 vs f64 up to 0.125 (net.5.weight),
//                 f32 vs f32+1ulp up to 0.244 (net.5.weight); chalk's ASan build 0.095 (net.5.bias)
//   cnn_triplet   5.1e-5 (all 100 steps)     5.6e-5                4.7e-5
//   cnn_centroid  5.1e-5 steps < 26          5.1e-5                4.2e-5
//                 2.1e-3 steps < 100         1.7e-3                1.5e-3
//   cnn_arcface   2.4e-7 steps < 8           2.2e-7                3.0e-7
//                 5.8e-4 steps < 26          5.7e-4                7.1e-5
//                 4.9e-3 steps < 30          5.8e-3                1.7e-3
//                 7.2e-1 steps < 100         5.6e-1                5.4e-1
//
// ArcFace (the case that was skipped) is not a bug but chaos: chalk's float32 run follows
// PyTorch's float64 run to 1e-7 for 19 steps and 2e-5 for 26 (steps 8-25: |chalk - f64| <= 1.9e-5
// while |PyTorch f32 - f64| reaches 5.7e-4: chalk minus the reference is PyTorch float32's own
// error, 6.30e-5 against 6.30e-5 at step 11), and a one-ulp change of PyTorch's initial weights
// moves its loss by 1.7e-3 at step 29, 4e-2 by step 40 and up to 54% later. ArcFace's s = 30 and
// the warm-up's loss spike amplify round-off faster than the other recipes do, so after step 26 the
// two float32 runs are two samples of the same process: what must agree is its statistics. The
// mean loss of steps 26-49 was 4.2644 (chalk), 4.2770 (reference), 4.2548 (PyTorch f64), 4.2304
// (PyTorch f32 + 1 ulp); of steps 50-99: 1.4769, 1.4773, 1.4850, 1.3848 (6.3% from the reference
// for a one-ulp change). The weights after 100 steps are compared by their norms alone (chalk's
// differed from the reference's by at most 5.4%, net.0.bias).
//
// chalk follows PyTorch's float32 run more closely than a one-ulp change of the initial weights
// would allow (cnn_softmax: 4e-6 at step 40 against 1.5e-2), because its kernels round much as
// PyTorch's do; if a change of summation order in chalk breaks an early bound, compare the
// difference with the last two columns (replay_drift.py) before looking for a bug.
// Each case's bounds are a few times what was measured (a test must not fail on a one-ulp change
// of summation order, and must fail on a real difference: a wrong gradient moves the loss by far
// more than 1e-6 within a few steps).
struct Bounds {
  std::vector<std::pair<std::int64_t, double>> per_step;  // (until step, relative tolerance), in order
  double window_mean_tol = 0;                    // > 0: the mean loss of each window (below) agrees
  std::vector<std::pair<std::int64_t, std::int64_t>> windows;  //    to this relative tolerance
  bool weights_elementwise = true;               // false: the weights' norms only (chaotic cases)
  double weight_tol = 5e-2;                      // relative to the tensor's largest sampled value / its norm
};

Bounds bounds_for(const std::string& name) {
  if (name == "mlp_softmax") return {{{100, 1e-6}}, 0, {}};
  // cnn_softmax: about 4x PyTorch's own float32 error (f32 vs f64, below) in each range, and the
  // weights to a quarter of each tensor's largest value (f32 vs f64 differ by up to 12.5%, a
  // one-ulp start by up to 24%: after step 28 the runs are chaotic).
  if (name == "cnn_softmax") return {{{28, 2e-5}, {40, 1e-2}, {55, 1.5e-2}, {100, 3e-2}}, 0, {}, true, 0.25};
  if (name == "cnn_triplet") return {{{100, 2e-4}}, 0, {}};
  if (name == "cnn_centroid") return {{{26, 2e-4}, {100, 5e-3}}, 0, {}};
  if (name == "cnn_arcface") return {{{8, 1e-6}, {26, 2e-3}}, 0.1, {{26, 50}, {50, 100}}, false, 0.1};
  ADD_FAILURE() << "no bounds for the reference case " << name;
  return {};
}

nn::NamedTensors prefixed(const nn::NamedTensors& tensors, const std::string& prefix) {
  nn::NamedTensors out;
  for (const auto& [n, t] : tensors) out.emplace_back(prefix + n, t);
  return out;
}

void replay(const reference::Case& c) {
  TrainConfig cfg;
  cfg.data_dir = std::string(CHALK_DATA_DIR) + "/mnist-subset";
  cfg.model = c.param_str("model");
  cfg.loss = c.param_str("loss");
  cfg.emb_dim = static_cast<std::int64_t>(c.param("emb_dim"));
  cfg.epochs = 5;  // the reference's schedule: 5 epochs of the subset (total_steps)
  cfg.threads = 1;
  cfg.progress = false;
  Trainer t(cfg);  // every other field: chalk-train's defaults for this loss
  ASSERT_EQ(t.config().optimizer, c.param_str("optimizer")) << c.name;
  ASSERT_DOUBLE_EQ(t.config().lr, c.param("lr")) << c.name;
  ASSERT_EQ(t.config().warmup_steps, static_cast<std::int64_t>(c.param("warmup_steps"))) << c.name;

  const std::string dir = std::string(CHALK_TEST_DIR) + "/reference/";
  load_safetensors_into(dir + c.param_str("init_model"), prefixed(t.model().named_parameters(), "model."));
  if (!c.param_str("init_loss").empty())
    load_safetensors_into(dir + c.param_str("init_loss"), prefixed(t.loss().named_parameters(), "loss."));
  else
    ASSERT_TRUE(t.loss().named_parameters().empty()) << c.name << ": the reference has no loss parameters";

  const Bounds bounds = bounds_for(c.name);
  const Tensor batches = c.input("batches"), lrs = c.input("lr"), losses = c.output("losses");
  const std::int64_t steps = batches.shape()[0], B = batches.shape()[1];
  const std::int64_t* idx = batches.data<std::int64_t>();
  std::vector<double> got(static_cast<std::size_t>(steps)), want(losses.data<double>(), losses.data<double>() + steps);
  for (std::int64_t s = 0; s < steps; ++s) {
    got[s] = t.train_batch(std::vector<std::int64_t>(idx + s * B, idx + (s + 1) * B));
    EXPECT_NEAR(t.lr_at_last_step(), lrs.data<double>()[s], 1e-12) << c.name << " step " << s;
    for (const auto& [until, tol] : bounds.per_step) {
      if (s >= until) continue;
      EXPECT_NEAR(got[s], want[s], tol * std::max(1.0, std::fabs(want[s]))) << c.name << " step " << s;
      break;
    }
  }
  for (const auto& [lo, hi] : bounds.windows) {
    double g = 0, w = 0;
    for (std::int64_t s = lo; s < hi; ++s) g += got[s] / static_cast<double>(hi - lo), w += want[s] / static_cast<double>(hi - lo);
    EXPECT_NEAR(g, w, bounds.window_mean_tol * std::fabs(w)) << c.name << ": the mean loss of steps " << lo << "-" << hi - 1;
  }

  nn::NamedTensors params = prefixed(t.model().named_parameters(), "model.");
  for (auto& kv : prefixed(t.loss().named_parameters(), "loss.")) params.push_back(kv);
  const auto per = static_cast<std::int64_t>(c.param("sample_per_tensor"));
  for (const auto& [name, p] : params) {
    const Tensor v = p.detach().to(DType::Float64);
    const std::int64_t stride = std::max<std::int64_t>(1, v.numel() / per);
    if (bounds.weights_elementwise) {
      const Tensor want_sample = c.output(name + ".sample");
      double scale = 0;
      for (std::int64_t k = 0; k < want_sample.numel(); ++k) scale = std::max(scale, std::fabs(want_sample.data<double>()[k]));
      std::vector<double> sample;
      for (std::int64_t k = 0; k < want_sample.numel(); ++k) sample.push_back(v.data<double>()[k * stride]);
      const reference::Comparison cmp =
          reference::close(from_vector(sample, want_sample.shape()), want_sample, bounds.weight_tol * scale);
      EXPECT_TRUE(cmp.ok) << c.name << " " << name << " after " << steps << " steps: " << cmp;
    }
    double norm = 0;
    for (std::int64_t k = 0; k < v.numel(); ++k) norm += v.data<double>()[k] * v.data<double>()[k];
    const double want_norm = c.output(name + ".norm").item();
    EXPECT_NEAR(std::sqrt(norm), want_norm, bounds.weight_tol * want_norm) << c.name << " " << name << " norm";
  }
}

}  // namespace

TEST(TrainReference, MlpSoftmaxMatchesPyTorch) { replay(reference::load_reference("training").at("mlp_softmax")); }
TEST(TrainReference, CnnSoftmaxMatchesPyTorch) { replay(reference::load_reference("training").at("cnn_softmax")); }
// ArcFace: exact agreement for 8 steps, PyTorch float32's own round-off for 26, then the same
// statistics (the measurements in the comment at the top: chaos, not a bug).
TEST(TrainReference, CnnArcFaceMatchesPyTorch) { replay(reference::load_reference("training").at("cnn_arcface")); }
TEST(TrainReference, CnnTripletMatchesPyTorch) { replay(reference::load_reference("training").at("cnn_triplet")); }
TEST(TrainReference, CnnCentroidMatchesPyTorch) { replay(reference::load_reference("training").at("cnn_centroid")); }
