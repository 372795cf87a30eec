// tests/test_saved_tensors.cpp — version counters (core/autograd.h, docs/autograd.md section 7):
// a tensor a VJP saved and that was written in place before backward() is an error, never a
// silently wrong gradient; every in-place writer of chalk's API bumps the version; the
// Trainer's own step order never trips the check. And the graph as Graphviz DOT
// (core/graph_dot.h), drawn by `dot` (plot/graphviz.h).
//   ctest --test-dir build -R 'SavedTensors|GraphDot'
#include <gtest/gtest.h>

#include "test_util.h"
#include "train_util.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/graph_dot.h"
#include "io/safetensors.h"
#include "losses/centroid.h"
#include "losses/softmax.h"
#include "nn/init.h"
#include "nn/models.h"
#include "nn/optim.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "plot/graphviz.h"
#include "train/batches.h"
#include "train/trainer.h"

using namespace chalk;
using namespace chalk::test_util;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// y = sum(w * x) with mul saving w: the graph every writer test below changes w under.
struct SavedW {
  Tensor w, x, y;
  explicit SavedW(DType dt = DType::Float64) {
    w = from_vector(std::vector<double>{3, 4}, {2}).to(dt).requires_grad_();
    x = from_vector(std::vector<double>{1, 2}, {2}).to(dt).requires_grad_();
    y = sum(w * x);
  }
  // backward() must refuse: w changed after mul saved it.
  void expect_refused(const std::string& writer) const {
    const std::string msg = error_of([&] { y.backward(); });
    EXPECT_TRUE(contains(msg, "modified in place")) << writer << ": " << msg;
    EXPECT_TRUE(contains(msg, "mul")) << writer << ": " << msg;
    EXPECT_FALSE(x.grad().defined()) << writer << ": a gradient from the new values reached x";
  }
};

}  // namespace

// ---------------------------------------------------------------- the check

// The classic: an optimizer step between a forward and its backward (PyTorch < 1.5 silently
// used the new weights: dy/dx = [2.4, 3.2] instead of [3, 4]).
TEST(SavedTensors, AStepBetweenForwardAndBackwardIsRefusedWithTheUsualMessage) {
  Tensor w = f64({3, 4}, {2}).requires_grad_();
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  Tensor y = sum(w * x);
  sum(w * w).backward();
  nn::SGD opt({w}, nn::SGDOptions{.lr = 0.1});
  opt.step();
  expect_values(w, {2.4, 3.2});
  EXPECT_EQ(w.version(), 1);
  const std::string msg = error_of([&] { y.backward(); });
  for (const char* part : {"backward: mul needs its input 0 ([2] float64)", "modified in place", "at version 1",
                           "mul saved version 0", "Call backward() before", "optimizer.step()", "clone()"})
    EXPECT_TRUE(contains(msg, part)) << "missing '" << part << "' in: " << msg;
  EXPECT_FALSE(x.grad().defined());
}

TEST(SavedTensors, BackwardBeforeTheStepOrAClonedWeightGiveTheGradientOfTheForward) {
  {  // the usual order: backward, then step
    Tensor w = f64({3, 4}, {2}).requires_grad_();
    Tensor x = f64({1, 2}, {2}).requires_grad_();
    Tensor y = sum(w * x);
    y.backward();
    nn::SGD({w}, nn::SGDOptions{.lr = 0.1}).step();
    expect_values(x.grad(), {3, 4});
  }
  {  // the other fix: the forward reads a clone, which the step does not change
    Tensor w = f64({3, 4}, {2}).requires_grad_();
    Tensor x = f64({1, 2}, {2}).requires_grad_();
    Tensor y = sum(w.clone() * x);
    sum(w * w).backward();
    nn::SGD({w}, nn::SGDOptions{.lr = 0.1}).step();
    y.backward();
    expect_values(x.grad(), {3, 4});
  }
}

