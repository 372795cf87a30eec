// bench/bench_core.cpp — what chalk's core costs, next to what it cannot beat.
//
//   ./build/bench_core --benchmark_min_time=0.05        (quick look)
//   ./build/bench_core --benchmark_filter=Matmul         (one group)
//
// Three groups, each with its reference beside it so the ratio can be read:
//   1. matmul forward + backward through autograd vs the raw GEMM calls it
//      makes: forward C = A B (1 GEMM), backward dA = g B^T and dB = A^T g
//      (2 GEMMs, same transpose flags as ops/linalg.cpp). Counter: FLOP/s.
//   2. element-wise add, mul, relu on 1M floats, forward and forward +
//      backward, vs a memcpy of the same bytes. Counter: bytes/s, counting
//      the arrays an ideal kernel must read and write (listed per benchmark).
//   3. autograd bookkeeping on 1-element tensors: add with a graph node,
//      without (NoGradGuard), and forward + backward, to isolate the per-op
//      overhead (allocation, std::function, shared_ptr) from the math.
// Groups 1 and 2 run on OpenMP/BLAS threads, so they are timed in wall-clock
// time (UseRealTime); on a shared machine compare rows of one run, not runs.
// Group 3 is single-threaded (CPU time).
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/tensor.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"

#ifdef CHALK_HAVE_BLAS
#include <cblas.h>
#endif

using namespace chalk;

namespace {

// ---------------------------------------------------------------- 1. matmul

// C (M x N) = A (M x K) B (K x N), row-major float32, through GEMM directly.
void raw_sgemm(bool ta, bool tb, std::int64_t M, std::int64_t N, std::int64_t K, const float* A,
               std::int64_t lda, const float* B, std::int64_t ldb, float* C, std::int64_t ldc) {
#ifdef CHALK_HAVE_BLAS
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A,
              lda, B, ldb, 0.0f, C, ldc);
#else
  gemm<float>(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);  // no BLAS: chalk's blocked GEMM
#endif
}

void set_flops(benchmark::State& state, double gemms) {
  const double M = state.range(0), K = state.range(1), N = state.range(2);
  state.counters["FLOP/s"] = benchmark::Counter(gemms * 2 * M * N * K, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Matmul_Autograd_Fwd(benchmark::State& state) {
  const std::int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  manual_seed(1);
  Tensor a = randn({M, K}).requires_grad_(), b = randn({K, N}).requires_grad_();
  for (auto _ : state) {
    Tensor c = matmul(a, b);
    benchmark::DoNotOptimize(c.data<float>());
  }
  set_flops(state, 1);
}

void BM_Matmul_RawSgemm_Fwd(benchmark::State& state) {
  const std::int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  manual_seed(1);
  const Tensor a = randn({M, K}), b = randn({K, N});
  std::vector<float> c(M * N);
  for (auto _ : state) {
    raw_sgemm(false, false, M, N, K, a.data<float>(), K, b.data<float>(), N, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(state, 1);
}

void BM_Matmul_Autograd_FwdBwd(benchmark::State& state) {
  const std::int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  manual_seed(1);
  Tensor a = randn({M, K}).requires_grad_(), b = randn({K, N}).requires_grad_();
  const Tensor g = randn({M, N});
  for (auto _ : state) {
    Tensor c = matmul(a, b);
    c.backward(g);
    benchmark::DoNotOptimize(a.grad().data<float>());
    a.zero_grad();
    b.zero_grad();
  }
  set_flops(state, 3);
}

void BM_Matmul_RawSgemm_FwdBwd(benchmark::State& state) {
  const std::int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  manual_seed(1);
  const Tensor a = randn({M, K}), b = randn({K, N}), g = randn({M, N});
  std::vector<float> c(M * N), da(M * K), db(K * N);
  const float *pa = a.data<float>(), *pb = b.data<float>(), *pg = g.data<float>();
  for (auto _ : state) {
    raw_sgemm(false, false, M, N, K, pa, K, pb, N, c.data(), N);   // C  = A B       (M x N)
    raw_sgemm(false, true, M, K, N, pg, N, pb, N, da.data(), K);   // dA = g B^T     (M x K)
    raw_sgemm(true, false, K, N, M, pa, K, pg, N, db.data(), N);   // dB = A^T g     (K x N)
    benchmark::DoNotOptimize(db.data());
  }
  set_flops(state, 3);
}

void MatmulSizes(benchmark::internal::Benchmark* b) {
  b->Args({128, 784, 256})->Args({512, 512, 512})->ArgNames({"M", "K", "N"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}
BENCHMARK(BM_Matmul_Autograd_Fwd)->Apply(MatmulSizes);
BENCHMARK(BM_Matmul_RawSgemm_Fwd)->Apply(MatmulSizes);
BENCHMARK(BM_Matmul_Autograd_FwdBwd)->Apply(MatmulSizes);
BENCHMARK(BM_Matmul_RawSgemm_FwdBwd)->Apply(MatmulSizes);

// ---------------------------------------------------------------- 2. element-wise, 1M floats

constexpr std::int64_t kN = 1 << 20;
constexpr std::int64_t kArrayBytes = kN * sizeof(float);

void set_bytes(benchmark::State& state, int arrays) {
  state.SetBytesProcessed(state.iterations() * arrays * kArrayBytes);
}

// memcpy: read 1 array, write 1 array (2 arrays).
void BM_Memcpy_1M(benchmark::State& state) {
  std::vector<float> src(kN, 1.0f), dst(kN);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), kArrayBytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, 2);
}

// The same copy split over chalk's threads (parallel_memcpy, what Tensor::clone does):
// the bandwidth the element-wise ops, which also run on every thread, can reach.
void BM_MemcpyParallel_1M(benchmark::State& state) {
  std::vector<float> src(kN, 1.0f), dst(kN);
  for (auto _ : state) {
    parallel_memcpy(dst.data(), src.data(), kArrayBytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, 2);
}

enum class Op { Add, Mul, Relu };

Tensor apply(Op op, const Tensor& a, const Tensor& b) {
  switch (op) {
    case Op::Add: return add(a, b);
    case Op::Mul: return mul(a, b);
    case Op::Relu: return relu(a);
  }
  return a;
}

// Forward: add/mul read a, b, write y (3 arrays); relu reads x, writes y (2).
template <Op op>
void BM_Elementwise_Fwd_1M(benchmark::State& state) {
  manual_seed(2);
  Tensor a = randn({kN}).requires_grad_(), b = randn({kN}).requires_grad_();
  for (auto _ : state) {
    Tensor y = apply(op, a, b);
    benchmark::DoNotOptimize(y.data<float>());
  }
  set_bytes(state, op == Op::Relu ? 2 : 3);
}

// Forward + backward with an upstream gradient g of 1M:
//   add  3 (fwd) + read g, write da, db (3) = 6 arrays
//   mul  3 (fwd) + read g, a, b, write da, db (5) = 8 arrays
//   relu 2 (fwd) + read g, y, write dx (3) = 5 arrays
template <Op op>
void BM_Elementwise_FwdBwd_1M(benchmark::State& state) {
  manual_seed(2);
  Tensor a = randn({kN}).requires_grad_(), b = randn({kN}).requires_grad_();
  const Tensor g = randn({kN});
  for (auto _ : state) {
    Tensor y = apply(op, a, b);
    y.backward(g);
    benchmark::DoNotOptimize(a.grad().data<float>());
    a.zero_grad();
    b.zero_grad();
  }
  set_bytes(state, op == Op::Add ? 6 : op == Op::Mul ? 8 : 5);
}

BENCHMARK(BM_Memcpy_1M)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_MemcpyParallel_1M)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Elementwise_Fwd_1M<Op::Add>)->Name("BM_Add_Fwd_1M")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Elementwise_Fwd_1M<Op::Mul>)->Name("BM_Mul_Fwd_1M")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Elementwise_Fwd_1M<Op::Relu>)->Name("BM_Relu_Fwd_1M")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Elementwise_FwdBwd_1M<Op::Add>)->Name("BM_Add_FwdBwd_1M")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Elementwise_FwdBwd_1M<Op::Mul>)->Name("BM_Mul_FwdBwd_1M")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Elementwise_FwdBwd_1M<Op::Relu>)->Name("BM_Relu_FwdBwd_1M")->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---------------------------------------------------------------- 3. bookkeeping, 1 element

