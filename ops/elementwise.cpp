// ops/elementwise.cpp — element-wise ops: forward, then the VJP right below.
//
// Notation: y = op(x), g = dL/dy (same shape as y), dx = dL/dx.
// Broadcasting ops reduce each input's gradient back to its shape with sum_to.
// Each formula is a generic lambda given to map (one input) or zip (two, broadcasting) of
// ops/kernels.h, which dispatch float32/float64 themselves; decltype(u) is the element type.
// Composed where it costs nothing: neg = x * (-1), square = pow(x, 2), clamp_min =
// clamp(x, lo, inf), a - s = a + (-s), a / s = a * (1/s). Kept as their own one-pass kernels
// where a composition would add passes over the data: sub (add + neg), rsub (neg + add),
// rdiv, sqrt (std::pow is slower than std::sqrt), sigmoid, tanh, softplus (their composed
// forms also lose stability).
#include "ops/elementwise.h"

#include <cmath>

#include "core/autograd.h"
#include "ops/kernels.h"
#include "ops/broadcast.h"

namespace chalk {

using kernels::map;
using kernels::zip;

// ---------------------------------------------------------------- binary ops

// y = a + b        da = sum_to(g),  db = sum_to(g)
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = zip(a, b, "add", [](auto u, auto v) { return u + v; });
  record(y, "add", {a, b}, Saved{}, [sa = a.shape(), sb = b.shape()](const Tensor& g, Grads& dx) {
    if (dx.wants(0)) dx.add(0, sum_to(g, sa));
    if (dx.wants(1)) dx.add(1, sum_to(g, sb));
  });
  return y;
}

// y = a - b        da = sum_to(g),  db = -sum_to(g)
Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = zip(a, b, "sub", [](auto u, auto v) { return u - v; });
  record(y, "sub", {a, b}, Saved{}, [sa = a.shape(), sb = b.shape()](const Tensor& g, Grads& dx) {
    if (dx.wants(0)) dx.add(0, sum_to(g, sa));
    if (dx.wants(1)) dx.add(1, neg(sum_to(g, sb)));
  });
  return y;
}

// y = a * b        da = sum_to(g * b),  db = sum_to(g * a)
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = zip(a, b, "mul", [](auto u, auto v) { return u * v; });
  record(y, "mul", {a, b}, Saved{.inputs = {0, 1}}, [a = a.detach(), b = b.detach()](const Tensor& g, Grads& dx) {
    if (dx.wants(0)) dx.add(0, sum_to(mul(g, b), a.shape()));
    if (dx.wants(1)) dx.add(1, sum_to(mul(g, a), b.shape()));
  });
  return y;
}

// y = a / b        da = sum_to(g / b),  db = sum_to(-g a / b^2) = sum_to(-g y / b)
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = zip(a, b, "div", [](auto u, auto v) { return u / v; });
  record(y, "div", {a, b}, Saved{.inputs = {1}, .output = true},
         [y_ = y.detach(), b = b.detach(), sa = a.shape()](const Tensor& g, Grads& dx) {
    const Tensor g_over_b = div(g, b);
    if (dx.wants(0)) dx.add(0, sum_to(g_over_b, sa));
    if (dx.wants(1)) dx.add(1, sum_to(neg(mul(g_over_b, y_)), b.shape()));
  });
  return y;
}

// ---------------------------------------------------------------- with a scalar

// y = a + s        da = g
Tensor add(const Tensor& a, double s) {
  Tensor y = map(a, "add", [s](auto u) { return u + static_cast<decltype(u)>(s); });
  record(y, "add_scalar", {a}, Saved{}, [](const Tensor& g, Grads& dx) { dx.add(0, g); });
  return y;
}

// y = a * s        da = g * s
Tensor mul(const Tensor& a, double s) {
  Tensor y = map(a, "mul", [s](auto u) { return u * static_cast<decltype(u)>(s); });
  record(y, "mul_scalar", {a}, Saved{}, [s](const Tensor& g, Grads& dx) { dx.add(0, mul(g, s)); });
  return y;
}