TEST(SavedTensors, TheMessageNamesAModulesParameterAndTheOutputOfAnOpThatSavesIt) {
  manual_seed(3);
  nn::MLP model(10);
  nn::SGD opt(model.parameters(), nn::SGDOptions{.lr = 0.5});
  const Tensor x = randn({4, 784}).requires_grad_();
  const Tensor labels = from_vector(std::vector<std::int64_t>{0, 1, 2, 3}, {4});
  Tensor loss = cross_entropy(model(x), labels);
  for (auto& p : model.parameters()) p.zero_grad();
  // a gradient for every parameter from a second forward, then the step: the first loss's
  // graph saved the old weights
  cross_entropy(model(x), labels).backward();
  opt.step();
  const std::string msg = error_of([&] { loss.backward(); });
  EXPECT_TRUE(contains(msg, "modified in place")) << msg;
  EXPECT_TRUE(contains(msg, "'net.")) << "the parameter's dotted name: " << msg;
  EXPECT_TRUE(contains(msg, "float32")) << msg;

  // An op that saves its output (exp: dx = g y) refuses when the output is written.
  Tensor a = f64({0.5, 1.0}, {2}).requires_grad_();
  Tensor e = exp(a);
  Tensor s = sum(e * 2.0);
  nn::zeros_(e);
  const std::string out_msg = error_of([&] { s.backward(); });
  EXPECT_TRUE(contains(out_msg, "exp needs its output ([2] float64)")) << out_msg;
}

TEST(SavedTensors, MlpInputGradientIsRefusedAfterAStepAndRightInTheTrainingOrder) {
  manual_seed(5);
  nn::MLP model(10);
  const Tensor labels = from_vector(std::vector<std::int64_t>{1, 7, 3}, {3});
  const Tensor x0 = randn({3, 784});
  // the right value: dL/dx at the weights the forward used
  Tensor xr = x0.clone().requires_grad_();
  cross_entropy(model(xr), labels).backward();
  const std::vector<float> right = xr.grad().to_vector<float>();
  model.zero_grad();

  Tensor x = x0.clone().requires_grad_();
  Tensor loss = cross_entropy(model(x), labels);
  for (auto& p : model.parameters()) p.zero_grad();
  cross_entropy(model(x0), labels).backward();  // gradients for the step
  nn::SGD(model.parameters(), nn::SGDOptions{.lr = 0.5}).step();
  EXPECT_TRUE(contains(error_of([&] { loss.backward(); }), "modified in place"));
  EXPECT_FALSE(x.grad().defined());

  // forward, backward, step: the gradient of the forward
  manual_seed(5);
  nn::MLP fresh(10);
  Tensor x2 = x0.clone().requires_grad_();
  Tensor loss2 = cross_entropy(fresh(x2), labels);
  loss2.backward();
  nn::SGD(fresh.parameters(), nn::SGDOptions{.lr = 0.5}).step();
  EXPECT_EQ(x2.grad().to_vector<float>(), right);
}

TEST(SavedTensors, OpsThatSaveNothingAllowAWriteAfterTheForward) {
  // add, sum, reshape and mul by a number do not read their inputs' values in their VJP
  Tensor w = f64({3, 4}, {2}).requires_grad_();
  Tensor x = f64({1, 2}, {2});
  Tensor y = sum((w + x).reshape({1, 2}) * 3.0);
  nn::constant_(w, 7.0);
  nn::constant_(x, 7.0);
  y.backward();
  expect_values(w.grad(), {3, 3});
}

TEST(SavedTensors, DetachAndReshapeShareTheVersionOfTheirData) {
  Tensor w = f64({1, 2, 3, 4}, {4}).requires_grad_();
  const Tensor d = w.detach();
  const Tensor r = w.reshape({2, 2});
  const Tensor c = w.clone();
  EXPECT_EQ(w.version(), 0);
  increment_version(d);
  EXPECT_EQ(w.version(), 1);
  EXPECT_EQ(r.version(), 1);
  EXPECT_EQ(c.version(), 0);  // its own data
  // a write through a view is seen by an op that saved the original
  Tensor y = sum(w * w);
  nn::ones_(r);
  EXPECT_TRUE(contains(error_of([&] { y.backward(); }), "modified in place"));
}

