// tests/test_losses.cpp — every loss in the registry, through the registry: the checks each loss
// must pass whatever it is, named by the loss, so `ctest -R arcface` (or triplet, centroid, ...)
// finds them. A loss added by one registry line (docs/adding-a-loss.md) is checked here at once.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/gradcheck.h"
#include "core/random.h"
#include "losses/loss.h"
#include "test_util.h"

using namespace chalk;

namespace {

std::vector<std::string> loss_names() {
  std::vector<std::string> out;
  for (const LossEntry& e : loss_registry()) out.push_back(e.name);
  return out;
}

// 3 classes x 4 samples, D = 4: every class has positives and negatives (the triplet loss
// mines them), in float64 for the gradient check.
struct Batch {
  Tensor x, y;
};
Batch batch() {
  manual_seed(5);
  Tensor x = randn({12, 4}, DType::Float64);
  std::vector<std::int64_t> y;
  for (int i = 0; i < 12; ++i) y.push_back(i % 3);
  return {x, from_vector(y, {12})};
}

std::shared_ptr<Loss> make(const std::string& name) {
  LossOptions o;
  o.num_classes = 3;
  o.emb_dim = 4;
  o.seed = 11;
  std::shared_ptr<Loss> loss = make_loss(name, o);
  const Batch b = batch();
  if (loss->needs_data_pass()) loss->prepare(b.x.to(DType::Float32), b.y);
  else loss->prepare(Tensor(), Tensor());
  return loss;
}

}  // namespace

class EveryLoss : public testing::TestWithParam<std::string> {};

// d loss / d embeddings by the loss's own VJP (fused kernels included) against central differences.
TEST_P(EveryLoss, GradcheckOfTheEmbeddings) {
  auto loss = make(GetParam());
  const Batch b = batch();
  const GradcheckResult r = gradcheck([&](const std::vector<Tensor>& in) { return loss->forward(in[0], b.y); }, {b.x});
  EXPECT_TRUE(r.ok) << GetParam() << ": " << r.report;
  EXPECT_GT(r.checked, 0);
}

// A scalar, finite loss on float32 embeddings, and a backward that reaches every parameter.
TEST_P(EveryLoss, ForwardIsAFiniteScalarAndBackwardReachesTheParameters) {
  auto loss = make(GetParam());
  const Batch b = batch();
  Tensor x = b.x.to(DType::Float32).requires_grad_();
  const Tensor l = loss->forward(x, b.y);
  EXPECT_EQ(l.numel(), 1);
  EXPECT_TRUE(std::isfinite(l.item()));
  l.backward();
  EXPECT_TRUE(x.grad().defined());
  for (auto& [name, p] : loss->named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
}

// Embeddings with a NaN are refused with the same words by every loss (core/checks.h).
TEST_P(EveryLoss, RejectsNonFiniteEmbeddings) {
  auto loss = make(GetParam());
  const Batch b = batch();
  Tensor x = b.x.to(DType::Float32).clone();
  x.data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  chalk::test_util::expect_error([&] { loss->forward(x, b.y); }, {"non-finite", "embeddings", "row 1"});
}

// Its TrainingDefaults are usable: a positive learning rate for each optimizer, a known optimizer.
TEST_P(EveryLoss, TrainingDefaultsAreUsable) {
  const TrainingDefaults& d = find_loss(GetParam()).defaults;
  EXPECT_GT(d.sgd_lr, 0);
  EXPECT_GT(d.adam_lr, 0);
  EXPECT_TRUE(d.optimizer == "sgd" || d.optimizer == "adam" || d.optimizer == "adamw") << d.optimizer;
  EXPECT_GE(d.emb_dim, d.logits_output ? 0 : 1);
  EXPECT_GE(d.warmup_epochs, 0);
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryLoss, testing::ValuesIn(loss_names()),
                         [](const auto& info) { return info.param; });
