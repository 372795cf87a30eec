// train/sampler.h — which training samples each step sees: the one place a run's batches, and
// how many samples each holds, are decided.
//
//   chalk::Sampler s(train.labels, /*num_classes=*/10, loss.wants_pk_batches(), /*batch_size=*/128, /*K=*/8, seed);
//   s.samples_per_batch();                       // 128; P x K = 10 x 8 = 80 for a P x K loss
//   for (const auto& idx : s.batches(epoch)) ... // each a vector of sample indices
//
// A plain loss gets every training sample once per epoch in a fresh random order, cut into
// batches of batch_size (BatchLoader; the last batch may be short). A loss that mines inside its
// batches (Loss::wants_pk_batches: the triplet family) gets P classes x K samples per batch
// (PKSampler), with P = pk_classes_per_batch(C, batch_size, K), and n / (P K) batches an epoch.
// Both orders are reproducible per (seed, epoch) (train/batches.h).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "train/batches.h"

namespace chalk {

// P, the classes of a P x K batch: batch_size / K, at least 2 (a batch needs negatives) and at
// most num_classes. E.g. 10 at batch size 128 and K = 8 on MNIST (16 capped to the 10 digits).
// Throws chalk::Error unless num_classes >= 1, batch_size >= 1 and K >= 1.
std::int64_t pk_classes_per_batch(std::int64_t num_classes, std::int64_t batch_size, std::int64_t K);

class Sampler {
 public:
  // labels: the training split's (each in 0..num_classes-1). pk_batches: P x K batches (the
  // loss's wants_pk_batches()), else shuffled batches of batch_size. Throws chalk::Error when
  // P x K batches cannot be drawn from these labels (PKSampler: a class with fewer than K
  // samples, or fewer distinct classes than P), or for batch_size or K < 1.
  Sampler(const std::vector<std::int64_t>& labels, std::int64_t num_classes, bool pk_batches, std::int64_t batch_size,
          std::int64_t samples_per_class, std::uint64_t seed);

  // The batches of epoch `epoch` (0, 1, ...): the same arguments give the same batches.
  std::vector<std::vector<std::int64_t>> batches(std::int64_t epoch) const;
  // Batches (steps) per epoch.
  std::int64_t num_batches() const;
  // Samples in one batch: batch_size, or P x K. The last plain batch of an epoch may hold fewer.
  std::int64_t samples_per_batch() const;
  // Samples one epoch trains on: every training sample once (plain batches), or
  // num_batches() x P x K (P x K batches). What a run's samples per second count.
  std::int64_t samples_per_epoch() const;
  bool pk_batches() const { return pk_.has_value(); }

 private:
  std::int64_t n_;
  std::optional<PKSampler> pk_;
  std::optional<BatchLoader> loader_;
};

}  // namespace chalk
