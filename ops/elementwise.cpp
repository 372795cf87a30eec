// ops/elementwise.cpp — element-wise ops: forward, then the VJP right below.
//
// Notation: y = op(x), g = dL/dy (same shape as y), dx = dL/dx.
// Broadcasting ops reduce each input's gradient back to its shape with sum_to.
#include "ops/elementwise.h"

#include <cmath>

#include "core/autograd.h"
#include "ops/kernels.h"
#include "ops/broadcast.h"

namespace chalk {

using kernels::map1;
using kernels::map2;

// ---------------------------------------------------------------- binary ops

// y = a + b        da = sum_to(g),  db = sum_to(g)
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = dispatch_float(a.dtype(), "add", [&](auto tag) {
    using T = decltype(tag);
    return map2<T>(a, b, "add", [](T u, T v) { return u + v; });
  });
  record(y, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, Grads& dx) {
    if (dx.wants(0)) dx.add(0, sum_to(g, sa));
    if (dx.wants(1)) dx.add(1, sum_to(g, sb));
  });
  return y;
}

// y = a - b        da = sum_to(g),  db = -sum_to(g)
Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = dispatch_float(a.dtype(), "sub", [&](auto tag) {
    using T = decltype(tag);
    return map2<T>(a, b, "sub", [](T u, T v) { return u - v; });
  });
  record(y, "sub", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, Grads& dx) {
    if (dx.wants(0)) dx.add(0, sum_to(g, sa));
    if (dx.wants(1)) dx.add(1, neg(sum_to(g, sb)));
  });
  return y;
}

// y = a * b        da = sum_to(g * b),  db = sum_to(g * a)
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = dispatch_float(a.dtype(), "mul", [&](auto tag) {
    using T = decltype(tag);
    return map2<T>(a, b, "mul", [](T u, T v) { return u * v; });
  });
  record(y, "mul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g, Grads& dx) {
    if (dx.wants(0)) dx.add(0, sum_to(mul(g, b), a.shape()));
    if (dx.wants(1)) dx.add(1, sum_to(mul(g, a), b.shape()));
  });
  return y;
}

// y = a / b        da = sum_to(g / b),  db = sum_to(-g a / b^2) = sum_to(-g y / b)
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = dispatch_float(a.dtype(), "div", [&](auto tag) {
    using T = decltype(tag);
    return map2<T>(a, b, "div", [](T u, T v) { return u / v; });
  });
  record(y, "div", {a, b}, [y_ = y.detach(), b = b.detach(), sa = a.shape()](const Tensor& g, Grads& dx) {
    const Tensor g_over_b = div(g, b);
    if (dx.wants(0)) dx.add(0, sum_to(g_over_b, sa));
    if (dx.wants(1)) dx.add(1, sum_to(neg(mul(g_over_b, y_)), b.shape()));
  });
  return y;
}

// ---------------------------------------------------------------- with a scalar

// y = a + s        da = g
Tensor add(const Tensor& a, double s) {
  Tensor y = dispatch_float(a.dtype(), "add", [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(s);
    return map1<T>(a, [v](T u) { return u + v; });
  });
  record(y, "add_scalar", {a}, [](const Tensor& g, Grads& dx) { dx.add(0, g); });
  return y;
}

// y = a * s        da = g * s
Tensor mul(const Tensor& a, double s) {
  Tensor y = dispatch_float(a.dtype(), "mul", [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(s);
    return map1<T>(a, [v](T u) { return u * v; });
  });
  record(y, "mul_scalar", {a}, [s](const Tensor& g, Grads& dx) { dx.add(0, mul(g, s)); });
  return y;
}

// y = s - a        da = -g
Tensor rsub(double s, const Tensor& a) { return add(neg(a), s); }

// y = s / a        da = -g s / a^2 = -g y / a
Tensor rdiv(double s, const Tensor& a) {
  Tensor y = dispatch_float(a.dtype(), "rdiv", [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(s);
    return map1<T>(a, [v](T u) { return v / u; });
  });
  record(y, "rdiv", {a}, [y_ = y.detach(), a = a.detach()](const Tensor& g, Grads& dx) {
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

// y = -x           dx = -g
Tensor neg(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "neg", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) { return -u; });
  });
  record(y, "neg", {x}, [](const Tensor& g, Grads& dx) { dx.add(0, neg(g)); });
  return y;
}

