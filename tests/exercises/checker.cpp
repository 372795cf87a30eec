// tests/exercises/checker.cpp — the diagnosing checker (tests/exercises/checker.h).
#include "tests/exercises/checker.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <ostream>
#include <sstream>

#include "core/error.h"
#include "core/exercise.h"

namespace chalk::checker {

std::vector<double> central_difference_vjp(const VectorFn& f, const std::vector<double>& x,
                                           const std::vector<double>& w, double h) {
  if (!(h > 0)) fail("central_difference_vjp: h must be > 0, got ", h);
  auto weighted = [&](const std::vector<double>& v) {
    const std::vector<double> y = f(v);
    if (y.size() != w.size())
      fail("central_difference_vjp: the function gave ", y.size(), " values, the weight has ", w.size());
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += w[i] * y[i];
    return s;
  };
  std::vector<double> grad(x.size()), probe = x;
  for (std::size_t i = 0; i < x.size(); ++i) {
    probe[i] = x[i] + h;
    const double up = weighted(probe);
    probe[i] = x[i] - h;
    const double down = weighted(probe);
    probe[i] = x[i];
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

std::vector<double> random_values(std::size_t n, std::uint64_t seed, double lo, double hi) {
  std::vector<double> v(n);
  std::uint64_t s = seed;
  for (auto& x : v) {  // splitmix64
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    x = lo + (hi - lo) * static_cast<double>(z >> 11) * 0x1.0p-53;
  }
  return v;
}

std::vector<double> values_of(const Tensor& t) {
  if (t.dtype() == DType::Float64) return t.to_vector<double>();
  if (t.dtype() == DType::Float32) {
    const auto f = t.to_vector<float>();
    return {f.begin(), f.end()};
  }
  fail("checker: expected a floating tensor, got ", dtype_name(t.dtype()));
}

std::string describe_kind(const std::string& kind, const std::string& quantity) {
  const std::string truth = "the true " + quantity;
  if (kind == "pass") return "right";
  if (kind == "not-done") return "not written yet (the stub is still there)";
  if (kind == "error") return "your code threw an error";
  if (kind == "shape") return "the result has the wrong shape";
  if (kind == "zero")
    return quantity == "gradient" ? "zero everywhere: the gradient is never written, or not passed on"
                                  : "zero everywhere: the " + quantity + " is never computed, or not returned";
  if (kind == "sign") return "equal and opposite to " + truth + ": a sign";
  if (kind == "factor") return "a constant factor away from " + truth;
  if (kind == "transpose") return "the transpose of " + truth + ": an operand transposed, or the product in the wrong order";
  if (kind == "broadcast")
    return "right where the shapes match, wrong where an input was broadcast: the gradient must be "
           "summed over the broadcast axes (the missing reduction)";
  if (kind == "special") return "right except at a special point (a tie, a kink, a boundary)";
  if (kind == "float32")
    return "right in float64, wrong in float32 beyond round-off: a formula that overflows or "
           "cancels in single precision";
  if (kind == "nonfinite") return "NaN or inf where the true value is finite";
  if (kind == "wrong") return "wrong, in no pattern the checker knows";
  if (kind == "no-error") return "a result returned for input that is not valid: throw a chalk::Error (chalk::fail) there";
  if (kind == "error-message")
    return "an error thrown, but not chalk's clear one: name the op and the shapes (chalk::fail)";
  return kind;
}

std::string factor_words(double c, const std::string& quantity) {
  std::ostringstream os;
  const double r = std::round(c * 4) / 4;
  if (std::abs(c - r) < 1e-6 * std::max(1.0, std::abs(c))) os << r; else os << std::setprecision(4) << c;
  std::string s = "yours is " + os.str() + "x the true " + quantity;
  // c = n or 1/n for a whole n: the counts a sum or a mean would bring
  const double n_up = std::round(c), n_down = c > 0 ? std::round(1 / c) : 0;
  const bool whole_up = n_up >= 2 && std::abs(c - n_up) < 1e-6 * n_up;
  const bool whole_down = n_down >= 2 && std::abs(c * n_down - 1) < 1e-6;
  if (whole_up) {
    const std::string n = std::to_string(static_cast<long long>(n_up));
    s += n_up == 2 ? ": a symmetric term counted twice, or a sum of 2 values where their mean belongs (a 1/2 left out)?"
                   : ": a sum of " + n + " values where their mean belongs (a 1/" + n + " left out), or a term counted " +
                         n + " times?";
  } else if (whole_down) {
    const std::string n = std::to_string(static_cast<long long>(n_down));
    s += ": a mean of " + n + " values where their sum belongs, " +
         (n_down == 2 ? std::string("one of two equal terms missing, or a stray 1/2?")
                      : "or a stray 1/" + n + "?");
  } else {
    s += ": a scale applied twice or not at all?";
  }
  return s;
}

namespace {

std::string index_of(const Shape& shape, std::size_t flat) {
  if (shape.empty()) return "[]";
  std::vector<std::int64_t> idx(shape.size());
  std::int64_t rest = static_cast<std::int64_t>(flat);
  for (std::size_t d = shape.size(); d-- > 0;) {
    const std::int64_t n = std::max<std::int64_t>(shape[d], 1);
    idx[d] = rest % n;
    rest /= n;
  }
  std::ostringstream os;
  os << "[";
  for (std::size_t d = 0; d < idx.size(); ++d) os << (d ? ", " : "") << idx[d];
  os << "]";
  return os.str();
}

std::string num(double v) {
  std::ostringstream os;
  os << std::setprecision(6) << v;
  return os.str();
}

bool close(double a, double b, double atol, double rtol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= atol + rtol * std::abs(b);
}

bool all_close(const std::vector<double>& a, const std::vector<double>& b, double atol, double rtol) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!close(a[i], b[i], atol, rtol)) return false;
  return true;
}

}  // namespace

std::string element_pattern(const Case& c, double* factor, std::string* evidence) {
  const auto& y = c.yours;
  const auto& t = c.truth;
  const Shape& ys = c.yours_shape.empty() && y.size() == t.size() ? c.shape : c.yours_shape;
  if (y.size() != t.size() || (!ys.empty() && ys != c.shape)) {
    *evidence = str_cat("yours has shape ", shape_str(ys), " (", y.size(), " values), the truth ",
                        shape_str(c.shape), " (", t.size(), " values)");
    return "shape";
  }
  // the worst element, as the evidence of any pattern
  std::size_t worst = 0;
  double worst_err = -1;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double e = std::isfinite(y[i]) ? std::abs(y[i] - t[i]) / (c.atol + c.rtol * std::abs(t[i]))
                                         : std::numeric_limits<double>::infinity();
    if (e > worst_err) worst_err = e, worst = i;
  }
  if (all_close(y, t, c.atol, c.rtol)) return "";
  *evidence = str_cat("element ", index_of(c.shape, worst), ": yours ", num(y[worst]), ", true ", num(t[worst]));
  for (std::size_t i = 0; i < y.size(); ++i)
    if (!std::isfinite(y[i]) && std::isfinite(t[i])) {
      *evidence = str_cat("element ", index_of(c.shape, i), ": yours ", num(y[i]), ", true ", num(t[i]));
      return "nonfinite";
    }
  double tmax = 0, ymax = 0;
  for (std::size_t i = 0; i < y.size(); ++i) tmax = std::max(tmax, std::abs(t[i])), ymax = std::max(ymax, std::abs(y[i]));
  if (ymax <= c.atol && tmax > c.atol) return "zero";
  // yours = c truth for one constant c (least squares), with c != 1
  double yt = 0, tt = 0;
  for (std::size_t i = 0; i < y.size(); ++i) yt += y[i] * t[i], tt += t[i] * t[i];
  if (tt > 0) {
    const double k = yt / tt;
    std::vector<double> scaled(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) scaled[i] = k * t[i];
    if (std::abs(k) > 1e-3 && all_close(y, scaled, c.atol * std::max(1.0, std::abs(k)), c.rtol * 10)) {
      if (std::abs(k + 1) < 1e-3) return "sign";
      *factor = k;
      return "factor";
    }
  }
  if (c.shape.size() == 2 && c.shape[0] == c.shape[1] && c.shape[0] > 1) {  // square: same shape, transposed
    const auto n = static_cast<std::size_t>(c.shape[0]);
    std::vector<double> tt_(t.size());
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) tt_[i * n + j] = t[j * n + i];
    if (all_close(y, tt_, c.atol, c.rtol)) return "transpose";
  }
  return "wrong";
}

