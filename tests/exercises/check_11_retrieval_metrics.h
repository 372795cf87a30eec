// tests/exercises/check_11_retrieval_metrics.h — exercise 11's check: a query's neighbours
// ranked, and Precision@1 and MAP@R from their labels (docs/exercises/11-retrieval-metrics.md).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "tests/exercises/checker.h"

namespace chalk::checker {

// nearest_neighbours(distances, query, k): the k nearest items other than the query, nearest
// first, ties by the lower index (eval/metrics.h)
using NearestNeighbours =
    std::function<std::vector<std::int64_t>(std::span<const double> distances, std::int64_t query, std::int64_t k)>;
// precision_at_1(ranked_labels, query_label)
using PrecisionAt1 = std::function<double(std::span<const std::int64_t> ranked_labels, std::int64_t query_label)>;
// map_at_r(ranked_labels, query_label, R)
using MapAtR =
    std::function<double(std::span<const std::int64_t> ranked_labels, std::int64_t query_label, std::int64_t R)>;

// Every truth is hand-worked and written out in check_11_retrieval_metrics.cpp (the MAP@R values
// are also what pytorch-metric-learning's AccuracyCalculator formula gives for the same ranked
// labels); nothing is ranked or averaged here by a second implementation. Cases: rankings with
// distinct distances (the query's own entry the smallest, as retrieval_metrics passes it);
// Precision@1 and MAP@R of ranked label lists for R = 1, 3, 5; special: ties in distance (also
// across the k-th place), a duplicate of the query at its own distance, and two small sets ranked
// and scored end to end with your three functions (a tie and a class of one item, R = 0, which
// retrieval_metrics leaves out; duplicates of each query with the other label).
Verdict check_11(const NearestNeighbours& nearest_neighbours, const PrecisionAt1& precision_at_1,
                 const MapAtR& map_at_r);

}  // namespace chalk::checker
