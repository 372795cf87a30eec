// bench/bench_centroid_cost.cpp — the paper's headline, measured: the exact all-triplets
// loss L_t costs O(N^3), the centroid bound O(N) (fixed C and D).
//
//   build/bench_centroid_cost            (prints Google Benchmark's table, then the fitted
//                                          exponents b of time ~ a N^b for both)
// C = 10 classes, D = 64, balanced batches of N = C n.
#include <benchmark/benchmark.h>

#include <cmath>
#include <iostream>
#include <map>
#include <vector>

#include "core/autograd.h"
#include "core/random.h"
#include "losses/centroid.h"

using namespace chalk;

namespace {

constexpr std::int64_t kC = 10, kD = 64;

Tensor labels_for(std::int64_t N) {
  std::vector<std::int64_t> y(N);
  for (std::int64_t i = 0; i < N; ++i) y[i] = i % kC;
  return from_vector(y, {N});
}

void BM_AllTriplets(benchmark::State& state) {
  const std::int64_t N = state.range(0);
  manual_seed(0);
  const Tensor x = randn({N, kD}, DType::Float64), y = labels_for(N);
  for (auto _ : state) benchmark::DoNotOptimize(all_triplets_loss(x, y));
  state.counters["N"] = static_cast<double>(N);
}

void BM_CentroidBound(benchmark::State& state) {
  const std::int64_t N = state.range(0);
  manual_seed(0);
  const Tensor x = randn({N, kD}, DType::Float64), y = labels_for(N);
  const Tensor c = onehot_centroids(kC, kD, DType::Float64);
  NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(centroid_bound_sum(x, y, c));
  state.counters["N"] = static_cast<double>(N);
}

BENCHMARK(BM_AllTriplets)->Arg(40)->Arg(80)->Arg(160)->Arg(320)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CentroidBound)->Arg(1000)->Arg(4000)->Arg(16000)->Arg(64000)->Unit(benchmark::kMillisecond);

// Collects (N, seconds per iteration) per benchmark family to fit log t = log a + b log N.
class FitReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      const std::string name = r.benchmark_name();
      const std::string family = name.substr(0, name.find('/'));
      const double n = std::stod(name.substr(name.find('/') + 1));
      points_[family].push_back({std::log(n), std::log(r.GetAdjustedRealTime())});
    }
  }
  void print_fits() const {
    for (const auto& [family, pts] : points_) {
      double mx = 0, my = 0;
      for (auto [x, y] : pts) mx += x, my += y;
      mx /= pts.size(), my /= pts.size();
      double sxy = 0, sxx = 0;
      for (auto [x, y] : pts) sxy += (x - mx) * (y - my), sxx += (x - mx) * (x - mx);
      std::cout << family << ": time ~ N^" << sxy / sxx << "  (least squares on log-log, " << pts.size()
                << " sizes)\n";
    }
  }

 private:
  std::map<std::string, std::vector<std::pair<double, double>>> points_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  FitReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_fits();
  benchmark::Shutdown();
}
