#include "nn/data.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <utility>

#include "core/error.h"
#include "core/random.h"
#include "io/idx.h"

#ifndef CHALK_DATA_DIR
#define CHALK_DATA_DIR "data"
#endif

namespace chalk::nn {

namespace fs = std::filesystem;

namespace {

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

void check_indices(const char* op, const MnistSplit& split, const std::vector<std::int64_t>& indices) {
  for (std::size_t i = 0; i < indices.size(); ++i)
    if (indices[i] < 0 || indices[i] >= split.n)
      fail(op, ": index ", indices[i], " (position ", i, ") out of range for a split of ", split.n, " samples");
}

// Fisher-Yates, written out: std::shuffle's order differs between standard
// libraries, and runs must be reproducible everywhere.
void shuffle(std::vector<std::int64_t>& v, Generator& g) {
  for (std::int64_t i = static_cast<std::int64_t>(v.size()) - 1; i > 0; --i)
    std::swap(v[i], v[g.randint(0, i + 1)]);
}

}  // namespace

// ---- MNIST ----

MnistSplit load_mnist(const std::string& dir, bool train) {
  const char* op = "load_mnist";
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = require_file(op, dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = require_file(op, dir, prefix + "-labels-idx1-ubyte");
  IdxImages im = read_idx_images(images_path);
  std::vector<std::uint8_t> lab = read_idx_labels(labels_path, 10);
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

// ---- batches ----

// x = (pixel / 255 - mean) / std, one float per pixel of the chosen images.
Tensor make_image_batch(const MnistSplit& split, const std::vector<std::int64_t>& indices, bool flatten) {
  check_indices("make_image_batch", split, indices);
  const std::int64_t B = static_cast<std::int64_t>(indices.size());
  const std::int64_t size = split.rows * split.cols;
  Tensor x = Tensor::empty(flatten ? Shape{B, size} : Shape{B, 1, split.rows, split.cols}, DType::Float32);
  // The 256 possible values, computed once (the same float for the same pixel everywhere).
  float value[256];
  for (int p = 0; p < 256; ++p) value[p] = (static_cast<float>(p) / 255.0f - kMnistMean) / kMnistStd;
  float* out = x.data<float>();
  for (std::int64_t b = 0; b < B; ++b) {
    const std::uint8_t* img = split.images.data() + indices[b] * size;
    for (std::int64_t j = 0; j < size; ++j) out[b * size + j] = value[img[j]];
  }
  return x;
}

Tensor make_label_batch(const MnistSplit& split, const std::vector<std::int64_t>& indices) {
  check_indices("make_label_batch", split, indices);
  Tensor y = Tensor::empty({static_cast<std::int64_t>(indices.size())}, DType::Int64);
  std::int64_t* out = y.data<std::int64_t>();
  for (std::size_t b = 0; b < indices.size(); ++b) out[b] = split.labels[indices[b]];
  return y;
}

Batch make_batch(const MnistSplit& split, const std::vector<std::int64_t>& indices, bool flatten) {
  return Batch{make_image_batch(split, indices, flatten), make_label_batch(split, indices), indices};
}

// ---- drawing batches ----

std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) {
  // splitmix64's finaliser applied twice: a bijective scramble of each input.
  auto mix = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return mix(mix(seed) ^ static_cast<std::uint64_t>(epoch));
}

BatchLoader::BatchLoader(std::int64_t n, std::int64_t batch_size, bool shuffle, std::uint64_t seed, bool drop_last)
    : n_(n), batch_size_(batch_size), shuffle_(shuffle), drop_last_(drop_last), seed_(seed) {
  if (n < 0) fail("BatchLoader: expected n >= 0 samples, got ", n);
  if (batch_size < 1) fail("BatchLoader: expected batch_size >= 1, got ", batch_size);
}

std::int64_t BatchLoader::num_batches() const {
  return drop_last_ ? n_ / batch_size_ : (n_ + batch_size_ - 1) / batch_size_;
}

std::vector<std::int64_t> BatchLoader::order(std::int64_t epoch) const {
  std::vector<std::int64_t> idx(n_);
  for (std::int64_t i = 0; i < n_; ++i) idx[i] = i;
  if (shuffle_) {
    Generator g(epoch_seed(seed_, epoch));
    shuffle(idx, g);
  }
  return idx;
}

std::vector<std::vector<std::int64_t>> BatchLoader::batches(std::int64_t epoch) const {
  const std::vector<std::int64_t> idx = order(epoch);
  std::vector<std::vector<std::int64_t>> out;
  out.reserve(num_batches());
  for (std::int64_t b = 0; b < num_batches(); ++b) {
    const std::int64_t begin = b * batch_size_, end = std::min(n_, begin + batch_size_);
    out.emplace_back(idx.begin() + begin, idx.begin() + end);
  }
  return out;
}

PKSampler::PKSampler(const std::vector<std::int64_t>& labels, std::int64_t P, std::int64_t K, std::uint64_t seed,
                     std::int64_t batches_per_epoch)
    : P_(P), K_(K), batches_per_epoch_(batches_per_epoch), seed_(seed) {
  if (P < 1 || K < 1) fail("PKSampler: expected P >= 1 classes and K >= 1 samples per class, got P = ", P, ", K = ", K);
  if (batches_per_epoch < 0) fail("PKSampler: expected batches_per_epoch >= 0 (0: n / (P*K)), got ", batches_per_epoch);
  std::map<std::int64_t, std::vector<std::int64_t>> by_class;
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(static_cast<std::int64_t>(i));
  for (auto& [c, m] : by_class) {
    if (static_cast<std::int64_t>(m.size()) < K)
      fail("PKSampler: class ", c, " has ", m.size(), " samples, fewer than K = ", K,
           " (every class needs at least K distinct samples)");
    classes_.push_back(c);
    members_.push_back(std::move(m));
  }
  if (P > num_classes())
    fail("PKSampler: P = ", P, " classes per batch, but the labels hold only ", num_classes(), " distinct classes");
  if (batches_per_epoch_ == 0)
    batches_per_epoch_ = std::max<std::int64_t>(1, static_cast<std::int64_t>(labels.size()) / (P * K));
}

std::vector<std::vector<std::int64_t>> PKSampler::batches(std::int64_t epoch) const {
  Generator g(epoch_seed(seed_, epoch));
  const std::int64_t C = num_classes();
  // One shuffled pool per class, with a cursor; reshuffled when fewer than K are left.
  std::vector<std::vector<std::int64_t>> pool = members_;
  std::vector<std::size_t> next(C, 0);
  for (auto& p : pool) shuffle(p, g);
  std::vector<std::int64_t> class_order(C);
  for (std::int64_t c = 0; c < C; ++c) class_order[c] = c;

  std::vector<std::vector<std::int64_t>> out(batches_per_epoch_);
  for (auto& batch : out) {
    // P distinct classes: the first P of a partial Fisher-Yates shuffle.
    for (std::int64_t i = 0; i < P_; ++i) std::swap(class_order[i], class_order[g.randint(i, C)]);
    batch.reserve(P_ * K_);
    for (std::int64_t i = 0; i < P_; ++i) {
      const std::int64_t c = class_order[i];
      if (next[c] + K_ > pool[c].size()) {
        shuffle(pool[c], g);
        next[c] = 0;
      }
      for (std::int64_t k = 0; k < K_; ++k) batch.push_back(pool[c][next[c]++]);
    }
  }
  return out;
}

}  // namespace chalk::nn
