// ---- exercise 11 whole file ----
// tests/exercises/mistakes_11_retrieval_metrics.cpp — wrong answers to exercise 11
// (nearest_neighbours, precision_at_1, map_at_r) that students write, and the diagnosis
// docs/exercises/11-retrieval-metrics.md promises for each. A student edition that blanks
// exercise 11 leaves this file out.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <utility>

#include "eval/metrics.h"
#include "tests/exercises/check_11_retrieval_metrics.h"

using namespace chalk;
using namespace chalk::checker;

namespace {

using Pairs = std::vector<std::pair<double, std::int64_t>>;

// every item, the query included, ranked by (distance, index)
Pairs all_ranked(std::span<const double> d) {
  Pairs order;
  for (std::size_t j = 0; j < d.size(); ++j) order.push_back({d[j], static_cast<std::int64_t>(j)});
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<std::int64_t> indices(const Pairs& p, std::size_t from, std::int64_t k) {
  std::vector<std::int64_t> out;
  for (std::size_t i = from; i < from + static_cast<std::size_t>(k); ++i) out.push_back(p[i].second);
  return out;
}

Verdict with_ranking(const NearestNeighbours& nn) { return check_11(nn, chalk::precision_at_1, chalk::map_at_r); }
Verdict with_metrics(const PrecisionAt1& p1, const MapAtR& map) { return check_11(chalk::nearest_neighbours, p1, map); }

}  // namespace

// the query never left out: it is its own nearest neighbour
TEST(Exercise11Checker, RecognisesTheQueryAmongItsOwnNeighbours) {
  const Verdict v = with_ranking([](std::span<const double> d, std::int64_t, std::int64_t k) {
    return indices(all_ranked(d), 0, k);
  });
  EXPECT_EQ(v.kind, "query-included") << v.text;
  EXPECT_NE(v.text.find("the query itself is among its own neighbours"), std::string::npos) << v.text;
}

// k + 1 neighbours with the first dropped, "which is the query" (pytorch-metric-learning's k-NN
// did this once): wrong where a duplicate of the query ranks before it
TEST(Exercise11Checker, RecognisesDroppingTheNearestInsteadOfTheQuery) {
  const Verdict v = with_ranking([](std::span<const double> d, std::int64_t, std::int64_t k) {
    return indices(all_ranked(d), 1, k);
  });
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("you dropped the nearest item instead of the query"), std::string::npos) << v.text;
}

// equal distances in whatever order a heap leaves them: std::partial_sort by distance alone
TEST(Exercise11Checker, RecognisesTiesNotRankedByIndex) {
  const Verdict v = with_ranking([](std::span<const double> d, std::int64_t query, std::int64_t k) {
    std::vector<std::int64_t> j(d.size());
    std::iota(j.begin(), j.end(), 0);
    j.erase(j.begin() + query);
    std::partial_sort(j.begin(), j.begin() + k, j.end(), [&](std::int64_t a, std::int64_t b) { return d[a] < d[b]; });
    j.resize(static_cast<std::size_t>(k));
    return j;
  });
  EXPECT_EQ(v.kind, "special") << v.text;
  EXPECT_NE(v.text.find("equal distances: the lower index ranks first"), std::string::npos) << v.text;
}

// MAP@R divided by the relevant items found instead of by R
TEST(Exercise11Checker, RecognisesMapDividedByTheHits) {
  const Verdict v = with_metrics(chalk::precision_at_1, [](std::span<const std::int64_t> labels, std::int64_t y,
                                                           std::int64_t R) {
    double hits = 0, sum = 0;
    for (std::int64_t k = 0; k < R; ++k)
      if (labels[k] == y) sum += ++hits / static_cast<double>(k + 1);
    return sum / hits;
  });
  EXPECT_EQ(v.kind, "divided-by-hits") << v.text;
  EXPECT_NE(v.text.find("not by R"), std::string::npos) << v.text;
}

// the formula's 1-based rank k used as the index: rank 1 read at ranked_labels[1]
TEST(Exercise11Checker, RecognisesRanksOffByOne) {
  const Verdict v = with_metrics(
      [](std::span<const std::int64_t> labels, std::int64_t y) { return labels[1] == y ? 1.0 : 0.0; },
      [](std::span<const std::int64_t> labels, std::int64_t y, std::int64_t R) {
        double hits = 0, sum = 0;
        for (std::int64_t k = 1; k <= R; ++k)
          if (labels[k] == y) sum += ++hits / static_cast<double>(k);
        return sum / static_cast<double>(R);
      });
  EXPECT_EQ(v.kind, "off-by-one") << v.text;
  EXPECT_NE(v.text.find("without its first neighbour"), std::string::npos) << v.text;
}

// P(k) = hits / k with the index k counted from 0
TEST(Exercise11Checker, RecognisesPrecisionAtARankCountedFromZero) {
  const Verdict v = with_metrics(chalk::precision_at_1, [](std::span<const std::int64_t> labels, std::int64_t y,
                                                           std::int64_t R) {
    double hits = 0, sum = 0;
    for (std::int64_t k = 0; k < R; ++k)
      if (labels[k] == y) sum += ++hits / static_cast<double>(k);
    return sum / static_cast<double>(R);
  });
  EXPECT_EQ(v.kind, "off-by-one") << v.text;
  EXPECT_NE(v.text.find("a division by the rank counted from 0?"), std::string::npos) << v.text;
}
