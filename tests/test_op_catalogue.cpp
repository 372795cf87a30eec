// tests/test_op_catalogue.cpp — ONE catalogue of every differentiable op, and the float64
// central-difference gradient check it drives (the way minitorch's test catalogue drives its
// checks). Each entry: the op's name as declared in ops/*.h, how to draw inputs where the op is
// smooth (away from kinks and ties), and the function. gradcheck (core/gradcheck.h) compares the
// VJP with central differences under a random upstream weight. A last test reads ops/*.h and fails
// when an op is declared there but missing here, so a new op cannot skip its check.
//   ctest --test-dir build -R OpCatalogue          (or -R 'OpCatalogue.*softmax')
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "ops/broadcast.h"
#include "ops/conv.h"
#include "ops/distances.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/pooling.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/softmax.h"

using namespace chalk;
namespace fs = std::filesystem;

namespace {

// Values in [lo, hi), float64, from a generator of the test's own (reproducible).
Tensor uniform(const Shape& s, double lo, double hi, Generator& g) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  std::vector<double> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = lo + (hi - lo) * g.uniform();
  return from_vector(v, s);
}
// Values with |x| in [0.2, 2): away from the kink at 0 of relu, abs, ...
Tensor away_from_zero(const Shape& s, Generator& g) {
  Tensor t = uniform(s, 0.2, 2.0, g);
  double* p = t.data<double>();
  for (std::int64_t i = 0; i < t.numel(); ++i)
    if (g.uniform() < 0.5) p[i] = -p[i];
  return t;
}
// Distinct values spaced 0.1 apart in random order: no ties for max, min and pooling.
Tensor distinct(const Shape& s, Generator& g) {
  Tensor t = uniform(s, 0, 1, g);
  double* p = t.data<double>();
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.1 * static_cast<double>(i) - 1.0;
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<std::size_t>(g.uniform() * i)]);
  for (std::size_t i = 0; i < v.size(); ++i) p[i] = v[i];
  return t;
}

struct Entry {
  std::string op;                                          // as declared in ops/*.h
  std::string variant;                                     // which form / shapes
  std::function<std::vector<Tensor>(Generator&)> inputs;   // float64 inputs where the op is smooth
  TensorFn f;
};

using V = std::vector<Tensor>;

