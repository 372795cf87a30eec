// Tests for train/batches.h and io/mnist.h: batches from MNIST splits, the shuffling loader, the
// P x K sampler, and where the data is found.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/idx.h"
#include "io/mnist.h"
#include "train/batches.h"
#include "test_util.h"

using chalk::test_util::expect_error;

using namespace chalk;
namespace fs = std::filesystem;

namespace {

// 4 images of 2 x 2: image i has pixels {0, 255, i, 128}, label 3 * i % 10.
MnistSplit tiny_split() {
  MnistSplit s;
  s.n = 4, s.rows = 2, s.cols = 2;
  for (int i = 0; i < 4; ++i) {
    s.images.insert(s.images.end(), {0, 255, std::uint8_t(i), 128});
    s.labels.push_back(3 * i % 10);
  }
  return s;
}

std::vector<std::int64_t> flatten(const std::vector<std::vector<std::int64_t>>& batches) {
  std::vector<std::int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

}  // namespace

// ---- batches ----

TEST(MakeBatch, NormalisesWithMnistMeanAndStd) {
  const MnistSplit s = tiny_split();
  const Batch b = make_batch(s, {2, 0});
  EXPECT_EQ(b.images.shape(), (Shape{2, 1, 2, 2}));
  EXPECT_EQ(b.images.dtype(), DType::Float32);
  EXPECT_EQ(b.labels.shape(), (Shape{2}));
  EXPECT_EQ(b.labels.dtype(), DType::Int64);
  EXPECT_EQ(b.labels.to_vector<std::int64_t>(), (std::vector<std::int64_t>{6, 0}));
  EXPECT_EQ(b.indices, (std::vector<std::int64_t>{2, 0}));
  // Hand-computed: (0/255 - 0.1307)/0.3081 = -0.424213, (1 - 0.1307)/0.3081 = 2.821486,
  // (2/255 - 0.1307)/0.3081 = -0.398756, (128/255 - 0.1307)/0.3081 = 1.205001.
  const std::vector<float> x = b.images.to_vector<float>();
  const std::vector<double> want = {-0.424213, 2.821486, -0.398756, 1.205001, -0.424213, 2.821486, -0.424213, 1.205001};
  ASSERT_EQ(x.size(), want.size());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], want[i], 1e-5) << "element " << i;
  // Flattened: [B, rows * cols], same values.
  const Tensor f = make_image_batch(s, {2, 0}, /*flatten=*/true);
  EXPECT_EQ(f.shape(), (Shape{2, 4}));
  EXPECT_EQ(f.to_vector<float>(), x);
}

TEST(MakeBatch, EmptyBatchAndBadIndex) {
  const MnistSplit s = tiny_split();
  EXPECT_EQ(make_image_batch(s, {}).shape(), (Shape{0, 1, 2, 2}));
  expect_error([&] { make_image_batch(s, {1, 4}); }, {"make_image_batch", "index 4", "4 samples"});
  expect_error([&] { make_label_batch(s, {-1}); }, {"make_label_batch", "index -1"});
}

TEST(MakeBatch, ShippedSubsetIsRoughlyStandardised) {
  const MnistSplit s = load_mnist(chalk::test_util::kSubset, true);
  BatchLoader all(s.n, 1000, /*shuffle=*/false);
  double sum = 0, sq = 0, count = 0;
  for (const auto& idx : all.batches(0)) {
    for (float v : make_image_batch(s, idx).to_vector<float>()) sum += v, sq += double(v) * v, ++count;
  }
  const double mean = sum / count, sd = std::sqrt(sq / count - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.05);  // the constants are the full training set's; the subset is close
  EXPECT_NEAR(sd, 1.0, 0.05);
}

// ---- BatchLoader ----

TEST(BatchLoader, EveryIndexOncePerEpoch) {
  for (bool drop_last : {false, true}) {
    BatchLoader loader(103, 10, /*shuffle=*/true, /*seed=*/7, drop_last);
    const auto batches = loader.batches(0);
    EXPECT_EQ(static_cast<std::int64_t>(batches.size()), loader.num_batches());
    EXPECT_EQ(loader.num_batches(), drop_last ? 10 : 11);
    for (std::size_t b = 0; b < batches.size(); ++b)
      EXPECT_EQ(batches[b].size(), b < 10 ? 10u : 3u) << "batch " << b;
    std::vector<std::int64_t> all = flatten(batches);
    EXPECT_EQ(all.size(), drop_last ? 100u : 103u);
    std::sort(all.begin(), all.end());
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "an index appears twice";
    if (!drop_last) {
      for (std::int64_t i = 0; i < 103; ++i) EXPECT_EQ(all[i], i);
    }
  }
}

