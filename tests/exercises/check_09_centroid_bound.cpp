// tests/exercises/check_09_centroid_bound.cpp — exercise 09's check (tests/exercises/check_09_centroid_bound.h).
#include "tests/exercises/check_09_centroid_bound.h"

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

// ---- the linear form: tables of distances, truth from the triplets ----

struct RowsCase {
  std::string name;
  CaseKind kind = CaseKind::kRegular;
  std::string special;
  std::vector<std::int64_t> labels;
  std::int64_t C = 0;
  enum { kAll, kOwnOnly, kOthersOnly } terms = kAll;
  std::uint64_t seed = 0;
};

std::vector<std::int64_t> class_major(const std::vector<std::int64_t>& sizes) {
  std::vector<std::int64_t> y;
  for (std::size_t m = 0; m < sizes.size(); ++m)
    for (std::int64_t i = 0; i < sizes[m]; ++i) y.push_back(static_cast<std::int64_t>(m));
  return y;
}

std::vector<RowsCase> rows_cases() {
  std::vector<RowsCase> v;
  v.push_back({"balanced: 3 classes of 2 samples", CaseKind::kRegular, "", class_major({2, 2, 2}), 3, RowsCase::kAll, 901});
  v.push_back({"balanced: 4 classes of 3 samples", CaseKind::kRegular, "", class_major({3, 3, 3, 3}), 4, RowsCase::kAll, 902});
  v.push_back({"unbalanced: classes of 4, 2 and 3 samples, interleaved", CaseKind::kRegular, "",
               {0, 1, 2, 0, 2, 0, 1, 2, 0}, 3, RowsCase::kAll, 903});
  v.push_back({"balanced, 3 classes of 3, only d(x_i, c_{y_i}) (the other distances 0)", CaseKind::kRegular, "",
               class_major({3, 3, 3}), 3, RowsCase::kOwnOnly, 904});
  v.push_back({"balanced, 3 classes of 3, every sample on its centroid (only d(x_i, c_m), m != y_i)", CaseKind::kRegular,
               "", class_major({3, 3, 3}), 3, RowsCase::kOthersOnly, 905});
  v.push_back({"a class of one sample (sizes 3, 1, 2)", CaseKind::kSpecial,
               "a class of one sample: it is never an anchor or a positive, only a negative", class_major({3, 1, 2}), 3,
               RowsCase::kAll, 906});
  v.push_back({"4 centroids, samples of 3 classes only (sizes 2, 3, 2)", CaseKind::kSpecial,
               "a centroid whose class has no sample in the batch: no triplet has a negative of that class",
               class_major({2, 3, 2}), 4, RowsCase::kAll, 907});
  return v;
}

// The table: N x C distances in [0.2, 2) from the seed, with the terms a case leaves out set to 0.
std::vector<double> table_of(const RowsCase& r) {
  const auto N = r.labels.size();
  const auto C = static_cast<std::size_t>(r.C);
  std::vector<double> d = random_values(N * C, r.seed, 0.2, 2.0);
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t m = 0; m < C; ++m) {
      const bool own = static_cast<std::int64_t>(m) == r.labels[i];
      if ((r.terms == RowsCase::kOwnOnly && !own) || (r.terms == RowsCase::kOthersOnly && own)) d[i * C + m] = 0;
    }
  return d;
}

// L_d from its definition: every triplet (i, j, k), y_j = y_i, j != i, y_k != y_i, adds
//   l_d = d(x_i, c_{y_i}) + d(x_j, c_{y_j}) + d(x_k, c_{y_k}) - d(x_i, c_{y_k}),
// each term to the row of the sample it is a distance of. Cubic: the definition, not a formula.
std::vector<double> rows_by_triplets(const std::vector<double>& d, const std::vector<std::int64_t>& y, std::int64_t C) {
  const std::size_t N = y.size();
  const auto c = static_cast<std::size_t>(C);
  auto at = [&](std::size_t s, std::int64_t m) { return d[s * c + static_cast<std::size_t>(m)]; };
  std::vector<double> rows(N, 0.0);
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = 0; j < N; ++j) {
      if (j == i || y[j] != y[i]) continue;
      for (std::size_t k = 0; k < N; ++k) {
        if (y[k] == y[i]) continue;
        rows[i] += at(i, y[i]) - at(i, y[k]);
        rows[j] += at(j, y[j]);
        rows[k] += at(k, y[k]);
      }
    }
  return rows;
}