TEST(SavedTensors, AConstantInputThatWasSavedIsCheckedToo) {
  // dy/dw = x: a data batch x written in place (no gradient of its own) would give a wrong dy/dw
  Tensor w = f64({3, 4}, {2}).requires_grad_();
  Tensor x = f64({1, 2}, {2});
  Tensor y = sum(w * x);
  nn::zeros_(x);
  const std::string msg = error_of([&] { y.backward(); });
  EXPECT_TRUE(contains(msg, "mul needs its input 1 ([2] float64)")) << msg;
}

// ---------------------------------------------------------------- every in-place writer bumps

TEST(SavedTensors, EveryOptimizerStepBumpsTheParametersVersion) {
  auto sgd = [](const Tensor& w) {
    return std::make_unique<nn::SGD>(std::vector<Tensor>{w}, nn::SGDOptions{.lr = 0.1});
  };
  auto momentum = [](const Tensor& w) {
    const nn::SGDOptions o{.lr = 0.1, .momentum = 0.9, .nesterov = true};
    return std::make_unique<nn::SGD>(std::vector<Tensor>{w}, o);
  };
  auto adam = [](const Tensor& w) { return std::make_unique<nn::Adam>(std::vector<Tensor>{w}, nn::AdamOptions{}); };
  auto adamw = [](const Tensor& w) {
    return std::make_unique<nn::AdamW>(std::vector<Tensor>{w}, nn::AdamOptions{.weight_decay = 1e-2});
  };
  const std::vector<std::pair<std::string, std::function<std::unique_ptr<nn::Optimizer>(const Tensor&)>>> makers = {
      {"SGD", sgd}, {"SGD nesterov", momentum}, {"Adam", adam}, {"AdamW", adamw}};
  for (const auto& [name, make] : makers) {
    SavedW g;
    auto opt = make(g.w);
    sum(g.w * g.w).backward();
    opt->step();
    EXPECT_EQ(g.w.version(), 1) << name;
    opt->step();
    EXPECT_EQ(g.w.version(), 2) << name;
    g.expect_refused(name);
  }
}

TEST(SavedTensors, EveryInitFunctionBumpsTheVersion) {
  const std::vector<std::pair<std::string, std::function<void(Tensor)>>> fills = {
      {"uniform_", [](Tensor t) { nn::uniform_(t, -1, 1); }},
      {"normal_", [](Tensor t) { nn::normal_(t, 0, 1); }},
      {"constant_", [](Tensor t) { nn::constant_(t, 2); }},
      {"zeros_", [](Tensor t) { nn::zeros_(t); }},
      {"ones_", [](Tensor t) { nn::ones_(t); }},
      {"kaiming_uniform_", [](Tensor t) { nn::kaiming_uniform_(t.reshape({1, 2})); }},
      {"kaiming_normal_", [](Tensor t) { nn::kaiming_normal_(t.reshape({1, 2})); }},
      {"xavier_uniform_", [](Tensor t) { nn::xavier_uniform_(t.reshape({2, 1})); }},
      {"xavier_normal_", [](Tensor t) { nn::xavier_normal_(t.reshape({2, 1})); }},
  };
  for (const auto& [name, fill] : fills) {
    SavedW g;
    fill(g.w);
    EXPECT_EQ(g.w.version(), 1) << name;
    g.expect_refused(name);
  }
}

TEST(SavedTensors, LoadingSafetensorsIntoALiveModelBumpsTheVersion) {
  const std::string dir = temp_dir("versions_safetensors");
  SavedW g;
  save_safetensors(dir + "/w.safetensors", {{"w", f64({5, 6}, {2})}});
  load_safetensors_into(dir + "/w.safetensors", {{"w", g.w}});
  expect_values(g.w, {5, 6});
  EXPECT_EQ(g.w.version(), 1);
  g.expect_refused("load_safetensors_into");
  fs::remove_all(dir);
}

