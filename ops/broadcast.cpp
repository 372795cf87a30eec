// ops/broadcast.cpp — broadcast_to and sum_to, each the other's VJP (ops/broadcast.h).
#include "ops/broadcast.h"

#include "core/autograd.h"
#include "core/exercise.h"  // the stub a student edition puts in sum_to's region
#include "ops/kernels.h"

namespace chalk {

using kernels::map2;

// y = x repeated along its size-1 (or missing) axes to `shape`.    dx = sum_to(g, x.shape)
Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const Shape s = broadcast_shapes(x.shape(), shape, "broadcast_to");
  if (s != shape) fail("broadcast_to: cannot broadcast ", shape_str(x.shape()), " to ", shape_str(shape));
  Tensor y = dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return map2<T>(x, zeros(shape, x.dtype()), "broadcast_to", [](T u, T) { return u; });
  });
  record(y, "broadcast_to", {x}, Saved{}, [sx = x.shape()](const Tensor& g, Grads& dx) { dx.add(0, sum_to(g, sx)); });
  return y;
}

// y = g summed over every axis that `shape` broadcasts along.      dg = broadcast_to(h, g.shape)
// One axis at a time with the shared lane-sum kernel (kernels::sum_axis_kernel, the one behind
// sum(x, axis)), so the result is the same whatever the thread count.
Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;  // nothing was broadcast: the common case (given, not the exercise)
  // ---- exercise 01 begin: docs/exercises/01-sum-to.md ----
  const Shape check = broadcast_shapes(g.shape(), shape, "sum_to");
  if (check != g.shape()) fail("sum_to: cannot reduce ", shape_str(g.shape()), " to ", shape_str(shape));
  const int lead = g.dim() - static_cast<int>(shape.size());  // leading axes `shape` does not have
  Tensor r = g.detach();
  auto reduce_axis = [&r](int axis, bool keepdim) {
    const AxisView v = axis_view(r.shape(), axis, keepdim, "sum_to");
    Tensor out = Tensor::empty(v.out_shape, r.dtype());
    dispatch_float(r.dtype(), "sum_to", [&](auto tag) {
      using T = decltype(tag);
      kernels::sum_axis_kernel<T>(r.data<T>(), out.data<T>(), v);
    });
    r = out;
  };
  for (int a = 0; a < lead; ++a) reduce_axis(0, /*keepdim=*/false);
  for (int a = 0; a < r.dim(); ++a)
    if (shape[a] == 1 && r.shape()[a] != 1) reduce_axis(a, /*keepdim=*/true);
  Tensor y = r.reshape(shape);
  record(y, "sum_to", {g}, Saved{}, [sg = g.shape()](const Tensor& h, Grads& dx) { dx.add(0, broadcast_to(h, sg)); });
  return y;
  // ---- exercise 01 end ----
}

}  // namespace chalk
