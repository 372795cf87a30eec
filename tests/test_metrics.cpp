// Tests for eval/metrics.h: retrieval metrics, K-means, NMI, class means.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "core/random.h"
#include "eval/metrics.h"
#include "tests/test_util.h"

using namespace chalk;
using chalk::test_util::expect_error;

namespace {

// The definitions, written the slow obvious way: full sort of every row.
RetrievalMetrics naive_metrics(const std::vector<double>& x, std::int64_t d, const std::vector<std::int64_t>& y) {
  const std::int64_t n = static_cast<std::int64_t>(y.size());
  RetrievalMetrics m;
  for (std::int64_t q = 0; q < n; ++q) {
    std::vector<std::pair<double, std::int64_t>> others;
    for (std::int64_t j = 0; j < n; ++j) {
      if (j == q) continue;
      double s = 0;
      for (std::int64_t t = 0; t < d; ++t) s += (x[q * d + t] - x[j * d + t]) * (x[q * d + t] - x[j * d + t]);
      others.push_back({s, j});
    }
    std::sort(others.begin(), others.end());
    std::int64_t R = 0;
    for (auto& o : others) R += y[o.second] == y[q];
    if (R == 0) continue;
    ++m.queries;
    auto rel = [&](std::int64_t k) { return y[others[k].second] == y[q]; };
    auto any_in = [&](std::int64_t K) {
      for (std::int64_t k = 0; k < std::min<std::int64_t>(K, n - 1); ++k) if (rel(k)) return 1.0;
      return 0.0;
    };
    m.precision_at_1 += any_in(1);
    m.recall_at_2 += any_in(2);
    m.recall_at_4 += any_in(4);
    m.recall_at_8 += any_in(8);
    double hits = 0, ap = 0;
    for (std::int64_t k = 0; k < R; ++k)
      if (rel(k)) ++hits, ap += hits / (k + 1);
    m.r_precision += hits / R;
    m.map_at_r += ap / R;
  }
  const double q = static_cast<double>(m.queries);
  m.precision_at_1 /= q, m.recall_at_2 /= q, m.recall_at_4 /= q, m.recall_at_8 /= q;
  m.r_precision /= q, m.map_at_r /= q;
  m.recall_at_1 = m.precision_at_1;
  return m;
}

}  // namespace

TEST(Retrieval, HandComputedMapAtR) {
  // query 0 at 0 (label 0); its neighbours in order: 1 (label 0), 2 (label 1), 3 (label 0).
  // R = 2: MAP@R = (P(1) * 1 + P(2) * 0) / 2 = 0.5, R-Precision = 1/2.
  const Tensor x = from_vector(std::vector<double>{0, 1, 2, 3}, {4, 1});
  const Tensor y = from_vector(std::vector<std::int64_t>{0, 0, 1, 0}, {4});
  const RetrievalMetrics all = retrieval_metrics(x, y);
  // query 3 (label 1) has no other item of its label: skipped
  EXPECT_EQ(all.queries, 3);
  const RetrievalMetrics ref = naive_metrics({0, 1, 2, 3}, 1, {0, 0, 1, 0});
  EXPECT_DOUBLE_EQ(all.map_at_r, ref.map_at_r);
  // per query: q0: MAP 0.5 RP 0.5 P1 1; q1 (at 1): neighbours 0(l0) d1, 2(l1) d1 -> tie, lower index first;
  // R = 2: [rel, non] -> MAP 0.5, RP 0.5, P1 1; q3 (at 3, label 0): 2 (l1), 1 (l0), 0 (l0): R=2 ->
  // [non, rel] -> MAP (0 + 1/2)/2 = 0.25, RP 0.5, P1 0.
  EXPECT_NEAR(all.map_at_r, (0.5 + 0.5 + 0.25) / 3, 1e-12);
  EXPECT_NEAR(all.r_precision, 0.5, 1e-12);
  EXPECT_NEAR(all.precision_at_1, 2.0 / 3, 1e-12);
  EXPECT_NEAR(all.recall_at_2, 1.0, 1e-12);
}

