// demos/02_autograd_by_hand.cpp — reverse-mode autograd, checked against the chain rule by hand.
// Read top to bottom like a notebook (it was demos/01_autograd_tour.cpp).
//
//   build/demo_02_autograd_by_hand [--quick] [--out DIR] [--seed N]
//
// 1. a graph is recorded as you compute: we walk it, print it, and draw it (Graphviz);
// 2. the chain rule by hand, node by node, against backward();
// 3. an input used twice gets the sum of both paths;
// 4. gradients accumulate across backward() calls until zero_grad();
// 5. backward() frees the graph: a second call throws, unless retain_graph;
// 6. a saved tensor changed in place (an optimizer step before backward) is refused: versions;
// 7. a derivative along a line: backward() at sample points on the analytic curve;
// 8. a tiny model learns with the few lines every training loop runs;
// 9. gradcheck: the VJPs against central differences.
//
// Everything here takes a fraction of a second; --quick changes nothing but is accepted (the test
// suite runs every demo with --quick).
#include <chalk.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <numbers>
#include <sstream>

#include "demos/notebook.h"
#include "plot/graphviz.h"
#include "plot/plot.h"

using namespace chalk;
using chalk::demo::fmt;
using chalk::demo::Table;

namespace {

std::string values(const Tensor& t, int digits = 4) {
  const auto v = t.to(DType::Float64).to_vector<double>();
  if (t.dim() == 0) return fmt(v[0], digits);
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt(v[i], digits);
  return s + "]";
}

// The recorded graph, printed as a tree from `root` down to the leaves. Everything used here
// is public: a tensor's TensorImpl (Tensor::impl) holds grad_fn, the Node that produced it
// (core/autograd.h); a Node holds the op's name and its inputs, the graph's edges. `names`
// gives the variables we know by name; a tensor reached twice is printed twice (it *is* used
// twice: the graph is a DAG, drawn here as a tree).
std::string graph_tree(const Tensor& root, const std::map<const TensorImpl*, std::string>& names) {
  std::ostringstream os;
  std::function<void(const std::shared_ptr<TensorImpl>&, const std::string&, bool, bool)> walk =
      [&](const std::shared_ptr<TensorImpl>& t, const std::string& prefix, bool last, bool top) {
        os << prefix << (top ? "" : (last ? "`-- " : "|-- "));
        if (!t) {
          os << "(an input that needs no gradient: no edge)\n";
          return;
        }
        const auto found = names.find(t.get());
        const std::string name = found != names.end() ? found->second : "?";
        const Tensor view(t);
        if (t->grad_fn) {
          os << name << " = " << t->grad_fn->name << "(";
          for (std::size_t i = 0; i < t->grad_fn->inputs.size(); ++i) {
            const auto& in = t->grad_fn->inputs[i];
            const auto f = in ? names.find(in.get()) : names.end();
            os << (i ? ", " : "") << (f != names.end() ? f->second : "?");
          }
          os << ")   shape " << shape_str(t->shape) << "   value " << values(view) << "\n";
          const std::string child = prefix + (top ? "" : (last ? "    " : "|   "));
          const auto& ins = t->grad_fn->inputs;
          for (std::size_t i = 0; i < ins.size(); ++i) walk(ins[i], child, i + 1 == ins.size(), false);
        } else {
          os << name << "   leaf, requires_grad   shape " << shape_str(t->shape) << "   value " << values(view) << "\n";
        }
      };
  walk(root.impl_ptr(), "", true, true);
  std::string s = os.str();
  s.pop_back();
  return s;
}

// A difference for the report: "0 (bit-identical)" when it is exactly zero.
std::string diff_str(double d) { return d == 0 ? "0 (bit-identical)" : fmt(d, 2); }

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// ---- 1. A graph is recorded as you compute ---------------------------------------------------------

// The neuron L = tanh(w . x + b) of sections 1, 2 and 5, each intermediate kept.
struct Neuron {
  Tensor x, w, b, u, s, v, L;
};

Neuron a_graph_is_recorded(demo::Notebook& nb) {
  nb.markdown(
      "## 1. A graph is recorded as you compute\n\n"
      "A neuron with three inputs: L = tanh(w . x + b), in float64, with x, w of shape [3] and "
      "b a scalar (shape []), drawn from N(0, 0.5^2) with --seed (small enough that tanh is not "
      "saturated). Written as the ops chalk runs:");
  nb.code(
      "Tensor x = (0.5 * randn({3}, Float64)).requires_grad_();   // likewise w [3], b []\n"
      "Tensor u = w * x;      // mul  [3]\n"
      "Tensor s = sum(u);     // sum  []\n"
      "Tensor v = s + b;      // add  []\n"
      "Tensor L = tanh(v);    // tanh []");
  Neuron n;
  n.x = (0.5 * randn({3}, DType::Float64)).requires_grad_();
  n.w = (0.5 * randn({3}, DType::Float64)).requires_grad_();
  n.b = (0.5 * randn({}, DType::Float64)).requires_grad_();
  n.u = n.w * n.x;
  n.s = sum(n.u);
  n.v = n.s + n.b;
  n.L = tanh(n.v);
  const std::map<const TensorImpl*, std::string> names = {{n.x.impl(), "x"}, {n.w.impl(), "w"}, {n.b.impl(), "b"},
                                                          {n.u.impl(), "u"}, {n.s.impl(), "s"}, {n.v.impl(), "v"},
                                                          {n.L.impl(), "L"}};
  nb.markdown(
      "Each op computed its value and then called `record(...)` (core/autograd.h), which hung a "
      "`Node` on its result: the op's name, its inputs (the graph's edges) and its VJP, the "
      "function that turns dL/d(output) into dL/d(inputs). `L.grad_fn_name()` is \"" + n.L.grad_fn_name() +
      "\"; `L.impl()->grad_fn->inputs` are the edges. Walking them from L down:");
  nb.output(graph_tree(n.L, names));
  return n;
}

// The same graph drawn: to_dot (core/graph_dot.h) writes it as Graphviz DOT, and Graphviz's
// dot program lays it out (plot/graphviz.h). The boxes take the names given with set_name.
void the_graph_drawn(demo::Notebook& nb, Neuron& n) {
  for (auto [t, name] : {std::pair{n.x, "x"}, {n.w, "w"}, {n.b, "b"}, {n.u, "u"}, {n.s, "s"}, {n.v, "v"}, {n.L, "L"}})
    t.set_name(name);
  const std::string graph_dot = to_dot(n.L);
  bool drawn = false;
  std::string draw_error;
  try {
    plot::render_dot(nb.figure_path("graph"), graph_dot);
    drawn = true;
  } catch (const Error& e) {
    draw_error = e.what();
  }
  nb.markdown(
      "Drawn by `to_dot(L)` (core/graph_dot.h, micrograd's `draw_dot`), laid out by Graphviz's `dot` "
      "program: boxes are tensors (name, shape, dtype; a leaf that collects a gradient says so), "
      "ellipses are ops with the tensors their VJP saved and the version of each it saw (section 6 "
      "says why), edges run from inputs to the op to its output.");
  if (drawn)
    nb.figure("graph",
              "The recorded graph of L = tanh(w . x + b): mul saved both of its inputs (version 0), sum and add "
              "saved nothing (their VJPs do not need the values), tanh saved its output L (dx = g (1 - L^2)).");
  else
    nb.output(draw_error);
  const bool dot_has_everything = graph_dot.find("label=\"mul\\nsaved: input 0 v0, input 1 v0\"") != std::string::npos &&
                                  graph_dot.find("label=\"tanh\\nsaved: output v0\"") != std::string::npos &&
                                  graph_dot.find("label=\"sum\"") != std::string::npos &&
                                  graph_dot.find("label=\"add\"") != std::string::npos &&
                                  graph_dot.find("label=\"w\\n[3] float64\\nleaf, requires_grad\"") != std::string::npos;
  nb.check(drawn && dot_has_everything,
           "the graph drawn by Graphviz has the four ops, the saved tensors with their versions, and the leaves",
           drawn ? std::to_string(graph_dot.size()) + " bytes of DOT, drawn as graph.svg" : draw_error);
}

// ---- 2. The chain rule, by hand, node by node -----------------------------------------------------

void the_chain_rule_by_hand(demo::Notebook& nb, Neuron& n) {
  nb.markdown(
      "## 2. The chain rule, by hand, node by node\n\n"
      "backward() walks this tree from the top. Each node receives g = dL/d(its output) and "
      "applies its local derivative (its VJP) to pass g on to its inputs:\n\n"
      "    dL/dL   = 1\n"
      "    dL/dv   = dL/dL * tanh'(v) = 1 - tanh(v)^2 = 1 - L^2        (tanh: dx = g (1 - y^2))\n"
      "    dL/ds   = dL/dv * dv/ds    = dL/dv                          (add: both inputs get g)\n"
      "    dL/db   = dL/dv * dv/db    = dL/dv\n"
      "    dL/du_i = dL/ds * ds/du_i  = dL/ds                          (sum: g copied to every element)\n"
      "    dL/dw_i = dL/du_i * du_i/dw_i = dL/du_i * x_i               (mul: da = g * b)\n"
      "    dL/dx_i = dL/du_i * du_i/dx_i = dL/du_i * w_i               (mul: db = g * a)\n\n"
      "Below, these formulas are evaluated in plain C++ doubles from the forward values (no "
      "chalk op involved), then L.backward() runs and the two are compared.");
  const auto xv = n.x.to_vector<double>(), wv = n.w.to_vector<double>();
  const double bv = n.b.item();
  double s_hand = 0;
  for (int i = 0; i < 3; ++i) s_hand += wv[i] * xv[i];
  const double L_hand = std::tanh(s_hand + bv);
  const double dv_hand = 1 - L_hand * L_hand;
  const double db_hand = dv_hand, ds_hand = dv_hand;
  std::vector<double> dw_hand(3), dx_hand(3), du_hand(3, ds_hand);
  for (int i = 0; i < 3; ++i) {
    dw_hand[i] = du_hand[i] * xv[i];
    dx_hand[i] = du_hand[i] * wv[i];
  }
  n.L.backward();
  const auto dw = n.w.grad().to_vector<double>(), dx = n.x.grad().to_vector<double>();
  const double db = n.b.grad().item();
  Table ct{{"gradient", "by hand", "value by hand", "backward()", "abs. difference"}, {}};
  double worst = std::fabs(db - db_hand);
  ct.row({"dL/dv", "1 - L^2 = 1 - (" + fmt(L_hand, 4) + ")^2", fmt(dv_hand, 6), "(not kept: v is not a leaf)", ""});
  ct.row({"dL/db", "dL/dv", fmt(db_hand, 6), fmt(db, 6), diff_str(std::fabs(db - db_hand))});
  const auto rows = [&](const std::string& var, const std::string& other, const std::vector<double>& factor,
                        const std::vector<double>& hand, const std::vector<double>& grad) {
    for (int i = 0; i < 3; ++i) {
      const std::string idx = std::to_string(i);
      ct.row({"dL/d" + var + "_" + idx, "dL/dv * " + other + "_" + idx + " = " + fmt(dv_hand, 4) + " * (" +
                  fmt(factor[i], 4) + ")", fmt(hand[i], 6), fmt(grad[i], 6), diff_str(std::fabs(grad[i] - hand[i]))});
      worst = std::max(worst, std::fabs(grad[i] - hand[i]));
    }
  };
  rows("w", "x", xv, dw_hand, dw);
  rows("x", "w", wv, dx_hand, dx);
  nb.output("L = " + fmt(n.L.item(), 6) + " (by hand: " + fmt(L_hand, 6) + ")");
  nb.table(ct);
  nb.check(worst <= 1e-6, "every hand-derived gradient of L = tanh(w . x + b) equals backward()'s to 1e-6 (float64)",
           "largest difference " + diff_str(worst));
  nb.result("neuron_max_abs_diff", worst);
}

// ---- 3. An input used twice: the gradients of both paths add ---------------------------------------

void an_input_used_twice(demo::Notebook& nb) {
  nb.markdown(
      "## 3. An input used twice: the gradients of both paths add\n\n"
      "f(t) = t sin(t), summed over a vector t: t reaches the product along two paths, directly "
      "as the left factor and through sin. The multivariable chain rule adds the paths:\n\n"
      "    d/dt [t sin(t)] = sin(t)          (path A: t as the left factor, sin(t) held fixed)\n"
      "                    + t cos(t)        (path B: t inside sin, the left factor held fixed)\n\n"
      "In the graph, t appears twice:");
  Tensor t = from_vector(std::vector<double>{-2.0, -0.5, 1.0, 2.5}, {4}).requires_grad_();
  Tensor sin_t = sin(t);
  Tensor f = t * sin_t;
  Tensor F = sum(f);
  nb.output(graph_tree(F, {{t.impl(), "t"}, {sin_t.impl(), "sin_t"}, {f.impl(), "f"}, {F.impl(), "F"}}));
  F.backward();
  const auto both = t.grad().to_vector<double>();
  // Each path alone: detach() cuts the other use out of the graph (it becomes a constant).
  t.zero_grad();
  sum(t * sin(t.detach())).backward();
  const auto path_a = t.grad().to_vector<double>();
  t.zero_grad();
  sum(t.detach() * sin(t)).backward();
  const auto path_b = t.grad().to_vector<double>();
  t.zero_grad();
  nb.markdown(
      "Each path alone is measured by cutting the other with `detach()` (a detached tensor is a "
      "constant to autograd): path A is `sum(t * sin(t.detach()))`, path B `sum(t.detach() * sin(t))`.");
  Table pt{{"t", "path A: sin t", "path B: t cos t", "A + B", "backward() of sum(t sin t)", "analytic sin t + t cos t"}, {}};
  const auto tv = t.to_vector<double>();
  std::vector<double> sum_ab(4), analytic(4);
  for (int i = 0; i < 4; ++i) {
    sum_ab[i] = path_a[i] + path_b[i];
    analytic[i] = std::sin(tv[i]) + tv[i] * std::cos(tv[i]);
    pt.row({fmt(tv[i], 2), fmt(path_a[i], 6), fmt(path_b[i], 6), fmt(sum_ab[i], 6), fmt(both[i], 6), fmt(analytic[i], 6)});
  }
  nb.table(pt);
  const double paths_err = max_abs_diff(both, sum_ab), twice_analytic_err = max_abs_diff(both, analytic);
  nb.markdown(
      "Inside backward() (core/autograd.cpp) this sum is plain addition: a contribution that reaches "
      "an intermediate tensor already holding one is added to it "
      "(`accumulate_gradient`), and a leaf such as t adds each contribution into its `.grad()` "
      "(`accumulate_grad`) — the accumulation of section 4. For "
      "`x * x` the mul node lists x as both of its inputs; each input receives g * x, and the two "
      "add up to 2 x g.");
  nb.check(paths_err <= 1e-12 && twice_analytic_err <= 1e-6,
           "the gradient of an input used twice is the sum of both paths' gradients",
           "max |both - (A + B)| = " + diff_str(paths_err) + ", max |both - analytic| = " + diff_str(twice_analytic_err));
  nb.result("twice_used_paths_diff", paths_err);
}

// ---- 4. Leaves accumulate until zero_grad() -------------------------------------------------------

void leaves_accumulate_until_zero_grad(demo::Notebook& nb) {
  nb.markdown(
      "## 4. Leaves accumulate until zero_grad()\n\n"
      "A leaf's `.grad()` is *added to* by every backward() that reaches it, exactly like "
      "PyTorch's `.grad`. That is what lets a training loop sum gradients over several "
      "micro-batches, and why every loop calls `zero_grad()` before its backward.");
  Tensor p = from_vector(std::vector<double>{1.0, 2.0, 3.0}, {3}).requires_grad_();
  sum(p * p).backward();                       // d/dp sum(p^2) = 2p
  const std::string first = values(p.grad(), 1);
  sum(p).backward();                           // + 1 each
  const std::string second = values(p.grad(), 1);
  p.zero_grad();
  nb.output("p = [1, 2, 3]\nafter sum(p * p).backward():   p.grad() = " + first + "   (2p)\n" +
            "after sum(p).backward() too:   p.grad() = " + second + "   (2p + 1)\n" +
            "after p.zero_grad():           p.grad() is " + (p.grad().defined() ? "defined" : "undefined (empty)"));
}

// ---- 5. backward() frees the graph ----------------------------------------------------------------

void backward_frees_the_graph(demo::Notebook& nb, Neuron& n) {
  nb.markdown(
      "## 5. backward() frees the graph\n\n"
      "After backward() every node drops its VJP and its edges: the activations the VJPs "
      "captured (here x, w, and tanh's output) are released at once, which is what keeps training "
      "memory flat. A second backward() through the same graph has nothing to walk, and chalk "
      "says so:");
  std::string freed_message;
  bool freed_threw = false;
  try {
    n.L.backward();  // L's graph was freed by the backward() of section 2
  } catch (const Error& e) {
    freed_threw = true;
    freed_message = e.what();
  }
  nb.code("L.backward();   // a second time");
  nb.output("chalk::Error: " + (freed_threw ? freed_message : std::string("(nothing was thrown)")));
  nb.check(freed_threw && freed_message.find("already freed") != std::string::npos,
           "a second backward() through a freed graph throws chalk::Error", freed_message);
}

// retain_graph keeps it, and the second pass adds the same gradient again.
void retain_graph(demo::Notebook& nb, Neuron& n) {
  n.x.zero_grad();
  n.w.zero_grad();
  n.b.zero_grad();
  Tensor L2 = tanh(sum(n.w * n.x) + n.b);
  L2.backward(Tensor(), /*retain_graph=*/true);
  const auto once = n.w.grad().to_vector<double>();
  L2.backward();
  const auto twice = n.w.grad().to_vector<double>();
  double retain_err = 0;
  for (int i = 0; i < 3; ++i) retain_err = std::max(retain_err, std::fabs(twice[i] - 2 * once[i]));
  nb.markdown(
      "Pass `retain_graph = true` to keep it (PyTorch's `retain_graph=True`): then a second "
      "backward() works, and — section 4 — adds the same gradient again:");
  nb.code("Tensor L2 = tanh(sum(w * x) + b);\nL2.backward(Tensor(), /*retain_graph=*/true);\nL2.backward();");
  const auto six_decimals = [](const std::vector<double>& g) {
    std::string out = "[";
    for (std::size_t i = 0; i < g.size(); ++i) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%s%.6f", i ? ", " : "", g[i]);
      out += buf;
    }
    return out + "]";
  };
  nb.output("w.grad() after the first:  " + six_decimals(once) + "\nw.grad() after the second: " + six_decimals(twice) +
            "   (twice the first)");
  nb.check(retain_err <= 1e-12, "with retain_graph the second backward() runs and doubles the gradient",
           "max |second - 2 first| = " + diff_str(retain_err));
  n.x.zero_grad();
  n.w.zero_grad();
  n.b.zero_grad();
}

