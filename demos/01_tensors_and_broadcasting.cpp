// demos/01_tensors_and_broadcasting.cpp — shapes, row-major memory, broadcasting, and why the
// backward of a broadcast is a sum. Read top to bottom like a notebook.
//
//   build/demo_01_tensors_and_broadcasting [--quick] [--out DIR] [--seed N]
//
// 1. a tensor is a shape plus one flat block of memory (row-major, no strides stored);
// 2. element [i][j][k] sits at i*s0 + j*s1 + k*s2 with s = contiguous_strides(shape);
// 3. broadcasting: align trailing axes, size-1 axes stretch — and chalk's error when they don't;
// 4. the backward of a broadcast is a sum over the stretched axes (ops/elementwise.cpp, add's
//    VJP calls sum_to, ops/broadcast.cpp), shown on numbers and checked exactly.
// The derivation in full: docs/broadcasting.md.
//
// Everything here is instantaneous; --quick changes nothing but is accepted (the test suite
// runs every demo with --quick).
#include <chalk.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "demos/notebook.h"
#include "plot/plot.h"

using namespace chalk;
using chalk::demo::fmt;
using chalk::demo::Table;

namespace {

// Shapes written one axis per column, right-aligned, the way broadcasting lines them up:
//   a        8  1  6  1
//   b           7  1  5
//   a + b    8  7  6  5
std::string aligned(const std::vector<std::pair<std::string, Shape>>& rows) {
  std::size_t width = 0, label = 0;
  for (const auto& [name, s] : rows) {
    width = std::max(width, s.size());
    label = std::max(label, name.size());
  }
  std::ostringstream os;
  for (const auto& [name, s] : rows) {
    os << name << std::string(label - name.size() + 2, ' ');
    os << std::string(4 * (width - s.size()), ' ');
    for (auto d : s) {
      const std::string v = std::to_string(d);
      os << std::string(4 - std::min<std::size_t>(4, v.size()), ' ') << v;
    }
    if (s.empty()) os << "  (a scalar: shape [])";
    os << "\n";
  }
  std::string out = os.str();
  out.pop_back();
  return out;
}

std::string join(const std::vector<double>& v, int digits) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt(v[i], digits);
  return s;
}

// One term of a written-out sum: "-1.25", then " + 0.75", " - 0.50", ...
std::string signed_term(double v, bool first) {
  if (first) return fmt(v, 2);
  return (v < 0 ? " - " : " + ") + fmt(std::fabs(v), 2);
}

// One figure of section 4's 3 x 4 broadcast y = a + b: the 12 `cells` as a matrix, each row
// labelled "a[i]<sep><row_values[i]>" and each column "b[j]<sep><col_values[j]>", with `digits`
// decimals; written to the report with its caption.
void broadcast_figure(demo::Notebook& nb, const std::string& name, const std::vector<double>& cells,
                      const std::vector<double>& row_values, const std::vector<double>& col_values,
                      const std::string& sep, int digits, const plot::Axes& ax, const std::string& caption) {
  std::vector<std::string> rows, cols;
  for (int i = 0; i < 3; ++i) rows.push_back("a[" + std::to_string(i) + "]" + sep + fmt(row_values[i], digits));
  for (int j = 0; j < 4; ++j) cols.push_back("b[" + std::to_string(j) + "]" + sep + fmt(col_values[j], digits));
  plot::matrix(nb.figure_path(name), cells, 3, 4, ax, rows, cols);
  nb.figure(name, caption);
}

// The table of section 4: each entry of a.grad() [3, 1] and b.grad() [1, 4] against the row and
// column sums of W, written out; and the check. Returns the entries that agree bit for bit.
int gradients_against_hand_sums(demo::Notebook& nb, const Tensor& W, const Tensor& ga, const Tensor& gb) {
  std::vector<double> row_sum(3, 0.0), col_sum(4, 0.0);  // by hand, in plain loops
  for (std::int64_t i = 0; i < 3; ++i)
    for (std::int64_t j = 0; j < 4; ++j) {
      row_sum[i] += W.at({i, j});
      col_sum[j] += W.at({i, j});
    }
  Table gt{{"input", "hand sum of W", "from backward()", "equal"}, {}};
  int exact = 0;
  for (std::int64_t i = 0; i < 3; ++i) {
    std::string terms;
    for (std::int64_t j = 0; j < 4; ++j) terms += signed_term(W.at({i, j}), j == 0);
    const bool eq = ga.at({i, 0}) == row_sum[i];
    exact += eq;
    gt.row({"a[" + std::to_string(i) + "]", terms + " = " + fmt(row_sum[i], 2), fmt(ga.at({i, 0}), 2), eq ? "yes" : "NO"});
  }
  for (std::int64_t j = 0; j < 4; ++j) {
    std::string terms;
    for (std::int64_t i = 0; i < 3; ++i) terms += signed_term(W.at({i, j}), i == 0);
    const bool eq = gb.at({0, j}) == col_sum[j];
    exact += eq;
    gt.row({"b[" + std::to_string(j) + "]", terms + " = " + fmt(col_sum[j], 2), fmt(gb.at({0, j}), 2), eq ? "yes" : "NO"});
  }
  nb.table(gt);
  nb.check(exact == 7, "backward()'s gradients of a [3, 1] + [1, 4] add equal the row and column sums of W exactly",
           std::to_string(exact) + "/7 entries bit-identical");
  return exact;
}