std::vector<Entry> catalogue() {
  auto one = [](auto op) { return [op](const V& in) { return op(in[0]); }; };
  auto two = [](auto op) { return [op](const V& in) { return op(in[0], in[1]); }; };
  auto normal = [](Shape s) { return [s](Generator& g) { return V{uniform(s, -2, 2, g)}; }; };
  auto positive = [](Shape s) { return [s](Generator& g) { return V{uniform(s, 0.5, 2, g)}; }; };
  auto kinked = [](Shape s) { return [s](Generator& g) { return V{away_from_zero(s, g)}; }; };
  auto ties_free = [](Shape s) { return [s](Generator& g) { return V{distinct(s, g)}; }; };
  auto pair = [](Shape a, Shape b) { return [a, b](Generator& g) { return V{uniform(a, -2, 2, g), uniform(b, -2, 2, g)}; }; };
  const Tensor index = from_vector(std::vector<std::int64_t>{2, 0, 2, 1}, {4});
  const Tensor gather_index = from_vector(std::vector<std::int64_t>{0, 2, 1, 1, 0, 0}, {3, 2});
  return {
      // ---- element-wise (ops/elementwise.h): binary ones also under broadcasting
      {"add", "[3,1] + [1,4]", pair({3, 1}, {1, 4}), two([](const Tensor& a, const Tensor& b) { return add(a, b); })},
      {"add", "scalar", normal({2, 3}), one([](const Tensor& a) { return add(a, 1.5); })},
      {"sub", "[2,3] - [3]", pair({2, 3}, {3}), two([](const Tensor& a, const Tensor& b) { return sub(a, b); })},
      {"rsub", "2 - x", normal({5}), one([](const Tensor& a) { return rsub(2.0, a); })},
      {"mul", "[2,3] * [2,1]", pair({2, 3}, {2, 1}), two([](const Tensor& a, const Tensor& b) { return mul(a, b); })},
      {"mul", "one tensor twice", normal({4}), [](const V& in) { return mul(in[0], in[0]); }},
      {"mul", "scalar", normal({4}), one([](const Tensor& a) { return mul(a, -0.7); })},
      {"div", "[3,2] / [2]", [](Generator& g) { return V{uniform({3, 2}, -2, 2, g), uniform({2}, 0.5, 2, g)}; },
       two([](const Tensor& a, const Tensor& b) { return div(a, b); })},
      {"rdiv", "3 / x", positive({4}), one([](const Tensor& a) { return rdiv(3.0, a); })},
      {"neg", "", normal({4}), one([](const Tensor& a) { return neg(a); })},
      {"exp", "", normal({4}), one([](const Tensor& a) { return exp(a); })},
      {"log", "", positive({4}), one([](const Tensor& a) { return log(a); })},
      {"sqrt", "", positive({4}), one([](const Tensor& a) { return sqrt(a); })},
      {"pow", "x^2.5", positive({4}), one([](const Tensor& a) { return pow(a, 2.5); })},
      {"pow", "x^-1", positive({4}), one([](const Tensor& a) { return pow(a, -1.0); })},
      {"square", "", normal({4}), one([](const Tensor& a) { return square(a); })},
      {"abs", "", kinked({6}), one([](const Tensor& a) { return abs(a); })},
      {"relu", "", kinked({6}), one([](const Tensor& a) { return relu(a); })},
      {"sigmoid", "", normal({5}), one([](const Tensor& a) { return sigmoid(a); })},
      {"tanh", "", normal({5}), one([](const Tensor& a) { return tanh(a); })},
      {"softplus", "", normal({5}), one([](const Tensor& a) { return softplus(a); })},
      {"cos", "", normal({5}), one([](const Tensor& a) { return cos(a); })},
      {"sin", "", normal({5}), one([](const Tensor& a) { return sin(a); })},
      {"acos", "", [](Generator& g) { return V{uniform({5}, -0.9, 0.9, g)}; }, one([](const Tensor& a) { return acos(a); })},
      {"clamp", "inside and outside [-1, 1]", kinked({8}), one([](const Tensor& a) { return clamp(a, -1.0, 1.0); })},
      {"clamp_min", "", kinked({8}), one([](const Tensor& a) { return clamp_min(a, 0.0); })},
      {"where", "cond [3,1], a [3,4], b [4]", pair({3, 4}, {4}),
       [](const V& in) { return where(from_vector(std::vector<double>{1, 0, 1}, {3, 1}), in[0], in[1]); }},
      // ---- broadcasting (ops/broadcast.h)
      {"broadcast_to", "[3,1] -> [2,3,4]", normal({3, 1}), one([](const Tensor& a) { return broadcast_to(a, {2, 3, 4}); })},
      {"sum_to", "[2,3,4] -> [3,1]", normal({2, 3, 4}), one([](const Tensor& a) { return sum_to(a, {3, 1}); })},
      // ---- reductions (ops/reduce.h)
      {"sum", "all", normal({3, 4}), one([](const Tensor& a) { return sum(a); })},
      {"sum", "axis 1", normal({3, 4, 2}), one([](const Tensor& a) { return sum(a, 1); })},
      {"mean", "all", normal({3, 4}), one([](const Tensor& a) { return mean(a); })},
      {"mean", "axis 0 keepdim", normal({3, 4}), one([](const Tensor& a) { return mean(a, 0, true); })},
      {"max", "all", ties_free({3, 4}), one([](const Tensor& a) { return max(a); })},
      {"max", "axis 1", ties_free({3, 4}), one([](const Tensor& a) { return max(a, 1); })},
      {"min", "all", ties_free({3, 4}), one([](const Tensor& a) { return min(a); })},
      {"min", "axis 0", ties_free({3, 4}), one([](const Tensor& a) { return min(a, 0); })},
      {"logsumexp", "axis 1", normal({3, 5}), one([](const Tensor& a) { return logsumexp(a, 1); })},
      // ---- linear algebra (ops/linalg.h)
      {"matmul", "[3,4] @ [4,2]", pair({3, 4}, {4, 2}), two([](const Tensor& a, const Tensor& b) { return matmul(a, b); })},
      {"matmul", "a^T @ b^T", pair({4, 3}, {2, 4}),
       two([](const Tensor& a, const Tensor& b) { return matmul(a, b, true, true); })},
      {"linear", "x W^T + b", [](Generator& g) { return V{uniform({3, 4}, -2, 2, g), uniform({2, 4}, -2, 2, g), uniform({2}, -2, 2, g)}; },
       [](const V& in) { return linear(in[0], in[1], in[2]); }},
      // ---- shapes (ops/shape_ops.h)
      {"transpose", "", normal({2, 3, 4}), one([](const Tensor& a) { return transpose(a, 0, 2); })},
      {"permute", "", normal({2, 3, 4}), one([](const Tensor& a) { return permute(a, {1, 2, 0}); })},
      {"slice", "axis 1 [1, 3)", normal({2, 4}), one([](const Tensor& a) { return slice(a, 1, 1, 3); })},
      {"index_select", "repeats", normal({3, 2}), one([index](const Tensor& a) { return index_select(a, 0, index); })},
      {"gather", "axis 1", normal({3, 3}), one([gather_index](const Tensor& a) { return gather(a, 1, gather_index); })},
      {"cat", "axis 0", pair({2, 3}, {1, 3}), [](const V& in) { return cat({in[0], in[1]}, 0); }},
      {"stack", "axis 1", pair({2, 3}, {2, 3}), [](const V& in) { return stack({in[0], in[1]}, 1); }},
      {"flatten", "", normal({2, 3, 2}), one([](const Tensor& a) { return flatten(a, 1); })},
      // ---- softmax (ops/softmax.h)
      {"softmax", "axis -1", normal({3, 4}), one([](const Tensor& a) { return softmax(a, -1); })},
      {"softmax", "axis 0", normal({3, 4}), one([](const Tensor& a) { return softmax(a, 0); })},
      {"log_softmax", "axis -1", normal({3, 4}), one([](const Tensor& a) { return log_softmax(a, -1); })},
      // ---- distances (ops/distances.h)
      {"l2_norm", "axis 1", normal({3, 4}), one([](const Tensor& a) { return l2_norm(a, 1); })},
      {"normalize", "axis 1", normal({3, 4}), one([](const Tensor& a) { return normalize(a, 1); })},
      {"pairwise_squared_distances", "", pair({3, 4}, {2, 4}),
       two([](const Tensor& a, const Tensor& b) { return pairwise_squared_distances(a, b); })},
      {"pairwise_distances", "", pair({3, 4}, {2, 4}),
       two([](const Tensor& a, const Tensor& b) { return pairwise_distances(a, b); })},
      {"cosine_similarity_matrix", "", pair({3, 4}, {2, 4}),
       two([](const Tensor& a, const Tensor& b) { return cosine_similarity_matrix(a, b); })},
      // ---- convolution and pooling (ops/conv.h, ops/pooling.h)
      {"conv2d", "stride 1 pad 1, bias", [](Generator& g) { return V{uniform({2, 2, 5, 5}, -1, 1, g), uniform({3, 2, 3, 3}, -1, 1, g), uniform({3}, -1, 1, g)}; },
       [](const V& in) { return conv2d(in[0], in[1], in[2], 1, 1); }},
      {"conv2d", "stride 2", [](Generator& g) { return V{uniform({1, 1, 6, 6}, -1, 1, g), uniform({2, 1, 3, 3}, -1, 1, g)}; },
       [](const V& in) { return conv2d(in[0], in[1], Tensor(), 2, 0); }},
      {"conv2d_naive", "stride 1 pad 1, bias", [](Generator& g) { return V{uniform({2, 2, 5, 5}, -1, 1, g), uniform({3, 2, 3, 3}, -1, 1, g), uniform({3}, -1, 1, g)}; },
       [](const V& in) { return conv2d_naive(in[0], in[1], in[2], 1, 1); }},
      {"max_pool2d", "2x2/2", ties_free({2, 2, 4, 4}), one([](const Tensor& a) { return max_pool2d(a, 2, 2); })},
      {"max_pool2d", "3x3/1", ties_free({1, 2, 5, 5}), one([](const Tensor& a) { return max_pool2d(a, 3, 1); })},
      {"max_pool2d_naive", "2x2/2", ties_free({2, 2, 4, 4}), one([](const Tensor& a) { return max_pool2d_naive(a, 2, 2); })},
      {"relu_max_pool2d", "2x2/2", ties_free({2, 2, 4, 4}), one([](const Tensor& a) { return relu_max_pool2d(a, 2, 2); })},
      {"dropout", "p = 0.5, one fixed mask", normal({3, 4}),
       one([](const Tensor& a) {
         Generator g(7);  // the same mask at every evaluation: dropout is then linear
         return dropout(a, 0.5, true, g);
       })},
  };
}

