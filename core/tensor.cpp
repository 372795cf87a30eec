#include "core/tensor.h"

#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/parallel.h"
#include "core/random.h"

namespace chalk {

// ---- storage ----
// Memory comes from core/allocator.h, which reuses freed large blocks (no page faults
// on the repeated allocations of a training step).
Storage::Storage(std::size_t n) : data(allocate(n)), bytes(n) {}
Storage::~Storage() { deallocate(data, bytes); }

Tensor Tensor::empty(const Shape& shape, DType dtype, const char* op) {
  const std::int64_t bytes = checked_nbytes(shape, dtype_size(dtype), op);  // before anything is allocated
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<std::size_t>(bytes));
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

void Tensor::check_defined(const char* what) const {
  if (!impl_) fail(what, ": the tensor is undefined (default-constructed, or a gradient not computed yet)");
}

const Shape& Tensor::shape() const {
  check_defined("shape");
  return impl_->shape;
}

std::int64_t Tensor::size(int axis) const {
  return shape()[normalize_axis(axis, shape().size(), "size")];
}

DType Tensor::dtype() const {
  check_defined("dtype");
  return impl_->dtype;
}

double Tensor::item() const {
  check_defined("item");
  if (numel() != 1) fail("item: expected a tensor with one element, got shape ", shape_str(shape()));
  return dispatch_all(dtype(), [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(data<T>()[0]);
  });
}

double Tensor::at(std::initializer_list<std::int64_t> index) const {
  check_defined("at");
  const Shape& s = shape();
  if (index.size() != s.size())
    fail("at: got ", index.size(), " indices for a tensor of shape ", shape_str(s));
  std::int64_t flat = 0, i = 0;
  for (auto v : index) {
    if (v < 0 || v >= s[i]) fail("at: index ", v, " out of range for axis ", i, " of shape ", shape_str(s));
    flat = flat * s[i] + v;
    ++i;
  }
  return dispatch_all(dtype(), [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(data<T>()[flat]);
  });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  const T* p = data<T>();
  return std::vector<T>(p, p + numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

Tensor Tensor::detach() const {
  check_defined("detach");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

// reshape: y shares x's data with a new shape.   VJP: dx = reshape(g, x.shape)
Tensor Tensor::reshape(const Shape& new_shape) const {
  check_defined("reshape");
  Shape s = new_shape;
  int infer = -1;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) fail("reshape: only one dimension can be -1, got ", shape_str(new_shape));
      infer = static_cast<int>(i);
    } else if (s[i] < 0) {
      fail("reshape: invalid dimension ", s[i], " in ", shape_str(new_shape));
    }
  }
  // Both counts checked: a wrapped product of [2^32, 2^32] is 0 and would "match" an empty x.
  if (infer >= 0) {
    Shape known_dims = s;
    known_dims[infer] = 1;
    std::int64_t known = 0;
    try {
      known = checked_numel(known_dims, "reshape");
    } catch (const Error&) {  // name the shape as given
      fail("reshape: the element count of shape ", shape_str(new_shape), " overflows int64, whatever -1 stands for");
    }
    if (known == 0 || numel() % known != 0)
      fail("reshape: cannot reshape ", shape_str(shape()), " into ", shape_str(new_shape));
    s[infer] = numel() / known;
  }
  const std::int64_t n = checked_numel(s, "reshape");
  if (n != numel())
    fail("reshape: cannot reshape ", shape_str(shape()), " (", numel(), " elements) into ",
         shape_str(new_shape), " (", n, " elements)");
  Tensor out = detach();
  out.impl_->shape = s;
  const Shape in_shape = shape();
  record(out, "reshape", {*this}, Saved{}, [in_shape](const Tensor& g, Grads& dx) {
    dx.add(0, g.reshape(in_shape));
  });
  return out;
}

// clone: y = x with its own copy of the data.   VJP: dx = g
Tensor Tensor::clone() const {
  check_defined("clone");
  Tensor out = empty(shape(), dtype());
  parallel_memcpy(out.impl_->storage->data, impl_->storage->data,
                  numel() * static_cast<std::int64_t>(dtype_size(dtype())));
  record(out, "clone", {*this}, Saved{}, [](const Tensor& g, Grads& dx) { dx.add(0, g); });
  return out;
}

// to: y = (new type) x.   VJP: dx = g converted back to x's type
Tensor Tensor::to(DType target) const {
  check_defined("to");
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target, "to");  // (a wider type may not fit where the narrower did)
  const std::int64_t n = numel();
  dispatch_all(dtype(), [&](auto from_tag) {
    using From = decltype(from_tag);
    const From* src = data<From>();
    dispatch_all(target, [&](auto to_tag) {
      using To = decltype(to_tag);
      To* dst = out.data<To>();
      for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<To>(src[i]);
    });
  });
  if (is_floating(dtype()) && is_floating(target)) {
    const DType from = dtype();
    record(out, "to", {*this}, Saved{}, [from](const Tensor& g, Grads& dx) { dx.add(0, g.to(from)); });
  }
  return out;
}

// ---- creation ----
// full, named `op` in its errors (zeros and ones are full under their own names).
static Tensor filled(const Shape& shape, double value, DType dtype, const char* op) {
  Tensor t = Tensor::empty(shape, dtype, op);
  dispatch_all(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    const T v = static_cast<T>(value);
    std::fill(p, p + t.numel(), v);
  });
  return t;
}
Tensor full(const Shape& shape, double value, DType dtype) { return filled(shape, value, dtype, "full"); }
Tensor zeros(const Shape& shape, DType dtype) { return filled(shape, 0.0, dtype, "zeros"); }
Tensor ones(const Shape& shape, DType dtype) { return filled(shape, 1.0, dtype, "ones"); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }

Tensor arange(std::int64_t n, DType dtype) {
  if (n < 0) fail("arange: expected n >= 0 elements, got ", n);
  return arange(0, static_cast<double>(n), 1, dtype);
}

Tensor arange(double start, double end, double step, DType dtype) {
  if (step == 0) fail("arange: step must be non-zero");
  if (!std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    fail("arange: expected finite start, end and step, got ", start, ", ", end, ", ", step);
  const double count = std::ceil((end - start) / step);
  // 2^63 is the first double past int64: converting it or more is undefined behaviour.
  if (!(count < 9223372036854775808.0))
    fail("arange: [", start, ", ", end, ") in steps of ", step, " has ", count, " elements, more than int64 counts");
  const std::int64_t n = count > 0 ? static_cast<std::int64_t>(count) : 0;
  Tensor t = Tensor::empty({n}, dtype, "arange");
  dispatch_all(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + i * step);
  });
  return t;
}

template <class T>
static Tensor from_values(const std::vector<T>& values, const Shape& shape) {
  const std::int64_t n = checked_numel(shape, "from_vector");
  if (static_cast<std::int64_t>(values.size()) != n)
    fail("from_vector: got ", values.size(), " values for shape ", shape_str(shape), " (", n, " elements)");
  Tensor t = Tensor::empty(shape, dtype_of<T>(), "from_vector");
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}
Tensor from_vector(const std::vector<float>& v, const Shape& s) { return from_values(v, s); }
Tensor from_vector(const std::vector<double>& v, const Shape& s) { return from_values(v, s); }
Tensor from_vector(const std::vector<std::int64_t>& v, const Shape& s) { return from_values(v, s); }

Tensor tensor(std::initializer_list<double> values, DType dtype) {
  return from_vector(std::vector<double>(values), {static_cast<std::int64_t>(values.size())}).to(dtype);
}
Tensor scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor rand(const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype, "rand");
  auto& g = global_generator();
  dispatch_float(dtype, "rand", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (std::int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(g.uniform());
  });
  return t;
}

Tensor randn(const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype, "randn");
  auto& g = global_generator();
  dispatch_float(dtype, "randn", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (std::int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(g.normal());
  });
  return t;
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape) {
  if (high <= low) fail("randint: expected low < high, got [", low, ", ", high, ")");
  Tensor t = Tensor::empty(shape, DType::Int64, "randint");
  auto& g = global_generator();
  std::int64_t* p = t.data<std::int64_t>();
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = g.randint(low, high);
  return t;
}

// ---- printing ----
namespace {

// PyTorch-like: "tensor([[1.0000, 2.0000], ...])". Axes longer than 6 show
// their first and last 3 entries around "..." when the tensor has > 1000 elements.
template <class T>
void print_values(std::ostream& os, const T* p, const Shape& s, std::size_t axis, std::int64_t offset,
                  bool summarize, int indent) {
  const auto strides = contiguous_strides(s);
  if (s.empty()) {
    os << p[0];
    return;
  }
  const std::int64_t n = s[axis];
  os << "[";
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarize && n > 6 && i == 3) {
      os << (axis + 1 == s.size() ? "..., " : "...,\n" + std::string(indent + axis + 1, ' '));
      i = n - 3;
    }
    if (axis + 1 == s.size()) {
      os << p[offset + i];
    } else {
      print_values(os, p, s, axis + 1, offset + i * strides[axis], summarize, indent);
    }
    if (i + 1 < n) os << (axis + 1 == s.size() ? ", " : ",\n" + std::string(indent + axis + 1, ' '));
  }
  os << "]";
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::ostringstream body;
  if (is_floating(t.dtype())) body << std::fixed << std::setprecision(4);
  const bool summarize = t.numel() > 1000;
  dispatch_all(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    print_values(body, t.data<T>(), t.shape(), 0, 0, summarize, 7);
  });
  os << "tensor(" << body.str() << ", shape=" << shape_str(t.shape()) << ", dtype=" << dtype_name(t.dtype());
  if (!t.grad_fn_name().empty())
    os << ", grad_fn=<" << t.grad_fn_name() << ">";
  else if (t.requires_grad())
    os << ", requires_grad=true";
  return os << ")";
}

std::string to_string(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

// ---- Tensor's autograd members (the engine they call: core/autograd.cpp) ----
bool Tensor::requires_grad() const { return impl_ && (impl_->requires_grad || impl_->grad_fn); }

Tensor& Tensor::requires_grad_(bool on) {
  check_defined("requires_grad_");
  if (impl_->grad_fn)
    fail("requires_grad_: only leaf tensors can change requires_grad (this one was produced by ",
         impl_->grad_fn->name, "); use detach() first");
  if (on && !is_floating(impl_->dtype))
    fail("requires_grad_: only float32/float64 tensors can require gradients, got ", dtype_name(impl_->dtype));
  impl_->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return impl_ && !impl_->grad_fn; }

Tensor Tensor::grad() const {
  check_defined("grad");
  return impl_->grad ? Tensor(impl_->grad) : Tensor();
}

void Tensor::zero_grad() {
  check_defined("zero_grad");
  impl_->grad.reset();
}

std::string Tensor::grad_fn_name() const { return impl_ && impl_->grad_fn ? impl_->grad_fn->name : ""; }

void Tensor::backward(const Tensor& grad_out, bool retain_graph) const {
  check_defined("backward");
  chalk::backward({*this}, {grad_out}, retain_graph);
}

}  // namespace chalk
