// tests/test_util.h — small helpers shared by the GoogleTest programs.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <source_location>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/gradcheck.h"
#include "core/tensor.h"

namespace chalk::test_util {

// The whole file as one string; empty when it cannot be read (an assertion on its content then
// fails and names the file). Every test program reads files with this one.
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// A fresh, empty folder under the system's temp folder, unique to this process.
inline std::string temp_dir(const std::string& name) {
  const std::filesystem::path p =
      std::filesystem::temp_directory_path() / ("chalk_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

#ifdef CHALK_DATA_DIR
// The 7,000-image MNIST subset shipped in data/mnist-subset (what the tests train and evaluate on).
inline const std::string kSubset = std::string(CHALK_DATA_DIR) + "/mnist-subset";
// chalk-train as the program tests start it: quiet, one thread, the first 512 images of the subset.
// Append the flags of the case: run_program(kQuickTrain + " --epochs 1 --out " + dir).
inline const std::string kQuickTrain = "chalk-train --quiet --threads 1 --limit-train 512 --data " + kSubset;
#endif

#ifdef CHALK_BINARY_DIR
// Run one of the built programs ("chalk-train --epochs 1 ...") with its output captured in
// *output; returns its exit status, or 128 + the signal's number when a signal ended it (as a
// shell reports it: an abort is 134), so that a crash never reads as a success.
inline int run_program(const std::string& args, std::string* output = nullptr) {
  const std::string log =
      (std::filesystem::temp_directory_path() / ("chalk_prog_" + std::to_string(::getpid()) + ".log")).string();
  const int status = std::system((std::string(CHALK_BINARY_DIR) + "/" + args + " > " + log + " 2>&1").c_str());
  if (output) *output = read_text(log);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
#endif

// The message of the chalk::Error that f throws (or a marker when it throws nothing / something else).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (...) {
    return "<threw something other than chalk::Error>";
  }
  return "<did not throw>";
}

// f must throw a chalk::Error (not another exception type, not nothing) whose message contains
// every one of `parts`. A failure is one line at the caller's line. Every test program uses this
// one (tests/test_architecture.cpp fails when a test file defines its own).
inline void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts,
                         std::source_location where = std::source_location::current()) {
  const std::string msg = error_of(f);
  if (msg == "<did not throw>" || msg == "<threw something other than chalk::Error>") {
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line())) << "expected a chalk::Error, " << msg;
    return;
  }
  for (const auto& p : parts)
    if (msg.find(p) == std::string::npos)
      ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line())) << "'" << p << "' not in: " << msg;
}

// A float64 tensor from values in row-major order.
inline Tensor f64(std::vector<double> v, const Shape& s) { return from_vector(v, s); }

// The failures below are reported as ONE line each, at the test's own line (the call site),
// not at this helper's: a wrong VJP shows up as "gradcheck FAILED: 412 of 3,200 elements;
// worst ...", not as 3,200 lines.

// t's values (as double) equal `want` within tol.
inline void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-12,
                          std::source_location where = std::source_location::current()) {
  if (!t.defined()) {
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line())) << "expect_values: the tensor is undefined";
    return;
  }
  const auto got = t.to(DType::Float64).to_vector<double>();
  if (got.size() != want.size()) {
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
        << "expect_values: " << got.size() << " values, expected " << want.size();
    return;
  }
  std::size_t bad = 0, worst = 0;
  double worst_err = -1;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double err = std::abs(got[i] - want[i]);
    if (!(err <= tol)) ++bad;  // NaN counts as a failure
    if (!(err <= worst_err)) worst_err = err, worst = i;
  }
  if (bad > 0)
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
        << "expect_values: " << bad << " of " << want.size() << " values off by more than " << tol << "; worst: index "
        << worst << " got " << got[worst] << ", expected " << want[worst];
}

// Two tensors of the same shape agree element-wise within atol + rtol * |b|; one line on failure.
inline void expect_close(const Tensor& a, const Tensor& b, double atol, double rtol = 0, const std::string& what = "",
                         std::source_location where = std::source_location::current()) {
  if (!a.defined() || !b.defined() || a.shape() != b.shape()) {
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
        << what << ": shapes differ: " << (a.defined() ? shape_str(a.shape()) : "undefined") << " vs "
        << (b.defined() ? shape_str(b.shape()) : "undefined");
    return;
  }
  const auto x = a.to(DType::Float64).to_vector<double>(), y = b.to(DType::Float64).to_vector<double>();
  std::size_t bad = 0, worst = 0;
  double worst_ratio = -1;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double tol = atol + rtol * std::abs(y[i]), err = std::abs(x[i] - y[i]);
    if (!(err <= tol)) ++bad;
    const double ratio = err / (tol > 0 ? tol : 1e-300);
    if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = i;
  }
  if (bad > 0)
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
        << what << ": " << bad << " of " << x.size() << " elements differ by more than " << atol << " + " << rtol
        << " * |b|; worst: flat index " << worst << ", " << x[worst] << " vs " << y[worst] << " (shape "
        << shape_str(a.shape()) << ")";
}

// chalk::gradcheck passes, and actually compared something; one line naming the shapes and the
// worst element on failure, at the caller's line.
inline void expect_gradcheck(const std::string& what, const TensorFn& f, const std::vector<Tensor>& inputs,
                             std::source_location where = std::source_location::current()) {
  std::string shapes;
  for (const auto& t : inputs) shapes += shape_str(t.shape()) + " ";
  const GradcheckResult r = gradcheck(f, inputs);
  if (!r.ok) ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line())) << what << " on " << shapes << ": " << r.report;
  if (r.checked == 0)
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line())) << what << ": gradcheck compared nothing";
}

}  // namespace chalk::test_util
