// tests/reference.h — read the PyTorch reference values in tests/reference/*.json.
//
// The files are made by scripts/make_reference.py (PyTorch 1.13, float64) and committed, so
// the C++ tests never need Python. Format and regeneration: tests/reference/README.md.
// Header-only (nlohmann-json); the path comes from the CHALK_TEST_DIR compile definition that
// CMakeLists.txt sets for every test program (<repo>/tests).
//
// Usage:
//   for (const auto& c : chalk::reference::load_reference("ops").cases) {
//     if (c.param_str("op") != "softmax") continue;
//     Tensor x = c.input("x", /*requires_grad=*/true);
//     Tensor y = softmax(x, c.param_int("axis"));
//     EXPECT_TRUE(chalk::reference::close(y, c.output("loss"), 1e-10)) << c.name;
//     c.objective(y).backward();           // sum(upstream * y), or y itself when y is a scalar
//     EXPECT_TRUE(chalk::reference::close(x.grad(), c.grad("x"), 1e-10)) << c.name;
//   }
// close() returns a testing-style result: ok, plus a message naming the worst element.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

#ifndef CHALK_TEST_DIR
#error "tests/reference.h needs CHALK_TEST_DIR (CMakeLists.txt defines it for every test program)"
#endif

namespace chalk::reference {

using json = nlohmann::json;

// {"shape": [...], "dtype": "float64" | "int64", "data": [row-major values]} -> a chalk Tensor.
inline Tensor tensor_from_json(const json& j, const std::string& what) {
  if (!j.is_object() || !j.contains("shape") || !j.contains("dtype") || !j.contains("data"))
    fail("reference: ", what, ": not a tensor object (needs shape, dtype, data)");
  const Shape shape = j.at("shape").get<Shape>();
  const std::string dtype = j.at("dtype").get<std::string>();
  const json& data = j.at("data");
  if (static_cast<std::int64_t>(data.size()) != numel(shape))
    fail("reference: ", what, ": shape ", shape_str(shape), " needs ", numel(shape), " values, the file has ",
         data.size());
  if (dtype == "float64") return from_vector(data.get<std::vector<double>>(), shape);
  if (dtype == "int64") return from_vector(data.get<std::vector<std::int64_t>>(), shape);
  fail("reference: ", what, ": dtype '", dtype, "' (expected float64 or int64)");
}

// One case: named inputs, outputs ("loss" is the main output) and gradients of the objective
// (the main output itself when it is a scalar, else sum(upstream * output) with the input
// "upstream"), and the parameters it was made with.
struct Case {
  std::string family;
  std::string name;
  json params;
  json inputs, outputs, grads;

  bool has_input(const std::string& key) const { return inputs.contains(key); }
  bool has_output(const std::string& key) const { return outputs.contains(key); }
  bool has_grad(const std::string& key) const { return grads.contains(key); }
  bool has_param(const std::string& key) const { return params.contains(key); }

  // A fresh leaf tensor (float64 or int64); requires_grad only for float64.
  Tensor input(const std::string& key, bool requires_grad = false) const {
    Tensor t = tensor_from_json(lookup(inputs, "input", key), where("input", key));
    if (requires_grad) t.requires_grad_(true);
    return t;
  }
  Tensor output(const std::string& key = "loss") const {
    return tensor_from_json(lookup(outputs, "output", key), where("output", key));
  }
  Tensor grad(const std::string& key) const {
    return tensor_from_json(lookup(grads, "grad", key), where("grad", key));
  }

  // The scalar whose gradients the file holds: sum(upstream * out), or out when there is no
  // "upstream" input (scalar outputs).
  Tensor objective(const Tensor& out) const {
    if (!has_input("upstream")) {
      if (out.numel() != 1)
        fail("reference: ", family, "/", name, ": output ", shape_str(out.shape()),
             " is not a scalar and the case has no 'upstream' input");
      return out;
    }
    return sum(mul(out, input("upstream")));
  }

  // Parameters: numbers, booleans and strings, as the script wrote them.
  double param(const std::string& key) const {
    const json& v = lookup(params, "param", key);
    if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
    if (!v.is_number()) fail("reference: ", where("param", key), " is not a number: ", v.dump());
    return v.get<double>();
  }
  int param_int(const std::string& key) const { return static_cast<int>(std::lround(param(key))); }
  bool param_bool(const std::string& key) const { return param(key) != 0.0; }
  std::string param_str(const std::string& key) const {
    const json& v = lookup(params, "param", key);
    if (v.is_null()) return "";
    if (!v.is_string()) fail("reference: ", where("param", key), " is not a string: ", v.dump());
    return v.get<std::string>();
  }

