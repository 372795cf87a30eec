// tests/test_train_parts.cpp — the Trainer's named parts, each on its own: the training step
// (train/step.h), the sampler (train/sampler.h), the monitors (train/monitors.h); and a Trainer
// built from parts of a program's own (train/parts.h, train/data.h): its own loss and its own
// data through chalk-train's loop, and nothing process-wide touched.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/exercise.h"
#include "core/parallel.h"
#include "core/random.h"
#include "nn/layers.h"
#include "nn/models.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "train/monitors.h"
#include "train/parts.h"
#include "train/sampler.h"
#include "train/step.h"
#include "train/trainer.h"
#include "train_util.h"

using namespace chalk;
using chalk::test_util::expect_error;
using chalk::test_util::small_config;

namespace {

std::vector<float> values_of(const nn::Module& m) {
  std::vector<float> out;
  for (const auto& [n, p] : m.named_parameters())
    for (float v : p.to_vector<float>()) out.push_back(v);
  return out;
}

std::vector<float> params_of(Trainer& t) {
  std::vector<float> out = values_of(t.model());
  for (float v : values_of(t.loss())) out.push_back(v);
  return out;
}

// A batch of 6 rows of 4 features, 3 classes.
Batch small_batch() {
  Generator g(5);
  std::vector<float> x(24);
  for (float& v : x) v = static_cast<float>(g.normal());
  return Batch{from_vector(x, {6, 4}), from_vector(std::vector<std::int64_t>{0, 1, 2, 0, 1, 2}, {6}), {}};
}

// The softmax loss on logits (the model outputs the 3 class scores itself).
std::shared_ptr<Loss> softmax_on_logits() {
  LossOptions o;
  o.num_classes = 3;
  o.emb_dim = 0;
  return make_loss("softmax", o);
}

// A loss whose value is never finite: sum(x) times infinity (inf, -inf or NaN).
class NonFiniteLoss : public Loss {
 public:
  Tensor forward(const Tensor& embeddings, const Tensor&) override {
    return sum(embeddings) * std::numeric_limits<double>::infinity();
  }
  std::string name() const override { return "NonFiniteLoss"; }
};

}  // namespace

// ---- the step

// train_step is forward, loss, zero_grad, backward, update: the same as doing them by hand on a
// twin of the model (SGD without momentum: p - lr * dL/dp).
TEST(TrainStep, IsForwardLossZeroGradBackwardUpdate) {
  Generator ga(3), gb(3);
  nn::Linear a(4, 3, true, ga), b(4, 3, true, gb);
  const std::shared_ptr<Loss> loss = softmax_on_logits();
  nn::SGDOptions o;
  o.lr = 0.1;
  nn::SGD sgd(a.parameters(), o);
  const Batch batch = small_batch();
  const StepResult r = train_step(a, *loss, sgd, batch);

  const Tensor out = b.forward(batch.images);
  const Tensor l = loss->forward(out, batch.labels);
  l.backward();
  EXPECT_EQ(r.loss, l.item());
  EXPECT_EQ(r.output.to_vector<float>(), out.to_vector<float>()) << "the output before the update";
  const auto after = a.named_parameters(), twin = b.named_parameters();
  ASSERT_EQ(after.size(), 2u);
  for (std::size_t i = 0; i < after.size(); ++i) {
    const auto p = after[i].second.to_vector<float>(), p0 = twin[i].second.to_vector<float>();
    const auto g = twin[i].second.grad().to_vector<float>();
    for (std::size_t j = 0; j < p.size(); ++j) EXPECT_NEAR(p[j], p0[j] - 0.1 * g[j], 1e-6) << after[i].first << "[" << j << "]";
  }
  // The second step's gradient is its own, not added to the first's: zero_grad comes first.
  Generator gc(4);
  nn::Linear c(4, 3, true, gc);  // c = a, as a is now
  for (std::size_t i = 0; i < after.size(); ++i)
    std::copy(after[i].second.data<float>(), after[i].second.data<float>() + after[i].second.numel(),
              c.named_parameters()[i].second.data<float>());
  loss->forward(c.forward(batch.images), batch.labels).backward();
  train_step(a, *loss, sgd, batch);
  for (std::size_t i = 0; i < after.size(); ++i)
    EXPECT_EQ(a.named_parameters()[i].second.grad().to_vector<float>(),
              c.named_parameters()[i].second.grad().to_vector<float>()) << after[i].first;
}

