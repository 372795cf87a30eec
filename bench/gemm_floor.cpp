// bench/gemm_floor.cpp — the GEMM floor of one training step: the matrix products of a
// step of the MLP or the SmallCNN at batch 128, timed alone through CBLAS (OpenBLAS), with
// nothing else (no im2col, pooling, activations, loss, optimiser, autograd).
//
//   build/gemm_floor --model cnn --threads 2          # prints one JSON line
//
// What a step multiplies (float32, row-major; B = batch, P = output pixels of a conv):
//   linear in -> out      forward  Y = X W^T          B x out x in
//                         dW = G^T X                  out x in x B
//                         dX = G W (not for the first layer: the image needs no gradient)
//   conv C -> O, k x k    forward  W (O x Ckk) times the image columns (Ckk x B P), one call
//                         dW = G (O x B P) times columns^T, dX columns = W^T G (not conv1)
// The conv products are timed as ONE call over the whole batch's columns (the layout
// ops/conv.cpp would need to do that), so the floor is what the step would cost if
// im2col, col2im, the bias and everything else were free. bench/train_vs_torch.sh runs it
// beside chalk-train and reports chalk / floor.
//
// Output: {"model", "threads", "batch", "gemms", "gflop_per_step", "seconds_per_step"
// (median of --repeats timed steps after one warm-up), "gflops"}.
// Errors: a bad flag exits 2 (CLI11); built only with BLAS (CMake: CHALK_HAVE_BLAS).
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "core/gemm.h"
#include "core/parallel.h"

namespace {

struct Product {
  bool ta, tb;
  int M, N, K;  // C (M x N) = op(A) (M x K) op(B) (K x N)
};

// The products of one training step (forward and backward) of `model` at batch B.
std::vector<Product> step_products(const std::string& model, int B) {
  std::vector<Product> p;
  auto linear = [&](int in, int out, bool dx) {
    p.push_back({false, true, B, out, in});   // Y = X W^T
    p.push_back({true, false, out, in, B});   // dW = G^T X
    if (dx) p.push_back({false, false, B, in, out});  // dX = G W
  };
  auto conv = [&](int C, int O, int k, int HW, bool dx) {
    const int Ckk = C * k * k, BP = B * HW * HW;  // stride 1, "same" padding
    p.push_back({false, false, O, BP, Ckk});  // Y = W cols
    p.push_back({false, true, O, Ckk, BP});   // dW = G cols^T
    if (dx) p.push_back({true, false, Ckk, BP, O});  // dcols = W^T G
  };
  if (model == "mlp") {
    linear(784, 256, false), linear(256, 128, true), linear(128, 10, true);
  } else {
    conv(1, 16, 5, 28, false), conv(16, 32, 5, 14, true);
    linear(32 * 7 * 7, 128, true), linear(128, 10, true);
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  chalk::use_best_blas_kernels(argc, argv);  // the kernels chalk-train uses (core/gemm.h)
  CLI::App app{"gemm_floor: the GEMMs of one training step alone, through CBLAS"};
  std::string model = "mlp";
  int threads = 1, batch = 128, repeats = 30;
  app.add_option("--model", model, "mlp | cnn")->check(CLI::IsMember({"mlp", "cnn"}));
  app.add_option("--threads", threads, "OpenBLAS threads (set_num_threads)")->check(CLI::Range(1, 1024));
  app.add_option("--batch", batch, "batch size")->check(CLI::Range(1, 65536));
  app.add_option("--repeats", repeats, "timed steps (the median is reported)")->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);
  chalk::set_num_threads(threads);

  const auto products = step_products(model, batch);
  std::vector<std::vector<float>> a, b, c;
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  double flop = 0;
  for (const auto& p : products) {
    auto fill = [&](std::size_t n) {
      std::vector<float> v(n);
      for (auto& x : v) x = normal(gen);
      return v;
    };
    a.push_back(fill(static_cast<std::size_t>(p.M) * p.K));
    b.push_back(fill(static_cast<std::size_t>(p.K) * p.N));
    c.push_back(std::vector<float>(static_cast<std::size_t>(p.M) * p.N));
    flop += 2.0 * p.M * p.N * p.K;
  }
  auto step = [&] {
    for (std::size_t i = 0; i < products.size(); ++i) {
      const Product& p = products[i];
      cblas_sgemm(CblasRowMajor, p.ta ? CblasTrans : CblasNoTrans, p.tb ? CblasTrans : CblasNoTrans, p.M, p.N, p.K,
                  1.0f, a[i].data(), p.ta ? p.M : p.K, b[i].data(), p.tb ? p.K : p.N, 0.0f, c[i].data(), p.N);
    }
  };
  step();  // warm-up: OpenBLAS's buffers, page faults
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  std::printf("{\"model\": \"%s\", \"threads\": %d, \"batch\": %d, \"gemms\": %zu, \"gflop_per_step\": %.4f, "
              "\"seconds_per_step\": %.6g, \"gflops\": %.2f}\n",
              model.c_str(), threads, batch, products.size(), flop * 1e-9, median, flop * 1e-9 / median);
  return 0;
}