 private:
  std::string where(const char* kind, const std::string& key) const {
    return family + "/" + name + " " + kind + " '" + key + "'";
  }
  const json& lookup(const json& table, const char* kind, const std::string& key) const {
    if (!table.contains(key)) {
      std::string have;
      for (auto it = table.begin(); it != table.end(); ++it) have += (have.empty() ? "" : ", ") + it.key();
      fail("reference: ", where(kind, key), " not in the file (it has: ", have, ")");
    }
    return table.at(key);
  }
};

struct Family {
  std::string name;
  std::string generator;
  std::string torch_version;
  std::vector<Case> cases;

  // The case with this name (throws naming the family if absent).
  const Case& at(const std::string& case_name) const {
    for (const Case& c : cases)
      if (c.name == case_name) return c;
    fail("reference: ", name, ".json has no case '", case_name, "'");
  }
  // The cases whose string parameter `key` equals `value` (e.g. with("op", "softmax")).
  std::vector<const Case*> with(const std::string& key, const std::string& value) const {
    std::vector<const Case*> out;
    for (const Case& c : cases)
      if (c.params.contains(key) && c.params.at(key).is_string() && c.params.at(key).get<std::string>() == value)
        out.push_back(&c);
    return out;
  }
};

inline std::string reference_path(const std::string& family) {
  return std::string(CHALK_TEST_DIR) + "/reference/" + family + ".json";
}

// Load tests/reference/<family>.json (ops, cross_entropy, triplet, centroid, margin_softmax).
inline Family load_reference(const std::string& family) {
  const std::string path = reference_path(family);
  std::ifstream in(path);
  if (!in) fail("reference: cannot open ", path, " (regenerate: /usr/bin/python3 scripts/make_reference.py)");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    fail("reference: ", path, ": not valid JSON: ", e.what());
  }
  Family f;
  f.name = family;
  f.generator = j.value("generator", "");
  f.torch_version = j.value("torch_version", "");
  for (const json& jc : j.at("cases")) {
    Case c;
    c.family = family;
    c.name = jc.at("name").get<std::string>();
    c.params = jc.value("params", json::object());
    c.inputs = jc.value("inputs", json::object());
    c.outputs = jc.value("outputs", json::object());
    c.grads = jc.value("grads", json::object());
    f.cases.push_back(std::move(c));
  }
  if (f.cases.empty()) fail("reference: ", path, " has no cases");
  return f;
}

// ---- comparing a result with its reference ----
struct Comparison {
  bool ok = true;
  double max_abs_diff = 0;  // over all elements
  std::string message;      // names the worst element when !ok
  explicit operator bool() const { return ok; }
};
inline std::ostream& operator<<(std::ostream& os, const Comparison& c) { return os << c.message; }

// Element-wise |actual - expected| <= atol + rtol |expected|, same shape (dtypes may differ:
// both are read as double). An undefined `actual` (e.g. a grad that never arrived) fails.
inline Comparison close(const Tensor& actual, const Tensor& expected, double atol, double rtol = 0) {
  Comparison r;
  if (!actual.defined()) {
    r.ok = false;
    r.message = "actual tensor is undefined (expected " + shape_str(expected.shape()) + ")";
    return r;
  }
  if (actual.shape() != expected.shape()) {
    r.ok = false;
    r.message = "shape " + shape_str(actual.shape()) + ", expected " + shape_str(expected.shape());
    return r;
  }
  const Tensor a = actual.detach().to(DType::Float64), e = expected.detach().to(DType::Float64);
  const double* pa = a.data<double>();
  const double* pe = e.data<double>();
  double worst_excess = -1;
  std::int64_t worst = -1;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double diff = std::fabs(pa[i] - pe[i]);
    const double excess = std::isnan(diff) ? INFINITY : diff - (atol + rtol * std::fabs(pe[i]));
    r.max_abs_diff = std::max(r.max_abs_diff, std::isnan(diff) ? INFINITY : diff);
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  if (worst_excess > 0) {
    r.ok = false;
    std::ostringstream os;
    os.precision(17);
    os << "max |diff| " << r.max_abs_diff << " > atol " << atol << " + rtol " << rtol << " |expected|; worst at flat index "
       << worst << ": actual " << pa[worst] << ", expected " << pe[worst];
    r.message = os.str();
  }
  return r;
}

}  // namespace chalk::reference
