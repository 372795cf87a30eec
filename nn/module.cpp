#include "nn/module.h"

#include <sstream>

#include "core/autograd.h"

namespace chalk::nn {

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out = params_;
  for (const auto& [cname, child] : children_)
    for (auto& [pname, t] : child->named_parameters()) out.emplace_back(cname + "." + pname, t);
  // The handles share the TensorImpl: naming them here names the module's own tensors.
  for (auto& [n, t] : out) t.set_name(n);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out = buffers_;
  for (const auto& [cname, child] : children_)
    for (auto& [bname, t] : child->named_buffers()) out.emplace_back(cname + "." + bname, t);
  for (auto& [n, t] : out) t.set_name(n);
  return out;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  for (auto& [n, t] : buffers_)
    if (n == name) fail(this->name(), ": buffer '", name, "' registered twice");
  value = value.detach();
  value.set_name(name);
  buffers_.emplace_back(name, value);
  return value;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (auto& t : parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (auto& t : parameters()) t.zero_grad();
}

void Module::to(DType dtype) {
  if (!is_floating(dtype)) fail(name(), ".to: expected float32 or float64, got ", dtype_name(dtype));
  auto convert = [&](const Tensor& t) {
    if (!is_floating(t.dtype()) || t.dtype() == dtype) return;
    const Tensor c = t.detach().to(dtype);
    TensorImpl* impl = t.impl();  // swap the data under the same handle
    impl->storage = c.impl()->storage;
    impl->dtype = dtype;
    impl->grad.reset();
  };
  for (auto& [n, t] : named_parameters()) convert(t);
  for (auto& [n, t] : named_buffers()) convert(t);
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  for (auto& [n, t] : params_)
    if (n == name) fail(this->name(), ": parameter '", name, "' registered twice");
  value = value.detach();
  value.requires_grad_(true);
  value.set_name(name);
  params_.emplace_back(name, value);
  return value;
}

std::string Module::summary(int indent) const {
  std::ostringstream os;
  const std::string pad(indent, ' ');
  os << pad << name();
  std::int64_t own = 0;
  for (auto& [n, t] : params_) own += t.numel();
  if (!params_.size() && children_.empty()) return os.str() + "\n";
  os << "  [" << num_parameters() << " parameters]\n";
  for (auto& [n, t] : params_) os << pad << "  " << n << ": " << shape_str(t.shape()) << "\n";
  for (auto& [n, c] : children_) os << pad << "  (" << n << ") " << c->summary(indent + 2).substr(indent + 2);
  return os.str();
}

}  // namespace chalk::nn
