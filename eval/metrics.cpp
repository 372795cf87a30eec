// eval/metrics.cpp — embedding evaluation: retrieval metrics, K-means, NMI.
#include "eval/metrics.h"

#include "core/checks.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>
#include <utility>

#include "core/autograd.h"
#include "core/exercise.h"  // exercise_not_done: the stub a student edition puts in the regions below
#include "core/gemm.h"
#include "core/parallel.h"

namespace chalk {

namespace {

void check_embeddings_and_labels(const Tensor& e, const Tensor& y, const char* op) {
  check_embeddings(e, op);
  check_class_labels(y, e.shape()[0], /*C=*/0, op);
}

// Squared norms of the rows of a row-major N x D matrix.
std::vector<double> row_sq_norms(const double* x, std::int64_t n, std::int64_t d) {
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::int64_t k = 0; k < d; ++k) s += x[i * d + k] * x[i * d + k];
    out[i] = s;
  }
  return out;
}

}  // namespace

// ---- one query (eval/metrics.h; docs/metrics.md)

std::vector<std::int64_t> nearest_neighbours(std::span<const double> distances, std::int64_t query, std::int64_t k) {
  const auto n = static_cast<std::int64_t>(distances.size());
  if (query < 0 || query >= n) fail("nearest_neighbours: query ", query, " is not an item of the ", n, " given");
  if (k < 0 || k > n - 1) fail("nearest_neighbours: k = ", k, " neighbours asked of ", n - 1, " other items");
  bool any_nan = false;  // one pass without an early exit, which the compiler vectorises
  for (const double v : distances) any_nan |= std::isnan(v);
  if (any_nan) {
    const auto j = std::find_if(distances.begin(), distances.end(), [](double v) { return std::isnan(v); });
    fail("nearest_neighbours: the distance of item ", j - distances.begin(), " is nan (query ", query, ")");
  }
  // ---- exercise 11 begin: docs/exercises/11-retrieval-metrics.md ----
  // (distance, index) of every other item: pairs compare by distance, then by index, so equal
  // distances go to the lower index. The query is left out by its index, not by its distance:
  // a duplicate of it is at the same distance, and may come first.
  std::vector<std::pair<double, std::int64_t>> order;
  order.reserve(static_cast<std::size_t>(n - 1));
  for (std::int64_t j = 0; j < n; ++j)
    if (j != query) order.push_back({distances[j], j});
  std::vector<std::int64_t> ranked(static_cast<std::size_t>(k));
  if (k == 0) return ranked;
  // only the nearest k matter: select them (linear time), then sort those
  std::nth_element(order.begin(), order.begin() + (k - 1), order.end());
  std::sort(order.begin(), order.begin() + k);
  for (std::int64_t r = 0; r < k; ++r) ranked[r] = order[r].second;
  return ranked;
  // ---- exercise 11 end ----
}

double precision_at_1(std::span<const std::int64_t> ranked_labels, std::int64_t query_label) {
  if (ranked_labels.empty()) fail("precision_at_1: no neighbour ranked");
  // ---- exercise 11 begin: docs/exercises/11-retrieval-metrics.md ----
  return ranked_labels[0] == query_label ? 1.0 : 0.0;  // rank 1 is the first neighbour
  // ---- exercise 11 end ----
}

namespace {

void check_r(std::span<const std::int64_t> ranked_labels, std::int64_t R, const char* op) {
  if (R < 1)
    fail(op, ": R = ", R, ": a query with no other item of its label has no ", op,
         " (retrieval_metrics leaves it out of every metric)");
  if (static_cast<std::int64_t>(ranked_labels.size()) < R)
    fail(op, ": ", ranked_labels.size(), " neighbours ranked, R = ", R, " needed");
}

}  // namespace

