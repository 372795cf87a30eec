// losses/centroid.cpp — the centroid upper bound of the triplet loss (Do et al., CVPR 2019).
// Read with docs/losses/centroid.md (the derivation); tested in tests/test_loss_centroid.cpp.
#include "losses/centroid.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/checks.h"
#include "core/exercise.h"
#include "core/parallel.h"
#include "eval/metrics.h"
#include "ops/elementwise.h"
#include "ops/distances.h"
#include "ops/softmax.h"
#include "ops/reduce.h"

namespace chalk {

namespace {

void check_inputs(const Tensor& x, const Tensor& labels, const Tensor& c, const char* op) {
  check_embeddings(x, op);
  if (!c.defined() || c.dim() != 2 || c.shape()[1] != x.shape()[1])
    fail(op, ": centroids ", c.defined() ? shape_str(c.shape()) : "none", " do not match embeddings ",
         shape_str(x.shape()), " (expected C x ", x.shape()[1], ")");
  if (c.shape()[0] < 2) fail(op, ": need at least 2 classes (centroids), got ", c.shape()[0]);
  check_finite(c, "centroids", op);
  check_class_labels(labels, x.shape()[0], c.shape()[0], op);
}

// Euclidean distance between two rows of length D, in double.
template <class T, class U>
double dist(const T* a, const U* b, std::int64_t D) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (std::int64_t t = 0; t < D; ++t) {
    const double v = static_cast<double>(a[t]) - static_cast<double>(b[t]);
    s += v * v;
  }
  return std::sqrt(s);
}

}  // namespace

// ---------------------------------------------------------------- centroids

Tensor onehot_centroids(std::int64_t C, std::int64_t D, DType dtype) {
  if (D < C)
    fail("onehot centroids: need an embedding dimension D >= C, got D = ", D, " for C = ", C,
         " classes (use --centroids simplex, which needs D >= C - 1, or a larger --emb-dim)");
  Tensor c = zeros({C, D}, DType::Float64);
  for (std::int64_t m = 0; m < C; ++m) c.data<double>()[m * D + m] = 1.0;
  return c.to(dtype);
}

// The vertices e_m - (1/C) 1 of the standard simplex, centred, scaled to unit norm (their norm is
// sqrt((C-1)/C)), lie in the hyperplane orthogonal to 1. Their coordinates in an orthonormal basis
// of that hyperplane (the Helmert basis b_k = (1, ..., 1, -k, 0, ..., 0) / sqrt(k (k+1)), k ones,
// k = 1..C-1) give C points in R^(C-1), padded with zeros to R^D. All pairwise distances:
//   ||e_a - e_b|| / sqrt((C-1)/C) = sqrt(2) sqrt(C/(C-1)) = sqrt(2C/(C-1)).
Tensor simplex_centroids(std::int64_t C, std::int64_t D, DType dtype) {
  if (C < 2) fail("simplex centroids: need C >= 2 classes, got ", C);
  if (D < C - 1)
    fail("simplex centroids: need an embedding dimension D >= C - 1, got D = ", D, " for C = ", C, " classes");
  Tensor c = zeros({C, D}, DType::Float64);
  double* p = c.data<double>();
  const double scale = 1.0 / std::sqrt((C - 1.0) / C);
  for (std::int64_t m = 0; m < C; ++m)
    for (std::int64_t k = 1; k < C; ++k) {
      // v_m . b_k with v_m = e_m - 1/C: the 1/C part is orthogonal to b_k, so only e_m . b_k remains
      double e_dot_b = 0;
      if (m < k) e_dot_b = 1.0;
      else if (m == k) e_dot_b = -static_cast<double>(k);
      p[m * D + (k - 1)] = scale * e_dot_b / std::sqrt(static_cast<double>(k * (k + 1)));
    }
  return c.to(dtype);
}

Tensor random_centroids(std::int64_t C, std::int64_t D, std::uint64_t seed, DType dtype) {
  Generator g(seed);
  Tensor c = Tensor::empty({C, D}, DType::Float64);
  for (std::int64_t i = 0; i < C * D; ++i) c.data<double>()[i] = g.normal();
  return c.to(dtype);
}

