// io/mnist.cpp — locating and reading the MNIST files (io/mnist.h).
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
    fail(op, ": '", dir, "' has neither ", name, " nor ", name, ".gz (expected the four MNIST files; "
         "scripts/fetch-mnist.sh fetches them into data/mnist-full)");
  }
  return p;
}

}  // namespace

// ---- MNIST ----

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

std::string mnist_subset_dir() { return (fs::path(CHALK_DATA_DIR) / "mnist-subset").string(); }

MnistLocation locate_mnist(const std::string& data_dir, const std::string& data_root) {
  MnistLocation loc;
  if (!data_dir.empty()) {
    for (const char* name : kMnistNames) require_file("--data", data_dir, name);
    loc.dir = data_dir;
    loc.source = MnistSource::Given;
    loc.description = "MNIST from " + data_dir + " (--data)";
    return loc;
  }
  const fs::path root = data_root.empty() ? fs::path(CHALK_DATA_DIR) : fs::path(data_root);
  const std::string full = (root / "mnist-full").string();
  if (has_mnist_files(full)) {
    loc.dir = full;
    loc.source = MnistSource::Full;
    loc.description = "full MNIST from " + full;
    return loc;
  }
  const std::string subset = (root / "mnist-subset").string();
  if (!has_mnist_files(subset))
    fail("locate_mnist: no MNIST found: neither ", full, " nor ", subset,
         " holds the four files (run scripts/fetch-mnist.sh, or pass --data DIR)");
  loc.dir = subset;
  loc.source = MnistSource::Subset;
  loc.description = "the MNIST subset shipped with chalk (6,000 train / 1,000 test) from " + subset +
                    "; run scripts/fetch-mnist.sh for the full 70,000";
  return loc;
}

}  // namespace chalk
