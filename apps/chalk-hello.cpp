// A first look at autograd (placeholder main program until chalk-train lands).
#include <chalk.h>
#include <iostream>
using namespace chalk;
int main() {
  manual_seed(0);
  Tensor x = randn({3, 4}).requires_grad_();
  Tensor w = randn({4, 2}).requires_grad_();
  Tensor loss = mean(relu(matmul(x, w)));
  loss.backward();
  std::cout << "x = " << x << "\nloss = " << loss << "\ndL/dw = " << w.grad() << "\n";
}
