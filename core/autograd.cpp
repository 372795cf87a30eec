#include "core/autograd.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "core/exercise.h"  // exercise_not_done: what a student edition puts in place of the regions
#include "core/parallel.h"

namespace chalk {

namespace {

thread_local bool g_grad_enabled = true;

// y = a + b, element-wise, same shape and dtype, as a new tensor (accumulate_gradient's sum).
Tensor add_same_shape(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  dispatch_float(a.dtype(), "accumulate gradient", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    parallel_for(a.numel(), [=](std::int64_t s, std::int64_t e) {  // [=]: vectorised (ops/kernels.h)
      for (std::int64_t i = s; i < e; ++i) po[i] = pa[i] + pb[i];
    });
  });
  return out;
}

// a += b in place, and a's version bumped (a is a leaf's own .grad() buffer: accumulate_grad).
void add_in_place(Tensor& a, const Tensor& b) {
  dispatch_float(a.dtype(), "accumulate gradient", [&](auto tag) {
    using T = decltype(tag);
    T* pa = a.data<T>();
    const T* pb = b.data<T>();
    parallel_for(a.numel(), [=](std::int64_t s, std::int64_t e) {
      for (std::int64_t i = s; i < e; ++i) pa[i] += pb[i];
    });
  });
  increment_version(a);  // .grad() is a tensor the caller can hold and compute with
}

// ---- anomaly mode ----
std::atomic<int> g_anomaly_guards{0};  // how many AnomalyGuards are alive

// The first non-finite element of t, as a flat index; -1 if every value is finite.
std::int64_t first_non_finite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype())) return -1;
  return dispatch_float(t.dtype(), "anomaly check", [&](auto tag) -> std::int64_t {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(p[i])) return i;
    return -1;
  });
}

// "[1, 0]": the multi-index of flat index i in shape s.
std::string index_str(const Shape& s, std::int64_t i) {
  std::vector<std::int64_t> idx(s.size());
  for (int d = static_cast<int>(s.size()) - 1; d >= 0; --d) {
    idx[d] = s[d] == 0 ? 0 : i % s[d];
    i = s[d] == 0 ? i : i / s[d];
  }
  std::string r = "[";
  for (std::size_t d = 0; d < idx.size(); ++d) r += (d ? ", " : "") + std::to_string(idx[d]);
  return r + "]";
}

std::string value_str(const Tensor& t, std::int64_t i) {
  return dispatch_float(t.dtype(), "anomaly check", [&](auto tag) {
    using T = decltype(tag);
    const double v = t.data<T>()[i];
    return std::string(std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
  });
}

std::string types_str(const std::vector<std::pair<Shape, DType>>& types) {
  std::string r;
  for (std::size_t k = 0; k < types.size(); ++k)
    r += (k ? ", " : "") + shape_str(types[k].first) + " " + dtype_name(types[k].second);
  return r.empty() ? "none" : r;
}

std::vector<std::pair<Shape, DType>> types_of(const std::vector<Tensor>& inputs) {
  std::vector<std::pair<Shape, DType>> r;
  r.reserve(inputs.size());
  for (const auto& t : inputs) r.emplace_back(t.defined() ? t.shape() : Shape{}, t.defined() ? t.dtype() : DType::Float32);
  return r;
}

// Forward check: out is op `name`'s result.
void check_forward(const Tensor& out, const char* name, const std::vector<Tensor>& inputs) {
  const std::int64_t i = first_non_finite(out);
  if (i < 0) return;
  fail("anomaly: the forward of ", name, " produced ", value_str(out, i), " at index ", index_str(out.shape(), i),
       " of its output ", shape_str(out.shape()), " ", dtype_name(out.dtype()), " (inputs: ",
       types_str(types_of(inputs)), ")");
}

// Backward check: the gradients node's VJP wrote into dx, given the incoming gradient g.
void check_backward(const Node& node, const Tensor& g, Grads& dx) {
  for (std::size_t k = 0; k < node.inputs.size(); ++k) {
    const Tensor& gk = dx.slot(k);
    const std::int64_t i = first_non_finite(gk);
    if (i < 0) continue;
    std::vector<std::pair<Shape, DType>> types = node.input_types;
    if (types.empty())  // recorded before the guard: the inputs that need a gradient are known
      for (const auto& in : node.inputs)
        types.emplace_back(in ? in->shape : Shape{}, in ? in->dtype : DType::Float32);
    fail("anomaly: the backward of ", node.name, " produced ", value_str(gk, i), " at index ",
         index_str(gk.shape(), i), " of the gradient for input ", k, " ", shape_str(gk.shape()), " ",
         dtype_name(gk.dtype()), " (inputs: ", types_str(types), "; incoming gradient ",
         first_non_finite(g) < 0 ? "finite" : "already non-finite", ")");
  }
}

}  // namespace