double map_at_r(std::span<const std::int64_t> ranked_labels, std::int64_t query_label, std::int64_t R) {
  check_r(ranked_labels, R, "map_at_r");
  // ---- exercise 11 begin: docs/exercises/11-retrieval-metrics.md ----
  std::int64_t hits = 0;  // relevant neighbours among the first k
  double sum = 0;         // sum over k <= R of P(k) rel(k)
  for (std::int64_t k = 1; k <= R; ++k) {
    if (ranked_labels[k - 1] != query_label) continue;  // rel(k) = 0
    ++hits;
    sum += static_cast<double>(hits) / static_cast<double>(k);  // P(k)
  }
  return sum / static_cast<double>(R);  // by R, not by hits: a relevant item missed counts 0
  // ---- exercise 11 end ----
}

double r_precision(std::span<const std::int64_t> ranked_labels, std::int64_t query_label, std::int64_t R) {
  check_r(ranked_labels, R, "r_precision");
  const auto first_r = ranked_labels.first(static_cast<std::size_t>(R));
  return static_cast<double>(std::count(first_r.begin(), first_r.end(), query_label)) / static_cast<double>(R);
}

double recall_at_k(std::span<const std::int64_t> ranked_labels, std::int64_t query_label, std::int64_t K) {
  if (K < 1) fail("recall_at_k: K must be >= 1, got ", K);
  if (ranked_labels.empty()) fail("recall_at_k: no neighbour ranked");
  const auto first_k = ranked_labels.first(std::min(static_cast<std::size_t>(K), ranked_labels.size()));
  return std::find(first_k.begin(), first_k.end(), query_label) != first_k.end() ? 1.0 : 0.0;
}

RetrievalMetrics retrieval_metrics(const Tensor& embeddings, const Tensor& labels, std::int64_t block) {
  check_embeddings_and_labels(embeddings, labels, "retrieval_metrics");
  NoGradGuard no_grad;
  const Tensor x = embeddings.detach().to(DType::Float64);
  const std::int64_t n = x.shape()[0], d = x.shape()[1];
  const double* px = x.data<double>();
  const std::int64_t* py = labels.data<std::int64_t>();
  const std::vector<double> sq = row_sq_norms(px, n, d);

  if (block < 1) fail("retrieval_metrics: block must be >= 1 queries per GEMM, got ", block);
  // R for each query: same-label items other than itself. Counted per distinct label, not in a
  // table indexed by label: its size would come from the largest label value (a label of 2^40).
  std::unordered_map<std::int64_t, std::int64_t> count;
  for (std::int64_t i = 0; i < n; ++i) {
    if (py[i] < 0) fail("retrieval_metrics: negative label ", py[i], " at index ", i);
    ++count[py[i]];
  }

  struct PerQuery { double p1 = 0, r2 = 0, r4 = 0, r8 = 0, rp = 0, map = 0; bool used = false; };
  std::vector<PerQuery> per(static_cast<std::size_t>(n));
  block = std::min(block, n);
  std::vector<double> dist(static_cast<std::size_t>(checked_mul(block, n, "retrieval_metrics", "the distance block =")));
  for (std::int64_t q0 = 0; q0 < n; q0 += block) {
    const std::int64_t qb = std::min(block, n - q0);
    // dist[i, j] = ||r_j||^2 - 2 q_i . r_j  (||q_i||^2 is the same for a whole row: it
    // does not change the ranking, so it is left out)
    gemm<double>(false, true, qb, n, d, -2.0, px + q0 * d, d, px, d, 0.0, dist.data(), n);
    parallel_for(qb, std::max<std::int64_t>(1, kParallelGrain / n), [&](std::int64_t b, std::int64_t e) {
      std::vector<std::int64_t> ranked;  // the labels of a query's neighbours, nearest first
      for (std::int64_t i = b; i < e; ++i) {
        const std::int64_t q = q0 + i;
        const std::int64_t R = count.find(py[q])->second - 1;  // (find: read-only, shared by the threads)
        if (R <= 0) continue;  // alone in its class: no metric (pytorch-metric-learning's lone query)
        double* row = dist.data() + i * n;  // this thread's row of the block
        for (std::int64_t j = 0; j < n; ++j) row[j] += sq[j];
        // only the nearest max(R, 8) matter: MAP@R and R-Precision read R, Recall@8 reads 8
        const std::int64_t top = std::min<std::int64_t>(std::max<std::int64_t>(R, 8), n - 1);
        const std::vector<std::int64_t> nn = nearest_neighbours({row, static_cast<std::size_t>(n)}, q, top);
        ranked.resize(nn.size());
        for (std::size_t k = 0; k < nn.size(); ++k) ranked[k] = py[nn[k]];
        PerQuery& pq = per[q];
        pq.used = true;
        pq.p1 = precision_at_1(ranked, py[q]);
        pq.r2 = recall_at_k(ranked, py[q], 2);
        pq.r4 = recall_at_k(ranked, py[q], 4);
        pq.r8 = recall_at_k(ranked, py[q], 8);
        pq.rp = r_precision(ranked, py[q], R);
        pq.map = map_at_r(ranked, py[q], R);
      }
    });
  }
  RetrievalMetrics m;
  for (const auto& pq : per) {
    if (!pq.used) continue;
    ++m.queries;
    m.precision_at_1 += pq.p1;
    m.recall_at_2 += pq.r2;
    m.recall_at_4 += pq.r4;
    m.recall_at_8 += pq.r8;
    m.r_precision += pq.rp;
    m.map_at_r += pq.map;
  }
  if (m.queries > 0) {
    const double q = static_cast<double>(m.queries);
    m.precision_at_1 /= q, m.recall_at_2 /= q, m.recall_at_4 /= q, m.recall_at_8 /= q;
    m.r_precision /= q, m.map_at_r /= q;
  }
  m.recall_at_1 = m.precision_at_1;
  return m;
}

