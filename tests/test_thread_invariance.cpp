// tests/test_thread_invariance.cpp — the thread count never changes a number.
//
// Adaptive threads (core/parallel.h) change the count while a run trains, so every kernel
// splits its work in a way that does not depend on the count (fixed chunks, per-slab partial
// sums added in order). Here, whole training runs prove it.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "core/gemm.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/tensor.h"
#include "losses/loss.h"
#include "nn/module.h"
#include "train/trainer.h"

using namespace chalk;

// OpenBLAS alone gives some elements in the last bit differently for 1 and 2 threads (it
// splits by thread count; e.g. 128 x 784 times 784 x 10): chalk's gemm splits large products
// into tiles that depend on the shape only (core/gemm.cpp). Every shape below, with every
// transpose, in float32 and float64, is bit-identical for 1, 2 and 3 threads.
TEST(ThreadInvariance, GemmGivesTheSameBitsForEveryThreadCount) {
  manual_seed(21);
  int shapes = 0;
  for (const std::int64_t M : {10, 100, 128, 1000})
    for (const std::int64_t K : {10, 784})
      for (const std::int64_t N : {10, 64, 256})
        for (const int trans : {0, 1, 2, 3}) {
          const bool ta = trans & 1, tb = trans & 2;
          for (const DType dt : {DType::Float32, DType::Float64}) {
            const Tensor a = randn({M * K}).to(dt), b = randn({K * N}).to(dt), c0 = randn({M * N}).to(dt);
            auto run = [&](int threads) {
              set_num_threads(threads);
              Tensor c = c0.clone();
              if (dt == DType::Float32)
                gemm<float>(ta, tb, M, N, K, 0.5f, a.data<float>(), ta ? M : K, b.data<float>(), tb ? K : N, 1.0f,
                            c.data<float>(), N);
              else
                gemm<double>(ta, tb, M, N, K, 0.5, a.data<double>(), ta ? M : K, b.data<double>(), tb ? K : N, 1.0,
                             c.data<double>(), N);
              return c.to(DType::Float64).to_vector<double>();
            };
            const auto one = run(1);
            EXPECT_EQ(one, run(2)) << M << " x " << K << " times " << K << " x " << N << ", trans " << trans;
            EXPECT_EQ(one, run(3)) << M << " x " << K << " times " << K << " x " << N << ", trans " << trans;
            ++shapes;
          }
        }
  set_adaptive_threads(0);
  EXPECT_EQ(shapes, 192);
}

// conv2d calls gemm from inside its own parallel loop over images, where OpenBLAS runs on one
// thread; the same product called from outside must give the same bits. It did not before: gemm
// made one BLAS call when nested and tiled the product when not, and OpenBLAS's Haswell kernels
// round a tile's edge rows otherwise (SmallCNN's weights differed between 1 and 2 threads).
TEST(ThreadInvariance, GemmInsideAParallelRegionGivesTheSameBits) {
  manual_seed(22);
  for (const auto& [M, N, K] : std::vector<std::array<std::int64_t, 3>>{{32, 196, 80}, {16, 784, 25}, {400, 196, 32}, {128, 10, 784}})
    for (const int trans : {0, 1, 2, 3}) {
      const bool ta = trans & 1, tb = trans & 2;
      const Tensor a = randn({M * K}), b = randn({K * N}), c0 = randn({M * N});
      auto product = [&]() {
        Tensor c = c0.clone();
        gemm<float>(ta, tb, M, N, K, 1.0f, a.data<float>(), ta ? M : K, b.data<float>(), tb ? K : N, 1.0f, c.data<float>(), N);
        return c.to_vector<float>();
      };
      set_num_threads(1);
      const auto outside = product();
      set_num_threads(2);
      const auto outside2 = product();
      std::vector<float> inside;
#pragma omp parallel num_threads(2)
      {
#pragma omp single
        inside = product();
      }
      EXPECT_EQ(outside, inside) << M << " x " << K << " times " << K << " x " << N << ", trans " << trans;
      EXPECT_EQ(outside, outside2) << M << " x " << K << " times " << K << " x " << N << ", trans " << trans;
    }
  set_adaptive_threads(0);
}

namespace {
// The weights (model and loss) after `epochs` epochs of a short run, with the thread count
// for each epoch given by threads_of_epoch.
std::vector<float> weights_after(const std::string& model, const std::string& loss, const std::vector<int>& threads_of_epoch) {
  TrainConfig c;
  c.data_dir = std::string(CHALK_DATA_DIR) + "/mnist-subset";
  c.model = model;
  c.loss = loss;
  c.epochs = static_cast<int>(threads_of_epoch.size());
  c.limit_train = model == "cnn" ? 256 : 512;
  c.progress = false;
  c.seed = 11;
  Trainer t(c);
  for (int e = 0; e < c.epochs; ++e) {
    set_num_threads(threads_of_epoch[static_cast<std::size_t>(e)]);
    t.train_epoch(e);
  }
  std::vector<float> out;
  for (auto* m : std::initializer_list<nn::Module*>{&t.model(), &t.loss()})
    for (auto& [n, p] : m->named_parameters())
      for (float v : p.to_vector<float>()) out.push_back(v);
  return out;
}
}  // namespace

// Adaptive threads change the count while a run trains; that must not change a number. So:
// the same run with 1 thread, with 2, and switching between them gives bit-identical weights,
// for every registered loss (MLP: 1 thread vs 2 then 1) and for the CNN (1 vs 2) (whose conv backward sums per slab of
// images, ops/conv.cpp).
TEST(ThreadInvariance, TrainingGivesTheSameWeightsForEveryThreadCount) {
  for (const auto& entry : loss_registry()) {
    SCOPED_TRACE(entry.name);
    EXPECT_EQ(weights_after("mlp", entry.name, {1, 1}), weights_after("mlp", entry.name, {2, 1}));
  }
  EXPECT_EQ(weights_after("cnn", "softmax", {1, 1}), weights_after("cnn", "softmax", {2, 2})) << "SmallCNN";
  set_adaptive_threads(0);
}