// A loss that is NaN or infinite stops the step before anything changes: an update from it would
// make every parameter NaN.
TEST(TrainStep, ANonFiniteLossUpdatesNothing) {
  Generator g(3);
  nn::Linear model(4, 3, true, g);
  NonFiniteLoss loss;
  nn::SGD sgd(model.parameters(), nn::SGDOptions{});
  const std::vector<float> before = values_of(model);
  expect_error([&] { train_step(model, loss, sgd, small_batch()); }, {"train_step: the loss is ", "no update made"});
  EXPECT_EQ(values_of(model), before);
  EXPECT_EQ(sgd.steps(), 0);
}

// The check runs after the forward pass and before the update: a monitor that throws there
// leaves every parameter as it was, and sees the output and the (finite) loss.
TEST(TrainStep, ACheckThatThrowsStopsBeforeTheUpdate) {
  Generator g(3);
  nn::Linear model(4, 3, true, g);
  const std::shared_ptr<Loss> loss = softmax_on_logits();
  nn::SGD sgd(model.parameters(), nn::SGDOptions{});
  const std::vector<float> before = values_of(model);
  Shape seen;
  double seen_loss = 0;
  expect_error([&] {
    train_step(model, *loss, sgd, small_batch(), [&](const Tensor& out, double l) {
      seen = out.shape();
      seen_loss = l;
      throw TrainingStopped("stopped by the check");
    });
  }, {"stopped by the check"});
  EXPECT_EQ(seen, (Shape{6, 3}));
  EXPECT_TRUE(std::isfinite(seen_loss) && seen_loss > 0);
  EXPECT_EQ(values_of(model), before);
}

// ---- the sampler

TEST(Sampler, PIsBatchSizeOverKBetweenTwoAndTheClasses) {
  EXPECT_EQ(pk_classes_per_batch(10, 128, 8), 10);  // 16 capped to the 10 digits: 10 x 8 = 80
  EXPECT_EQ(pk_classes_per_batch(10, 32, 8), 4);
  EXPECT_EQ(pk_classes_per_batch(10, 15, 8), 2);    // at least 2: a batch needs negatives
  EXPECT_EQ(pk_classes_per_batch(100, 128, 8), 16);
  EXPECT_EQ(pk_classes_per_batch(3, 128, 4), 3);
  expect_error([] { pk_classes_per_batch(10, 128, 0); }, {"pk_classes_per_batch", "K >= 1", "0"});
}

TEST(Sampler, SaysHowManySamplesItsBatchesHold) {
  std::vector<std::int64_t> labels;
  for (std::int64_t i = 0; i < 203; ++i) labels.push_back(i % 10);
  const Sampler plain(labels, 10, /*pk_batches=*/false, 32, 8, 1);
  EXPECT_FALSE(plain.pk_batches());
  EXPECT_EQ(plain.samples_per_batch(), 32);
  EXPECT_EQ(plain.num_batches(), 7);          // 6 of 32 and a last one of 11
  EXPECT_EQ(plain.samples_per_epoch(), 203);  // every sample once
  EXPECT_EQ(plain.batches(2), BatchLoader(203, 32, true, 1).batches(2));

  const Sampler pk(labels, 10, /*pk_batches=*/true, 128, 8, 1);
  EXPECT_TRUE(pk.pk_batches());
  EXPECT_EQ(pk.samples_per_batch(), 80);      // 10 classes x 8
  EXPECT_EQ(pk.num_batches(), 2);             // 203 / 80
  EXPECT_EQ(pk.samples_per_epoch(), 160);
  const auto batches = pk.batches(0);
  EXPECT_EQ(batches, PKSampler(labels, 10, 8, 1, 2).batches(0));
  for (const auto& b : batches) {
    std::set<std::int64_t> classes;
    for (std::int64_t i : b) classes.insert(labels[static_cast<std::size_t>(i)]);
    EXPECT_EQ(b.size(), 80u);
    EXPECT_EQ(classes.size(), 10u);
  }
  // too few samples of a class for K
  expect_error([&] { Sampler(labels, 10, true, 128, 25, 1); }, {"PKSampler", "fewer than K = 25"});
}

