// tests/exercises/reference_case.cpp — PyTorch's reference values for the checks
// (tests/exercises/reference_case.h), read through tests/reference.h.
#include "tests/exercises/reference_case.h"

#include "core/error.h"
#include "tests/reference.h"

namespace chalk::checker {

namespace {

template <class V>
const V& lookup(const std::map<std::string, V>& table, const std::string& key, const std::string& what,
                const std::string& case_name) {
  const auto it = table.find(key);
  if (it == table.end()) fail("reference case ", case_name, " has no ", what, " '", key, "'");
  return it->second;
}

}  // namespace

const Tensor& ReferenceCase::input(const std::string& key) const { return lookup(inputs, key, "input", name); }
const Tensor& ReferenceCase::grad(const std::string& key) const { return lookup(grads, key, "gradient", name); }
double ReferenceCase::number(const std::string& key) const { return lookup(numbers, key, "number", name); }
const std::string& ReferenceCase::string(const std::string& key) const {
  return lookup(strings, key, "string parameter", name);
}

ReferenceCase reference_case(const std::string& family, const std::string& name) {
  const reference::Family f = reference::load_reference(family);
  const reference::Case& c = f.at(name);
  ReferenceCase r;
  r.name = str_cat(family, "/", name);
  for (auto it = c.inputs.begin(); it != c.inputs.end(); ++it) r.inputs[it.key()] = c.input(it.key());
  for (auto it = c.grads.begin(); it != c.grads.end(); ++it) r.grads[it.key()] = c.grad(it.key());
  for (auto it = c.params.begin(); it != c.params.end(); ++it) {
    if (it->is_string()) r.strings[it.key()] = it->get<std::string>();
    else if (it->is_number() || it->is_boolean()) r.numbers[it.key()] = c.param(it.key());
  }
  return r;
}

}  // namespace chalk::checker