// ---- the VJP: central differences of the forward ----

struct VjpCase {
  std::string name;
  CaseKind kind = CaseKind::kRegular;
  std::string special;
  std::vector<std::int64_t> labels;
  std::int64_t C = 0, D = 0;
  double g = 1;
  enum { kRandom, kAllOnOwn, kOneOnAnother } where = kRandom;
  bool f32 = false;
  std::uint64_t seed = 0;
};

std::vector<VjpCase> vjp_cases() {
  std::vector<VjpCase> v;
  v.push_back({"x [6, 4], 3 centroids, g = 0.7", CaseKind::kRegular, "", class_major({2, 2, 2}), 3, 4, 0.7,
               VjpCase::kRandom, false, 911});
  v.push_back({"x [10, 5], 5 centroids, unbalanced, g = -1.3", CaseKind::kRegular, "", {0, 3, 1, 4, 0, 2, 2, 1, 0, 3}, 5,
               5, -1.3, VjpCase::kRandom, false, 912});
  v.push_back({"x [6, 3], every sample on its own centroid, g = 1.1", CaseKind::kSpecial,
               "every sample sits exactly on its own centroid, the kink of d(x_i, c_{y_i}): that term sends 0, only "
               "the push of the other centroids is left",
               class_major({2, 2, 2}), 3, 3, 1.1, VjpCase::kAllOnOwn, false, 913});
  v.push_back({"x [6, 3], sample 0 on another class's centroid, g = 0.9", CaseKind::kSpecial,
               "sample 0 sits exactly on centroid 2, not its own: the kink of d(x_0, c_2), which sends 0",
               class_major({2, 2, 2}), 3, 3, 0.9, VjpCase::kOneOnAnother, false, 914});
  v.push_back({"float32: x [8, 6], 4 centroids, g = 0.8", CaseKind::kFloat32, "", class_major({2, 2, 2, 2}), 4, 6, 0.8,
               VjpCase::kRandom, true, 915});
  return v;
}

bool agrees(const std::vector<double>& y, const std::vector<double>& t, double atol = 1e-9, double rtol = 1e-9) {
  if (y.size() != t.size()) return false;
  for (std::size_t i = 0; i < y.size(); ++i)
    if (!(std::abs(y[i] - t[i]) <= atol + rtol * std::abs(t[i]))) return false;
  return true;
}

std::string num(double v) {
  std::ostringstream os;
  os << std::setprecision(4) << v;
  return os.str();
}

}  // namespace

