// tests/exercises/check_08_triplet_loss.cpp — exercise 08's check (tests/exercises/check_08_triplet_loss.h).
#include "tests/exercises/check_08_triplet_loss.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/exercise.h"

namespace chalk::checker {

namespace {

// ---- batch-hard mining: hand-worked cases ----

// Points on a line, so that every distance can be read off by hand: D_ij = |x_i - x_j|.
struct MiningCase {
  std::string name;
  CaseKind kind;
  std::string special;
  std::vector<double> x;
  std::vector<std::int64_t> labels;
  std::vector<HardestPair> truth;  // worked out by hand, anchor by anchor (in the comments)
};

std::vector<MiningCase> mining_cases() {
  return {
      // docs/losses/triplet.md §8: class 0 at 0 and 1, class 1 at 3 and 6
      {"4 points on a line (0, 1 | 3, 6), 2 classes", CaseKind::kRegular, "",
       {0, 1, 3, 6}, {0, 0, 1, 1},
       {{1, 2},    // anchor 0: positive 1 at 1; negatives at 3, 6
        {0, 2},    // anchor 1: positive 0 at 1; negatives at 2, 5
        {3, 1},    // anchor 2: positive 3 at 3; negatives at 3, 2
        {2, 1}}},  // anchor 3: positive 2 at 3; negatives at 6, 5
      {"8 points on a line, 3 classes, in no particular order", CaseKind::kRegular, "",
       {4, 0, 9, 2.5, 6, 11, 1, 7.5}, {1, 0, 2, 0, 1, 2, 0, 2},
       {{4, 3},    // anchor 0 (4):   positive 4 at 2;               negatives at 4, 5, 1.5, 7, 3, 3.5
        {3, 0},    // anchor 1 (0):   positives 3, 6 at 2.5, 1;      negatives at 4, 9, 6, 11, 7.5
        {5, 4},    // anchor 2 (9):   positives 5, 7 at 2, 1.5;      negatives at 5, 9, 6.5, 3, 8
        {1, 0},    // anchor 3 (2.5): positives 1, 6 at 2.5, 1.5;    negatives at 1.5, 6.5, 3.5, 8.5, 5
        {0, 7},    // anchor 4 (6):   positive 0 at 2;               negatives at 6, 3, 3.5, 5, 5, 1.5
        {7, 4},    // anchor 5 (11):  positives 2, 7 at 2, 3.5;      negatives at 7, 11, 8.5, 5, 10
        {3, 0},    // anchor 6 (1):   positives 1, 3 at 1, 1.5;      negatives at 3, 8, 5, 10, 6.5
        {5, 4}}},  // anchor 7 (7.5): positives 2, 5 at 1.5, 3.5;    negatives at 3.5, 7.5, 5, 1.5, 6.5
      {"5 points on a line with ties", CaseKind::kSpecial,
       "ties: anchor 0's two positives (samples 1 and 3) are equally far, its two negatives (2 and 4) "
       "equally near; the lowest index wins",
       {0, 2, -1, -2, 1}, {0, 0, 1, 0, 1},
       {{1, 2},    // anchor 0 (0):  positives 1, 3 at 2, 2;  negatives 2, 4 at 1, 1
        {3, 4},    // anchor 1 (2):  positives 0, 3 at 2, 4;  negatives 2, 4 at 3, 1
        {4, 0},    // anchor 2 (-1): positive 4 at 2;         negatives 0, 1, 3 at 1, 3, 1
        {1, 2},    // anchor 3 (-2): positives 0, 1 at 2, 4;  negatives 2, 4 at 1, 3
        {2, 0}}},  // anchor 4 (1):  positive 2 at 2;         negatives 0, 1, 3 at 1, 1, 3
      {"4 points on a line, two at the same place", CaseKind::kSpecial,
       "two samples at the same place: anchor 0's positive 1 is at distance 0, like the anchor itself, "
       "which is not its own positive",
       {0, 0, 4, 5}, {0, 0, 1, 1},
       {{1, 2},    // anchor 0: positive 1 at 0;  negatives at 4, 5
        {0, 2},    // anchor 1: positive 0 at 0;  negatives at 4, 5
        {3, 0},    // anchor 2: positive 3 at 1;  negatives 0, 1 at 4, 4
        {2, 0}}},  // anchor 3: positive 2 at 1;  negatives 0, 1 at 5, 5
      {"4 points on a line, two classes of one sample", CaseKind::kSpecial,
       "classes of one sample (samples 2 and 3): an anchor with no positive gets -1",
       {0, 1, 3, 7}, {0, 0, 1, 2},
       {{1, 2},     // anchor 0: positive 1 at 1;  negatives at 3, 7
        {0, 2},     // anchor 1: positive 0 at 1;  negatives at 2, 6
        {-1, 1},    // anchor 2: no positive;      negatives at 3, 2, 4
        {-1, 2}}},  // anchor 3: no positive;      negatives at 7, 6, 4
      {"3 points on a line, all of one class", CaseKind::kSpecial,
       "a batch of one class: no anchor has a negative, -1",
       {0, 1, 3}, {5, 5, 5},
       {{2, -1},    // anchor 0: positives at 1, 3
        {2, -1},    // anchor 1: positives at 1, 2
        {0, -1}}},  // anchor 2: positives at 3, 2
  };
}

std::vector<double> line_distances(const std::vector<double>& x) {
  const std::size_t N = x.size();
  std::vector<double> d(N * N);
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = 0; j < N; ++j) d[i * N + j] = std::abs(x[i] - x[j]);
  return d;
}

// ---- the VJP: fixed triplets, truth by central differences ----

struct VjpSet {
  std::string name;
  CaseKind kind = CaseKind::kRegular;
  std::string special;
  std::int64_t N = 0, D = 0;
  double margin = 0, eps = 0;
  bool swap = false;
  std::vector<double> a, p, n, w;  // N x D each; w: the upstream weight of each triplet
  double truth_margin = 0;         // the margin the truth is computed with (see the edge case)
  std::vector<int> kink_rows;      // rows exactly at the hinge's edge
};

VjpSet random_set(std::string name, std::int64_t N, std::int64_t D, double margin, double eps, bool swap,
                  std::uint64_t seed) {
  VjpSet s;
  s.name = std::move(name);
  s.N = N;
  s.D = D;
  s.margin = s.truth_margin = margin;
  s.eps = eps;
  s.swap = swap;
  const auto nd = static_cast<std::size_t>(N * D);
  s.a = random_values(nd, seed);
  s.p = random_values(nd, seed + 1);
  s.n = random_values(nd, seed + 2);
  s.w = random_values(static_cast<std::size_t>(N), seed + 3, 0.5, 1.5);
  return s;
}

std::vector<VjpSet> vjp_sets() {
  std::vector<VjpSet> sets;
  sets.push_back(random_set("8 triplets in R^4, margin 0.3, no swap, 2 of them inactive", 8, 4, 0.3, 1e-6, false, 811));
  {
    // swap: in the even rows the negative is moved towards the positive, so that d(p, n) < d(a, n)
    // and the swap is taken (the negative's distance then no longer depends on a)
    VjpSet s = random_set("8 triplets in R^4, margin 1, swap taken in 4 of them", 8, 4, 1.0, 1e-6, true, 821);
    for (std::size_t i = 0; i < 8; i += 2)
      for (std::size_t k = 0; k < 4; ++k) s.n[i * 4 + k] = 0.7 * s.p[i * 4 + k] + 0.3 * s.n[i * 4 + k];
    sets.push_back(s);
  }
  {
    // eps is in the difference vector: with a = p, d(a, p) = eps sqrt(D), not 0, and its gradient is
    // the direction of eps 1 (a large eps here, so that central differences see it)
    VjpSet s = random_set("4 triplets in R^3, eps 0.1, margin 0.3, anchor 0 on its positive", 4, 3, 0.3, 0.1, false, 831);
    for (int k = 0; k < 3; ++k) s.p[k] = s.a[k];
    const double offset[3] = {0.2, -0.1, 0.15};
    for (int k = 0; k < 3; ++k) s.n[k] = s.a[k] + offset[k];
    sets.push_back(s);
  }
  {
    // exactly at the edge, with eps = 1 (all exact): a - p + 1 = (-3, -4), d = 5;
    // a - n + 1 = (0, -7), d = 7; 5 - 7 + 2 = 0
    VjpSet s;
    s.name = "1 triplet in R^2, eps 1, margin 2, at the hinge's edge";
    s.kind = CaseKind::kSpecial;
    s.special =
        "a triplet exactly at the hinge's edge, d(a, p) - d(a, n) + margin = 0: like PyTorch's clamp_min, the "
        "loss passes the gradient there (slope 1)";
    s.N = 1;
    s.D = 2;
    s.margin = 2;
    s.truth_margin = 2 + 1e-3;  // the active side's gradient: the same distances, just inside the hinge
    s.eps = 1;
    s.a = {0, 0};
    s.p = {4, 5};
    s.n = {1, 8};
    s.w = {0.8};
    s.kink_rows = {0};
    sets.push_back(s);
  }
  return sets;
}

Tensor rows_of(const std::vector<double>& v, std::int64_t N, std::int64_t D) { return from_vector(v, {N, D}); }

bool agrees(const std::vector<double>& y, const std::vector<double>& t, double atol = 1e-6, double rtol = 1e-5) {
  if (y.size() != t.size()) return false;
  for (std::size_t i = 0; i < y.size(); ++i)
    if (!(std::abs(y[i] - t[i]) <= atol + rtol * std::abs(t[i]))) return false;
  return true;
}

std::vector<double> row(const std::vector<double>& v, std::int64_t i, std::int64_t D) {
  return {v.begin() + i * D, v.begin() + (i + 1) * D};
}

std::vector<double> plus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) r[i] = a[i] + b[i];
  return r;
}