// ---- 6. A saved tensor changed in place: version counters -----------------------------------------

void a_saved_tensor_changed_in_place(demo::Notebook& nb) {
  nb.markdown(
      "## 6. A saved tensor changed in place: version counters\n\n"
      "mul's VJP holds w and x as they were in the forward — but a detached handle shares the "
      "*data*, it is not a copy. If something writes w in place between the forward and the "
      "backward (an optimizer step, an init function, loading a checkpoint), the VJP would read "
      "the new values. PyTorch before 1.5 did exactly that, silently, in GAN loops that stepped "
      "one optimizer between a forward and its backward; then it added version counters, and "
      "chalk has them too: every in-place write bumps the data's version, record() notes the "
      "version of each tensor the VJP saved, and backward() compares before it runs the VJP.");
  nb.code(
      "Tensor w = tensor({3, 4}, Float64).requires_grad_(), x = tensor({1, 2}, Float64).requires_grad_();\n"
      "Tensor y = sum(w * x);                       // mul saves w and x at version 0\n"
      "sum(w * w).backward();\n"
      "nn::SGD({w}, {.lr = 0.1}).step();            // w = [2.4, 3.2], version 1\n"
      "y.backward();                                // dy/dx must be w as the forward saw it: [3, 4]");
  std::string version_message;
  std::string stale_dot;
  bool version_threw = false;
  Tensor w = tensor({3, 4}, DType::Float64).requires_grad_().set_name("w");
  Tensor x = tensor({1, 2}, DType::Float64).requires_grad_().set_name("x");
  {
    Tensor y = sum(w * x).set_name("y");
    sum(w * w).backward();
    nn::SGD({w}, nn::SGDOptions{.lr = 0.1}).step();
    stale_dot = to_dot(y);
    try {
      y.backward();
    } catch (const Error& e) {
      version_threw = true;
      version_message = e.what();
    }
  }
  nb.output("w after the step: " + values(w, 1) + ", version " + std::to_string(w.version()) +
            "\nchalk::Error: " + (version_threw ? version_message : std::string("(nothing was thrown)")));
  nb.check(version_threw && version_message.find("mul needs its input 0") != std::string::npos &&
               version_message.find("at version 1") != std::string::npos &&
               version_message.find("saved version 0") != std::string::npos,
           "backward() after an optimizer step refuses the graph that saved the old w, naming mul, w and the versions",
           version_message);
  bool stale_drawn = false;
  try {
    plot::render_dot(nb.figure_path("stale_graph"), stale_dot);
    stale_drawn = true;
  } catch (const Error& e) {
    nb.output(e.what());
  }
  if (stale_drawn)
    nb.figure("stale_graph",
              "The graph of y = sum(w * x) after the step: mul saved w at version 0, w is now at version 1, so "
              "to_dot marks mul red. This is the picture of the error above.");
}

