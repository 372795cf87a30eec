// io/mnist.cpp — the data sets in MNIST's format: which, where, and reading them (io/mnist.h).
#include "io/mnist.h"

#include <filesystem>

#include "core/error.h"
#include "io/idx.h"

#ifndef CHALK_DATA_DIR
#define CHALK_DATA_DIR "data"
#endif

namespace chalk {

namespace fs = std::filesystem;

namespace {

// MNIST's images are 28 x 28 pixels of digits 0..9.
constexpr std::int64_t kMnistRows = 28, kMnistCols = 28;
constexpr int kMnistClasses = 10;

const char* const kMnistNames[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                    "t10k-labels-idx1-ubyte"};

// dir/name if it exists, else dir/name.gz if that exists, else "".
std::string find_file(const std::string& dir, const std::string& name) {
  std::error_code ec;
  const fs::path raw = fs::path(dir) / name;
  if (fs::is_regular_file(raw, ec)) return raw.string();
  const fs::path gz = fs::path(dir) / (name + ".gz");
  if (fs::is_regular_file(gz, ec)) return gz.string();
  return "";
}

std::string require_file(const char* op, const std::string& dir, const std::string& name) {
  std::string p = find_file(dir, name);
  if (p.empty()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) fail(op, ": data folder '", dir, "' does not exist");
    fail(op, ": '", dir, "' has neither ", name, " nor ", name, ".gz (expected the four IDX files of MNIST's format: "
         "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)");
  }
  return p;
}

}  // namespace

// ---- the files ----

MnistSplit load_mnist(const std::string& dir, bool train) {
  const char* op = "load_mnist";
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = require_file(op, dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = require_file(op, dir, prefix + "-labels-idx1-ubyte");
  const char* split = train ? "training" : "test";
  IdxImages im = read_idx_images(images_path);
  // A folder that reads but cannot be used fails here, naming the file, not later in training
  // (14 x 14 images trained to "diverged"; an empty split to an undefined tensor or 0 steps).
  if (im.n == 0) fail(op, ": '", images_path, "' holds 0 images; the ", split, " split needs at least one");
  if (im.rows != kMnistRows || im.cols != kMnistCols)
    fail(op, ": '", images_path, "': images are ", im.rows, " x ", im.cols, " pixels, expected MNIST's ", kMnistRows,
         " x ", kMnistCols, " (chalk's models take 28 x 28 inputs; resized or another data set?)");
  std::vector<std::uint8_t> lab = read_idx_labels(labels_path, kMnistClasses);  // each in 0..9, file named
  if (static_cast<std::int64_t>(lab.size()) != im.n)
    fail(op, ": '", images_path, "' holds ", im.n, " images but '", labels_path, "' holds ", lab.size(),
         " labels; expected the same count");
  MnistSplit s;
  s.images = std::move(im.pixels);
  s.labels.assign(lab.begin(), lab.end());
  s.n = im.n;
  s.rows = im.rows;
  s.cols = im.cols;
  return s;
}

bool has_mnist_files(const std::string& dir) {
  for (const char* name : kMnistNames)
    if (find_file(dir, name).empty()) return false;
  return true;
}

// ---- the data sets ----

const std::vector<Dataset>& dataset_registry() {
  // Fashion-MNIST's class names are its authors' (the README of github.com/zalandoresearch/
  // fashion-mnist, "Labels"), label k = the k-th name.
  static const std::vector<Dataset> registry = {
      {"mnist", "MNIST", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, "mnist-full",
       "run scripts/fetch-mnist.sh", "mnist-subset"},
      {"fashion-mnist", "Fashion-MNIST",
       {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
       "/usr/share/datasets/fashion-mnist",
       "install Debian's dataset-fashion-mnist (scripts/install-deps.sh --with-fashion-mnist)", "fashion-mnist-subset"},
  };
  return registry;
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const Dataset& d : dataset_registry()) names.push_back(d.name);
  return names;
}

const Dataset& find_dataset(const std::string& name) {
  std::string known;
  for (const Dataset& d : dataset_registry()) {
    if (d.name == name) return d;
    known += (known.empty() ? "" : ", ") + d.name;
  }
  fail("--dataset: unknown data set '", name, "' (known: ", known, ")");
}

namespace {

fs::path data_root_or_default(const std::string& data_root) {
  return data_root.empty() ? fs::path(CHALK_DATA_DIR) : fs::path(data_root);
}

// The same folder, however spelled (relative, through a link); false when either is missing.
bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  const bool same = fs::equivalent(a, b, ec);
  return !ec && same;
}

}  // namespace

std::string dataset_of_folder(const std::string& dir, const std::string& data_root) {
  const fs::path root = data_root_or_default(data_root);
  for (const Dataset& d : dataset_registry())
    if (same_folder(dir, root / d.full_dir) || same_folder(dir, root / d.subset_dir)) return d.name;
  return "";
}

std::string subset_dir(const std::string& dataset) {
  return (fs::path(CHALK_DATA_DIR) / find_dataset(dataset).subset_dir).string();
}

std::string mnist_subset_dir() { return subset_dir("mnist"); }

MnistLocation locate_dataset(const Dataset& dataset, const std::string& data_dir, const std::string& data_root) {
  MnistLocation loc;
  loc.dataset = dataset;
  const std::string flag = "--dataset " + dataset.name;
  if (!data_dir.empty()) {
    for (const char* name : kMnistNames) require_file("--data", data_dir, name);
    loc.dir = data_dir;
    loc.source = MnistSource::Given;
    loc.description = dataset.display_name + " from " + data_dir + " (--data, " + flag + ")";
    return loc;
  }
  const fs::path root = data_root_or_default(data_root);
  const std::string full = (root / dataset.full_dir).string();  // an absolute full_dir stays as it is
  if (has_mnist_files(full)) {
    loc.dir = full;
    loc.source = MnistSource::Full;
    loc.description = "full " + dataset.display_name + " from " + full + " (" + flag + ")";
    return loc;
  }
  const std::string subset = (root / dataset.subset_dir).string();
  if (!has_mnist_files(subset))
    fail("locate_dataset: no ", dataset.display_name, " found: neither ", full, " nor ", subset,
         " holds the four files (", dataset.full_hint, ", or pass --data DIR)");
  loc.dir = subset;
  loc.source = MnistSource::Subset;
  loc.description = "the " + dataset.display_name + " subset shipped with chalk (6,000 train / 1,000 test) from " +
                    subset + " (" + flag + "); " + dataset.full_hint + " for the full 70,000";
  return loc;
}

MnistLocation locate_mnist(const std::string& data_dir, const std::string& data_root) {
  return locate_dataset(find_dataset("mnist"), data_dir, data_root);
}

}  // namespace chalk