// The per-query pieces (docs/metrics.md). A query's own entry is left out by its index: an
// exact duplicate of it (index 0 here, at the query's own distance) is a neighbour like any other,
// and ranks first by the lower index.
TEST(RetrievalPerQuery, NearestNeighboursLeaveOutTheQueryByIndexAndRankTiesByIndex) {
  using V = std::vector<std::int64_t>;
  const std::vector<double> d = {0.9, 0.3, 0.0, 0.5, 0.1, 0.7};
  EXPECT_EQ(nearest_neighbours(d, 2, 5), (V{4, 1, 3, 5, 0}));
  EXPECT_EQ(nearest_neighbours(d, 2, 2), (V{4, 1}));
  EXPECT_EQ(nearest_neighbours(d, 2, 0), V{});
  // the query's own value is ignored, whatever it is
  EXPECT_EQ(nearest_neighbours(std::vector<double>{2.5, 0.4, 3.1, 9.0, 1.7, 0.9, 5.0}, 3, 3), (V{1, 5, 4}));
  // ties: the lower index first, also across the k-th place
  const std::vector<double> tied = {0.5, 0.2, 0.0, 0.2, 0.5, 0.1};
  EXPECT_EQ(nearest_neighbours(tied, 2, 5), (V{5, 1, 3, 0, 4}));
  EXPECT_EQ(nearest_neighbours(tied, 2, 2), (V{5, 1}));
  EXPECT_EQ(nearest_neighbours(tied, 2, 4), (V{5, 1, 3, 0}));
  // a duplicate of the query (index 0) at the query's own distance
  EXPECT_EQ(nearest_neighbours(std::vector<double>{0.0, 0.3, 0.0, 0.6}, 2, 3), (V{0, 1, 3}));
  // -0.0 and 0.0 are one distance: the lower index first
  EXPECT_EQ(nearest_neighbours(std::vector<double>{1.0, 0.0, -0.0, 0.0}, 0, 3), (V{1, 2, 3}));
}

// Hand-worked, and the same numbers as pytorch-metric-learning's mean_average_precision_at_r
// (its array formula: cumsum of the hits / rank, masked to the first R, summed, divided by R).
// Label 3 is the query's.
TEST(RetrievalPerQuery, HandWorkedPrecisionAtOneAndMapAtR) {
  using V = std::vector<std::int64_t>;
  // [3 0 3 0 0 3 0 0], R = 3: hits at ranks 1 and 3: (1/1 + 2/3) / 3 = 5/9
  EXPECT_NEAR(map_at_r(V{3, 0, 3, 0, 0, 3, 0, 0}, 3, 3), 5.0 / 9, 1e-15);
  EXPECT_EQ(precision_at_1(V{3, 0, 3, 0, 0, 3, 0, 0}, 3), 1.0);
  // [0 3 0 ...], R = 3: one hit at rank 2: (1/2) / 3, not (1/2) / 1 (divided by R, not by the hits)
  EXPECT_NEAR(map_at_r(V{0, 3, 0, 0, 3, 0, 0}, 3, 3), 1.0 / 6, 1e-15);
  EXPECT_EQ(precision_at_1(V{0, 3, 0, 0, 3, 0, 0}, 3), 0.0);
  // only the first R count: the hit at rank 4 does not
  EXPECT_NEAR(map_at_r(V{0, 0, 3, 3}, 3, 3), 1.0 / 9, 1e-15);
  // R = 5 (a class of six): [3 3 0 3 0 | 0 3 3 0]: (1 + 1 + 3/4) / 5 = 0.55
  EXPECT_NEAR(map_at_r(V{3, 3, 0, 3, 0, 0, 3, 3, 0}, 3, 5), 0.55, 1e-15);
  EXPECT_NEAR(r_precision(V{3, 3, 0, 3, 0, 0, 3, 3, 0}, 3, 5), 0.6, 1e-15);
  // R = 1 (a class of two): MAP@R = Precision@1
  EXPECT_EQ(map_at_r(V{3, 0}, 3, 1), 1.0);
  EXPECT_EQ(map_at_r(V{0, 3}, 3, 1), 0.0);
  EXPECT_EQ(map_at_r(V{3, 3, 3, 0}, 3, 3), 1.0);
  EXPECT_EQ(map_at_r(V{0, 0, 0, 3}, 3, 3), 0.0);
  // Recall@K: any hit among the first K, and the whole list when it is shorter than K
  EXPECT_EQ(recall_at_k(V{0, 0, 3}, 3, 2), 0.0);
  EXPECT_EQ(recall_at_k(V{0, 0, 3}, 3, 4), 1.0);
  EXPECT_EQ(recall_at_k(V{0, 0, 3}, 3, 8), 1.0);
}