TEST(SavedTensors, TrainerLoadCheckpointBumpsEveryParametersVersion) {
  const std::string dir = temp_dir("versions_checkpoint");
  Trainer t(test_util::small_config("softmax", 256));
  t.save_checkpoint(dir + "/ckpt.safetensors", 0);
  const Tensor x = make_image_batch(t.train_set(), {0, 1, 2, 3}, /*flatten=*/true);
  Tensor loss = sum(t.model()(x));
  std::vector<std::int64_t> before;
  for (auto& p : t.model().parameters()) before.push_back(p.version());
  t.load_checkpoint(dir + "/ckpt.safetensors");
  const auto params = t.model().parameters();
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_EQ(params[i].version(), before[i] + 1) << i;
  EXPECT_TRUE(contains(error_of([&] { loss.backward(); }), "modified in place"));
  fs::remove_all(dir);
}

TEST(SavedTensors, KMeansCentroidsComputedAgainBumpTheirVersion) {
  LossOptions o;
  o.num_classes = 3;
  o.emb_dim = 2;
  o.set("centroids", "kmeans");
  CentroidLoss loss(o);
  const Tensor e = f64({0, 0, 0.1, 0, 5, 5, 5.1, 5, -5, 5, -5.1, 5}, {6, 2}).to(DType::Float32);
  const Tensor labels = from_vector(std::vector<std::int64_t>{0, 0, 1, 1, 2, 2}, {6});
  loss.prepare(e, labels);
  EXPECT_EQ(loss.centroids().version(), 1);
  Tensor x = e.clone().requires_grad_();
  Tensor l = loss(x, labels);  // its VJP reads the centroids
  loss.prepare(e * 2.0, labels);
  EXPECT_EQ(loss.centroids().version(), 2);
  const std::string msg = error_of([&] { l.backward(); });
  EXPECT_TRUE(contains(msg, "centroid_bound_loss needs a tensor it reads")) << msg;
  EXPECT_TRUE(contains(msg, "'centroids'")) << msg;
}

TEST(SavedTensors, GradientAccumulationAndGradcheckBumpWhatTheyWrite) {
  // .grad() accumulates in place: a graph that saved it is stale after the next backward
  Tensor w = f64({1, 2}, {2}).requires_grad_();
  sum(w * w).backward();
  const Tensor g = w.grad();
  const std::int64_t v = g.version();
  Tensor u = f64({1, 1}, {2}).requires_grad_();
  Tensor y = sum(u * g);
  sum(w * w).backward();  // w is both inputs of mul: two contributions added in place
  EXPECT_EQ(g.version(), v + 2);
  EXPECT_TRUE(contains(error_of([&] { y.backward(); }), "modified in place"));

  // gradcheck perturbs its float64 copies of the inputs in place
  Tensor seen;
  gradcheck([&](const std::vector<Tensor>& in) { seen = in[0]; return sum(in[0] * in[0]); }, {f64({1, 2}, {2})});
  EXPECT_GT(seen.version(), 0);
}

TEST(SavedTensors, IncrementVersionIsHowOwnWritesThroughDataAreSeen) {
  SavedW g;
  g.w.data<double>()[0] = 10;  // a raw write alone is invisible to autograd ...
  EXPECT_EQ(g.w.version(), 0);
  increment_version(g.w);      // ... until it is announced
  g.expect_refused("increment_version");
  EXPECT_THROW(increment_version(Tensor()), Error);
}

// The Trainer's order (forward, zero_grad, backward, step) never trips the check, for each loss
// family and for kmeans centroids computed before training; the optimizer bumped the versions.
TEST(SavedTensors, TheTrainersStepOrderNeverTripsIt) {
  for (const std::string loss : {"softmax", "arcface", "triplet", "centroid"}) {
    TrainConfig c = test_util::small_config(loss, 384);
    if (loss == "centroid") c.loss_options.set("centroids", "kmeans");
    Trainer t(c);
    double train_loss = 0;
    ASSERT_NO_THROW(train_loss = t.train_epoch(0)) << loss;
    EXPECT_TRUE(std::isfinite(train_loss)) << loss;
    EXPECT_GE(t.model().parameters()[0].version(), 2) << loss << ": the steps bumped the first weight";
  }
}

