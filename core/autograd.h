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
//     used twice receives both). Leaves keep their gradient in .grad(), which
//     accumulates across backward calls until zero_grad().
//   * Afterwards the graph is freed (the lambdas and what they captured),
//     unless retain_graph = true; a second backward through a freed graph
//     throws chalk::Error.
//
// Backward lambdas run with gradient recording off, so they may use any op.
// They must capture inputs/outputs as x.detach() when they capture the op's
// own output (to avoid a reference cycle out -> node -> out).
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

struct Node {
  std::string name;                                   // the op, e.g. "matmul"
  std::vector<std::shared_ptr<TensorImpl>> inputs;    // graph edges (null: no grad needed)
  BackwardFn backward;                                // the VJP; empty once freed
  bool released = false;                              // true after backward freed it
  std::vector<std::pair<Shape, DType>> input_types;   // every input's shape and dtype
                                                      // (kept in anomaly mode only, for messages)
  ~Node();  // frees long chains iteratively (no deep recursion)
};

// Record `out` as produced by op `name` from `inputs`, with VJP `fn`.
// A no-op when gradient mode is off or no input requires a gradient.
void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn);

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

}  // namespace chalk