// The two fixes: backward() before the step (the training loop's order), or a clone.
void the_two_fixes(demo::Notebook& nb) {
  Tensor wa = tensor({3, 4}, DType::Float64).requires_grad_(), xa = tensor({1, 2}, DType::Float64).requires_grad_();
  Tensor ya = sum(wa * xa);
  ya.backward();
  nn::SGD({wa}, nn::SGDOptions{.lr = 0.1}).step();
  Tensor wb = tensor({3, 4}, DType::Float64).requires_grad_(), xb = tensor({1, 2}, DType::Float64).requires_grad_();
  Tensor yb = sum(wb.clone() * xb);
  sum(wb * wb).backward();
  nn::SGD({wb}, nn::SGDOptions{.lr = 0.1}).step();
  yb.backward();
  nb.markdown(
      "The fixes, as the message says: call backward() before the step (forward, backward, step: "
      "the order every training loop uses, and chalk's Trainer), or let the forward read a "
      "`clone()` that the step does not touch:");
  nb.code(
      "Tensor y = sum(w * x);  y.backward();  opt.step();            // x.grad() = " + values(xa.grad(), 1) + "\n"
      "Tensor y = sum(w.clone() * x);  ...  opt.step();  y.backward(); // x.grad() = " + values(xb.grad(), 1));
  const std::vector<double> right{3, 4};
  nb.check(xa.grad().to_vector<double>() == right && xb.grad().to_vector<double>() == right,
           "with backward() before the step, or a clone, dy/dx is w as the forward saw it: [3, 4]",
           "x.grad() = " + values(xa.grad(), 6) + " and " + values(xb.grad(), 6));
}