Tensor kmeans_centroids(const Tensor& embeddings, const Tensor& labels, std::int64_t C, std::uint64_t seed) {
  check_embeddings(embeddings, "kmeans_centroids");
  if (C < 2) fail("kmeans_centroids: need at least 2 classes, got C = ", C);
  check_class_labels(labels, embeddings.shape()[0], C, "kmeans_centroids");
  Generator g(seed);
  const KMeansResult km = kmeans(embeddings, C, g, 100, 10);
  // overlap[j][m] = how many samples of class m fell in cluster j
  std::vector<std::int64_t> overlap(static_cast<std::size_t>(checked_mul(C, C, "kmeans_centroids", "the overlap table C x C =")), 0);
  const std::int64_t* y = labels.data<std::int64_t>();
  for (std::size_t i = 0; i < km.assignment.size(); ++i) {
    if (y[i] < 0 || y[i] >= C) fail("kmeans centroids: label ", y[i], " outside [0, ", C, ")");
    ++overlap[km.assignment[i] * C + y[i]];
  }
  // greedy matching: repeatedly take the (cluster, class) pair with the largest overlap
  std::vector<bool> cluster_used(C, false), class_used(C, false);
  const std::int64_t D = embeddings.shape()[1];
  Tensor c = zeros({C, D}, DType::Float64);
  for (std::int64_t step = 0; step < C; ++step) {
    std::int64_t bj = -1, bm = -1, best = -1;
    for (std::int64_t j = 0; j < C; ++j)
      for (std::int64_t m = 0; m < C; ++m)
        if (!cluster_used[j] && !class_used[m] && overlap[j * C + m] > best) best = overlap[j * C + m], bj = j, bm = m;
    cluster_used[bj] = class_used[bm] = true;
    std::copy(km.centroids.data<double>() + bj * D, km.centroids.data<double>() + (bj + 1) * D,
              c.data<double>() + bm * D);
  }
  return c.to(embeddings.dtype());
}

// ---------------------------------------------------------------- the loss

// Forward, for x (N x D), labels y, centroids c (C x D), beta = 1 / (3 (C-1)):
//   d_im = ||x_i - c_m||                          (centroid_distances, kept for the VJP)
//   l_i  = d_{i,y_i} - beta sum_{m != y_i} d_im
//   L    = (1/N) sum_i l_i
// The bracket is L_d's linear form for balanced classes, per sample, divided by G (how often
// each d(x_i, c_{y_i}) appears in L_d; docs/losses/centroid.md §3). The rows are summed in
// order, so the value does not depend on the thread count.
// VJP: centroid_bound_loss_vjp below, with its formula. The centroids are fixed: no gradient
// flows to them (they are CentroidLoss's buffer, never a parameter).
// (centroid_bound_loss_composed builds the same value from autograd ops.)
Tensor centroid_bound_loss(const Tensor& x, const Tensor& labels, const Tensor& centroids) {
  check_inputs(x, labels, centroids, "centroid_bound_loss");
  const Tensor c = centroids.detach().to(x.dtype());
  const std::int64_t N = x.shape()[0], C = c.shape()[0];
  const double beta = 1.0 / (3.0 * (C - 1));
  if (N == 0) fail("centroid_bound_loss: empty batch");
  const Tensor dists = centroid_distances(x.detach(), c);  // d_im, N x C float64
  const double* pd = dists.data<double>();
  const std::int64_t* y = labels.data<std::int64_t>();
  double total = 0;
  for (std::int64_t i = 0; i < N; ++i) {  // in order: the same sum on any thread count
    double l = 0;
    for (std::int64_t m = 0; m < C; ++m) l += (m == y[i] ? 1.0 : -beta) * pd[i * C + m];  // l_i = d_iy - beta sum_{m != y} d_im
    total += l;
  }
  Tensor loss = full({}, total / N, x.dtype());
  record(loss, "centroid_bound_loss", {x}, Saved{.inputs = {0}, .other = {labels, centroids}},
         [x = x.detach(), labels, c, dists](const Tensor& g, Grads& dx) {
           dx.add(0, centroid_bound_loss_vjp(x, labels, c, dists, g.item()));
         });
  return loss;
}

