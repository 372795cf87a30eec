// train/batches.cpp — MNIST batches and the samplers (train/batches.h).
#include "train/batches.h"

#include <algorithm>
#include <map>
#include <utility>

#include "core/autograd.h"
#include "core/error.h"
#include "core/random.h"
#include "core/shape.h"

namespace chalk {

namespace {

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

// ---- augmentation ----

void flip_horizontally(Tensor& images, std::int64_t rows, std::int64_t cols, const std::vector<bool>& flip) {
  const std::int64_t size = checked_mul(rows, cols, "flip_horizontally", "rows x cols");
  if (images.dtype() != DType::Float32 || images.dim() < 2 || images.numel() != images.shape()[0] * size)
    fail("flip_horizontally: expected a float32 batch of ", rows, " x ", cols, " images, got ",
         shape_str(images.shape()), " ", dtype_name(images.dtype()));
  const std::int64_t B = images.shape()[0];
  if (static_cast<std::int64_t>(flip.size()) != B)
    fail("flip_horizontally: ", flip.size(), " flip choices for a batch of ", B, " images");
  float* x = images.data<float>();
  for (std::int64_t b = 0; b < B; ++b) {
    if (!flip[static_cast<std::size_t>(b)]) continue;
    for (std::int64_t r = 0; r < rows; ++r) {
      float* row = x + b * size + r * cols;
      std::reverse(row, row + cols);
    }
  }
  increment_version(images);
}

bool hflip_coin(std::uint64_t seed, std::int64_t step, std::int64_t index) {
  // epoch_seed's mix, keyed by the step and then the sample; the top bit is the coin
  return (epoch_seed(epoch_seed(seed ^ 0x68666c6970ULL, step), index) >> 63) != 0;  // "hflip"
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
  // ceil(n / batch_size) without forming n + batch_size - 1, which overflows for a batch size
  // near INT64_MAX ("the whole set in one batch")
  return n_ / batch_size_ + (!drop_last_ && n_ % batch_size_ != 0 ? 1 : 0);
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
    const std::int64_t begin = b * batch_size_, end = begin + std::min(n_ - begin, batch_size_);  // both <= n
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
  // P x K <= the samples of P classes (each has >= K, checked above), so it fits; checked anyway,
  // as every size a caller gives.
  const std::int64_t batch = checked_mul(P, K, "PKSampler", "the batch size P x K =");
  if (batches_per_epoch_ == 0)
    batches_per_epoch_ = std::max<std::int64_t>(1, static_cast<std::int64_t>(labels.size()) / batch);
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

}  // namespace chalk
