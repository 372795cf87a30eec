// bench/bench_conv.cpp — SmallCNN's convolution layers at batch 128, to tune ops/conv.cpp.
//
//   ./build/bench_conv --benchmark_min_time=0.5            (everything, 1 and 2 threads)
//   ./build/bench_conv --benchmark_filter='Conv2/.*/2'      (second conv, 2 threads)
//
// The layers (nn/models.cpp, SmallCNN), batch N = 128, float32:
//   conv1     x 128 x 1 x 28 x 28,  w 16 x 1 x 5 x 5,  pad 2  -> 128 x 16 x 28 x 28
//             the input is the image: no dx (dx.wants(0) is false)
//   conv2     x 128 x 16 x 14 x 14, w 32 x 16 x 5 x 5, pad 2  -> 128 x 32 x 14 x 14
//             x requires a gradient (it comes from conv1)
//   pool1/2   max_pool2d(2) on conv1's / conv2's output
//   stack     conv1 -> relu -> pool -> conv2 -> relu -> pool: the convolutional part of one
//             SmallCNN training step (the two linear layers and the loss are not included)
// Each layer is timed forward only (Fwd, the graph is still recorded, as in training) and
// forward + backward with a fixed random upstream gradient (FwdBwd; the weight and bias
// gradients are dropped after each iteration, as an optimiser's zero_grad would).
// GemmFloor: the GEMMs alone, each as one call over the whole batch (the shapes conv2d's
// im2col + GEMM computes), i.e. what the layer would cost if im2col, col2im and the bias
// were free. Counter FLOP/s: 2 N O OH OW C KH KW per GEMM (forward: 1, with dx: 3, without: 2).
// The last argument is the thread count (set_num_threads: chalk's OpenMP loops and BLAS).
// Wall-clock time (UseRealTime). The machine may be shared: compare rows of one run.
// One epoch of MNIST at batch 128 is 469 steps: epoch conv cost ~ 469 x Stack_FwdBwd.
#include <benchmark/benchmark.h>

#include <vector>

#include "core/autograd.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/tensor.h"
#include "ops/conv.h"
#include "ops/dropout.h"
#include "ops/pooling.h"
#include "ops/elementwise.h"
#include "ops/distances.h"
#include "ops/softmax.h"

using namespace chalk;

namespace {

struct Layer {
  std::int64_t C, HW, O, K;
  int pad;
  bool input_grad;  // does x require a gradient (not for the first layer: the image)
};
// range(0) selects the layer
const Layer kLayers[] = {{1, 28, 16, 5, 2, false}, {16, 14, 32, 5, 2, true}};
constexpr std::int64_t kBatch = 128;

struct Threads {
  int before = num_threads();
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(before); }
};

double layer_flops(const Layer& l, int gemms) {
  const double OHW = static_cast<double>(l.HW + 2 * l.pad - l.K + 1);
  return gemms * 2.0 * kBatch * l.O * OHW * OHW * l.C * l.K * l.K;
}

// A layer's input, weight and bias (seeded), with gradients where the layer needs them.
struct ConvOperands {
  Tensor x, w, b;
  explicit ConvOperands(const Layer& l) {
    manual_seed(1);
    x = randn({kBatch, l.C, l.HW, l.HW});
    if (l.input_grad) x.requires_grad_();
    w = randn({l.O, l.C, l.K, l.K}).requires_grad_();
    b = randn({l.O}).requires_grad_();
  }
};