TEST(RetrievalPerQuery, BadArgumentsNameTheProblem) {
  using V = std::vector<std::int64_t>;
  const std::vector<double> d = {0.1, 0.2, 0.3};
  expect_error([&] { nearest_neighbours(d, 3, 1); }, {"nearest_neighbours", "query 3", "3 given"});
  expect_error([&] { nearest_neighbours(d, -1, 1); }, {"nearest_neighbours", "query -1"});
  expect_error([&] { nearest_neighbours(d, 0, 3); }, {"nearest_neighbours", "k = 3", "2 other items"});
  expect_error([&] { nearest_neighbours(d, 0, -1); }, {"nearest_neighbours", "k = -1"});
  expect_error([&] { nearest_neighbours(std::vector<double>{0.1, NAN, 0.3}, 0, 2); },
               {"nearest_neighbours", "item 1 is nan"});
  expect_error([&] { precision_at_1(V{}, 3); }, {"precision_at_1", "no neighbour"});
  // R = 0: the query is alone in its class; retrieval_metrics leaves it out (pytorch-metric-learning's lone query)
  expect_error([&] { map_at_r(V{0, 1}, 3, 0); }, {"map_at_r", "R = 0", "no other item of its label"});
  expect_error([&] { map_at_r(V{3, 1}, 3, 3); }, {"map_at_r", "2 neighbours ranked, R = 3"});
  expect_error([&] { r_precision(V{0, 1}, 3, 0); }, {"r_precision", "R = 0"});
  expect_error([&] { recall_at_k(V{0, 1}, 3, 0); }, {"recall_at_k", "K must be >= 1"});
  expect_error([&] { recall_at_k(V{}, 3, 1); }, {"recall_at_k", "no neighbour"});
}

// A duplicate of the query with another label is its nearest neighbour, not the query itself:
// dropping the first-ranked item instead of the query (what taking k + 1 neighbours and
// discarding the first does) would count the query as its own match. Points 0, 0, 1, 1 with
// labels 0, 1, 0, 1: every query's nearest is the other label's duplicate.
TEST(Retrieval, ADuplicateOfTheQueryIsItsNeighbourAndTheQueryIsNot) {
  const Tensor x = from_vector(std::vector<double>{0, 0, 1, 1}, {4, 1});
  const Tensor y = from_vector(std::vector<std::int64_t>{0, 1, 0, 1}, {4});
  const RetrievalMetrics m = retrieval_metrics(x, y);
  EXPECT_EQ(m.queries, 4);
  EXPECT_EQ(m.precision_at_1, 0.0);
  EXPECT_EQ(m.map_at_r, 0.0);  // R = 1: the one same-label item is at rank 2 or 3
  EXPECT_EQ(m.recall_at_2, 0.5);  // queries 0 and 2 find their label at rank 2, queries 1 and 3 at rank 3
}

// docs/metrics.md §3, every number: seven items on a line, labels A A A B B A C (item 6 alone).
TEST(Retrieval, WorkedExampleOfTheMetricsPage) {
  const std::vector<double> xs = {0, 1, 2, 3, 4, 5, 9};
  const std::vector<std::int64_t> ys = {0, 0, 0, 1, 1, 0, 2};
  // query 2: the ranking 1, 3, 0, 4, 5, 6 (two ties, each to the lower index), labels A B A B A C
  std::vector<double> d;
  for (double x : xs) d.push_back((2 - x) * (2 - x));
  EXPECT_EQ(nearest_neighbours(d, 2, 6), (std::vector<std::int64_t>{1, 3, 0, 4, 5, 6}));
  const std::vector<std::int64_t> ranked = {0, 1, 0, 1, 0, 2};
  EXPECT_EQ(precision_at_1(ranked, 0), 1.0);
  EXPECT_EQ(recall_at_k(ranked, 0, 8), 1.0);
  EXPECT_NEAR(r_precision(ranked, 0, 3), 2.0 / 3, 1e-15);
  EXPECT_NEAR(map_at_r(ranked, 0, 3), 5.0 / 9, 1e-15);
  // query 3's tie: items 2 (A) and 4 (B) at distance 1, the A first
  d.clear();
  for (double x : xs) d.push_back((3 - x) * (3 - x));
  EXPECT_EQ(nearest_neighbours(d, 3, 2), (std::vector<std::int64_t>{2, 4}));
  // the whole set: item 6 left out, six queries
  const Tensor x = from_vector(xs, {7, 1});
  const Tensor y = from_vector(ys, {7});
  const RetrievalMetrics m = retrieval_metrics(x, y);
  EXPECT_EQ(m.queries, 6);
  EXPECT_NEAR(m.precision_at_1, 2.0 / 3, 1e-15);
  EXPECT_NEAR(m.recall_at_2, 5.0 / 6, 1e-15);
  EXPECT_EQ(m.recall_at_4, 1.0);
  EXPECT_EQ(m.recall_at_8, 1.0);
  EXPECT_NEAR(m.r_precision, 5.0 / 9, 1e-15);
  EXPECT_NEAR(m.map_at_r, 0.5, 1e-15);
  // NMI of the labels against K-means' clusters {0, 1, 2}, {3, 4, 5}, {9}
  const double want = 0.6968654968492931;
  EXPECT_NEAR(normalized_mutual_info(ys, {0, 0, 0, 1, 1, 1, 2}), want, 1e-12);
  EXPECT_NEAR(clustering_nmi(x, y, 3), want, 1e-12);
  Generator gen(0);
  EXPECT_NEAR(kmeans(x, 3, gen, 100, 10).inertia, 4.0, 1e-12);
}