// ---- the monitors

TEST(Monitors, DeadUnitsStopOrWarnByStopOnCollapse) {
  TrainConfig c;
  c.lr = 0.05;
  c.warmup_steps = 7;
  const Tensor same = zeros({4, 3}), different = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(step_place(7, 5), "epoch 2, step 3 (global step 8)");
  const Finding stop = check_dead_units(same, 7, 5, c);
  EXPECT_TRUE(stop.stops());
  EXPECT_EQ(stop.message.rfind("training collapsed at epoch 2, step 3 (global step 8): the model gives the same "
                               "output for all 4 images of the batch", 0), 0u) << stop.message;
  EXPECT_NE(stop.message.find("(--lr, now 0.05) or lengthen the warm-up (--warmup-steps, now 7)"), std::string::npos)
      << stop.message;
  c.stop_on_collapse = false;
  const Finding warn = check_dead_units(same, 7, 5, c);
  EXPECT_TRUE(warn.warns());
  EXPECT_EQ(warn.message, stop.message);
  const Finding none = check_dead_units(different, 7, 5, c);
  EXPECT_FALSE(none.stops() || none.warns());
  EXPECT_EQ(none.message, "");
}

TEST(Monitors, CollapseIsOnePredictedClass) {
  TrainConfig c;
  EpochMetrics m;
  m.epoch = 2;
  m.test_accuracy = 0.1;
  const Finding stop = check_collapse(1, m, c);
  EXPECT_TRUE(stop.stops());
  EXPECT_EQ(stop.message.rfind("training collapsed after epoch 2: every test image is predicted as the same class", 0), 0u);
  EXPECT_NE(stop.message.find("; no checkpoint was written for this epoch."), std::string::npos) << stop.message;
  c.stop_on_collapse = false;
  const Finding warn = check_collapse(1, m, c);
  EXPECT_TRUE(warn.warns());
  EXPECT_EQ(warn.message.find("no checkpoint"), std::string::npos) << "training goes on: " << warn.message;
  EXPECT_FALSE(check_collapse(2, m, c).warns());
}

TEST(Monitors, EmbeddingGrowthWarnsOnlyForAScaleInvariantLoss) {
  TrainConfig c;
  LossOptions o;
  const std::shared_ptr<Loss> normface = make_loss("normface", o), softmax = make_loss("softmax", o);
  ASSERT_TRUE(normface->scale_invariant());
  ASSERT_FALSE(softmax->scale_invariant());
  EpochMetrics m;
  m.epoch = 3;
  m.embedding_norm = 2 * kEmbeddingGrowthLimit;
  const Finding grown = check_embedding_growth(1.0, m, *normface, c);
  EXPECT_TRUE(grown.warns());
  EXPECT_EQ(grown.message.rfind("after epoch 3 the embeddings are 800 times as long as at the first step", 0), 0u)
      << grown.message;
  EXPECT_FALSE(check_embedding_growth(1.0, m, *softmax, c).warns()) << "softmax sees the length";
  EXPECT_FALSE(check_embedding_growth(0.0, m, *normface, c).warns()) << "first norm not measured";
  m.embedding_norm = kEmbeddingGrowthLimit / 2;
  EXPECT_FALSE(check_embedding_growth(1.0, m, *normface, c).warns());
}

TEST(Monitors, ANonFiniteParameterStopsNamingIt) {
  TrainConfig c;
  Generator g(1);
  nn::Linear model(3, 2, true, g);
  const std::shared_ptr<Loss> loss = softmax_on_logits();
  EXPECT_FALSE(check_parameters_finite(model, *loss, "after epoch 1", 10, c).stops());
  model.bias.data<float>()[1] = std::numeric_limits<float>::quiet_NaN();
  const Finding f = check_parameters_finite(model, *loss, "after epoch 1", 10, c);
  EXPECT_TRUE(f.stops());
  EXPECT_EQ(f.message.rfind("training stopped after epoch 1 (global step 10): parameter 'model.bias' [2] has a "
                            "non-finite value", 0), 0u) << f.message;
}