// ---- 7. A derivative along a line -----------------------------------------------------------------

void a_derivative_along_a_line(demo::Notebook& nb) {
  const int samples = 33;
  nb.markdown(
      "## 7. A derivative along a line\n\n"
      "For an element-wise f, one backward() of sum(f(t)) gives f'(t_k) at every sample t_k at "
      "once (the k-th output depends only on t_k). Here f(t) = t sin(t) on [0, 2 pi], " +
      std::to_string(samples) + " samples, against the analytic f'(t) = sin t + t cos t.");
  const double lo = 0.0, hi = 2 * std::numbers::pi;
  std::vector<double> ts(samples);
  for (int k = 0; k < samples; ++k) ts[k] = lo + (hi - lo) * k / (samples - 1);
  Tensor tt = from_vector(ts, {samples}).requires_grad_();
  sum(tt * sin(tt)).backward();
  const auto dts = tt.grad().to_vector<double>();
  double line_err = 0;
  for (int k = 0; k < samples; ++k) line_err = std::max(line_err, std::fabs(dts[k] - (std::sin(ts[k]) + ts[k] * std::cos(ts[k]))));
  plot::Series fs{"f(t) = t sin t", {}, {}}, dfs{"f'(t), by hand", {}, {}, false, true};
  for (int k = 0; k <= 400; ++k) {
    const double q = lo + (hi - lo) * k / 400.0;
    fs.x.push_back(q);
    fs.y.push_back(q * std::sin(q));
    dfs.x.push_back(q);
    dfs.y.push_back(std::sin(q) + q * std::cos(q));
  }
  plot::Series pts{"t.grad() from backward()", ts, dts, true};
  plot::lines(nb.figure_path("derivative"), {fs, dfs, pts}, plot::axes("f(t) = t sin t and its derivative", "t", "value"));
  nb.figure("derivative",
            "The solid line is f(t) = t sin t, the dashed line its derivative worked out by hand, "
            "f'(t) = sin t + t cos t; the markers are what backward() returned at the samples. Every marker sits on the dashed "
            "line, including where f' changes sign (the extrema of f).");
  nb.check(line_err <= 1e-6, "backward()'s derivative matches the analytic f' at every sample to 1e-6",
           "max |difference| = " + diff_str(line_err) + " over " + std::to_string(samples) + " samples");
  nb.result("derivative_max_abs_diff", line_err);
}