// ---- 1. A tensor is a shape plus one flat block of memory -----------------------------------------

// The [2, 3, 4] tensor whose element [i][j][k] holds 100 i + 10 j + k.
Tensor a_shape_plus_flat_memory(demo::Notebook& nb) {
  nb.markdown(
      "## 1. A tensor is a shape plus one flat block of memory\n\n"
      "A chalk `Tensor` holds a shape (`std::vector<int64_t>`), a dtype, and a pointer to one "
      "contiguous block of numbers. It stores **no strides**: chalk tensors are always "
      "contiguous and row-major (the last axis varies fastest), so the strides follow from the "
      "shape alone (`contiguous_strides`, core/shape.h). PyTorch tensors carry their own strides "
      "so that `transpose` can be a view; chalk trades that for simpler kernels: every op that "
      "moves data (`transpose`, `permute`, `slice`) returns a fresh contiguous copy, and only "
      "`reshape` shares memory.\n\n"
      "To see the layout, fill a [2, 3, 4] tensor whose element `[i][j][k]` holds the number "
      "100 i + 10 j + k, writing the values into memory in row-major order (k fastest):");
  nb.code(
      "std::vector<float> v;\n"
      "for (int i = 0; i < 2; ++i) for (int j = 0; j < 3; ++j) for (int k = 0; k < 4; ++k)\n"
      "  v.push_back(100 * i + 10 * j + k);\n"
      "Tensor x = from_vector(v, {2, 3, 4});");
  std::vector<float> v;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) v.push_back(static_cast<float>(100 * i + 10 * j + k));
  const Tensor x = from_vector(v, {2, 3, 4});
  std::ostringstream os;
  os << "x                = " << x << "\n";
  os << "x.shape()        = " << shape_str(x.shape()) << "   x.dim() = " << x.dim()
     << "   x.numel() = " << x.numel() << "   x.size(-1) = " << x.size(-1) << "\n";
  os << "contiguous_strides(x.shape()) = " << shape_str(contiguous_strides(x.shape())) << "   (elements, not bytes)\n";
  os << "memory, in order:  ";
  const float* p = x.data<float>();
  for (std::int64_t f = 0; f < x.numel(); ++f) os << (f ? " " : "") << p[f];
  nb.output(os.str());
  return x;
}

// ---- 2. Where element [i][j][k] lives -------------------------------------------------------------

// The stride formula on five elements and checked on all 24; returns the elements not found there.
int where_element_ijk_lives(demo::Notebook& nb, const Tensor& x) {
  nb.markdown(
      "## 2. Where element [i][j][k] lives\n\n"
      "With strides `s = [s0, s1, s2] = [3*4, 4, 1] = [12, 4, 1]`, element `[i][j][k]` is at flat "
      "index `i*s0 + j*s1 + k*s2`. Stepping k moves 1 slot, stepping j skips a row of 4, stepping "
      "i skips a 3x4 matrix of 12. A few elements, read through `x.data<float>()[flat]`:");
  const auto strides = contiguous_strides(x.shape());
  Table layout{{"`[i][j][k]`", "flat = 12 i + 4 j + k", "`x.data<float>()[flat]`", "`x.at({i, j, k})`"}, {}};
  const float* px = x.data<float>();
  for (auto [i, j, k] : std::vector<std::array<std::int64_t, 3>>{{0, 0, 1}, {0, 1, 0}, {0, 2, 3}, {1, 0, 0}, {1, 2, 3}}) {
    const std::int64_t flat = i * strides[0] + j * strides[1] + k * strides[2];
    layout.row({"`[" + std::to_string(i) + "][" + std::to_string(j) + "][" + std::to_string(k) + "]`",
                "`" + std::to_string(i) + "*12 + " + std::to_string(j) + "*4 + " + std::to_string(k) + " = " +
                    std::to_string(flat) + "`",
                fmt(px[flat], 0), fmt(x.at({i, j, k}), 0)});
  }
  nb.table(layout);
  // Every element, not just the five above: the value written at [i][j][k] is found at the
  // stride formula's offset.
  int layout_mismatches = 0;
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j)
      for (std::int64_t k = 0; k < 4; ++k)
        if (px[i * strides[0] + j * strides[1] + k * strides[2]] != static_cast<float>(100 * i + 10 * j + k))
          ++layout_mismatches;
  nb.check(layout_mismatches == 0 && strides == std::vector<std::int64_t>{12, 4, 1},
           "element [i][j][k] of a [2, 3, 4] tensor is at flat index 12 i + 4 j + k",
           std::to_string(24 - layout_mismatches) + " of 24 elements found there");
  return layout_mismatches;
}