Checker::Checker(int exercise, std::string function) : exercise_(exercise), function_(std::move(function)) {}

void Checker::run(const std::string& name, const std::function<Case()>& make) {
  try {
    Case c = make();
    if (c.name.empty()) c.name = name;
    add(std::move(c));
  } catch (const std::exception& e) {
    Outcome o;
    o.name = name;
    o.error = e.what();
    outcomes_.push_back(std::move(o));
  }
}

void Checker::run_expecting_error(const std::string& name, const std::string& special,
                                  const std::function<void()>& call, const std::vector<std::string>& words) {
  Outcome o;
  o.name = name;
  o.kind = CaseKind::kSpecial;
  o.special = special;
  try {
    call();
    o.pattern = "no-error";
    o.evidence = "yours returned a result";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (what.find(not_done_message_start(exercise_)) != std::string::npos) {
      o.error = what;  // the stub: recorded as an exception, like run()'s
    } else {
      const bool chalk_error = dynamic_cast<const Error*>(&e) != nullptr;
      bool named = chalk_error;
      for (const auto& w : words) named = named && what.find(w) != std::string::npos;
      o.passed = named;
      if (!named) {
        o.pattern = "error-message";
        std::string wanted;
        for (const auto& w : words) wanted += (wanted.empty() ? "" : ", ") + ("\"" + w + "\"");
        o.evidence = str_cat("yours threw ", chalk_error ? "" : "a non-chalk exception: ", "\"", what,
                             "\"; a chalk::Error naming ", wanted, " belongs there");
      }
    }
  }
  outcomes_.push_back(std::move(o));
}