// y = s - a        da = -g
// (One pass; it was add(neg(a), s), two passes for the same numbers: s - u == s + (-u) exactly.)
Tensor rsub(double s, const Tensor& a) {
  Tensor y = map(a, "rsub", [s](auto u) { return static_cast<decltype(u)>(s) - u; });
  record(y, "rsub", {a}, Saved{}, [](const Tensor& g, Grads& dx) { dx.add(0, neg(g)); });
  return y;
}

// y = s / a        da = -g s / a^2 = -g y / a
Tensor rdiv(double s, const Tensor& a) {
  Tensor y = map(a, "rdiv", [s](auto u) { return static_cast<decltype(u)>(s) / u; });
  record(y, "rdiv", {a}, Saved{.inputs = {0}, .output = true},
         [y_ = y.detach(), a = a.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, neg(div(mul(g, y_), a)));
  });
  return y;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double s) { return add(a, s); }
Tensor operator+(double s, const Tensor& a) { return add(a, s); }
Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
Tensor operator-(double s, const Tensor& a) { return rsub(s, a); }
Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
Tensor operator/(const Tensor& a, double s) { return mul(a, 1.0 / s); }
Tensor operator/(double s, const Tensor& a) { return rdiv(s, a); }
Tensor operator-(const Tensor& a) { return neg(a); }

// ---------------------------------------------------------------- unary ops

// y = -x = x * (-1)     dx = -g
// Composed (micrograd's neg): one pass either way, and mul's VJP is -g. (x * -1 is exact.)
Tensor neg(const Tensor& x) { return mul(x, -1.0); }

// y = e^x          dx = g y
Tensor exp(const Tensor& x) {
  Tensor y = map(x, "exp", [](auto u) { return std::exp(u); });
  record(y, "exp", {x}, Saved{.output = true},
         [y_ = y.detach()](const Tensor& g, Grads& dx) { dx.add(0, mul(g, y_)); });
  return y;
}

// y = ln x         dx = g / x
Tensor log(const Tensor& x) {
  Tensor y = map(x, "log", [](auto u) { return std::log(u); });
  record(y, "log", {x}, Saved{.inputs = {0}}, [x = x.detach()](const Tensor& g, Grads& dx) { dx.add(0, div(g, x)); });
  return y;
}

// y = sqrt(x)      dx = g / (2 y)
Tensor sqrt(const Tensor& x) {
  Tensor y = map(x, "sqrt", [](auto u) { return std::sqrt(u); });
  record(y, "sqrt", {x}, Saved{.output = true}, [y_ = y.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, div(g, mul(y_, 2.0)));
  });
  return y;
}

// y = x^p          dx = g p x^(p-1)
// NOTE: for p = 0 the gradient is exactly 0 everywhere (y = 1 is a constant), also at x = 0
// where p x^(p-1) would be 0 * inf = nan (PyTorch's pow_backward makes the same case).
Tensor pow(const Tensor& x, double p) {
  Tensor y = p == 2 ? map(x, "pow", [](auto u) { return u * u; })
                    : map(x, "pow", [p](auto u) { return std::pow(u, static_cast<decltype(u)>(p)); });
  record(y, "pow", {x}, Saved{.inputs = {0}}, [x = x.detach(), p](const Tensor& g, Grads& dx) {
    dx.add(0, zip(g, x, "pow backward", [p](auto gi, auto u) {
      using T = decltype(u);
      const T e = static_cast<T>(p);
      if (e == T(0)) return T(0);
      return e == T(2) ? gi * T(2) * u : gi * e * std::pow(u, e - T(1));
    }));
  });
  return y;
}

Tensor square(const Tensor& x) { return pow(x, 2.0); }

