// tests/test_util.h — small helpers shared by the GoogleTest programs.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/gradcheck.h"
#include "core/tensor.h"

namespace chalk::test_util {

// A fresh, empty folder under the system's temp folder, unique to this process.
inline std::string temp_dir(const std::string& name) {
  const std::filesystem::path p =
      std::filesystem::temp_directory_path() / ("chalk_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

#ifdef CHALK_BINARY_DIR
// Run one of the built programs ("chalk-train --epochs 1 ...") with its output captured in
// *output; returns its exit status.
inline int run_program(const std::string& args, std::string* output = nullptr) {
  const std::string log =
      (std::filesystem::temp_directory_path() / ("chalk_prog_" + std::to_string(::getpid()) + ".log")).string();
  const int status = std::system((std::string(CHALK_BINARY_DIR) + "/" + args + " > " + log + " 2>&1").c_str());
  if (output) {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    *output = ss.str();
  }
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

// f must throw a chalk::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  const std::string msg = error_of(f);
  for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

// A float64 tensor from values in row-major order.
inline Tensor f64(std::vector<double> v, const Shape& s) { return from_vector(v, s); }

// t's values (as double) equal `want` within tol.
inline void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  ASSERT_TRUE(t.defined());
  const auto got = t.to(DType::Float64).to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "index " << i;
}

// chalk::gradcheck passes, and actually compared something; the message names the shapes.
inline void expect_gradcheck(const std::string& what, const TensorFn& f, const std::vector<Tensor>& inputs) {
  std::string shapes;
  for (const auto& t : inputs) shapes += shape_str(t.shape()) + " ";
  const GradcheckResult r = gradcheck(f, inputs);
  EXPECT_TRUE(r.ok) << what << " on " << shapes << ": " << r.report;
  EXPECT_GT(r.checked, 0) << what;
}

}  // namespace chalk::test_util
