// losses/centroid.h — the centroid upper bound of the triplet loss
// (Do, Tran, Reid, Kumar, Hoang, Carneiro, CVPR 2019, arXiv 1904.08720).
// Derivation: docs/losses/centroid.md.  Tests: tests/test_loss_centroid.cpp.
//
// Drop the margin and hinge of the triplet loss and sum over all triplets:
//     L_t = sum_{y_i = y_j != y_k, i != j}  d(x_i, x_j) - d(x_i, x_k)
// Two triangle inequalities through fixed class centroids c_m bound each term:
//     l_d(i, j, k) = d(x_i, c_{y_i}) + d(x_j, c_{y_j}) + d(x_k, c_{y_k}) - d(x_i, c_{y_k})  >=  l_t(i, j, k)
// and counting how often each distance appears collapses the cubic sum into a linear one:
//     L_d = G sum_i ( d(x_i, c_{y_i}) - 1/(3(C-1)) sum_{m != y_i} d(x_i, c_m) ),   G = 3 (C-1)(n-1) n
// Training minimises the per-sample bracket averaged over the batch (G only rescales the
// learning rate): O(N C D) per batch instead of O(N^3 D / C).
#pragma once

#include <string>

#include "core/random.h"
#include "core/tensor.h"
#include "losses/loss.h"

