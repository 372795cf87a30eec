// train/batches.h — MNIST batches, and the two ways of drawing them (the samplers).
//
//   auto where = chalk::locate_mnist(data_flag);        // --data DIR, else full, else shipped subset
//   std::cout << "data: " << where.description << "\n";
//   MnistSplit train = load_mnist(where.dir, /*train=*/true);
//
//   BatchLoader loader(train.n, /*batch_size=*/128, /*shuffle=*/true, seed);
//   for (const auto& idx : loader.batches(epoch)) {   // each a vector of sample indices
//     Batch b = make_batch(train, idx);        // b.images [B, 1, 28, 28] float32, b.labels [B] int64
//     ...
//   }
//
//   PKSampler pk(train.labels, /*P=*/8, /*K=*/4, seed);  // for triplet / contrastive losses
//   for (const auto& idx : pk.batches(epoch)) { ... }        // 8 classes x 4 images each
//
// Images stay as bytes in memory (47 MB for the full training set); only the
// batch being used is converted to float, with MNIST's usual normalisation
//   x = (pixel / 255 - 0.1307) / 0.3081
// (the mean and standard deviation of the training pixels, as in PyTorch's
// MNIST examples), so the inputs are roughly zero-mean, unit-variance.
//
// Both samplers are reproducible: the order of epoch e comes from a
// chalk::Generator of its own seeded from (seed, e), not from the global
// generator, so a run resumed at epoch e sees exactly the batches it would
// have seen without stopping, and model initialisation does not shift it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/mnist.h"

namespace chalk {

// MNIST's usual normalisation: the mean and standard deviation of the training pixels.
constexpr float kMnistMean = 0.1307f;
constexpr float kMnistStd = 0.3081f;

// ---- batches ----

struct Batch {
  Tensor images;                      // [B, 1, rows, cols] (or [B, rows*cols] flattened), float32, normalised
  Tensor labels;                      // [B] int64
  std::vector<std::int64_t> indices;  // which samples of the split, in batch order
};

// The images at `indices`, converted to float32 and normalised:
// [B, 1, rows, cols], or [B, rows * cols] when `flatten` is true.
Tensor make_image_batch(const MnistSplit& split, const std::vector<std::int64_t>& indices, bool flatten = false);
// The labels at `indices`, as an int64 tensor [B].
Tensor make_label_batch(const MnistSplit& split, const std::vector<std::int64_t>& indices);
// Both, plus the indices.
Batch make_batch(const MnistSplit& split, const std::vector<std::int64_t>& indices, bool flatten = false);

// ---- augmentation ----

// Random horizontal flip, the augmentation of torchvision's RandomHorizontalFlip(p=0.5) (and of
// Fashion-MNIST's benchmark entry "2 Conv+2 FC, random horizontal flips", 0.939): each chosen
// image x[r][c] becomes x[r][cols-1-c] in place. `images` is a batch as make_image_batch makes it,
// [B, 1, rows, cols] or [B, rows*cols], float32 (not part of a graph); flip[b] says whether image
// b is flipped. A mirrored coat is still a coat, a mirrored "2" is no digit: for Fashion-MNIST, not
// MNIST. Throws chalk::Error when flip.size() != B or the tensor is not such a batch.
void flip_horizontally(Tensor& images, std::int64_t rows, std::int64_t cols, const std::vector<bool>& flip);

// Whether training sample `index` is flipped at global step `step` of a run seeded `seed`: a fair
// coin from a hash of the three, so the same run flips the same images whatever the thread count,
// and a resumed run (which restores its step) flips as the uninterrupted one.
bool hflip_coin(std::uint64_t seed, std::int64_t step, std::int64_t index);

// ---- drawing batches ----

// The seed of epoch `epoch`'s generator: a fixed mix (splitmix64) of both, so
// nearby seeds and epochs give unrelated streams.
std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch);

// Batches of sample indices 0..n-1: every index exactly once per epoch, in a
// fresh random order per epoch when `shuffle` is true (else 0, 1, 2, ...).
// The last batch is smaller when batch_size does not divide n, or is
// dropped with drop_last (then each epoch has floor(n / batch_size) batches).
class BatchLoader {
 public:
  BatchLoader(std::int64_t n, std::int64_t batch_size, bool shuffle = true, std::uint64_t seed = 0,
              bool drop_last = false);

  // All batches of epoch `epoch` (0, 1, 2, ...); the same arguments give the same batches.
  std::vector<std::vector<std::int64_t>> batches(std::int64_t epoch) const;
  // The order of all n indices in epoch `epoch` (before cutting into batches).
  std::vector<std::int64_t> order(std::int64_t epoch) const;

  std::int64_t num_batches() const;
  std::int64_t size() const { return n_; }
  std::int64_t batch_size() const { return batch_size_; }

 private:
  std::int64_t n_, batch_size_;
  bool shuffle_, drop_last_;
  std::uint64_t seed_;
};

// P classes x K samples per batch, for losses that need positives and
// negatives in every batch (triplet, contrastive, ...), like
// pytorch-metric-learning's MPerClassSampler. Each batch holds P distinct
// classes, drawn at random, and K distinct samples of each (batch order:
// the K samples of the first class, then of the second, ...). Within a
// class, samples are taken from a shuffled pool that is refilled when it
// runs low, so over an epoch every sample of a class is used about equally.
// An epoch has `batches_per_epoch` batches; by default n / (P * K), so it
// sees about as many samples as there are.
class PKSampler {
 public:
  // Throws if P or K < 1, P > the number of distinct labels, or a class has
  // fewer than K samples.
  PKSampler(const std::vector<std::int64_t>& labels, std::int64_t P, std::int64_t K, std::uint64_t seed = 0,
            std::int64_t batches_per_epoch = 0);

  std::vector<std::vector<std::int64_t>> batches(std::int64_t epoch) const;

  std::int64_t num_batches() const { return batches_per_epoch_; }
  std::int64_t batch_size() const { return P_ * K_; }
  std::int64_t num_classes() const { return static_cast<std::int64_t>(classes_.size()); }

 private:
  std::int64_t P_, K_, batches_per_epoch_;
  std::uint64_t seed_;
  std::vector<std::int64_t> classes_;                    // the distinct labels, ascending
  std::vector<std::vector<std::int64_t>> members_;       // members_[c]: sample indices of classes_[c]
};

}  // namespace chalk