// What one VJP set gave: the three gradients, yours and true, and what the forward says per row.
struct VjpResult {
  const VjpSet* set = nullptr;
  bool ran = false;
  std::vector<double> yours[3], truth[3];  // da, dp, dn
  std::vector<char> active, swapped;       // per triplet
};

const char* kGradName[3] = {"dL/da", "dL/dp", "dL/dn"};

}  // namespace

Verdict check_08(const BatchHardPair& batch_hard_pair, const TripletMarginVjp& triplet_margin_vjp) {
  Checker c(8, "batch_hard_pair and triplet_margin_vjp");
  NoGradGuard no_grad;

  // ---- 1. the mining ----
  const std::vector<MiningCase> mcases = mining_cases();
  std::vector<std::vector<HardestPair>> mined(mcases.size());
  for (std::size_t ci = 0; ci < mcases.size(); ++ci) {
    const MiningCase& m = mcases[ci];
    const std::int64_t N = static_cast<std::int64_t>(m.x.size());
    const std::string name = str_cat("batch_hard_pair: ", m.name, ", per anchor (hardest positive, hardest negative)");
    c.run(name, [&] {
      const std::vector<double> d = line_distances(m.x);
      Case k;
      k.name = name;
      k.kind = m.kind;
      k.special = m.special;
      k.shape = {N, 2};
      k.quantity = "index";
      k.atol = 1e-9;
      k.rtol = 0;
      for (std::int64_t a = 0; a < N; ++a) {
        const HardestPair h = batch_hard_pair(a, std::span<const double>(d.data() + a * N, static_cast<std::size_t>(N)),
                                              std::span<const std::int64_t>(m.labels));
        mined[ci].push_back(h);
        k.yours.push_back(static_cast<double>(h.positive));
        k.yours.push_back(static_cast<double>(h.negative));
        k.truth.push_back(static_cast<double>(m.truth[static_cast<std::size_t>(a)].positive));
        k.truth.push_back(static_cast<double>(m.truth[static_cast<std::size_t>(a)].negative));
      }
      return k;
    });
  }

  // ---- 2. the VJP ----
  const std::vector<VjpSet> sets = vjp_sets();
  std::vector<VjpResult> results(sets.size());
  for (std::size_t si = 0; si < sets.size(); ++si) {
    const VjpSet& s = sets[si];
    VjpResult& r = results[si];
    r.set = &s;
    const std::int64_t N = s.N, D = s.D;
    const auto nd = static_cast<std::size_t>(N * D), d = static_cast<std::size_t>(D);
    try {
      // the forward no exercise touches: the composed twin's per-triplet losses (reduction none)
      auto losses = [&](const std::vector<double>& v, double margin) {
        const std::vector<double> a(v.begin(), v.begin() + nd), p(v.begin() + nd, v.begin() + 2 * nd),
            n(v.begin() + 2 * nd, v.end());
        return values_of(triplet_margin_loss_composed(rows_of(a, N, D), rows_of(p, N, D), rows_of(n, N, D), margin, s.eps,
                                                      s.swap, "none"));
      };
      std::vector<double> x = s.a;
      x.insert(x.end(), s.p.begin(), s.p.end());
      x.insert(x.end(), s.n.begin(), s.n.end());
      const std::vector<double> g = central_difference_vjp(
          [&](const std::vector<double>& v) { return losses(v, s.truth_margin); }, x, s.w);
      for (int q = 0; q < 3; ++q) r.truth[q].assign(g.begin() + q * nd, g.begin() + (q + 1) * nd);
      // the check's own data must stay clear of every kink but the one it means
      const std::vector<double> l = losses(x, s.margin);
      r.active.assign(static_cast<std::size_t>(N), 0);
      r.swapped.assign(static_cast<std::size_t>(N), 0);
      for (std::int64_t i = 0; i < N; ++i) {
        const TripletDistances t = triplet_distances<double>({s.a.data() + i * D, d}, {s.p.data() + i * D, d},
                                                             {s.n.data() + i * D, d}, s.eps, s.swap);
        const double h = t.d_ap - t.d_an + s.margin;
        const bool kink = std::find(s.kink_rows.begin(), s.kink_rows.end(), i) != s.kink_rows.end();
        if (kink ? h != 0 : std::abs(h) < 1e-3)
          fail("check 08: triplet ", i, " of \"", s.name, "\" has d_ap - d_an + margin = ", h, " (the case is broken)");
        if (s.swap) {  // and clear of the swap's switch d(p, n) = d(a, n)
          const double d_an = triplet_distances<double>({s.a.data() + i * D, d}, {s.p.data() + i * D, d},
                                                        {s.n.data() + i * D, d}, s.eps, false).d_an;
          const double d_pn = triplet_distances<double>({s.p.data() + i * D, d}, {s.p.data() + i * D, d},
                                                        {s.n.data() + i * D, d}, s.eps, false).d_an;
          if (std::abs(d_pn - d_an) < 1e-3)
            fail("check 08: triplet ", i, " of \"", s.name, "\" has d(p, n) - d(a, n) = ", d_pn - d_an, " (the case is broken)");
        }
        r.active[static_cast<std::size_t>(i)] = kink || l[static_cast<std::size_t>(i)] > 0;
        r.swapped[static_cast<std::size_t>(i)] = t.swapped;
      }
      r.ran = true;
    } catch (const std::exception& e) {  // a broken case is the check's fault: say so, never crash
      c.run(s.name, [&]() -> Case { fail(e.what()); });
      continue;
    }
    // yours, row by row, from zero-filled gradients
    std::vector<double> yours[3] = {std::vector<double>(nd, 0.0), std::vector<double>(nd, 0.0),
                                    std::vector<double>(nd, 0.0)};
    std::string error;
    bool threw = false;
    try {
      for (std::int64_t i = 0; i < N; ++i) {
        const std::span<const double> a{s.a.data() + i * D, d}, p{s.p.data() + i * D, d}, n{s.n.data() + i * D, d};
        const TripletDistances t = triplet_distances<double>(a, p, n, s.eps, s.swap);
        triplet_margin_vjp(a, p, n, t, s.margin, s.eps, s.w[static_cast<std::size_t>(i)],
                           {yours[0].data() + i * D, d}, {yours[1].data() + i * D, d}, {yours[2].data() + i * D, d});
      }
    } catch (const std::exception& e) {
      error = e.what();
      threw = true;
    }
    for (int q = 0; q < 3; ++q) {
      const std::string name = str_cat("triplet_margin_vjp: ", s.name, ": ", kGradName[q], " ", shape_str({N, D}));
      c.run(name, [&] {
        if (threw) fail(error);
        Case k;
        k.name = name;
        k.kind = s.kind;
        k.special = s.special;
        k.shape = {N, D};
        k.yours = yours[q];
        k.truth = r.truth[q];
        return k;
      });
      r.yours[q] = yours[q];
    }
    if (threw) r.ran = false;
  }

  // ---- 3. the diagnoses this exercise adds ----
  // Mining the easiest pair: every anchor that differs took a nearer positive or a farther negative.
  {
    int easier = 0, other = 0;
    std::string evidence, which;
    bool pos = false, neg = false;
    for (std::size_t ci = 0; ci < mcases.size(); ++ci) {
      const MiningCase& m = mcases[ci];
      if (m.kind != CaseKind::kRegular || mined[ci].size() != m.truth.size()) continue;
      const std::vector<double> d = line_distances(m.x);
      const std::size_t N = m.x.size();
      for (std::size_t a = 0; a < N; ++a) {
        const HardestPair& y = mined[ci][a];
        const HardestPair& t = m.truth[a];
        auto dist = [&](std::int64_t j) { return d[a * N + static_cast<std::size_t>(j)]; };
        auto valid = [&](std::int64_t j) { return j >= 0 && j < static_cast<std::int64_t>(N); };
        if (y.positive != t.positive) {
          if (valid(y.positive) && dist(y.positive) < dist(t.positive)) ++easier, pos = true; else ++other;
          if (evidence.empty())
            evidence = str_cat("case \"", m.name, "\", anchor ", a, ": your positive ", y.positive, " at ",
                               valid(y.positive) ? dist(y.positive) : NAN, ", the hardest is ", t.positive, " at ", dist(t.positive));
        }
        if (y.negative != t.negative) {
          if (valid(y.negative) && dist(y.negative) > dist(t.negative)) ++easier, neg = true; else ++other;
          if (evidence.empty())
            evidence = str_cat("case \"", m.name, "\", anchor ", a, ": your negative ", y.negative, " at ",
                               valid(y.negative) ? dist(y.negative) : NAN, ", the hardest is ", t.negative, " at ", dist(t.negative));
        }
      }
    }
    if (easier > 0 && other == 0) {
      which = pos && neg ? "the nearest positive and the farthest negative" : pos ? "the nearest positive" : "the farthest negative";
      c.add_finding("easiest",
                    str_cat("you mined the easiest pair, ", which,
                            ": batch-hard takes the hardest positive, the FARTHEST sample of the anchor's class (argmax), "
                            "and the hardest negative, the NEAREST sample of another class (argmin)"),
                    evidence);
    }
  }
  // Ties to a later index: every anchor that differs took another sample at the same distance.
  {
    int later = 0, other = 0;
    std::string evidence;
    for (std::size_t ci = 0; ci < mcases.size(); ++ci) {
      const MiningCase& m = mcases[ci];
      if (mined[ci].size() != m.truth.size()) continue;
      const std::vector<double> d = line_distances(m.x);
      const std::size_t N = m.x.size();
      for (std::size_t a = 0; a < N; ++a) {
        const std::int64_t ys[2] = {mined[ci][a].positive, mined[ci][a].negative};
        const std::int64_t ts[2] = {m.truth[a].positive, m.truth[a].negative};
        for (int q = 0; q < 2; ++q) {
          if (ys[q] == ts[q]) continue;
          const bool tie = ys[q] > ts[q] && ts[q] >= 0 && ys[q] < static_cast<std::int64_t>(N) &&
                           d[a * N + static_cast<std::size_t>(ys[q])] == d[a * N + static_cast<std::size_t>(ts[q])];
          if (!tie) {
            ++other;
            continue;
          }
          ++later;
          if (evidence.empty())
            evidence = str_cat("case \"", m.name, "\", anchor ", a, ": your ", q ? "negative " : "positive ", ys[q],
                               " and sample ", ts[q], " are both at ", d[a * N + static_cast<std::size_t>(ts[q])]);
        }
      }
    }
    if (later > 0 && other == 0)
      c.add_finding("special",
                    "right except at ties: where two samples are equally far (or near), yours takes the later one; "
                    "the lowest index wins, as in chalk's max and min (a strict > or < keeps the first one met)",
                    evidence);
  }
  // The VJP's patterns across da, dp and dn of the regular sets.
  std::vector<const VjpResult*> regular;
  for (const auto& r : results)
    if (r.ran && r.set->kind == CaseKind::kRegular) regular.push_back(&r);
  auto all_agree = [&](int q) {
    for (const VjpResult* r : regular)
      if (!agrees(r->yours[q], r->truth[q])) return false;
    return true;
  };
  if (!regular.empty()) {
    // an inactive triplet sent a gradient, while every active one is right
    std::string inactive_evidence;
    bool active_right = true;
    for (const VjpResult* r : regular) {
      const std::int64_t D = r->set->D;
      for (std::int64_t i = 0; i < r->set->N; ++i)
        for (int q = 0; q < 3; ++q) {
          const auto yr = row(r->yours[q], i, D), tr = row(r->truth[q], i, D);
          if (agrees(yr, tr)) continue;
          if (r->active[static_cast<std::size_t>(i)]) active_right = false;
          else if (inactive_evidence.empty())
            inactive_evidence = str_cat("case \"", r->set->name, "\", triplet ", i, " (inactive): your ", kGradName[q], "[",
                                        i, ", 0] = ", yr[0], ", true ", tr[0]);
        }
    }
    if (active_right && !inactive_evidence.empty())
      c.add_finding("inactive",
                    "an inactive triplet (loss 0: d(a, p) - d(a, n) + margin < 0) sent a gradient: the hinge is flat "
                    "there, so skip it — only active triplets send anything",
                    inactive_evidence);
    const bool da_right = all_agree(0), dp_right = all_agree(1), dn_right = all_agree(2);
    // the negative's sign: dn is the true one negated wherever it differs, dp is right
    if (!dn_right && dp_right) {
      bool negated = true;
      std::string evidence;
      for (const VjpResult* r : regular) {
        if (agrees(r->yours[2], r->truth[2])) continue;
        std::vector<double> minus = r->truth[2];
        for (auto& v : minus) v = -v;
        if (!agrees(r->yours[2], minus)) negated = false;
        else if (evidence.empty())
          evidence = str_cat("case \"", r->set->name, "\", dL/dn[0, 0]: yours ", r->yours[2][0], ", true ", r->truth[2][0]);
      }
      if (negated)
        c.add_finding("sign",
                      "the negative's gradient has the wrong sign: the loss falls as d(a, n) grows (dl/dd_an = -1), and "
                      "d_an's gradient in n is -(a - n + eps)/d_an: the two minus signs cancel, so dL/dn = +w v, "
                      "v = (a - n + eps)/d_an (a descent step moves n away from a)",
                      evidence);
    }
    // the anchor's gradient alone is wrong: one of its two terms is missing
    if (!da_right && dp_right && dn_right) {
      bool without_negative = true, without_positive = true;
      std::string evidence;
      for (const VjpResult* r : regular) {
        const std::int64_t D = r->set->D;
        for (std::int64_t i = 0; i < r->set->N; ++i) {
          const auto yr = row(r->yours[0], i, D), tr = row(r->truth[0], i, D);
          if (agrees(yr, tr)) continue;
          if (evidence.empty())
            evidence = str_cat("case \"", r->set->name, "\", triplet ", i, ": your dL/da[", i, ", 0] = ", yr[0], ", true ", tr[0]);
          const bool swapped = r->swapped[static_cast<std::size_t>(i)];
          // without the -w v term, da = w u = true da + true dn (no swap);
          // without the +w u term, da = -w v = true da + true dp (no swap) or 0 (swap taken)
          if (swapped || !agrees(yr, plus(tr, row(r->truth[2], i, D)))) without_negative = false;
          if (!(swapped ? agrees(yr, std::vector<double>(yr.size(), 0.0)) : agrees(yr, plus(tr, row(r->truth[1], i, D)))))
            without_positive = false;
        }
      }
      const std::string common =
          "the anchor's gradient is wrong while the positive's and the negative's are right: a appears in both "
          "distances, so dL/da has two terms, +w (a - p + eps)/d_ap from d(a, p) and -w (a - n + eps)/d_an from "
          "d(a, n) (only the first when the swap is taken)";
      c.add_finding("anchor-term",
                    without_negative   ? common + "; yours misses the second, the negative's"
                    : without_positive ? common + "; yours misses the first, the positive's"
                                       : common,
                    evidence);
    }
    // one factor on all three: the hinge's slope
    {
      double k0 = 0;
      bool same_factor = true, any = false;
      std::string evidence;
      for (const VjpResult* r : regular)
        for (int q = 0; q < 3; ++q) {
          Case k;
          k.shape = {r->set->N, r->set->D};
          k.yours = r->yours[q];
          k.truth = r->truth[q];
          double f = 0;
          std::string ev;
          const std::string pat = element_pattern(k, &f, &ev);
          if (pat.empty()) {
            same_factor = false;  // right somewhere (with the all-zero sets excluded by the data)
            continue;
          }
          if (pat != "factor" || (any && std::abs(f - k0) > 1e-6 * std::max(1.0, std::abs(k0)))) same_factor = false;
          if (!any) k0 = f, evidence = str_cat("case \"", r->set->name, "\", ", kGradName[q], ": ", ev);
          any = true;
        }
      if (any && same_factor) {
        std::ostringstream f;
        f << std::setprecision(4) << k0;
        c.add_finding("factor",
                      str_cat("dL/da, dL/dp and dL/dn are all ", f.str(),
                              "x the true ones: the hinge max(0, h) has slope 1 where it is active (not 2, not 1/2, "
                              "not h), and w already carries the reduction's 1/N"),
                      evidence);
      }
    }
  }
  return c.verdict();
}

namespace {
const Register registered{
    {8, [] { return check_08(chalk::batch_hard_pair<double>, chalk::triplet_margin_vjp<double>); },
     [] {
       return check_08(
           [](std::int64_t, std::span<const double>, std::span<const std::int64_t>) -> HardestPair {
             exercise_not_done(8);
           },
           [](std::span<const double>, std::span<const double>, std::span<const double>, const TripletDistances&, double,
              double, double, std::span<double>, std::span<double>, std::span<double>) { exercise_not_done(8); });
     }}};
}  // namespace

}  // namespace chalk::checker
