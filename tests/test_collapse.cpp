// tests/test_collapse.cpp — the trainer's collapse detector (issue 11 §5), made to fire for real.
//
// Two detectors (train/monitors.h):
//   - every step: the model's outputs are identical for the whole batch (all ReLUs of a layer
//     dead: the network ignores its input);
//   - after every epoch (run()): every test prediction is one class.
// With TrainConfig::stop_on_collapse (the default, and chalk-train's) each stops the run with a
// message that says what happened and what to change; with it off, run() warns in its log.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/random.h"
#include "losses/loss.h"
#include "ops/elementwise.h"
#include "test_util.h"
#include "train/checkpoint.h"
#include "train/monitors.h"
#include "train/run.h"
#include "train/trainer.h"

using namespace chalk;
using chalk::test_util::error_of;
using chalk::test_util::kSubset;
using chalk::test_util::run_program;
using chalk::test_util::temp_dir;
namespace fs = std::filesystem;

namespace {

TrainConfig config(const std::string& model) {
  TrainConfig c;
  c.data_dir = kSubset;
  c.model = model;
  c.loss = "softmax";
  c.epochs = 1;
  c.threads = 1;
  c.progress = false;
  c.limit_train = 256;  // 2 steps of 128
  c.seed = 3;
  return c;
}

// Kill every ReLU after the Linear layer `name` ("net.0"): weight 0, bias -1, so its output is
// -1 for every input and the ReLU after it gives 0: the rest of the network sees a constant.
void kill_relus_after(Trainer& t, const std::string& name) {
  NoGradGuard no_grad;
  for (auto& [n, p] : t.model().named_parameters()) {
    if (n == name + ".weight") std::fill(p.data<float>(), p.data<float>() + p.numel(), 0.0f);
    if (n == name + ".bias") std::fill(p.data<float>(), p.data<float>() + p.numel(), -1.0f);
  }
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

const std::string kDeadStep1 =
    "training collapsed at epoch 1, step 1 (global step 1): the model gives the same output for all 128 images of "
    "the batch, so every prediction is one class; its ReLUs have died (each is 0 for every input, so no gradient "
    "reaches the layers before them) and training cannot recover. This happens when the first steps are too "
    "large. Hint: lower the learning rate (--lr, now ";

// ---- the step detector: all ReLUs dead, in the MLP (after net.0) and in the CNN (after net.5)

TEST(Collapse, DeadReluMlpStopsAtTheFirstStep) {
  Trainer t(config("mlp"));
  kill_relus_after(t, "net.0");
  auto weights = [&] {
    std::vector<float> w;
    for (auto& [n, p] : t.model().named_parameters())
      for (float v : p.to_vector<float>()) w.push_back(v);
    return w;
  };
  const std::vector<float> before = weights();
  const std::string msg = error_of([&] { t.train_epoch(0); });
  EXPECT_TRUE(starts_with(msg, kDeadStep1)) << msg;
  EXPECT_NE(msg.find("or lengthen the warm-up (--warmup-steps, now "), std::string::npos) << msg;
  EXPECT_EQ(t.global_step(), 0);  // stopped before the optimizer step ...
  EXPECT_EQ(t.optimizer().steps(), 0);
  EXPECT_EQ(weights(), before);   // ... which changed nothing
}

TEST(Collapse, DeadReluCnnStopsAtTheFirstStep) {
  Trainer t(config("cnn"));
  kill_relus_after(t, "net.5");
  const std::string msg = error_of([&] { t.train_batch({0, 1, 2, 3, 4, 5, 6, 7}); });
  EXPECT_TRUE(starts_with(msg, "training collapsed at epoch 1, step 1 (global step 1): the model gives the same "
                               "output for all 8 images of the batch"))
      << msg;
}

// With stop_on_collapse off: the run goes on, the first collapsed step is kept, and run() warns
// in its log (the step's message, then the epoch's: all 1,000 test images are one class).
TEST(Collapse, DeadReluWarnsWhenStopIsOff) {
  TrainConfig c = config("mlp");
  c.stop_on_collapse = false;
  Trainer t(c);
  kill_relus_after(t, "net.0");
  std::ostringstream log;
  run_training(t, /*resume=*/false, log);
  EXPECT_EQ(t.global_step(), 2);
  EXPECT_TRUE(starts_with(t.collapse_warning(), kDeadStep1)) << t.collapse_warning();
  EXPECT_NE(log.str().find("warning: " + kDeadStep1), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("warning: training collapsed after epoch 1: every test image is predicted as the same "
                           "class (test accuracy "),
            std::string::npos)
      << log.str();
  EXPECT_NE(log.str().find("(stop_on_collapse is off: training goes on)."), std::string::npos) << log.str();
  EXPECT_EQ(t.predicted_classes(), 1);
}

// ---- the epoch detector: outputs that differ, but one class wins every argmax

TEST(Collapse, OneClassPredictionsStopAfterTheEpoch) {
  TrainConfig c = config("mlp");
  c.lr = 1e-9;  // the two steps leave the bias below as it is
  Trainer t(c);
  {
    NoGradGuard no_grad;
    for (auto& [n, p] : t.model().named_parameters())
      if (n == "net.4.bias") p.data<float>()[3] = 1e4f;  // class 3 wins every argmax
  }
  std::ostringstream log;
  const std::string msg = error_of([&] { run_training(t, false, log); });
  EXPECT_TRUE(starts_with(msg, "training collapsed after epoch 1: every test image is predicted as the same class "
                               "(test accuracy "))
      << msg;
  EXPECT_NE(msg.find("Hint: lower the learning rate (--lr, now 1e-09) or lengthen the warm-up"), std::string::npos) << msg;
  EXPECT_NE(msg.find("; no checkpoint was written for this epoch."), std::string::npos) << msg;
  EXPECT_TRUE(t.collapse_warning().empty());  // the outputs were never identical
  EXPECT_EQ(t.predicted_classes(), 1);
}

// ---- through chalk-train: a run that collapses stops with exit 1 and keeps the last good checkpoint
//
// By construction, not by a learning rate that happens to kill the ReLUs on one CPU's rounding
// (`--lr 1.5` collapsed at step 16 with OpenBLAS's SkylakeX kernels and overflowed to inf at
// step 18 with its Haswell kernels): one epoch trains, its checkpoint gets dead ReLUs after net.0,
// and the resumed run's first step must stop on them.

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

TEST(Collapse, DeadReluStopsChalkTrainAndKeepsTheCheckpoint) {
  const std::string dir = temp_dir("collapse");
  const std::string ckpt = dir + "/checkpoint.safetensors";
  std::string out;
  ASSERT_EQ(run_program("chalk-train --model mlp --loss softmax --epochs 1 --limit-train 256 --seed 0 --threads 1 "
                        "--quiet --data " + kSubset + " --out " + dir,
                        &out),
            0)
      << out;
  {
    Trainer t(checkpoint_config(ckpt));
    ASSERT_EQ(t.load_checkpoint(ckpt), 1);
    kill_relus_after(t, "net.0");
    t.save_checkpoint(ckpt, 1);
  }
  const std::string good = file_bytes(ckpt);
  const int code = run_program("chalk-train --out " + dir + " --resume --epochs 2 --threads 1 --quiet", &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("chalk-train: training collapsed at epoch 2, step 1 (global step 3): the model gives the same "
                     "output for all 128 images of the batch"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Hint: lower the learning rate (--lr, now "), std::string::npos) << out;
  EXPECT_EQ(file_bytes(ckpt), good) << "the last good checkpoint must stay as it was";
  fs::remove_all(dir);
}

// For real: a learning rate far too large stops the run within its first epoch. Which of the two
// stops comes first — every ReLU dead (collapse) or a logit overflowing to inf (divergence) —
// depends on the rounding of the BLAS kernels, so either is right; both name the learning rate
// and neither writes a checkpoint.
TEST(Collapse, HugeLearningRateStopsChalkTrainWithAHint) {
  const std::string dir = temp_dir("huge-lr");
  std::string out;
  const int code = run_program("chalk-train --model mlp --loss softmax --lr 1.5 --warmup-steps 0 --epochs 1 --seed 0 "
                               "--threads 1 --quiet --data " + kSubset + " --out " + dir,
                               &out);
  EXPECT_EQ(code, 1) << out;
  const bool collapsed = out.find("chalk-train: training collapsed at epoch 1, step ") != std::string::npos;
  const bool diverged = out.find("chalk-train: training stopped at epoch 1, step ") != std::string::npos;
  EXPECT_TRUE(collapsed || diverged) << out;
  EXPECT_NE(out.find("Hint: lower the learning rate (--lr, now 1.5)"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir + "/checkpoint.safetensors"));
  fs::remove_all(dir);
}

// The collapse check looks at the outputs, not at a bit pattern: rows that a dead layer made equal
// and the BLAS kernel then rounded apart in their last bits are still one output (OpenBLAS's
// Haswell kernels give a 128-row batch's edge rows other last bits than the rest); rows that
// differ for real are not.
TEST(Collapse, RowsThatDifferOnlyByRoundingAreTheSameOutput) {
  for (const DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    const double eps = dt == DType::Float32 ? 1.1920929e-7 : 2.220446049250313e-16;
    std::vector<double> rows;
    for (int i = 0; i < 4; ++i)
      for (double v : {-3.0, 0.5, 7.25}) rows.push_back(v);
    EXPECT_TRUE(outputs_identical(from_vector(rows, {4, 3}).to(dt)));
    std::vector<double> rounded = rows;
    rounded[3 * 3 + 2] = 7.25 * (1 + 8 * eps);  // a few ulps off in the last row
    rounded[1 * 3 + 0] = -3.0 * (1 - 4 * eps);
    EXPECT_TRUE(outputs_identical(from_vector(rounded, {4, 3}).to(dt)));
    std::vector<double> real = rows;
    real[2 * 3 + 1] = 0.51;  // one image sees something else
    EXPECT_FALSE(outputs_identical(from_vector(real, {4, 3}).to(dt)));
    std::vector<double> with_nan = rows;
    with_nan[5] = std::nan("");
    EXPECT_FALSE(outputs_identical(from_vector(with_nan, {4, 3}).to(dt)));
    EXPECT_TRUE(outputs_identical(zeros({3, 2}, dt)));
    EXPECT_FALSE(outputs_identical(from_vector(rows, {1, 12}).to(dt)));  // one row: nothing to compare
  }
}

}  // namespace

// ---- the embedding-length detector (check_embedding_growth, Trainer::embedding_growth_warning)
//
// A loss that sees only directions passes the network a gradient divided by ||x||, and every SGD
// step lengthens x. Too-large first steps leave long embeddings and a network that has all but
// stopped learning: CosFace without warm-up on SmallCNN, full MNIST, seeds 1 and 4 (test accuracy
// 0.50 and 0.40, exit 0, before the warning and the warm-up existed).

// What Loss::scale_invariant() claims is what the loss does: L(c x) = L(x) exactly when it says so.
TEST(EmbeddingGrowth, ScaleInvariantIsWhatTheLossComputes) {
  manual_seed(5);
  const Tensor x = randn({24, 8}, DType::Float64);
  std::vector<std::int64_t> y(24);
  for (std::int64_t i = 0; i < 24; ++i) y[static_cast<std::size_t>(i)] = i % 4;  // 6 images of each of 4 classes
  const Tensor labels = from_vector(y, {24});
  auto check = [&](const std::string& name, LossOptions o, bool invariant) {
    SCOPED_TRACE(name);
    o.num_classes = 4;
    o.emb_dim = 8;
    o.seed = 2;
    auto loss = make_loss(name, o);
    loss->to(DType::Float64);
    EXPECT_EQ(loss->scale_invariant(), invariant);
    const double a = loss->forward(x, labels).item(), b = loss->forward(mul(x, 7.3), labels).item();
    if (invariant) EXPECT_NEAR(a, b, 1e-12 * std::max(1.0, std::abs(a)));
    else EXPECT_GT(std::abs(a - b), 1e-6 * std::max(1.0, std::abs(a))) << a << " " << b;
  };
  const std::map<std::string, bool> expected = {{"softmax", false}, {"normface", true}, {"sphereface", false},
                                                {"cosface", true},  {"arcface", true},   {"combined", true},
                                                {"triplet", true},  {"centroid", true}};
  for (const LossEntry& e : loss_registry()) {
    auto it = expected.find(e.name);
    if (it == expected.end()) continue;  // a loss another test registered
    check(e.name, LossOptions{}, it->second);
  }
  LossOptions raw;
  raw.set("normalize", false);  // on the raw embeddings, the triplet and centroid losses see lengths too
  check("triplet", raw, false);
  check("centroid", raw, false);
  raw.set("distance", "cosine");  // ... unless the distance itself is the angle's
  check("triplet", raw, true);
}

// For real, from chalk-train's own flags on the shipped subset: CosFace at 10x its learning rate
// without warm-up lengthens the MLP's embeddings about 10,000-fold in one epoch (seed 0, 1 thread:
// median norm 1.18e4 from 0.849 when this was written). The run goes on, and says why it is bad.
TEST(EmbeddingGrowth, ChalkTrainWarnsWhenTheEmbeddingsGrowLong) {
  const std::string dir = temp_dir("growth");
  std::string out;
  ASSERT_EQ(run_program("chalk-train --model mlp --loss cosface --lr 0.1 --warmup-steps 0 --epochs 1 --seed 0 "
                        "--threads 1 --quiet --data " + kSubset + " --out " + dir,
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("warning: after epoch 1 the embeddings are "), std::string::npos) << out;
  EXPECT_NE(out.find(" times as long as at the first step (median norm "), std::string::npos) << out;
  EXPECT_NE(out.find("CosFaceLoss(s = 30, m = 0.35) sees only their direction, so the gradient reaching the network "
                     "is divided by that length"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Hint: lengthen the warm-up (--warmup-steps, now 0), lower the learning rate (--lr, now 0.1)"),
            std::string::npos)
      << out;
  // the defaults (a 23-step warm-up at lr 0.01): no warning
  const std::string dir2 = temp_dir("growth_defaults");
  ASSERT_EQ(run_program("chalk-train --model mlp --loss cosface --epochs 1 --seed 0 --threads 1 --quiet --data " +
                            kSubset + " --out " + dir2,
                        &out),
            0)
      << out;
  EXPECT_EQ(out.find("warning:"), std::string::npos) << out;
  fs::remove_all(dir);
  fs::remove_all(dir2);
}

// The detector itself: at 399-fold silent; the last layer scaled up 1000-fold after training, it warns;
// the first step's norm survives a checkpoint (a resumed run compares with the run's start).
TEST(EmbeddingGrowth, WarnsAbove400FoldAndKeepsTheFirstNormInTheCheckpoint) {
  TrainConfig c = config("mlp");
  c.loss = "cosface";
  c.emb_dim = 16;
  c.out_dir = temp_dir("growth_ckpt");
  Trainer t(c);
  t.train_epoch(0);
  const double first = t.first_embedding_norm();
  ASSERT_GT(first, 0);
  EpochMetrics m = t.evaluate(0);
  const double before = m.embedding_norm;
  EXPECT_EQ(t.embedding_growth_warning(m), "") << "two steps cannot have lengthened x 400-fold";
  m.embedding_norm = first * 399;
  EXPECT_EQ(t.embedding_growth_warning(m), "");
  {
    NoGradGuard no_grad;
    for (auto& [n, p] : t.model().named_parameters())
      if (n == "net.4.weight" || n == "net.4.bias")
        for (std::int64_t i = 0; i < p.numel(); ++i) p.data<float>()[i] *= 1000.0f;
  }
  m = t.evaluate(0);
  EXPECT_NEAR(m.embedding_norm / before, 1000.0, 1e-3);  // the output is linear in the last layer's W and b
  const std::string w = t.embedding_growth_warning(m);
  EXPECT_TRUE(starts_with(w, "after epoch 1 the embeddings are ")) << w;
  const std::string path = c.out_dir + "/checkpoint.safetensors";
  t.save_checkpoint(path, 1);
  Trainer resumed(c);
  EXPECT_EQ(resumed.first_embedding_norm(), 0);
  resumed.load_checkpoint(path);
  EXPECT_EQ(resumed.first_embedding_norm(), first);
  // softmax's loss sees lengths: however long x is, no such warning
  TrainConfig s = config("mlp");
  s.emb_dim = 16;
  Trainer soft(s);
  soft.train_epoch(0);
  EpochMetrics sm = soft.evaluate(0);
  sm.embedding_norm = soft.first_embedding_norm() * 1e6;
  EXPECT_EQ(soft.embedding_growth_warning(sm), "");
  fs::remove_all(c.out_dir);
}

