// core/tensor.h — the n-dimensional array that everything in chalk computes on.
//
// A Tensor is a cheap handle (a shared pointer) to a TensorImpl: copying a
// Tensor does not copy data, exactly like a PyTorch tensor in Python. Data is
// contiguous and row-major. Autograd state (requires_grad, grad, grad_fn)
// lives in the TensorImpl; the engine that uses it is core/autograd.h.
//
// Creation:   zeros, ones, full, arange, from_vector, rand, randn, randint
// Access:     item, at, data<T>(), to_vector<T>()
// Shape:      reshape / view (share the data), clone (copies), detach
// Autograd:   requires_grad_, grad, backward, zero_grad (core/autograd.h)
// Versions:   version() counts the in-place writes to the data (see Storage::version)
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"

namespace chalk {

struct Node;  // a recorded op in the autograd graph (core/autograd.h)

// A block of 64-byte aligned memory, shared by a tensor and its views.
struct Storage {
  explicit Storage(std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  std::size_t bytes = 0;
  // How many times the data was written in place (PyTorch's version counter, tensor._version).
  // Every public function that overwrites existing data bumps it (increment_version in
  // core/autograd.h): the optimizers' step, nn/init.h's fills, loading a checkpoint into a
  // live model. It lives with the data, not with a handle, so a tensor, its detach() and its
  // reshape() views share one count: a VJP that saved a detached handle sees every write.
  // backward() compares it with the version each VJP saw when it was recorded.
  std::atomic<std::int64_t> version{0};
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  DType dtype = DType::Float32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient (leaves only)
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor (null for leaves)
  std::string name;                  // optional, for messages and graph pictures: a Module
                                     // names its parameters ("fc1.weight"); "" if none
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // An uninitialised tensor of the given shape (kernels fill it). Throws chalk::Error naming
  // `op` and the shape when a dimension is negative or the element or byte count overflows
  // int64 (checked_nbytes, core/shape.h).
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32, const char* op = "empty");

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  std::int64_t size(int axis) const;  // negative axes count from the end
  int dim() const { return static_cast<int>(shape().size()); }
  std::int64_t numel() const { return chalk::numel(shape()); }
  DType dtype() const;

  // Raw data, checked against the dtype: x.data<float>() on a float64 tensor throws.
  template <class T> T* data();
  template <class T> const T* data() const;

  // The value of a one-element tensor, as double (any dtype).
  double item() const;
  // One element by multi-index, as double: x.at({i, j}).
  double at(std::initializer_list<std::int64_t> index) const;
  // A copy of the data.
  template <class T> std::vector<T> to_vector() const;

  // Same data, new shape (one dimension may be -1). Differentiable.
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const { return reshape(shape); }
  // A copy with its own data. Differentiable (the gradient passes through).
  Tensor clone() const;
  // Convert the element type (float32 <-> float64; int64 -> float). Differentiable between floats.
  Tensor to(DType dtype) const;
  // Same data, cut from the graph: no grad_fn, requires_grad false. Shares the data's
  // version counter (a write through either handle is seen by both).
  Tensor detach() const;

  // How many in-place writes the data has had (PyTorch: tensor._version). 0 for a new tensor;
  // shared with every handle of the same data (detach(), reshape()).
  std::int64_t version() const {
    check_defined("version");
    return impl_->storage->version.load(std::memory_order_relaxed);
  }
  // An optional name, shown by backward()'s errors and by to_dot (core/graph_dot.h). Module
  // names its parameters and buffers with their dotted paths ("0.weight"); detach() drops it.
  const std::string& name() const {
    check_defined("name");
    return impl_->name;
  }
  Tensor& set_name(std::string name) {
    check_defined("set_name");
    impl_->name = std::move(name);
    return *this;
  }

  // ---- autograd (defined in core/tensor.cpp with the other members; the engine is core/autograd.cpp) ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // only on leaves
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward reaches this leaf
  void zero_grad();     // forget the accumulated gradient
  // Backpropagate from this tensor. Without `grad_out` the tensor must be a
  // scalar (one element); then dL/dL = 1. The graph is freed afterwards
  // unless retain_graph is true.
  void backward(const Tensor& grad_out = Tensor(), bool retain_graph = false) const;
  // Name of the op that produced this tensor ("mul", "matmul", ...), or "" for a leaf.
  std::string grad_fn_name() const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  void check_defined(const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

// ---- creation ----
// Each throws chalk::Error naming the function and the shape when a dimension is negative or
// the element or byte count overflows int64, e.g. zeros({1 << 32, 1 << 32}): PyTorch's
// "Storage size calculation overflowed with sizes=[4294967296, 4294967296]".
Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
Tensor ones(const Shape& shape, DType dtype = DType::Float32);
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
// 0, 1, ..., n-1 (or start, start+step, ... < end). Throws chalk::Error when n < 0, step is 0,
// a bound is not finite, or the count does not fit int64.
Tensor arange(std::int64_t n, DType dtype = DType::Int64);
Tensor arange(double start, double end, double step, DType dtype = DType::Float32);
// From values in row-major order; the count must match the shape.
Tensor from_vector(const std::vector<float>& values, const Shape& shape);
Tensor from_vector(const std::vector<double>& values, const Shape& shape);
Tensor from_vector(const std::vector<std::int64_t>& values, const Shape& shape);
Tensor tensor(std::initializer_list<double> values, DType dtype = DType::Float32);  // 1-D
Tensor scalar(double value, DType dtype = DType::Float32);                          // shape []

// ---- random (one global generator, seeded by manual_seed; core/random.h) ----
Tensor rand(const Shape& shape, DType dtype = DType::Float32);   // U[0, 1)
Tensor randn(const Shape& shape, DType dtype = DType::Float32);  // N(0, 1)
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape);  // int64 in [low, high)

// Printing like PyTorch: values (long tensors truncated with ...), then shape and dtype.
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string to_string(const Tensor& t);

// ---- template definitions ----
template <class T>
T* Tensor::data() {
  check_defined("data");
  if (dtype_of<T>() != impl_->dtype)
    fail("data<", dtype_name(dtype_of<T>()), ">: tensor has dtype ", dtype_name(impl_->dtype));
  return static_cast<T*>(impl_->storage->data);
}
template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}

}  // namespace chalk