// reshape shares memory; transpose copies.
void reshape_shares_transpose_copies(demo::Notebook& nb, const Tensor& x) {
  const Tensor r = x.reshape({6, 4});
  const Tensor t = transpose(x, 0, 2);  // [4, 3, 2]: t[k][j][i] = x[i][j][k]
  std::ostringstream os;
  os << "r = x.reshape({6, 4}): shape " << shape_str(r.shape()) << ", same memory as x: "
     << (r.data<float>() == x.data<float>() ? "yes" : "no") << "\n";
  os << "t = transpose(x, 0, 2): shape " << shape_str(t.shape()) << ", same memory as x: "
     << (t.data<float>() == x.data<float>() ? "yes" : "no") << "; t[3][2][1] = " << t.at({3, 2, 1}) << "\n";
  os << "t's memory, in order:  ";
  const float* pt = t.data<float>();
  for (std::int64_t f = 0; f < t.numel(); ++f) os << (f ? " " : "") << pt[f];
  nb.output(os.str());
  nb.markdown(
      "`reshape` only reinterprets the same block (a [6, 4] read of the same 24 numbers), so it "
      "is free. `transpose` has to rearrange the numbers: t's memory now runs along x's first "
      "axis fastest (0 100 10 110 ...), and element t[3][2][1] holds x[1][2][3] = 123.");
}

// ---- 3. Broadcasting: align trailing axes, stretch the 1s -----------------------------------------

// Five shape pairs really added; returns how many broadcast to the predicted shape.
int broadcasting(demo::Notebook& nb) {
  nb.markdown(
      "## 3. Broadcasting: align trailing axes, stretch the 1s\n\n"
      "A binary op (`add`, `sub`, `mul`, `div`, `where`, ...) on two shapes follows NumPy's rule "
      "(`broadcast_shapes`, core/shape.h): write the shapes right-aligned; a missing axis counts "
      "as 1; on each axis the two sizes must be equal or one of them 1, and the result takes the "
      "larger. A size-1 axis is *stretched*: its single value is reused along that axis (no copy "
      "is made; the kernel just steps by 0 there, ops/kernels.h `map2`). Each pair below is "
      "really added with `zeros(a) + zeros(b)`, and the result's shape printed:");
  struct Pair { Shape a, b, expected; };
  const std::vector<Pair> pairs = {{{3, 1}, {1, 4}, {3, 4}},
                                   {{2, 3, 4}, {4}, {2, 3, 4}},
                                   {{5, 1, 4}, {3, 1}, {5, 3, 4}},
                                   {{}, {2, 3}, {2, 3}},
                                   {{8, 1, 6, 1}, {7, 1, 5}, {8, 7, 6, 5}}};
  Table bt{{"a", "b", "(a + b).shape()", "expected"}, {}};
  int pairs_ok = 0;
  for (const auto& p : pairs) {
    const Tensor s = zeros(p.a) + zeros(p.b);
    pairs_ok += s.shape() == p.expected ? 1 : 0;
    bt.row({shape_str(p.a), shape_str(p.b), shape_str(s.shape()), shape_str(p.expected)});
  }
  nb.table(bt);
  nb.markdown("The last pair, lined up the way the rule reads it:");
  nb.output(aligned({{"a", {8, 1, 6, 1}}, {"b", {7, 1, 5}}, {"a + b", {8, 7, 6, 5}}}));
  nb.check(pairs_ok == static_cast<int>(pairs.size()), "every pair above broadcasts to the shape the rule predicts",
           std::to_string(pairs_ok) + "/" + std::to_string(pairs.size()));
  return pairs_ok;
}

