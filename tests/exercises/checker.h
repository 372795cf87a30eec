// tests/exercises/checker.h — the exercises' checker: runs a student's function on cases, compares
// it with the truth, and says what kind of wrong an answer is.
//
// The truth comes from what a student cannot have blanked: this file's own float64 central
// differences (never chalk::gradcheck, which is exercise 03), the forward of an op (only
// backwards are exercises, apart from the forward exercises, which are checked against hand-worked
// cases and committed PyTorch values), and composed twins built from ops no exercise touches. So
// any set of exercises can be assigned at once: a check never runs another exercise's region.
//
// A check is a list of cases. Each case has a kind, and the diagnosis reads the pattern across
// them: right on same-shape cases but wrong on broadcast ones is the missing reduction; right on
// regular cases but wrong on a tie or a kink names the special point; right in float64 but wrong
// in float32 is an overflow-prone formula. Within a case, the element-wise pattern of yours
// against the truth names a sign, a constant factor, a transpose, zeros or NaN.
// docs/exercises/README.md lists the diagnoses; each exercise's page lists those its check
// recognises; tests/exercises/mistakes_NN_*.cpp proves that it does.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace chalk::checker {

// A function of a flat float64 vector to a flat float64 vector: a forward under test, flattened.
using VectorFn = std::function<std::vector<double>(const std::vector<double>&)>;

// w . dF/dx by central differences, element by element: (w . F(x + h e_i) - w . F(x - h e_i)) / 2h.
// The checker's own (exercise 03 is chalk::gradcheck). x: n values; w: F's output size; h > 0.
// Throws chalk::Error when F's output size differs from w's.
std::vector<double> central_difference_vjp(const VectorFn& f, const std::vector<double>& x,
                                           const std::vector<double>& w, double h = 1e-6);

// n values uniform in [lo, hi) from a fixed seed (a splitmix64 stream: the same on every machine).
std::vector<double> random_values(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0);

// A tensor's values as float64, whatever its floating dtype.
std::vector<double> values_of(const Tensor& t);

// What a case exercises; the diagnosis reads which kinds pass and which fail.
enum class CaseKind {
  kRegular,    // ordinary inputs, the shapes that need no broadcasting
  kBroadcast,  // an input was broadcast: its gradient must be summed over the broadcast axes
  kSpecial,    // a tie, a kink, a boundary (sin(theta) = 0, a max-pool tie, a hinge at zero)
  kFloat32,    // the same computation in float32 (compared with float64 truth, float32 tolerance)
};

// One comparison: your answer and the truth, of `shape` (row-major).
struct Case {
  std::string name;        // says what the inputs are: "a [3, 4] against b [4]"
  CaseKind kind = CaseKind::kRegular;
  std::vector<double> yours, truth;
  Shape yours_shape, shape;  // yours_shape defaults to shape
  double atol = 1e-6, rtol = 1e-5;
  std::string special;     // kSpecial: what is special, in words ("a tie in the window at [0, 0, 1, 1]")
  // what the numbers are, for the diagnosis's words ("yours is 2x the true value"): "gradient"
  // for a VJP, "value" for a forward or a metric, "derivative", "index" for a ranking
  std::string quantity = "gradient";
};

// The checker's verdict on one exercise.
struct Verdict {
  bool passed = false;
  // "pass", or the kind of wrong: "not-done", "error", "shape", "zero", "sign", "factor",
  // "transpose", "broadcast", "special", "float32", "nonfinite", "wrong", "no-error",
  // "error-message", or one an exercise adds.
  std::string kind;
  std::string text;  // the whole report, as the student sees it
};

// The words for a diagnosis kind ("equal and opposite to the true gradient: a sign"), so a page
// and the checker say the same thing; `quantity` is the Case's ("gradient", "value", ...).
std::string describe_kind(const std::string& kind, const std::string& quantity = "gradient");

// The words for a constant factor c between yours and the truth: "yours is 0.5x the true
// gradient: ..." with the mistakes that give it (c = n: a sum of n values for their mean, a term
// counted n times; c = 1/n: a mean of n values for their sum, a stray 1/n).
std::string factor_words(double c, const std::string& quantity = "gradient");

// Collects the cases of one exercise and diagnoses them.
//   Checker c(1, "sum_to");
//   c.run("g [2, 3] to [1, 3]", [&] { Case k; ...; return k; });
//   Verdict v = c.verdict();
class Checker {
 public:
  Checker(int exercise, std::string function);

  // Runs make() and records its case. An exception is recorded too: the stub's "exercise NN is
  // not done yet" as not-done, any other as error (with its message): a check never crashes.
  void run(const std::string& name, const std::function<Case()>& make);
  // A case of bad input: call() must throw a chalk::Error whose message holds each of `words`
  // (the op's name and the shapes, as chalk's errors do). It passes when it does; the stub's
  // message counts as not-done; a result ("no-error") or another message ("error-message") fails
  // it. `special` says what is wrong with the input ("[2, 3] cannot be reduced to [4]").
  void run_expecting_error(const std::string& name, const std::string& special, const std::function<void()>& call,
                           const std::vector<std::string>& words);
  void add(Case c);
  // A diagnosis an exercise finds itself (e.g. "only one branch's gradient survives"); it wins
  // over the generic ones. `evidence` names the case and the element that shows it.
  void add_finding(const std::string& kind, const std::string& explanation, const std::string& evidence);

  Verdict verdict() const;

 private:
  struct Outcome {
    std::string name;
    CaseKind kind = CaseKind::kRegular;
    bool passed = false;
    std::string pattern;   // the element-wise kind when failed
    std::string evidence;  // the element that shows it
    std::string error;     // the exception's message, if one was thrown
    std::string special;
    std::string quantity = "gradient";
    double factor = 0;
  };
  struct Finding {
    std::string kind, explanation, evidence;
  };
  int exercise_;
  std::string function_;
  std::vector<Outcome> outcomes_;
  std::vector<Finding> findings_;
};

// The element-wise pattern of `yours` against `truth` (same length, row-major `shape`): "" when
// they agree within atol + rtol |truth|, else one of "zero", "sign", "factor", "transpose",
// "nonfinite", "wrong"; `factor` gets the constant for "factor"; `evidence` names the worst element.
std::string element_pattern(const Case& c, double* factor, std::string* evidence);

// Prints the verdict and returns the program's exit code (0 pass, 1 fail): what exercise_NN's
// main does with its check.
int report(const Verdict& v, std::ostream& out);

// Each check file registers its exercise: how to run the check on chalk's function (the
// solution, or in a student edition the student's), and on the stub the edition writes.
struct Registration {
  int exercise = 0;
  std::function<Verdict()> check_library;  // chalk's own function
  std::function<Verdict()> check_stub;     // a candidate that calls chalk::exercise_not_done
};
std::vector<Registration>& registrations();
struct Register {
  explicit Register(Registration r) { registrations().push_back(std::move(r)); }
};

}  // namespace chalk::checker
