// losses/triplet.cpp — the triplet loss, explicit and mined in the batch.
// Read with docs/losses/triplet.md (the derivation); tested in tests/test_loss_triplet.cpp.
#include "losses/triplet.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/checks.h"
#include "core/exercise.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/distances.h"
#include "ops/softmax.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace chalk {

namespace {

void check_options(const TripletMining& o) {
  if (o.mining != "all" && o.mining != "hard" && o.mining != "semihard")
    fail("triplet loss: unknown mining '", o.mining, "' (expected all, hard or semihard)");
  if (o.distance != "euclidean" && o.distance != "squared" && o.distance != "cosine")
    fail("triplet loss: unknown distance '", o.distance, "' (expected euclidean, squared or cosine)");
  if (!(o.margin >= 0) || !std::isfinite(o.margin))
    fail("triplet loss: the margin must be a finite number >= 0, got ", o.margin);
  const std::string r = o.reduction.value_or(o.mining == "all" ? "nonzero" : "mean");
  if (o.mining == "all" ? !(r == "nonzero" || r == "mean" || r == "sum")
                        : !(r == "mean" || r == "sum"))
    fail("triplet loss: reduction '", r, "' does not apply to ", o.mining, " mining (expected ",
         o.mining == "all" ? "nonzero, mean or sum" : "mean or sum", ")");
}

void check_batch(const Tensor& x, const Tensor& labels, const char* op) {
  check_embeddings(x, op);
  check_class_labels(labels, x.shape()[0], /*C=*/0, op);  // the number of classes is not known here
}

// The per-triplet loss and its slope dl/dz, for z = d_ap - d_an:
//   hinge:  l = max(0, z + alpha),   slope = [z + alpha > 0]   (0 at the kink z = -alpha, like relu at 0,
//                                    for every mining: pytorch-metric-learning's choice; TF-addons'
//                                    tf.maximum passes 1 there; docs/losses/triplet.md §5)
//           (triplet_margin_loss, PyTorch's TripletMarginLoss, passes 1 there too: triplet_margin_vjp)
//   soft:   l = log(1 + e^z) = max(z, 0) + log(1 + e^-|z|)   (stable),   slope = sigmoid(z)
struct PerTriplet {
  double loss, slope;
};
inline PerTriplet per_triplet(double z, bool soft, double margin) {
  if (soft) return {std::max(z, 0.0) + std::log1p(std::exp(-std::fabs(z))), 1.0 / (1.0 + std::exp(-z))};
  const double h = z + margin;
  return h > 0 ? PerTriplet{h, 1.0} : PerTriplet{0.0, 0.0};
}

// What one anchor contributes: its loss sum and its triplet counts. (Its row of G = dloss_sum/dD
// is written straight into G.)
struct AnchorResult {
  double loss = 0;
  std::int64_t triplets = 0, active = 0;
  bool skipped = false;
};

enum class Distance { Euclidean, Squared, Cosine };

Distance distance_kind(const std::string& name) {
  if (name == "euclidean") return Distance::Euclidean;
  if (name == "squared") return Distance::Squared;
  if (name == "cosine") return Distance::Cosine;
  fail("triplet loss: unknown distance '", name, "' (expected euclidean, squared or cosine)");
}

// The values of the distance matrix of the rows of u (N x D), no autograd (the fused op below
// writes its own VJP). The euclidean/squared kernels are pairwise_(squared_)distances' own: one
// GEMM, and exact 0 for coinciding points.
Tensor distance_values(const Tensor& u, Distance kind) {
  NoGradGuard no_grad;
  const Tensor v = u.detach();
  if (kind == Distance::Euclidean) return pairwise_distances(v, v);
  if (kind == Distance::Squared) return pairwise_squared_distances(v, v);
  return rsub(1.0, matmul(v, v, false, true));  // 1 - u_i . u_j  (u normalised by the caller)
}

// Mining for one anchor a, on its row d[0..N) of the distance matrix. Adds dl/dD_aj into grow
// (the anchor's row of G) and returns the loss sum and counts. s: per-thread scratch.
//   all:       every (p, n):                          l = per_triplet(D_ap - D_an)
//   hard:      p* = argmax_p D_ap, n* = argmin_n D_an (batch_hard_pair; ties: the lowest index)
//   semihard:  for every p:  n* = argmin { D_an : D_an > D_ap },  or, if no negative is farther
//              than p, n* = argmax_n D_an                        (ties: the lowest index)
// A mined triplet (a, p, n) sends +slope to G_ap and -slope to G_an: only these entries of the
// N x N matrix get a gradient.
struct Scratch {
  std::vector<std::int64_t> pos, neg;  // this anchor's positives (p != a) and negatives, by index
  std::vector<double> dneg, gneg;      // D_an of the negatives, contiguous; their dl/dD_an
  explicit Scratch(std::int64_t N) : pos(N), neg(N), dneg(N), gneg(N) {}
};

template <class T>
AnchorResult mine_anchor(std::int64_t a, const T* d, const std::int64_t* y, std::int64_t N, const TripletMining& o,
                         double* grow, Scratch& s) {
  AnchorResult r;
  auto take = [&](std::int64_t p, std::int64_t n) {  // one mined triplet (a, p, n)
    const PerTriplet t = per_triplet(static_cast<double>(d[p]) - static_cast<double>(d[n]), o.soft_margin, o.margin);
    r.loss += t.loss;
    ++r.triplets;
    r.active += t.loss > 0;
    grow[p] += t.slope;  // dl/dD_ap = +slope
    grow[n] -= t.slope;  // dl/dD_an = -slope
  };
  if (o.mining == "hard") {  // one triplet per anchor: its farthest positive, its nearest negative
    const auto n = static_cast<std::size_t>(N);
    const HardestPair h = batch_hard_pair<T>(a, std::span<const T>(d, n), std::span<const std::int64_t>(y, n));
    if (h.positive < 0 || h.negative < 0) {  // no valid triplet with this anchor: skipped (and counted)
      r.skipped = true;
      return r;
    }
    take(h.positive, h.negative);
    return r;
  }
  std::int64_t np = 0, nn = 0;  // split the row into positives and negatives (branch-free)
  for (std::int64_t j = 0; j < N; ++j) {
    const bool same = y[j] == y[a];
    s.pos[np] = j;
    s.neg[nn] = j;
    s.dneg[nn] = d[j];
    np += same && j != a;
    nn += !same;
  }
  if (np == 0 || nn == 0) {  // no valid triplet with this anchor: skipped (and counted)
    r.skipped = true;
    return r;
  }
  const std::int64_t* pos = s.pos.data();
  const std::int64_t* neg = s.neg.data();
  const double* dn = s.dneg.data();
  if (o.mining == "all") {
    // np x nn triplets, the inner loop over this anchor's negatives only: O(K N) per anchor on
    // the N x N matrix, never an N x N x N tensor.
    double* gn = s.gneg.data();
    std::fill(gn, gn + nn, 0.0);
    for (std::int64_t i = 0; i < np; ++i) {
      const double dp = d[pos[i]];
      double slope_p = 0;  // sum over n of dl/dD_ap
      std::int64_t active = 0;
      if (o.soft_margin) {
        for (std::int64_t k = 0; k < nn; ++k) {
          const PerTriplet t = per_triplet(dp - dn[k], true, 0.0);
          r.loss += t.loss;
          active += t.loss > 0;
          slope_p += t.slope;
          gn[k] -= t.slope;
        }
      } else {
        for (std::int64_t k = 0; k < nn; ++k) {  // hinge: slope 1 where dp - dn + alpha > 0, else 0
          const double h = dp - dn[k] + o.margin;
          const double on = h > 0 ? 1.0 : 0.0;
          r.loss += on * h;
          active += h > 0;
          slope_p += on;
          gn[k] -= on;
        }
      }
      grow[pos[i]] += slope_p;
      r.active += active;
      r.triplets += nn;
    }
    for (std::int64_t k = 0; k < nn; ++k) grow[neg[k]] += gn[k];
  } else {  // semihard
    std::int64_t k_far = 0;  // the farthest negative, independent of p
    for (std::int64_t k = 1; k < nn; ++k) k_far = dn[k] > dn[k_far] ? k : k_far;
    for (std::int64_t i = 0; i < np; ++i) {
      const double dp = d[pos[i]];
      // the nearest negative farther than p: first its distance (a plain min), then its index
      constexpr double inf = std::numeric_limits<double>::infinity();
      double best = inf;
      for (std::int64_t k = 0; k < nn; ++k) {
        const double v = dn[k] > dp ? dn[k] : inf;  // only negatives beyond p compete
        best = v < best ? v : best;
      }
      std::int64_t k_beyond = -1;
      if (best < inf)
        for (k_beyond = 0; dn[k_beyond] != best; ++k_beyond) {}  // the lowest index on ties
      take(pos[i], neg[k_beyond >= 0 ? k_beyond : k_far]);
    }
  }
  return r;
}

}  // namespace