// y = e^x          dx = g y
Tensor exp(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "exp", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) { return std::exp(u); });
  });
  record(y, "exp", {x}, [y_ = y.detach()](const Tensor& g, Grads& dx) { dx.add(0, mul(g, y_)); });
  return y;
}

// y = ln x         dx = g / x
Tensor log(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "log", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) { return std::log(u); });
  });
  record(y, "log", {x}, [x = x.detach()](const Tensor& g, Grads& dx) { dx.add(0, div(g, x)); });
  return y;
}

// y = sqrt(x)      dx = g / (2 y)
Tensor sqrt(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "sqrt", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) { return std::sqrt(u); });
  });
  record(y, "sqrt", {x}, [y_ = y.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, div(g, mul(y_, 2.0)));
  });
  return y;
}

// y = x^p          dx = g p x^(p-1)
Tensor pow(const Tensor& x, double p) {
  Tensor y = dispatch_float(x.dtype(), "pow", [&](auto tag) {
    using T = decltype(tag);
    const T e = static_cast<T>(p);
    if (p == 2) return map1<T>(x, [](T u) { return u * u; });
    return map1<T>(x, [e](T u) { return std::pow(u, e); });
  });
  record(y, "pow", {x}, [x = x.detach(), p](const Tensor& g, Grads& dx) {
    const Tensor d = dispatch_float(x.dtype(), "pow backward", [&](auto tag) {
      using T = decltype(tag);
      const T e = static_cast<T>(p);
      return map2<T>(g, x, "pow backward", [e](T gi, T u) {
        return e == T(2) ? gi * T(2) * u : gi * e * std::pow(u, e - T(1));
      });
    });
    dx.add(0, d);
  });
  return y;
}

Tensor square(const Tensor& x) { return pow(x, 2.0); }

// y = |x|          dx = g sign(x)   (sign(0) = 0)
Tensor abs(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "abs", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) { return std::abs(u); });
  });
  record(y, "abs", {x}, [x = x.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, dispatch_float(x.dtype(), "abs backward", [&](auto tag) {
      using T = decltype(tag);
      return map2<T>(g, x, "abs backward", [](T gi, T u) { return u > 0 ? gi : (u < 0 ? -gi : T(0)); });
    }));
  });
  return y;
}

// y = max(x, 0)    dx = g [x > 0]   (0 at x = 0, like PyTorch)
Tensor relu(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "relu", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) { return u > T(0) ? u : T(0); });
  });
  record(y, "relu", {x}, [y_ = y.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, dispatch_float(y_.dtype(), "relu backward", [&](auto tag) {
      using T = decltype(tag);
      return map2<T>(g, y_, "relu backward", [](T gi, T yi) { return yi > T(0) ? gi : T(0); });
    }));
  });
  return y;
}

// y = 1 / (1 + e^-x)    dx = g y (1 - y)
// NOTE: for x < 0 we compute e^x / (1 + e^x), so e^-x never overflows.
Tensor sigmoid(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "sigmoid", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) {
      if (u >= 0) return T(1) / (T(1) + std::exp(-u));
      const T e = std::exp(u);
      return e / (T(1) + e);
    });
  });
  record(y, "sigmoid", {x}, [y_ = y.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, dispatch_float(y_.dtype(), "sigmoid backward", [&](auto tag) {
      using T = decltype(tag);
      return map2<T>(g, y_, "sigmoid backward", [](T gi, T yi) { return gi * yi * (T(1) - yi); });
    }));
  });
  return y;
}

// y = tanh x       dx = g (1 - y^2)
Tensor tanh(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "tanh", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) { return std::tanh(u); });
  });
  record(y, "tanh", {x}, [y_ = y.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, dispatch_float(y_.dtype(), "tanh backward", [&](auto tag) {
      using T = decltype(tag);
      return map2<T>(g, y_, "tanh backward", [](T gi, T yi) { return gi * (T(1) - yi * yi); });
    }));
  });
  return y;
}