TEST(BatchLoader, ReproduciblePerSeedAndEpoch) {
  BatchLoader a(500, 32, true, 42), b(500, 32, true, 42), other_seed(500, 32, true, 43);
  EXPECT_EQ(a.batches(3), b.batches(3));          // same (seed, epoch): same batches
  EXPECT_EQ(a.batches(3), a.batches(3));          // asking again does not advance anything
  EXPECT_NE(a.order(0), a.order(1));              // epochs differ
  EXPECT_NE(a.order(1), a.order(2));
  EXPECT_NE(a.order(0), other_seed.order(0));     // seeds differ
  // A "resumed" loader, created fresh at epoch 5, sees what the first one saw.
  BatchLoader resumed(500, 32, true, 42);
  EXPECT_EQ(resumed.batches(5), a.batches(5));
  // Shuffled, really: not the identity order.
  std::vector<std::int64_t> identity(500);
  for (int i = 0; i < 500; ++i) identity[i] = i;
  EXPECT_NE(a.order(0), identity);
  EXPECT_EQ(BatchLoader(500, 32, /*shuffle=*/false).order(4), identity);
}

TEST(BatchLoader, FixedValuesForOneSeed) {
  // Pins the seed mixing (checked against a Python transcription of
  // splitmix64), the generator and the Fisher-Yates loop: a change in any of
  // them changes every run's data order, which must then be deliberate.
  EXPECT_EQ(epoch_seed(0, 0), 12035550249420947055ULL);
  EXPECT_EQ(epoch_seed(5, 3), 7485121835981390325ULL);
  EXPECT_EQ(BatchLoader(8, 8, true, 1).order(0), (std::vector<std::int64_t>{5, 0, 1, 3, 7, 2, 4, 6}));
  EXPECT_EQ(BatchLoader(8, 8, true, 1).order(1), (std::vector<std::int64_t>{1, 2, 7, 5, 6, 4, 0, 3}));
}

TEST(BatchLoader, BadArguments) {
  expect_error([] { BatchLoader(10, 0); }, {"BatchLoader", "batch_size >= 1", "0"});
  expect_error([] { BatchLoader(-1, 4); }, {"BatchLoader", "n >= 0"});
  EXPECT_EQ(BatchLoader(0, 4).batches(0).size(), 0u);
}

TEST(BatchLoader, ABatchSizeNearInt64MaxIsOneBatch) {
  // ceil(n / batch_size) was (n + batch_size - 1) / batch_size: an overflow for such sizes
  for (bool drop_last : {false, true}) {
    const BatchLoader loader(10, INT64_MAX, /*shuffle=*/false, 0, drop_last);
    EXPECT_EQ(loader.num_batches(), drop_last ? 0 : 1);
    const auto b = loader.batches(0);
    ASSERT_EQ(b.size(), drop_last ? 0u : 1u);
    if (!drop_last) {
      EXPECT_EQ(b[0].size(), 10u);
    }
  }
  EXPECT_EQ(BatchLoader(10, 3).num_batches(), 4);
  EXPECT_EQ(BatchLoader(10, 3, true, 0, true).num_batches(), 3);
}

// ---- PKSampler ----

TEST(PKSampler, EachBatchHasPClassesTimesKSamples) {
  // 10 classes with unequal sizes (30..57 samples), labels interleaved.
  std::vector<std::int64_t> labels;
  for (int c = 0; c < 10; ++c)
    for (int i = 0; i < 30 + 3 * c; ++i) labels.push_back(c);
  std::rotate(labels.begin(), labels.begin() + 17, labels.end());
  const std::int64_t P = 4, K = 5;
  PKSampler pk(labels, P, K, /*seed=*/3);
  EXPECT_EQ(pk.batch_size(), 20);
  EXPECT_EQ(pk.num_classes(), 10);
  EXPECT_EQ(pk.num_batches(), static_cast<std::int64_t>(labels.size()) / 20);
  std::map<std::int64_t, int> used;  // how often each sample is drawn over the epoch
  for (const auto& batch : pk.batches(0)) {
    ASSERT_EQ(static_cast<std::int64_t>(batch.size()), P * K);
    std::set<std::int64_t> classes, distinct(batch.begin(), batch.end());
    EXPECT_EQ(static_cast<std::int64_t>(distinct.size()), P * K) << "a sample twice in one batch";
    for (std::int64_t p = 0; p < P; ++p) {
      const std::int64_t c = labels[batch[p * K]];
      classes.insert(c);
      for (std::int64_t k = 0; k < K; ++k) EXPECT_EQ(labels[batch[p * K + k]], c) << "block " << p << " mixes classes";
    }
    EXPECT_EQ(static_cast<std::int64_t>(classes.size()), P) << "classes repeat within a batch";
    for (auto i : batch) ++used[i];
  }
  // Samples are spread out: none is drawn far more often than the average (1).
  for (const auto& [i, n] : used) EXPECT_LE(n, 4) << "sample " << i;
}

