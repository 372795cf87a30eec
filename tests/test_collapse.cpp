// tests/test_collapse.cpp — the trainer's collapse detector (issue 11 §5), made to fire for real.
//
// Two detectors (train/trainer.cpp):
//   - every step: the model's outputs are identical for the whole batch (all ReLUs of a layer
//     dead: the network ignores its input);
//   - after every epoch (run()): every test prediction is one class.
// With TrainConfig::stop_on_collapse (the default, and chalk-train's) each stops the run with a
// message that says what happened and what to change; with it off, run() warns in its log.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>

#include "core/autograd.h"
#include "test_util.h"
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
  const std::string msg = error_of([&] { t.train_epoch(0); });
  EXPECT_TRUE(starts_with(msg, kDeadStep1)) << msg;
  EXPECT_NE(msg.find("or lengthen the warm-up (--warmup-steps, now "), std::string::npos) << msg;
  EXPECT_EQ(t.global_step(), 0);  // stopped before the optimizer step
}

TEST(Collapse, DeadReluCnnStopsAtTheFirstStep) {
  Trainer t(config("cnn"));
  kill_relus_after(t, "net.5");
  const std::string msg = error_of([&] { t.train_step({0, 1, 2, 3, 4, 5, 6, 7}); });
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
  t.run(/*resume=*/false, log);
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
  const std::string msg = error_of([&] { t.run(false, log); });
  EXPECT_TRUE(starts_with(msg, "training collapsed after epoch 1: every test image is predicted as the same class "
                               "(test accuracy "))
      << msg;
  EXPECT_NE(msg.find("Hint: lower the learning rate (--lr, now 1e-09) or lengthen the warm-up"), std::string::npos) << msg;
  EXPECT_NE(msg.find("; no checkpoint was written for this epoch."), std::string::npos) << msg;
  EXPECT_TRUE(t.collapse_warning().empty());  // the outputs were never identical
  EXPECT_EQ(t.predicted_classes(), 1);
}

// ---- for real: a learning rate far too large, from chalk-train's own flags, on the shipped subset
//
// `--lr 1.5 --warmup-steps 0` (SGD, momentum 0.9) kills the MLP's ReLUs within the first epoch
// (seed 0, 1 thread: step 16 of 47 when this was written). Smaller rates (0.5, 1) overflow the
// logits to inf first, which the trainer reports as divergence instead.

TEST(Collapse, HugeLearningRateStopsChalkTrain) {
  const std::string dir = temp_dir("collapse");
  std::string out;
  const int code = run_program("chalk-train --model mlp --loss softmax --lr 1.5 --warmup-steps 0 --epochs 1 --seed 0 "
                               "--threads 1 --quiet --data " + kSubset + " --out " + dir,
                               &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("chalk-train: training collapsed at epoch 1, step "), std::string::npos) << out;
  EXPECT_NE(out.find("the model gives the same output for all 128 images of the batch"), std::string::npos) << out;
  EXPECT_NE(out.find("Hint: lower the learning rate (--lr, now "), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir + "/checkpoint.safetensors"));
  fs::remove_all(dir);
}

// The same run through the Trainer: the step detector, not the divergence check, stops it.
TEST(Collapse, HugeLearningRateStopsTheTrainer) {
  TrainConfig c = config("mlp");
  c.limit_train = 0;
  c.seed = 0;
  c.lr = 1.5;
  c.warmup_steps = 0;
  Trainer t(c);
  const std::string msg = error_of([&] { t.train_epoch(0); });
  EXPECT_TRUE(starts_with(msg, "training collapsed at epoch 1, step ")) << msg;
  EXPECT_GT(t.global_step(), 1);  // it trained before it collapsed
}

}  // namespace
