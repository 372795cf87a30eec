// losses/triplet.h — the triplet loss: explicit triplets (PyTorch's TripletMarginLoss) and
// in-batch mining (batch-all, batch-hard, semi-hard).
// Derivation: docs/losses/triplet.md.  Tests: tests/test_loss_triplet.cpp.
//
// For an anchor a, a positive p (same label) and a negative n (another label):
//     l(a, p, n) = max(0, d(a, p) - d(a, n) + alpha)          (hinge, margin alpha)
//     l(a, p, n) = log(1 + exp(d(a, p) - d(a, n)))            (soft margin)
// "Mining" decides which (a, p, n) of a batch enter the loss.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "losses/loss.h"

namespace chalk {

// ---- explicit triplets: exactly PyTorch's TripletMarginLoss(margin, p=2, eps, swap, reduction) ----
// a, p, n: N x D. d(u, v) = ||u - v + eps||_2 (eps is added to the difference vector, as PyTorch
// does). swap: d(a, n) := min(d(a, n), d(p, n)). reduction: "mean" | "sum" | "none" (N values).
// Throws chalk::Error naming the argument ("anchor", "positive", "negative") when one is not a
// floating-point N x D tensor or holds a non-finite value (with the index of the first, e.g.
// "triplet_margin_loss: positive [4, 3]: a non-finite value (nan) in row 2, at [2, 1]"), when
// the shapes or dtypes differ, the margin is negative or not finite, eps is not finite, or the
// reduction is unknown. Source: torch.nn.functional.triplet_margin_loss (PyTorch 1.13).
// A fused op with the hand-derived VJP ...
Tensor triplet_margin_loss(const Tensor& a, const Tensor& p, const Tensor& n, double margin = 1.0,
                           double eps = 1e-6, bool swap = false, const std::string& reduction = "mean");
// ... and its twin composed from autograd ops.
Tensor triplet_margin_loss_composed(const Tensor& a, const Tensor& p, const Tensor& n, double margin = 1.0,
                                    double eps = 1e-6, bool swap = false, const std::string& reduction = "mean");

// ---- the explicit loss, one triplet at a time (what triplet_margin_loss runs on each row) ----
// One triplet's distances, as triplet_margin_loss's forward computes and keeps them for its VJP,
// with d(u, v) = ||u - v + eps 1||_2 (in float64, whatever the rows' dtype):
struct TripletDistances {
  double d_ap = 0;       // d(a, p)
  double d_an = 0;       // the negative distance the loss uses: d(a, n), or d(p, n) when swapped
  bool swapped = false;  // swap was asked for and d(p, n) < d(a, n) strictly (a tie keeps d(a, n))
};
// a, p, n: one row each, D values (float32 or float64). Throws chalk::Error when the rows differ
// in length. Source: torch.nn.functional.pairwise_distance(x1, x2, p=2, eps) as
// torch.nn.functional.triplet_margin_loss calls it (PyTorch 1.13), and its swap (Balntas et al.,
// BMVC 2016).
template <class T>
TripletDistances triplet_distances(std::span<const T> a, std::span<const T> p, std::span<const T> n, double eps,
                                   bool swap);
// The VJP of one triplet's loss l = max(0, d_ap - d_an + margin) for the upstream weight
// w = dL/dl (1/N of the upstream gradient for "mean", all of it for "sum", its own entry for
// "none"): adds dL/da, dL/dp, dL/dn to da, dp, dn (D values each, the rows' dtype; the caller
// passes them zero-filled). t: triplet_distances of the same rows with the same eps and swap.
// An inactive triplet (d_ap - d_an + margin < 0) adds nothing; at the edge (= 0) the slope is 1,
// as PyTorch's clamp_min passes it; a distance of exactly 0 (possible only with eps = 0) sends
// nothing from its term. The gradients are in units of w per unit of embedding.
// Throws chalk::Error when the six rows differ in length. Source: the backward of
// torch.nn.functional.triplet_margin_loss (p = 2, PyTorch 1.13); derivation:
// docs/losses/triplet.md §2 and §5; exercise 08 (docs/exercises/08-triplet-loss.md).
template <class T>
void triplet_margin_vjp(std::span<const T> a, std::span<const T> p, std::span<const T> n, const TripletDistances& t,
                        double margin, double eps, double w, std::span<T> da, std::span<T> dp, std::span<T> dn);

// ---- in-batch mining ----
// Batch-hard mining for one anchor (Hermans, Beyer, Leibe 2017, "batch hard"): on the anchor's
// row of the N x N distance matrix, distances[j] = D(anchor, j) (N values, any unit), and the
// batch's labels (N, int64), the hardest positive is the farthest sample of the anchor's class
// other than the anchor itself, and the hardest negative the nearest sample of another class.
// Ties go to the lowest index (as chalk's max and min). -1 where there is none: a class of one
// sample gives its anchor no positive, a batch of one class gives no negative.
// Throws chalk::Error when distances and labels differ in length or the anchor is outside
// [0, N). Exercise 08 (docs/exercises/08-triplet-loss.md); derivation: docs/losses/triplet.md §7.
struct HardestPair {
  std::int64_t positive = -1, negative = -1;  // sample indices in the batch
};
template <class T>
HardestPair batch_hard_pair(std::int64_t anchor, std::span<const T> distances, std::span<const std::int64_t> labels);

// How a batch is mined and scored: batch_triplet_loss's settings, and --loss triplet's options
// with their defaults (the one place they are written; triplet_options() names them for
// chalk-train, config.json and the docs).
struct TripletMining {
  std::string mining = "hard";        // all | hard | semihard
  std::string distance = "euclidean"; // euclidean | squared | cosine (1 - cos)
  double margin = 0.2;                // alpha (unused with soft_margin)
  bool soft_margin = false;           // softplus(d_ap - d_an) instead of the hinge
  std::optional<std::string> reduction;  // all: nonzero | mean | sum;  hard, semihard: mean | sum;
                                         // unset: nonzero for all, mean for hard and semihard
  bool normalize = true;              // L2-normalise the embeddings first
};

struct TripletStats {
  std::int64_t triplets = 0;         // triplets that entered the loss
  std::int64_t active = 0;           // ... with a positive loss
  std::int64_t skipped_anchors = 0;  // anchors with no positive or no negative in the batch
};

// The distance matrix the mining works on (N x N), from embeddings e (already normalised if asked).
// Throws chalk::Error when e is not a floating-point N x D tensor of finite values (naming the
// first non-finite one) or the distance is unknown.
Tensor triplet_distance_matrix(const Tensor& e, const std::string& distance);

// The loss of a batch: embeddings N x D, labels N (int64 >= 0). One fused op (after the optional
// normalisation): the distance matrix is computed once, each anchor's row is mined, and the
// hand-derived VJP puts +slope on each mined D_ap and -slope on each mined D_an (slope = the
// hinge's 0/1 or the softplus' sigmoid, times the reduction's 1/count), then carries that N x N
// matrix to the embeddings with one GEMM. O(N^2 D + N K N); OpenMP over anchors, deterministic.
Tensor batch_triplet_loss(const Tensor& embeddings, const Tensor& labels, const TripletMining& options,
                          TripletStats* stats = nullptr);
// The same loss composed only from autograd ops (the distance ops, masks, max/min, where, relu or
// softplus, sums; batch-all and semi-hard one anchor row at a time): the twin the tests compare
// the hand-derived VJP against.
Tensor batch_triplet_loss_composed(const Tensor& embeddings, const Tensor& labels, const TripletMining& options);

// ---- the Loss for chalk-train: --loss triplet [--mining all|hard|semihard --distance ... --margin ...] ----
// Its options are TripletMining's members, named by this table (losses/triplet.cpp) ...
const OptionTable<TripletMining>& triplet_options();
// ... and its LossEntry, with its TrainingDefaults (losses/registry.cpp lists it).
LossEntry triplet_entry();

class TripletLoss : public Loss {
 public:
  explicit TripletLoss(const LossOptions& options);
  Tensor forward(const Tensor& embeddings, const Tensor& labels) override;
  bool wants_pk_batches() const override { return true; }
  Tensor metric_embedding(const Tensor& embeddings) override;
  bool scale_invariant() const override { return mining_.normalize || mining_.distance == "cosine"; }
  std::string name() const override;
  const TripletStats& last_stats() const { return stats_; }
  const TripletMining& mining() const { return mining_; }

 private:
  TripletMining mining_;
  TripletStats stats_;
};

}  // namespace chalk