namespace {

KMeansResult kmeans_once(const Tensor& input, std::int64_t k, Generator& gen, int max_iter) {
  check_embeddings(input, "kmeans", "points");
  const std::int64_t n = input.shape()[0], d = input.shape()[1];
  if (k < 1 || k > n) fail("kmeans: need 1 <= k <= N, got k = ", k, " for N = ", n);
  NoGradGuard no_grad;
  const Tensor x = input.detach().to(DType::Float64);
  const double* px = x.data<double>();
  const std::vector<double> sq = row_sq_norms(px, n, d);
  KMeansResult r;
  r.centroids = zeros({k, d}, DType::Float64);
  double* c = r.centroids.data<double>();

  // k-means++: first centroid uniformly, each next one with probability ~ D(x)^2
  std::vector<double> best(static_cast<std::size_t>(n), INFINITY);
  std::int64_t first = gen.randint(0, n);
  std::copy(px + first * d, px + (first + 1) * d, c);
  for (std::int64_t j = 1; j <= k; ++j) {
    const double* cj = c + (j - 1) * d;
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (std::int64_t t = 0; t < d; ++t) s += (px[i * d + t] - cj[t]) * (px[i * d + t] - cj[t]);
      best[i] = std::min(best[i], s);
      total += best[i];
    }
    if (j == k) break;
    double u = gen.uniform() * total;
    std::int64_t pick = n - 1;
    for (std::int64_t i = 0; i < n; ++i) {
      u -= best[i];
      if (u < 0) { pick = i; break; }
    }
    std::copy(px + pick * d, px + (pick + 1) * d, c + j * d);
  }

