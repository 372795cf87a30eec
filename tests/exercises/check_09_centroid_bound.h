// tests/exercises/check_09_centroid_bound.h — exercise 09's check: the centroid bound's linear
// form and its VJP (docs/exercises/09-centroid-bound.md).
#pragma once

#include <functional>

#include "losses/centroid.h"
#include "tests/exercises/checker.h"

namespace chalk::checker {

// centroid_bound_rows(dists, labels): L_d's linear form, one value per sample.
using CentroidBoundRows = std::function<Tensor(const Tensor& dists, const Tensor& labels)>;
// centroid_bound_loss_vjp(x, labels, centroids, dists, g): dJ/dx of the training loss.
using CentroidBoundVjp = std::function<Tensor(const Tensor& x, const Tensor& labels, const Tensor& centroids,
                                              const Tensor& dists, double g)>;

// The rows' truth is L_d from its definition: the check loops over every triplet (i, j, k) of the
// batch and adds each term of l_d(i, j, k) to the row of the sample it measures (cubic, plain
// loops). Cases: balanced and unbalanced batches, a table with only the own-centroid distances
// and one with only the others (every sample on its centroid), a class of one sample and a
// centroid with no sample in the batch. The VJP's truth is central differences (float64, the
// checker's own) of centroid_bound_loss's forward times g: random samples and centroids, every
// sample on its own centroid (the kink: only the push term is left), a sample on another class's
// centroid, and float32.
Verdict check_09(const CentroidBoundRows& centroid_bound_rows, const CentroidBoundVjp& centroid_bound_loss_vjp);

}  // namespace chalk::checker
