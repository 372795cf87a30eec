// train/sampler.cpp — a run's batches: shuffled, or P classes x K samples (train/sampler.h).
#include "train/sampler.h"

#include <algorithm>

#include "core/shape.h"
#include "core/error.h"

namespace chalk {

std::int64_t pk_classes_per_batch(std::int64_t num_classes, std::int64_t batch_size, std::int64_t K) {
  if (num_classes < 1 || batch_size < 1 || K < 1)
    fail("pk_classes_per_batch: expected num_classes, batch_size and K >= 1, got ", num_classes, ", ", batch_size,
         ", ", K);
  return std::min<std::int64_t>(num_classes, std::max<std::int64_t>(2, batch_size / K));
}

Sampler::Sampler(const std::vector<std::int64_t>& labels, std::int64_t num_classes, bool pk_batches,
                 std::int64_t batch_size, std::int64_t samples_per_class, std::uint64_t seed)
    : n_(static_cast<std::int64_t>(labels.size())) {
  if (!pk_batches) {
    loader_.emplace(n_, batch_size, /*shuffle=*/true, seed, /*drop_last=*/false);
    return;
  }
  const std::int64_t K = samples_per_class, P = pk_classes_per_batch(num_classes, batch_size, K);
  const std::int64_t PK = checked_mul(P, K, "--samples-per-class", "the P x K batch =");
  pk_.emplace(labels, P, K, seed, std::max<std::int64_t>(1, n_ / PK));
}

std::vector<std::vector<std::int64_t>> Sampler::batches(std::int64_t epoch) const {
  return pk_ ? pk_->batches(epoch) : loader_->batches(epoch);
}

std::int64_t Sampler::num_batches() const { return pk_ ? pk_->num_batches() : loader_->num_batches(); }

std::int64_t Sampler::samples_per_batch() const { return pk_ ? pk_->batch_size() : loader_->batch_size(); }

std::int64_t Sampler::samples_per_epoch() const {
  return pk_ ? checked_mul(pk_->num_batches(), pk_->batch_size(), "Sampler", "the samples of an epoch =") : n_;
}

}  // namespace chalk