void BM_Conv_Fwd(benchmark::State& state) {
  const Layer l = kLayers[state.range(0)];
  Threads threads(static_cast<int>(state.range(1)));
  auto [x, w, b] = ConvOperands(l);
  for (auto _ : state) {
    Tensor y = conv2d(x, w, b, 1, l.pad);
    benchmark::DoNotOptimize(y.data<float>());
  }
  state.counters["FLOP/s"] = benchmark::Counter(layer_flops(l, 1), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Conv_FwdBwd(benchmark::State& state) {
  const Layer l = kLayers[state.range(0)];
  Threads threads(static_cast<int>(state.range(1)));
  auto [x, w, b] = ConvOperands(l);
  const std::int64_t OHW = l.HW + 2 * l.pad - l.K + 1;
  const Tensor up = randn({kBatch, l.O, OHW, OHW});
  for (auto _ : state) {
    Tensor y = conv2d(x, w, b, 1, l.pad);
    y.backward(up);
    benchmark::DoNotOptimize(w.grad().data<float>());
    w.zero_grad();
    b.zero_grad();
    if (l.input_grad) x.zero_grad();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(layer_flops(l, l.input_grad ? 3 : 2), benchmark::Counter::kIsIterationInvariantRate);
}

// The same GEMMs as one call each over the whole batch, on ready-made column matrices.
//   forward  y   (O x NP)   = W (O x CKK) col (CKK x NP)
//   dW       dW  (O x CKK)  = g (O x NP) col^T
//   dx       dcol (CKK x NP) = W^T g          (only when x needs a gradient)
void BM_Conv_GemmFloor(benchmark::State& state) {
  const Layer l = kLayers[state.range(0)];
  Threads threads(static_cast<int>(state.range(1)));
  const std::int64_t OHW = l.HW + 2 * l.pad - l.K + 1, NP = kBatch * OHW * OHW, CKK = l.C * l.K * l.K;
  std::vector<float> col(CKK * NP, 0.5f), dcol(CKK * NP), y(l.O * NP), g(l.O * NP, 0.25f), w(l.O * CKK, 0.1f),
      dw(l.O * CKK);
  for (auto _ : state) {
    gemm<float>(false, false, l.O, NP, CKK, 1.0f, w.data(), CKK, col.data(), NP, 0.0f, y.data(), NP);
    gemm<float>(false, true, l.O, CKK, NP, 1.0f, g.data(), NP, col.data(), NP, 0.0f, dw.data(), CKK);
    if (l.input_grad)
      gemm<float>(true, false, CKK, NP, l.O, 1.0f, w.data(), CKK, g.data(), NP, 0.0f, dcol.data(), NP);
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(layer_flops(l, l.input_grad ? 3 : 2), benchmark::Counter::kIsIterationInvariantRate);
}

// The pool after a conv layer (range(0): which layer), forward + backward; range(2):
//   0 max_pool2d_naive (the general loop)   1 max_pool2d (the 2x2 loop)
//   2 relu, then max_pool2d                 3 relu_max_pool2d (one fused pass)
Tensor pool_kind(int kind, const Tensor& x) {
  switch (kind) {
    case 0: return max_pool2d_naive(x, 2, 2);
    case 1: return max_pool2d(x, 2, 2);
    case 2: return max_pool2d(relu(x), 2, 2);
    default: return relu_max_pool2d(x, 2, 2);
  }
}

void BM_Pool_FwdBwd(benchmark::State& state) {
  const Layer l = kLayers[state.range(0)];
  Threads threads(static_cast<int>(state.range(1)));
  const int kind = static_cast<int>(state.range(2));
  manual_seed(1);
  Tensor x = randn({kBatch, l.O, l.HW, l.HW}).requires_grad_();
  const Tensor up = randn({kBatch, l.O, l.HW / 2, l.HW / 2});
  for (auto _ : state) {
    Tensor y = pool_kind(kind, x);
    y.backward(up);
    benchmark::DoNotOptimize(x.grad().data<float>());
    x.zero_grad();
  }
}

// conv1 -> relu -> pool -> conv2 -> relu -> pool, forward + backward: SmallCNN's conv part
// (range(1): 0 relu then max_pool2d, 1 relu_max_pool2d).
void BM_Stack_FwdBwd(benchmark::State& state) {
  Threads threads(static_cast<int>(state.range(0)));
  const bool fused = state.range(1) != 0;
  manual_seed(1);
  const Tensor image = randn({kBatch, 1, 28, 28});
  Tensor w1 = randn({16, 1, 5, 5}).requires_grad_(), b1 = randn({16}).requires_grad_();
  Tensor w2 = mul(randn({32, 16, 5, 5}), 0.05).detach().requires_grad_(), b2 = randn({32}).requires_grad_();
  const Tensor up = randn({kBatch, 32, 7, 7});
  for (auto _ : state) {
    Tensor h = pool_kind(fused ? 3 : 2, conv2d(image, w1, b1, 1, 2));
    Tensor y = pool_kind(fused ? 3 : 2, conv2d(h, w2, b2, 1, 2));
    y.backward(up);
    benchmark::DoNotOptimize(w1.grad().data<float>());
    for (Tensor* p : {&w1, &b1, &w2, &b2}) p->zero_grad();
  }
}

}  // namespace

BENCHMARK(BM_Conv_Fwd)->ArgNames({"layer", "threads"})->ArgsProduct({{0, 1}, {1, 2}})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_FwdBwd)->ArgNames({"layer", "threads"})->ArgsProduct({{0, 1}, {1, 2}})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_GemmFloor)->ArgNames({"layer", "threads"})->ArgsProduct({{0, 1}, {1, 2}})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Pool_FwdBwd)->ArgNames({"layer", "threads", "kind"})->ArgsProduct({{0, 1}, {1, 2}, {0, 1, 2, 3}})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Stack_FwdBwd)->ArgNames({"threads", "fused"})->ArgsProduct({{1, 2}, {0, 1}})->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
