// ---- exercise 12 whole file ----
// tests/exercises/mistakes_12_optimizer_step.cpp — wrong answers to exercise 12 (sgd_update,
// adam_update) that students write, and the diagnosis docs/exercises/12-optimizer-step.md
// promises for each. A student edition that blanks exercise 12 leaves this file out.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/exercises/check_12_optimizer_step.h"

using namespace chalk;
using namespace chalk::checker;

namespace {

// Each wrong answer is one template (T = float, double), as the student writes it in nn/optim.cpp;
// `with` puts its float64 and float32 instantiations beside chalk's other function.
template <template <typename> class Sgd>
OptimizerUpdates with_sgd() {
  OptimizerUpdates u = library_updates();
  u.sgd = Sgd<double>::update;
  u.sgd_float32 = Sgd<float>::update;
  return u;
}
template <template <typename> class Adam>
OptimizerUpdates with_adam() {
  OptimizerUpdates u = library_updates();
  u.adam = Adam<double>::update;
  u.adam_float32 = Adam<float>::update;
  return u;
}

// The buffer started at zero: the general rule at every step, the first one included.
template <typename T>
struct BufferFromZero {
  static void update(T* p, const T* g, T* b, std::int64_t n, bool, const nn::SGDOptions& o) {
    const T lr = T(o.lr), wd = T(o.weight_decay), mu = T(o.momentum), damp = T(1 - o.dampening);
    for (std::int64_t k = 0; k < n; ++k) {
      T d = g[k] + wd * p[k];
      if (o.momentum != 0) {
        b[k] = mu * b[k] + damp * d;
        d = o.nesterov ? d + mu * b[k] : b[k];
      }
      p[k] -= lr * d;
    }
  }
};

// Nesterov's step taken as the buffer itself, as plain momentum does.
template <typename T>
struct NesterovByTheBuffer {
  static void update(T* p, const T* g, T* b, std::int64_t n, bool first, const nn::SGDOptions& o) {
    const T lr = T(o.lr), wd = T(o.weight_decay), mu = T(o.momentum), damp = T(1 - o.dampening);
    for (std::int64_t k = 0; k < n; ++k) {
      T d = g[k] + wd * p[k];
      if (o.momentum != 0) {
        b[k] = first ? d : mu * b[k] + damp * d;
        d = b[k];
      }
      p[k] -= lr * d;
    }
  }
};

// The weight decay added after the momentum: the buffer averages the bare gradient.
template <typename T>
struct WeightDecayAfterMomentum {
  static void update(T* p, const T* g, T* b, std::int64_t n, bool first, const nn::SGDOptions& o) {
    const T lr = T(o.lr), wd = T(o.weight_decay), mu = T(o.momentum), damp = T(1 - o.dampening);
    for (std::int64_t k = 0; k < n; ++k) {
      T d = g[k];
      if (o.momentum != 0) {
        b[k] = first ? d : mu * b[k] + damp * d;
        d = o.nesterov ? d + mu * b[k] : b[k];
      }
      p[k] -= lr * (d + wd * p[k]);
    }
  }
};

// No branch for momentum = 0: the buffer is written (SGD passes null there).
template <typename T>
struct BufferWithoutMomentum {
  static void update(T* p, const T* g, T* b, std::int64_t n, bool first, const nn::SGDOptions& o) {
    const T lr = T(o.lr), wd = T(o.weight_decay), mu = T(o.momentum), damp = T(1 - o.dampening);
    for (std::int64_t k = 0; k < n; ++k) {
      const T d = g[k] + wd * p[k];
      b[k] = first ? d : mu * b[k] + damp * d;
      p[k] -= lr * (o.nesterov ? d + mu * b[k] : b[k]);
    }
  }
};

// A step up the gradient instead of down.
template <typename T>
struct UpTheGradient {
  static void update(T* p, const T* g, T* b, std::int64_t n, bool first, const nn::SGDOptions& o) {
    const T lr = T(o.lr), wd = T(o.weight_decay), mu = T(o.momentum), damp = T(1 - o.dampening);
    for (std::int64_t k = 0; k < n; ++k) {
      T d = g[k] + wd * p[k];
      if (o.momentum != 0) {
        b[k] = first ? d : mu * b[k] + damp * d;
        d = o.nesterov ? d + mu * b[k] : b[k];
      }
      p[k] += lr * d;
    }
  }
};

// Adam as the moments stand, without bias correction (m and v are biased towards 0).
template <typename T>
struct AdamWithoutBiasCorrection {
  static void update(T* p, const T* g, T* m, T* v, std::int64_t n, std::int64_t, const nn::AdamOptions& o,
                     bool decoupled) {
    for (std::int64_t k = 0; k < n; ++k) {
      if (decoupled) p[k] = T(p[k] * (1 - o.lr * o.weight_decay));
      const double gk = g[k] + (decoupled ? 0.0 : o.weight_decay * p[k]);
      m[k] = T(o.beta1 * m[k] + (1 - o.beta1) * gk);
      v[k] = T(o.beta2 * v[k] + (1 - o.beta2) * gk * gk);
      p[k] = T(p[k] - o.lr * m[k] / (std::sqrt(double(v[k])) + o.eps));
    }
  }
};

// eps inside the square root: sqrt(v_hat + eps).
template <typename T>
struct EpsInsideTheSqrt {
  static void update(T* p, const T* g, T* m, T* v, std::int64_t n, std::int64_t t, const nn::AdamOptions& o,
                     bool decoupled) {
    const double bc1 = 1 - std::pow(o.beta1, double(t)), bc2 = 1 - std::pow(o.beta2, double(t));
    for (std::int64_t k = 0; k < n; ++k) {
      if (decoupled) p[k] = T(p[k] * (1 - o.lr * o.weight_decay));
      const double gk = g[k] + (decoupled ? 0.0 : o.weight_decay * p[k]);
      m[k] = T(o.beta1 * m[k] + (1 - o.beta1) * gk);
      v[k] = T(o.beta2 * v[k] + (1 - o.beta2) * gk * gk);
      p[k] = T(p[k] - o.lr * (m[k] / bc1) / std::sqrt(v[k] / bc2 + o.eps));
    }
  }
};

}  // namespace

