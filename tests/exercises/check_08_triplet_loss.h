// tests/exercises/check_08_triplet_loss.h — exercise 08's check: the triplet margin loss's VJP
// and batch-hard mining (docs/exercises/08-triplet-loss.md).
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "losses/triplet.h"
#include "tests/exercises/checker.h"

namespace chalk::checker {

// batch_hard_pair(anchor, distances, labels): the anchor's hardest positive and negative.
using BatchHardPair =
    std::function<HardestPair(std::int64_t anchor, std::span<const double> distances, std::span<const std::int64_t> labels)>;
// triplet_margin_vjp(a, p, n, t, margin, eps, w, da, dp, dn): adds one triplet's gradients.
using TripletMarginVjp =
    std::function<void(std::span<const double> a, std::span<const double> p, std::span<const double> n,
                       const TripletDistances& t, double margin, double eps, double w, std::span<double> da,
                       std::span<double> dp, std::span<double> dn)>;

// The VJP's truth is central differences of triplet_margin_loss_composed's forward (reduction
// "none", float64) on fixed triplets, weighted by a random upstream gradient per triplet: with
// and without swap, active and inactive triplets, an anchor on its positive with a large eps, and
// a triplet exactly at the hinge's edge (there: the gradient with the margin nudged up, PyTorch's
// clamp_min passing slope 1). The mining's truth is hand-worked: points on a line with their
// hardest pairs written out, ties, coinciding points, a one-sample class and a one-class batch.
Verdict check_08(const BatchHardPair& batch_hard_pair, const TripletMarginVjp& triplet_margin_vjp);

}  // namespace chalk::checker
