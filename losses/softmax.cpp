// losses/softmax.cpp — softmax cross-entropy (fused, and composed from autograd ops) and the
// "softmax" loss. Read with docs/losses/softmax.md (the derivation); tested in
// tests/test_loss_softmax.cpp.
#include "losses/softmax.h"

#include "losses/cross_entropy_rows.h"

#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/checks.h"
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/distances.h"
#include "ops/softmax.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace chalk {

// ---------------------------------------------------------------- input checks


namespace {

using cross_entropy_rows::Reduction;

Reduction parse_reduction(const std::string& r, const char* op) {
  if (r == "mean") return Reduction::Mean;
  if (r == "sum") return Reduction::Sum;
  if (r == "none") return Reduction::None;
  fail(op, ": unknown reduction '", r, "' (expected mean, sum or none)");
}

void check_cross_entropy(const Tensor& logits, const Tensor& labels, double s, const char* op) {
  if (!logits.defined() || logits.dim() != 2 || !is_floating(logits.dtype()))
    fail(op, ": expected float logits N x C, got ",
         logits.defined() ? str_cat(dtype_name(logits.dtype()), " ", shape_str(logits.shape())) : "none");
  const std::int64_t N = logits.shape()[0], C = logits.shape()[1];
  if (N == 0 || C == 0) fail(op, ": empty logits ", shape_str(logits.shape()), " (need N >= 1 and C >= 1)");
  if (!(s >= 0.0 && s <= 1.0)) fail(op, ": label_smoothing must be in [0, 1], got ", s);
  check_class_labels(labels, N, C, op);
  check_finite(logits, "logits", op);
}

}  // namespace

// ---------------------------------------------------------------- cross-entropy, fused

// Forward, for logits z (N x C), labels y, smoothing s (cross_entropy_rows::row_loss, per row):
//   m_i    = max_j z_ij,  lse_i = m_i + log sum_j exp(z_ij - m_i)
//   loss_i = lse_i - (1 - s) z_{i,y_i} - (s / C) sum_j z_ij
//          = log sum_j exp(z_ij - m_i) - (1 - s) (z_{i,y_i} - m_i) - (s / C) sum_j (z_ij - m_i)
//            (the form computed: lse_i itself is never rounded, so large logits lose nothing)
//   mean: L = (1/N) sum_i loss_i     sum: L = sum_i loss_i     none: L_i = loss_i
// VJP: cross_entropy_rows::grad_rows, row by row cross_entropy_rows::row_grad (derivation:
// docs/losses/softmax.md §2-§3). The forward keeps p (N x C, double), so the backward needs no exp.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing,
                     const std::string& reduction) {
  const char* op = "cross_entropy";
  check_cross_entropy(logits, labels, label_smoothing, op);
  const Reduction red = parse_reduction(reduction, op);
  const std::int64_t N = logits.shape()[0], C = logits.shape()[1];
  const double s = label_smoothing;
  const std::int64_t* y = labels.data<std::int64_t>();

  std::vector<double> probs(static_cast<std::size_t>(N * C));  // p_ij, for the VJP
  Tensor out = red == Reduction::None ? Tensor::empty({N}, logits.dtype()) : Tensor::empty({}, logits.dtype());
  dispatch_float(logits.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* z = logits.data<T>();
    double total = 0;
    for (std::int64_t i = 0; i < N; ++i) {
      const double l = cross_entropy_rows::row_loss(z + i * C, C, y[i], s, probs.data() + i * C);
      if (red == Reduction::None) out.data<T>()[i] = static_cast<T>(l);
      total += l;
    }
    if (red == Reduction::Mean) out.data<T>()[0] = static_cast<T>(total / N);
    if (red == Reduction::Sum) out.data<T>()[0] = static_cast<T>(total);
  });

  record(out, "cross_entropy", {logits}, Saved{.inputs = {0}, .other = {labels}},
         [z = logits.detach(), labels, s, red, probs = std::move(probs)](const Tensor& g, Grads& dx) {
           const std::int64_t N = z.shape()[0], C = z.shape()[1];
           const std::int64_t* y = labels.data<std::int64_t>();
           Tensor dz = Tensor::empty(z.shape(), z.dtype());
           dispatch_float(z.dtype(), "cross_entropy backward", [&](auto tag) {
             using T = decltype(tag);
             cross_entropy_rows::grad_rows(probs.data(), N, C, y, s, red, g.data<T>(), dz.data<T>());
           });
           dx.add(0, dz);
         });
  return out;
}

// ---------------------------------------------------------------- cross-entropy, composed

