// Tests for losses/centroid.h: the centroid bound of the triplet loss, its gradient,
// its centroids, and the theorem (docs/losses/centroid.md).
#include <gtest/gtest.h>

#include <cmath>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "losses/centroid.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "test_util.h"

using namespace chalk;
using chalk::test_util::expect_close;

namespace {

// n samples of each of C classes, class-major: labels 0,0,..,1,1,..
Tensor balanced_labels(std::int64_t C, std::int64_t n) {
  std::vector<std::int64_t> y;
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t i = 0; i < n; ++i) y.push_back(c);
  return from_vector(y, {C * n});
}

double pair_dist(const Tensor& c, std::int64_t a, std::int64_t b) {
  double s = 0;
  for (std::int64_t t = 0; t < c.shape()[1]; ++t) {
    const double v = c.at({a, t}) - c.at({b, t});
    s += v * v;
  }
  return std::sqrt(s);
}

void expect_theorem(const CentroidBoundReport& r, const char* what) {
  SCOPED_TRACE(what);
  const double gap = r.L_d - r.L_t;
  EXPECT_NEAR(r.L_d, r.L_d_linear, 1e-9 * std::max(1.0, std::fabs(r.L_d)));  // counting argument
  EXPECT_GE(gap, -1e-9 * std::max(1.0, std::fabs(r.L_d)));                  // L_d is an upper bound
  EXPECT_LE(gap, r.paper_bound);                                             // the paper's bound
  EXPECT_LT(gap, r.tight_bound);                                             // the tighter one
}

}  // namespace

TEST(CentroidLoss, GradcheckFusedAndComposed) {
  manual_seed(1);
  for (auto [C, n, D] : {std::tuple{3, 2, 4}, std::tuple{4, 3, 5}, std::tuple{2, 1, 3}}) {
    const Tensor x = randn({C * n, D}, DType::Float64);
    const Tensor y = balanced_labels(C, n);
    const Tensor c = random_centroids(C, D, 7, DType::Float64);
    auto fused = gradcheck([&](const std::vector<Tensor>& in) { return centroid_bound_loss(in[0], y, c); }, {x});
    EXPECT_TRUE(fused.ok) << fused.report;
    auto composed =
        gradcheck([&](const std::vector<Tensor>& in) { return centroid_bound_loss_composed(in[0], y, c); }, {x});
    EXPECT_TRUE(composed.ok) << composed.report;
  }
}

TEST(CentroidLoss, FusedAndComposedAgreeTo1e10) {
  manual_seed(2);
  const std::int64_t C = 5, n = 4, D = 6;
  const Tensor y = balanced_labels(C, n);
  for (const Tensor& c : {onehot_centroids(C, D, DType::Float64), simplex_centroids(C, D, DType::Float64),
                          random_centroids(C, D, 3, DType::Float64)}) {
    Tensor x1 = randn({C * n, D}, DType::Float64).requires_grad_();
    Tensor x2 = x1.detach().clone().requires_grad_();
    Tensor a = centroid_bound_loss(x1, y, c), b = centroid_bound_loss_composed(x2, y, c);
    EXPECT_NEAR(a.item(), b.item(), 1e-10);
    const Tensor w = scalar(0.7, DType::Float64);  // a non-unit upstream gradient
    a.backward(w);
    b.backward(w);
    expect_close(x1.grad(), x2.grad(), 1e-10, 0, "fused vs composed gradient");
  }
}

TEST(CentroidLoss, HandComputedValue) {
  // C = 2, beta = 1/3. x0 = (0, 0) label 0, centroids (3, 4) and (0, 1):
  // l_0 = d(x0, c0) - 1/3 d(x0, c1) = 5 - 1/3.
  const Tensor x = from_vector(std::vector<double>{0, 0}, {1, 2});
  const Tensor c = from_vector(std::vector<double>{3, 4, 0, 1}, {2, 2});
  const Tensor y = from_vector(std::vector<std::int64_t>{0}, {1});
  EXPECT_NEAR(centroid_bound_loss(x, y, c).item(), 5.0 - 1.0 / 3.0, 1e-12);
}

