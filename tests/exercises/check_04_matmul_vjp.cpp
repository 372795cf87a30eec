// tests/exercises/check_04_matmul_vjp.cpp — exercise 04's check (tests/exercises/check_04_matmul_vjp.h).
#include "tests/exercises/check_04_matmul_vjp.h"

#include <exception>
#include <optional>

#include "core/exercise.h"

namespace chalk::checker {

namespace {

// One product C = op(a) op(b): op(a) M x K, op(b) K x N.
struct Product {
  std::int64_t M, K, N;
  bool ta, tb;
  CaseKind kind;
  std::string special;  // kSpecial: what is special, in words
  bool want_a = true, want_b = true;
};

// The shape a matrix of rows x cols is stored in: cols x rows when it is passed transposed.
Shape stored(std::int64_t rows, std::int64_t cols, bool transposed) {
  return transposed ? Shape{cols, rows} : Shape{rows, cols};
}

// v (row-major, shape [r, c]) transposed: shape [c, r].
std::vector<double> transpose_values(const std::vector<double>& v, const Shape& s) {
  const auto r = static_cast<std::size_t>(s[0]), c = static_cast<std::size_t>(s[1]);
  std::vector<double> t(v.size());
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < c; ++j) t[j * r + i] = v[i * c + j];
  return t;
}

bool agrees(const std::vector<double>& yours, const std::vector<double>& truth, const Shape& shape, double atol,
            double rtol) {
  Case k;
  k.yours = yours;
  k.truth = truth;
  k.shape = shape;
  k.atol = atol;
  k.rtol = rtol;
  double factor = 0;
  std::string evidence;
  return yours.size() == truth.size() && element_pattern(k, &factor, &evidence).empty();
}

}  // namespace

