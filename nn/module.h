// nn/module.h — the base of every layer, model and parametrised loss.
//
// A Module owns named parameters (leaf tensors with requires_grad) and named
// submodules; its parameter names are dotted paths like PyTorch's state_dict
// keys: "0.weight", "features.3.bias", "head.W". train()/eval() switch the
// mode of the whole tree (dropout looks at it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace chalk::nn {

class Module {
 public:
  virtual ~Module() = default;

  // All parameters of this module and its submodules, in registration order,
  // with dotted names. Also sets each one's Tensor::name to that dotted path (the name
  // backward()'s version errors and to_dot show): the outermost module listed last wins,
  // so after model.parameters() (an optimizer's construction) the names are the model's.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::int64_t num_parameters() const;  // total element count
  // Buffers: saved state that is not trained (fixed centroids, running
  // statistics), with dotted names like parameters. Checkpoints hold both.
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Forget every parameter's gradient (set it undefined).
  void zero_grad();

  // Convert every floating parameter and buffer to `dtype` in place (the
  // tensors keep their identity, so layers' handles and optimizers built
  // afterwards see the new data); gradients are dropped. Float64 is for
  // gradient checks: model.to(DType::Float64).
  void to(DType dtype);

  // The module's type, e.g. "Linear(784 -> 256)"; containers override summary().
  virtual std::string name() const = 0;
  // A printable tree with parameter shapes and counts.
  virtual std::string summary(int indent = 0) const;

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

 protected:
  // Register a parameter (makes it a leaf with requires_grad) and return it.
  Tensor register_parameter(const std::string& name, Tensor value);
  // Register a buffer (no gradient) and return it.
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A module with one input and one output: every layer and model.
class Layer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace chalk::nn
