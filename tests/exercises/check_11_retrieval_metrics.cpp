// tests/exercises/check_11_retrieval_metrics.cpp — exercise 11's check
// (tests/exercises/check_11_retrieval_metrics.h).
//
// Every truth below is worked by hand. The MAP@R values are also what pytorch-metric-learning's
// mean_average_precision_at_r gives for the same ranked labels (its array formula, re-typed in
// numpy: cumsum(hits) * hits / rank, masked to the first R, summed, divided by R; the package
// itself was not run).
#include "tests/exercises/check_11_retrieval_metrics.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/exercise.h"
#include "eval/metrics.h"

namespace chalk::checker {

namespace {

// ---- rankings: distances (one per item, the query's own entry included), the query, k
struct Ranking {
  std::string name, special;
  CaseKind kind;
  std::vector<double> distances;
  std::int64_t query, k;
  std::vector<std::int64_t> truth;
};
const std::vector<Ranking> kRankings = {
    {"6 distances, query 2 (its own 0.0), all 5 others", "", CaseKind::kRegular,
     {0.9, 0.3, 0.0, 0.5, 0.1, 0.7}, 2, 5, {4, 1, 3, 5, 0}},
    {"7 distances, query 3 (its own -0.2, as retrieval_metrics passes ||r||^2 - 2 q.r), the 3 nearest", "",
     CaseKind::kRegular, {2.5, 0.4, 3.1, -0.2, 1.7, 0.9, 5.0}, 3, 3, {1, 5, 4}},
    {"12 distances, query 7, the 6 nearest", "", CaseKind::kRegular,
     {0.61, 0.17, 0.93, 0.42, 0.08, 0.77, 0.35, -0.5, 0.29, 0.84, 0.12, 0.56}, 7, 6, {4, 10, 1, 8, 6, 3}},
    {"ties: items 1 and 3 both at 0.2, items 0 and 4 both at 0.5 (query 2, all 5 others)",
     "equal distances: the lower index ranks first", CaseKind::kSpecial,
     {0.5, 0.2, 0.0, 0.2, 0.5, 0.1}, 2, 5, {5, 1, 3, 0, 4}},
    {"a tie across the k-th place: items 1 and 3 at 0.2, the 2 nearest of query 2",
     "a tie across the k-th place (equal distances: the lower index ranks first, and is kept)", CaseKind::kSpecial,
     {0.5, 0.2, 0.0, 0.2, 0.5, 0.1}, 2, 2, {5, 1}},
    {"a duplicate of query 2 at index 0, at the query's own distance 0.0",
     "a duplicate of the query (index 0) at the query's own distance: it is a neighbour, the query is not",
     CaseKind::kSpecial, {0.0, 0.3, 0.0, 0.6}, 2, 3, {0, 1, 3}},
};

// ---- ranked label lists; the query's label is 3 in every one
constexpr std::int64_t kLabel = 3;
struct Listed {
  std::vector<std::int64_t> labels;
  double truth;          // Precision@1, or MAP@R
  double without_first;  // the same of the list without its first neighbour (the off-by-one rank)
  std::int64_t R = 0;    // MAP@R only
};
// Precision@1: 1 if the first label is 3
const std::vector<Listed> kP1 = {{{3, 0, 3, 0, 0, 3, 0, 0}, 1, 0}, {{0, 3, 0, 0, 3, 0, 0}, 0, 1},
                                 {{3, 0, 0, 3, 0, 0}, 1, 0},       {{0, 0, 3, 0, 0}, 0, 0},
                                 {{0, 3, 0, 0}, 0, 1},             {{3, 5}, 1, 0},
                                 {{7, 3}, 0, 1}};
struct MapGroup {
  std::string name;
  std::vector<Listed> lists;
};
// MAP@R = (1/R) sum_{k <= R} P(k) rel(k). Each list is long enough (R + 1 or more) for an answer
// that reads one place too far to read a label, not past the end.
const std::vector<MapGroup> kMap = {
    // [3 0 3 | ...]: hits at ranks 1 and 3: (1/1 + 2/3) / 3 = 5/9; [0 3 0 | ...]: (1/2) / 3 = 1/6;
    // [3 0 0 | ...]: 1/3; [0 0 3 | ...]: (1/3) / 3 = 1/9; [0 3 0 | 0]: 1/6
    {"R = 3",
     {{{3, 0, 3, 0, 0, 3, 0, 0}, 5.0 / 9, 1.0 / 6, 3},
      {{0, 3, 0, 0, 3, 0, 0}, 1.0 / 6, 1.0 / 3, 3},
      {{3, 0, 0, 3, 0, 0}, 1.0 / 3, 1.0 / 9, 3},
      {{0, 0, 3, 0, 0}, 1.0 / 9, 1.0 / 6, 3},
      {{0, 3, 0, 0}, 1.0 / 6, 1.0 / 3, 3}}},
    // a class of two: MAP@R is Precision@1
    {"R = 1 (a class of two)", {{{3, 0, 0}, 1, 0, 1}, {{0, 3, 0}, 0, 1, 1}}},
    // [3 3 0 3 0 | 0 3 3 0]: (1 + 1 + 3/4) / 5 = 0.55; without the first, [3 0 3 0 0 | ...]: (1 + 2/3) / 5;
    // every one of the first R = 3 relevant: 1; none: 0 (the relevant item at rank R + 1 does not count)
    {"R = 5 (a class of six), and R = 3 with all and with none of the first R relevant",
     {{{3, 3, 0, 3, 0, 0, 3, 3, 0}, 0.55, 1.0 / 3, 5}, {{3, 3, 3, 0}, 1, 2.0 / 3, 3}, {{0, 0, 0, 3}, 0, 1.0 / 9, 3}}},
};

// ---- small sets ranked and scored end to end: points on a line, their labels, and the means of
// Precision@1 and MAP@R over the queries that have R >= 1 (retrieval_metrics' rule)
struct Set {
  std::string name, special;
  std::vector<double> x;
  std::vector<std::int64_t> y;
  double p1, map;
};
const std::vector<Set> kSets = {
    // query 0 (at 0): [1 (label 0), 2 (1), 3 (0)]: P@1 1, R = 2, MAP@R (1 + 0) / 2 = 1/2
    // query 1 (at 1): 0 and 2 tie at distance 1, 0 first: [0, 2, 3] -> labels [0 1 0]: 1, 1/2
    // query 2 (label 1): no other item of label 1, R = 0: left out
    // query 3 (at 3): [2 (1), 1 (0), 0 (0)]: 0, (0 + 1/2) / 2 = 1/4
    // means over 3 queries: P@1 2/3, MAP@R (1/2 + 1/2 + 1/4) / 3 = 5/12
    {"points 0 1 2 3 with labels 0 0 1 0",
     "a set with a tie (query 1 is as far from item 0 as from item 2) and a class of one item (item 2: R = 0, "
     "left out of the means)",
     {0, 1, 2, 3}, {0, 0, 1, 0}, 2.0 / 3, 5.0 / 12},
    // each item's duplicate has the other label: every query's nearest is of the wrong label, and
    // its one same-label item (R = 1) is at rank 2 or 3
    {"points 0 0 1 1 with labels 0 1 0 1",
     "a set where each query's duplicate (at distance 0) has the other label: the query is not its own neighbour",
     {0, 0, 1, 1}, {0, 1, 0, 1}, 0, 0},
};

std::string labels_text(const std::vector<std::int64_t>& v) {
  std::ostringstream os;
  os << "[";
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? " " : "") << v[i];
  os << "]";
  return os.str();
}

bool near(double a, double b) { return std::abs(a - b) <= 1e-12; }

}  // namespace