// ---------------------------------------------------------------- the graph as DOT

TEST(GraphDot, ASmallExpressionGivesExactlyThisDot) {
  Tensor w = f64({3, 4}, {2}).requires_grad_().set_name("w");
  Tensor x = f64({1, 2}, {2}).set_name("x");  // a constant: no gradient
  Tensor b = f64({0.5}, {}).requires_grad_().set_name("b");
  Tensor y = (sum(w * x) + b).set_name("y");
  const std::string want =
      "digraph autograd {\n"
      "  rankdir=LR;\n"
      "  node [fontname=\"Helvetica\", fontsize=11];\n"
      "  edge [fontname=\"Helvetica\", fontsize=10];\n"
      "  t0 [shape=box, label=\"y\\n[] float64\"];\n"
      "  op0 [shape=ellipse, label=\"add\"];\n"
      "  op0 -> t0;\n"
      "  t1 -> op0 [label=\"0\"];\n"
      "  t4 -> op0 [label=\"1\"];\n"
      "  t1 [shape=box, label=\"[] float64\"];\n"
      "  op1 [shape=ellipse, label=\"sum\"];\n"
      "  op1 -> t1;\n"
      "  t2 -> op1;\n"
      "  t2 [shape=box, label=\"[2] float64\"];\n"
      "  op2 [shape=ellipse, label=\"mul\\nsaved: input 0 v0, input 1 v0\"];\n"
      "  op2 -> t2;\n"
      "  t3 -> op2 [label=\"0\"];\n"
      "  c2_1 [shape=box, style=dashed, label=\"constant\\n[2] float64\"];\n"
      "  c2_1 -> op2 [style=dashed, label=\"1\"];\n"
      "  t3 [shape=box, label=\"w\\n[2] float64\\nleaf, requires_grad\"];\n"
      "  t4 [shape=box, label=\"b\\n[] float64\\nleaf, requires_grad\"];\n"
      "}\n";
  EXPECT_EQ(to_dot(y), want);

  // after a step, the stale saved tensor is marked (the error backward() will throw)
  nn::constant_(w, 1.0);
  const std::string stale = to_dot(y);
  EXPECT_TRUE(contains(stale, "op2 [shape=ellipse, label=\"mul\\nsaved: input 0 v0, now v1, input 1 v0\", color=red, "
                              "fontcolor=red];"))
      << stale;
  // backward() frees the graph: the ops say so
  nn::constant_(w, 3.0);
  Tensor y2 = sum(w * 2.0);
  y2.backward();
  EXPECT_TRUE(contains(to_dot(y2), "label=\"sum\\n(freed by backward)\"")) << to_dot(y2);
  EXPECT_THROW(to_dot(Tensor()), Error);
}

TEST(GraphDot, GraphvizDotRendersItAsSvg) {
  if (!plot::dot_available()) GTEST_SKIP() << "Graphviz's dot program is not on PATH (apt-get install graphviz)";
  const std::string dir = temp_dir("graph_dot");
  Tensor w = f64({3, 4}, {2}).requires_grad_().set_name("w \"weights\"");  // quotes must be escaped
  Tensor x = f64({1, 2}, {2});
  Tensor y = tanh(sum(w * x));
  plot::render_dot(dir + "/graph.svg", to_dot(y));
  const std::string svg = read_text(dir + "/graph.svg");
  EXPECT_TRUE(contains(svg, "<svg")) << svg.substr(0, 200);
  for (const char* text : {"tanh", "sum", "mul", "w &quot;weights&quot;", "leaf, requires_grad", "constant"})
    EXPECT_TRUE(contains(svg, text)) << "the SVG has no text '" << text << "'";
  EXPECT_TRUE(fs::exists(dir + "/graph.dot"));
  // a DOT syntax error is reported with dot's own message
  const std::string msg = error_of([&] { plot::render_dot(dir + "/bad.svg", "digraph { a -> }"); });
  EXPECT_TRUE(contains(msg, "syntax error")) << msg;
  fs::remove_all(dir);
}