Tensor centroid_distances(const Tensor& x, const Tensor& c) {
  if (!x.defined() || !c.defined() || x.dim() != 2 || c.dim() != 2 || x.shape()[1] != c.shape()[1])
    fail("centroid_distances: expected x N x D and centroids C x D, got ", x.defined() ? shape_str(x.shape()) : "none",
         " and ", c.defined() ? shape_str(c.shape()) : "none");
  if (x.dtype() != c.dtype())
    fail("centroid_distances: x is ", dtype_name(x.dtype()), " but the centroids are ", dtype_name(c.dtype()));
  const std::int64_t N = x.shape()[0], D = x.shape()[1], C = c.shape()[0];
  Tensor dists = Tensor::empty({N, C}, DType::Float64);
  dispatch_float(x.dtype(), "centroid_distances", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pc = c.data<T>();
    double* pd = dists.data<double>();
    parallel_for(N, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(C * D, 1)),
                 [&](std::int64_t b, std::int64_t e) {
                   for (std::int64_t i = b; i < e; ++i)
                     for (std::int64_t m = 0; m < C; ++m) pd[i * C + m] = dist(px + i * D, pc + m * D, D);
                 });
  });
  return dists;
}

Tensor centroid_bound_loss_vjp(const Tensor& x, const Tensor& labels, const Tensor& c, const Tensor& dists, double g) {
  if (!x.defined() || x.dim() != 2 || !is_floating(x.dtype()))
    fail("centroid_bound_loss_vjp: x must be a floating-point N x D matrix, got ",
         x.defined() ? shape_str(x.shape()) : "none");
  const std::int64_t N = x.shape()[0], D = x.shape()[1];
  if (!c.defined() || c.dim() != 2 || c.shape()[1] != D || c.shape()[0] < 2 || c.dtype() != x.dtype())
    fail("centroid_bound_loss_vjp: centroids must be C x ", D, " (C >= 2) in x's dtype ", dtype_name(x.dtype()),
         ", got ", c.defined() ? shape_str(c.shape()) : "none");
  const std::int64_t C = c.shape()[0];
  if (!dists.defined() || dists.shape() != Shape{N, C} || dists.dtype() != DType::Float64)
    fail("centroid_bound_loss_vjp: dists must be the N x C = ", shape_str({N, C}),
         " float64 matrix centroid_distances gives, got ", dists.defined() ? shape_str(dists.shape()) : "none");
  if (!labels.defined() || labels.shape() != Shape{N} || labels.dtype() != DType::Int64)
    fail("centroid_bound_loss_vjp: labels must be ", N, " int64 values, got ",
         labels.defined() ? shape_str(labels.shape()) : "none");
  // ---- exercise 09 begin: docs/exercises/09-centroid-bound.md ----
  // L = (1/N) sum_i l_i,  l_i = d_{i,y_i} - beta sum_{m != y_i} d_im,  beta = 1 / (3 (C-1)).
  // Since d ||v|| / dv = v / ||v||:
  //   dL/dx_i = (g/N) [ u_{i,y_i} - beta sum_{m != y_i} u_im ],   u_im = (x_i - c_m) / d_im
  // At x_i = c_m exactly the norm has a kink; we take u_im = 0 there (the subgradient of
  // minimal norm), so a sample sitting on a centroid gets no push from that term, and nothing
  // is NaN.
  const double beta = 1.0 / (3.0 * (C - 1));
  Tensor grad = zeros(x.shape(), x.dtype());
  dispatch_float(x.dtype(), "centroid_bound_loss backward", [&](auto tag) {
    using T = decltype(tag);
    const double scale = g / N;  // g / N
    const T* px = x.data<T>();
    const T* pc = c.data<T>();
    const double* pd = dists.data<double>();
    const std::int64_t* y = labels.data<std::int64_t>();
    T* pg = grad.data<T>();
    // dx_i = sum_m w_im (x_i - c_m) = (sum_m w_im) x_i - sum_m w_im c_m, accumulated in
    // double per row (rows are independent: split over threads).
    parallel_for(N, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(C * D, 1)),
                 [&](std::int64_t b, std::int64_t e) {
                   std::vector<double> acc(D);
                   for (std::int64_t i = b; i < e; ++i) {
                     std::fill(acc.begin(), acc.end(), 0.0);
                     double wsum = 0;
                     for (std::int64_t m = 0; m < C; ++m) {
                       const double d = pd[i * C + m];
                       if (d == 0) continue;  // the kink: u_im = 0
                       const double w = scale * (m == y[i] ? 1.0 : -beta) / d;  // coefficient of (x_i - c_m)
                       wsum += w;
                       const T* cm = pc + m * D;
                       double* a = acc.data();
#pragma omp simd
                       for (std::int64_t t = 0; t < D; ++t) a[t] -= w * static_cast<double>(cm[t]);
                     }
                     const T* xi = px + i * D;
                     T* gi = pg + i * D;
                     for (std::int64_t t = 0; t < D; ++t) gi[t] = static_cast<T>(wsum * static_cast<double>(xi[t]) + acc[t]);
                   }
                 });
  });
  return grad;
  // ---- exercise 09 end ----
}