namespace chalk {

// ---- fixed centroids, C x D ----
// c_m = e_m (the m-th unit vector); needs D >= C. Distinct centroids are sqrt(2) apart.
Tensor onehot_centroids(std::int64_t C, std::int64_t D, DType dtype = DType::Float32);
// A regular simplex: C unit vectors, all pairwise distances sqrt(2C/(C-1)); needs D >= C - 1.
Tensor simplex_centroids(std::int64_t C, std::int64_t D, DType dtype = DType::Float32);
// Independent N(0, 1) entries: the bad example (k_max - k_min is large).
Tensor random_centroids(std::int64_t C, std::int64_t D, std::uint64_t seed, DType dtype = DType::Float32);
// K-means (K = C) of the given embeddings; cluster j becomes the centroid of the class it
// shares most samples with (greedy matching: the largest overlap first).
Tensor kmeans_centroids(const Tensor& embeddings, const Tensor& labels, std::int64_t C, std::uint64_t seed);

// ---- the loss ----
// mean_i [ d(x_i, c_{y_i}) - 1/(3(C-1)) sum_{m != y_i} d(x_i, c_m) ]
// x: N x D, labels: N int64 in [0, C), centroids: C x D (constant). A fused op with the
// hand-derived VJP. Source: Do et al., "A Theoretically Sound Upper Bound on the Triplet Loss
// for Improving the Efficiency of Deep Distance Metric Learning", CVPR 2019.
// Throws chalk::Error (naming the function and the argument) when x or the centroids are not
// floating-point matrices of matching width or hold a non-finite value (with the index of the
// first), when C < 2, or when a label is outside [0, C). The same checks hold for every function
// below that takes embeddings (centroid_bound_report, all_triplets_loss, centroid_bound_sum,
// kmeans_centroids).
Tensor centroid_bound_loss(const Tensor& x, const Tensor& labels, const Tensor& centroids);
// The same value built only from autograd ops (sub, square, sum, sqrt, mul, mean): the twin
// the tests compare the hand-derived VJP against.
Tensor centroid_bound_loss_composed(const Tensor& x, const Tensor& labels, const Tensor& centroids);

// ---- the pieces centroid_bound_loss and centroid_bound_report are made of ----
// d_im = ||x_i - c_m||_2, summed in float64: N x C, float64. x: N x D, centroids: C x D, both
// float32 or float64 (the same dtype). Throws chalk::Error naming the shapes or dtypes when
// they do not fit. (Like torch.cdist(x, c), but each entry summed directly, not by the GEMM
// expansion: no cancellation for a sample near a centroid.)
Tensor centroid_distances(const Tensor& x, const Tensor& centroids);
// The VJP of centroid_bound_loss: dJ/dx (N x D, x's dtype) for the upstream gradient g = dJ/dL
// (a number; L is the batch mean above, so each row also carries 1/N). x: N x D, labels: N int64
// in [0, C), centroids: C x D in x's dtype (constants: they get no gradient), dists: their
// centroid_distances (N x C, float64), kept by the forward. At d_im = 0 (a sample exactly on a
// centroid) the norm has a kink: that term sends 0 (the subgradient of least norm), never NaN.
// Throws chalk::Error naming the argument when a shape or dtype does not fit. Source: Do et al.
// (CVPR 2019); derivation docs/losses/centroid.md §4; exercise 09
// (docs/exercises/09-centroid-bound.md).
Tensor centroid_bound_loss_vjp(const Tensor& x, const Tensor& labels, const Tensor& centroids, const Tensor& dists,
                               double g);
// The linear form of L_d, one row per sample. L_d is the sum over all triplets (i, j, k) of the
// batch (y_j = y_i, j != i, y_k != y_i) of
//     l_d(i, j, k) = d(x_i, c_{y_i}) + d(x_j, c_{y_j}) + d(x_k, c_{y_k}) - d(x_i, c_{y_k});
// every term is the distance of one sample to one centroid, and row s is the sum of the terms
// that are sample s's: sum_s rows[s] = L_d, for any class sizes (classes absent from the batch,
// classes of one sample). Each row is a weighted sum of that sample's C distances, found by
// counting: O(N C) for the whole batch instead of the O(N^3 / C) triplets.
// dists: N x C float64, d(x_i, c_m) (centroid_distances); labels: N int64 in [0, C). Returns N
// float64 values, in the units of the distances. Throws chalk::Error when dists is not an N x C
// float64 matrix with C >= 2, or a label is outside [0, C). Source: Do et al. (CVPR 2019), whose
// counting for balanced classes this generalises; derivation docs/losses/centroid.md §3;
// exercise 09 (docs/exercises/09-centroid-bound.md).
Tensor centroid_bound_rows(const Tensor& dists, const Tensor& labels);

// ---- the theorem, as numbers (all computed in float64 on detached data) ----
struct CentroidBoundReport {
  double L_t = 0;          // sum over all triplets of d(x_i,x_j) - d(x_i,x_k)       (cubic)
  double L_d = 0;          // sum over all triplets of l_d(i,j,k)                    (cubic)
  double L_d_linear = 0;   // the same sum by the linear (counting) formula: centroid_bound_rows
  double H = 0;            // number of triplets, N (n-1)(N-n) when balanced
  double G = 0;            // 3 (C-1)(n-1) n when balanced (0 if unbalanced)
  double k_min = 0, k_max = 0;  // smallest / largest distance between two distinct centroids
  double eps = 0;          // smallest eps with d(x_i, c_{y_i}) < eps / 2 for all i
  double paper_bound = 0;  // H (k_max - k_min + 3 eps): the paper's  L_d - L_t <= paper_bound
  double tight_bound = 0;  // 2 eps H: our tighter  L_d - L_t < tight_bound
  std::int64_t triplets = 0;
};
// Cubic in N: for small batches (tests, demos). Labels must be in [0, C).
CentroidBoundReport centroid_bound_report(const Tensor& x, const Tensor& labels, const Tensor& centroids);
// For the cost benchmark (bench/bench_centroid_cost.cpp, demo 07), in float64 on detached data:
// L_t alone, sum over all triplets of d(x_i,x_j) - d(x_i,x_k) (cubic in N) ...
double all_triplets_loss(const Tensor& x, const Tensor& labels);
// ... and the linear bound's sum over the batch (what training costs, linear in N):
//   sum_i [ d(x_i, c_{y_i}) - 1/(3(C-1)) sum_{m != y_i} d(x_i, c_m) ]  =  N centroid_bound_loss
// This is L_d / G, not L_d: for a balanced batch L_d = G times it (CentroidBoundReport's
// L_d_linear, G = 3(C-1)(n-1)n); G is a constant that needs balanced classes, so the sum is
// what is timed. Labels in [0, C).
double centroid_bound_sum(const Tensor& x, const Tensor& labels, const Tensor& centroids);

// ---- the Loss for chalk-train: --loss centroid --centroids onehot|simplex|kmeans|random ----
enum class CentroidKind { OneHot, Simplex, KMeans, Random };
// "onehot" | "simplex" | "kmeans" | "random"; throws chalk::Error naming the choices otherwise.
CentroidKind parse_centroid_kind(const std::string& name);

// Its options, with their defaults (the one place they are written) ...
struct CentroidOptions {
  std::string centroids = "onehot";  // onehot | simplex | kmeans | random: the fixed c_m above
  // L2-normalise the embeddings first. The bound needs no normalisation (docs/losses/centroid.md
  // section 3), but on MNIST the unit sphere trained better (docs/losses.md, "The centroid bound
  // on MNIST: what was tried").
  bool normalize = true;
};
// ... their table (losses/centroid.cpp), naming them for chalk-train, config.json and the docs ...
const OptionTable<CentroidOptions>& centroid_options();
// ... and its LossEntry, with its TrainingDefaults (losses/registry.cpp lists it).
LossEntry centroid_entry();

class CentroidLoss : public Loss {
 public:
  explicit CentroidLoss(const LossOptions& options);
  Tensor forward(const Tensor& embeddings, const Tensor& labels) override;
  // -d(x, c_m): argmax = the nearest centroid.
  Tensor logits(const Tensor& embeddings) override;
  // What retrieval compares: the L2-normalised embeddings when the loss normalises (it
  // then only ever sees directions), else the embeddings themselves.
  Tensor metric_embedding(const Tensor& embeddings) override;
  bool scale_invariant() const override { return normalize_; }
  // kmeans centroids are computed in prepare() from the initial embeddings.
  bool needs_data_pass() const override { return kind_ == CentroidKind::KMeans; }
  void prepare(const Tensor& embeddings, const Tensor& labels) override;
  std::string name() const override;
  const Tensor& centroids() const { return centroids_; }

 private:
  LossOptions options_;        // num_classes, emb_dim, seed
  CentroidOptions centroid_;  // centroids, normalize
  CentroidKind kind_ = CentroidKind::OneHot;
  bool normalize_ = false;
  Tensor centroids_;  // buffer "centroids", C x D
};

}  // namespace chalk