  // Lloyd iterations: assign to the nearest centroid (GEMM), move centroids to means
  r.assignment.assign(static_cast<std::size_t>(n), -1);
  std::vector<double> dist(static_cast<std::size_t>(checked_mul(n, k, "kmeans", "the distance table N x k =")));
  std::vector<double> point_d(static_cast<std::size_t>(n));
  for (r.iterations = 1; r.iterations <= max_iter; ++r.iterations) {
    const std::vector<double> csq = row_sq_norms(c, k, d);
    gemm<double>(false, true, n, k, d, -2.0, px, d, c, d, 0.0, dist.data(), k);
    std::int64_t changed = 0;
    r.inertia = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      std::int64_t arg = 0;
      double bv = INFINITY;
      for (std::int64_t j = 0; j < k; ++j) {
        const double v = dist[i * k + j] + csq[j];
        if (v < bv) bv = v, arg = j;
      }
      point_d[i] = std::max(0.0, bv + sq[i]);
      r.inertia += point_d[i];
      if (r.assignment[i] != arg) ++changed, r.assignment[i] = arg;
    }
    if (changed == 0) break;
    std::vector<double> sums(static_cast<std::size_t>(k * d), 0.0);
    std::vector<std::int64_t> cnt(static_cast<std::size_t>(k), 0);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t a = r.assignment[i];
      ++cnt[a];
      for (std::int64_t t = 0; t < d; ++t) sums[a * d + t] += px[i * d + t];
    }
    for (std::int64_t j = 0; j < k; ++j) {
      if (cnt[j] == 0) {  // empty cluster: take the worst-served point
        const std::int64_t far = std::max_element(point_d.begin(), point_d.end()) - point_d.begin();
        std::copy(px + far * d, px + (far + 1) * d, c + j * d);
        point_d[far] = 0;
      } else {
        for (std::int64_t t = 0; t < d; ++t) c[j * d + t] = sums[j * d + t] / static_cast<double>(cnt[j]);
      }
    }
  }
  r.iterations = std::min(r.iterations, max_iter);
  return r;
}

}  // namespace

KMeansResult kmeans(const Tensor& x, std::int64_t k, Generator& gen, int max_iter, int n_init) {
  if (n_init < 1) fail("kmeans: n_init must be >= 1, got ", n_init);
  KMeansResult best = kmeans_once(x, k, gen, max_iter);
  for (int run = 1; run < n_init; ++run) {
    KMeansResult r = kmeans_once(x, k, gen, max_iter);
    if (r.inertia < best.inertia) best = std::move(r);
  }
  return best;
}

double normalized_mutual_info(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  if (a.size() != b.size()) fail("normalized_mutual_info: labelings have ", a.size(), " and ", b.size(), " items");
  if (a.empty()) fail("normalized_mutual_info: empty labelings");
  const double n = static_cast<double>(a.size());
  for (auto v : a)
    if (v < 0) fail("normalized_mutual_info: negative label ", v);
  for (auto v : b)
    if (v < 0) fail("normalized_mutual_info: negative label ", v);
  // The counts are kept per label and per pair that occurs, never in tables indexed by label
  // value: a ka x kb joint table sized from the largest labels would overflow (labels 2^32) or
  // exhaust memory. ua, ub: each item's label as a dense id 0.. in increasing label order.
  auto dense = [](const std::vector<std::int64_t>& v, std::vector<double>& count) {
    std::vector<std::int64_t> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    count.assign(sorted.size(), 0);
    std::vector<std::int64_t> id(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      id[i] = std::lower_bound(sorted.begin(), sorted.end(), v[i]) - sorted.begin();
      count[id[i]] += 1;
    }
    return id;
  };
  std::vector<double> pa, pb;
  const std::vector<std::int64_t> ua = dense(a, pa), ub = dense(b, pb);
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) pairs[i] = {ua[i], ub[i]};
  std::sort(pairs.begin(), pairs.end());  // equal pairs adjacent, in (u, v) order
  // I = sum p(u,v) log(p(u,v) / (p(u) p(v))),  H = -sum p log p
  double mi = 0, ha = 0, hb = 0;
  for (std::size_t i = 0; i < pairs.size();) {
    std::size_t e = i;
    while (e < pairs.size() && pairs[e] == pairs[i]) ++e;
    const double j = static_cast<double>(e - i);  // the joint count of pair (u, v)
    mi += j / n * std::log(j * n / (pa[pairs[i].first] * pb[pairs[i].second]));
    i = e;
  }
  for (double p : pa) if (p > 0) ha -= p / n * std::log(p / n);
  for (double p : pb) if (p > 0) hb -= p / n * std::log(p / n);
  if (ha + hb == 0) return 1.0;  // both labelings put everything in one group
  return std::clamp(2 * mi / (ha + hb), 0.0, 1.0);
}

