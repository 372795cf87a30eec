// core/autograd.h — define-by-run reverse-mode automatic differentiation.
//
// How it works (read with docs/autograd.md):
//   * Every op computes its result, then calls record(...) right under the
//     forward code with a backward lambda: the vector-Jacobian product (VJP).
//     Given g = dL/d(out), the lambda adds dL/d(input_i) for every input:
//         out = a * b;   // forward
//         record(out, "mul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g, Grads& dx) {
//           dx.add(0, g * b);   // dL/da += g * b
//           dx.add(1, g * a);   // dL/db += g * a
//         });
//     (ops/elementwise.cpp's mul without its broadcasting; captures are
//     detached, as the rule below asks.)
//   * record() stores a Node on `out` (out.grad_fn) that remembers the inputs.
//     Nothing is recorded when no input requires a gradient or inside a
//     NoGradGuard.
//   * backward() sorts the graph topologically (iteratively: a chain of
//     100,000 ops does not overflow the stack), walks it from the output to
//     the leaves, and sums the contributions that reach each tensor (an input
//     used twice receives both; accumulate_gradient below). Leaves keep their
//     gradient in .grad(), which accumulates across backward calls until
//     zero_grad() (accumulate_grad below).
//   * Afterwards the graph is freed (the lambdas and what they captured),
//     unless retain_graph = true; a second backward through a freed graph
//     throws chalk::Error.
//
// Backward lambdas run with gradient recording off, so they may use any op.
// They must capture inputs/outputs as x.detach() when they capture the op's
// own output (to avoid a reference cycle out -> node -> out).
//
// Saved tensors and versions (PyTorch's version counters, docs/autograd.md section 7):
//   * A detached handle shares the data, so a VJP reads the data as it is when backward()
//     runs, not as it was in the forward. Every in-place write (an optimizer step, an init
//     function, loading a checkpoint) bumps the data's version (Storage::version).
//   * record() notes the version of every tensor its VJP reads (`Saved`: which inputs, and
//     whether the output), after the forward wrote the output. backward() compares before it
//     runs the VJP and throws chalk::Error naming the op, the tensor (shape, dtype, name),
//     the versions and the fix, instead of computing a gradient from the new values.
//   * The 4-argument record() assumes the VJP reads every input and the output: an op that
//     does not say what it saves is checked the most, never too little. An op that reads less
//     says so (y = a + b reads neither: Saved{}), so that writing a tensor it does not read
//     after the forward is not an error.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace chalk {

// Where a backward lambda puts the gradients of its inputs.
class Grads {
 public:
  Grads(std::string op, std::size_t n)
      : slots_(n), wanted_(n, false), shapes_(n), dtypes_(n, DType::Float32), op_(std::move(op)) {}
  // Does input i need a gradient? (Skip the work when it does not.)
  bool wants(std::size_t i) const { return wanted_[i]; }
  // dL/d(input i) += g. `g` must have input i's shape and dtype.
  void add(std::size_t i, const Tensor& g);

  // For the engine:
  void set_wanted(std::size_t i, bool w) { wanted_[i] = w; }
  void set_expected(std::size_t i, const Shape& s, DType d) { shapes_[i] = s; dtypes_[i] = d; }
  Tensor& slot(std::size_t i) { return slots_[i]; }

 private:
  std::vector<Tensor> slots_;
  std::vector<bool> wanted_;
  std::vector<Shape> shapes_;
  std::vector<DType> dtypes_;
  std::string op_;
};

using BackwardFn = std::function<void(const Tensor& grad_out, Grads& dx)>;

// Which tensors a VJP reads besides its incoming gradient (PyTorch: the SavedVariables of a
// grad_fn): input indices (into record's inputs) and/or the op's own output.
//   Saved{}                            reads none       (add, sum, reshape)
//   Saved{.inputs = {0, 1}}            reads a and b    (mul)
//   Saved{.output = true}              reads y          (exp, tanh, sigmoid)
//   Saved{.inputs = {1}, .output = true}                (div: b and y)
//   Saved{.other = {cond}}             reads a tensor that is not a differentiable input
//                                      (where's condition)
// Tensors a VJP creates in its own forward and never hands out (a normalised copy, an argmax
// index) need no entry: nothing outside the op can write them.
struct Saved {
  std::vector<int> inputs{};  // ({}: a designated initializer may leave any member out)
  bool output = false;
  std::vector<Tensor> other{};
};

// A tensor a VJP reads, as record() saw it: backward() checks that its data was not written
// in place since (its version is unchanged).
struct SavedVersion {
  std::weak_ptr<Storage> storage;  // weak: an unread tensor's memory is not kept alive
  std::int64_t version = 0;        // Storage::version at record time
  int input = -1;                  // index into the op's inputs; -1: the op's output;
                                   // -2 - k: Saved::other[k]
  Shape shape;                     // for the message and the graph picture
  DType dtype = DType::Float32;
  std::weak_ptr<TensorImpl> tensor;  // the handle given to record(), for its name
};

