// tests/exercises/reference_case.h — one case of PyTorch's reference values (tests/reference/*.json)
// for a check, without the JSON: tests/reference.h parses the file in reference_case.cpp, compiled
// once into the checker library, so a check that uses PyTorch's values does not recompile the JSON
// parser each time a student edits a source the check includes.
#pragma once

#include <map>
#include <string>

#include "core/tensor.h"

namespace chalk::checker {

struct ReferenceCase {
  std::string name;
  std::map<std::string, Tensor> inputs;   // float64 or int64, as the file has them
  std::map<std::string, Tensor> grads;    // of the case's objective (tests/reference/README.md)
  std::map<std::string, double> numbers;  // numeric and boolean parameters
  std::map<std::string, std::string> strings;  // string parameters

  // The named tensor or parameter; throws chalk::Error naming the case and the key if absent.
  const Tensor& input(const std::string& key) const;
  const Tensor& grad(const std::string& key) const;
  double number(const std::string& key) const;
  const std::string& string(const std::string& key) const;
};

// Case `name` of tests/reference/<family>.json. Throws chalk::Error when the file or the case is
// missing or malformed.
ReferenceCase reference_case(const std::string& family, const std::string& name);

}  // namespace chalk::checker