// y = |x|          dx = g sign(x)   (sign(0) = 0; sign(nan) = 0 too, as PyTorch's sgn gives)
Tensor abs(const Tensor& x) {
  Tensor y = map(x, "abs", [](auto u) { return std::abs(u); });
  record(y, "abs", {x}, Saved{.inputs = {0}}, [x = x.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, zip(g, x, "abs backward", [](auto gi, auto u) { return u > 0 ? gi : (u < 0 ? -gi : decltype(u)(0)); }));
  });
  return y;
}

// y = max(x, 0)    dx = g [y > 0]   (0 at x = 0, like PyTorch)
// NOTE: NaN propagates, as in PyTorch: relu(nan) = nan with gradient g (a NaN is not
// "<= 0", so it is kept, and the VJP tests y <= 0, not y > 0, so it passes g as
// PyTorch's threshold_backward does). Written `u > 0 ? u : 0`, both would be 0 and a NaN
// would vanish silently.
Tensor relu(const Tensor& x) {
  Tensor y = map(x, "relu", [](auto u) { return u <= 0 ? decltype(u)(0) : u; });
  record(y, "relu", {x}, Saved{.output = true}, [y_ = y.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, zip(g, y_, "relu backward", [](auto gi, auto yi) { return yi <= 0 ? decltype(gi)(0) : gi; }));
  });
  return y;
}

// y = 1 / (1 + e^-x)    dx = g y (1 - y)
// NOTE: for x < 0 we compute e^x / (1 + e^x), so e^-x never overflows.
Tensor sigmoid(const Tensor& x) {
  Tensor y = map(x, "sigmoid", [](auto u) {
    using T = decltype(u);
    if (u >= 0) return T(1) / (T(1) + std::exp(-u));
    const T e = std::exp(u);
    return e / (T(1) + e);
  });
  record(y, "sigmoid", {x}, Saved{.output = true}, [y_ = y.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, zip(g, y_, "sigmoid backward", [](auto gi, auto yi) { return gi * yi * (decltype(yi)(1) - yi); }));
  });
  return y;
}

// y = tanh x       dx = g (1 - y^2)
Tensor tanh(const Tensor& x) {
  Tensor y = map(x, "tanh", [](auto u) { return std::tanh(u); });
  record(y, "tanh", {x}, Saved{.output = true}, [y_ = y.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, zip(g, y_, "tanh backward", [](auto gi, auto yi) { return gi * (decltype(yi)(1) - yi * yi); }));
  });
  return y;
}

// y = log(1 + e^x) = max(x, 0) + log(1 + e^-|x|)  (stable)    dx = g sigmoid(x)
Tensor softplus(const Tensor& x) {
  Tensor y = map(x, "softplus", [](auto u) { return std::max(u, decltype(u)(0)) + std::log1p(std::exp(-std::abs(u))); });
  record(y, "softplus", {x}, Saved{.inputs = {0}}, [x = x.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, mul(g, sigmoid(x)));
  });
  return y;
}

// y = cos x        dx = -g sin x
Tensor cos(const Tensor& x) {
  Tensor y = map(x, "cos", [](auto u) { return std::cos(u); });
  record(y, "cos", {x}, Saved{.inputs = {0}},
         [x = x.detach()](const Tensor& g, Grads& dx) { dx.add(0, neg(mul(g, sin(x)))); });
  return y;
}

// y = sin x        dx = g cos x
Tensor sin(const Tensor& x) {
  Tensor y = map(x, "sin", [](auto u) { return std::sin(u); });
  record(y, "sin", {x}, Saved{.inputs = {0}},
         [x = x.detach()](const Tensor& g, Grads& dx) { dx.add(0, mul(g, cos(x))); });
  return y;
}

// y = acos(x)      dx = -g / sqrt(1 - x^2)
// As torch.acos: at x = +-1 the derivative is -inf, and |x| > 1 gives nan (value and
// gradient). No hidden clamp: a clamp at 1 - 1e-7 here once gave acos(2) = 4.5e-4 and cut the
// ArcFace margin's gradient within 4.5e-4 rad of W_y (docs/ops.md). Callers that meet +-1 choose
// their own finite form (losses/margin_softmax.cpp: angle_of, and `angle` in the composed twins).
Tensor acos(const Tensor& x) {
  Tensor y = map(x, "acos", [](auto u) { return std::acos(u); });
  record(y, "acos", {x}, Saved{.inputs = {0}}, [x = x.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, zip(g, x, "acos backward", [](auto gi, auto u) { return -gi / std::sqrt(decltype(u)(1) - u * u); }));
  });
  return y;
}

