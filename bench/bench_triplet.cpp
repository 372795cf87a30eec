// bench/bench_triplet.cpp — in-batch triplet mining, forward + backward, at the size PyTorch was
// timed at (docs/losses/triplet.md): N = 256 embeddings of D = 64, 16 classes x 16 samples.
//
//   build/bench_triplet --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include "core/autograd.h"
#include "core/random.h"
#include "losses/triplet.h"

using namespace chalk;

namespace {

void run(benchmark::State& state, const char* mining, bool fused) {
  const std::int64_t P = 16, K = 16, N = P * K, D = 64;
  manual_seed(0);
  std::vector<std::int64_t> yv(N);
  for (std::int64_t i = 0; i < N; ++i) yv[i] = i / K;
  const Tensor y = from_vector(yv, {N});
  const Tensor x0 = randn({N, D});
  TripletMining o;
  o.mining = mining;
  for (auto _ : state) {
    Tensor x = x0.detach().requires_grad_();
    Tensor l = fused ? batch_triplet_loss(x, y, o) : batch_triplet_loss_composed(x, y, o);
    l.backward();
    benchmark::DoNotOptimize(x.grad().data<float>());
  }
}

void BM_TripletHard(benchmark::State& s) { run(s, "hard", true); }
void BM_TripletAll(benchmark::State& s) { run(s, "all", true); }
void BM_TripletSemihard(benchmark::State& s) { run(s, "semihard", true); }
void BM_TripletHardComposed(benchmark::State& s) { run(s, "hard", false); }
void BM_TripletAllComposed(benchmark::State& s) { run(s, "all", false); }

}  // namespace

BENCHMARK(BM_TripletHard)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TripletAll)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TripletSemihard)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TripletHardComposed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TripletAllComposed)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