template <class T>
HardestPair batch_hard_pair(std::int64_t anchor, std::span<const T> distances, std::span<const std::int64_t> labels) {
  const auto N = static_cast<std::int64_t>(distances.size());
  if (static_cast<std::int64_t>(labels.size()) != N)
    fail("batch_hard_pair: ", N, " distances but ", labels.size(),
         " labels (expected the anchor's row of the N x N distance matrix and the batch's N labels)");
  if (anchor < 0 || anchor >= N) fail("batch_hard_pair: anchor ", anchor, " is outside [0, ", N, ")");
  // ---- exercise 08 begin: docs/exercises/08-triplet-loss.md ----
  // One pass over the row, keeping the farthest positive and the nearest negative so far (and
  // their distances). The strict comparisons keep the first one met, the lowest index, on ties.
  HardestPair h;
  const T* d = distances.data();
  const std::int64_t* y = labels.data();
  const std::int64_t ya = y[anchor];
  T far_p = 0, near_n = 0;
  for (std::int64_t j = 0; j < N; ++j) {
    const T dj = d[j];
    if (y[j] == ya) {
      if (j != anchor && (h.positive < 0 || dj > far_p)) h.positive = j, far_p = dj;  // not its own positive
    } else if (h.negative < 0 || dj < near_n) {
      h.negative = j, near_n = dj;
    }
  }
  return h;
  // ---- exercise 08 end ----
}