// y = log(1 + e^x) = max(x, 0) + log(1 + e^-|x|)  (stable)    dx = g sigmoid(x)
Tensor softplus(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "softplus", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) { return std::max(u, T(0)) + std::log1p(std::exp(-std::abs(u))); });
  });
  record(y, "softplus", {x}, [x = x.detach()](const Tensor& g, Grads& dx) {
    dx.add(0, mul(g, sigmoid(x)));
  });
  return y;
}

// y = cos x        dx = -g sin x
Tensor cos(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "cos", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) { return std::cos(u); });
  });
  record(y, "cos", {x}, [x = x.detach()](const Tensor& g, Grads& dx) { dx.add(0, neg(mul(g, sin(x)))); });
  return y;
}

// y = sin x        dx = g cos x
Tensor sin(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "sin", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [](T u) { return std::sin(u); });
  });
  record(y, "sin", {x}, [x = x.detach()](const Tensor& g, Grads& dx) { dx.add(0, mul(g, cos(x))); });
  return y;
}

// y = acos(c),  c = clamp(x, -1 + kAcosEps, 1 - kAcosEps)
// dx = -g / sqrt(1 - c^2) inside the clamp range, 0 outside (the clamp's gradient).
// The clamp keeps the derivative finite: at |x| = 1 it would be infinite.
Tensor acos(const Tensor& x) {
  const double lo = -1.0 + kAcosEps, hi = 1.0 - kAcosEps;
  Tensor y = dispatch_float(x.dtype(), "acos", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [lo, hi](T u) { return std::acos(std::clamp<T>(u, T(lo), T(hi))); });
  });
  record(y, "acos", {x}, [x = x.detach(), lo, hi](const Tensor& g, Grads& dx) {
    dx.add(0, dispatch_float(x.dtype(), "acos backward", [&](auto tag) {
      using T = decltype(tag);
      return map2<T>(g, x, "acos backward", [lo, hi](T gi, T u) {
        if (u < T(lo) || u > T(hi)) return T(0);
        return -gi / std::sqrt(T(1) - u * u);
      });
    }));
  });
  return y;
}

// y = min(max(x, lo), hi)     dx = g [lo <= x <= hi]
Tensor clamp(const Tensor& x, double lo, double hi) {
  if (lo > hi) fail("clamp: expected lo <= hi, got lo = ", lo, ", hi = ", hi);
  Tensor y = dispatch_float(x.dtype(), "clamp", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(x, [lo, hi](T u) { return std::min(std::max(u, T(lo)), T(hi)); });
  });
  record(y, "clamp", {x}, [x = x.detach(), lo, hi](const Tensor& g, Grads& dx) {
    dx.add(0, dispatch_float(x.dtype(), "clamp backward", [&](auto tag) {
      using T = decltype(tag);
      return map2<T>(g, x, "clamp backward", [lo, hi](T gi, T u) {
        return (u >= T(lo) && u <= T(hi)) ? gi : T(0);
      });
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
  record(y, "where", {a, b}, [c, sa = a.shape(), sb = b.shape(), select](const Tensor& g, Grads& dx) {
    const Tensor z = zeros({}, g.dtype());
    if (dx.wants(0)) dx.add(0, sum_to(select(c, g, z), sa));
    if (dx.wants(1)) dx.add(1, sum_to(select(c, z, g), sb));
  });
  return y;
}

// ---------------------------------------------------------------- masks (no gradient)

Tensor gt(const Tensor& a, double s) {
  return dispatch_float(a.dtype(), "gt", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(a, [s](T u) { return u > T(s) ? T(1) : T(0); });
  });
}

Tensor lt(const Tensor& a, double s) {
  return dispatch_float(a.dtype(), "lt", [&](auto tag) {
    using T = decltype(tag);
    return map1<T>(a, [s](T u) { return u < T(s) ? T(1) : T(0); });
  });
}

Tensor eq(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    fail("eq: dtype mismatch: ", dtype_name(a.dtype()), " vs ", dtype_name(b.dtype()));
  const Tensor fa = a.to(DType::Float64), fb = b.to(DType::Float64);
  return map2<double>(fa, fb, "eq", [](double u, double v) { return u == v ? 1.0 : 0.0; }).to(DType::Float32);
}

}  // namespace chalk
