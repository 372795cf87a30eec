// losses/triplet.cpp — the triplet loss, explicit and mined in the batch.
// Read with docs/losses/triplet.md (the derivation); tested in tests/test_loss_triplet.cpp.
#include "losses/triplet.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/parallel.h"
#include "ops/elementwise.h"
#include "ops/nn_ops.h"
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
  const std::string& r = o.reduction;
  if (o.mining == "all" ? !(r.empty() || r == "nonzero" || r == "mean" || r == "sum")
                        : !(r.empty() || r == "mean" || r == "sum"))
    fail("triplet loss: reduction '", r, "' does not apply to ", o.mining, " mining (expected ",
         o.mining == "all" ? "nonzero, mean or sum" : "mean or sum", ")");
}

void check_batch(const Tensor& x, const Tensor& labels, const char* op) {
  if (x.dim() != 2) fail(op, ": expected embeddings N x D, got ", shape_str(x.shape()));
  if (labels.dtype() != DType::Int64 || labels.dim() != 1 || labels.shape()[0] != x.shape()[0])
    fail(op, ": expected int64 labels of shape [", x.shape()[0], "], got ", dtype_name(labels.dtype()), " ",
         shape_str(labels.shape()));
  const std::int64_t* y = labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < labels.numel(); ++i)
    if (y[i] < 0) fail(op, ": label ", y[i], " at index ", i, " is negative");
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i)
      if (!std::isfinite(p[i])) fail(op, ": embedding ", i / x.shape()[1], " has a non-finite value (", p[i], ")");
  });
}

// The per-triplet loss and its slope d l / d z, for z = d_ap - d_an:
//   hinge:  l = max(0, z + alpha),        slope = [z + alpha > 0]
//   soft:   l = log(1 + e^z) (stable),    slope = sigmoid(z)
struct PerTriplet {
  double loss, slope;
};
PerTriplet per_triplet(double z, const TripletMining& o) {
  if (o.soft_margin) {
    const double l = std::max(z, 0.0) + std::log1p(std::exp(-std::fabs(z)));
    return {l, 1.0 / (1.0 + std::exp(-z))};
  }
  const double h = z + o.margin;
  return {h > 0 ? h : 0.0, h > 0 ? 1.0 : 0.0};
}

// One anchor's share of the mining: its loss sum, how many triplets it contributes
// (and how many are active), and its row of H = d loss_sum / d D.
struct AnchorResult {
  double loss = 0;
  std::int64_t triplets = 0, active = 0, pairs = 0;
  bool skipped = false;
};

}  // namespace

Tensor triplet_distance_matrix(const Tensor& e, const std::string& distance) {
  if (distance == "euclidean") return pairwise_distances(e, e);
  if (distance == "squared") return pairwise_squared_distances(e, e);
  if (distance == "cosine") return rsub(1.0, cosine_similarity_matrix(e, e));  // d = 1 - cos
  fail("triplet loss: unknown distance '", distance, "' (expected euclidean, squared or cosine)");
}