TEST(PKSampler, ReproducibleAndVariesAcrossEpochs) {
  std::vector<std::int64_t> labels;
  for (int i = 0; i < 200; ++i) labels.push_back(i % 7 + 100);  // labels need not start at 0
  PKSampler a(labels, 3, 4, 9, /*batches_per_epoch=*/12), b(labels, 3, 4, 9, 12);
  EXPECT_EQ(a.num_batches(), 12);
  EXPECT_EQ(a.batches(2), b.batches(2));
  EXPECT_NE(a.batches(0), a.batches(1));
  EXPECT_NE(a.batches(0), PKSampler(labels, 3, 4, 10, 12).batches(0));
  // All 7 classes do appear over an epoch.
  std::set<std::int64_t> seen;
  for (auto i : flatten(a.batches(0))) seen.insert(labels[i]);
  EXPECT_EQ(seen.size(), 7u);
}

TEST(PKSampler, ClearErrors) {
  std::vector<std::int64_t> labels = {0, 0, 0, 1, 1, 1, 2, 2};  // class 2 has only 2 samples
  expect_error([&] { PKSampler(labels, 2, 3); }, {"PKSampler", "class 2 has 2 samples", "fewer than K = 3"});
  expect_error([&] { PKSampler(labels, 4, 2); }, {"PKSampler", "P = 4", "only 3 distinct classes"});
  expect_error([&] { PKSampler(labels, 0, 2); }, {"PKSampler", "P >= 1"});
  EXPECT_NO_THROW(PKSampler(labels, 3, 2));
}

TEST(PKSampler, OnTheShippedSubset) {
  const MnistSplit s = load_mnist(chalk::test_util::kSubset, true);
  PKSampler pk(s.labels, 10, 6, 1);
  EXPECT_EQ(pk.num_batches(), 100);
  const Batch b = make_batch(s, pk.batches(0)[0]);
  EXPECT_EQ(b.images.shape(), (Shape{60, 1, 28, 28}));
  std::map<std::int64_t, int> per_class;
  for (auto y : b.labels.to_vector<std::int64_t>()) ++per_class[y];
  EXPECT_EQ(per_class.size(), 10u);
  for (const auto& [c, n] : per_class) EXPECT_EQ(n, 6) << "digit " << c;
}

// ---- where the data is ----

TEST(LocateMnist, PrefersGivenThenFullThenSubset) {
  const fs::path root = fs::temp_directory_path() / ("chalk_test_locate_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "mnist-subset");
  fs::create_directories(root / "mnist-full");
  const char* names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                          "t10k-labels-idx1-ubyte"};
  for (const char* n : names) write_file_bytes((root / "mnist-subset" / (std::string(n) + ".gz")).string(), {1}, true);
  // Only three files in mnist-full: it does not count as fetched.
  for (int i = 0; i < 3; ++i) write_file_bytes((root / "mnist-full" / names[i]).string(), {1});
  MnistLocation loc = locate_mnist("", root.string());
  EXPECT_EQ(loc.source, MnistSource::Subset);
  EXPECT_EQ(loc.dir, (root / "mnist-subset").string());
  EXPECT_NE(loc.description.find("subset"), std::string::npos);
  // All four: the full set wins.
  write_file_bytes((root / "mnist-full" / names[3]).string(), {1});
  loc = locate_mnist("", root.string());
  EXPECT_EQ(loc.source, MnistSource::Full);
  EXPECT_EQ(loc.dir, (root / "mnist-full").string());
  // --data wins over both, and must hold the files.
  loc = locate_mnist((root / "mnist-subset").string(), root.string());
  EXPECT_EQ(loc.source, MnistSource::Given);
  expect_error([&] { locate_mnist(root.string()); }, {"--data", root.string(), "train-images-idx3-ubyte"});
  fs::remove_all(root);
  expect_error([&] { locate_mnist("", root.string()); }, {"locate_dataset", "no MNIST found", "fetch-mnist.sh"});
}