template HardestPair batch_hard_pair<float>(std::int64_t, std::span<const float>, std::span<const std::int64_t>);
template HardestPair batch_hard_pair<double>(std::int64_t, std::span<const double>, std::span<const std::int64_t>);

Tensor triplet_distance_matrix(const Tensor& e, const std::string& distance) {
  check_embeddings(e, "triplet_distance_matrix");
  switch (distance_kind(distance)) {
    case Distance::Euclidean: return pairwise_distances(e, e);
    case Distance::Squared: return pairwise_squared_distances(e, e);
    case Distance::Cosine: break;
  }
  return rsub(1.0, cosine_similarity_matrix(e, e));  // d = 1 - cos
}

// ---------------------------------------------------------------- mining, fused (the hand VJP)
//
// Forward, for embeddings u (N x D, rows already normalised if asked) and labels y:
//   1. the distance matrix, once:   euclidean  D_ij = ||u_i - u_j||
//                                   squared    D_ij = ||u_i - u_j||^2
//                                   cosine     D_ij = 1 - u_i . u_j   (u_i unit vectors)
//   2. mine each anchor's row (mine_anchor above) and sum the per-triplet losses l
//   3. loss = (sum of l) / count,   count = active triplets (all, "nonzero"), all mined
//      triplets ("mean"), or 1 ("sum"); no triplet at all: loss 0
//
// VJP, g = dJ/dloss (J the final objective). Which triplets were mined is piecewise constant in
// u: no gradient flows through the choice, only through the distances of the mined triplets.
//   dJ/dD = s G,  s = g / count,  G_ap = sum of the slopes of the mined triplets using (a, p),
//                                 G_an = minus the sum of the slopes of those using (a, n)
// Then through the distance matrix, with S = h + h^T (N x N) and
//   euclidean: h_ij = s G_ij / D_ij  (0 where D_ij = 0: the kink, see below)
//     dD_ij/du_i = (u_i - u_j) / D_ij, dD_ij/du_j = -(u_i - u_j) / D_ij, so
//     du_k = sum_j (h_kj + h_jk)(u_k - u_j) = rowsum(S)_k u_k - (S u)_k
//   squared:   h_ij = s G_ij,   dD_ij/du_i = 2 (u_i - u_j):  du = 2 (rowsum(S) * u - S u)
//   cosine:    h_ij = s G_ij,   dD_ij/du_i = -u_j:           du = -S u
// S u is one N x N x D GEMM: the whole backward is O(N^2 D), like the forward.
// Kinks: at D_ij = 0 (u_i = u_j, e.g. a collapsed batch) the Euclidean distance is a cone; we
// take the subgradient 0 (as pairwise_distances does), so nothing is NaN. The hinge at exactly
// z + alpha = 0 has slope 0 (as relu at 0). Ties in max/min go to the lowest index.
// mined_triplet_loss's VJP, right below it.
static void mined_triplet_backward(const Tensor& u, const Tensor& Dm, const Tensor& G, double inv_count, Distance kind,
                                   const Tensor& g, Grads& dx);