struct Node {
  std::string name;                                   // the op, e.g. "matmul"
  std::vector<std::shared_ptr<TensorImpl>> inputs;    // graph edges (null: no grad needed)
  BackwardFn backward;                                // the VJP; empty once freed
  bool released = false;                              // true after backward freed it
  std::vector<SavedVersion> saved;                    // what the VJP reads, with versions
  std::vector<std::pair<Shape, DType>> input_types;   // every input's shape and dtype
                                                      // (kept in anomaly mode only, for messages)
  ~Node();  // frees long chains iteratively (no deep recursion)
};

// Record `out` as produced by op `name` from `inputs`, with VJP `fn` that reads the tensors
// `saved` lists (their versions are noted now: call it after the forward wrote `out`).
// A no-op when gradient mode is off or no input requires a gradient.
// Throws chalk::Error if `saved` names an input index out of range.
void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, const Saved& saved, BackwardFn fn);
// The same, assuming the VJP reads every input and the output (the safe default).
void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn);

// Note an in-place write to t's data: bumps its version (PyTorch:
// torch.autograd.graph.increment_version). Every public function that writes existing data
// calls it once per call, after writing; code that writes through data<T>() itself must too,
// or backward() cannot see that a saved tensor changed. Throws chalk::Error if t is undefined.
void increment_version(const Tensor& t);

// Gradient recording on/off for the current thread.
bool grad_enabled();

// RAII: records nothing while alive (evaluation, optimizer steps, backward itself).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// ---- anomaly mode (PyTorch: torch.autograd.detect_anomaly) ----
// While an AnomalyGuard is alive (on any thread), every op run with gradient mode on checks
// its forward output and every VJP checks the gradients it produces; the first non-finite
// value (nan, inf, -inf) throws chalk::Error naming the op as recorded, forward or
// backward, its input shapes, and where the value is:
//   "anomaly: the forward of log produced nan at index [1] of its output [3] float32
//    (inputs: [3] float32)"
//   "anomaly: the backward of sqrt produced inf at index [0] of the gradient for input 0
//    [2] float32 (inputs: [2] float32; incoming gradient finite)"
// Ops under a NoGradGuard (evaluation, the optimizer step, and the ops a VJP itself calls)
// are not checked: a VJP is checked as a whole, under its op's name.
// Cost when no guard is alive: one branch per recorded op and per VJP. When alive: one pass
// over every op's output and every gradient (a teaching and debugging aid, not for speed).
// Guards nest; the count is process-wide (atomic), so a guard on the main thread covers ops
// and backward run from it.
class AnomalyGuard {
 public:
  AnomalyGuard();
  ~AnomalyGuard();
  AnomalyGuard(const AnomalyGuard&) = delete;
  AnomalyGuard& operator=(const AnomalyGuard&) = delete;
};
// Is an AnomalyGuard alive?
bool anomaly_enabled();

// Backpropagate from several outputs at once (each with its upstream gradient).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool retain_graph = false);

// ---- the engine's accumulation (docs/autograd.md section 3) ----
// A tensor used k times receives k gradient contributions, one from each use's VJP, and its
// gradient is their sum (the multivariable chain rule). backward() and Grads::add collect every
// contribution with these two functions: accumulate_gradient for an intermediate result (its
// pending gradient, passed on to its own VJP), accumulate_grad for a leaf (its .grad()).

// pending += contribution, for the gradient an intermediate result collects over its uses
// (PyTorch: InputBuffer::add, torch/csrc/autograd/input_buffer.cpp).
//   pending       the sum so far; undefined before the first contribution. On return, the sum
//                 with `contribution` added: a tensor of contribution's shape and dtype.
//   contribution  dL/dt from one use of t, float32 or float64, of pending's shape and dtype.
// Writes into the data of neither tensor: both may be shared (add's VJP hands the same g to both
// of its inputs, and the first contribution can be the caller's upstream gradient), so a sum is a
// new tensor, and the first contribution is kept as it is (no copy).
// Throws chalk::Error naming accumulate_gradient when contribution is undefined, or its shape or
// dtype differs from pending's.
void accumulate_gradient(Tensor& pending, const Tensor& contribution);

// leaf.grad() += contribution: a leaf's gradient sums every use in one backward() and every
// backward() call until zero_grad() (PyTorch: AccumulateGrad::accumulateGrad,
// torch/csrc/autograd/functions/accumulate_grad.h; .grad accumulates across backward calls).
//   leaf          a tensor without grad_fn; its .grad() is undefined (no gradient yet, or after
//                 zero_grad()) or of its shape and dtype.
//   contribution  dL/dleaf from one use, of the leaf's shape and dtype (float32 or float64),
//                 handed over: backward() moves its own handle in.
// The first contribution becomes .grad(): its buffer when `contribution` is the only handle to
// it, else a copy, because .grad() is later added to in place and must not alias a tensor
// someone else can see (another input's gradient, the caller's upstream gradient). Each later
// one is added in place, and .grad()'s version is bumped (increment_version): a caller holding
// .grad() sees the sum, and a VJP that saved it sees the write.
// Throws chalk::Error naming accumulate_grad when leaf or contribution is undefined, leaf has a
// grad_fn, or contribution's shape or dtype differs from the leaf's.
void accumulate_grad(const Tensor& leaf, Tensor contribution);

}  // namespace chalk