double clustering_nmi(const Tensor& embeddings, const Tensor& labels, std::int64_t num_classes,
                      std::uint64_t seed) {
  check_embeddings_and_labels(embeddings, labels, "clustering_nmi");
  Generator gen(seed);
  const KMeansResult km = kmeans(embeddings, num_classes, gen, 100, 10);
  return normalized_mutual_info(labels.to_vector<std::int64_t>(), km.assignment);
}

Tensor class_means(const Tensor& embeddings, const Tensor& labels, std::int64_t num_classes) {
  check_embeddings_and_labels(embeddings, labels, "class_means");
  if (num_classes < 1) fail("class_means: num_classes must be >= 1, got ", num_classes);
  NoGradGuard no_grad;
  const Tensor x = embeddings.detach().to(DType::Float64);
  const std::int64_t n = x.shape()[0], d = x.shape()[1];
  Tensor means = zeros({num_classes, d}, DType::Float64);
  std::vector<std::int64_t> cnt(static_cast<std::size_t>(num_classes), 0);
  double* pm = means.data<double>();
  const double* px = x.data<double>();
  const std::int64_t* py = labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    if (py[i] < 0 || py[i] >= num_classes)
      fail("class_means: label ", py[i], " at index ", i, " is outside [0, ", num_classes, ")");
    ++cnt[py[i]];
    for (std::int64_t t = 0; t < d; ++t) pm[py[i] * d + t] += px[i * d + t];
  }
  for (std::int64_t c = 0; c < num_classes; ++c) {
    if (cnt[c] == 0) fail("class_means: class ", c, " has no sample");
    for (std::int64_t t = 0; t < d; ++t) pm[c * d + t] /= static_cast<double>(cnt[c]);
  }
  return means;
}

Tensor nearest_centroid(const Tensor& embeddings, const Tensor& centroids) {
  check_embeddings(embeddings, "nearest_centroid");
  check_embeddings(centroids, "nearest_centroid", "centroids");
  if (embeddings.shape()[1] != centroids.shape()[1])
    fail("nearest_centroid: expected embeddings N x D and centroids C x D, got ", shape_str(embeddings.shape()),
         " and ", shape_str(centroids.shape()));
  NoGradGuard no_grad;
  const Tensor x = embeddings.detach().to(DType::Float64), c = centroids.detach().to(DType::Float64);
  const std::int64_t n = x.shape()[0], k = c.shape()[0], d = x.shape()[1];
  std::vector<double> dist(static_cast<std::size_t>(checked_mul(n, k, "nearest_centroid", "the distance table N x C =")));
  gemm<double>(false, true, n, k, d, -2.0, x.data<double>(), d, c.data<double>(), d, 0.0, dist.data(), k);
  const std::vector<double> csq = row_sq_norms(c.data<double>(), k, d);
  Tensor pred = Tensor::empty({n}, DType::Int64);
  std::int64_t* pp = pred.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t arg = 0;
    double bv = INFINITY;
    for (std::int64_t j = 0; j < k; ++j)
      if (dist[i * k + j] + csq[j] < bv) bv = dist[i * k + j] + csq[j], arg = j;
    pp[i] = arg;
  }
  return pred;
}

double accuracy(const Tensor& predictions, const Tensor& labels) {
  if (predictions.dtype() != DType::Int64 || labels.dtype() != DType::Int64 ||
      predictions.numel() != labels.numel())
    fail("accuracy: expected two int64 tensors of the same length, got ", dtype_name(predictions.dtype()), " ",
         shape_str(predictions.shape()), " and ", dtype_name(labels.dtype()), " ", shape_str(labels.shape()));
  if (labels.numel() == 0) fail("accuracy: no predictions");
  const std::int64_t* a = predictions.data<std::int64_t>();
  const std::int64_t* b = labels.data<std::int64_t>();
  std::int64_t hit = 0;
  for (std::int64_t i = 0; i < labels.numel(); ++i) hit += a[i] == b[i];
  return static_cast<double>(hit) / static_cast<double>(labels.numel());
}

}  // namespace chalk