TEST(Retrieval, PerfectClustersScoreOne) {
  const Tensor x = from_vector(std::vector<double>{0, 1, 10, 11, 12}, {5, 1});
  const Tensor y = from_vector(std::vector<std::int64_t>{0, 0, 1, 1, 1}, {5});
  const RetrievalMetrics m = retrieval_metrics(x, y);
  EXPECT_DOUBLE_EQ(m.precision_at_1, 1);
  EXPECT_DOUBLE_EQ(m.r_precision, 1);
  EXPECT_DOUBLE_EQ(m.map_at_r, 1);
  EXPECT_DOUBLE_EQ(m.recall_at_8, 1);
}

TEST(Retrieval, MatchesNaiveDefinitionAcrossBlocks) {
  manual_seed(3);
  const std::int64_t n = 203, d = 5;
  const Tensor x = randn({n, d}, DType::Float64);
  const Tensor y = randint(0, 7, {n});
  const RetrievalMetrics ref = naive_metrics(x.to_vector<double>(), d, y.to_vector<std::int64_t>());
  for (std::int64_t block : {1, 17, 64, 512}) {
    const RetrievalMetrics m = retrieval_metrics(x, y, block);
    EXPECT_EQ(m.queries, ref.queries);
    EXPECT_NEAR(m.precision_at_1, ref.precision_at_1, 1e-12) << "block " << block;
    EXPECT_NEAR(m.recall_at_2, ref.recall_at_2, 1e-12);
    EXPECT_NEAR(m.recall_at_4, ref.recall_at_4, 1e-12);
    EXPECT_NEAR(m.recall_at_8, ref.recall_at_8, 1e-12);
    EXPECT_NEAR(m.r_precision, ref.r_precision, 1e-12);
    EXPECT_NEAR(m.map_at_r, ref.map_at_r, 1e-12);
  }
  // float32 input gives the same ranking here
  const RetrievalMetrics f = retrieval_metrics(x.to(DType::Float32), y);
  EXPECT_NEAR(f.map_at_r, ref.map_at_r, 1e-3);
}

