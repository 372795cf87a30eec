// Tests for the data sets chalk knows by name (io/mnist.h: Dataset, locate_dataset) and how a run
// records them: Fashion-MNIST found by name from its shipped subset, its class names, the same
// file checks as MNIST, config.json and the checkpoint naming the data set, chalk-eval refusing a
// checkpoint of another data set, and chalk-train's --dataset flag.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "demos/notebook.h"
#include "io/idx.h"
#include "io/mnist.h"
#include "io/safetensors.h"
#include "test_util.h"
#include "train_util.h"
#include "train/batches.h"
#include "train/checkpoint.h"
#include "train/monitors.h"
#include "train/run.h"
#include "train/trainer.h"

using namespace chalk;
using chalk::test_util::expect_error;
using chalk::test_util::kSubset;
using chalk::test_util::run_program;
using chalk::test_util::temp_dir;
namespace fs = std::filesystem;

namespace {

// The 7,000-image Fashion-MNIST subset shipped in data/fashion-mnist-subset.
const std::string kFashionSubset = std::string(CHALK_DATA_DIR) + "/fashion-mnist-subset";
const char* const kFiles[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                               "t10k-labels-idx1-ubyte.gz"};

// Fashion-MNIST as registered, but with its full set looked for where it is not: the shipped
// subset is then what locate_dataset finds, whether or not this machine has the Debian package.
Dataset fashion_without_full_set(const std::string& dir) {
  Dataset d = find_dataset("fashion-mnist");
  d.full_dir = dir + "/not-installed";
  return d;
}

using chalk::test_util::read_text;

// chalk-train's quick run (tests/test_util.h's kQuickTrain) on the Fashion-MNIST subset.
const std::string kQuickFashion =
    "chalk-train --quiet --threads 1 --limit-train 512 --dataset fashion-mnist --data " + kFashionSubset;

}  // namespace

// ---- the registry ----

TEST(Datasets, NamesAndClassNames) {
  EXPECT_EQ(dataset_names(), (std::vector<std::string>{"mnist", "fashion-mnist"}));
  const Dataset& mnist = find_dataset("mnist");
  EXPECT_EQ(mnist.display_name, "MNIST");
  EXPECT_EQ(mnist.class_names, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  const Dataset& fashion = find_dataset("fashion-mnist");
  EXPECT_EQ(fashion.display_name, "Fashion-MNIST");
  // Label k is the k-th name of Fashion-MNIST's README (Xiao, Rasul, Vollgraf 2017).
  EXPECT_EQ(fashion.class_names, (std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}));
  EXPECT_EQ(fashion.num_classes(), 10);
  EXPECT_EQ(fashion.full_dir, "/usr/share/datasets/fashion-mnist");  // where Debian's package puts it
  expect_error([] { find_dataset("cifar10"); }, {"unknown data set 'cifar10'", "mnist, fashion-mnist"});
  EXPECT_EQ(subset_dir("fashion-mnist"), kFashionSubset);
  EXPECT_EQ(subset_dir(), kSubset);
}

// ---- finding the files ----

TEST(Datasets, FashionMnistByNameFromTheShippedSubset) {
  const std::string tmp = temp_dir("fashion_subset");
  const MnistLocation loc = locate_dataset(fashion_without_full_set(tmp));
  EXPECT_EQ(loc.source, MnistSource::Subset);
  EXPECT_EQ(loc.dir, kFashionSubset);
  EXPECT_EQ(loc.dataset.name, "fashion-mnist");
  for (const char* part : {"the Fashion-MNIST subset shipped with chalk", "(--dataset fashion-mnist)",
                           "scripts/install-deps.sh --with-fashion-mnist"})
    EXPECT_NE(loc.description.find(part), std::string::npos) << part << " in: " << loc.description;
  // 600 training and 100 test images of each class, 28 x 28, real images.
  for (bool train : {true, false}) {
    const MnistSplit s = load_mnist(loc.dir, train);
    const std::int64_t n = train ? 6000 : 1000;
    EXPECT_EQ(s.n, n);
    EXPECT_EQ(s.rows, 28);
    EXPECT_EQ(s.cols, 28);
    std::array<std::int64_t, 10> count{};
    for (auto y : s.labels) ++count[static_cast<std::size_t>(y)];
    for (int c = 0; c < 10; ++c) EXPECT_EQ(count[c], n / 10) << loc.dataset.class_names[c];
    std::int64_t ink = 0;
    for (auto p : s.images) ink += p > 128;
    EXPECT_GT(ink, n * 784 / 20);
  }
  // The first image of both Fashion-MNIST files is an ankle boot, and the subset keeps it first.
  EXPECT_EQ(loc.dataset.class_names[static_cast<std::size_t>(load_mnist(loc.dir, true).labels[0])], "Ankle boot");
  EXPECT_EQ(load_mnist(loc.dir, false).labels[0], 9);
  // The shipped subset is not MNIST's: the first MNIST training image is a 5.
  EXPECT_NE(load_mnist(loc.dir, true).images, load_mnist(kSubset, true).images);
  fs::remove_all(tmp);
}