Verdict check_04(const MatmulVjp& matmul_vjp) {
  Checker c(4, "matmul_vjp");
  const std::string flag_a = "a passed transposed (transpose_a: a is stored K x M)";
  const std::string flag_b = "b passed transposed (transpose_b: b is stored N x K, as linear's W)";
  const std::vector<Product> products = {
      {3, 3, 3, false, false, CaseKind::kRegular, ""},  // square
      {2, 3, 4, false, false, CaseKind::kRegular, ""},  // M, K, N all different
      {4, 2, 3, false, false, CaseKind::kRegular, ""},
      {3, 1, 4, false, false, CaseKind::kRegular, ""},  // an outer product
      {2, 3, 4, false, false, CaseKind::kRegular, "", true, false},  // only dA asked for
      {2, 3, 4, false, false, CaseKind::kRegular, "", false, true},  // only dB asked for
      {2, 3, 4, true, false, CaseKind::kSpecial, flag_a},
      {2, 3, 4, false, true, CaseKind::kSpecial, flag_b},
      {4, 2, 3, true, true, CaseKind::kSpecial, "a and b both passed transposed"},
      {3, 3, 3, true, true, CaseKind::kSpecial, "a and b both passed transposed, square"},
      {2, 0, 3, false, false, CaseKind::kSpecial, "an empty inner dimension (K = 0): both gradients are empty"},
      {0, 3, 2, false, false, CaseKind::kSpecial, "no rows (M = 0): dA is empty and dB is zero"},
      {16, 24, 8, false, false, CaseKind::kFloat32, ""},
      {8, 16, 4, false, true, CaseKind::kFloat32, ""},
  };
  const std::string not_done = not_done_message_start(4);
  bool factors_finding = false;
  std::uint64_t seed = 1;
  for (const Product& p : products) {
    const bool f32 = p.kind == CaseKind::kFloat32;
    const Shape sa = stored(p.M, p.K, p.ta), sb = stored(p.K, p.N, p.tb), sg{p.M, p.N};
    const std::string product =
        str_cat("a ", shape_str(sa), p.ta ? "^T" : "", " @ b ", shape_str(sb), p.tb ? "^T" : "",
                p.want_a && p.want_b ? "" : p.want_a ? ", only dA asked for" : ", only dB asked for");
    auto values = [&](const Shape& s, std::uint64_t stream) {
      std::vector<double> v = random_values(static_cast<std::size_t>(numel(s)), 1000 * seed + stream);
      if (f32)  // the float32 values, exactly: the truth is of the numbers the student's code sees
        for (auto& x : v) x = static_cast<double>(static_cast<float>(x));
      return v;
    };
    const std::vector<double> av = values(sa, 1), bv = values(sb, 2), gv = values(sg, 3);
    ++seed;
    // The truth: w . dC/da and w . dC/db by central differences of matmul's forward, in float64.
    const Tensor a64 = from_vector(av, sa), b64 = from_vector(bv, sb);
    const std::vector<double> truth_a = central_difference_vjp(
        [&](const std::vector<double>& v) { return values_of(matmul(from_vector(v, sa), b64, p.ta, p.tb)); }, av, gv);
    const std::vector<double> truth_b = central_difference_vjp(
        [&](const std::vector<double>& v) { return values_of(matmul(a64, from_vector(v, sb), p.ta, p.tb)); }, bv, gv);

    // Yours, once for both operands.
    const DType dt = f32 ? DType::Float32 : DType::Float64;
    std::optional<MatmulGrads> yours;
    std::exception_ptr thrown;
    try {
      yours = matmul_vjp(a64.to(dt), b64.to(dt), from_vector(gv, sg).to(dt), p.ta, p.tb, p.want_a, p.want_b);
    } catch (const std::exception& e) {
      thrown = std::current_exception();
      // A product whose factors do not fit throws, but only where M, K, N differ: on a square
      // product the same code runs and is merely wrong. Say which shapes the gradients need.
      const bool square = p.M == p.K && p.K == p.N;
      if (!square && std::string(e.what()).find(not_done) == std::string::npos) {
        if (!factors_finding)
          c.add_finding("shape",
                        str_cat("on a non-square product your code threw: ", e.what(),
                                "\n  a product's factors do not fit. Each gradient has its input's shape as stored "
                                "(here dA ", shape_str(sa), ", dB ", shape_str(sb), "), g is ", shape_str(sg),
                                ": find the product of g and the other input that has that shape (which factor is "
                                "transposed, and in which order)"),
                        str_cat("case \"", product, "\""));
        factors_finding = true;
        thrown = nullptr;  // recorded as a wrong shape below, so that the finding explains it
      }
    }

    for (const bool is_a : {true, false}) {
      if (is_a ? !p.want_a : !p.want_b) continue;
      const std::string name = str_cat(f32 ? "float32: " : "", is_a ? "dA" : "dB", " of ", product);
      const Shape& shape = is_a ? sa : sb;
      const Shape& other_shape = is_a ? sb : sa;
      const std::vector<double>& truth = is_a ? truth_a : truth_b;
      const std::vector<double>& other_truth = is_a ? truth_b : truth_a;
      const bool flagged = is_a ? p.ta : p.tb;
      c.run(name, [&] {
        if (thrown) std::rethrow_exception(thrown);
        Case k;
        k.name = name;
        k.kind = p.kind;
        k.special = p.special;
        k.shape = shape;
        k.truth = truth;
        if (f32) k.atol = k.rtol = 1e-4;
        if (!yours) {  // it threw on a non-square product: no values; the finding above says why
          k.name += " (your code threw)";
          return k;
        }
        const Tensor& y = is_a ? yours->a : yours->b;
        const char* input = is_a ? "a" : "b";
        if (!y.defined())
          fail("matmul_vjp returned no gradient for ", input, ", which was asked for (want_", input, " = true)");
        if (y.dtype() != dt)
          fail("matmul_vjp returned a ", dtype_name(y.dtype()), " gradient for ", input, " for ", dtype_name(dt),
               " inputs: keep the inputs' dtype");
        k.yours = values_of(y);
        k.yours_shape = y.shape();
        const bool right = agrees(k.yours, truth, shape, k.atol, k.rtol);
        const std::string where = str_cat("case \"", name, "\": yours has shape ", shape_str(y.shape()), ", ",
                                          input, " is stored as ", shape_str(shape));
        if (!right && y.shape() == Shape{shape[1], shape[0]} &&
            agrees(k.yours, transpose_values(truth, shape), y.shape(), k.atol, k.rtol)) {
          c.add_finding("transpose",
                        flagged ? str_cat("yours is the true gradient of ", input, " transposed: with transpose_", input,
                                          " set, ", input, " is stored as ", shape_str(shape),
                                          ", and its gradient must have the shape it is stored in, not op(", input,
                                          ")'s")
                                : str_cat("yours is the true gradient of ", input,
                                          " transposed, the gradient of ", input,
                                          "^T: the product's factors are in the wrong order (or each transposed)"),
                        where);
        } else if (!right && y.shape() == other_shape &&
                   agrees(k.yours, other_truth, other_shape, k.atol, k.rtol)) {
          c.add_finding("swapped",
                        str_cat("your gradient of ", input, " is the true gradient of ", is_a ? "b" : "a",
                                ": dA and dB are swapped"),
                        where);
        }
        return k;
      });
    }
  }
  return c.verdict();
}

namespace {
const Register registered{{4, [] { return check_04(chalk::matmul_vjp); },
                           [] {
                             return check_04([](const Tensor&, const Tensor&, const Tensor&, bool, bool, bool,
                                                bool) -> MatmulGrads { exercise_not_done(4); });
                           }}};
}  // namespace

}  // namespace chalk::checker