bool anomaly_enabled() { return g_anomaly_guards.load(std::memory_order_relaxed) > 0; }
AnomalyGuard::AnomalyGuard() { g_anomaly_guards.fetch_add(1); }
AnomalyGuard::~AnomalyGuard() { g_anomaly_guards.fetch_sub(1); }

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

// ---- Grads ----

void Grads::add(std::size_t i, const Tensor& g) {
  if (i >= slots_.size()) fail("backward of ", op_, ": no input ", i, " (the op has ", slots_.size(), ")");
  if (!wanted_[i]) return;
  if (g.shape() != shapes_[i] || g.dtype() != dtypes_[i])
    fail("backward of ", op_, ": gradient for input ", i, " has shape ", shape_str(g.shape()), " ",
         dtype_name(g.dtype()), ", expected ", shape_str(shapes_[i]), " ", dtype_name(dtypes_[i]));
  accumulate_gradient(slots_[i], g);  // a VJP may add to one input more than once
}

// ---- Node ----
// Destroying the last tensor of a long chain would destroy node after node
// recursively and overflow the stack. Instead each ~Node hands the nodes it
// owned alone to a thread-local list, and the outermost ~Node empties that
// list in a loop.
Node::~Node() {
  thread_local std::vector<std::shared_ptr<Node>> pending;
  thread_local bool draining = false;
  backward = nullptr;  // drop what the VJP captured (detached tensors: no chains)
  // An input listed twice (y = x * x) is held twice by this node: drop the
  // duplicates first, or the use_count test below never sees 1 and a chain
  // of such ops is destroyed recursively.
  std::sort(inputs.begin(), inputs.end());
  inputs.erase(std::unique(inputs.begin(), inputs.end()), inputs.end());
  for (auto& in : inputs)
    if (in && in.use_count() == 1 && in->grad_fn && in->grad_fn.use_count() == 1)
      pending.push_back(std::move(in->grad_fn));
  inputs.clear();
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n.reset();  // its destructor may push more onto `pending`
  }
  draining = false;
}

void increment_version(const Tensor& t) {
  if (!t.defined()) fail("increment_version: the tensor is undefined");
  t.impl()->storage->version.fetch_add(1, std::memory_order_relaxed);
}

void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn) {
  Saved all{{}, true};
  all.inputs.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) all.inputs.push_back(static_cast<int>(i));
  record(out, name, inputs, all, std::move(fn));
}

