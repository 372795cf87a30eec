// tests/exercises/check_01_sum_to.cpp — exercise 01's check (tests/exercises/check_01_sum_to.h).
#include "tests/exercises/check_01_sum_to.h"

#include "core/exercise.h"
#include "ops/broadcast.h"

namespace chalk::checker {

Verdict check_01(const SumTo& sum_to) {
  Checker c(1, "sum_to");
  struct Shapes {
    Shape from, to;  // g's shape (the broadcast result) and the input's shape
    CaseKind kind;
  };
  const std::vector<Shapes> cases = {
      {{2, 3}, {2, 3}, CaseKind::kRegular},         // nothing was broadcast: g itself
      {{4}, {4}, CaseKind::kRegular},
      {{2, 3}, {1, 3}, CaseKind::kBroadcast},       // a size-1 axis kept
      {{2, 3}, {2, 1}, CaseKind::kBroadcast},
      {{4, 2, 3}, {2, 3}, CaseKind::kBroadcast},    // a leading axis the input did not have
      {{4, 2, 3}, {2, 1}, CaseKind::kBroadcast},    // both
      {{3, 4, 5}, {1, 4, 1}, CaseKind::kBroadcast},
      {{2, 3}, {}, CaseKind::kBroadcast},           // to a scalar
      {{64, 300}, {300}, CaseKind::kFloat32},       // many rows summed in float32
  };
  std::uint64_t seed = 1;
  for (const auto& s : cases) {
    const bool f32 = s.kind == CaseKind::kFloat32;
    const std::string name = str_cat(f32 ? "float32: " : "", "g ", shape_str(s.from), " to ", shape_str(s.to));
    c.run(name, [&] {
      const auto n_in = static_cast<std::size_t>(numel(s.to)), n_out = static_cast<std::size_t>(numel(s.from));
      std::vector<double> g = random_values(n_out, 100 + seed);
      if (f32)  // the float32 g, exactly: the truth is of the values the student's code sees
        for (auto& v : g) v = static_cast<double>(static_cast<float>(v));
      const std::vector<double> x = random_values(n_in, 200 + seed);
      // the forward no exercise touches: y = broadcast_to(x, from), whose VJP is sum_to(g, x.shape)
      const VectorFn forward = [&](const std::vector<double>& v) {
        return values_of(broadcast_to(from_vector(v, s.to), s.from));
      };
      Case k;
      k.name = name;
      k.kind = s.kind;
      k.shape = s.to;
      k.truth = central_difference_vjp(forward, x, g);
      Tensor gt = from_vector(g, s.from);
      if (f32) gt = gt.to(DType::Float32);
      const Tensor yours = sum_to(gt, s.to);
      if (yours.dtype() != gt.dtype())
        fail("sum_to returned ", dtype_name(yours.dtype()), " for a ", dtype_name(gt.dtype()), " g: keep g's dtype");
      k.yours = values_of(yours);
      k.yours_shape = yours.shape();
      if (f32) k.atol = k.rtol = 1e-4;
      return k;
    });
    ++seed;
  }
  // shapes g cannot be reduced to: an error that names sum_to and both shapes, as chalk's ops do
  // (ops/broadcast.h), not a wrong tensor or another op's message
  // ([2, 3] to [3, 2] has the same count: a reshape alone would not notice)
  for (const auto& [from, to] : std::vector<std::pair<Shape, Shape>>{{{2, 3}, {3, 2}}, {{2, 3}, {4}}, {{3}, {2, 3}}})
    c.run_expecting_error(str_cat("g ", shape_str(from), " to ", shape_str(to)),
                          str_cat(shape_str(from), " is not a broadcast of ", shape_str(to)),
                          [&, from = from, to = to] { sum_to(zeros(from, DType::Float64), to); },
                          {"sum_to", shape_str(from), shape_str(to)});
  return c.verdict();
}

namespace {
const Register registered{{1, [] { return check_01(chalk::sum_to); },
                           [] { return check_01([](const Tensor&, const Shape&) -> Tensor { exercise_not_done(1); }); }}};
}  // namespace

}  // namespace chalk::checker