// [3, 4] + [3]: the error chalk throws, and the fix.
void the_classic_mistake(demo::Notebook& nb) {
  nb.markdown(
      "The classic mistake: adding a per-row vector of 3 values to a [3, 4] matrix. Aligned "
      "from the right, the 3 meets the 4 — not the 3 you meant:");
  nb.output(aligned({{"M", {3, 4}}, {"v", {3}}}));
  std::string error_message;
  bool threw = false;
  try {
    const Tensor bad = zeros({3, 4}) + zeros({3});
    (void)bad;
  } catch (const Error& e) {
    threw = true;
    error_message = e.what();
  }
  nb.code("try { zeros({3, 4}) + zeros({3}); } catch (const chalk::Error& e) { print(e.what()); }");
  nb.output("chalk::Error: " + (threw ? error_message : std::string("(nothing was thrown)")));
  const Tensor fixed = zeros({3, 4}) + zeros({3}).reshape({3, 1});
  nb.markdown("The fix says which axis you mean: `v.reshape({3, 1})` is a column, and [3, 4] + [3, 1] "
              "gives " + shape_str(fixed.shape()) + ".");
  nb.check(threw && error_message.find("[3, 4]") != std::string::npos && error_message.find("[3]") != std::string::npos,
           "[3, 4] + [3] throws chalk::Error naming both shapes", error_message);
}

// ---- 4. Why the backward of a broadcast is a sum --------------------------------------------------

// y = a + b with a [3, 1], b [1, 4], and L = sum(W * y) backpropagated: what the figures show.
struct BroadcastBackward {
  Tensor a, b, W, y;  // the inputs (a.grad(), b.grad() filled), the upstream gradient, the sum
  int exact = 0;      // gradient entries equal to the hand sums, bit for bit (of 7)
  double lhs = 0, rhs = 0;  // <W, B a> and <B^T W, a>
};

BroadcastBackward backward_of_a_broadcast(demo::Notebook& nb) {
  nb.markdown(
      "## 4. Why the backward of a broadcast is a sum\n\n"
      "Take a of shape [3, 1] and b of shape [1, 4]. Then y = a + b is [3, 4] with "
      "y[i][j] = a[i] + b[j]: an addition table. Each a[i] is *used four times* (once per column "
      "j) and each b[j] three times (once per row i). The chain rule adds the contributions of "
      "every use (the same rule as for a variable used twice, demo 02), so with an upstream "
      "gradient W = dL/dy:\n\n"
      "    dL/da[i] = sum_j W[i][j] * dy[i][j]/da[i] = sum_j W[i][j]     (sum over the stretched axis 1)\n"
      "    dL/db[j] = sum_i W[i][j]                                       (sum over the stretched axis 0)\n\n"
      "That is what add's VJP does in ops/elementwise.cpp: `dx.add(0, sum_to(g, sa))` (sa: a's shape); "
      "`sum_to` (ops/broadcast.cpp) sums g over every axis where the input had size 1 (or did not "
      "exist). In linear-algebra terms, broadcasting is a linear map B that copies, and the "
      "backward applies its transpose B^T, which adds the copies back up: "
      "`<W, B a> = <B^T W, a>`. The derivation in full: docs/broadcasting.md.\n\n"
      "We take L = sum(W * (a + b)) so that dL/dy = W exactly, in float64. W's entries are "
      "random multiples of 1/4 (seeded by --seed): every sum of them is exact in binary floating "
      "point, so backward() and the hand sums can be compared for exact equality.");
  BroadcastBackward r;
  r.a = from_vector(std::vector<double>{1, 2, 3}, {3, 1}).requires_grad_();
  r.b = from_vector(std::vector<double>{10, 20, 30, 40}, {1, 4}).requires_grad_();
  r.W = mul(randint(-8, 9, {3, 4}).to(DType::Float64), 0.25);  // multiples of 1/4 in [-2, 2]
  r.y = r.a + r.b;
  sum(r.W * r.y).backward();
  const Tensor ga = r.a.grad(), gb = r.b.grad();
  nb.output("a        = " + to_string(r.a) + "\nb        = " + to_string(r.b) + "\ny = a + b = " + to_string(r.y) +
            "\nW = dL/dy = " + to_string(r.W) + "\n\nafter L.backward():\na.grad() = " + to_string(ga) +
            "\nb.grad() = " + to_string(gb));
  r.exact = gradients_against_hand_sums(nb, r.W, ga, gb);
  // The same sums through sum_to, and the adjoint identity <W, B a> = <B^T W, a>.
  const Tensor st_a = sum_to(r.W, {3, 1});
  const Tensor st_b = sum_to(r.W, {1, 4});
  r.lhs = sum(r.W * broadcast_to(r.a.detach(), {3, 4})).item();
  r.rhs = sum(st_a * r.a.detach()).item();
  nb.output("sum_to(W, {3, 1}) = " + to_string(st_a) + "\nsum_to(W, {1, 4}) = " + to_string(st_b) +
            "\n<W, broadcast_to(a, {3, 4})> = " + fmt(r.lhs, 4) + "   <sum_to(W, {3, 1}), a> = " + fmt(r.rhs, 4));
  nb.markdown(
      "`sum_to` is the function add's VJP calls, and it gives the same numbers; the two inner "
      "products agree because summing is the transpose of copying.");
  return r;
}

