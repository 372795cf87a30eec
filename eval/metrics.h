// eval/metrics.h — how good is an embedding? The evaluation the papers use.
//
// Retrieval, each query against all other embeddings of the set (the query
// itself excluded), neighbours ranked by Euclidean distance (ties: lower index):
//   Precision@1  fraction of queries whose nearest neighbour has their label
//   Recall@K     fraction of queries with at least one same-label item among
//                their K nearest (K = 1, 2, 4, 8); Recall@1 = Precision@1
//   R-Precision  R = number of other items with the query's label;
//                (same-label items among the R nearest) / R
//   MAP@R        (1/R) sum_{k=1..R} P(k) rel(k), P(k) precision at k, rel(k) = 1
//                if the k-th neighbour has the label (Musgrave, Belongie, Lim,
//                "A Metric Learning Reality Check", ECCV 2020)
// Clustering:
//   NMI          2 I(labels; clusters) / (H(labels) + H(clusters)), clusters
//                from K-means with K = number of classes
// Distances are computed in blocks of queries with one GEMM each
// (||q||^2 + ||r||^2 - 2 q.r): never the whole N x N matrix at once.
//
// Every function here that takes embeddings (or points, or centroids) checks them with
// core/checks.h: a floating-point N x D tensor, N, D >= 1, every value finite; otherwise a
// chalk::Error names the function, the argument and the first non-finite value's index, e.g.
//   "nearest_centroid: centroids [10, 2]: a non-finite value (nan) in row 3, at [3, 0] (...)"
// (a NaN would otherwise lose every distance comparison and be silently ranked or assigned).
#pragma once

#include <cstdint>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace chalk {

struct RetrievalMetrics {
  double precision_at_1 = 0, recall_at_1 = 0, recall_at_2 = 0, recall_at_4 = 0, recall_at_8 = 0;
  double r_precision = 0, map_at_r = 0;
  std::int64_t queries = 0;  // queries with at least one same-label item (the others are skipped)
};

// embeddings N x D (float), labels N (int64). block = queries per GEMM (its distances: block x N
// doubles, 10 MB for 10,000 items at the default 128).
RetrievalMetrics retrieval_metrics(const Tensor& embeddings, const Tensor& labels,
                                   std::int64_t block = 128);

struct KMeansResult {
  Tensor centroids;                     // K x D (float64)
  std::vector<std::int64_t> assignment; // N, cluster of each point
  double inertia = 0;                   // sum of squared distances to the assigned centroid
  int iterations = 0;
};

// Lloyd's algorithm with k-means++ seeding from `gen`; stops when no point
// changes cluster or after max_iter. An empty cluster is re-seeded with the
// point farthest from its centroid. Runs n_init times from different seeds and
// keeps the run with the lowest inertia (one run can stop in a poor local optimum).
KMeansResult kmeans(const Tensor& x, std::int64_t k, Generator& gen, int max_iter = 100, int n_init = 1);

// Normalised mutual information of two labelings (arithmetic mean normalisation,
// scikit-learn's default). 1 = identical partitions (up to renaming), 0 = independent.
double normalized_mutual_info(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

// NMI of a K-means clustering (K = num_classes, best of 10 runs) of the embeddings against the labels.
double clustering_nmi(const Tensor& embeddings, const Tensor& labels, std::int64_t num_classes,
                      std::uint64_t seed = 0);

// Mean embedding of every class (C x D, float64); a class with no sample is an error.
Tensor class_means(const Tensor& embeddings, const Tensor& labels, std::int64_t num_classes);
// Index of the nearest row of `centroids` (Euclidean) for every embedding (N, int64).
Tensor nearest_centroid(const Tensor& embeddings, const Tensor& centroids);
// Fraction of predictions equal to labels (both int64, same length).
double accuracy(const Tensor& predictions, const Tensor& labels);

}  // namespace chalk