Tensor centroid_bound_rows(const Tensor& dists, const Tensor& labels) {
  if (!dists.defined() || dists.dim() != 2 || dists.dtype() != DType::Float64 || dists.shape()[1] < 2)
    fail("centroid_bound_rows: dists must be an N x C float64 matrix (d(x_i, c_m), C >= 2), got ",
         dists.defined() ? str_cat(shape_str(dists.shape()), " ", dtype_name(dists.dtype())) : std::string("none"));
  const std::int64_t N = dists.shape()[0], C = dists.shape()[1];
  check_class_labels(labels, N, C, "centroid_bound_rows");
  // ---- exercise 09 begin: docs/exercises/09-centroid-bound.md ----
  // Count how often each distance appears in L_d (n_m = the class sizes in this batch):
  //   d(x_i, c_{y_i}) appears (n_i - 1)(N - n_i) times as the anchor's term, as often as the
  //   positive's, and sum_{m != y_i} n_m (n_m - 1) times as the negative's (every anchor-positive
  //   pair of another class);
  //   d(x_i, c_m), m != y_i, is subtracted (n_i - 1) n_m times (anchor i, any of its positives,
  //   any negative of class m).
  const double* pd = dists.data<double>();
  const std::int64_t* y = labels.data<std::int64_t>();
  std::vector<double> n(static_cast<std::size_t>(C), 0);
  for (std::int64_t i = 0; i < N; ++i) n[y[i]] += 1;
  double pairs_all = 0;  // sum_m n_m (n_m - 1)
  for (double v : n) pairs_all += v * (v - 1);
  Tensor rows = Tensor::empty({N}, DType::Float64);
  double* out = rows.data<double>();
  for (std::int64_t i = 0; i < N; ++i) {
    const double ni = n[y[i]];
    const double own = 2 * (ni - 1) * (N - ni) + (pairs_all - ni * (ni - 1));
    double r = own * pd[i * C + y[i]];
    for (std::int64_t m = 0; m < C; ++m)
      if (m != y[i]) r -= (ni - 1) * n[m] * pd[i * C + m];
    out[i] = r;
  }
  return rows;
  // ---- exercise 09 end ----
}

// The twin from autograd ops only:
//   diff = x[:, None, :] - c[None, :, :]       N x C x D
//   d    = sqrt(sum(diff^2, axis 2))           N x C
//   w    = +1 at (i, y_i), -beta elsewhere     N x C (a constant)
//   L    = mean_i sum_m w_im d_im
// (sqrt's derivative is infinite at 0, so this twin is only compared away from x = c_m.)
Tensor centroid_bound_loss_composed(const Tensor& x, const Tensor& labels, const Tensor& centroids) {
  check_inputs(x, labels, centroids, "centroid_bound_loss_composed");
  const std::int64_t N = x.shape()[0], D = x.shape()[1], C = centroids.shape()[0];
  const Tensor c = centroids.detach().to(x.dtype());
  const Tensor diff = x.reshape({N, 1, D}) - c.reshape({1, C, D});
  const Tensor d = sqrt(sum(square(diff), 2));
  Tensor w = full({N, C}, -1.0 / (3.0 * (C - 1)), DType::Float64);
  for (std::int64_t i = 0; i < N; ++i) w.data<double>()[i * C + labels.data<std::int64_t>()[i]] = 1.0;
  return mean(sum(d * w.to(x.dtype()), 1));
}

// ---------------------------------------------------------------- the theorem