TEST(Exercise12Checker, RecognisesTheFirstStepsBufferStartedAtZero) {
  const Verdict v = check_12(with_sgd<BufferFromZero>());
  EXPECT_EQ(v.kind, "first-step") << v.text;
  EXPECT_NE(v.text.find("right from step 2 on, wrong at step 1: the first step's buffer"), std::string::npos) << v.text;
}

TEST(Exercise12Checker, RecognisesNesterovStepByTheBufferAlone) {
  const Verdict v = check_12(with_sgd<NesterovByTheBuffer>());
  EXPECT_EQ(v.kind, "nesterov") << v.text;
  EXPECT_NE(v.text.find("wrong only with nesterov = true: your Nesterov step moves p exactly as plain momentum does"),
            std::string::npos)
      << v.text;
}

TEST(Exercise12Checker, RecognisesWeightDecayAppliedAfterTheMomentum) {
  const Verdict v = check_12(with_sgd<WeightDecayAfterMomentum>());
  EXPECT_EQ(v.kind, "weight-decay") << v.text;
  EXPECT_NE(v.text.find("wrong with both: the weight decay is applied at the wrong point"), std::string::npos) << v.text;
}

TEST(Exercise12Checker, RecognisesABufferUsedWithoutMomentum) {
  const Verdict v = check_12(with_sgd<BufferWithoutMomentum>());
  EXPECT_EQ(v.kind, "momentum-buffer") << v.text;
  EXPECT_NE(v.text.find("with momentum = 0 your function used momentum_buffer"), std::string::npos) << v.text;
}

TEST(Exercise12Checker, RecognisesAStepUpTheGradient) {
  const Verdict v = check_12(with_sgd<UpTheGradient>());
  EXPECT_EQ(v.kind, "sign") << v.text;
}

TEST(Exercise12Checker, RecognisesAdamWithoutBiasCorrection) {
  const Verdict v = check_12(with_adam<AdamWithoutBiasCorrection>());
  EXPECT_EQ(v.kind, "bias-correction") << v.text;
  // betas (0.9, 0.999): (1 - 0.9) / sqrt(1 - 0.999) = 3.162 at step 1
  EXPECT_NE(v.text.find("yours is 3.162"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("depends on the step count t: the bias correction"), std::string::npos) << v.text;
}

TEST(Exercise12Checker, RecognisesEpsInsideTheSquareRoot) {
  const Verdict v = check_12(with_adam<EpsInsideTheSqrt>());
  EXPECT_EQ(v.kind, "eps") << v.text;
  EXPECT_NE(v.text.find("right with eps = 0, wrong with eps > 0: where eps enters the denominator"), std::string::npos)
      << v.text;
}