void Checker::add(Case c) {
  Outcome o;
  o.name = c.name;
  o.kind = c.kind;
  o.special = c.special;
  o.quantity = c.quantity;
  o.pattern = element_pattern(c, &o.factor, &o.evidence);
  o.passed = o.pattern.empty();
  outcomes_.push_back(std::move(o));
}

void Checker::add_finding(const std::string& kind, const std::string& explanation, const std::string& evidence) {
  findings_.push_back({kind, explanation, evidence});
}

Verdict Checker::verdict() const {
  Verdict v;
  std::ostringstream out;
  const std::string title = str_cat("exercise ", exercise_id(exercise_), " (", function_, ")");
  const std::string not_done = not_done_message_start(exercise_);
  int passed = 0;
  for (const auto& o : outcomes_) passed += o.passed;
  const int total = static_cast<int>(outcomes_.size());

  std::string why, evidence;
  // 1. an exception: the stub, or an error of the student's code
  for (const auto& o : outcomes_) {
    if (o.error.empty()) continue;
    if (o.error.find(not_done) != std::string::npos) {
      v.kind = "not-done";
      why = o.error;
    } else {
      v.kind = "error";
      why = str_cat("your code threw: ", o.error);
    }
    evidence = str_cat("case \"", o.name, "\"");
    break;
  }
  // 2. a finding the exercise made itself
  const bool from_finding = v.kind.empty() && !findings_.empty();
  if (from_finding) {
    v.kind = findings_.front().kind;
    why = findings_.front().explanation;
    evidence = findings_.front().evidence;
  }
  // 3. the pattern across the cases' kinds
  if (v.kind.empty() && passed < total) {
    // which kinds of case fail: the first kind in the order regular, broadcast, special, float32
    // that has a failure says where the answer goes wrong (a broadcast case that fails while
    // every regular one passes is the missing reduction, whatever the float32 cases say)
    auto any_failed = [&](CaseKind k) {
      for (const auto& o : outcomes_)
        if (o.kind == k && !o.passed) return true;
      return false;
    };
    auto any_passed = [&](CaseKind k) {
      for (const auto& o : outcomes_)
        if (o.kind == k && o.passed) return true;
      return false;
    };
    CaseKind where = CaseKind::kFloat32;
    for (CaseKind k : {CaseKind::kRegular, CaseKind::kBroadcast, CaseKind::kSpecial, CaseKind::kFloat32})
      if (any_failed(k)) { where = k; break; }
    const Outcome* first = nullptr;
    for (const auto& o : outcomes_)
      if (!o.passed && o.kind == where) { first = &o; break; }
    // every regular case is right (the first failing kind comes later); a broadcast verdict
    // also needs one regular case that ran and passed
    const bool regular_right =
        where != CaseKind::kRegular && (where != CaseKind::kBroadcast || any_passed(CaseKind::kRegular));
    const std::string within = first->pattern == "factor" ? factor_words(first->factor, first->quantity)
                                                          : describe_kind(first->pattern, first->quantity);
    evidence = str_cat("case \"", first->name, "\", ", first->evidence);
    if (first->pattern == "no-error" || first->pattern == "error-message") {  // bad input, however the rest did
      v.kind = first->pattern;
      why = str_cat(describe_kind(first->pattern), " (", first->special, ")");
    } else if (where == CaseKind::kBroadcast && regular_right) {
      v.kind = "broadcast";
      why = first->pattern == "shape" ? str_cat(describe_kind("broadcast"), ": yours kept the broadcast shape")
                                      : str_cat(describe_kind("broadcast"), ". On that case ", within);
    } else if (where == CaseKind::kSpecial && regular_right) {
      v.kind = "special";
      why = str_cat("right except at a special point: ", first->special.empty() ? first->name : first->special,
                    ". There ", within);
    } else if (where == CaseKind::kFloat32 && regular_right) {
      v.kind = "float32";
      why = str_cat(describe_kind("float32"), ". There ", within);
    } else {
      v.kind = first->pattern;
      why = first->pattern == "factor" ? factor_words(first->factor, first->quantity) : describe_kind(first->pattern, first->quantity);
    }
  }
  v.passed = v.kind.empty();
  if (v.passed) v.kind = "pass";

  out << title << ": " << (v.passed ? "PASS" : "FAIL") << " (" << passed << " of " << total << " cases right)\n";
  if (!v.passed) {
    out << "  what is wrong: " << why << "\n";
    if (!evidence.empty()) out << "  shown by: " << evidence << "\n";
  }
  for (const auto& o : outcomes_) {
    out << "  " << (o.passed ? "ok  " : "FAIL") << "  " << o.name;
    if (!o.passed) {
      if (!o.error.empty()) out << " — threw";
      // a finding names what is wrong above: the case's own line then does not say "no pattern"
      else if (o.pattern == "wrong" && from_finding) out << " — wrong (see what is wrong, above)";
      else out << " — " << (o.pattern == "factor" ? factor_words(o.factor, o.quantity) : describe_kind(o.pattern, o.quantity));
    }
    out << "\n";
  }
  if (!v.passed && v.kind != "not-done")
    out << "  the page: " << exercise_page(exercise(exercise_)) << " (its hints, and the mistakes this check recognises)\n";
  v.text = out.str();
  return v;
}

int report(const Verdict& v, std::ostream& out) {
  out << v.text;
  return v.passed ? 0 : 1;
}

std::vector<Registration>& registrations() {
  static std::vector<Registration> all;
  return all;
}

}  // namespace chalk::checker