// Ops with no gradient (their outputs are indices, masks or codes): each must give an output
// that does not require a gradient, so no graph is recorded through it.
const std::set<std::string> kNotDifferentiable = {"argmax", "argmin", "gt", "lt", "eq", "one_hot"};

}  // namespace

class OpCatalogue : public testing::TestWithParam<Entry> {};

TEST_P(OpCatalogue, GradcheckFloat64) {
  const Entry& e = GetParam();
  Generator g(20261129);
  const std::vector<Tensor> in = e.inputs(g);
  const GradcheckResult r = gradcheck(e.f, in);
  EXPECT_TRUE(r.ok) << e.op << " (" << e.variant << "): " << r.report;
  EXPECT_GT(r.checked, 0) << e.op << ": compared nothing";
}

// What a VJP reads is what record() was told it saves (core/autograd.h: Saved). Write each
// input, then the output, in place after the forward (as an optimizer step would): backward()
// must either refuse with the version error, or give exactly the gradient of the values the
// forward saw. An op whose Saved leaves out a tensor its VJP reads fails here (its gradient
// comes out of the new values, silently), and so does a new op that gets it wrong.
TEST_P(OpCatalogue, AnInPlaceWriteAfterTheForwardIsRefusedOrChangesNothing) {
  const Entry& e = GetParam();
  Generator g(20261129);
  const std::vector<Tensor> in = e.inputs(g);
  auto leaves = [&] {
    std::vector<Tensor> x;
    for (const Tensor& t : in) x.push_back(t.detach().clone().requires_grad_());
    return x;
  };
  std::vector<Tensor> x0 = leaves();
  const Tensor y0 = e.f(x0);
  const Tensor upstream = uniform(y0.shape(), -1, 1, g);
  y0.backward(upstream);
  int refused = 0;
  for (std::size_t target = 0; target <= in.size(); ++target) {  // each input, then the output
    std::vector<Tensor> x = leaves();
    Tensor y = e.f(x);
    Tensor t = target < in.size() ? x[target] : y;
    double* p = t.data<double>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] * 1.5 + 0.25;
    increment_version(t);
    const std::string what = e.op + " (" + e.variant + "), " +
                             (target < in.size() ? "input " + std::to_string(target) : std::string("output"));
    try {
      y.backward(upstream);
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find("modified in place"), std::string::npos) << what << ": " << err.what();
      ++refused;
      continue;
    }
    for (std::size_t k = 0; k < in.size(); ++k) {
      ASSERT_EQ(x[k].grad().defined(), x0[k].grad().defined()) << what;
      if (x[k].grad().defined()) {
        EXPECT_EQ(x[k].grad().to_vector<double>(), x0[k].grad().to_vector<double>())
            << what << " was written after the forward and backward() used the new values for input " << k;
      }
    }
  }
  RecordProperty("refused", refused);
}