TEST(Datasets, FullSetPreferredWhereInstalledThenSubsetThenError) {
  const std::string tmp = temp_dir("fashion_full");
  Dataset d = fashion_without_full_set(tmp);
  d.full_dir = tmp + "/full";
  fs::create_directories(d.full_dir);
  for (int i = 0; i < 3; ++i) fs::copy_file(kFashionSubset + "/" + kFiles[i], d.full_dir + "/" + kFiles[i]);
  EXPECT_EQ(locate_dataset(d).source, MnistSource::Subset) << "three files of four are not a full set";
  fs::copy_file(kFashionSubset + "/" + kFiles[3], d.full_dir + "/" + kFiles[3]);
  const MnistLocation full = locate_dataset(d);
  EXPECT_EQ(full.source, MnistSource::Full);
  EXPECT_EQ(full.description, "full Fashion-MNIST from " + d.full_dir + " (--dataset fashion-mnist)");
  // --data wins, and the description names the data set and both flags.
  const MnistLocation given = locate_dataset(d, kFashionSubset);
  EXPECT_EQ(given.source, MnistSource::Given);
  EXPECT_EQ(given.description, "Fashion-MNIST from " + kFashionSubset + " (--data, --dataset fashion-mnist)");
  // Neither folder: the error names the data set, both folders and how to get it.
  d.subset_dir = "no-such-subset";
  fs::remove_all(d.full_dir);
  expect_error([&] { locate_dataset(d); },
               {"locate_dataset", "no Fashion-MNIST found", d.full_dir, "no-such-subset", "dataset-fashion-mnist"});
  // The registered one, on this machine: the Debian package's full set if installed, else the subset.
  const MnistLocation here = locate_dataset(find_dataset("fashion-mnist"));
  EXPECT_EQ(here.dir, has_mnist_files("/usr/share/datasets/fashion-mnist") ? "/usr/share/datasets/fashion-mnist"
                                                                            : kFashionSubset);
  fs::remove_all(tmp);
}

TEST(Datasets, AFolderNamesTheDataSetItHolds) {
  EXPECT_EQ(dataset_of_folder(kSubset), "mnist");
  EXPECT_EQ(dataset_of_folder(kFashionSubset), "fashion-mnist");
  EXPECT_EQ(dataset_of_folder(kFashionSubset + "/"), "fashion-mnist");  // however spelled
  EXPECT_EQ(dataset_of_folder(kFashionSubset + "/../fashion-mnist-subset"), "fashion-mnist");
  const std::string tmp = temp_dir("folder_of");
  EXPECT_EQ(dataset_of_folder(tmp), "") << "a folder chalk does not know";
  EXPECT_EQ(dataset_of_folder(tmp + "/missing"), "");
  fs::remove_all(tmp);
}