static Tensor mined_triplet_loss(const Tensor& u, const Tensor& labels, const TripletMining& o, TripletStats* stats) {
  const Distance kind = distance_kind(o.distance);
  const std::int64_t N = u.shape()[0];
  const std::int64_t* y = labels.data<std::int64_t>();
  const Tensor Dm = distance_values(u, kind);   // D, N x N, in u's dtype
  Tensor G = zeros({N, N}, DType::Float64);     // dloss_sum/dD, one row per anchor
  std::vector<AnchorResult> per(static_cast<std::size_t>(N));
  dispatch_float(u.dtype(), "triplet loss", [&](auto tag) {
    using T = decltype(tag);
    const T* d = Dm.data<T>();
    double* g = G.data<double>();
    // OpenMP over anchors; each anchor writes only its own row of G and its own result.
    const std::int64_t grain = std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(N * 16, 1));
    parallel_for(N, grain, [&](std::int64_t a0, std::int64_t a1) {
      Scratch scratch(N);
      for (std::int64_t a = a0; a < a1; ++a) per[a] = mine_anchor<T>(a, d + a * N, y, N, o, g + a * N, scratch);
    });
  });
  // Combine the anchors in order: the same numbers whatever the thread count.
  double total = 0;
  TripletStats st;
  for (const AnchorResult& r : per) {
    total += r.loss;
    st.triplets += r.triplets;
    st.active += r.active;
    st.skipped_anchors += r.skipped;
  }
  const std::string red = o.reduction.value_or(o.mining == "all" ? "nonzero" : "mean");
  const double count = red == "sum" ? 1.0 : static_cast<double>(red == "nonzero" ? st.active : st.triplets);
  const double inv_count = count > 0 ? 1.0 / count : 0.0;  // no triplet at all: loss 0, gradient 0
  if (stats) *stats = st;
  Tensor loss = full({}, total * inv_count, u.dtype());
  record(loss, "batch_triplet_loss", {u}, Saved{.inputs = {0}},
         [u = u.detach(), Dm, G, inv_count, kind](const Tensor& g, Grads& dx) {
           mined_triplet_backward(u, Dm, G, inv_count, kind, g, dx);
         });
  return loss;
}

// mined_triplet_loss's VJP (the formulas above it): g = dJ/dloss, a scalar; u the embeddings the
// distances were taken of, Dm their distance matrix, G = dloss_sum/dD of the mined triplets.
static void mined_triplet_backward(const Tensor& u, const Tensor& Dm, const Tensor& G, double inv_count, Distance kind,
                                   const Tensor& g, Grads& dx) {
  const std::int64_t N = u.shape()[0], D = u.shape()[1];
  Tensor du = Tensor::empty(u.shape(), u.dtype());
  dispatch_float(u.dtype(), "batch_triplet_loss backward", [&](auto tag) {
    using T = decltype(tag);
    const double s = static_cast<double>(g.data<T>()[0]) * inv_count;  // s = g / count
    const T *pu = u.data<T>(), *pd = Dm.data<T>();
    const double* pG = G.data<double>();
    // h_ij = s G_ij f'(D_ij)  (euclidean f' = 1 / D_ij, 0 at the kink D_ij = 0; else 1)
    const bool euclid = kind == Distance::Euclidean;
    auto h = [&](std::int64_t ij) {
      if (pG[ij] == 0) return 0.0;  // not a mined entry (most of them)
      if (!euclid) return s * pG[ij];
      return pd[ij] > 0 ? s * pG[ij] / static_cast<double>(pd[ij]) : 0.0;
    };
    // S = h + h^T (symmetric: one pass over the pairs i <= j)
    std::vector<T> S(static_cast<std::size_t>(N * N));
    for (std::int64_t i = 0; i < N; ++i)
      for (std::int64_t j = i; j < N; ++j) S[i * N + j] = S[j * N + i] = static_cast<T>(h(i * N + j) + h(j * N + i));
    T* out = du.data<T>();
    if (kind == Distance::Cosine) {
      gemm<T>(false, false, N, D, N, T(-1), S.data(), N, pu, D, T(0), out, D);  // du = -S u
    } else {
      // du = c (rowsum(S) * u - S u): the pairwise-distance VJP of ops/distances (with
      // x = y = u, whose two halves add up to S = h + h^T); squared: c = 2, from 2 (u_i - u_j)
      const double c = kind == Distance::Squared ? 2.0 : 1.0;
      kernels::pairwise_vjp_rows<T>(false, S.data(), N, N, pu, pu, D, c, out);
    }
  });
  dx.add(0, du);
}