INSTANTIATE_TEST_SUITE_P(Ops, OpCatalogue, testing::ValuesIn(catalogue()), [](const auto& info) {
  std::string name = info.param.op + "_" + std::to_string(info.index);
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

TEST(OpCatalogueCoverage, EveryDeclaredOpIsInTheCatalogue) {
  std::set<std::string> covered = kNotDifferentiable;
  for (const Entry& e : catalogue()) covered.insert(e.op);
  const fs::path ops = fs::path(CHALK_TEST_DIR).parent_path() / "ops";
  const std::regex decl(R"(^Tensor ([a-z_0-9]+)\()");
  int declared = 0;
  for (const auto& entry : fs::directory_iterator(ops)) {
    if (entry.path().extension() != ".h" || entry.path().filename() == "kernels.h") continue;  // kernels: not ops
    std::ifstream f(entry.path());
    for (std::string line; std::getline(f, line);) {
      std::smatch m;
      if (!std::regex_search(line, m, decl)) continue;
      ++declared;
      EXPECT_TRUE(covered.count(m[1])) << m[1] << " (" << entry.path().filename().string()
                                        << ") is declared but has no entry in the op catalogue";
    }
  }
  EXPECT_GT(declared, 40);
}

TEST(OpCatalogueCoverage, NonDifferentiableOpsRecordNoGraph) {
  Tensor x = randn({3, 4}, DType::Float64).requires_grad_();
  for (const Tensor& y : {argmax(x, 1), argmin(x, 0), gt(x, 0.0), lt(x, 0.0), eq(x, x),
                          one_hot(from_vector(std::vector<std::int64_t>{0, 2}, {2}), 3)})
    EXPECT_FALSE(y.requires_grad());
}
