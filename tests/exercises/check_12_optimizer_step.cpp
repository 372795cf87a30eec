// tests/exercises/check_12_optimizer_step.cpp — exercise 12's check
// (tests/exercises/check_12_optimizer_step.h).
//
// Every number a candidate is compared with is PyTorch's (tests/reference/optim.json) or worked
// by hand; this file only runs the candidate and reads the pattern of what it gets wrong. A
// case's values are rows of the parameter's length: p's step (p after minus p before) and, for
// a single step, the state the function leaves (momentum_buffer; exp_avg, exp_avg_sq); for ten
// steps in a row, p minus its start after each step.
#include "tests/exercises/check_12_optimizer_step.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "core/exercise.h"
#include "tests/reference.h"

namespace chalk::checker {

namespace {

using Rows = std::vector<std::vector<double>>;

Rows rows_of(const Tensor& t) {
  const auto all = t.to_vector<double>();
  const auto n = static_cast<std::size_t>(t.shape()[1]);
  Rows r;
  for (std::size_t i = 0; i < all.size(); i += n) r.emplace_back(all.begin() + i, all.begin() + i + n);
  return r;
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

enum class Step { kFirst, kTenth, kInARow };

// What a case exercises: the diagnoses read which of them pass.
struct Tags {
  bool adam = false, decoupled = false, nesterov = false, float32 = false;
  double momentum = 0, dampening = 0, weight_decay = 0, eps = 0;
  Step step = Step::kInARow;
};

// One optimizer setting: its options, and PyTorch's (or a hand-worked) run of it.
struct Setting {
  std::string label;  // "SGD lr 0.1, momentum 0.9, dampening 0.5"
  Tags tags;
  nn::SGDOptions sgd;
  nn::AdamOptions adam;
  std::vector<double> p0;
  Rows grads;                                  // row t: the gradient of step t + 1
  Rows param, buffer, exp_avg, exp_avg_sq;     // row t: after step t + 1
};

Setting setting_from(const reference::Case& c) {
  Setting s;
  const std::string kind = c.param_str("optimizer");
  s.tags.adam = kind != "sgd";
  s.tags.decoupled = kind == "adamw";
  s.tags.weight_decay = c.param("weight_decay");
  std::ostringstream label;
  if (!s.tags.adam) {
    s.sgd = {.lr = c.param("lr"), .momentum = c.param("momentum"), .dampening = c.param("dampening"),
             .nesterov = c.param_bool("nesterov"), .weight_decay = s.tags.weight_decay};
    s.tags.momentum = s.sgd.momentum;
    s.tags.dampening = s.sgd.dampening;
    s.tags.nesterov = s.sgd.nesterov;
    label << "SGD lr " << num(s.sgd.lr);
    if (s.sgd.momentum != 0) label << ", " << (s.sgd.nesterov ? "Nesterov " : "") << "momentum " << num(s.sgd.momentum);
    if (s.sgd.dampening != 0) label << ", dampening " << num(s.sgd.dampening);
  } else {
    s.adam = {.lr = c.param("lr"), .beta1 = c.param("beta1"), .beta2 = c.param("beta2"), .eps = c.param("eps"),
              .weight_decay = s.tags.weight_decay};
    s.tags.eps = s.adam.eps;
    label << (s.tags.decoupled ? "AdamW" : "Adam") << " lr " << num(s.adam.lr);
    if (s.adam.beta1 != 0.9 || s.adam.beta2 != 0.999)
      label << ", betas (" << num(s.adam.beta1) << ", " << num(s.adam.beta2) << ")";
    if (s.adam.eps != 1e-8) label << ", eps " << num(s.adam.eps);
    if (c.param("grad_scale") != 1.0) label << ", gradients of size " << num(c.param("grad_scale"));
  }
  if (s.tags.weight_decay != 0) label << ", weight decay " << num(s.tags.weight_decay);
  s.label = label.str();
  s.p0 = c.input("param").to_vector<double>();
  s.grads = rows_of(c.input("grads"));
  s.param = rows_of(c.output("param"));
  if (c.has_output("momentum_buffer")) s.buffer = rows_of(c.output("momentum_buffer"));
  if (c.has_output("exp_avg")) {
    s.exp_avg = rows_of(c.output("exp_avg"));
    s.exp_avg_sq = rows_of(c.output("exp_avg_sq"));
  }
  return s;
}

// Runs worked by hand, ten steps or two, with the same gradient at every step.
std::vector<Setting> hand_worked() {
  std::vector<Setting> out;
  {
    Setting s;
    s.label = "hand-worked: SGD lr 0.25, momentum 0.5, dampening 0.5, g = 2 twice from p = 1";
    s.sgd = {.lr = 0.25, .momentum = 0.5, .dampening = 0.5};
    s.tags.momentum = 0.5;
    s.tags.dampening = 0.5;
    s.p0 = {1.0};
    s.grads = {{2.0}, {2.0}};
    s.param = {{0.5}, {0.0}};
    out.push_back(s);
  }
  {
    Setting s;
    s.label = "hand-worked: SGD lr 0.25, Nesterov momentum 0.5, g = 2 twice from p = 1";
    s.sgd = {.lr = 0.25, .momentum = 0.5, .nesterov = true};
    s.tags.momentum = 0.5;
    s.tags.nesterov = true;
    s.p0 = {1.0};
    s.grads = {{2.0}, {2.0}};
    s.param = {{0.25}, {-0.625}};
    out.push_back(s);
  }
  {
    // the same gradient at every step: each step moves every coordinate by lr against its sign
    Setting s;
    s.label = "hand-worked: Adam lr 0.25, betas (0.5, 0.75), eps 0, g = [4, -0.5, 0.001] ten times from p = 0";
    s.adam = {.lr = 0.25, .beta1 = 0.5, .beta2 = 0.75, .eps = 0.0};
    s.tags.adam = true;
    s.p0 = {0.0, 0.0, 0.0};
    for (int t = 1; t <= 10; ++t) {
      s.grads.push_back({4.0, -0.5, 0.001});
      s.param.push_back({-0.25 * t, 0.25 * t, -0.25 * t});
    }
    out.push_back(s);
  }
  return out;
}

// A run of `count` updates of setting s through a candidate, from step `first` (1: a fresh state;
// otherwise PyTorch's state after step first - 1). Everything in T, read back as double.
struct Run {
  Rows rows;            // p's step, then the state (one step); or p - p_start after each step
  bool buffer_kept = true;  // SGD without momentum: the buffer given (NaN) was neither read nor written
};

template <typename T>
std::vector<T> as(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

template <typename T>
std::vector<double> as_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

template <typename T>
Run run_sgd(const SgdUpdate<T>& f, const Setting& s, int first, int count, const nn::SGDOptions& options) {
  const auto n = static_cast<std::int64_t>(s.p0.size());
  const bool fresh = first == 1, momentum = options.momentum != 0.0;
  std::vector<T> p = as<T>(fresh ? s.p0 : s.param[static_cast<std::size_t>(first - 2)]);
  // SGD keeps no buffer without momentum (it passes null): here a buffer of NaN, which must come
  // back untouched; with momentum, zeros before the first step, as SGD allocates it
  std::vector<T> b(static_cast<std::size_t>(n), momentum ? T(0) : std::numeric_limits<T>::quiet_NaN());
  if (momentum && !fresh) b = as<T>(s.buffer[static_cast<std::size_t>(first - 2)]);
  const std::vector<T> start = p;
  Run r;
  for (int t = first; t < first + count; ++t) {
    std::vector<T> g = as<T>(s.grads[static_cast<std::size_t>(t - 1)]);
    const std::vector<T> before = p;
    // as SGD::step passes it: true until the parameter has a buffer (always, without momentum)
    f(p.data(), g.data(), b.data(), n, !momentum || (fresh && t == 1), options);
    std::vector<double> row(static_cast<std::size_t>(n));
    for (std::size_t k = 0; k < row.size(); ++k)
      row[k] = static_cast<double>(p[k]) - static_cast<double>(count == 1 ? before[k] : start[k]);
    r.rows.push_back(row);
  }
  if (count == 1 && momentum) r.rows.push_back(as_double(b));
  if (!momentum)
    for (T x : b) r.buffer_kept = r.buffer_kept && std::isnan(x);
  return r;
}

template <typename T>
Run run_adam(const AdamUpdate<T>& f, const Setting& s, int first, int count) {
  const auto n = static_cast<std::int64_t>(s.p0.size());
  const bool fresh = first == 1;
  std::vector<T> p = as<T>(fresh ? s.p0 : s.param[static_cast<std::size_t>(first - 2)]);
  std::vector<T> m(static_cast<std::size_t>(n), T(0)), v = m;  // zero before the first step, as in Adam
  if (!fresh) {
    m = as<T>(s.exp_avg[static_cast<std::size_t>(first - 2)]);
    v = as<T>(s.exp_avg_sq[static_cast<std::size_t>(first - 2)]);
  }
  const std::vector<T> start = p;
  Run r;
  for (int t = first; t < first + count; ++t) {
    std::vector<T> g = as<T>(s.grads[static_cast<std::size_t>(t - 1)]);
    const std::vector<T> before = p;
    f(p.data(), g.data(), m.data(), v.data(), n, t, s.adam, s.tags.decoupled);
    std::vector<double> row(static_cast<std::size_t>(n));
    for (std::size_t k = 0; k < row.size(); ++k)
      row[k] = static_cast<double>(p[k]) - static_cast<double>(count == 1 ? before[k] : start[k]);
    r.rows.push_back(row);
  }
  if (count == 1) {
    r.rows.push_back(as_double(m));
    r.rows.push_back(as_double(v));
  }
  return r;
}

// PyTorch's rows for the same run.
Rows truth_of(const Setting& s, int first, int count) {
  Rows out;
  const std::size_t n = s.p0.size();
  const std::vector<double>& start = first == 1 ? s.p0 : s.param[static_cast<std::size_t>(first - 2)];
  for (int t = first; t < first + count; ++t) {
    const std::vector<double>& before = count == 1 && t > 1 ? s.param[static_cast<std::size_t>(t - 2)] : start;
    std::vector<double> row(n);
    for (std::size_t k = 0; k < n; ++k) row[k] = s.param[static_cast<std::size_t>(t - 1)][k] - before[k];
    out.push_back(row);
  }
  if (count == 1) {
    const auto i = static_cast<std::size_t>(first - 1);
    if (!s.tags.adam && s.tags.momentum != 0) out.push_back(s.buffer[i]);
    if (s.tags.adam) {
      out.push_back(s.exp_avg[i]);
      out.push_back(s.exp_avg_sq[i]);
    }
  }
  return out;
}

std::vector<double> flat(const Rows& rows) {
  std::vector<double> out;
  for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

// A case as the diagnoses read it.
struct Outcome {
  std::string name;
  Tags tags;
  bool passed = false;
  std::vector<double> yours_step, true_step;  // the first row: p's step
  std::string evidence;
};

// yours / truth when it is one constant over the elements (to 1e-3 of itself), else NaN.
double constant_ratio(const std::vector<double>& yours, const std::vector<double>& truth) {
  const double none = std::numeric_limits<double>::quiet_NaN();
  if (yours.size() != truth.size() || truth.empty()) return none;
  const double r0 = yours[0] / truth[0];
  for (std::size_t k = 0; k < truth.size(); ++k) {
    if (!(std::abs(truth[k]) > 1e-12) || !std::isfinite(yours[k])) return none;
    if (!(std::abs(yours[k] / truth[k] - r0) <= 1e-3 * std::abs(r0))) return none;
  }
  return r0;
}

}  // namespace

OptimizerUpdates library_updates() {
  return {nn::sgd_update<double>, nn::sgd_update<float>, nn::adam_update<double>, nn::adam_update<float>};
}

Verdict check_12(const OptimizerUpdates& yours) {
  Checker c(12, "sgd_update, adam_update");
  std::vector<Outcome> outcomes;
  bool buffer_touched = false;
  std::string buffer_touched_case;

  std::vector<Setting> settings;
  try {
    for (const auto& rc : reference::load_reference("optim").cases) settings.push_back(setting_from(rc));
  } catch (const std::exception& e) {
    const std::string why = e.what();
    c.run("PyTorch's reference values (tests/reference/optim.json)", [&]() -> Case { fail(why); });
    return c.verdict();
  }

  // One case: `make` runs the candidate; the truth is PyTorch's (or the hand-worked) rows.
  auto add = [&](const Setting& s, Step step, bool float32) {
    const int first = step == Step::kTenth ? 10 : 1;
    const int count = step == Step::kInARow ? static_cast<int>(s.param.size()) : 1;
    const bool stateless = !s.tags.adam && s.tags.momentum == 0;
    std::string name = str_cat(float32 ? "float32: " : "", s.label, ": ");
    if (step == Step::kFirst) name += "step 1, from a fresh state";
    if (step == Step::kTenth) name += "step 10, from PyTorch's state after step 9";
    if (step == Step::kInARow)
      name += stateless ? str_cat("steps 1 to ", count) : str_cat("steps 1 to ", count, " in a row, from your own state");
    if (count == 1) name += s.tags.adam ? " [rows: p's step, exp_avg, exp_avg_sq]" : " [rows: p's step, momentum_buffer]";
    Tags tags = s.tags;
    tags.step = step;
    tags.float32 = float32;
    c.run(name, [&] {
      Run r;
      if (!s.tags.adam)
        r = float32 ? run_sgd(yours.sgd_float32, s, first, count, s.sgd) : run_sgd(yours.sgd, s, first, count, s.sgd);
      else
        r = float32 ? run_adam(yours.adam_float32, s, first, count) : run_adam(yours.adam, s, first, count);
      const Rows truth = truth_of(s, first, count);
      Case k;
      k.name = name;
      k.kind = float32 ? CaseKind::kFloat32 : s.tags.eps >= 1e-4 ? CaseKind::kSpecial : CaseKind::kRegular;
      if (k.kind == CaseKind::kSpecial) k.special = str_cat("eps = ", num(s.tags.eps), ", as large as sqrt(v_hat)");
      k.shape = {static_cast<std::int64_t>(truth.size()), static_cast<std::int64_t>(s.p0.size())};
      k.quantity = "value";
      k.yours = flat(r.rows);
      k.truth = flat(truth);
      k.atol = float32 ? 1e-5 : 1e-14;
      k.rtol = float32 ? 1e-4 : 1e-9;
      if (!r.buffer_kept && !buffer_touched) {
        buffer_touched = true;
        buffer_touched_case = name;
      }
      Outcome o;
      o.name = name;
      o.tags = tags;
      double factor = 0;
      o.passed = element_pattern(k, &factor, &o.evidence).empty();
      o.yours_step = r.rows.empty() ? std::vector<double>{} : r.rows.front();
      o.true_step = truth.front();
      outcomes.push_back(o);
      return k;
    });
  };
  for (const auto& s : settings) {
    if (!s.tags.adam && s.tags.momentum == 0) {
      add(s, Step::kInARow, false);  // no state: each step is a first step
      continue;
    }
    for (Step step : {Step::kFirst, Step::kTenth, Step::kInARow}) add(s, step, false);
  }
  for (const auto& s : hand_worked()) add(s, Step::kInARow, false);
  for (const auto& s : settings)
    if (s.tags.nesterov && s.tags.weight_decay != 0) add(s, Step::kInARow, true);
  for (const auto& s : settings)
    if (s.tags.decoupled) add(s, Step::kInARow, true);

  // ---- the diagnoses of this exercise, read from the pattern across the float64 cases ----
  using Pred = std::function<bool(const Tags&)>;
  auto first_failed = [&](const Pred& p) -> const Outcome* {
    for (const auto& o : outcomes)
      if (!o.tags.float32 && p(o.tags) && !o.passed) return &o;
    return nullptr;
  };
  auto all_passed = [&](const Pred& p) {
    int n = 0;
    for (const auto& o : outcomes)
      if (!o.tags.float32 && p(o.tags)) {
        if (!o.passed) return false;
        ++n;
      }
    return n > 0;
  };
  auto shown_by = [](const Outcome* o) { return str_cat("case \"", o->name, "\", ", o->evidence); };

  if (buffer_touched)
    c.add_finding("momentum-buffer",
                  "with momentum = 0 your function used momentum_buffer: SGD keeps no buffer without momentum "
                  "and passes null there (in training this crashes). The check passed a buffer of NaN, "
                  "and it was read or written",
                  str_cat("case \"", buffer_touched_case, "\""));
  if (const Outcome* o = first_failed([](const Tags& t) { return !t.adam && t.momentum != 0 && t.step == Step::kFirst; });
      o && all_passed([](const Tags& t) { return !t.adam && t.step == Step::kTenth; }))
    c.add_finding("first-step",
                  "right from step 2 on, wrong at step 1: the first step's buffer. At the first step there is "
                  "no history yet: what does PyTorch put in the buffer then? (Only dampening != 0 shows it.)",
                  shown_by(o));
  if (const Outcome* o = first_failed([](const Tags& t) { return !t.adam && t.nesterov; });
      o && all_passed([](const Tags& t) { return !t.adam && !t.nesterov; })) {
    // does your Nesterov step move p exactly as your plain momentum step does?
    std::string same;
    for (const auto& s : settings) {
      if (!s.tags.nesterov || s.tags.weight_decay != 0) continue;
      try {
        nn::SGDOptions plain = s.sgd;
        plain.nesterov = false;
        if (run_sgd(yours.sgd, s, 10, 1, s.sgd).rows.front() == run_sgd(yours.sgd, s, 10, 1, plain).rows.front())
          same = ": your Nesterov step moves p exactly as plain momentum does, by the buffer alone. Nesterov's "
                 "step looks ahead: see the page's Nesterov section";
      } catch (const std::exception&) {
      }
    }
    c.add_finding("nesterov", str_cat("right with plain momentum, wrong only with nesterov = true", same), shown_by(o));
  }
  if (const Outcome* o = first_failed([](const Tags& t) { return !t.adam && t.weight_decay != 0; });
      o && all_passed([](const Tags& t) { return !t.adam && t.weight_decay == 0; })) {
    if (all_passed([](const Tags& t) { return !t.adam && t.weight_decay != 0 && t.momentum == 0; }))
      c.add_finding("weight-decay",
                    "right with weight decay alone and with momentum alone, wrong with both: the weight decay is "
                    "applied at the wrong point. It is part of the gradient the momentum buffer averages, "
                    "not a term added after the momentum",
                    shown_by(o));
    else
      c.add_finding("weight-decay",
                    "right without weight decay, wrong with it: how weight_decay * p enters the gradient (the "
                    "gradient of the L2 term weight_decay/2 |p|^2)",
                    shown_by(o));
  }
  if (const Outcome* o = first_failed([](const Tags& t) { return !t.adam && t.step == Step::kInARow; });
      o && all_passed([](const Tags& t) { return !t.adam && t.step != Step::kInARow; }))
    c.add_finding("state",
                  "each SGD step is right from PyTorch's state, but ten steps in a row go wrong: does your function "
                  "keep something between calls besides the momentum_buffer it is given?",
                  shown_by(o));

  // Adam: a missing or wrong bias correction makes every step a constant factor off, a different
  // factor at each step count (with eps = 0 exactly, with eps = 1e-8 to about 1e-8)
  {
    double at1 = std::numeric_limits<double>::quiet_NaN(), at10 = at1;
    const Outcome* shown = nullptr;
    for (const auto& o : outcomes) {
      if (o.tags.float32 || !o.tags.adam || o.tags.eps != 0 || o.tags.step == Step::kInARow || o.passed) continue;
      const double r = constant_ratio(o.yours_step, o.true_step);
      if (!std::isfinite(r)) continue;
      (o.tags.step == Step::kFirst ? at1 : at10) = r;
      if (!shown) shown = &o;
    }
    if (shown)
      c.add_finding("bias-correction",
                    str_cat("each Adam step is a constant factor off PyTorch's: yours is ",
                            std::isfinite(at1) ? num(at1) : std::string("right"), "x the true step at step 1 and ",
                            std::isfinite(at10) ? num(at10) + "x" : std::string("right"),
                            " at step 10. A factor that depends on the step count t: the bias correction of m and v "
                            "(missing, or computed with the wrong t)"),
                    shown_by(shown));
  }
  if (const Outcome* o = first_failed([](const Tags& t) { return t.adam && t.eps != 0; });
      o && all_passed([](const Tags& t) { return t.adam && t.eps == 0; }))
    c.add_finding("eps",
                  "right with eps = 0, wrong with eps > 0: where eps enters the denominator. PyTorch adds it "
                  "outside the square root, to the bias-corrected sqrt(v)",
                  shown_by(o));
  if (const Outcome* o = first_failed([](const Tags& t) { return t.adam && t.weight_decay != 0; });
      o && all_passed([](const Tags& t) { return t.adam && t.weight_decay == 0; })) {
    const bool l2 = first_failed([](const Tags& t) { return t.adam && !t.decoupled && t.weight_decay != 0; }) != nullptr;
    const bool decoupled =
        first_failed([](const Tags& t) { return t.adam && t.decoupled && t.weight_decay != 0; }) != nullptr;
    c.add_finding("weight-decay",
                  str_cat("right without weight decay, wrong with it: ",
                          l2 && decoupled ? "both Adam's (L2, in the gradient) and AdamW's (decoupled, on the "
                                            "parameter): are the two swapped?"
                          : l2 ? "Adam's weight decay (L2: it enters the gradient, before the moments)"
                               : "AdamW's decoupled weight decay (it shrinks the parameter, outside the moments)"),
                  shown_by(o));
  }
  if (const Outcome* o = first_failed([](const Tags& t) { return t.adam && t.step == Step::kInARow; });
      o && all_passed([](const Tags& t) { return t.adam && t.step != Step::kInARow; }))
    c.add_finding("state",
                  "each Adam step is right from PyTorch's state, but ten steps in a row go wrong: does your function "
                  "keep something between calls besides exp_avg and exp_avg_sq, or count the steps itself instead "
                  "of using `step`?",
                  shown_by(o));
  return c.verdict();
}

namespace {
const Register registered{
    {12, [] { return check_12(library_updates()); },
     [] {
       OptimizerUpdates stub;
       stub.sgd = [](double*, const double*, double*, std::int64_t, bool, const nn::SGDOptions&) { exercise_not_done(12); };
       stub.sgd_float32 = [](float*, const float*, float*, std::int64_t, bool, const nn::SGDOptions&) {
         exercise_not_done(12);
       };
       stub.adam = [](double*, const double*, double*, double*, std::int64_t, std::int64_t, const nn::AdamOptions&,
                      bool) { exercise_not_done(12); };
       stub.adam_float32 = [](float*, const float*, float*, float*, std::int64_t, std::int64_t, const nn::AdamOptions&,
                              bool) { exercise_not_done(12); };
       return check_12(stub);
     }}};
}  // namespace

}  // namespace chalk::checker