TEST(Retrieval, BadInputNamesTheProblem) {
  const Tensor x = zeros({4, 2});
  try {
    retrieval_metrics(x, zeros({4}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("int64 labels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(retrieval_metrics(zeros({4}), arange(4)), Error);
}

TEST(NMI, IdenticalPermutedAndIndependent) {
  EXPECT_NEAR(normalized_mutual_info({0, 0, 1, 1, 2, 2}, {0, 0, 1, 1, 2, 2}), 1.0, 1e-12);
  EXPECT_NEAR(normalized_mutual_info({0, 0, 1, 1, 2, 2}, {2, 2, 0, 0, 1, 1}), 1.0, 1e-12);
  EXPECT_NEAR(normalized_mutual_info({0, 0, 1, 1}, {0, 1, 0, 1}), 0.0, 1e-12);
  // a value computed by hand: a = {0,0,0,1}, b = {0,0,1,1}
  // I = 0.5 log(0.5/(0.75*0.5)) + 0.25 log(0.25/(0.75*0.5)) + 0.25 log(0.25/(0.25*0.5))
  const double I = 0.5 * std::log(0.5 / 0.375) + 0.25 * std::log(0.25 / 0.375) + 0.25 * std::log(2.0);
  const double Ha = -(0.75 * std::log(0.75) + 0.25 * std::log(0.25)), Hb = std::log(2.0);
  EXPECT_NEAR(normalized_mutual_info({0, 0, 0, 1}, {0, 0, 1, 1}), 2 * I / (Ha + Hb), 1e-12);
  EXPECT_THROW(normalized_mutual_info({0, 1}, {0}), Error);
}

// Tables were sized from label values: NMI's joint table had (max a + 1) x (max b + 1) cells
// (labels 2^32 overflowed it), retrieval's count table max label + 1 entries. Only the grouping
// matters to both, so relabelled copies must give the same numbers.
TEST(NMI, LargeLabelValuesGiveTheSameScoreAsSmallOnes) {
  const std::int64_t big = std::int64_t{1} << 40;
  const std::vector<std::int64_t> a{0, 0, 1, 1, 2, 2, 2}, b{1, 0, 1, 1, 0, 2, 2};
  std::vector<std::int64_t> a_big, b_big;
  for (auto v : a) a_big.push_back(v * big);
  for (auto v : b) b_big.push_back(INT64_MAX - 2 + v);
  const double want = normalized_mutual_info(a, b);
  EXPECT_GT(want, 0.1);
  EXPECT_LT(want, 0.9);
  EXPECT_EQ(normalized_mutual_info(a_big, b_big), want);
  EXPECT_NEAR(normalized_mutual_info({0, big, big}, {5, 3 * big, 3 * big}), 1.0, 1e-12);
}

TEST(Retrieval, LargeLabelValuesGiveTheSameMetricsAsSmallOnes) {
  manual_seed(77);
  const Tensor e = randn({12, 3});
  std::vector<std::int64_t> y, y_big;
  for (std::int64_t i = 0; i < 12; ++i) y.push_back(i % 3), y_big.push_back((i % 3) * (std::int64_t{1} << 50) + 7);
  const RetrievalMetrics m = retrieval_metrics(e, from_vector(y, {12}), 5);
  const RetrievalMetrics mb = retrieval_metrics(e, from_vector(y_big, {12}), 5);
  EXPECT_EQ(m.map_at_r, mb.map_at_r);
  EXPECT_EQ(m.precision_at_1, mb.precision_at_1);
  EXPECT_EQ(m.r_precision, mb.r_precision);
  EXPECT_EQ(m.queries, mb.queries);
  // a block larger than N (or INT64_MAX: once block x N overflowed) is one block
  const RetrievalMetrics mh = retrieval_metrics(e, from_vector(y, {12}), INT64_MAX);
  EXPECT_EQ(mh.map_at_r, m.map_at_r);
  EXPECT_THROW(retrieval_metrics(e, from_vector(y, {12}), 0), Error);
}

TEST(KMeans, RecoversSeparatedBlobsAndIsSeeded) {
  manual_seed(5);
  const std::int64_t per = 40, k = 4, d = 3;
  Tensor x = randn({per * k, d}, DType::Float64);
  std::vector<std::int64_t> truth;
  double* p = x.data<double>();
  for (std::int64_t i = 0; i < per * k; ++i) {
    const std::int64_t c = i % k;
    truth.push_back(c);
    p[i * d + c % d] += 20.0 * (1 + c / d);  // blob centres far apart
  }
  Generator g1(11), g2(11);
  const KMeansResult a = kmeans(x, k, g1), b = kmeans(x, k, g2);
  EXPECT_EQ(a.assignment, b.assignment);
  EXPECT_NEAR(normalized_mutual_info(truth, a.assignment), 1.0, 1e-12);
  const Tensor labels = from_vector(truth, {per * k});
  EXPECT_NEAR(clustering_nmi(x, labels, k, 7), 1.0, 1e-12);
  Generator g3(1);
  EXPECT_THROW(kmeans(x, 0, g3), Error);
}

TEST(ClassMeans, NearestCentroidAndAccuracy) {
  const Tensor x = from_vector(std::vector<double>{0, 0, 2, 0, 10, 10, 12, 10}, {4, 2});
  const Tensor y = from_vector(std::vector<std::int64_t>{0, 0, 1, 1}, {4});
  const Tensor m = class_means(x, y, 2);
  EXPECT_DOUBLE_EQ(m.at({0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(m.at({1, 1}), 10.0);
  const Tensor pred = nearest_centroid(x, m);
  EXPECT_EQ(pred.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 0, 1, 1}));
  EXPECT_DOUBLE_EQ(accuracy(pred, y), 1.0);
  EXPECT_DOUBLE_EQ(accuracy(from_vector(std::vector<std::int64_t>{0, 1, 1, 1}, {4}), y), 0.75);
  EXPECT_THROW(class_means(x, y, 3), Error);  // class 2 has no sample
  EXPECT_THROW(class_means(x, from_vector(std::vector<std::int64_t>{0, 0, 5, 1}, {4}), 2), Error);
}
