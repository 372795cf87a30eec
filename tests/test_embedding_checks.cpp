// tests/test_embedding_checks.cpp — every public function that takes embeddings (losses, metrics,
// the triplet distance matrix) rejects a non-finite value with the same message (core/checks.h):
// the function, the argument, its shape, the value and the index of the first non-finite one.
// A NaN that reached a max/min, a comparison or an argmin would otherwise be swallowed: a
// hinge max(0, nan) is 0 with std::max, and a nearest-centroid search whose every comparison
// with nan is false answers class 0.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "core/checks.h"
#include "core/random.h"
#include "eval/metrics.h"
#include "losses/centroid.h"
#include "losses/loss.h"
#include "losses/margin_softmax.h"
#include "losses/triplet.h"
#include "ops/distances.h"
#include "test_util.h"

namespace chalk {
namespace {

using test_util::error_of;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::string kHint = " (diverged training? a learning rate too large?)";

// N x D float32 values, all finite and distinct, with labels 0, 1, 0, 1, ...
Tensor points(std::int64_t N, std::int64_t D, double offset = 0) {
  std::vector<double> v(static_cast<std::size_t>(N * D));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = offset + 0.1 * static_cast<double>(i % 7) - 0.05 * static_cast<double>(i);
  return from_vector(v, {N, D}).to(DType::Float32);
}
Tensor alternating_labels(std::int64_t N) {
  std::vector<std::int64_t> y(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) y[i] = i % 2;
  return from_vector(y, {N});
}
// t with the value v at [r, c] (a copy)
Tensor with(const Tensor& t, std::int64_t r, std::int64_t c, double v) {
  Tensor u = t.clone();
  u.data<float>()[r * t.shape()[1] + c] = static_cast<float>(v);
  return u;
}

// ---- triplet_margin_loss (PyTorch's TripletMarginLoss): each of the three arguments is named

TEST(EmbeddingChecks, TripletMarginLossNamesTheArgumentAndTheFirstNaN) {
  const Tensor a = points(4, 3), p = points(4, 3, 0.3), n = points(4, 3, -0.4);
  // the first NaN is named, not a later one
  const Tensor p_bad = with(with(p, 2, 1, kNaN), 3, 0, kNaN);
  EXPECT_EQ(error_of([&] { triplet_margin_loss(a, p_bad, n); }),
            "triplet_margin_loss: positive [4, 3]: a non-finite value (nan) in row 2, at [2, 1]" + kHint);
  EXPECT_EQ(error_of([&] { triplet_margin_loss(with(a, 0, 2, kNaN), p, n); }),
            "triplet_margin_loss: anchor [4, 3]: a non-finite value (nan) in row 0, at [0, 2]" + kHint);
  EXPECT_EQ(error_of([&] { triplet_margin_loss(a, p, with(n, 3, 0, INFINITY), 1.0, 1e-6, true, "none"); }),
            "triplet_margin_loss: negative [4, 3]: a non-finite value (inf) in row 3, at [3, 0]" + kHint);
  // the composed twin checks the same way
  EXPECT_EQ(error_of([&] { triplet_margin_loss_composed(a, p_bad, n); }),
            "triplet_margin_loss: positive [4, 3]: a non-finite value (nan) in row 2, at [2, 1]" + kHint);
  // and the scalars
  EXPECT_EQ(error_of([&] { triplet_margin_loss(a, p, n, kNaN); }),
            "triplet_margin_loss: the margin must be a finite number >= 0, got nan");
  EXPECT_EQ(error_of([&] { triplet_margin_loss(a, p, n, 1.0, kNaN); }), "triplet_margin_loss: eps must be finite, got nan");
  // finite inputs still work
  EXPECT_TRUE(std::isfinite(triplet_margin_loss(a, p, n).item()));
}

TEST(EmbeddingChecks, TripletDistanceMatrix) {
  EXPECT_EQ(error_of([&] { triplet_distance_matrix(with(points(5, 2), 4, 1, kNaN), "euclidean"); }),
            "triplet_distance_matrix: embeddings [5, 2]: a non-finite value (nan) in row 4, at [4, 1]" + kHint);
}

TEST(EmbeddingChecks, BatchTripletLoss) {
  EXPECT_EQ(error_of([&] { batch_triplet_loss(with(points(6, 2), 1, 0, kNaN), alternating_labels(6), TripletMining{}); }),
            "triplet loss: embeddings [6, 2]: a non-finite value (nan) in row 1, at [1, 0]" + kHint);
}

// ---- the centroid bound: the embeddings and the (fixed) centroids

TEST(EmbeddingChecks, CentroidBoundFunctions) {
  const Tensor x = points(6, 2), y = alternating_labels(6);
  const Tensor c = from_vector(std::vector<double>{1, 0, 0, 1}, {2, 2}).to(DType::Float32);
  const Tensor c_bad = with(c, 1, 1, kNaN);
  EXPECT_EQ(error_of([&] { centroid_bound_loss(x, y, c_bad); }),
            "centroid_bound_loss: centroids [2, 2]: a non-finite value (nan) in row 1, at [1, 1]" + kHint);
  EXPECT_EQ(error_of([&] { centroid_bound_loss_composed(x, y, c_bad); }),
            "centroid_bound_loss_composed: centroids [2, 2]: a non-finite value (nan) in row 1, at [1, 1]" + kHint);
  EXPECT_EQ(error_of([&] { centroid_bound_report(x, y, c_bad); }),
            "centroid_bound_report: centroids [2, 2]: a non-finite value (nan) in row 1, at [1, 1]" + kHint);
  EXPECT_EQ(error_of([&] { centroid_bound_sum(with(x, 5, 1, kNaN), y, c); }),
            "centroid_bound_sum: embeddings [6, 2]: a non-finite value (nan) in row 5, at [5, 1]" + kHint);
  EXPECT_EQ(error_of([&] { all_triplets_loss(with(x, 3, 0, kNaN), y); }),
            "all_triplets_loss: embeddings [6, 2]: a non-finite value (nan) in row 3, at [3, 0]" + kHint);
  EXPECT_EQ(error_of([&] { kmeans_centroids(with(x, 2, 1, kNaN), y, 2, 0); }),
            "kmeans_centroids: embeddings [6, 2]: a non-finite value (nan) in row 2, at [2, 1]" + kHint);
  EXPECT_EQ(error_of([&] { kmeans_centroids(x, y, 1, 0); }), "kmeans_centroids: need at least 2 classes, got C = 1");
}

// ---- the Loss objects chalk-train uses: forward and the logits the evaluation takes an argmax of

TEST(EmbeddingChecks, LossObjectsForwardAndLogits) {
  LossOptions o;
  o.num_classes = 2;
  o.emb_dim = 2;
  const Tensor x = points(6, 2), y = alternating_labels(6), x_bad = with(x, 4, 0, kNaN);
  const std::string at = ": embeddings [6, 2]: a non-finite value (nan) in row 4, at [4, 0]" + kHint;
  EXPECT_EQ(error_of([&] { make_loss("centroid", o)->forward(x_bad, y); }), "centroid loss" + at);
  EXPECT_EQ(error_of([&] { make_loss("centroid", o)->logits(x_bad); }), "centroid loss: logits" + at);
  EXPECT_EQ(error_of([&] { make_loss("softmax", o)->logits(x_bad); }), "softmax loss: logits" + at);
  EXPECT_EQ(error_of([&] { make_loss("arcface", o)->logits(x_bad); }), "cosine_logits" + at);
  EXPECT_EQ(error_of([&] { make_loss("sphereface", o)->logits(x_bad); }), "sphereface_logits" + at);
}

// ---- eval/metrics.h

TEST(EmbeddingChecks, Metrics) {
  const Tensor x = points(6, 2), y = alternating_labels(6);
  const Tensor c = from_vector(std::vector<double>{1, 0, 0, 1, -1, 0}, {3, 2}).to(DType::Float32);
  // without the check, every comparison with nan is false and the answer would be class 0
  EXPECT_EQ(error_of([&] { nearest_centroid(x, with(c, 2, 0, kNaN)); }),
            "nearest_centroid: centroids [3, 2]: a non-finite value (nan) in row 2, at [2, 0]" + kHint);
  EXPECT_EQ(error_of([&] { nearest_centroid(with(x, 1, 1, kNaN), c); }),
            "nearest_centroid: embeddings [6, 2]: a non-finite value (nan) in row 1, at [1, 1]" + kHint);
  Generator g(0);
  EXPECT_EQ(error_of([&] { kmeans(with(x, 0, 0, -INFINITY), 2, g); }),
            "kmeans: points [6, 2]: a non-finite value (-inf) in row 0, at [0, 0]" + kHint);
  EXPECT_EQ(error_of([&] { retrieval_metrics(with(x, 5, 0, kNaN), y); }),
            "retrieval_metrics: embeddings [6, 2]: a non-finite value (nan) in row 5, at [5, 0]" + kHint);
  EXPECT_EQ(error_of([&] { clustering_nmi(with(x, 5, 0, kNaN), y, 2); }),
            "clustering_nmi: embeddings [6, 2]: a non-finite value (nan) in row 5, at [5, 0]" + kHint);
  EXPECT_EQ(error_of([&] { class_means(with(x, 5, 0, kNaN), y, 2); }),
            "class_means: embeddings [6, 2]: a non-finite value (nan) in row 5, at [5, 0]" + kHint);
  // finite inputs still work
  EXPECT_EQ(nearest_centroid(from_vector(std::vector<double>{0.9, 0.1}, {1, 2}), c).item(), 0.0);
}

// ---- ops/distances.h: ops, not losses: like torch.cdist and F.cosine_similarity they do not
// reject a NaN but propagate it (tests/test_nan_propagation.cpp covers the norms and the
// Euclidean distances; here the cosine matrix: a NaN row gives a NaN row and column, nothing else)

TEST(EmbeddingChecks, CosineSimilarityMatrixPropagatesNaN) {
  const Tensor x = with(points(3, 2, 0.5), 1, 0, kNaN);
  const std::vector<double> S = cosine_similarity_matrix(x, x).to(DType::Float64).to_vector<double>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      EXPECT_EQ(std::isnan(S[i * 3 + j]), i == 1 || j == 1) << "S[" << i << ", " << j << "] = " << S[i * 3 + j];
}

// ---- a tensor that is not a matrix: the flat index

TEST(EmbeddingChecks, FlatIndexForOtherShapes) {
  Tensor t = zeros({2, 2, 2}, DType::Float64);
  t.data<double>()[5] = kNaN;
  EXPECT_EQ(error_of([&] { check_finite(t, "tensor 'w'", "load"); }),
            "load: tensor 'w' [2, 2, 2]: a non-finite value (nan) at flat index [5]" + kHint);
}

}  // namespace
}  // namespace chalk