// The same IDX checks as MNIST's files: a damaged copy of the Fashion-MNIST files is refused with
// an error naming the file.
TEST(Datasets, DamagedFashionMnistCopyIsRefusedNamingTheFile) {
  const std::string dir = temp_dir("fashion_damaged");
  auto fresh_copy = [&] {
    for (const char* f : kFiles) fs::copy_file(kFashionSubset + "/" + f, dir + "/" + f, fs::copy_options::overwrite_existing);
  };
  const Dataset& fashion = find_dataset("fashion-mnist");
  fresh_copy();
  EXPECT_EQ(load_mnist(locate_dataset(fashion, dir).dir, false).n, 1000) << "the intact copy reads";
  // Truncated: the compressed test images cut to 1,000 bytes.
  fs::resize_file(dir + "/t10k-images-idx3-ubyte.gz", 1000);
  expect_error([&] { load_mnist(locate_dataset(fashion, dir).dir, false); },
               {dir + "/t10k-images-idx3-ubyte.gz", "gzip data ends early"});
  // Truncated after decompression: the training labels lose their last 10 labels.
  fresh_copy();
  std::vector<std::uint8_t> labels = read_file_bytes(dir + "/train-labels-idx1-ubyte.gz");
  labels.resize(labels.size() - 10);
  write_file_bytes(dir + "/train-labels-idx1-ubyte.gz", labels, true);
  expect_error([&] { load_mnist(dir, true); },
               {dir + "/train-labels-idx1-ubyte.gz", "expected 6000 labels", "truncated"});
  // Wrong magic: the training images' header says "labels" (2049).
  fresh_copy();
  std::vector<std::uint8_t> images = read_file_bytes(dir + "/train-images-idx3-ubyte.gz");
  images[3] = 0x01;  // 0x00000803 -> 0x00000801
  write_file_bytes(dir + "/train-images-idx3-ubyte.gz", images, true);
  expect_error([&] { load_mnist(dir, true); },
               {dir + "/train-images-idx3-ubyte.gz", "magic number is 2049", "expected 2051"});
  // A file missing: --data names the folder and the file.
  fresh_copy();
  fs::remove(dir + "/t10k-labels-idx1-ubyte.gz");
  expect_error([&] { locate_dataset(fashion, dir); }, {"--data", dir, "t10k-labels-idx1-ubyte"});
  // chalk-train on the damaged copy: exit 1, the file named.
  fresh_copy();
  fs::resize_file(dir + "/train-images-idx3-ubyte.gz", 5000);
  std::string out;
  EXPECT_EQ(run_program("chalk-train --quiet --dataset fashion-mnist --data " + dir + " --out " + dir + "/run", &out), 1)
      << out;
  EXPECT_NE(out.find(dir + "/train-images-idx3-ubyte.gz"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir + "/run/checkpoint.safetensors"));
  fs::remove_all(dir);
}

// ---- the configuration names the data set ----

TEST(Datasets, ConfigNamesTheDataSetAndOldConfigsAreMnist) {
  TrainConfig c;
  c.data_dir = kFashionSubset;
  c.resolve();
  EXPECT_EQ(c.dataset, "fashion-mnist") << "a --data folder where chalk finds a data set names it";
  EXPECT_EQ(TrainConfig::from_json(c.to_json()).dataset, "fashion-mnist");
  TrainConfig plain;
  plain.resolve();
  EXPECT_EQ(plain.dataset, "mnist") << "the default";
  TrainConfig unknown_folder;
  unknown_folder.data_dir = temp_dir("unknown_folder");
  unknown_folder.resolve();
  EXPECT_EQ(unknown_folder.dataset, "mnist");
  fs::remove_all(unknown_folder.data_dir);
  // A configuration written before chalk knew other data sets has no "dataset": it is MNIST.
  nlohmann::json j = nlohmann::json::parse(c.to_json());
  j.erase("dataset");
  EXPECT_EQ(TrainConfig::from_json(j.dump()).dataset, "mnist");
  j["dataset"] = 3;
  expect_error([&] { TrainConfig::from_json(j.dump()); }, {"config: field 'dataset' is 3, not a string"});
  // --dataset against a --data folder of another data set; an unknown name.
  TrainConfig contradicting;
  contradicting.dataset = "mnist";
  contradicting.data_dir = kFashionSubset;
  expect_error([&] { contradicting.resolve(); },
               {"--dataset mnist", kFashionSubset, "is where chalk finds Fashion-MNIST", "--dataset fashion-mnist"});
  TrainConfig bad;
  bad.dataset = "cifar10";
  expect_error([&] { bad.resolve(); }, {"cifar10", "mnist, fashion-mnist"});
}

