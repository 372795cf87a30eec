// tests/test_adding_a_loss.cpp — docs/adding-a-loss.md, proven: the walk-through's loss (the
// contrastive loss, tests/adding_a_loss_example.{h,cpp}) is registered at run time, trained a few
// steps through the Trainer by name, gradient-checked against its composed twin, and every
// ```cpp block of the page is found verbatim in those sources, so page and code cannot drift.
// Run: ctest --test-dir build -R AddingALoss
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "adding_a_loss_example.h"
#include "core/random.h"
#include "losses/loss.h"
#include "test_util.h"
#include "train/trainer.h"

using namespace chalk;
using chalk::test_util::expect_close;
using chalk::test_util::expect_error;
using chalk::test_util::expect_gradcheck;

namespace {

const std::filesystem::path kRoot = std::filesystem::path(CHALK_TEST_DIR).parent_path();

using chalk::test_util::read_text;

// The ```cpp blocks of a Markdown file, each without its fences.
std::vector<std::string> cpp_blocks(const std::string& md) {
  std::vector<std::string> out;
  std::istringstream in(md);
  std::string line, block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line.rfind("```cpp", 0) == 0) {
      inside = true;
      block.clear();
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
      out.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return out;
}

// A batch of N embeddings (float64, D = 3) in 3 classes, every class with at least 2 samples.
Tensor batch_labels() { return from_vector(std::vector<std::int64_t>{0, 1, 2, 0, 1, 2, 0, 1}, {8}); }
Tensor batch_embeddings(std::uint64_t seed) {
  Generator gen(seed);
  std::vector<double> v(8 * 3);
  for (double& x : v) x = 0.5 * gen.normal();
  return from_vector(v, {8, 3});
}

}  // namespace

// Every code block of docs/adding-a-loss.md is a verbatim copy of code that is built and run here.
TEST(AddingALoss, EveryCodeBlockOfThePageIsInTheBuiltSources) {
  const std::string page = read_text(kRoot / "docs" / "adding-a-loss.md");
  const std::string sources = read_text(kRoot / "tests" / "adding_a_loss_example.h") +
                              read_text(kRoot / "tests" / "adding_a_loss_example.cpp") +
                              read_text(kRoot / "tests" / "test_adding_a_loss.cpp");
  const std::vector<std::string> blocks = cpp_blocks(page);
  ASSERT_GE(blocks.size(), 4u) << "the page walks through the loss, its class, its entry and its test";
  for (std::size_t b = 0; b < blocks.size(); ++b)
    EXPECT_NE(sources.find(blocks[b]), std::string::npos)
        << "docs/adding-a-loss.md, ```cpp block " << b + 1 << " is not in tests/adding_a_loss_example.{h,cpp} "
        << "or tests/test_adding_a_loss.cpp (copy the code, not a paraphrase):\n" << blocks[b];
}

TEST(AddingALoss, ContrastiveGradcheckAndTwin) {
  const Tensor y = batch_labels();
  for (double m : {0.5, 1.0, 2.0}) {
    auto fused = [&](const std::vector<Tensor>& in) { return contrastive_loss(in[0], y, m); };
    auto composed = [&](const std::vector<Tensor>& in) { return contrastive_loss_composed(in[0], y, m); };
    expect_gradcheck("contrastive_loss", fused, {batch_embeddings(1)});
    expect_gradcheck("contrastive_loss_composed", composed, {batch_embeddings(1)});
    // fused vs composed: value and gradient
    Tensor a = batch_embeddings(2).requires_grad_(), b = batch_embeddings(2).requires_grad_();
    const Tensor la = contrastive_loss(a, y, m), lb = contrastive_loss_composed(b, y, m);
    expect_close(la, lb, 1e-12, 0, "loss");
    la.backward();
    lb.backward();
    expect_close(a.grad(), b.grad(), 1e-12, 0, "gradient");
  }
}

TEST(AddingALoss, ContrastiveHandComputedValue) {
  // x = [0, 0], [3, 4], [0, 1]; labels 0, 0, 1; m = 2.
  // positive pairs (0,1), (1,0): d = 5 -> l = 5, 5: pos mean 5
  // negative pairs (0,2), (2,0): d = 1 -> l = 1, 1;  (1,2), (2,1): d = sqrt(18) > 2 -> l = 0: neg mean 1
  const Tensor x = from_vector(std::vector<double>{0, 0, 3, 4, 0, 1}, {3, 2});
  const Tensor y = from_vector(std::vector<std::int64_t>{0, 0, 1}, {3});
  EXPECT_NEAR(contrastive_loss(x, y, 2.0).item(), 6.0, 1e-12);
  expect_error([&] { contrastive_loss(x, y, 0.0); }, {"contrastive_loss", "margin", "> 0"});
  expect_error([&] { contrastive_loss(x, from_vector(std::vector<std::int64_t>{0, 1}, {2}), 1.0); },
               {"contrastive_loss"});
}

TEST(AddingALoss, ContrastiveRegistersAndTrainsByName) {
  register_loss(contrastive_entry());  // the one line a program adds (once: a second time throws)
  expect_error([] { register_loss(contrastive_entry()); }, {"register_loss", "'contrastive'", "already registered"});
  EXPECT_EQ(find_loss("contrastive").defaults.optimizer, "adam");

  TrainConfig cfg;
  cfg.data_dir = test_util::kSubset;
  cfg.loss = "contrastive";
  cfg.epochs = 1;
  cfg.threads = 1;
  cfg.progress = false;
  cfg.limit_train = 512;
  cfg.seed = 3;
  Trainer t(cfg);
  EXPECT_EQ(t.loss().name(), "ContrastiveLoss(m = 1)");
  // Ten steps on one batch of 4 classes x 8 samples: its loss goes down.
  std::vector<std::int64_t> batch;
  const std::vector<std::int64_t>& labels = t.train_set().labels;
  for (std::int64_t c = 0; c < 4; ++c)
    for (std::int64_t i = 0, taken = 0; taken < 8; ++i)
      if (labels[i] == c) batch.push_back(i), ++taken;
  const double first = t.train_batch(batch);
  double last = first;
  for (int s = 0; s < 9; ++s) last = t.train_batch(batch);
  EXPECT_TRUE(std::isfinite(first));
  EXPECT_LT(last, first) << "ten Adam steps on one batch lower its contrastive loss";
  EXPECT_GT(t.evaluate(0).retrieval.precision_at_1, 0.3);  // evaluation runs on it (chance: 0.1)

  // Its options are its table's: what --help lists, what it reads, what it refuses.
  EXPECT_EQ(describe_options(find_loss("contrastive")), "--margin 1, --normalize on");
  LossOptions o;
  o.set("margin", 0.5).set("normalize", false);
  EXPECT_EQ(make_loss("contrastive", o)->name(), "ContrastiveLoss(m = 0.5, not normalised)");
  o.set("mining", "all");
  expect_error([&] { make_loss("contrastive", o); }, {"contrastive loss: has no option 'mining'", "margin, normalize"});
  cfg.loss_options.set("normalize", false);  // ... and the trainer's config.json keeps it
  EXPECT_EQ(TrainConfig::from_json(Trainer(cfg).config().to_json()).loss_options.values.at("normalize"),
            OptionValue(false));
}