// y = min(max(x, lo), hi)     dx = g [lo <= x <= hi]
// (clamp(nan) = nan, with gradient 0: no comparison holds for nan; PyTorch gives the same.)
Tensor clamp(const Tensor& x, double lo, double hi) {
  if (lo > hi) fail("clamp: expected lo <= hi, got lo = ", lo, ", hi = ", hi);
  Tensor y = map(x, "clamp", [lo, hi](auto u) {
    using T = decltype(u);
    return std::min(std::max(u, T(lo)), T(hi));
  });
  record(y, "clamp", {x}, Saved{.inputs = {0}}, [x = x.detach(), lo, hi](const Tensor& g, Grads& dx) {
    dx.add(0, zip(g, x, "clamp backward", [lo, hi](auto gi, auto u) {
      using T = decltype(u);
      return (u >= T(lo) && u <= T(hi)) ? gi : T(0);
    }));
  });
  return y;
}

Tensor clamp_min(const Tensor& x, double lo) { return clamp(x, lo, INFINITY); }


// y = cond ? a : b      da = sum_to(g [cond]),  db = sum_to(g [!cond])
// (a selection, not c a + (1 - c) b: an inf or NaN in the branch not taken stays out.)
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    fail("where: dtype mismatch: a is ", dtype_name(a.dtype()), ", b is ", dtype_name(b.dtype()));
  const Shape s = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  const Tensor c = broadcast_to(cond.detach().to(a.dtype()), s);
  // select(c, u, v)[i] = c[i] != 0 ? u[i] : v[i]   (u, v broadcast to s)
  auto select = [](const Tensor& c, const Tensor& u, const Tensor& v) {
    const Tensor U = broadcast_to(u, c.shape()), V = broadcast_to(v, c.shape());
    Tensor y = Tensor::empty(c.shape(), u.dtype());
    dispatch_float(u.dtype(), "where", [&](auto tag) {
      using T = decltype(tag);
      const T *pc = c.data<T>(), *pu = U.data<T>(), *pv = V.data<T>();
      T* py = y.data<T>();
      parallel_for(y.numel(), [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) py[i] = pc[i] != T(0) ? pu[i] : pv[i];
      });
    });
    return y;
  };
  Tensor y = select(c, a.detach(), b.detach());
  record(y, "where", {a, b}, Saved{.other = {cond}},
         [c, sa = a.shape(), sb = b.shape(), select](const Tensor& g, Grads& dx) {
    const Tensor z = zeros({}, g.dtype());
    if (dx.wants(0)) dx.add(0, sum_to(select(c, g, z), sa));
    if (dx.wants(1)) dx.add(1, sum_to(select(c, z, g), sb));
  });
  return y;
}

// ---------------------------------------------------------------- masks (no gradient)

Tensor gt(const Tensor& a, double s) {
  return map(a, "gt", [s](auto u) {
    using T = decltype(u);
    return u > T(s) ? T(1) : T(0);
  });
}

Tensor lt(const Tensor& a, double s) {
  return map(a, "lt", [s](auto u) {
    using T = decltype(u);
    return u < T(s) ? T(1) : T(0);
  });
}

Tensor eq(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    fail("eq: dtype mismatch: ", dtype_name(a.dtype()), " vs ", dtype_name(b.dtype()));
  const Tensor fa = a.to(DType::Float64), fb = b.to(DType::Float64);
  return zip(fa, fb, "eq", [](auto u, auto v) { return u == v ? 1.0 : 0.0; }).to(DType::Float32);
}

}  // namespace chalk