TEST(Datasets, RunOnFashionMnistRecordsItInConfigCheckpointAndLog) {
  const std::string dir = temp_dir("fashion_run");
  TrainConfig c;
  c.dataset = "fashion-mnist";
  c.data_dir = kFashionSubset;
  c.epochs = 1;
  c.threads = 1;
  c.progress = false;
  c.limit_train = 512;
  c.out_dir = dir + "/run";
  Trainer t(c);
  EXPECT_EQ(t.dataset().name, "fashion-mnist");
  EXPECT_EQ(t.dataset().class_names[7], "Sneaker");
  EXPECT_EQ(t.num_classes(), 10);
  std::ostringstream log;
  run_training(t, false, log);
  EXPECT_NE(log.str().find("data: Fashion-MNIST from " + kFashionSubset + " (--data, --dataset fashion-mnist)"),
            std::string::npos)
      << log.str();
  const nlohmann::json config = nlohmann::json::parse(read_text(dir + "/run/config.json"));
  EXPECT_EQ(config.at("dataset"), "fashion-mnist");
  EXPECT_EQ(checkpoint_config(dir + "/run/checkpoint.safetensors").dataset, "fashion-mnist");
  fs::remove_all(dir);
}

// ---- chalk-eval and another data set ----

TEST(Datasets, EvaluatingACheckpointOnAnotherDataSetFailsNamingBoth) {
  const std::string dir = temp_dir("eval_other_dataset");
  const std::string ckpt = dir + "/run/checkpoint.safetensors";
  std::string out;
  ASSERT_EQ(run_program(kQuickFashion + " --epochs 1 --out " + dir + "/run", &out), 0) << out;
  EXPECT_NE(out.find("data: Fashion-MNIST from " + kFashionSubset), std::string::npos) << out;
  // Its own data set: by its folder, or by name.
  ASSERT_EQ(run_program("chalk-eval --threads 1 --data " + kFashionSubset + " " + ckpt, &out), 0) << out;
  EXPECT_NE(out.find("1 epoch(s) on Fashion-MNIST"), std::string::npos) << out;
  EXPECT_NE(out.find("\"test_accuracy\""), std::string::npos) << out;
  // MNIST, by its folder or by name: exit 1, both data sets named, no metrics.
  for (const std::string& flags : {"--data " + kSubset, "--dataset mnist --data " + kSubset}) {
    EXPECT_EQ(run_program("chalk-eval --threads 1 " + flags + " " + ckpt, &out), 1) << flags << "\n" << out;
    for (const char* part : {"was trained on Fashion-MNIST (fashion-mnist) but would be evaluated on MNIST (mnist",
                             "classes it never learned", "--dataset fashion-mnist", "--allow-other-dataset"})
      EXPECT_NE(out.find(part), std::string::npos) << part << " in:\n" << out;
    EXPECT_EQ(out.find("\"test_accuracy\""), std::string::npos) << out;
  }
  // An instructor may still score it there, with a warning.
  ASSERT_EQ(run_program("chalk-eval --threads 1 --allow-other-dataset --data " + kSubset + " " + ckpt, &out), 0) << out;
  EXPECT_NE(out.find("warning: " + ckpt + " was trained on Fashion-MNIST, evaluated here on MNIST"), std::string::npos)
      << out;
  // --dataset contradicting the --data folder: exit 1 (chalk-eval has no flag-stage check of it).
  EXPECT_EQ(run_program("chalk-eval --threads 1 --dataset fashion-mnist --data " + kSubset + " " + ckpt, &out), 1) << out;
  EXPECT_NE(out.find("is where chalk finds MNIST"), std::string::npos) << out;
  // Resuming with another --dataset contradicts the run: a bad flag.
  EXPECT_EQ(run_program("chalk-train --quiet --dataset mnist --epochs 2 --resume --out " + dir + "/run", &out), 2) << out;
  EXPECT_NE(out.find("--dataset \"mnist\" contradicts the run being resumed, which has dataset = \"fashion-mnist\""),
            std::string::npos)
      << out;
  fs::remove_all(dir);
}