CentroidBoundReport centroid_bound_report(const Tensor& x_in, const Tensor& labels, const Tensor& c_in) {
  check_inputs(x_in, labels, c_in, "centroid_bound_report");
  NoGradGuard no_grad;
  const Tensor x = x_in.detach().to(DType::Float64), c = c_in.detach().to(DType::Float64);
  const std::int64_t N = x.shape()[0], D = x.shape()[1], C = c.shape()[0];
  const double* px = x.data<double>();
  const double* pc = c.data<double>();
  const std::int64_t* y = labels.data<std::int64_t>();
  CentroidBoundReport r;

  std::vector<double> dx(static_cast<std::size_t>(checked_mul(N, N, "centroid_bound_report", "the distance table N x N =")));
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < N; ++j) dx[i * N + j] = dist(px + i * D, px + j * D, D);
  const Tensor dists = centroid_distances(x, c);
  const double* dc = dists.data<double>();
  // The cubic sums, straight from the definitions.
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      if (j == i || y[j] != y[i]) continue;
      for (std::int64_t k = 0; k < N; ++k) {
        if (y[k] == y[i]) continue;
        ++r.triplets;
        r.L_t += dx[i * N + j] - dx[i * N + k];
        r.L_d += dc[i * C + y[i]] + dc[j * C + y[j]] + dc[k * C + y[k]] - dc[i * C + y[k]];
      }
    }
  // The same L_d by the linear formula (counting; any class sizes).
  const Tensor rows = centroid_bound_rows(dists, labels);
  for (std::int64_t i = 0; i < N; ++i) r.L_d_linear += rows.data<double>()[i];
  std::vector<double> n(static_cast<std::size_t>(C), 0);  // class sizes
  for (std::int64_t i = 0; i < N; ++i) n[y[i]] += 1;
  r.H = static_cast<double>(r.triplets);
  // balanced classes (all C present with n each): G = 3 (C-1)(n-1) n, H = N (n-1)(N-n)
  const bool balanced = std::all_of(n.begin(), n.end(), [&](double v) { return v == n[0]; });
  if (balanced) r.G = 3.0 * (C - 1) * (n[0] - 1) * n[0];
  r.k_min = INFINITY;
  r.k_max = 0;
  for (std::int64_t a = 0; a < C; ++a)
    for (std::int64_t b = a + 1; b < C; ++b) {
      const double k = dist(pc + a * D, pc + b * D, D);
      r.k_min = std::min(r.k_min, k);
      r.k_max = std::max(r.k_max, k);
    }
  double max_own = 0;
  for (std::int64_t i = 0; i < N; ++i) max_own = std::max(max_own, dc[i * C + y[i]]);
  r.eps = std::nextafter(2 * max_own, INFINITY);  // d(x_i, c_{y_i}) < eps / 2 for every i
  r.paper_bound = r.H * (r.k_max - r.k_min + 3 * r.eps);
  r.tight_bound = 2 * r.eps * r.H;
  return r;
}

double all_triplets_loss(const Tensor& x_in, const Tensor& labels) {
  check_embeddings(x_in, "all_triplets_loss");
  check_class_labels(labels, x_in.shape()[0], /*C=*/0, "all_triplets_loss");
  const Tensor x = x_in.detach().to(DType::Float64);
  const std::int64_t N = x.shape()[0], D = x.shape()[1];
  const double* px = x.data<double>();
  const std::int64_t* y = labels.data<std::int64_t>();
  double L = 0;
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      if (j == i || y[j] != y[i]) continue;
      const double dij = dist(px + i * D, px + j * D, D);
      for (std::int64_t k = 0; k < N; ++k)
        if (y[k] != y[i]) L += dij - dist(px + i * D, px + k * D, D);
    }
  return L;
}

// sum_i [ d(x_i, c_{y_i}) - 1/(3(C-1)) sum_{m != y_i} d(x_i, c_m) ] = N * the batch mean = L_d / G
double centroid_bound_sum(const Tensor& x, const Tensor& labels, const Tensor& centroids) {
  check_inputs(x, labels, centroids, "centroid_bound_sum");
  NoGradGuard no_grad;
  return centroid_bound_loss(x.detach().to(DType::Float64), labels, centroids).item() *
         static_cast<double>(x.shape()[0]);
}

// ---------------------------------------------------------------- the Loss