// ---------------------------------------------------------------- mining on D, fused
//
// Forward, for the distance matrix D (N x N) and labels y:
//   all:       every (a, p, n), p != a, y_p = y_a, y_n != y_a:      l = per_triplet(D_ap - D_an)
//   hard:      per anchor, p* = argmax_{p} D_ap, n* = argmin_{n} D_an  (ties: the lowest index)
//   semihard:  per positive pair (a, p): n* = argmin { D_an : D_an > D_ap }, or, when no
//              negative is farther than p, n* = argmax_n D_an    (TF-addons' triplet_semihard_loss)
//   loss = (sum of l) / count,  count = active triplets (all, "nonzero"), all mined triplets ("mean"),
//          or 1 ("sum")
// VJP (g = dL/dloss): each mined triplet sends  +g slope / count  to D_ap and  -g slope / count  to
// D_an; the distance ops carry it on to the embeddings. Which triplets were mined is a
// piecewise-constant choice: no gradient flows through the choice itself.
Tensor mined_triplet_loss(const Tensor& D, const Tensor& labels, const TripletMining& o, TripletStats* stats) {
  const std::int64_t N = D.shape()[0];
  const std::int64_t* y = labels.data<std::int64_t>();
  Tensor H = zeros({N, N}, DType::Float64);  // d loss_sum / d D, filled row by row (one row per anchor)
  std::vector<AnchorResult> per(static_cast<std::size_t>(N));
  dispatch_float(D.dtype(), "triplet loss", [&](auto tag) {
    using T = decltype(tag);
    const T* d = D.data<T>();
    double* h = H.data<double>();
    // threads only when the batch is large enough to pay for waking them (N x N work)
    parallel_for(N, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(N, 1)), [&](std::int64_t a0, std::int64_t a1) {
      for (std::int64_t a = a0; a < a1; ++a) {
        const T* row = d + a * N;
        double* hrow = h + a * N;
        AnchorResult& r = per[a];
        bool has_pos = false, has_neg = false;
        for (std::int64_t j = 0; j < N; ++j) {
          has_pos = has_pos || (j != a && y[j] == y[a]);
          has_neg = has_neg || y[j] != y[a];
        }
        if (!has_pos || !has_neg) {  // no valid triplet with this anchor
          r.skipped = true;
          continue;
        }
        auto take = [&](std::int64_t p, std::int64_t n) {  // one mined triplet (a, p, n)
          const PerTriplet t = per_triplet(static_cast<double>(row[p]) - row[n], o);
          r.loss += t.loss;
          ++r.triplets;
          r.active += t.loss > 0;
          hrow[p] += t.slope;  // d l / d D_ap
          hrow[n] -= t.slope;  // d l / d D_an
        };
        if (o.mining == "all") {
          for (std::int64_t p = 0; p < N; ++p) {
            if (p == a || y[p] != y[a]) continue;
            for (std::int64_t n = 0; n < N; ++n)
              if (y[n] != y[a]) take(p, n);
          }
        } else if (o.mining == "hard") {
          std::int64_t p_star = -1, n_star = -1;
          for (std::int64_t j = 0; j < N; ++j) {
            if (j != a && y[j] == y[a] && (p_star < 0 || row[j] > row[p_star])) p_star = j;  // farthest positive
            if (y[j] != y[a] && (n_star < 0 || row[j] < row[n_star])) n_star = j;            // nearest negative
          }
          take(p_star, n_star);
        } else {  // semihard
          for (std::int64_t p = 0; p < N; ++p) {
            if (p == a || y[p] != y[a]) continue;
            std::int64_t beyond = -1, farthest = -1;  // nearest negative beyond D_ap; farthest negative
            for (std::int64_t n = 0; n < N; ++n) {
              if (y[n] == y[a]) continue;
              if (row[n] > row[p] && (beyond < 0 || row[n] < row[beyond])) beyond = n;
              if (farthest < 0 || row[n] > row[farthest]) farthest = n;
            }
            take(p, beyond >= 0 ? beyond : farthest);
          }
        }
      }
    });
  });
  // Combine the anchors in order (the same numbers whatever the thread count).
  double total = 0;
  TripletStats st;
  for (const AnchorResult& r : per) {
    total += r.loss;
    st.triplets += r.triplets;
    st.active += r.active;
    st.skipped_anchors += r.skipped;
  }
  const std::string red = o.reduction.empty() ? (o.mining == "all" ? "nonzero" : "mean") : o.reduction;
  const double count = red == "sum" ? 1.0 : static_cast<double>(red == "nonzero" ? st.active : st.triplets);
  const double scale = count > 0 ? 1.0 / count : 0.0;  // no triplet at all: loss 0, gradient 0
  if (stats) *stats = st;
  Tensor loss = full({}, total * scale, D.dtype());
  record(loss, "triplet_mining", {D}, [H, scale](const Tensor& g, Grads& dx) {
    // dD = g * H / count
    dx.add(0, mul(H, g.to(DType::Float64).item() * scale).to(g.dtype()));
  });
  return loss;
}

