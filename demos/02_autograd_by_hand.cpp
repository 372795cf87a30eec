// demos/01_autograd_tour.cpp — autograd at work, read top to bottom like a notebook.
//
//   build/demo_01_autograd_tour
//
// 1. a graph is recorded as you compute; 2. backward() walks it; 3. an input used twice
// gets both contributions; 4. gradcheck proves a backward against finite differences;
// 5. a tiny model learns with the same few lines every training loop uses.
#include <chalk.h>

#include <iostream>

using namespace chalk;

int main() {
  manual_seed(0);

  // ---- 1. Record: every op remembers how it was made (its grad_fn). -----------------------
  Tensor x = tensor({1.0, 2.0, 3.0}).requires_grad_();
  Tensor y = x * x + 2.0 * x;  // y_i = x_i^2 + 2 x_i
  std::cout << "x = " << x << "\ny = x*x + 2x = " << y << "\n\n";

  // ---- 2. Backward: dL/dx for L = sum(y) is 2x + 2. ----------------------------------------
  Tensor L = sum(y);
  L.backward();
  std::cout << "L = sum(y) = " << L.item() << "\ndL/dx = " << x.grad() << "   (2x + 2)\n\n";

  // ---- 3. x was used twice in x*x: both uses contributed (x * dx + dx * x = 2x). -----------
  //         Gradients accumulate across backward calls until zero_grad():
  sum(x).backward();
  std::cout << "after a second backward of sum(x): dL/dx = " << x.grad() << "   (+1 each)\n";
  x.zero_grad();

  // ---- 4. gradcheck: the VJPs against central differences, in float64. --------------------
  const auto report = gradcheck(
      [](const std::vector<Tensor>& in) { return log_softmax(matmul(in[0], in[1]), 1); },
      {randn({4, 3}), randn({3, 5})});
  std::cout << "\n" << report.report << "\n\n";

  // ---- 5. Learn: fit w in y = x w with SGD, the loop every trainer runs. ------------------
  const Tensor X = randn({64, 3});
  const Tensor w_true = tensor({2.0, -1.0, 0.5}).reshape({3, 1});
  const Tensor Y = matmul(X, w_true);
  Tensor w = zeros({3, 1}).requires_grad_();
  for (int step = 0; step <= 100; ++step) {
    Tensor loss = mean(square(matmul(X, w) - Y));  // forward: records the graph
    w.zero_grad();
    loss.backward();                                // backward: fills w.grad()
    {
      NoGradGuard no_grad;                          // the update itself is not recorded
      float* pw = w.data<float>();
      const float* g = w.grad().data<float>();
      for (int i = 0; i < 3; ++i) pw[i] -= 0.1f * g[i];
    }
    if (step % 25 == 0) std::cout << "step " << step << ": loss " << loss.item() << "\n";
  }
  std::cout << "learned w = " << w.reshape({3}) << "   (true: 2, -1, 0.5)\n";
  return report.ok ? 0 : 1;
}
