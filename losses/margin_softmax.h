// losses/margin_softmax.h — the margin-softmax family: NormFace, CosFace, ArcFace, the
// combined (InsightFace) margin and SphereFace (A-Softmax).
// Derivation: docs/losses/margin_softmax.md.  Tests: tests/test_loss_softmax.cpp.
//
// Normalise the embedding x_i (N x D) and every class weight W_j (C x D), drop the bias,
// and the logit becomes a cosine:
//     cos_ij = x_i . W_j / (||x_i|| ||W_j||) = cos(theta_ij)
// (normalize(v) = v / max(||v||, 1e-12), PyTorch's F.normalize). Every loss here is then
// cross-entropy over the logits
//     z_ij = s cos_ij                 for j != y_i     (the other classes: unchanged)
//     z_iy = s f(cos_{i,y_i})         for the target class y_i
// and the losses differ only in the target-logit function f, which puts a margin between
// x and its own W_y:
//     NormFace   f(c) = c
//     CosFace    f(c) = c - m
//     ArcFace    f(c) = cos(theta + m)              (theta = acos c; fallbacks below)
//     combined   f(c) = cos(m1 theta + m2) - m3
//     SphereFace z_ij = ||x_i|| cos_ij, z_iy = ||x_i|| (lambda c + psi(theta)) / (1 + lambda)
// theta = acos(c): d acos/dc = -1/sqrt(1 - c^2) is infinite at c = +-1, but the gradient
// in x and W stays finite (dc/dx has size sin(theta)); the fused ops compute it exactly up to
// c = +-1 (ArcFace in InsightFace's form c cos m - sin(theta) sin m) and at c = +-1 exactly
// take the cone's subgradient 0 (losses/margin_softmax.cpp, arcface_target). No acos clamp:
// a clamp at 1 - 1e-7 dropped the margin's gradient within 4.5e-4 rad of W_y.
//
// Each loss comes twice: `<name>_loss`, a fused op whose VJP is written out by hand (one
// GEMM for the cosines, one for dX, one for dW, nothing N x C x D), and
// `<name>_loss_composed`, built only from autograd ops. The tests check both against
// central differences and against each other (1e-10 in float64), and against PyTorch.
#pragma once

#include <string>

#include "core/tensor.h"
#include "losses/loss.h"