// ---- 8. Learning: the same few lines every training loop runs -------------------------------------

void a_tiny_model_learns(demo::Notebook& nb) {
  const int steps = 150;
  nb.markdown(
      "## 8. Learning: the same few lines every training loop runs\n\n"
      "Fit w in y = X w (X: 64 x 3, true w = [2, -1, 0.5]) by gradient descent on the mean squared "
      "error, " + std::to_string(steps) + " steps of size 0.1, float32. Forward (records the graph), "
      "zero_grad, backward (fills w.grad()), then the update — done under a `NoGradGuard` so that "
      "it is not recorded itself:");
  nb.code(
      "Tensor loss = mean(square(matmul(X, w) - Y));   // forward: records the graph\n"
      "w.zero_grad();\n"
      "loss.backward();                                // backward: fills w.grad()\n"
      "{\n"
      "  NoGradGuard no_grad;                          // the step is not recorded\n"
      "  float* pw = w.data<float>();\n"
      "  const float* g = w.grad().data<float>();\n"
      "  for (int i = 0; i < 3; ++i) pw[i] -= 0.1f * g[i];   // w <- w - lr dL/dw\n"
      "  increment_version(w);                         // a write through data<T>(): say so (section 6)\n"
      "}");
  const Tensor X = randn({64, 3});
  const Tensor w_true = tensor({2.0, -1.0, 0.5}).reshape({3, 1});
  const Tensor Y = matmul(X, w_true);
  Tensor wf = zeros({3, 1}).requires_grad_();
  plot::Series curve{"mean squared error", {}, {}};
  for (int step = 0; step <= steps; ++step) {
    Tensor loss = mean(square(matmul(X, wf) - Y));
    wf.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;
      float* pw = wf.data<float>();
      const float* g = wf.grad().data<float>();
      for (int i = 0; i < 3; ++i) pw[i] -= 0.1f * g[i];
      increment_version(wf);
    }
    curve.x.push_back(step);
    curve.y.push_back(std::max(loss.item(), 1e-16));
  }
  const auto learned = wf.to_vector<float>();
  const double w_err = std::max({std::fabs(learned[0] - 2.0), std::fabs(learned[1] + 1.0), std::fabs(learned[2] - 0.5)});
  nb.output("loss at step 0: " + fmt(curve.y.front(), 4) + ", at step " + std::to_string(steps) + ": " +
            fmt(curve.y.back(), 4) + "\nlearned w = [" + fmt(learned[0], 4) + ", " + fmt(learned[1], 4) + ", " +
            fmt(learned[2], 4) + "]   (true: 2, -1, 0.5)");
  plot::lines(nb.figure_path("fit_loss"), {curve},
              plot::axes("Gradient descent on y = X w", "step", "mean squared error").with_log_y());
  nb.figure("fit_loss",
            "The loss on a log scale falls along a straight line: for a quadratic loss each step "
            "shrinks the error by a constant factor (set by the step size and the spread of X's "
            "singular values), until float32 rounding stops it near 1e-13 and the curve goes flat.");
  nb.check(w_err < 1e-3, "gradient descent with backward()'s gradients recovers the true w to 1e-3",
           "max |learned - true| = " + fmt(w_err, 2));
  nb.result("fit_final_loss", curve.y.back());
}