// ---- a Trainer from parts

// A Trainer sets nothing process-wide: the thread count (pinned or adaptive) and the global
// generator are as the program left them, whatever the config's threads and seed.
TEST(TrainerParts, ConstructingATrainerLeavesTheProcessAlone) {
  TrainConfig c = small_config("softmax", 256);
  c.threads = 2;
  c.seed = 7;
  set_num_threads(1);
  manual_seed(99);
  Generator expected = global_generator();
  { Trainer t(c); }
  EXPECT_FALSE(adaptive_threads());
  EXPECT_EQ(num_threads(), 1);
  EXPECT_EQ(global_generator().next_u64(), expected.next_u64()) << "the Trainer drew from the global generator";
  set_adaptive_threads(0);
  c.threads = 1;
  { Trainer t(c); }
  EXPECT_TRUE(adaptive_threads()) << "a Trainer pinned the thread count";
}

// The same seed gives the same initial weights whatever the program drew before, and the weights
// chalk-train always gave for it (manual_seed(seed), then the model's initialisation).
TEST(TrainerParts, TheSeedAloneGivesTheInitialWeights) {
  const TrainConfig c = small_config("softmax", 256);
  Trainer a(c);
  manual_seed(12345);
  (void)randn({100});
  Trainer b(c);
  EXPECT_EQ(params_of(a), params_of(b));
  manual_seed(c.seed);
  const std::int64_t out = a.config().emb_dim > 0 ? a.config().emb_dim : 10;
  const std::shared_ptr<nn::Layer> reference = nn::make_model(c.model, out);
  EXPECT_EQ(values_of(a.model()), values_of(*reference));
}

namespace {

// A loss of a program's own: the softmax loss with its head, wrapped (as demo 09 sums two losses).
class Wrapped : public Loss {
 public:
  explicit Wrapped(const LossOptions& o) : inner_(register_module("inner", make_loss("softmax", o))) {}
  Tensor forward(const Tensor& e, const Tensor& y) override { return inner_->forward(e, y); }
  Tensor logits(const Tensor& e) override { return inner_->logits(e); }
  std::string name() const override { return "Wrapped"; }

 private:
  std::shared_ptr<Loss> inner_;
};

// The classes 0..C-1 of a split only.
MnistSplit first_classes(const MnistSplit& s, std::int64_t C) {
  MnistSplit out;
  out.rows = s.rows, out.cols = s.cols;
  const std::int64_t pix = s.rows * s.cols;
  for (std::int64_t i = 0; i < s.n; ++i)
    if (s.labels[static_cast<std::size_t>(i)] < C) {
      out.labels.push_back(s.labels[static_cast<std::size_t>(i)]);
      out.images.insert(out.images.end(), s.images.begin() + i * pix, s.images.begin() + (i + 1) * pix);
      ++out.n;
    }
  return out;
}

}  // namespace

// A loss of the program's own trains through chalk-train's loop, its own parameters (here the
// wrapped head) with the model's: given the loss it wraps, it trains to the very same weights.
TEST(TrainerParts, AProgramsOwnLossTrainsThroughTheSameLoop) {
  TrainConfig c = small_config("softmax", 512);
  c.emb_dim = 16;  // the softmax loss then has a head W, 10 x 16, a parameter of the loss
  Trainer by_name(c);
  by_name.train_epoch(0);
  TrainerParts parts = make_trainer_parts(c);
  parts.loss = std::make_shared<Wrapped>(parts.config.loss_options);
  const std::vector<float> head_before = values_of(*parts.loss);
  Trainer own(std::move(parts));
  own.train_epoch(0);
  EXPECT_EQ(params_of(own), params_of(by_name));
  EXPECT_NE(values_of(own.loss()), head_before) << "the loss's own parameters are trained";
  EXPECT_EQ(own.evaluate(0).test_accuracy, by_name.evaluate(0).test_accuracy);
}