TEST(CentroidLoss, SampleOnItsCentroidHasFiniteGradient) {
  const Tensor c = onehot_centroids(3, 3, DType::Float64);
  Tensor x = c.clone().requires_grad_();  // every sample exactly on its own centroid
  const Tensor y = from_vector(std::vector<std::int64_t>{0, 1, 2}, {3});
  Tensor l = centroid_bound_loss(x, y, c);
  l.backward();
  EXPECT_TRUE(std::isfinite(l.item()));
  for (double v : x.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(v));
  // only the push away from the other centroids remains: -beta/N sum_{m != y} (x - c_m)/d
  const double beta = 1.0 / 6.0, d = std::sqrt(2.0);
  EXPECT_NEAR(x.grad().at({0, 0}), -beta / 3 * (2 * 1.0 / d), 1e-12);
  EXPECT_NEAR(x.grad().at({0, 1}), -beta / 3 * (-1.0 / d), 1e-12);
}

TEST(Centroids, GeometryOfOnehotAndSimplex) {
  for (std::int64_t C : {2, 3, 10}) {
    const Tensor o = onehot_centroids(C, C + 2, DType::Float64);
    const Tensor s = simplex_centroids(C, C - 1, DType::Float64);
    for (std::int64_t a = 0; a < C; ++a) {
      double norm2 = 0;  // the simplex vertices are unit vectors
      for (std::int64_t t = 0; t < C - 1; ++t) norm2 += s.at({a, t}) * s.at({a, t});
      EXPECT_NEAR(norm2, 1.0, 1e-12);
      for (std::int64_t b = a + 1; b < C; ++b) {
        EXPECT_NEAR(pair_dist(o, a, b), std::sqrt(2.0), 1e-12);
        EXPECT_NEAR(pair_dist(s, a, b), std::sqrt(2.0 * C / (C - 1)), 1e-12) << "C " << C;
      }
    }
    // the simplex is centred: its vertices sum to zero
    for (double v : sum(s, 0).to_vector<double>()) EXPECT_NEAR(v, 0.0, 1e-12);
  }
}