// ---- 9. gradcheck: every VJP against finite differences -------------------------------------------

void gradcheck_every_vjp(demo::Notebook& nb) {
  nb.markdown(
      "## 9. gradcheck: every VJP against finite differences\n\n"
      "The hand derivation of section 2 does not scale to a real model. `gradcheck` "
      "(core/gradcheck.h) does the same comparison mechanically: it differentiates "
      "L = sum(w_up * f(inputs)) with a fixed random upstream weight w_up, once by backward() "
      "and once by central differences (L(x + h e_i) - L(x - h e_i)) / 2h for every input element, "
      "in float64, with PyTorch's tolerances (h = 1e-6, atol 1e-5, rtol 1e-3). Two functions: the "
      "neuron of section 2, and a log-softmax over a matrix product (a classifier's last layer).");
  const auto f64 = DType::Float64;
  const GradcheckResult g1 = gradcheck(
      [](const std::vector<Tensor>& in) { return tanh(sum(in[0] * in[1]) + in[2]); },
      {randn({3}, f64), randn({3}, f64), randn({}, f64)});
  const GradcheckResult g2 = gradcheck(
      [](const std::vector<Tensor>& in) { return log_softmax(matmul(in[0], in[1]), 1); },
      {randn({4, 3}, f64), randn({3, 5}, f64)});
  nb.output("tanh(w . x + b):            " + g1.report + "\nlog_softmax(A B, axis 1):   " + g2.report);
  nb.check(g1.ok && g2.ok, "gradcheck passes for the neuron and for log_softmax(matmul)",
           std::to_string(g1.checked + g2.checked) + " elements compared");
}

}  // namespace

int main(int argc, char** argv) {
  demo::Notebook nb("02", "Autograd by hand");
  if (auto code = nb.parse(argc, argv)) return *code;

  Neuron neuron = a_graph_is_recorded(nb);
  the_graph_drawn(nb, neuron);
  the_chain_rule_by_hand(nb, neuron);
  an_input_used_twice(nb);
  leaves_accumulate_until_zero_grad(nb);
  backward_frees_the_graph(nb, neuron);
  retain_graph(nb, neuron);
  a_saved_tensor_changed_in_place(nb);
  the_two_fixes(nb);
  a_derivative_along_a_line(nb);
  a_tiny_model_learns(nb);
  gradcheck_every_vjp(nb);
  return nb.finish();
}