// The L2 normalisation (if asked) and, for the cosine distance, the unit rows are ops with their
// own VJPs (ops/distances.cpp); everything after them is the one fused op above.
Tensor batch_triplet_loss(const Tensor& embeddings, const Tensor& labels, const TripletMining& o,
                          TripletStats* stats) {
  check_options(o);
  check_batch(embeddings, labels, "triplet loss");
  Tensor u = o.normalize ? normalize(embeddings, 1) : embeddings;
  if (o.distance == "cosine") u = normalize(u, 1);  // cos(u_i, u_j) = u_i . u_j for unit rows
  return mined_triplet_loss(u, labels, o, stats);
}

// ---------------------------------------------------------------- the composed twin
//
// The same loss from autograd ops only (the distance ops, constant masks, max/min, where, relu or
// softplus, sums); the mining choices are made by max/min (ties: the lowest index) on the same
// values. Batch-all and semi-hard go one anchor at a time over its row D[a, :]: N x N
// temporaries per anchor, never an N x N x N tensor.
Tensor batch_triplet_loss_composed(const Tensor& embeddings, const Tensor& labels, const TripletMining& o) {
  check_options(o);
  check_batch(embeddings, labels, "triplet loss");
  const std::int64_t N = embeddings.shape()[0];
  const DType dt = embeddings.dtype();
  const Tensor e = o.normalize ? normalize(embeddings, 1) : embeddings;
  const Tensor D = triplet_distance_matrix(e, o.distance);
  // Masks (constants): P[a, p] = 1 for a positive p != a;  Q[a, n] = 1 for a negative n.
  const std::int64_t* y = labels.data<std::int64_t>();
  Tensor P = zeros({N, N}, DType::Float64), Q = zeros({N, N}, DType::Float64);
  for (std::int64_t a = 0; a < N; ++a)
    for (std::int64_t j = 0; j < N; ++j) {
      P.data<double>()[a * N + j] = (j != a && y[j] == y[a]) ? 1.0 : 0.0;
      Q.data<double>()[a * N + j] = y[j] != y[a] ? 1.0 : 0.0;
    }
  P = P.to(dt);
  Q = Q.to(dt);
  auto loss_of = [&](const Tensor& z) { return o.soft_margin ? softplus(z) : relu(add(z, o.margin)); };
  const std::string red = o.reduction.value_or(o.mining == "all" ? "nonzero" : "mean");
  const double big = 1e30;  // stands in for +-infinity in the masked max/min (inf - inf would be NaN)
  const Tensor has_both = mul(gt(sum(P, 1), 0.5), gt(sum(Q, 1), 0.5));  // anchors with a valid triplet
  auto reduce = [&](const Tensor& total, double count) {
    return count > 0 ? mul(total, 1.0 / count) : mul(total, 0.0);  // no triplet: 0, gradient 0
  };
  if (o.mining == "hard") {
    const Tensor d_ap = max(where(P, D, full({}, -big, dt)), 1);  // farthest positive, per anchor
    const Tensor d_an = min(where(Q, D, full({}, big, dt)), 1);   // nearest negative
    const Tensor l = mul(loss_of(sub(d_ap, d_an)), has_both);
    return reduce(sum(l), red == "sum" ? 1.0 : sum(has_both).item());
  }
  std::vector<Tensor> anchor_sums;
  double count = 0;
  for (std::int64_t a = 0; a < N; ++a) {
    if (has_both.to(DType::Float64).data<double>()[a] == 0) continue;
    const Tensor row = slice(D, 0, a, a + 1);                       // D[a, :]     1 x N
    const Tensor col = row.reshape({N, 1});                         // D[a, p]     N x 1
    const Tensor Pa = slice(P, 0, a, a + 1).reshape({N, 1}), Qa = slice(Q, 0, a, a + 1);
    if (o.mining == "all") {
      const Tensor Z = sub(col, row);      // Z[p, n] = D_ap - D_an             N x N
      const Tensor M = mul(Pa, Qa);        // valid (p, n)
      const Tensor L = mul(loss_of(Z), M);
      anchor_sums.push_back(sum(L));
      count += red == "mean" ? sum(M).item() : sum(gt(L.detach(), 0.0)).item();
    } else {  // semihard
      // beyond[p, n] = 1 for a negative n farther than p (a constant: the choice has no gradient)
      const Tensor beyond = mul(Qa, gt(sub(row, col).detach(), 0.0));
      const Tensor d_beyond = min(where(beyond, row, full({}, big, dt)), 1);  // nearest such n, per p
      const Tensor has_beyond = gt(sum(beyond, 1), 0.5);
      const Tensor d_far = max(where(Qa, row, full({}, -big, dt)));           // the farthest negative
      const Tensor d_an = where(has_beyond, d_beyond, d_far);                  // N
      const Tensor l = mul(loss_of(sub(row.reshape({N}), d_an)), Pa.reshape({N}));
      anchor_sums.push_back(sum(l));
      count += sum(Pa).item();
    }
  }
  if (anchor_sums.empty()) return mul(sum(D), 0.0);
  return reduce(sum(stack(anchor_sums, 0)), red == "sum" ? 1.0 : count);
}