namespace chalk {

// ---- the target-logit functions f(c) and their derivatives df/dc, c = cos(theta_y) ----
// (the one piece of each loss's backward that differs; the rest is shared.)
struct TargetLogit {
  double value;        // f(c)
  double dvalue_dcos;  // df/dc (~1/sin(theta) near c = +-1; at c = +-1 its smooth part)
};
// c - m
TargetLogit cosface_target(double c, double m);
// ArcFace (Deng et al., "ArcFace: Additive Angular Margin Loss", 2019; the fallback and
// easy_margin of InsightFace's arcface_torch): for one cosine c (a scalar, clamped to [-1, 1]
// against round-off) and the margin m in radians,
//   f(c) = cos(theta + m), theta = acos(c),   where c > cos(pi - m)  (theta + m < pi),
//   f(c) = c - m sin(m)                       elsewhere (the fallback: df/dc = 1);
//   easy_margin: cos(theta + m) where c > 0, else f(c) = c.
// Returns f and df/dc; at c = +-1, where df/dc is infinite, the derivative of the part of f
// that is smooth in c (the cone's subgradient 0). Throws nothing: arcface_loss checks m in
// [0, pi/2); a NaN c gives a NaN f. Exercise 10 (docs/exercises/10-arcface-margin.md).
TargetLogit arcface_target(double c, double m, bool easy_margin = false);
// The combined margin of InsightFace (arcface_torch's CombinedMarginLoss): for one cosine c
// (clamped to [-1, 1]), m1 a factor of the angle, m2 radians added to it, m3 subtracted,
//   f(c) = cos(m1 theta + m2) - m3,  theta = acos(c),  no fallback;
// returns f and df/dc, at c = +-1 the derivative of f's smooth part. (1, m, 0) is ArcFace
// without its fallback. Throws nothing (combined_margin_loss checks the margins). Exercise 10.
TargetLogit combined_target(double c, double m1, double m2, double m3);
// (lambda c + psi(theta)) / (1 + lambda): SphereFace's target logit divided by ||x||.
TargetLogit sphereface_target(double c, int m, double lambda);
// psi(theta) = (-1)^k cos(m theta) - 2k,  k = floor(m theta / pi): monotone decreasing on [0, pi].
double sphereface_psi(double theta, int m);
// The annealing schedule of the reference Caffe code:
//   lambda(t) = max(lambda_min, base (1 + gamma t)^(-power));   t = 0 -> 1000, large t -> 5.
double sphereface_lambda(std::int64_t t, double base = 1000, double gamma = 0.12, double power = 1,
                         double lambda_min = 5);

// ---- each loss's options, with their defaults (the one place they are written) ----
// The free functions below default to them too; the tables that name them for chalk-train,
// config.json and the docs are in losses/margin_softmax.cpp (normface_options(), ...).
// The scale s of CosFace, ArcFace and the combined margin (their papers use 64, for faces;
// docs/losses.md measures chalk's defaults on MNIST).
inline constexpr double kMarginScale = 30;
struct NormFaceOptions {
  double scale = 16;  // s: the loss can fall to about 1e-13 at C = 10 (docs/losses/margin_softmax.md, 1)
};
struct CosFaceOptions {
  double scale = kMarginScale;  // s
  double margin = 0.35;         // m, subtracted from the target's cosine (the CosFace paper's)
};
struct ArcFaceOptions {
  double scale = kMarginScale;  // s
  double margin = 0.5;          // m in radians, added to the target's angle (the ArcFace paper's)
  bool easy_margin = false;     // the margin only where cos(theta) > 0 (arcface_target)
};
struct CombinedMarginOptions {
  double scale = kMarginScale;  // s
  double m1 = 1.0, m2 = 0.3, m3 = 0.2;  // the target logit s (cos(m1 theta + m2) - m3)
};
struct SphereFaceOptions {
  int sphere_m = 4;  // the integer angular margin m, in [1, 6] (the SphereFace paper's)
};

// ---- the losses: x (N x D), W (C x D), labels (N int64 in [0, C)); mean over the batch ----
// Hand-derived VJP (fused):
Tensor normface_loss(const Tensor& x, const Tensor& W, const Tensor& labels, double s = NormFaceOptions{}.scale);
Tensor cosface_loss(const Tensor& x, const Tensor& W, const Tensor& labels, double s = CosFaceOptions{}.scale,
                    double m = CosFaceOptions{}.margin);
Tensor arcface_loss(const Tensor& x, const Tensor& W, const Tensor& labels, double s = ArcFaceOptions{}.scale,
                    double m = ArcFaceOptions{}.margin, bool easy_margin = ArcFaceOptions{}.easy_margin);
Tensor combined_margin_loss(const Tensor& x, const Tensor& W, const Tensor& labels,
                            double s = CombinedMarginOptions{}.scale, double m1 = CombinedMarginOptions{}.m1,
                            double m2 = CombinedMarginOptions{}.m2, double m3 = CombinedMarginOptions{}.m3);
// SphereFace: W normalised, x NOT (its norm scales the logits), no s.
Tensor sphereface_loss(const Tensor& x, const Tensor& W, const Tensor& labels, int m = SphereFaceOptions{}.sphere_m,
                       double lambda = 0);

// Composed from autograd ops (normalize, matmul, acos, cos, where, cross_entropy_composed):
Tensor normface_loss_composed(const Tensor& x, const Tensor& W, const Tensor& labels,
                              double s = NormFaceOptions{}.scale);
Tensor cosface_loss_composed(const Tensor& x, const Tensor& W, const Tensor& labels,
                             double s = CosFaceOptions{}.scale, double m = CosFaceOptions{}.margin);
Tensor arcface_loss_composed(const Tensor& x, const Tensor& W, const Tensor& labels,
                             double s = ArcFaceOptions{}.scale, double m = ArcFaceOptions{}.margin,
                             bool easy_margin = ArcFaceOptions{}.easy_margin);
Tensor combined_margin_loss_composed(const Tensor& x, const Tensor& W, const Tensor& labels,
                                     double s = CombinedMarginOptions{}.scale, double m1 = CombinedMarginOptions{}.m1,
                                     double m2 = CombinedMarginOptions{}.m2, double m3 = CombinedMarginOptions{}.m3);
Tensor sphereface_loss_composed(const Tensor& x, const Tensor& W, const Tensor& labels,
                                int m = SphereFaceOptions{}.sphere_m, double lambda = 0);

// ---- the logits without a margin (what logits() returns; argmax = the nearest class in angle) ----
// s cos_ij, N x C
Tensor cosine_logits(const Tensor& x, const Tensor& W, double s);
// ||x_i|| cos_ij = x_i . normalize(W_j), N x C (SphereFace)
Tensor sphereface_logits(const Tensor& x, const Tensor& W);

// ---- the Losses for chalk-train: --loss normface | cosface | arcface | combined | sphereface ----
// Each owns W (C x D) as parameter "W" (N(0, 1) entries, seeded by options.seed: any scale
// works, W is normalised). logits() = s cos (SphereFace: ||x|| cos), WITHOUT the margin.
// Each reads num_classes, emb_dim, seed and its own options struct above, by its table:
const OptionTable<NormFaceOptions>& normface_options();
const OptionTable<CosFaceOptions>& cosface_options();
const OptionTable<ArcFaceOptions>& arcface_options();
const OptionTable<CombinedMarginOptions>& combined_options();
const OptionTable<SphereFaceOptions>& sphereface_options();
// ... and its LossEntry, with its TrainingDefaults (losses/registry.cpp lists them).
LossEntry normface_entry();
LossEntry cosface_entry();
LossEntry arcface_entry();
LossEntry combined_entry();
LossEntry sphereface_entry();

class MarginSoftmaxLoss : public Loss {
 public:
  Tensor logits(const Tensor& embeddings) override;
  // These losses see only the direction of x: retrieval compares normalised embeddings
  // (Euclidean distance between unit vectors = a monotone function of the angle).
  Tensor metric_embedding(const Tensor& embeddings) override;
  // SphereFace's logits ||x|| psi(theta) see the length of x; the others only its direction.
  bool scale_invariant() const override { return !scale_by_norm_; }
  const Tensor& W() const { return W_; }
  double scale() const { return s_; }