void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, const Saved& saved, BackwardFn fn) {
  if (!g_grad_enabled) return;
  const bool anomaly = anomaly_enabled();
  if (anomaly) check_forward(out, name, inputs);  // before the test below: constants are checked too
  bool any = false;
  for (const auto& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs.reserve(inputs.size());
  for (const auto& t : inputs)
    node->inputs.push_back(t.defined() && t.requires_grad() ? t.impl_ptr() : nullptr);
  node->backward = std::move(fn);
  // The versions now, after the forward wrote `out`: writes before this are the op's own.
  auto note = [&](const Tensor& t, int input) {
    if (!t.defined()) return;
    node->saved.push_back({t.impl()->storage, t.version(), input, t.shape(), t.dtype(), t.impl_ptr()});
  };
  for (int i : saved.inputs) {
    if (i < 0 || i >= static_cast<int>(inputs.size()))
      fail("record ", name, ": Saved names input ", i, " but the op has ", inputs.size());
    note(inputs[i], i);
  }
  if (saved.output) note(out, -1);
  for (std::size_t k = 0; k < saved.other.size(); ++k) note(saved.other[k], -2 - static_cast<int>(k));
  if (anomaly) node->input_types = types_of(inputs);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}

// ---- the engine ----
namespace {

// Throws if a tensor node's VJP reads was written in place after record() saw it: the VJP
// would compute the gradient from the new values (PyTorch before 1.5 did so, silently).
void check_saved_versions(const Node& node) {
  for (const SavedVersion& s : node.saved) {
    const std::shared_ptr<Storage> storage = s.storage.lock();
    if (!storage) continue;  // freed: nothing holds it, so the VJP does not read it
    const std::int64_t now = storage->version.load(std::memory_order_relaxed);
    if (now == s.version) continue;
    const std::shared_ptr<TensorImpl> t = s.tensor.lock();
    const std::string what = s.input >= 0   ? "its input " + std::to_string(s.input)
                             : s.input == -1 ? std::string("its output")
                                             : "a tensor it reads (not a differentiable input)";
    const std::string named = t && !t->name.empty() ? " '" + t->name + "'" : std::string();
    fail("backward: ", node.name, " needs ", what, named, " (", shape_str(s.shape), " ", dtype_name(s.dtype),
         ") as it was in the forward, but that tensor was modified in place since: it is at version ", now,
         ", ", node.name, " saved version ", s.version, ". Its gradient would be computed from the new values. ",
         "Call backward() before changing the tensor (before optimizer.step(), an init function or loading ",
         "a checkpoint), or clone() it before changing it in place");
  }
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool retain_graph) {
  if (outputs.size() != grad_outputs.size())
    fail("backward: got ", outputs.size(), " outputs but ", grad_outputs.size(), " gradients");

  // 1. Seed gradients, checking each output.
  std::unordered_map<TensorImpl*, Tensor> grads;
  std::vector<std::shared_ptr<TensorImpl>> roots;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& y = outputs[k];
    if (!y.requires_grad())
      fail("backward: output ", k, " (shape ", shape_str(y.shape()),
           ") does not require grad: no input of its graph has requires_grad set");
    Tensor g = grad_outputs[k];
    if (!g.defined()) {
      if (y.numel() != 1)
        fail("backward: output has shape ", shape_str(y.shape()),
             "; backward() without a gradient needs a scalar (one element). Pass the upstream "
             "gradient dL/dy of shape ", shape_str(y.shape()));
      g = ones(y.shape(), y.dtype());
    } else if (g.shape() != y.shape() || g.dtype() != y.dtype()) {
      fail("backward: gradient has shape ", shape_str(g.shape()), " ", dtype_name(g.dtype()),
           ", expected the output's ", shape_str(y.shape()), " ", dtype_name(y.dtype()));
    }
    accumulate_gradient(grads[y.impl()], g);  // an output may be listed twice
    roots.push_back(y.impl_ptr());
  }

  // 2. Topological order, iteratively (depth-first with an explicit stack).
  //    `order` lists every tensor with a grad_fn after all tensors it feeds.
  std::vector<std::shared_ptr<TensorImpl>> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<std::shared_ptr<TensorImpl>, std::size_t>> stack;
  for (auto& r : roots) {
    if (!r->grad_fn || !seen.insert(r.get()).second) continue;
    stack.push_back({r, 0});
    while (!stack.empty()) {
      auto& [t, next] = stack.back();
      Node* node = t->grad_fn.get();
      if (node->released)
        fail("backward: the graph through ", node->name,
             " was already freed by an earlier backward(); call backward(grad, /*retain_graph=*/true) "
             "the first time if you need to backpropagate twice");
      if (next < node->inputs.size()) {
        std::shared_ptr<TensorImpl> in = node->inputs[next++];
        if (in && in->grad_fn && seen.insert(in.get()).second) stack.push_back({in, 0});
      } else {
        order.push_back(t);
        stack.pop_back();
      }
    }
  }

  // 3. Walk from the outputs to the leaves; each node's VJP adds into its inputs.
  {
    NoGradGuard no_grad;  // backward lambdas record nothing
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      TensorImpl* t = it->get();
      auto found = grads.find(t);
      if (found == grads.end()) continue;
      Tensor g = std::move(found->second);
      grads.erase(found);
      Node* node = t->grad_fn.get();
      Grads dx(node->name, node->inputs.size());
      for (std::size_t i = 0; i < node->inputs.size(); ++i) {
        const auto& in = node->inputs[i];
        dx.set_wanted(i, in != nullptr);
        if (in) dx.set_expected(i, in->shape, in->dtype);
      }
      check_saved_versions(*node);
      node->backward(g, dx);
      if (anomaly_enabled()) check_backward(*node, g, dx);
      for (std::size_t i = 0; i < node->inputs.size(); ++i) {
        const auto& in = node->inputs[i];
        Tensor& gi = dx.slot(i);
        if (!in || !gi.defined()) continue;
        if (in->grad_fn)  // an intermediate result: sum into its pending gradient
          accumulate_gradient(grads[in.get()], gi);
        else  // a leaf: accumulate into .grad (kept across backward calls)
          accumulate_grad(Tensor(in), std::move(gi));
      }
      if (!retain_graph) {  // free this node: its VJP, its edges and its saved versions
        node->backward = nullptr;
        node->inputs.clear();
        node->saved.clear();
        node->released = true;
      }
    }
  }
  // A leaf passed directly as an output gets its seed as gradient.
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    TensorImpl* y = outputs[k].impl();
    if (!y->grad_fn) {
      auto found = grads.find(y);
      if (found == grads.end()) continue;
      accumulate_grad(outputs[k], std::move(found->second));
      grads.erase(found);
    }
  }
}