Tensor batch_triplet_loss(const Tensor& embeddings, const Tensor& labels, const TripletMining& o,
                          TripletStats* stats) {
  check_options(o);
  check_batch(embeddings, labels, "triplet loss");
  const Tensor e = o.normalize ? normalize(embeddings, 1) : embeddings;
  return mined_triplet_loss(triplet_distance_matrix(e, o.distance), labels, o, stats);
}

// ---------------------------------------------------------------- the composed twin
Tensor batch_triplet_loss_composed(const Tensor& embeddings, const Tensor& labels, const TripletMining& o) {
  check_options(o);
  check_batch(embeddings, labels, "triplet loss");
  const std::int64_t N = embeddings.shape()[0];
  const DType dt = embeddings.dtype();
  const Tensor e = o.normalize ? normalize(embeddings, 1) : embeddings;
  const Tensor D = triplet_distance_matrix(e, o.distance);
  // Masks (constants): P[a, p] = 1 for a positive p != a;  Q[a, n] = 1 for a negative n.
  Tensor P = zeros({N, N}, dt), Q = zeros({N, N}, dt);
  const std::int64_t* y = labels.data<std::int64_t>();
  for (std::int64_t a = 0; a < N; ++a)
    for (std::int64_t j = 0; j < N; ++j) {
      dispatch_float(dt, "triplet loss", [&](auto tag) {
        using T = decltype(tag);
        P.data<T>()[a * N + j] = (j != a && y[j] == y[a]) ? T(1) : T(0);
        Q.data<T>()[a * N + j] = y[j] != y[a] ? T(1) : T(0);
      });
    }
  auto loss_of = [&](const Tensor& z) { return o.soft_margin ? softplus(z) : relu(add(z, o.margin)); };
  const std::string red = o.reduction.empty() ? (o.mining == "all" ? "nonzero" : "mean") : o.reduction;
  const double big = 1e30;  // stands in for +-infinity in the masked max/min (inf - inf would be NaN)
  if (o.mining == "hard") {
    const Tensor d_ap = max(where(P, D, full({}, -big, dt)), 1);  // farthest positive
    const Tensor d_an = min(where(Q, D, full({}, big, dt)), 1);   // nearest negative
    const Tensor valid = mul(gt(sum(P, 1), 0.5), gt(sum(Q, 1), 0.5));  // anchors with both
    const Tensor l = mul(loss_of(sub(d_ap, d_an)), valid);
    const double count = red == "sum" ? 1.0 : sum(valid).item();
    return count > 0 ? mul(sum(l), 1.0 / count) : mul(sum(l), 0.0);
  }
  if (o.mining == "semihard") {
    // choose n for every (a, p) from the detached distances, then gather D[a, n]
    const Tensor Dd = D.detach().to(DType::Float64);
    Tensor idx = zeros({N, N}, DType::Int64);
    Tensor pair_ok = zeros({N, N}, dt);
    for (std::int64_t a = 0; a < N; ++a)
      for (std::int64_t p = 0; p < N; ++p) {
        if (p == a || y[p] != y[a]) continue;
        std::int64_t beyond = -1, farthest = -1;
        for (std::int64_t n = 0; n < N; ++n) {
          if (y[n] == y[a]) continue;
          const double dn = Dd.at({a, n});
          if (dn > Dd.at({a, p}) && (beyond < 0 || dn < Dd.at({a, beyond}))) beyond = n;
          if (farthest < 0 || dn > Dd.at({a, farthest})) farthest = n;
        }
        if (farthest < 0) continue;
        idx.data<std::int64_t>()[a * N + p] = beyond >= 0 ? beyond : farthest;
        dispatch_float(dt, "triplet loss", [&](auto tag) { pair_ok.data<decltype(tag)>()[a * N + p] = 1; });
      }
    const Tensor d_an = gather(D, 1, idx);
    const Tensor l = mul(loss_of(sub(D, d_an)), pair_ok);
    const double count = red == "sum" ? 1.0 : sum(pair_ok).item();
    return count > 0 ? mul(sum(l), 1.0 / count) : mul(sum(l), 0.0);
  }
  // all: Z[a, p, n] = D[a, p] - D[a, n], masked by P[a, p] Q[a, n]
  const Tensor Z = sub(D.reshape({N, N, 1}), D.reshape({N, 1, N}));
  const Tensor M = mul(P.reshape({N, N, 1}), Q.reshape({N, 1, N}));
  const Tensor L = mul(loss_of(Z), M);
  double count = 1.0;
  if (red == "mean") count = sum(M).item();
  if (red == "nonzero") count = sum(gt(L.detach(), 0.0)).item();
  return count > 0 ? mul(sum(L), 1.0 / count) : mul(sum(L), 0.0);
}

