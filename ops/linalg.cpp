// ops/linalg.cpp — matmul and linear: forward, then the VJP right below.
#include "ops/linalg.h"

#include "core/autograd.h"
#include "core/exercise.h"  // the stub a student edition puts in matmul_vjp's region
#include "core/gemm.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace chalk {

namespace {

// C = op(A) op(B) into a fresh tensor, through GEMM's transpose flags: op(X) = X^T when its
// flag is set. A and B are 2-D tensors of one floating dtype; op(A) M x K, op(B) K x N.
// Throws chalk::Error naming both operands when the inner dimensions differ (a product written
// in the wrong order, or with a transpose on the wrong factor), before GEMM could read past them.
Tensor gemm_tensor(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const std::int64_t M = ta ? a.shape()[1] : a.shape()[0];
  const std::int64_t K = ta ? a.shape()[0] : a.shape()[1];
  const std::int64_t Kb = tb ? b.shape()[1] : b.shape()[0];
  const std::int64_t N = tb ? b.shape()[0] : b.shape()[1];
  if (K != Kb || a.dtype() != b.dtype())
    fail("gemm_tensor: cannot multiply its first factor, ", dtype_name(a.dtype()), " ", shape_str(a.shape()),
         ta ? " transposed" : "", ", by its second, ", dtype_name(b.dtype()), " ", shape_str(b.shape()),
         tb ? " transposed" : "", ": ",
         K != Kb ? str_cat("the inner dimensions differ (", M, " x ", K, " times ", Kb, " x ", N, ")")
                 : std::string("two dtypes"));
  Tensor c = Tensor::empty({M, N}, a.dtype());
  dispatch_float(a.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    gemm<T>(ta, tb, M, N, K, T(1), a.data<T>(), a.shape()[1], b.data<T>(), b.shape()[1], T(0),
            c.data<T>(), N);
  });
  return c;
}

}  // namespace

// C (M x N) = op(A) (M x K) op(B) (K x N), one GEMM; VJP: matmul_vjp below.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  if (a.dim() != 2 || b.dim() != 2)
    fail("matmul: expected 2-D tensors, got a ", shape_str(a.shape()), " and b ", shape_str(b.shape()));
  if (a.dtype() != b.dtype())
    fail("matmul: dtype mismatch: a is ", dtype_name(a.dtype()), " ", shape_str(a.shape()), ", b is ",
         dtype_name(b.dtype()), " ", shape_str(b.shape()));
  const std::int64_t Ka = transpose_a ? a.shape()[0] : a.shape()[1];
  const std::int64_t Kb = transpose_b ? b.shape()[1] : b.shape()[0];
  if (Ka != Kb)
    fail("matmul: inner dimensions differ: a", transpose_a ? "^T" : "", " is ", shape_str(a.shape()),
         ", b", transpose_b ? "^T" : "", " is ", shape_str(b.shape()), " (", Ka, " vs ", Kb, ")");
  Tensor c = gemm_tensor(a, b, transpose_a, transpose_b);
  record(c, "matmul", {a, b}, Saved{.inputs = {0, 1}},
         [a = a.detach(), b = b.detach(), transpose_a, transpose_b](const Tensor& g, Grads& dx) {
    const MatmulGrads d = matmul_vjp(a, b, g, transpose_a, transpose_b, dx.wants(0), dx.wants(1));
    if (dx.wants(0)) dx.add(0, d.a);
    if (dx.wants(1)) dx.add(1, d.b);
  });
  return c;
}

// matmul's VJP (ops/linalg.h). The lines before the region check the arguments, so the products
// below only ever see 2-D tensors that fit; each product is one gemm_tensor (above) call.
MatmulGrads matmul_vjp(const Tensor& a, const Tensor& b, const Tensor& g, bool transpose_a, bool transpose_b,
                       bool want_a, bool want_b) {
  if (a.dim() != 2 || b.dim() != 2 || g.dim() != 2)
    fail("matmul_vjp: expected 2-D tensors, got a ", shape_str(a.shape()), ", b ", shape_str(b.shape()), " and g ",
         shape_str(g.shape()));
  const std::int64_t M = transpose_a ? a.shape()[1] : a.shape()[0];
  const std::int64_t Ka = transpose_a ? a.shape()[0] : a.shape()[1];
  const std::int64_t Kb = transpose_b ? b.shape()[1] : b.shape()[0];
  const std::int64_t N = transpose_b ? b.shape()[0] : b.shape()[1];
  auto product = [&] {  // for the messages only
    return str_cat("a", transpose_a ? "^T" : "", " (", dtype_name(a.dtype()), " ", shape_str(a.shape()), ") times b",
                   transpose_b ? "^T" : "", " (", dtype_name(b.dtype()), " ", shape_str(b.shape()), ")");
  };
  if (Ka != Kb || b.dtype() != a.dtype())
    fail("matmul_vjp: ", product(), " cannot be multiplied: ",
         Ka != Kb ? str_cat("the inner dimensions differ (", Ka, " vs ", Kb, ")") : std::string("two dtypes"));
  if (g.shape()[0] != M || g.shape()[1] != N || g.dtype() != a.dtype())
    fail("matmul_vjp: ", product(), " needs a ", dtype_name(a.dtype()), " g of shape [", M, ", ", N, "], got ",
         dtype_name(g.dtype()), " ", shape_str(g.shape()));
  // ---- exercise 04 begin: docs/exercises/04-matmul-vjp.md ----
  // C = op(A) op(B), g = dL/dC (M x N):
  //   dL/d op(A) = g op(B)^T   (M x K)      dL/d op(B) = op(A)^T g   (K x N)
  // and when A itself was transposed (transpose_a), dA = (dL/d op(A))^T = op(B) g^T; when B was,
  // dB = (dL/d op(B))^T = g^T op(A). Every transpose is a GEMM flag: no transposed copy is made.
  MatmulGrads grads;
  if (want_a) grads.a = transpose_a ? gemm_tensor(b, g, transpose_b, true) : gemm_tensor(g, b, false, !transpose_b);
  if (want_b) grads.b = transpose_b ? gemm_tensor(g, a, true, transpose_a) : gemm_tensor(a, g, !transpose_a, false);
  return grads;
  // ---- exercise 04 end ----
}

// y = x W^T + b   (x: N x in, W: out x in, b: out)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  if (x.dim() != 2 || w.dim() != 2)
    fail("linear: expected x (N x in) and W (out x in), got x ", shape_str(x.shape()), " and W ",
         shape_str(w.shape()));
  if (x.shape()[1] != w.shape()[1])
    fail("linear: x ", shape_str(x.shape()), " has ", x.shape()[1], " features but W ", shape_str(w.shape()),
         " expects ", w.shape()[1]);
  if (x.dtype() != w.dtype())
    fail("linear: dtype mismatch: x is ", dtype_name(x.dtype()), " ", shape_str(x.shape()), ", W is ",
         dtype_name(w.dtype()), " ", shape_str(w.shape()));
  if (b.defined() && (b.dim() != 1 || b.shape()[0] != w.shape()[0]))
    fail("linear: bias has shape ", shape_str(b.shape()), ", expected [", w.shape()[0], "]");
  if (b.defined() && b.dtype() != w.dtype())
    fail("linear: bias is ", dtype_name(b.dtype()), ", W is ", dtype_name(w.dtype()));
  Tensor y = matmul(x, w, false, true);
  if (b.defined()) {
    y = add(y, b);
  }
  return y;
}

}  // namespace chalk