Verdict check_09(const CentroidBoundRows& centroid_bound_rows, const CentroidBoundVjp& centroid_bound_loss_vjp) {
  Checker c(9, "centroid_bound_rows and centroid_bound_loss_vjp");
  NoGradGuard no_grad;

  // ---- 1. the linear form ----
  const std::vector<RowsCase> rcases = rows_cases();
  std::vector<std::vector<double>> yours_rows(rcases.size()), true_rows(rcases.size());
  for (std::size_t ci = 0; ci < rcases.size(); ++ci) {
    const RowsCase& r = rcases[ci];
    const auto N = static_cast<std::int64_t>(r.labels.size());
    const std::string name = str_cat("centroid_bound_rows: ", r.name, ", C = ", r.C);
    c.run(name, [&] {
      const std::vector<double> d = table_of(r);
      Case k;
      k.name = name;
      k.kind = r.kind;
      k.special = r.special;
      k.shape = {N};
      k.quantity = "value";
      k.truth = rows_by_triplets(d, r.labels, r.C);
      const Tensor yours = centroid_bound_rows(from_vector(d, {N, r.C}), from_vector(r.labels, {N}));
      if (yours.dtype() != DType::Float64) fail("centroid_bound_rows returned ", dtype_name(yours.dtype()), ": return float64");
      k.yours = values_of(yours);
      k.yours_shape = yours.shape();
      k.atol = 1e-9;
      k.rtol = 1e-9;
      yours_rows[ci] = k.yours;
      true_rows[ci] = k.truth;
      return k;
    });
  }

  // ---- 2. the VJP ----
  const std::vector<VjpCase> vcases = vjp_cases();
  std::vector<double> on_own_yours, on_own_truth;  // the case with only the push term, for the diagnosis
  for (const VjpCase& v : vcases) {
    const auto N = static_cast<std::int64_t>(v.labels.size());
    const std::string name = str_cat("centroid_bound_loss_vjp: ", v.name);
    c.run(name, [&] {
      const auto nd = static_cast<std::size_t>(N * v.D);
      std::vector<double> cen = random_values(static_cast<std::size_t>(v.C * v.D), v.seed + 1);
      std::vector<double> x = random_values(nd, v.seed);
      if (v.f32) {  // the float32 values, exactly: the truth is of the numbers the student's code sees
        for (auto& e : cen) e = static_cast<double>(static_cast<float>(e));
        for (auto& e : x) e = static_cast<double>(static_cast<float>(e));
      }
      const auto D = static_cast<std::size_t>(v.D);
      if (v.where == VjpCase::kAllOnOwn)
        for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i)
          for (std::size_t t = 0; t < D; ++t) x[i * D + t] = cen[static_cast<std::size_t>(v.labels[i]) * D + t];
      if (v.where == VjpCase::kOneOnAnother)
        for (std::size_t t = 0; t < D; ++t) x[t] = cen[2 * D + t];
      const Tensor y = from_vector(v.labels, {N});
      const Tensor c64 = from_vector(cen, {v.C, v.D});
      // the forward no exercise touches, in float64, times g
      const VectorFn forward = [&](const std::vector<double>& xs) {
        return std::vector<double>{centroid_bound_loss(from_vector(xs, {N, v.D}), y, c64).item()};
      };
      Case k;
      k.name = name;
      k.kind = v.kind;
      k.special = v.special;
      k.shape = {N, v.D};
      k.truth = central_difference_vjp(forward, x, {v.g});
      const DType dt = v.f32 ? DType::Float32 : DType::Float64;
      const Tensor xt = from_vector(x, {N, v.D}).to(dt), ct = c64.to(dt);
      const Tensor yours = centroid_bound_loss_vjp(xt, y, ct, centroid_distances(xt, ct), v.g);
      if (yours.dtype() != dt)
        fail("centroid_bound_loss_vjp returned ", dtype_name(yours.dtype()), " for ", dtype_name(dt), " x: keep x's dtype");
      k.yours = values_of(yours);
      k.yours_shape = yours.shape();
      if (v.f32) k.atol = k.rtol = 1e-4;
      if (v.where == VjpCase::kAllOnOwn) on_own_yours = k.yours, on_own_truth = k.truth;
      return k;
    });
  }

  // ---- 3. the diagnoses this exercise adds ----
  auto rows_right = [&](std::size_t ci) { return agrees(yours_rows[ci], true_rows[ci]); };
  auto row_ratio = [&](std::size_t ci, double* k, std::string* evidence) {  // one factor on the whole case?
    const auto& y = yours_rows[ci];
    const auto& t = true_rows[ci];
    if (y.size() != t.size() || y.empty()) return false;
    std::size_t worst = 0;
    for (std::size_t i = 0; i < t.size(); ++i)
      if (std::abs(t[i]) > std::abs(t[worst])) worst = i;
    if (t[worst] == 0) return false;
    *k = y[worst] / t[worst];
    std::vector<double> scaled = t;
    for (auto& e : scaled) e *= *k;
    *evidence = str_cat("case \"", rcases[ci].name, "\", sample ", worst, " (class ", rcases[ci].labels[worst], "): yours ",
                        num(y[worst]), ", true ", num(t[worst]));
    return agrees(y, scaled, 1e-9, 1e-6) && std::abs(*k - 1) > 1e-6;
  };
  if (yours_rows.size() == rcases.size()) {
    std::size_t own_only = 0, others_only = 0;
    for (std::size_t ci = 0; ci < rcases.size(); ++ci) {
      if (rcases[ci].terms == RowsCase::kOwnOnly) own_only = ci;
      if (rcases[ci].terms == RowsCase::kOthersOnly) others_only = ci;
    }
    double k = 0;
    std::string evidence;
    if (rows_right(own_only) && row_ratio(others_only, &k, &evidence)) {
      if (std::abs(k + 1) < 1e-6)
        c.add_finding("sign",
                      "the push term's sign is flipped: each triplet subtracts d(x_i, c_{y_k}) (the reverse triangle "
                      "inequality bounds d(x_i, x_k) from below), so the other centroids' distances enter a row with a minus",
                      evidence);
      else
        c.add_finding("counting",
                      str_cat("the weight of d(x_i, c_m), m != y_i, is ", num(k),
                              "x the truth (the own-centroid weight is right): count again how often a triplet subtracts "
                              "it — once for each positive of sample i and each negative of class m"),
                      evidence);
    } else if (rows_right(others_only) && row_ratio(own_only, &k, &evidence)) {
      c.add_finding("counting",
                    str_cat("the weight of d(x_i, c_{y_i}) is ", num(k),
                            "x the truth (the other weights are right): a sample's distance to its own centroid enters "
                            "l_d in three roles, as the anchor's term, the positive's and the negative's; count each"),
                    evidence);
    }
    // right where the classes are balanced, wrong where they are not
    bool balanced_right = true, unbalanced_wrong = false;
    std::string ev;
    for (std::size_t ci = 0; ci < rcases.size(); ++ci) {
      std::vector<std::int64_t> n(static_cast<std::size_t>(rcases[ci].C), 0);
      for (auto l : rcases[ci].labels) ++n[static_cast<std::size_t>(l)];
      const bool balanced = std::all_of(n.begin(), n.end(), [&](std::int64_t s) { return s == n[0]; });
      if (balanced && !rows_right(ci)) balanced_right = false;
      if (!balanced && rcases[ci].kind == CaseKind::kRegular && !rows_right(ci) && !unbalanced_wrong) {
        unbalanced_wrong = true;
        std::size_t i = 0;
        while (i + 1 < yours_rows[ci].size() &&
               agrees({yours_rows[ci][i]}, {true_rows[ci][i]}))
          ++i;
        ev = yours_rows[ci].size() == true_rows[ci].size()
                 ? str_cat("case \"", rcases[ci].name, "\", sample ", i, ": yours ", num(yours_rows[ci][i]), ", true ",
                           num(true_rows[ci][i]))
                 : str_cat("case \"", rcases[ci].name, "\"");
      }
    }
    if (balanced_right && unbalanced_wrong)
      c.add_finding("counting",
                    "right when every class has the same size, wrong when they differ: in each count, whose class size is "
                    "it — the anchor's n_i, or the negative's class n_m? (with equal sizes the two cannot be told apart)",
                    ev);
  }
  // the VJP's push term with the wrong sign: on the case where only the push term is left
  if (!on_own_truth.empty() && on_own_yours.size() == on_own_truth.size() && !agrees(on_own_yours, on_own_truth, 1e-6, 1e-5)) {
    std::vector<double> minus = on_own_truth;
    for (auto& e : minus) e = -e;
    if (agrees(on_own_yours, minus, 1e-6, 1e-5))
      c.add_finding("sign",
                    "the push term's sign is flipped in the gradient: l_i subtracts beta d(x_i, c_m) for every other "
                    "centroid, so its gradient is -beta (x_i - c_m)/d_im (a descent step moves x_i away from c_m); "
                    "with every sample on its own centroid only that term is left, and yours is its negative",
                    str_cat("case \"", vcases[2].name, "\", element [0, 0]: yours ", num(on_own_yours[0]), ", true ",
                            num(on_own_truth[0])));
  }
  return c.verdict();
}

namespace {
const Register registered{
    {9, [] { return check_09(chalk::centroid_bound_rows, chalk::centroid_bound_loss_vjp); },
     [] {
       return check_09([](const Tensor&, const Tensor&) -> Tensor { exercise_not_done(9); },
                       [](const Tensor&, const Tensor&, const Tensor&, const Tensor&, double) -> Tensor {
                         exercise_not_done(9);
                       });
     }}};
}  // namespace

}  // namespace chalk::checker