namespace {
// A loss whose forward is a student edition's blank exercise (the stub of losses/centroid.cpp's).
class NotWritten : public Loss {
 public:
  Tensor forward(const Tensor&, const Tensor&) override { exercise_not_done(9); }
  std::string name() const override { return "NotWritten"; }
};
}  // namespace

// A blank exercise met in training stops the run with the stub's own message: not wrapped as a
// failed step with advice to lower the learning rate (which would send a student the wrong way).
TEST(TrainerParts, ABlankExerciseStopsTrainingWithItsOwnMessage) {
  TrainConfig c = small_config("softmax", 256);
  TrainerParts parts = make_trainer_parts(c);
  parts.loss = std::make_shared<NotWritten>();
  Trainer t(std::move(parts));
  try {
    t.train_epoch(0);
    ADD_FAILURE() << "train_epoch did not throw";
  } catch (const ExerciseNotDone& e) {
    EXPECT_EQ(std::string(e.what()).rfind("exercise 09 is not done yet: ", 0), 0u) << e.what();
    EXPECT_EQ(std::string(e.what()).find("learning rate"), std::string::npos) << e.what();
  }
}

// Data of the program's own: three classes of its naming, not MNIST's ten.
TEST(TrainerParts, ATrainerTakesDataOfItsOwn) {
  TrainConfig c = small_config("softmax", 0);
  c.emb_dim = 0;  // the model outputs the 3 class scores
  c.resolve();
  TrainingData mnist = load_training_data(c);
  TrainingData three{Dataset{"digits-0-2", "digits 0, 1, 2", {"zero", "one", "two"}, "", "", ""},
                     "the digits 0, 1 and 2 of the shipped subset", first_classes(mnist.train, 3),
                     first_classes(mnist.test, 3)};
  c.loss_options.num_classes = 3;
  TrainerParts parts{c, nullptr, true, make_loss("softmax", c.loss_options), three};
  Generator init(c.seed);
  parts.model = nn::make_model("mlp", 3, init);
  Trainer t(parts);
  EXPECT_EQ(t.num_classes(), 3);
  EXPECT_EQ(t.config().dataset, "digits-0-2") << "what a checkpoint records";
  EXPECT_EQ(t.dataset().class_names[2], "two");
  t.train_epoch(0);
  const EpochMetrics m = t.evaluate(0);
  EXPECT_GT(m.test_accuracy, 0.8) << "three digits after one epoch";
  EXPECT_GE(t.predicted_classes(), 2);
  EXPECT_LE(t.predicted_classes(), 3);

  parts.data.train.labels[5] = 3;  // a fourth class the data set does not name
  expect_error([&] { Trainer bad(parts); },
               {"Trainer: label 3 of training sample 5 is outside 0..2 (the 3 classes of 'digits-0-2')"});
  parts.data.train.labels[5] = 0;
  parts.loss = nullptr;
  expect_error([&] { Trainer bad(parts); }, {"Trainer: the parts have no loss"});
}

// A Trainer built from objects looks nothing up by name, except a default it is asked for: the
// warm-up of -1 is the registry loss's, and a loss of one's own has none to give.
TEST(TrainerParts, ADefaultWarmUpNeedsARegistryLoss) {
  TrainConfig c = small_config("softmax", 256);
  TrainerParts parts = make_trainer_parts(c);
  parts.config.loss = "wrapped-softmax";
  parts.config.warmup_steps = -1;
  parts.loss = std::make_shared<Wrapped>(parts.config.loss_options);
  expect_error([&] { Trainer t(parts); }, {"warmup_steps -1", "'wrapped-softmax' is no registry loss", "set warmup_steps"});
  parts.config.warmup_steps = 0;
  Trainer t(parts);
  EXPECT_EQ(t.config().loss, "wrapped-softmax");
  parts.config.optimizer = "";  // nothing is filled in: the config must be whole
  expect_error([&] { Trainer u(parts); }, {"--optimizer: expected sgd, adam or adamw, got ''"});
}