TEST(LocateMnist, DefaultFindsTheRepositoryData) {
  const MnistLocation loc = locate_mnist();
  EXPECT_NE(loc.source, MnistSource::Given);
  EXPECT_TRUE(has_mnist_files(loc.dir)) << loc.dir;
}

// A folder holding MNIST-named files written by hand, removed afterwards.
class MnistFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("chalk_test_loadmnist_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // n images of rows x cols (pixel value 7) and the given labels, as split `prefix` (train or t10k).
  void write_split(const std::string& prefix, std::int64_t n, std::int64_t rows, std::int64_t cols,
                   const std::vector<std::uint8_t>& labels) {
    IdxImages im;
    im.n = n, im.rows = rows, im.cols = cols;
    im.pixels.assign(static_cast<std::size_t>(n * rows * cols), 7);
    write_idx_images(path(prefix + "-images-idx3-ubyte"), im);
    write_idx_labels(path(prefix + "-labels-idx1-ubyte"), labels);
  }
  fs::path dir_;
};

TEST_F(MnistFolder, CountMismatchNamesBothFiles) {
  IdxImages im;
  im.n = 3, im.rows = 28, im.cols = 28, im.pixels.assign(3 * 28 * 28, 7);
  write_idx_images(path("t10k-images-idx3-ubyte"), im);
  write_idx_labels(path("t10k-labels-idx1-ubyte.gz"), {1, 2}, true);
  expect_error([&] { load_mnist(dir_.string(), false); },
               {"load_mnist", "t10k-images-idx3-ubyte' holds 3 images", "t10k-labels-idx1-ubyte.gz' holds 2 labels"});
  write_idx_labels(path("t10k-labels-idx1-ubyte.gz"), {1, 2, 3}, true);
  const MnistSplit s = load_mnist(dir_.string(), false);
  EXPECT_EQ(s.n, 3);
  EXPECT_EQ(s.rows, 28);
  EXPECT_EQ(s.labels, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(s.images, im.pixels);
  expect_error([&] { load_mnist(dir_.string(), true); }, {"load_mnist", "train-images-idx3-ubyte.gz"});
}

// Issue 11, section 2: folders that read but cannot be used fail when loaded, naming the file and
// what is wrong (these used to fail later in training with messages that pointed elsewhere).
TEST_F(MnistFolder, ImagesThatAreNot28x28) {
  // Was: "diverged, lower the learning rate".
  write_split("train", 4, 14, 14, {0, 1, 2, 3});
  expect_error([&] { load_mnist(dir_.string(), true); },
               {"load_mnist", path("train-images-idx3-ubyte"), "images are 14 x 14 pixels", "expected MNIST's 28 x 28"});
  write_split("t10k", 2, 28, 27, {0, 1});
  expect_error([&] { load_mnist(dir_.string(), false); }, {path("t10k-images-idx3-ubyte"), "28 x 27"});
}

TEST_F(MnistFolder, EmptySplits) {
  // An empty test set (was "detach: the tensor is undefined") and training set (was
  // "make_schedule: total_steps = 0").
  write_split("t10k", 0, 28, 28, {});
  expect_error([&] { load_mnist(dir_.string(), false); },
               {"load_mnist", path("t10k-images-idx3-ubyte"), "holds 0 images", "test split needs at least one"});
  write_split("train", 0, 28, 28, {});
  expect_error([&] { load_mnist(dir_.string(), true); },
               {path("train-images-idx3-ubyte"), "holds 0 images", "training split"});
  // Images but no labels: the count mismatch, naming both.
  write_split("train", 2, 28, 28, {});
  expect_error([&] { load_mnist(dir_.string(), true); }, {"holds 2 images", "holds 0 labels"});
}

TEST_F(MnistFolder, LabelsOutsideZeroToNine) {
  write_split("train", 3, 28, 28, {0, 10, 9});
  expect_error([&] { load_mnist(dir_.string(), true); },
               {path("train-labels-idx1-ubyte"), "label 1 is 10", "expected a class in 0..9"});
  write_split("train", 3, 28, 28, {0, 9, 255});
  expect_error([&] { load_mnist(dir_.string(), true); }, {path("train-labels-idx1-ubyte"), "label 2 is 255"});
}

TEST_F(MnistFolder, DamagedFileInTheFolderIsNamed) {
  write_split("t10k", 2, 28, 28, {0, 1});
  write_file_bytes(path("t10k-images-idx3-ubyte"), {0x1f, 0x8b, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff});
  expect_error([&] { load_mnist(dir_.string(), false); }, {path("t10k-images-idx3-ubyte"), "gzip data ends early"});
}