// ---------------------------------------------------------------- explicit triplets (PyTorch)
namespace {

void check_explicit(const Tensor& a, const Tensor& p, const Tensor& n, double margin, const std::string& reduction) {
  if (a.dim() != 2 || a.shape() != p.shape() || a.shape() != n.shape())
    fail("triplet_margin_loss: anchor, positive and negative must all be N x D, got ", shape_str(a.shape()), ", ",
         shape_str(p.shape()), ", ", shape_str(n.shape()));
  if (a.dtype() != p.dtype() || a.dtype() != n.dtype()) fail("triplet_margin_loss: dtypes differ");
  if (!(margin >= 0)) fail("triplet_margin_loss: the margin must be >= 0, got ", margin);
  if (reduction != "mean" && reduction != "sum" && reduction != "none")
    fail("triplet_margin_loss: unknown reduction '", reduction, "' (expected mean, sum or none)");
}

}  // namespace

// l_i = max(0, d(a_i, p_i) - d(a_i, n_i) + margin),   d(u, v) = ||u - v + eps||
// swap: d(a_i, n_i) := min(d(a_i, n_i), d(p_i, n_i))
// VJP, for each i with l_i > 0 and w_i = dL/dl_i (g, g/N for mean):
//   u = (a - p + eps) / d_ap:                 da += w u,  dp -= w u
//   v = (a - n + eps) / d_an (no swap taken): da -= w v,  dn += w v
//   v = (p - n + eps) / d_pn (swap taken):    dp -= w v,  dn += w v
Tensor triplet_margin_loss(const Tensor& a, const Tensor& p, const Tensor& n, double margin, double eps, bool swap,
                           const std::string& reduction) {
  check_explicit(a, p, n, margin, reduction);
  const std::int64_t N = a.shape()[0], D = a.shape()[1];
  Tensor per = Tensor::empty({N}, a.dtype());
  // for the VJP: which distance was used for the negative, and the three distances
  std::vector<double> dap(N), dneg(N);
  std::vector<char> swapped(N, 0);
  dispatch_float(a.dtype(), "triplet_margin_loss", [&](auto tag) {
    using T = decltype(tag);
    const T *pa = a.data<T>(), *pp = p.data<T>(), *pn = n.data<T>();
    auto dist = [&](const T* u, const T* v) {
      double s = 0;
      for (std::int64_t k = 0; k < D; ++k) {
        const double t = static_cast<double>(u[k]) - v[k] + eps;
        s += t * t;
      }
      return std::sqrt(s);
    };
    for (std::int64_t i = 0; i < N; ++i) {
      dap[i] = dist(pa + i * D, pp + i * D);
      dneg[i] = dist(pa + i * D, pn + i * D);
      if (swap) {
        const double dpn = dist(pp + i * D, pn + i * D);
        if (dpn < dneg[i]) dneg[i] = dpn, swapped[i] = 1;
      }
      per.data<T>()[i] = static_cast<T>(std::max(0.0, dap[i] - dneg[i] + margin));
    }
  });
  Tensor out = reduction == "none" ? per : (reduction == "sum" ? sum(per.detach()) : mean(per.detach()));
  record(out, "triplet_margin_loss", {a, p, n},
         [a = a.detach(), p = p.detach(), n = n.detach(), dap, dneg, swapped, eps, margin, reduction](const Tensor& g,
                                                                                                      Grads& dx) {
           const std::int64_t N = a.shape()[0], D = a.shape()[1];
           Tensor ga = zeros(a.shape(), a.dtype()), gp = zeros(a.shape(), a.dtype()), gn = zeros(a.shape(), a.dtype());
           dispatch_float(a.dtype(), "triplet_margin_loss backward", [&](auto tag) {
             using T = decltype(tag);
             const T *pa = a.data<T>(), *pp = p.data<T>(), *pn = n.data<T>(), *pg = g.data<T>();
             T *da = ga.data<T>(), *dp = gp.data<T>(), *dn = gn.data<T>();
             for (std::int64_t i = 0; i < N; ++i) {
               // hinge max(0, z): slope 1 for z >= 0 (at z = 0 exactly, PyTorch's clamp_min passes
               // the gradient, and so do we), 0 below
               if (!(dap[i] - dneg[i] + margin >= 0)) continue;
               const double w = reduction == "none" ? pg[i] : (reduction == "sum" ? pg[0] : pg[0] / N);
               for (std::int64_t k = 0; k < D; ++k) {
                 const std::int64_t j = i * D + k;
                 const double u = dap[i] > 0 ? (static_cast<double>(pa[j]) - pp[j] + eps) / dap[i] : 0.0;
                 da[j] += static_cast<T>(w * u);
                 dp[j] -= static_cast<T>(w * u);
                 if (swapped[i]) {
                   const double v = dneg[i] > 0 ? (static_cast<double>(pp[j]) - pn[j] + eps) / dneg[i] : 0.0;
                   dp[j] -= static_cast<T>(w * v);
                   dn[j] += static_cast<T>(w * v);
                 } else {
                   const double v = dneg[i] > 0 ? (static_cast<double>(pa[j]) - pn[j] + eps) / dneg[i] : 0.0;
                   da[j] -= static_cast<T>(w * v);
                   dn[j] += static_cast<T>(w * v);
                 }
               }
             }
           });
           dx.add(0, ga);
           dx.add(1, gp);
           dx.add(2, gn);
         });
  return out;
}