// A checkpoint whose configuration has no "dataset" (written before chalk knew other data sets)
// was trained on MNIST: it evaluates on MNIST, and is refused on Fashion-MNIST.
TEST(Datasets, CheckpointWithoutADataSetIsMnist) {
  const std::string dir = temp_dir("old_checkpoint");
  const std::string path = dir + "/checkpoint.safetensors";
  TrainConfig c = test_util::small_config("softmax", 256);
  {
    Trainer t(c);
    t.train_epoch(0);
    t.save_checkpoint(path, 1);
  }
  SafetensorsFile file = load_safetensors(path);
  nlohmann::json config = nlohmann::json::parse(file.metadata.at("config"));
  ASSERT_EQ(config.at("dataset"), "mnist");
  config.erase("dataset");
  file.metadata["config"] = config.dump();
  save_safetensors(path, file.tensors, file.metadata);
  EXPECT_EQ(checkpoint_config(path).dataset, "mnist");
  std::ostringstream log;
  evaluate_checkpoint(path, kSubset, log);
  EXPECT_NE(log.str().find("1 epoch(s) on MNIST"), std::string::npos) << log.str();
  expect_error([&] { evaluate_checkpoint(path, kFashionSubset, log); },
               {path, "was trained on MNIST (mnist) but would be evaluated on Fashion-MNIST (fashion-mnist"});
  // A data set this chalk does not know: named with the file.
  config["dataset"] = "cifar10";
  file.metadata["config"] = config.dump();
  save_safetensors(path, file.tensors, file.metadata);
  expect_error([&] { evaluate_checkpoint(path, kSubset, log); },
               {path, "trained on a data set this chalk does not know", "cifar10", "mnist, fashion-mnist"});
  fs::remove_all(dir);
}

// ---- the demos' plumbing (demos/notebook.h) ----

TEST(Datasets, ADemoTakesTheDataSetByFlagOrByFolder) {
  const std::string dir = temp_dir("notebook_dataset");
  auto parse = [&](demo::Notebook& nb, std::vector<std::string> args) {
    args.insert(args.begin(), {"demo", "--out", dir});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return nb.parse(static_cast<int>(argv.size()), argv.data());
  };
  {
    demo::Notebook nb("99", "data sets");
    nb.add_dataset_flag();
    ASSERT_FALSE(parse(nb, {"--dataset", "fashion-mnist"}).has_value());
    EXPECT_EQ(nb.dataset().display_name, "Fashion-MNIST");
    EXPECT_EQ(nb.data_dir(), kFashionSubset) << "the data set's shipped subset";
    EXPECT_EQ(nb.train_config().dataset, "fashion-mnist");
    EXPECT_EQ(nb.dataset().class_names[static_cast<std::size_t>(nb.test_split().labels[0])], "Ankle boot");
  }
  {
    demo::Notebook nb("99", "data sets");  // no --dataset flag: MNIST, or the --data folder's data set
    ASSERT_FALSE(parse(nb, {}).has_value());
    EXPECT_EQ(nb.dataset().name, "mnist");
    EXPECT_EQ(nb.data_dir(), kSubset);
    demo::Notebook by_folder("99", "data sets");
    ASSERT_FALSE(parse(by_folder, {"--data", kFashionSubset}).has_value());
    EXPECT_EQ(by_folder.dataset().name, "fashion-mnist");
    EXPECT_EQ(by_folder.train_config().dataset, "fashion-mnist");
  }
  {
    demo::Notebook nb("99", "data sets");
    nb.add_dataset_flag();
    testing::internal::CaptureStderr();
    EXPECT_EQ(parse(nb, {"--dataset", "cifar10"}).value_or(-1), 2);
    testing::internal::GetCapturedStderr();
  }
  fs::remove_all(dir);
}

// ---- chalk-train's flag ----

TEST(Datasets, UnknownOrContradictingDataSetFlagExitsWith2) {
  std::string out;
  EXPECT_EQ(run_program("chalk-train --dataset cifar10 --epochs 1", &out), 2) << out;
  for (const char* part : {"--dataset", "cifar10", "mnist", "fashion-mnist"})
    EXPECT_NE(out.find(part), std::string::npos) << part << " in:\n" << out;
  EXPECT_EQ(run_program("chalk-eval --dataset cifar10 " + kSubset + "/train-labels-idx1-ubyte.gz", &out), 2) << out;
  EXPECT_NE(out.find("fashion-mnist"), std::string::npos) << out;
  // MNIST asked for, Fashion-MNIST's folder given: a bad combination of flags, nothing trained.
  const std::string dir = temp_dir("contradicting_flags");
  EXPECT_EQ(run_program("chalk-train --quiet --dataset mnist --data " + kFashionSubset + " --out " + dir + "/run", &out),
            2)
      << out;
  EXPECT_NE(out.find("is where chalk finds Fashion-MNIST (fashion-mnist), not MNIST"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir + "/run"));
  // The help lists the data sets with where each is found.
  EXPECT_EQ(run_program("chalk-train --help", &out), 0) << out;
  EXPECT_NE(out.find("fashion-mnist: Fashion-MNIST, full set from /usr/share/datasets/fashion-mnist"), std::string::npos)
      << out;
  fs::remove_all(dir);
}