// ---- accumulation ----

void accumulate_gradient(Tensor& pending, const Tensor& contribution) {
  if (!contribution.defined()) fail("accumulate_gradient: the contribution is undefined");
  if (pending.defined() && (pending.shape() != contribution.shape() || pending.dtype() != contribution.dtype()))
    fail("accumulate_gradient: a contribution of shape ", shape_str(contribution.shape()), " ",
         dtype_name(contribution.dtype()), " to a gradient of shape ", shape_str(pending.shape()), " ",
         dtype_name(pending.dtype()), ": every use of a tensor contributes its shape and dtype");
  // ---- exercise 02 begin: docs/exercises/02-accumulate-gradients.md ----
  pending = pending.defined() ? add_same_shape(pending, contribution) : contribution;
  // ---- exercise 02 end ----
}

void accumulate_grad(const Tensor& leaf, Tensor contribution) {
  if (!leaf.defined()) fail("accumulate_grad: the leaf is undefined");
  if (leaf.impl()->grad_fn)
    fail("accumulate_grad: the tensor is the output of ", leaf.impl()->grad_fn->name,
         ", not a leaf: its gradient is passed on to its op's VJP (accumulate_gradient), not kept in .grad()");
  if (!contribution.defined()) fail("accumulate_grad: the contribution is undefined");
  if (contribution.shape() != leaf.shape() || contribution.dtype() != leaf.dtype())
    fail("accumulate_grad: a contribution of shape ", shape_str(contribution.shape()), " ",
         dtype_name(contribution.dtype()), " to a leaf of shape ", shape_str(leaf.shape()), " ",
         dtype_name(leaf.dtype()));
  // ---- exercise 02 begin: docs/exercises/02-accumulate-gradients.md ----
  TensorImpl& t = *leaf.impl();
  if (!t.grad) {
    // Take the buffer if nobody else can see it, else copy it. The same tensor may sit in
    // several slots (add passes g to both inputs) or be the caller's grad_out: .grad is later
    // added to in place, so it must not alias any of them.
    const bool exclusive =
        contribution.impl_ptr().use_count() == 1 && contribution.impl()->storage.use_count() == 1;
    t.grad = exclusive ? contribution.detach().impl_ptr() : contribution.clone().detach().impl_ptr();
  } else {
    Tensor sum(t.grad);
    add_in_place(sum, contribution);  // bumps .grad's version
  }
  // ---- exercise 02 end ----
}

}  // namespace chalk