Tensor triplet_margin_loss_composed(const Tensor& a, const Tensor& p, const Tensor& n, double margin, double eps,
                                    bool swap, const std::string& reduction) {
  check_explicit(a, p, n, margin, reduction);
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

TripletLoss::TripletLoss(const LossOptions& o) {
  mining_.mining = o.mining;
  mining_.distance = o.distance;
  mining_.margin = o.margin >= 0 ? o.margin : 0.2;
  mining_.soft_margin = o.soft_margin;
  mining_.reduction = o.reduction;
  mining_.normalize = o.normalize != 0;  // default (-1): on
  check_options(mining_);
}

Tensor TripletLoss::forward(const Tensor& embeddings, const Tensor& labels) {
  return batch_triplet_loss(embeddings, labels, mining_, &stats_);
}

Tensor TripletLoss::metric_embedding(const Tensor& embeddings) {
  return mining_.normalize || mining_.distance == "cosine" ? normalize(embeddings, 1) : embeddings;
}

std::string TripletLoss::name() const {
  return str_cat("TripletLoss(mining ", mining_.mining, ", ", mining_.distance, ", ",
                 mining_.soft_margin ? std::string("soft margin") : str_cat("margin ", mining_.margin),
                 mining_.normalize ? ", normalised" : "", ")");
}

}  // namespace chalk