// ---------------------------------------------------------------- explicit triplets (PyTorch)
namespace {

void check_explicit(const Tensor& a, const Tensor& p, const Tensor& n, double margin, double eps,
                    const std::string& reduction) {
  // each one defined, N x D, floating point and finite (core/checks.h), named as PyTorch names them
  check_embeddings(a, "triplet_margin_loss", "anchor");
  check_embeddings(p, "triplet_margin_loss", "positive");
  check_embeddings(n, "triplet_margin_loss", "negative");
  if (a.shape() != p.shape() || a.shape() != n.shape())
    fail("triplet_margin_loss: anchor, positive and negative must all be N x D, got ", shape_str(a.shape()), ", ",
         shape_str(p.shape()), ", ", shape_str(n.shape()));
  if (a.dtype() != p.dtype() || a.dtype() != n.dtype()) fail("triplet_margin_loss: dtypes differ");
  if (!(margin >= 0) || !std::isfinite(margin))
    fail("triplet_margin_loss: the margin must be a finite number >= 0, got ", margin);
  if (!std::isfinite(eps)) fail("triplet_margin_loss: eps must be finite, got ", eps);
  if (reduction != "mean" && reduction != "sum" && reduction != "none")
    fail("triplet_margin_loss: unknown reduction '", reduction, "' (expected mean, sum or none)");
}

}  // namespace

template <class T>
TripletDistances triplet_distances(std::span<const T> a, std::span<const T> p, std::span<const T> n, double eps,
                                   bool swap) {
  if (p.size() != a.size() || n.size() != a.size())
    fail("triplet_distances: anchor, positive and negative rows must have the same length, got ", a.size(), ", ",
         p.size(), ", ", n.size());
  auto dist = [eps](std::span<const T> u, std::span<const T> v) {  // ||u - v + eps 1||, summed in double
    double s = 0;
    for (std::size_t k = 0; k < u.size(); ++k) {
      const double t = static_cast<double>(u[k]) - v[k] + eps;
      s += t * t;
    }
    return std::sqrt(s);
  };
  TripletDistances t;
  t.d_ap = dist(a, p);
  t.d_an = dist(a, n);
  if (swap) {
    const double d_pn = dist(p, n);
    if (d_pn < t.d_an) t.d_an = d_pn, t.swapped = true;
  }
  return t;
}

template <class T>
void triplet_margin_vjp(std::span<const T> a, std::span<const T> p, std::span<const T> n, const TripletDistances& t,
                        double margin, double eps, double w, std::span<T> da, std::span<T> dp, std::span<T> dn) {
  const std::size_t D = a.size();
  if (p.size() != D || n.size() != D || da.size() != D || dp.size() != D || dn.size() != D)
    fail("triplet_margin_vjp: the rows a, p, n, da, dp, dn must all have D = ", D, " values, got ", p.size(), ", ",
         n.size(), ", ", da.size(), ", ", dp.size(), ", ", dn.size());
  // ---- exercise 08 begin: docs/exercises/08-triplet-loss.md ----
  // l = max(0, h), h = d_ap - d_an + margin. Slope 1 for h >= 0 (at h = 0 exactly, PyTorch's
  // clamp_min passes the gradient, and so do we), 0 below: an inactive triplet sends nothing.
  // With grad_x ||x - y + eps 1|| = (x - y + eps 1) / d:
  //   u = (a - p + eps) / d_ap:                 da += w u,  dp -= w u
  //   v = (a - n + eps) / d_an (no swap taken): da -= w v,  dn += w v
  //   v = (p - n + eps) / d_pn (swap taken):    dp -= w v,  dn += w v   (d_an no longer depends on a)
  // A distance of 0 (only with eps = 0) is the cone's tip: its term sends 0.
  if (!(t.d_ap - t.d_an + margin >= 0)) return;  // inactive (or nan): no gradient
  for (std::size_t k = 0; k < D; ++k) {
    const double u = t.d_ap > 0 ? (static_cast<double>(a[k]) - p[k] + eps) / t.d_ap : 0.0;
    da[k] += static_cast<T>(w * u);
    dp[k] -= static_cast<T>(w * u);
    if (t.swapped) {
      const double v = t.d_an > 0 ? (static_cast<double>(p[k]) - n[k] + eps) / t.d_an : 0.0;
      dp[k] -= static_cast<T>(w * v);
      dn[k] += static_cast<T>(w * v);
    } else {
      const double v = t.d_an > 0 ? (static_cast<double>(a[k]) - n[k] + eps) / t.d_an : 0.0;
      da[k] -= static_cast<T>(w * v);
      dn[k] += static_cast<T>(w * v);
    }
  }
  // ---- exercise 08 end ----
}