// A missing leading axis is summed away too: [2, 3, 4] + [4].
void a_missing_leading_axis(demo::Notebook& nb) {
  nb.markdown(
      "A missing leading axis is a stretched axis as well. For u of shape [2, 3, 4] plus a bias "
      "c of shape [4] (how a layer adds its bias to a batch), c[k] is used 2 x 3 = 6 times, so "
      "`dL/dc[k] = sum over i, j of W2[i][j][k]`:");
  const Tensor u = randn({2, 3, 4}, DType::Float64).requires_grad_();
  const Tensor c = randn({4}, DType::Float64).requires_grad_();
  const Tensor W2 = mul(randint(-8, 9, {2, 3, 4}).to(DType::Float64), 0.25);
  sum(W2 * (u + c)).backward();
  std::vector<double> c_hand(4, 0.0);
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j)
      for (std::int64_t k = 0; k < 4; ++k) c_hand[k] += W2.at({i, j, k});
  const auto gc = c.grad().to_vector<double>();
  nb.output("c.grad()                     = [" + join(gc, 2) + "]\nsum over i, j of W2[i][j][k] = [" + join(c_hand, 2) +
            "]\nu.grad() == W2: " + (u.grad().to_vector<double>() == W2.to_vector<double>() ? "yes" : "no"));
  nb.check(gc == c_hand && u.grad().to_vector<double>() == W2.to_vector<double>(),
           "for [2, 3, 4] + [4], the bias's gradient is W2 summed over the two leading axes (exactly), "
           "and the unbroadcast input's gradient is W2 itself");
}

// ---- Figures ------------------------------------------------------------------------------------

void the_broadcast_figures(demo::Notebook& nb, const BroadcastBackward& r) {
  broadcast_figure(nb, "broadcast_forward", r.y.detach().to_vector<double>(), r.a.to_vector<double>(),
                   r.b.to_vector<double>(), " = ", 0,
                   plot::axes("y = a + b: a [3, 1] down the rows, b [1, 4] across", "b, stretched over the 3 rows",
                              "a, stretched over the 4 columns"),
                   "The forward: the [3, 1] column a and the [1, 4] row b are stretched to [3, 4]; cell (i, j) "
                   "is a[i] + b[j]. Each a[i] appears in a whole row and each b[j] in a whole column — which "
                   "is why their gradients are row and column sums.");
  broadcast_figure(nb, "broadcast_backward", r.W.to_vector<double>(), r.a.grad().to_vector<double>(),
                   r.b.grad().to_vector<double>(), ": ", 2,
                   plot::axes("Upstream gradient W = dL/dy in the cells", "b.grad() from backward(): the column sums of W",
                              "a.grad(): the row sums of W"),
                   "The backward: the cells are the upstream gradient W = dL/dy; the row labels give "
                   "a.grad() from backward() and the column labels b.grad(). Add up a row (or a column) of "
                   "cells and you get its label: the gradient of a broadcast input is the upstream gradient summed over "
                   "the axes it was stretched along.");
}

}  // namespace

int main(int argc, char** argv) {
  demo::Notebook nb("01", "Tensors and broadcasting");
  if (auto code = nb.parse(argc, argv)) return *code;

  const Tensor x = a_shape_plus_flat_memory(nb);
  const int layout_mismatches = where_element_ijk_lives(nb, x);
  reshape_shares_transpose_copies(nb, x);
  const int pairs_ok = broadcasting(nb);
  the_classic_mistake(nb);
  const BroadcastBackward backward = backward_of_a_broadcast(nb);
  a_missing_leading_axis(nb);
  the_broadcast_figures(nb, backward);

  nb.result("layout_mismatches", layout_mismatches);
  nb.result("broadcast_pairs_ok", pairs_ok);
  nb.result("broadcast_grad_exact_entries", backward.exact);
  nb.result("adjoint_lhs_minus_rhs", backward.lhs - backward.rhs);
  return nb.finish();
}