Verdict check_11(const NearestNeighbours& nearest_neighbours, const PrecisionAt1& precision_at_1,
                 const MapAtR& map_at_r) {
  Checker chk(11, "nearest_neighbours, precision_at_1, map_at_r");
  // the student's answers, kept for the diagnoses below (empty where the call threw)
  std::vector<std::vector<std::int64_t>> ranked_yours(kRankings.size());
  std::vector<double> p1_yours;
  std::vector<std::vector<double>> map_yours(kMap.size());

  auto ranking_case = [&](std::size_t r) {
    const Ranking& c = kRankings[r];
    chk.run(c.name, [&] {
      Case k;
      k.name = c.name;
      k.kind = c.kind;
      k.special = c.special;
      k.shape = {static_cast<std::int64_t>(c.truth.size())};
      for (auto t : c.truth) k.truth.push_back(static_cast<double>(t));
      ranked_yours[r] = nearest_neighbours(c.distances, c.query, c.k);
      for (auto j : ranked_yours[r]) k.yours.push_back(static_cast<double>(j));
      k.yours_shape = {static_cast<std::int64_t>(k.yours.size())};
      k.quantity = "index";
      k.atol = k.rtol = 0;  // indices: exactly
      return k;
    });
  };

  // ---- regular: rankings, then the metrics of ranked label lists
  for (std::size_t r = 0; r < kRankings.size(); ++r)
    if (kRankings[r].kind == CaseKind::kRegular) ranking_case(r);
  {
    std::string name = "Precision@1 of 7 ranked label lists, query label 3:";
    for (const auto& l : kP1) name += str_cat(" ", labels_text(l.labels));
    chk.run(name, [&] {
      Case k;
      k.name = name;
      k.shape = {static_cast<std::int64_t>(kP1.size())};
      for (const auto& l : kP1) {
        k.truth.push_back(l.truth);
        k.yours.push_back(precision_at_1(l.labels, kLabel));
      }
      p1_yours = k.yours;
      k.quantity = "value";
      k.atol = 1e-12, k.rtol = 0;
      return k;
    });
  }
  for (std::size_t g = 0; g < kMap.size(); ++g) {
    const MapGroup& group = kMap[g];
    std::string name = str_cat("MAP@R, ", group.name, ", query label 3:");
    for (const auto& l : group.lists) name += str_cat(" ", labels_text(l.labels));
    chk.run(name, [&] {
      Case k;
      k.name = name;
      k.shape = {static_cast<std::int64_t>(group.lists.size())};
      for (const auto& l : group.lists) {
        k.truth.push_back(l.truth);
        k.yours.push_back(map_at_r(l.labels, kLabel, l.R));
      }
      map_yours[g] = k.yours;
      k.quantity = "value";
      k.atol = 1e-12, k.rtol = 0;
      return k;
    });
  }

  // ---- special: ties and a duplicate, then two sets ranked and scored end to end
  for (std::size_t r = 0; r < kRankings.size(); ++r)
    if (kRankings[r].kind == CaseKind::kSpecial) ranking_case(r);
  for (const Set& s : kSets) {
    const std::string name = str_cat(s.name, ": [mean Precision@1, mean MAP@R] with your three functions");
    chk.run(name, [&] {
      Case k;
      k.name = name;
      k.kind = CaseKind::kSpecial;
      k.special = s.special;
      k.shape = {2};
      k.quantity = "value";
      k.truth = {s.p1, s.map};
      const auto n = static_cast<std::int64_t>(s.x.size());
      double p1 = 0, map = 0;
      std::int64_t queries = 0;
      for (std::int64_t q = 0; q < n; ++q) {
        const std::int64_t R = std::count(s.y.begin(), s.y.end(), s.y[q]) - 1;
        if (R == 0) continue;  // retrieval_metrics' rule: a query alone in its class counts in no metric
        std::vector<double> d;
        for (double xj : s.x) d.push_back((s.x[q] - xj) * (s.x[q] - xj));
        std::vector<std::int64_t> labels;
        for (auto j : nearest_neighbours(d, q, n - 1)) labels.push_back(s.y[static_cast<std::size_t>(j)]);
        p1 += precision_at_1(labels, s.y[q]);
        map += map_at_r(labels, s.y[q], R);
        ++queries;
      }
      k.yours = {p1 / static_cast<double>(queries), map / static_cast<double>(queries)};
      k.quantity = "value";
      k.atol = 1e-12, k.rtol = 0;
      return k;
    });
  }

  // ---- diagnoses of this exercise, the first that applies wins
  // 1. the query among its own neighbours: in an ordinary ranking, or only where a duplicate of it
  //    came first (the nearest item dropped instead of the query)
  std::string self_regular, self_special;
  for (std::size_t r = 0; r < kRankings.size(); ++r) {
    const Ranking& c = kRankings[r];
    if (std::find(ranked_yours[r].begin(), ranked_yours[r].end(), c.query) == ranked_yours[r].end()) continue;
    std::string& evidence = c.kind == CaseKind::kRegular ? self_regular : self_special;
    if (evidence.empty())
      evidence = str_cat("case \"", c.name, "\": yours ", labels_text(ranked_yours[r]), ", true ",
                         labels_text(c.truth), " (the query is item ", c.query, ")");
  }
  if (!self_regular.empty())
    chk.add_finding("query-included",
                    "the query itself is among its own neighbours: at distance 0 from itself it would always be "
                    "right at rank 1. Leave item `query` out of the ranking",
                    self_regular);
  else if (!self_special.empty())
    chk.add_finding("special",
                    "where a duplicate of the query is at the query's own distance and ranks before it, the query "
                    "itself is in your list: you dropped the nearest item instead of the query. Leave the query "
                    "out by its index, not by its rank",
                    self_special);
  // 2. MAP@R divided by the number of relevant items found in the first R instead of by R
  {
    bool all_by_hits = true, any_wrong = false;
    std::string evidence;
    for (std::size_t g = 0; g < kMap.size(); ++g) {
      if (map_yours[g].size() != kMap[g].lists.size()) {
        all_by_hits = false;
        continue;
      }
      for (std::size_t i = 0; i < kMap[g].lists.size(); ++i) {
        const Listed& l = kMap[g].lists[i];
        const std::int64_t R = l.R;
        const auto hits = std::count(l.labels.begin(), l.labels.begin() + R, kLabel);
        const double yours = map_yours[g][i];
        const bool by_hits = hits > 0 ? near(yours, l.truth * static_cast<double>(R) / static_cast<double>(hits))
                                      : (std::isnan(yours) || yours == 0);
        all_by_hits = all_by_hits && by_hits;
        if (!near(yours, l.truth) && evidence.empty()) {
          any_wrong = true;
          evidence = str_cat(labels_text(l.labels), ", R = ", R, " (", hits, " of the first R relevant): yours ",
                             yours, ", true ", l.truth);
        }
      }
    }
    if (all_by_hits && any_wrong)
      chk.add_finding("divided-by-hits",
                      "MAP@R is divided by the number of relevant items found in the first R, not by R: that is "
                      "mean average precision without the @R, which does not punish the items a query misses",
                      evidence);
  }
  // 3. ranks one off: each answer is the true one of the list without its first neighbour (rank 1
  //    read at index 1), or P(k) divided by a rank counted from 0 (infinite where rank 1 is relevant).
  //    Precision@1 and MAP@R are judged apart: each is right, shifted, or neither.
  {
    enum class State { kRight, kShifted, kOther };
    auto judge = [](const std::vector<double>& yours, const std::vector<Listed>& lists) {
      if (yours.size() != lists.size()) return State::kOther;
      bool right = true, shifted = true;
      for (std::size_t i = 0; i < lists.size(); ++i) {
        right = right && near(yours[i], lists[i].truth);
        shifted = shifted && near(yours[i], lists[i].without_first);
      }
      return right ? State::kRight : shifted ? State::kShifted : State::kOther;
    };
    const State p1_state = judge(p1_yours, kP1);
    State map_state = State::kRight;
    std::string evidence, infinite;
    for (std::size_t g = 0; g < kMap.size(); ++g) {
      const State s = judge(map_yours[g], kMap[g].lists);
      if (s == State::kOther || (s == State::kShifted && map_state == State::kRight)) map_state = s;
      for (std::size_t i = 0; i < map_yours[g].size() && i < kMap[g].lists.size(); ++i) {
        const Listed& l = kMap[g].lists[i];
        if (!near(map_yours[g][i], l.truth) && evidence.empty())
          evidence = str_cat("MAP@R of ", labels_text(l.labels), ", R = ", l.R, ": yours ", map_yours[g][i],
                             ", true ", l.truth, ", the true value without its first neighbour ", l.without_first);
        if (!std::isfinite(map_yours[g][i]) && l.labels.front() == kLabel && infinite.empty())
          infinite = str_cat("MAP@R of ", labels_text(l.labels), ", R = ", l.R, ": yours ", map_yours[g][i],
                             ", true ", l.truth);
      }
    }
    if (p1_state == State::kShifted)
      for (std::size_t i = 0; i < kP1.size(); ++i)
        if (!near(p1_yours[i], kP1[i].truth)) {
          evidence = str_cat("Precision@1 of ", labels_text(kP1[i].labels), ": yours ", p1_yours[i], ", true ",
                             kP1[i].truth);
          break;
        }
    const bool any_shifted = p1_state == State::kShifted || map_state == State::kShifted;
    if (any_shifted && p1_state != State::kOther && map_state != State::kOther)
      chk.add_finding("off-by-one",
                      "your ranks are one off: each of your values is the true one of the same list without its "
                      "first neighbour. Rank 1 is the nearest neighbour, ranked_labels[0]",
                      evidence);
    else if (!infinite.empty())
      chk.add_finding("off-by-one",
                      "P(k) is infinite where the nearest neighbour is relevant: a division by the rank counted "
                      "from 0? Rank k = 1 is ranked_labels[0], and P(k) = (relevant among the first k) / k",
                      infinite);
  }
  return chk.verdict();
}

namespace {
const Register registered{
    {11, [] { return check_11(chalk::nearest_neighbours, chalk::precision_at_1, chalk::map_at_r); },
     [] {
       return check_11(
           [](std::span<const double>, std::int64_t, std::int64_t) -> std::vector<std::int64_t> {
             exercise_not_done(11);
           },
           [](std::span<const std::int64_t>, std::int64_t) -> double { exercise_not_done(11); },
           [](std::span<const std::int64_t>, std::int64_t, std::int64_t) -> double { exercise_not_done(11); });
     }}};
}  // namespace

}  // namespace chalk::checker