template TripletDistances triplet_distances<float>(std::span<const float>, std::span<const float>,
                                                   std::span<const float>, double, bool);
template TripletDistances triplet_distances<double>(std::span<const double>, std::span<const double>,
                                                    std::span<const double>, double, bool);
template void triplet_margin_vjp<float>(std::span<const float>, std::span<const float>, std::span<const float>,
                                        const TripletDistances&, double, double, double, std::span<float>,
                                        std::span<float>, std::span<float>);
template void triplet_margin_vjp<double>(std::span<const double>, std::span<const double>, std::span<const double>,
                                         const TripletDistances&, double, double, double, std::span<double>,
                                         std::span<double>, std::span<double>);

// triplet_margin_loss's VJP, right below it.
static void triplet_margin_backward(const Tensor& a, const Tensor& p, const Tensor& n,
                                    const std::vector<TripletDistances>& dist, double margin, double eps,
                                    const std::string& reduction, const Tensor& g, Grads& dx);

// l_i = max(0, d(a_i, p_i) - d(a_i, n_i) + margin),   d(u, v) = ||u - v + eps||
// swap: d(a_i, n_i) := min(d(a_i, n_i), d(p_i, n_i))
// Forward: triplet_distances on each row. VJP: triplet_margin_vjp on each row, with
// w_i = dL/dl_i (g_i for none, g for sum, g/N for mean).
Tensor triplet_margin_loss(const Tensor& a, const Tensor& p, const Tensor& n, double margin, double eps, bool swap,
                           const std::string& reduction) {
  check_explicit(a, p, n, margin, eps, reduction);
  const std::int64_t N = a.shape()[0], D = a.shape()[1];
  Tensor per = Tensor::empty({N}, a.dtype());
  std::vector<TripletDistances> dist(static_cast<std::size_t>(N));  // kept for the VJP
  dispatch_float(a.dtype(), "triplet_margin_loss", [&](auto tag) {
    using T = decltype(tag);
    const T *pa = a.data<T>(), *pp = p.data<T>(), *pn = n.data<T>();
    const auto d = static_cast<std::size_t>(D);
    for (std::int64_t i = 0; i < N; ++i) {
      const TripletDistances& t = dist[i] = triplet_distances<T>({pa + i * D, d}, {pp + i * D, d}, {pn + i * D, d}, eps, swap);
      const double h = t.d_ap - t.d_an + margin;
      per.data<T>()[i] = static_cast<T>(h < 0.0 ? 0.0 : h);  // max(0, h); a nan stays nan (std::max(0.0, nan) is 0)
    }
  });
  Tensor out = reduction == "none" ? per : (reduction == "sum" ? sum(per.detach()) : mean(per.detach()));
  record(out, "triplet_margin_loss", {a, p, n}, Saved{.inputs = {0, 1, 2}},
         [a = a.detach(), p = p.detach(), n = n.detach(), dist, eps, margin, reduction](const Tensor& g, Grads& dx) {
           triplet_margin_backward(a, p, n, dist, margin, eps, reduction, g, dx);
         });
  return out;
}

// triplet_margin_loss's VJP: triplet_margin_vjp on each row, with w_i = dL/dl_i from the
// upstream gradient g (g_i for none, g for sum, g/N for mean).
static void triplet_margin_backward(const Tensor& a, const Tensor& p, const Tensor& n,
                                    const std::vector<TripletDistances>& dist, double margin, double eps,
                                    const std::string& reduction, const Tensor& g, Grads& dx) {
  const std::int64_t N = a.shape()[0], D = a.shape()[1];
  Tensor ga = zeros(a.shape(), a.dtype()), gp = zeros(a.shape(), a.dtype()), gn = zeros(a.shape(), a.dtype());
  dispatch_float(a.dtype(), "triplet_margin_loss backward", [&](auto tag) {
    using T = decltype(tag);
    const T *pa = a.data<T>(), *pp = p.data<T>(), *pn = n.data<T>(), *pg = g.data<T>();
    T *da = ga.data<T>(), *dp = gp.data<T>(), *dn = gn.data<T>();
    const auto d = static_cast<std::size_t>(D);
    for (std::int64_t i = 0; i < N; ++i) {
      const double w = reduction == "none" ? pg[i] : (reduction == "sum" ? pg[0] : pg[0] / N);
      triplet_margin_vjp<T>({pa + i * D, d}, {pp + i * D, d}, {pn + i * D, d}, dist[i], margin, eps, w,
                            {da + i * D, d}, {dp + i * D, d}, {dn + i * D, d});
    }
  });
  dx.add(0, ga);
  dx.add(1, gp);
  dx.add(2, gn);
}

