// bench/bench_losses.cpp — forward + backward of every chalk loss on one metric-learning batch.
//
//   ./build/bench_losses                                     (all losses, 2 threads)
//   ./build/bench_losses --benchmark_filter=arcface          (one loss)
//   CHALK_BENCH_THREADS=1 ./build/bench_losses               (another thread count)
//   bench/losses_vs_torch.sh                                  (the same next to PyTorch: bench/losses_torch.py)
//
// The batch: N = 256 embeddings of D = 64 floats (randn), labels 16 classes x 16 samples
// (label i / 16, a P x K batch). One iteration = loss = L(x, y); loss.backward(); i.e. the
// forward, the backward to x and to the loss's own parameters (W of the softmax family), and
// zeroing those gradients. Losses are built through the registry (losses/registry.cpp), with
// these options (chalk-train's defaults when this was written), set here because
// bench/losses_torch.py uses the same numbers:
//   cross_entropy      "softmax", emb_dim 0: on 256 x 10 logits (randn), labels i % 10
//   normface           s = 16,            C = 10, labels i % 10
//   cosface            s = 30, m = 0.35,  C = 10
//   arcface_C10        s = 30, m = 0.5,   C = 10
//   arcface_C16        s = 30, m = 0.5,   C = 16, labels i / 16
//   sphereface         m = 4, lambda = 5 (the annealed value), C = 10
//   combined           s = 30, m1 = 1, m2 = 0.3, m3 = 0.2, C = 10
//   centroid           onehot centroids, C = 16 (needs D >= C), no normalisation
//   triplet_hard       batch-hard, euclidean, margin 0.2, normalised    (when "triplet" is in
//   triplet_all        batch-all, reduction nonzero, otherwise the same  the registry)
// The PyTorch twin (bench/losses_torch.py) builds the same batch shapes and definitions
// (docs/losses/*.md). Timed in wall-clock time (UseRealTime): the GEMMs and loops may use threads.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/gemm.h"
#include "core/autograd.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/tensor.h"
#include "losses/loss.h"

using namespace chalk;

namespace {

constexpr std::int64_t kN = 256, kD = 64, kK = 16;  // batch, embedding size, samples per class

struct Case {
  std::string name, loss;
  std::int64_t classes;  // C of the loss (labels drawn from it)
  LossOptions options;
  bool logits_input = false;  // cross-entropy: the input is N x C logits, not N x D embeddings
};

std::vector<Case> cases() {
  auto opts = [](std::int64_t C, std::int64_t D) {
    LossOptions o;
    o.num_classes = C;
    o.emb_dim = D;
    o.seed = 1;
    return o;
  };
  std::vector<Case> v;
  v.push_back({"cross_entropy", "softmax", 10, opts(10, 0), true});
  Case norm{"normface", "normface", 10, opts(10, kD)};
  norm.options.set("scale", 16.0);
  v.push_back(norm);
  Case cos{"cosface", "cosface", 10, opts(10, kD)};
  cos.options.set("scale", 30.0).set("margin", 0.35);
  v.push_back(cos);
  Case arc10{"arcface_C10", "arcface", 10, opts(10, kD)};
  arc10.options.set("scale", 30.0).set("margin", 0.5);
  v.push_back(arc10);
  Case arc16 = arc10;
  arc16.name = "arcface_C16";
  arc16.classes = 16;
  arc16.options.num_classes = 16;
  v.push_back(arc16);
  Case sphere{"sphereface", "sphereface", 10, opts(10, kD)};
  sphere.options.set("sphere_m", 4);
  v.push_back(sphere);
  Case combined{"combined", "combined", 10, opts(10, kD)};
  combined.options.set("scale", 30.0).set("m1", 1.0).set("m2", 0.3).set("m3", 0.2);
  v.push_back(combined);
  Case cen{"centroid", "centroid", 16, opts(16, kD)};
  cen.options.set("centroids", "onehot").set("normalize", false);  // as the PyTorch side: no normalisation
  v.push_back(cen);
  for (const char* mining : {"hard", "all"}) {
    Case t{std::string("triplet_") + mining, "triplet", 16, opts(16, kD)};
    t.options.set("mining", mining).set("distance", "euclidean").set("margin", 0.2).set("normalize", true);
    if (std::string(mining) == "all") t.options.set("reduction", "nonzero");
    v.push_back(t);
  }
  return v;
}

bool registered(const std::string& loss) {
  for (const auto& e : loss_registry())
    if (e.name == loss) return true;
  return false;
}

void BM_Loss(benchmark::State& state, const Case& c) {
  manual_seed(7);
  std::shared_ptr<Loss> loss = make_loss(c.loss, c.options);
  loss->set_iteration(1000000);  // SphereFace: lambda annealed to its floor (5); others ignore it
  loss->train();
  // labels: 16 classes x 16 samples (i / 16) when C = 16, else i % C
  std::vector<std::int64_t> lab(kN);
  for (std::int64_t i = 0; i < kN; ++i) lab[i] = c.classes == kN / kK ? i / kK : i % c.classes;
  const Tensor y = from_vector(lab, {kN});
  Tensor x = randn({kN, c.logits_input ? c.classes : kD}).requires_grad_();
  std::vector<Tensor> params = loss->parameters();
  for (auto _ : state) {
    Tensor l = loss->forward(x, y);
    l.backward();
    benchmark::DoNotOptimize(x.grad().data<float>());
    x.zero_grad();
    for (auto& p : params) p.zero_grad();
  }
  state.SetItemsProcessed(state.iterations() * kN);
  state.counters["threads"] = num_threads();
}

}  // namespace

int main(int argc, char** argv) {
  use_best_blas_kernels(argc, argv);  // as chalk-train does (core/gemm.h)
  int threads = 2;
  if (const char* t = std::getenv("CHALK_BENCH_THREADS")) threads = std::atoi(t);
  set_num_threads(threads > 0 ? threads : 2);
  for (const Case& c : cases()) {
    if (!registered(c.loss)) continue;  // e.g. the triplet family before its branch is merged
    benchmark::RegisterBenchmark(("BM_Loss/" + c.name).c_str(), BM_Loss, c)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("chalk_threads", std::to_string(num_threads()));
  const char* vars[] = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"};
  for (const char* v : vars)
    if (const char* s = std::getenv(v)) benchmark::AddCustomContext(v, s);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