TEST(Centroids, DimensionErrorsNameTheRequirement) {
  try {
    onehot_centroids(10, 8);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("D >= C"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(simplex_centroids(10, 9));
  EXPECT_THROW(simplex_centroids(10, 8), Error);
  LossOptions o;
  o.num_classes = 10;
  o.emb_dim = 2;
  o.set("centroids", "onehot");
  EXPECT_THROW(CentroidLoss{o}, Error);
  o.set("centroids", "spiral");
  chalk::test_util::expect_error([&] { CentroidLoss{o}; },
                                 {"centroid loss: option 'centroids'", "onehot, simplex, kmeans, random", "'spiral'"});
}

TEST(CentroidLoss, BadInput) {
  const Tensor c = onehot_centroids(3, 4, DType::Float64);
  const Tensor x = zeros({2, 4}, DType::Float64);
  try {
    centroid_bound_loss(x, from_vector(std::vector<std::int64_t>{0, 3}, {2}), c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(centroid_bound_loss(x, from_vector(std::vector<std::int64_t>{0, -1}, {2}), c), Error);
  EXPECT_THROW(centroid_bound_loss(zeros({2, 5}, DType::Float64), arange(2), c), Error);
  Tensor bad = zeros({2, 4}, DType::Float64);
  bad.data<double>()[5] = NAN;
  EXPECT_THROW(centroid_bound_loss(bad, arange(2), c), Error);
}

TEST(Theorem, CountsAndBothBoundsOnRandomData) {
  manual_seed(4);
  const std::int64_t C = 4, n = 3, N = C * n, D = 5;
  const Tensor y = balanced_labels(C, n);
  for (int trial = 0; trial < 3; ++trial) {
    const Tensor x = randn({N, D}, DType::Float64);
    for (const Tensor& c : {onehot_centroids(C, D, DType::Float64), simplex_centroids(C, D, DType::Float64),
                            random_centroids(C, D, trial, DType::Float64)}) {
      const CentroidBoundReport r = centroid_bound_report(x, y, c);
      EXPECT_EQ(r.H, static_cast<double>(N * (n - 1) * (N - n)));    // H = N (n-1)(N-n)
      EXPECT_EQ(r.G, static_cast<double>(3 * (C - 1) * (n - 1) * n)); // G = 3 (C-1)(n-1) n
      // L_d = G * sum_i (bracket) = G * N * (the batch-mean loss)
      EXPECT_NEAR(r.L_d, r.G * N * centroid_bound_loss(x, y, c).item(), 1e-9 * std::fabs(r.L_d));
      EXPECT_NEAR(r.L_t, all_triplets_loss(x, y), 1e-9 * std::max(1.0, std::fabs(r.L_t)));
      expect_theorem(r, "random data");
    }
  }
  // unbalanced classes: the counting formula still holds (G is not defined: 0)
  const Tensor yu = from_vector(std::vector<std::int64_t>{0, 0, 0, 1, 1, 2, 2, 2, 2, 0, 1, 2}, {12});
  const CentroidBoundReport ru = centroid_bound_report(randn({12, D}, DType::Float64), yu,
                                                       simplex_centroids(C - 1, D, DType::Float64));
  EXPECT_EQ(ru.G, 0.0);
  expect_theorem(ru, "unbalanced");
}

TEST(Theorem, HoldsOnEmbeddingsFromAShortTrainingRun) {
  // Synthetic 3-class data in 8-D, a linear embedding W (8 -> 4) trained with the centroid
  // bound towards one-hot centroids: the bound gap must shrink and the theorem keep holding.
  manual_seed(9);
  const std::int64_t C = 3, n = 8, N = C * n, Din = 8, D = 4;
  const Tensor y = balanced_labels(C, n);
  Tensor inputs = randn({N, Din}, DType::Float64);
  for (std::int64_t i = 0; i < N; ++i) inputs.data<double>()[i * Din + y.data<std::int64_t>()[i]] += 3.0;
  Tensor W = (randn({Din, D}, DType::Float64) * 0.3).detach().requires_grad_();
  const Tensor c = onehot_centroids(C, D, DType::Float64);
  const CentroidBoundReport before = centroid_bound_report(matmul(inputs, W).detach(), y, c);
  expect_theorem(before, "before training");
  for (int step = 0; step < 300; ++step) {
    Tensor loss = centroid_bound_loss(matmul(inputs, W), y, c);
    loss.backward();
    NoGradGuard ng;
    double* pw = W.data<double>();
    const double* pg = W.grad().data<double>();
    for (std::int64_t i = 0; i < W.numel(); ++i) pw[i] -= 0.05 * pg[i];
    W.zero_grad();
  }
  const CentroidBoundReport after = centroid_bound_report(matmul(inputs, W).detach(), y, c);
  expect_theorem(after, "after training");
  EXPECT_LT(after.eps, before.eps);                                   // samples moved to their centroids
  EXPECT_LT(after.L_d - after.L_t, 0.5 * (before.L_d - before.L_t));  // the bound got tighter
}

TEST(CentroidLossModule, KmeansNeedsPrepareAndLogitsPickNearest) {
  manual_seed(6);
  LossOptions o;
  o.num_classes = 3;
  o.emb_dim = 2;
  o.set("centroids", "kmeans");
  o.set("normalize", false);  // raw 2-d points: the blob means below are in these coordinates
  CentroidLoss loss(o);
  // three blobs around (0,0), (10,0), (0,10)
  std::vector<float> pts;
  std::vector<std::int64_t> ys;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 10; ++i) {
      pts.push_back((c == 1 ? 10.f : 0.f) + 0.1f * i);
      pts.push_back((c == 2 ? 10.f : 0.f) - 0.1f * i);
      ys.push_back(c);
    }
  const Tensor e = from_vector(pts, {30, 2});
  const Tensor y = from_vector(ys, {30});
  EXPECT_THROW(loss.forward(e, y), Error);
  loss.prepare(e, y);
  EXPECT_NEAR(loss.centroids().at({1, 0}), 10.45, 1e-4);  // class 1's centroid is its blob mean
  EXPECT_TRUE(std::isfinite(loss.forward(e, y).item()));
  const Tensor pred = argmax(loss.logits(e), 1);
  EXPECT_EQ(pred.to_vector<std::int64_t>(), ys);
  EXPECT_EQ(loss.named_buffers().size(), 1u);
  EXPECT_EQ(loss.named_buffers()[0].first, "centroids");
}

// Retrieval must compare what the loss compares: unit vectors when it normalises.
TEST(CentroidLossModule, MetricEmbeddingFollowsNormalize) {
  manual_seed(7);
  LossOptions o;
  o.num_classes = 3;
  o.emb_dim = 4;
  const Tensor e = randn({5, 4});
  o.set("normalize", false);
  CentroidLoss raw(o);
  EXPECT_EQ(raw.metric_embedding(e).to_vector<float>(), e.to_vector<float>());
  o.values.clear();  // not given: the default, normalised
  CentroidLoss unit(o);
  const Tensor n = unit.metric_embedding(e);
  for (std::int64_t i = 0; i < 5; ++i) {
    double ss = 0;
    for (std::int64_t k = 0; k < 4; ++k) ss += n.at({i, k}) * n.at({i, k});
    EXPECT_NEAR(ss, 1.0, 1e-6) << "row " << i;
  }
}

// centroid_bound_sum is what its header says: the batch sum of the per-sample bound terms,
// N * centroid_bound_loss, which is L_d / G (not L_d) on a balanced batch.
TEST(CentroidBound, SumIsLdOverG) {
  const std::int64_t C = 4, n = 3, D = 5;
  manual_seed(7);
  const Tensor x = randn({C * n, D}, DType::Float64), y = balanced_labels(C, n);
  const Tensor c = onehot_centroids(C, D, DType::Float64);
  const double s = centroid_bound_sum(x, y, c);
  EXPECT_NEAR(s, static_cast<double>(C * n) * centroid_bound_loss(x, y, c).item(), 1e-12);
  const CentroidBoundReport r = centroid_bound_report(x, y, c);
  EXPECT_DOUBLE_EQ(r.G, 3.0 * (C - 1) * (n - 1) * n);
  EXPECT_NEAR(s * r.G, r.L_d, 1e-9 * std::max(1.0, std::fabs(r.L_d)));
}

// The pieces the loss and the report are built from (exercise 09's functions) name what does not fit.
TEST(CentroidLoss, PiecesNameBadInput) {
  using chalk::test_util::expect_error;
  const Tensor c = onehot_centroids(3, 4, DType::Float64);
  const Tensor x = zeros({2, 4}, DType::Float64);
  const Tensor y = arange(2);
  expect_error([&] { centroid_distances(x, onehot_centroids(3, 5, DType::Float64)); },
               {"centroid_distances: expected x N x D and centroids C x D, got [2, 4] and [3, 5]"});
  expect_error([&] { centroid_distances(x.to(DType::Float32), c); },
               {"centroid_distances: x is float32 but the centroids are float64"});
  const Tensor d = centroid_distances(x, c);
  EXPECT_EQ(d.shape(), (Shape{2, 3}));
  EXPECT_EQ(d.dtype(), DType::Float64);
  expect_error([&] { centroid_bound_loss_vjp(x, y, c, zeros({2, 2}, DType::Float64), 1.0); },
               {"centroid_bound_loss_vjp: dists must be the N x C = [2, 3] float64 matrix"});
  expect_error([&] { centroid_bound_loss_vjp(x, y, c.to(DType::Float32), d, 1.0); },
               {"centroid_bound_loss_vjp: centroids must be C x 4 (C >= 2) in x's dtype float64"});
  expect_error([&] { centroid_bound_loss_vjp(x, arange(3), c, d, 1.0); },
               {"centroid_bound_loss_vjp: labels must be 2 int64 values, got [3]"});
  expect_error([&] { centroid_bound_rows(d.to(DType::Float32), y); },
               {"centroid_bound_rows: dists must be an N x C float64 matrix", "[2, 3] float32"});
  expect_error([&] { centroid_bound_rows(d, from_vector(std::vector<std::int64_t>{0, 3}, {2})); },
               {"centroid_bound_rows", "label 3"});
}