Tensor triplet_margin_loss_composed(const Tensor& a, const Tensor& p, const Tensor& n, double margin, double eps,
                                    bool swap, const std::string& reduction) {
  check_explicit(a, p, n, margin, eps, reduction);
  auto dist = [eps](const Tensor& u, const Tensor& v) { return sqrt(sum(square(add(sub(u, v), eps)), 1)); };
  const Tensor d_ap = dist(a, p);
  Tensor d_an = dist(a, n);
  if (swap) {
    const Tensor d_pn = dist(p, n);
    d_an = where(lt(sub(d_pn, d_an).detach(), 0.0), d_pn, d_an);  // min(d_an, d_pn)
  }
  const Tensor l = clamp_min(add(sub(d_ap, d_an), margin), 0.0);  // PyTorch's clamp_min: gradient 1 at the edge
  if (reduction == "none") return l;
  return reduction == "sum" ? sum(l) : mean(l);
}

// ---------------------------------------------------------------- the Loss

TripletLoss::TripletLoss(const LossOptions& o) : mining_(triplet_options().read(o)) { check_options(mining_); }

Tensor TripletLoss::forward(const Tensor& embeddings, const Tensor& labels) {
  return batch_triplet_loss(embeddings, labels, mining_, &stats_);
}

Tensor TripletLoss::metric_embedding(const Tensor& embeddings) {
  return scale_invariant() ? normalize(embeddings, 1) : embeddings;  // the loss sees only directions
}

std::string TripletLoss::name() const {
  return str_cat("TripletLoss(mining ", mining_.mining, ", ", mining_.distance, ", ",
                 mining_.soft_margin ? std::string("soft margin") : str_cat("margin ", mining_.margin),
                 mining_.normalize ? ", normalised" : "", ")");
}

// ---------------------------------------------------------------- its options and registry entry

const OptionTable<TripletMining>& triplet_options() {
  static const OptionTable<TripletMining> table(
      "triplet",
      {option("mining", &TripletMining::mining,
              "which triplets of a P x K batch enter the loss: all (batch-all), hard (each anchor's farthest positive "
              "and nearest negative), semihard (each positive pair with the nearest negative beyond the positive)")
           .one_of({"all", "hard", "semihard"}),
       option("distance", &TripletMining::distance, "d(a, b): euclidean (the L2 distance), squared (its square), cosine (1 - cos)")
           .one_of({"euclidean", "squared", "cosine"}),
       option("margin", &TripletMining::margin, "alpha of the hinge max(0, d(a, p) - d(a, n) + alpha)").at_least(0),
       option("soft_margin", &TripletMining::soft_margin, "softplus(d(a, p) - d(a, n)) instead of the hinge (no alpha)"),
       option("reduction", &TripletMining::reduction,
              "how the batch's triplet losses are combined: nonzero (batch-all only: the mean over the triplets with a "
              "positive loss, pytorch-metric-learning's AvgNonZero), mean, sum")
           .one_of({"nonzero", "mean", "sum"})
           .default_is("nonzero for all, mean for hard and semihard"),
       option("normalize", &TripletMining::normalize,
              "L2-normalise the embeddings inside the loss; retrieval then compares the normalised embeddings too")});
  return table;
}

LossEntry triplet_entry() {
  // Batch-hard triplet training starts on a plateau (every hardest negative as near as the
  // hardest positive: the loss sits at the margin). Adam leaves it within an epoch; SGD with
  // momentum had not left it after 5 epochs (docs/losses/triplet.md, section 13).
  TrainingDefaults d;
  d.optimizer = "adam";
  return {"triplet", "triplet loss with in-batch mining (all, hard, semihard) on P x K batches", triplet_options().specs(),
          d, [](const LossOptions& o) { return std::make_shared<TripletLoss>(o); }};
}

}  // namespace chalk