// ---- augmentation: random horizontal flip (--hflip) ----

TEST(Augmentation, FlipHorizontallyMirrorsTheChosenImagesOnly) {
  MnistSplit s;
  s.n = 2, s.rows = 2, s.cols = 3;
  s.images = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  s.labels = {0, 1};
  for (bool flatten : {false, true}) {
    Tensor x = make_image_batch(s, {0, 1}, flatten);
    const std::vector<float> before = x.to_vector<float>();
    flip_horizontally(x, s.rows, s.cols, {true, false});
    const std::vector<float> after = x.to_vector<float>();
    // image 0's rows reversed (pixels 0 1 2 | 3 4 5 -> 2 1 0 | 5 4 3), image 1 untouched
    const std::vector<int> from = {2, 1, 0, 5, 4, 3, 6, 7, 8, 9, 10, 11};
    for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i], before[from[i]]) << "element " << i;
  }
  Tensor x = make_image_batch(s, {0, 1});
  expect_error([&] { flip_horizontally(x, 2, 3, {true}); }, {"flip_horizontally: 1 flip choices for a batch of 2"});
  expect_error([&] { flip_horizontally(x, 3, 3, {true, true}); }, {"flip_horizontally: expected a float32 batch of 3 x 3"});
}

TEST(Augmentation, TheFlipCoinIsFairAndFixedBySeedStepAndSample) {
  std::int64_t heads = 0;
  for (std::int64_t i = 0; i < 10000; ++i) heads += hflip_coin(0, 7, i) ? 1 : 0;
  EXPECT_GT(heads, 4800);  // a fixed hash, so a fixed count: a fair coin's lies within 2 sd of 5000
  EXPECT_LT(heads, 5200);
  EXPECT_EQ(hflip_coin(3, 5, 11), hflip_coin(3, 5, 11));
  int differ_by_step = 0, differ_by_seed = 0;
  for (std::int64_t i = 0; i < 64; ++i) {
    differ_by_step += hflip_coin(0, 1, i) != hflip_coin(0, 2, i);
    differ_by_seed += hflip_coin(0, 1, i) != hflip_coin(1, 1, i);
  }
  EXPECT_GT(differ_by_step, 16) << "the next step flips other images";
  EXPECT_GT(differ_by_seed, 16) << "another seed flips other images";
}

// --hflip is saved with the run (an old config without it trained without it), and a run with
// it trains otherwise than one without, the same way at every thread count.
TEST(Augmentation, HflipIsSavedAndChangesTrainingTheSameAtEveryThreadCount) {
  TrainConfig c = chalk::test_util::small_config("softmax", 256);
  c.hflip = true;
  EXPECT_TRUE(TrainConfig::from_json(c.to_json()).hflip);
  nlohmann::json j = nlohmann::json::parse(c.to_json());
  j.erase("hflip");
  EXPECT_FALSE(TrainConfig::from_json(j.dump()).hflip);
  auto trained = [](TrainConfig config, int threads) {
    chalk::set_num_threads(threads);
    Trainer t(config);
    t.train_epoch(0);
    std::vector<float> w;
    for (const auto& p : t.model().parameters())
      for (float v : p.to_vector<float>()) w.push_back(v);
    return w;
  };
  TrainConfig plain = c;
  plain.hflip = false;
  const std::vector<float> flipped_1 = trained(c, 1), flipped_2 = trained(c, 2), unflipped = trained(plain, 1);
  chalk::set_num_threads(1);
  EXPECT_EQ(flipped_1, flipped_2);
  EXPECT_NE(flipped_1, unflipped);
}
