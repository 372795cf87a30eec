// train/monitors.cpp — the Trainer's watchers: dead units, collapse, embedding growth, non-finite
// parameters (train/monitors.h).
#include "train/monitors.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <vector>

#include "core/shape.h"

namespace chalk {

std::string step_place(std::int64_t global_step, std::int64_t steps_per_epoch) {
  return str_cat("epoch ", global_step / steps_per_epoch + 1, ", step ", global_step % steps_per_epoch + 1,
                 " (global step ", global_step + 1, ")");
}

Finding check_dead_units(const Tensor& output, std::int64_t global_step, std::int64_t steps_per_epoch,
                         const TrainConfig& config) {
  // Its cost: outputs_identical compares row i of the B x D output with row 0 and returns at the
  // first difference, so a healthy batch costs one or two comparisons and a collapsed one B D (one
  // read of the output, which the forward pass has just written: far below the forward's own cost).
  if (!outputs_identical(output)) return {};
  return {config.stop_on_collapse ? Finding::Action::kStop : Finding::Action::kWarn,
          str_cat("training collapsed at ", step_place(global_step, steps_per_epoch), ": the model gives the same "
                  "output for all ", output.shape()[0], " images of the batch, so every prediction is one class; its "
                  "ReLUs have died (each is 0 for every input, so no gradient reaches the layers before them) and "
                  "training cannot recover. This happens when the first steps are too large. Hint: lower the learning "
                  "rate (--lr, now ", config.lr, ") or lengthen the warm-up (--warmup-steps, now ", config.warmup_steps,
                  "), or try another --seed.")};
}

Finding check_collapse(std::int64_t predicted_classes, const EpochMetrics& m, const TrainConfig& config) {
  if (predicted_classes != 1) return {};
  const std::string what = str_cat(
      "training collapsed after epoch ", m.epoch, ": every test image is predicted as the same class (test "
      "accuracy ", m.test_accuracy, "); the network has stopped using its input (typically its ReLUs died "
      "after a loss spike in the first steps). Hint: lower the learning rate (--lr, now ", config.lr,
      ") or lengthen the warm-up (--warmup-steps, now ", config.warmup_steps, "), or try another --seed");
  if (config.stop_on_collapse) return {Finding::Action::kStop, what + "; no checkpoint was written for this epoch."};
  return {Finding::Action::kWarn, what};
}

Finding check_embedding_growth(double first_norm, const EpochMetrics& m, const Loss& loss, const TrainConfig& config) {
  // A scale-invariant loss's gradient is orthogonal to x with length |g| / ||x||, so each SGD
  // step lengthens x (Pythagoras) and a long x moves slowly: after a few too-large first steps
  // the embeddings can grow a thousandfold and the network all but stops learning. The hint
  // names the remedies that rescued such runs (a longer warm-up, a smaller learning rate), not
  // weight decay, which did not (docs/losses.md, "ArcFace, CosFace, the combined margin and a
  // warm-up").
  if (!loss.scale_invariant() || first_norm <= 0 || m.embedding_norm <= 0) return {};
  const double growth = m.embedding_norm / first_norm;
  if (!(growth > kEmbeddingGrowthLimit)) return {};
  std::ostringstream msg;
  msg << std::setprecision(3) << "after epoch " << m.epoch << " the embeddings are " << growth
      << " times as long as at the first step (median norm " << m.embedding_norm << ", was " << first_norm
      << "). " << loss.name() << " sees only their direction, so the gradient reaching the network is divided by "
      << "that length (NormFace, Wang et al. 2017, Fig. 4): its gradients are about " << growth << " times smaller "
      << "than at the start, and such a run rarely recovers (test accuracy " << m.test_accuracy << "). Too large "
      << "first steps lengthen them; a warm-up prevented it in every run tried. Hint: lengthen the warm-up "
      << "(--warmup-steps, now " << config.warmup_steps
      << "), lower the learning rate (--lr, now " << config.lr << "), or try another --seed";
  return {Finding::Action::kWarn, msg.str()};
}

Finding check_parameters_finite(const nn::Module& model, const nn::Module& loss, const std::string& when,
                                std::int64_t global_step, const TrainConfig& config) {
  for (const auto& [prefix, module] : {std::pair<const char*, const nn::Module*>{"model.", &model}, {"loss.", &loss}})
    for (const auto& [name, t] : module->named_parameters()) {
      const Tensor v = t.detach();
      bool finite = true;
      dispatch_float(v.dtype(), "check_parameters_finite", [&](auto tag) {
        using T = decltype(tag);
        const T* p = v.data<T>();
        for (std::int64_t i = 0; i < v.numel() && finite; ++i) finite = std::isfinite(p[i]);
      });
      if (!finite)
        return {Finding::Action::kStop,
                str_cat("training stopped ", when, " (global step ", global_step, "): parameter '", prefix, name, "' ",
                        shape_str(v.shape()), " has a non-finite value. Hint: lower the learning rate (--lr, now ",
                        config.lr, "), add --warmup-steps, or run with --detect-anomaly to find the op that made it; "
                        "the last good checkpoint (if any) is untouched.")};
    }
  return {};
}

bool outputs_identical(const Tensor& out) {
  if (out.dim() != 2 || out.shape()[0] < 2) return false;
  const Tensor v = out.detach();
  const std::int64_t B = v.shape()[0], D = v.shape()[1];
  bool same = true;
  dispatch_float(v.dtype(), "outputs_identical", [&](auto tag) {
    using T = decltype(tag);
    const T* p = v.data<T>();
    std::vector<T> mags(static_cast<std::size_t>(D));
    for (std::int64_t j = 0; j < D; ++j) mags[static_cast<std::size_t>(j)] = std::abs(p[j]);
    auto mid = mags.begin() + static_cast<std::ptrdiff_t>(D / 2);
    std::nth_element(mags.begin(), mid, mags.end());
    const T typical = *mid, root_eps = std::sqrt(std::numeric_limits<T>::epsilon());
    for (std::int64_t i = 1; i < B && same; ++i)
      for (std::int64_t j = 0; j < D && same; ++j)
        same = std::abs(p[i * D + j] - p[j]) <= root_eps * (std::abs(p[j]) + typical);
  });
  return same;
}

}  // namespace chalk