 protected:
  // `loss` names the loss in error messages; scale: s (checked > 0), unless scale_by_norm: the
  // logits are ||x|| cos, no s (SphereFace).
  MarginSoftmaxLoss(const LossOptions& options, const char* loss, double scale, bool scale_by_norm);
  // W in the embeddings' dtype (a differentiable .to() when they differ: float64 checks reach W).
  Tensor W_as(const Tensor& embeddings) const;
  double s_ = 0;
  bool scale_by_norm_ = false;
  Tensor W_;
};

class NormFaceLoss : public MarginSoftmaxLoss {
 public:
  explicit NormFaceLoss(const LossOptions& options);
  Tensor forward(const Tensor& embeddings, const Tensor& labels) override;
  std::string name() const override;

 private:
  NormFaceLoss(const LossOptions& options, const NormFaceOptions& read);
};

class CosFaceLoss : public MarginSoftmaxLoss {
 public:
  explicit CosFaceLoss(const LossOptions& options);
  Tensor forward(const Tensor& embeddings, const Tensor& labels) override;
  std::string name() const override;
  double margin() const { return m_; }

 private:
  CosFaceLoss(const LossOptions& options, const CosFaceOptions& read);
  double m_;
};

class ArcFaceLoss : public MarginSoftmaxLoss {
 public:
  explicit ArcFaceLoss(const LossOptions& options);
  Tensor forward(const Tensor& embeddings, const Tensor& labels) override;
  std::string name() const override;
  double margin() const { return m_; }

 private:
  ArcFaceLoss(const LossOptions& options, const ArcFaceOptions& read);
  double m_;
  bool easy_margin_;
};

class CombinedMarginLoss : public MarginSoftmaxLoss {
 public:
  explicit CombinedMarginLoss(const LossOptions& options);
  Tensor forward(const Tensor& embeddings, const Tensor& labels) override;
  std::string name() const override;

 private:
  CombinedMarginLoss(const LossOptions& options, const CombinedMarginOptions& read);
  CombinedMarginOptions options_;
};

class SphereFaceLoss : public MarginSoftmaxLoss {
 public:
  explicit SphereFaceLoss(const LossOptions& options);
  Tensor forward(const Tensor& embeddings, const Tensor& labels) override;
  std::string name() const override;
  // lambda = sphereface_lambda(t): 1000 at t = 0, annealed down to 5.
  void set_iteration(std::int64_t t) override;
  double lambda() const { return lambda_; }

 private:
  int m_;
  double lambda_;
};

}  // namespace chalk