// The twin from autograd ops only:
//   log_p = log_softmax(z)                               N x C   (ops/softmax.h)
//   t     = (1 - s) one_hot(y) + s / C                   N x C   (a constant)
//   loss  = -sum(t * log_p, axis 1)                      N
// then mean / sum / none. Its gradient comes from log_softmax's VJP, g - p sum(g): the
// same p - t, reached by a different road.
Tensor cross_entropy_composed(const Tensor& logits, const Tensor& labels, double label_smoothing,
                              const std::string& reduction) {
  const char* op = "cross_entropy_composed";
  check_cross_entropy(logits, labels, label_smoothing, op);
  const Reduction red = parse_reduction(reduction, op);
  const std::int64_t C = logits.shape()[1];
  const double s = label_smoothing;
  const Tensor t = one_hot(labels, C, logits.dtype()) * (1.0 - s) + s / C;
  const Tensor loss = neg(sum(t * log_softmax(logits, 1), 1));
  if (red == Reduction::Mean) return mean(loss);
  if (red == Reduction::Sum) return sum(loss);
  return loss;
}

// ---------------------------------------------------------------- the Loss

SoftmaxLoss::SoftmaxLoss(const LossOptions& o) : options_(o), softmax_(softmax_options().read(o)) {
  const std::int64_t C = o.num_classes, D = o.emb_dim;
  if (C < 2) fail("softmax loss: need at least 2 classes, got num_classes = ", C);
  if (D < 0) fail("softmax loss: emb_dim must be >= 0 (0 = no head), got ", D);
  if (D > 0) {
    // PyTorch's nn.Linear(D, C) init: weight and bias ~ U(-1/sqrt(D), 1/sqrt(D)).
    Generator gen(o.seed);
    const double bound = 1.0 / std::sqrt(static_cast<double>(D));
    std::vector<float> w(static_cast<std::size_t>(checked_mul(C, D, "softmax loss", "the head W, num_classes x emb_dim ="))),
        b(static_cast<std::size_t>(C));
    for (float& v : w) v = static_cast<float>((2 * gen.uniform() - 1) * bound);
    for (float& v : b) v = static_cast<float>((2 * gen.uniform() - 1) * bound);
    W_ = register_parameter("W", from_vector(w, {C, D}));
    b_ = register_parameter("b", from_vector(b, {C}));
  }
}

std::string SoftmaxLoss::name() const {
  return has_head() ? str_cat("SoftmaxLoss(head ", options_.emb_dim, " -> ", options_.num_classes, ")")
                    : str_cat("SoftmaxLoss(", options_.num_classes, " logits, no head)");
}

// logits = X W^T + b (or X itself without a head). The head is converted to the
// embeddings' dtype (a differentiable .to(): float64 gradient checks reach W and b).
Tensor SoftmaxLoss::apply_head(const Tensor& e) const {
  const std::int64_t C = options_.num_classes;
  if (e.dim() != 2) fail("softmax loss: expected embeddings N x D, got ", shape_str(e.shape()));
  if (!has_head()) {
    if (e.shape()[1] != C)
      fail("softmax loss: without a head (emb_dim = 0) the model must output C = ", C, " logits, got ",
           shape_str(e.shape()));
    return e;
  }
  if (e.shape()[1] != options_.emb_dim)
    fail("softmax loss: embeddings ", shape_str(e.shape()), " do not match the head's D = ", options_.emb_dim);
  const bool same = e.dtype() == W_.dtype();
  return linear(e, same ? W_ : W_.to(e.dtype()), same ? b_ : b_.to(e.dtype()));
}

Tensor SoftmaxLoss::forward(const Tensor& embeddings, const Tensor& labels) {
  check_embeddings(embeddings, "softmax loss");  // before the head: name the embeddings, not the logits
  return cross_entropy(apply_head(embeddings), labels, softmax_.label_smoothing, softmax_.reduction);
}

Tensor SoftmaxLoss::logits(const Tensor& embeddings) {
  check_embeddings(embeddings, "softmax loss: logits");
  NoGradGuard no_grad;
  return apply_head(embeddings.detach());
}

// ---------------------------------------------------------------- its options and registry entry

const OptionTable<SoftmaxOptions>& softmax_options() {
  static const OptionTable<SoftmaxOptions> table(
      "softmax", {option("label_smoothing", &SoftmaxOptions::label_smoothing,
                         "label smoothing s: the target puts 1 - s + s/C on the label and s/C on every other class")
                      .between(0, 1),
                  option("reduction", &SoftmaxOptions::reduction, "how the batch's losses are combined")
                      .one_of({"mean", "sum"})});
  return table;
}

LossEntry softmax_entry() {
  TrainingDefaults d;  // emb_dim 0: the model outputs the 10 logits (no head)
  d.emb_dim = 0;
  d.logits_output = true;
  // SGD at lr 0.05 with momentum 0.9 from PyTorch's default init is at the edge of stability:
  // SmallCNN's loss can spike in the first steps and the run lose every ReLU for good. A
  // quarter epoch of linear warm-up removes the spike (docs/losses.md, "Softmax, the centroid
  // bound and a quarter epoch of warm-up").
  d.warmup_epochs = 0.25;
  return {"softmax", "cross-entropy over the logits (a linear head W, b when emb_dim > 0)", softmax_options().specs(), d,
          [](const LossOptions& o) { return std::make_shared<SoftmaxLoss>(o); }};
}

}  // namespace chalk