// add of two 1-element tensors that require grad: allocates y and records a Node
void BM_TinyAdd_RecordsNode(benchmark::State& state) {
  Tensor a = ones({1}).requires_grad_(), b = ones({1}).requires_grad_();
  for (auto _ : state) {
    Tensor y = add(a, b);
    benchmark::DoNotOptimize(y.impl());
  }
}

// the same under NoGradGuard: allocation + kernel only, no Node
void BM_TinyAdd_NoGradGuard(benchmark::State& state) {
  Tensor a = ones({1}).requires_grad_(), b = ones({1}).requires_grad_();
  NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = add(a, b);
    benchmark::DoNotOptimize(y.impl());
  }
}

// forward + backward (seed, topological sort, VJP, leaf accumulation)
void BM_TinyAdd_FwdBwd(benchmark::State& state) {
  Tensor a = ones({1}).requires_grad_(), b = ones({1}).requires_grad_();
  for (auto _ : state) {
    Tensor y = add(a, b);
    y.backward();
    benchmark::DoNotOptimize(a.grad().impl());
    a.zero_grad();
    b.zero_grad();
  }
}

// a chain of 100 tiny ops, forward + backward: per-op cost of a long graph
void BM_TinyChain100_FwdBwd(benchmark::State& state) {
  Tensor x = ones({1}).requires_grad_();
  for (auto _ : state) {
    Tensor y = x;
    for (int i = 0; i < 100; ++i) y = y * 1.0001;
    y.backward();
    benchmark::DoNotOptimize(x.grad().impl());
    x.zero_grad();
  }
  state.SetItemsProcessed(state.iterations() * 100);
}

BENCHMARK(BM_TinyAdd_RecordsNode);
BENCHMARK(BM_TinyAdd_NoGradGuard);
BENCHMARK(BM_TinyAdd_FwdBwd);
BENCHMARK(BM_TinyChain100_FwdBwd)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  use_best_blas_kernels(argc, argv);  // as chalk-train does (core/gemm.h)
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("chalk GEMM", gemm_backend());
  benchmark::AddCustomContext("chalk threads", std::to_string(num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