CentroidKind parse_centroid_kind(const std::string& name) {
  if (name == "onehot") return CentroidKind::OneHot;
  if (name == "simplex") return CentroidKind::Simplex;
  if (name == "kmeans") return CentroidKind::KMeans;
  if (name == "random") return CentroidKind::Random;
  fail("centroid loss: unknown --centroids '", name, "' (expected onehot, simplex, kmeans or random)");
}

CentroidLoss::CentroidLoss(const LossOptions& o)
    : options_(o), centroid_(centroid_options().read(o)), kind_(parse_centroid_kind(centroid_.centroids)) {
  normalize_ = centroid_.normalize;
  const std::int64_t C = o.num_classes, D = o.emb_dim;
  if (C < 2) fail("centroid loss: need at least 2 classes, got ", C);
  Tensor c;
  switch (kind_) {
    case CentroidKind::OneHot: c = onehot_centroids(C, D); break;
    case CentroidKind::Simplex: c = simplex_centroids(C, D); break;
    case CentroidKind::Random: c = random_centroids(C, D, o.seed); break;
    case CentroidKind::KMeans: c = zeros({C, D}); break;  // filled by prepare()
  }
  centroids_ = register_buffer("centroids", c);
}

std::string CentroidLoss::name() const {
  return str_cat("CentroidLoss(", centroid_.centroids, ", C = ", options_.num_classes, ", D = ", options_.emb_dim, ")");
}

void CentroidLoss::prepare(const Tensor& embeddings, const Tensor& labels) {
  if (kind_ != CentroidKind::KMeans) return;
  NoGradGuard no_grad;
  const Tensor e = normalize_ ? normalize(embeddings.detach(), 1) : embeddings.detach();
  const Tensor k = kmeans_centroids(e, labels, options_.num_classes, options_.seed).to(centroids_.dtype());
  std::copy(k.data<float>(), k.data<float>() + k.numel(), centroids_.data<float>());
  increment_version(centroids_);
}

Tensor CentroidLoss::forward(const Tensor& embeddings, const Tensor& labels) {
  check_embeddings(embeddings, "centroid loss");  // before the normalisation: the row as it came
  if (kind_ == CentroidKind::KMeans) {
    const float* p = centroids_.data<float>();
    if (std::all_of(p, p + centroids_.numel(), [](float v) { return v == 0.0f; }))
      fail("centroid loss: the kmeans centroids are not computed yet: call prepare() with the initial embeddings");
  }
  const Tensor e = normalize_ ? normalize(embeddings, 1) : embeddings;
  return centroid_bound_loss(e, labels, centroids_);
}

Tensor CentroidLoss::metric_embedding(const Tensor& embeddings) {
  return scale_invariant() ? normalize(embeddings, 1) : embeddings;  // the loss sees only directions
}

Tensor CentroidLoss::logits(const Tensor& embeddings) {
  check_embeddings(embeddings, "centroid loss: logits");
  NoGradGuard no_grad;
  const Tensor e = normalize_ ? normalize(embeddings.detach(), 1) : embeddings.detach();
  return neg(pairwise_distances(e, centroids_.to(e.dtype())));
}

// ---------------------------------------------------------------- its options and registry entry

const OptionTable<CentroidOptions>& centroid_options() {
  static const OptionTable<CentroidOptions> table(
      "centroid",
      {option("centroids", &CentroidOptions::centroids,
              "the fixed class centroids: onehot (e_m; needs D >= C), simplex (a regular simplex; D >= C - 1), kmeans "
              "(of the initial embeddings), random (N(0, 1): the bad example)")
           .one_of({"onehot", "simplex", "kmeans", "random"}),
       option("normalize", &CentroidOptions::normalize,
              "L2-normalise the embeddings inside the loss; retrieval then compares the normalised embeddings too")});
  return table;
}

LossEntry centroid_entry() {
  TrainingDefaults d;  // the softmax loss's optimizer and learning rate: its quarter epoch of warm-up too
  d.warmup_epochs = 0.25;
  return {"centroid", "centroid upper bound of the triplet loss (Do et al. 2019), fixed centroids",
          centroid_options().specs(), d, [](const LossOptions& o) { return std::make_shared<CentroidLoss>(o); }};
}

}  // namespace chalk
