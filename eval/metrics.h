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
#include <span>
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
// doubles, 10 MB for 10,000 items at the default 128). A query whose label no other item has
// (R = 0) counts in no metric, as in pytorch-metric-learning's AccuracyCalculator ("lone"
// queries); `queries` says how many were counted. Built from the per-query functions below.
// docs/metrics.md: the definitions and a worked example.
RetrievalMetrics retrieval_metrics(const Tensor& embeddings, const Tensor& labels,
                                   std::int64_t block = 128);

// ---- one query: its neighbours ranked, and each metric from their labels ----
// (docs/metrics.md; exercise 11, docs/exercises/11-retrieval-metrics.md, writes the first three)

// The k nearest neighbours of item `query`: the indices j != query, ordered by distances[j],
// nearest first, equal distances by the lower index. distances: one value per item of the set
// (N values), the query's own entry included and ignored; any values ordered as the distances
// are (retrieval_metrics passes ||r_j||^2 - 2 q . r_j, the squared distance less ||q||^2, so an
// exact duplicate of the query ties with it). Returns k indices, k in [0, N - 1]. Throws
// chalk::Error for a query outside [0, N), k outside [0, N - 1], or a NaN distance (naming its
// index). The query is excluded by its index, like pytorch-metric-learning's k-NN with
// ref_includes_query (not by dropping the first neighbour, which may be a duplicate of it).
std::vector<std::int64_t> nearest_neighbours(std::span<const double> distances, std::int64_t query,
                                             std::int64_t k);

// Precision@1 of one query: 1 if its nearest neighbour has the query's label, else 0.
// ranked_labels: the labels of its neighbours, nearest first (at least one). Throws chalk::Error
// for an empty list. pytorch-metric-learning's precision_at_1, one query.
double precision_at_1(std::span<const std::int64_t> ranked_labels, std::int64_t query_label);

// MAP@R of one query (Musgrave, Belongie, Lim 2020):
//   MAP@R = (1/R) sum_{k=1..R} P(k) rel(k),   rel(k) = 1 if the k-th neighbour has the label,
//   P(k) = (number of relevant neighbours among the first k) / k,
// R = the number of OTHER items with the query's label. ranked_labels: nearest first, at least R.
// Throws chalk::Error for R < 1 (a query alone in its class has no MAP@R: retrieval_metrics
// skips it) or fewer than R labels. pytorch-metric-learning's mean_average_precision_at_r.
double map_at_r(std::span<const std::int64_t> ranked_labels, std::int64_t query_label, std::int64_t R);

// R-Precision of one query: (relevant neighbours among the first R) / R. Throws as map_at_r.
double r_precision(std::span<const std::int64_t> ranked_labels, std::int64_t query_label, std::int64_t R);

// Recall@K of one query: 1 if any of its first min(K, size) neighbours has its label, else 0
// (the "Recall@K" of the metric-learning papers, not a fraction of the class). K >= 1; throws
// chalk::Error for K < 1 or an empty list.
double recall_at_k(std::span<const std::int64_t> ranked_labels, std::int64_t query_label, std::int64_t K);

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
