// demos/09_loss_comparison.cpp — every loss on the same network: the essay's comparison, measured.
//
//   build/demo_09_loss_comparison                 the shipped subset: the MLP, 3 seeds, all 6,000 images
//                                                 for 4 epochs; 25-85 s of CPU (OpenBLAS kernels)
//   build/demo_09_loss_comparison --quick         seconds: 1 seed, 1,000 training images, 2 epochs
//                                                 (a check that the program runs; not the answer)
//   build/demo_09_loss_comparison --data DIR      full MNIST on SmallCNN at full scale: 3 seeds,
//                                                 60,000 images for 2 epochs (about an hour on 2 cores)
//   --model cnn                                   SmallCNN on the subset too (about 25 times the CPU)
//
// 1. every loss of the registry, plus triplet + softmax, on one network with 64-d embeddings,
//    over 3 seeds: one table (accuracy, P@1, MAP@R, NMI, epoch time);
// 2. the training curves (test P@1 during training, seed 0), one series per loss;
// 3. triplet alone against triplet + softmax: does the softmax term steady the triplet loss?
// 4. the essay's closing claim: P@1 of triplet, the centroid bound and ArcFace against the
//    number of training images — does the triplet loss win when data is scarce?
//
// Why the MLP on the subset: SmallCNN costs about 10 s of CPU per epoch of 6,000 images, the MLP
// about 0.4 s. In two minutes on 2 cores, 27 SmallCNN runs got a few dozen steps each, and the
// margin losses had not started to learn (ArcFace test accuracy 0.21, below its untrained P@1): a
// table of runs that have barely begun compares nothing. The MLP gets every loss 188 steps (94 left
// CosFace and the combined margin unsteady: test accuracy 0.71 and 0.67 on one seed), 3 seeds.
#include <chalk.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "demos/notebook.h"
#include "plot/plot.h"

using namespace chalk;
using chalk::demo::fmt;
using chalk::demo::Notebook;
using chalk::demo::Table;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ---- triplet + softmax: the pair practitioners train together, as one Loss -------------------
//
//   L(x, y) = L_triplet(x, y) + lambda * CE(W x + b, y)
//
// Every registry loss is one objective; the demo builds the sum from two of them: the triplet
// term (its defaults: batch-hard, margin 0.2, on L2-normalised x) and a softmax head (W: C x D,
// b: C, initialised like nn.Linear) on the raw x. The head is a parameter of this Loss, trained
// with the model. Retrieval compares what the triplet term sees (the normalised x), so the row is
// comparable with the triplet row. The Trainer takes it in place of the triplet loss (train_one).
class TripletPlusSoftmax : public Loss {
 public:
  TripletPlusSoftmax(const LossOptions& options, double lambda)
      : triplet_(register_module("triplet", make_loss("triplet", options))),
        softmax_(register_module("softmax", make_loss("softmax", options.with_defaults()))),
        lambda_(lambda) {}
  Tensor forward(const Tensor& embeddings, const Tensor& labels) override {
    return triplet_->forward(embeddings, labels) + lambda_ * softmax_->forward(embeddings, labels);
  }
  Tensor metric_embedding(const Tensor& embeddings) override { return triplet_->metric_embedding(embeddings); }
  bool wants_pk_batches() const override { return true; }
  std::string name() const override { return "TripletPlusSoftmax(lambda=" + fmt(lambda_, 2) + ")"; }

 private:
  std::shared_ptr<Loss> triplet_, softmax_;
  double lambda_;
};

// Test-set Precision@1 alone (no NMI, no test loss): cheap enough to call during training.
double test_precision_at_1(Trainer& t) {
  NoGradGuard no_grad;
  const Tensor emb = t.loss().metric_embedding(t.embed(t.test_set()));
  return retrieval_metrics(emb, from_vector(t.test_set().labels, {t.test_set().n})).precision_at_1;
}

// One training run and what the demo keeps of it.
struct Run {
  std::string loss;                         // the row's name
  std::uint64_t seed = 0;
  EpochMetrics final;                       // test metrics after the last epoch
  std::vector<double> train_loss;           // mean training loss per epoch
  double seconds_per_epoch = 0;             // training only (the curve's evaluations are not counted)
  double untrained_p1 = 0;                  // test P@1 of the network before its first step
  std::vector<double> curve_epoch, curve_p1;  // test P@1 during training (empty unless asked)
};

// One row's run for cfg.seed: the registry loss cfg.loss, or with plus_softmax TripletPlusSoftmax
// in its place. Both go through the same Trainer: the parts chalk-train builds from cfg (model,
// data, and from them optimizer, P x K batches, schedule), only the loss swapped.
Run train_one(const std::string& row, TrainConfig cfg, bool plus_softmax, int evals_per_epoch) {
  TrainerParts parts = make_trainer_parts(cfg);
  if (plus_softmax) parts.loss = std::make_shared<TripletPlusSoftmax>(parts.config.loss_options, 1.0);
  Trainer t(std::move(parts));
  Run r;
  r.loss = row;
  r.seed = cfg.seed;
  const bool curve = evals_per_epoch > 0;
  r.untrained_p1 = test_precision_at_1(t);
  if (curve) {
    r.curve_epoch.push_back(0);
    r.curve_p1.push_back(r.untrained_p1);
  }
  double train_seconds = 0;
  for (int e = 0; e < cfg.epochs; ++e) {
    double eval_seconds = 0;
    const ProgressFn progress = [&](std::int64_t b, std::int64_t batches, double) {
      if (!curve) return;
      const std::int64_t every = std::max<std::int64_t>(1, batches / evals_per_epoch);
      if (b % every != 0 && b != batches) return;
      if (b != batches && batches - b < every / 2) return;  // no point just before the epoch's last
      const auto t0 = Clock::now();
      r.curve_epoch.push_back(e + static_cast<double>(b) / batches);
      r.curve_p1.push_back(test_precision_at_1(t));
      eval_seconds += seconds_since(t0);
    };
    const auto t0 = Clock::now();
    r.train_loss.push_back(t.train_epoch(e, progress));
    train_seconds += seconds_since(t0) - eval_seconds;
  }
  r.seconds_per_epoch = train_seconds / cfg.epochs;
  r.final = t.evaluate(cfg.epochs - 1);
  return r;
}

struct Spread {
  double mean = 0, min = 0, max = 0;
};
Spread spread(const std::vector<double>& v) {
  Spread s{0, v.front(), v.front()};
  for (double x : v) {
    s.mean += x / static_cast<double>(v.size());
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  return s;
}
// "0.9512 [0.9480, 0.9544]" (mean [min, max]); a single value alone.
std::string cell(const Spread& s, int digits = 4) {
  if (s.min == s.max) return fmt(s.mean, digits);
  return fmt(s.mean, digits) + " [" + fmt(s.min, digits) + ", " + fmt(s.max, digits) + "]";
}

// Largest fall of test P@1 between two consecutive evaluations of a curve (0 if it never falls).
double largest_drop(const std::vector<double>& p1) {
  double d = 0;
  for (std::size_t i = 1; i < p1.size(); ++i) d = std::max(d, p1[i - 1] - p1[i]);
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  Notebook nb("09", "Every loss on one network: the comparison, the curves, and data size");
  int seeds = -1, epochs = -1;
  std::int64_t limit_train = -1, sweep_images = -1;
  std::string model;
  nb.cli().add_option("--model", model, "mlp | cnn (default: mlp on the shipped subset and with --quick, cnn with --data)");
  nb.cli().add_option("--seeds", seeds, "seeds per loss (default 3; --quick 1)");
  nb.cli().add_option("--epochs", epochs, "epochs of the table's runs (default 3 with the MLP, 2 with SmallCNN)");
  nb.cli().add_option("--limit-train", limit_train,
                      "training images of the table's runs (default 0 = all: 6,000 on the subset, 60,000 with --data; "
                      "--quick 1000)");
  nb.cli().add_option("--sweep-images", sweep_images,
                      "images every run of the data-size sweep sees (default: epochs x the table's training images, "
                      "so the sweep's largest point is the table's seed-0 run)");
  if (auto code = nb.parse(argc, argv)) return *code;

  // ---- the budget -------------------------------------------------------------------------------
  // Measured on one thread: the MLP trains an epoch of the 6,000 subset images in about 0.4 s of
  // CPU (the triplet rows about twice that: more, smaller P x K batches, and the mining), SmallCNN
  // in about 10 s. 9 objectives x 3 seeds is 27 runs, plus the data-size sweep: on the subset,
  // within 2 minutes on 2 cores (with a margin for slower machines), that is 4 MLP epochs over all
  // 6,000 images per run (72-84 s of CPU on one thread with OpenBLAS's generic kernels, 10-25 s
  // with its AVX-512 ones) — or about 30 steps per SmallCNN run, too few for the margin losses to
  // start learning.
  const bool quick = nb.quick(), full = nb.full_data();
  if (model.empty()) model = full && !quick ? "cnn" : "mlp";
  nn::find_model(model);  // throws, naming the known models
  const bool cnn = model == "cnn";
  if (seeds < 0) seeds = quick ? 1 : 3;
  if (epochs < 0) epochs = quick || cnn ? 2 : 4;
  if (limit_train < 0) limit_train = quick ? 1000 : 0;
  if (seeds < 1 || epochs < 1 || limit_train < 0 || sweep_images == 0 || sweep_images < -1)
    fail("demo 09: --seeds, --epochs, --sweep-images must be >= 1 and --limit-train >= 0");
  // the table's training images: the first limit_train of the training split (0: all of it)
  const std::int64_t table_n = nb.train_images(limit_train);
  if (sweep_images < 0) sweep_images = epochs * table_n;
  // the sweep's sizes: a tenth of the set, a third (the subset) or a tenth again (full MNIST), all of it
  std::vector<std::int64_t> sweep_sizes;
  for (std::int64_t n : quick ? std::vector<std::int64_t>{table_n * 3 / 10, table_n}
                              : full ? std::vector<std::int64_t>{table_n / 100, table_n / 10, table_n}
                                     : std::vector<std::int64_t>{table_n / 10, table_n / 3, table_n})
    // at least 200 images: the triplet loss's P x K batches need K = 8 images of every digit
    if (n >= 200 && (sweep_sizes.empty() || n > sweep_sizes.back())) sweep_sizes.push_back(n);
  const std::string model_name = cnn ? "SmallCNN" : "the MLP";

  const std::vector<std::string> losses = {"softmax", "normface", "sphereface", "cosface",
                                           "arcface", "combined", "triplet",    "centroid"};
  const std::string combo = "triplet+softmax";
  std::vector<std::string> rows = losses;
  rows.push_back(combo);
  const std::string train_images = std::to_string(table_n);
  // the batches chalk-train draws at its defaults (train/sampler.h decides P x K)
  const TrainConfig defaults;
  const std::int64_t B = defaults.batch_size, K = defaults.samples_per_class;
  const std::int64_t PK = pk_classes_per_batch(nb.dataset().num_classes(), B, K) * K;
  const std::int64_t steps_per_epoch = (table_n + B - 1) / B, pk_steps_per_epoch = std::max<std::int64_t>(1, table_n / PK);

  nb.markdown(
      "The essay compares the losses by argument: the softmax family sees every class in every batch "
      "through its weight rows W (each row acts as a class centre), the triplet loss sees two classes per "
      "triplet, and the centroid bound gives the triplet loss back the global view with fixed centres. "
      "Here every loss of the registry trains the same network, " + model_name +
      " with 64-d embeddings, each loss with its own defaults from the loss registry (optimizer, learning "
      "rate, warm-up: docs/losses.md), on the same images, with " +
      std::to_string(seeds) + " seed(s), and the test set (" + std::string(full ? "10,000" : "1,000") +
      " images) scores each: accuracy (argmax of the logits; nearest class mean for the triplet losses), "
      "Precision@1 and MAP@R (retrieval, every test image querying the others), NMI of a K-means "
      "clustering, and the training seconds per epoch.");
  {
    // the image passes a --data run costs (SmallCNN, 3 seeds, 2 epochs of 60,000; the sweep's two
    // smaller sizes, the largest is the table's run): at about 1,000 images/s on 2 cores
    const double data_passes = 9.0 * 3 * 2 * 60000 + 3.0 * 2 * 2 * 60000;
    nb.markdown(
        std::string("**What this run does, and what `--data` adds.** ") +
        (full ? std::string("This is a full-MNIST run: ")
              : "This run uses the shipped subset (6,000 training images, 1,000 test images): ") +
        "every run of the table trains " + model_name + " on " + train_images + " training images for " +
        std::to_string(epochs) + (epochs == 1 ? " epoch (" : " epochs (") + std::to_string(steps_per_epoch * epochs) +
        " steps at batch " + std::to_string(B) + "; the two triplet rows " + std::to_string(pk_steps_per_epoch * epochs) +
        " P x K batches of " + std::to_string(PK) + "). " +
        (cnn ? std::string("")
             : "It trains the MLP (784-256-128-64) rather than SmallCNN because SmallCNN costs about 25 times "
               "the CPU per image: within two minutes on 2 cores, 27 SmallCNN runs got a few dozen steps each, "
               "and at that budget the margin losses had not started to learn (in an earlier version of this "
               "demo, ArcFace's test accuracy was 0.21 after 24 steps) — a table of runs that have barely begun "
               "would compare nothing. With the MLP every loss learns, but the MLP is a weaker network than "
               "SmallCNN and 1,000 test images are few: read the table for how the losses compare after the "
               "same short training, not for where they end. Every loss gets 4 epochs (188 steps) and 3 seeds: "
               "with 2 epochs, CosFace and the combined margin "
               "were still unsteady (test accuracy 0.71 and 0.67 on one seed of three). ") +
        "On full MNIST every loss reaches P@1 >= 0.99 with seed 0 (docs/losses.md, quoted below). `--data DIR` "
        "(full MNIST) runs the comparison at full scale: SmallCNN, 3 seeds, all 60,000 training images "
        "for 2 epochs (938 steps), the 10,000 test images, and the sweep over 600 / 6,000 / 60,000 images — "
        "about " + fmt(data_passes / 1e6, 1) +
        " million SmallCNN image passes, roughly an hour on 2 cores at the ~1,000 images/s SmallCNN trains at "
        "(an estimate; not run for this report unless the run line above says --data). `--model`, `--seeds`, "
        "`--epochs`, `--limit-train` and `--sweep-images` change the budget.");
  }

  // ---- 1. the table ---------------------------------------------------------------------------
  nb.markdown("## 1. Every loss, " + std::to_string(seeds) + " seed(s)");
  nb.code(
      "TrainConfig cfg = nb.train_config();          // --data, --threads\n"
      "cfg.model = \"" + model + "\"; cfg.emb_dim = 64; cfg.loss = name; cfg.seed = seed;\n"
      "cfg.epochs = " + std::to_string(epochs) + "; cfg.limit_train = " + std::to_string(limit_train) + ";\n"
      "Trainer t(cfg);\n"
      "for (int e = 0; e < cfg.epochs; ++e) t.train_epoch(e, progress);   // progress: test P@1 for the curves\n"
      "EpochMetrics m = t.evaluate(cfg.epochs - 1);");
  nb.markdown(
      "`triplet+softmax` is not in the registry: the demo builds it as a small `Loss` subclass, "
      "`TripletPlusSoftmax` (L = L_triplet + 1.0 x CE of a linear head on the raw embedding), and gives it "
      "to the same `Trainer` in place of the triplet loss: `TrainerParts parts = make_trainer_parts(cfg); "
      "parts.loss = plus_softmax; Trainer t(std::move(parts));` — the same P x K batches, Adam, cosine "
      "schedule, model initialisation and evaluation as the triplet row. The evaluation is the triplet "
      "row's: accuracy by the nearest class mean, retrieval on the normalised embeddings.");

  std::map<std::string, std::vector<Run>> runs;
  auto base = nb.train_config();
  base.model = model;
  base.emb_dim = 64;
  base.epochs = epochs;
  base.limit_train = limit_train;
  const int evals_per_epoch = 2;
  for (const auto& name : rows) {
    for (int s = 0; s < seeds; ++s) {
      TrainConfig cfg = base;
      cfg.seed = nb.seed() + static_cast<std::uint64_t>(s);
      cfg.loss = name == combo ? "triplet" : name;
      // the curves: seed 0 of every loss; every seed of the two triplet rows (their stability)
      const bool curve = s == 0 || name == "triplet" || name == combo;
      Run r = train_one(name, cfg, name == combo, curve ? evals_per_epoch : 0);
      std::cout << "  " << name << " seed " << cfg.seed << ": P@1 " << fmt(r.final.retrieval.precision_at_1)
                << ", " << fmt(r.seconds_per_epoch, 2) << " s/epoch  (" << fmt(nb.elapsed_seconds(), 1) << " s)\n";
      runs[name].push_back(std::move(r));
    }
  }

  Table summary{{"loss", "test accuracy", "P@1", "MAP@R", "NMI", "s / epoch", "seeds with P@1 >= 0.99"}, {}};
  Table per_seed{{"loss", "seed", "test accuracy", "P@1", "R@8", "MAP@R", "NMI", "final train loss", "s / epoch"}, {}};
  std::vector<std::string> below, not_learned;
  std::size_t complete_rows = 0;
  double worst_p1 = 1, worst_acc = 1, least_gain = 1;
  for (const auto& name : rows) {
    std::vector<double> acc, p1, mapr, nmi, sec;
    int at_target = 0;
    for (const Run& r : runs[name]) {
      const auto& m = r.final;
      acc.push_back(m.test_accuracy);
      p1.push_back(m.retrieval.precision_at_1);
      mapr.push_back(m.retrieval.map_at_r);
      nmi.push_back(m.nmi);
      sec.push_back(r.seconds_per_epoch);
      at_target += m.retrieval.precision_at_1 >= 0.99;
      if (m.retrieval.precision_at_1 < 0.99) below.push_back(name + " (seed " + std::to_string(r.seed) + ")");
      const bool finite = std::isfinite(m.test_accuracy) && std::isfinite(m.retrieval.precision_at_1) &&
                          std::isfinite(m.retrieval.map_at_r) && std::isfinite(m.nmi);
      complete_rows += finite;
      worst_p1 = std::min(worst_p1, m.retrieval.precision_at_1);
      worst_acc = std::min(worst_acc, m.test_accuracy);
      least_gain = std::min(least_gain, m.retrieval.precision_at_1 - r.untrained_p1);
      if (!(m.retrieval.precision_at_1 > r.untrained_p1))
        not_learned.push_back(name + " (seed " + std::to_string(r.seed) + ": " + fmt(r.untrained_p1, 3) + " -> " +
                              fmt(m.retrieval.precision_at_1, 3) + ")");
      per_seed.row({name, std::to_string(r.seed), fmt(m.test_accuracy), fmt(m.retrieval.precision_at_1),
                    fmt(m.retrieval.recall_at_8), fmt(m.retrieval.map_at_r), fmt(m.nmi), fmt(r.train_loss.back()),
                    fmt(r.seconds_per_epoch, 2)});
    }
    const Spread a = spread(acc), p = spread(p1), mr = spread(mapr), n = spread(nmi), t = spread(sec);
    summary.row({name, cell(a), cell(p), cell(mr), cell(n), cell(t, 2),
                 std::to_string(at_target) + " of " + std::to_string(seeds)});
    nb.result("acc_mean_" + name, a.mean);
    nb.result("p1_mean_" + name, p.mean);
    nb.result("p1_min_" + name, p.min);
    nb.result("p1_max_" + name, p.max);
    nb.result("mapr_mean_" + name, mr.mean);
    nb.result("nmi_mean_" + name, n.mean);
    nb.result("seconds_per_epoch_" + name, t.mean);
  }
  nb.markdown("Mean over the seeds, with [min, max] across them:");
  nb.table(summary);
  nb.markdown("Every run (every loss, every seed):");
  nb.table(per_seed);
  nb.markdown(below.empty()
                  ? "Every loss reached P@1 >= 0.99 on every seed."
                  : "**Below P@1 0.99:** " + std::to_string(below.size()) + " of " +
                        std::to_string(rows.size() * seeds) + " runs — " +
                        (below.size() == rows.size() * static_cast<std::size_t>(seeds)
                             ? std::string("all of them, every loss on every seed")
                             : [&] {
                                 std::string s;
                                 for (const auto& b : below) s += (s.empty() ? "" : ", ") + b;
                                 return s;
                               }()) +
                        (full && cnn ? ". This is the short budget (2 epochs), not the losses: the reference below is "
                                       "where they get after 5."
                                     : ". This is the short budget on the subset" + std::string(cnn ? "" : " and the MLP") +
                                           ", not the losses: the reference below is where SmallCNN gets with all "
                                           "60,000 images."));
  nb.markdown(
      "For reference — **not measured by this program**, copied from docs/losses.md (full MNIST, 60,000 "
      "training images, 5 epochs, seed 0, 1 thread): test accuracy / P@1 / MAP@R — softmax 0.9916 / 0.9894 / "
      "0.9094, normface 0.9914 / 0.9922 / 0.9531, sphereface 0.9915 / 0.9921 / 0.9783, cosface 0.9947 / 0.9933 "
      "/ 0.9853, arcface 0.9942 / 0.9928 / 0.9861, combined 0.9941 / 0.9933 / 0.9861, triplet "
      "(batch-hard) 0.9925 / 0.9914 / 0.9838, centroid (one-hot, normalised) 0.9922 / 0.9907 / 0.9841. There "
      "every loss reaches P@1 >= 0.99 with seed 0; the centroid bound misses it with seeds 1 and 2 (0.9888, "
      "0.9875). Every margin-softmax loss there warms up for one epoch: ArcFace stalled without it (seed 1: "
      "P@1 0.9688), and so did CosFace and the combined margin (after one epoch, seeds 1 and 4: test accuracy "
      "0.37-0.50).");
  nb.markdown(
      "The epoch times are wall-clock seconds of the training alone on a machine that may be shared; "
      "they compare the losses' costs only roughly (the triplet rows mine a " + std::to_string(PK) + " x " +
      std::to_string(PK) + " distance matrix per P x K batch of " + std::to_string(PK) + "; the others use batches of " +
      std::to_string(B) + ", so their epochs have fewer steps).");

  // ---- 2. the curves ------------------------------------------------------------------------
  nb.markdown("## 2. The training curves");
  std::vector<plot::Series> curves;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Run& r = runs[rows[i]].front();
    curves.push_back({rows[i], r.curve_epoch, r.curve_p1, false, rows[i] == combo});
  }
  plot::lines(nb.figure_path("curves"), curves,
              {"Test P@1 during training (seed " + std::to_string(nb.seed()) + ", " + train_images + " images)",
               "epoch", "test Precision@1"});
  nb.figure("curves",
            "Test Precision@1 measured " + std::to_string(evals_per_epoch) +
                " times per epoch (x = 0: the untrained network), one line per loss, seed " +
                std::to_string(nb.seed()) +
                ". Look at how fast each line rises in the first epoch and where it flattens; the untrained "
                "network's P@1 (x = 0) is already far above chance (0.1): even an untrained network's features "
                "put many digits next to their own kind (so does the raw pixel distance).");
  {
    // did each loss improve on the untrained network's retrieval within this budget?
    std::string improved, not_yet;
    for (const auto& name : rows) {
      const Run& r = runs[name].front();
      const double start = r.curve_p1.front(), end = r.final.retrieval.precision_at_1;
      std::string& list = end > start ? improved : not_yet;
      list += (list.empty() ? "" : ", ") + name + " " + fmt(start, 3) + " -> " + fmt(end, 3);
      nb.result("p1_untrained_" + name, start);
    }
    nb.markdown("Against the untrained network (seed " + std::to_string(nb.seed()) + ", test P@1 before -> after): " +
                (improved.empty() ? std::string("no loss improved on it") : "improved: " + improved) +
                (not_yet.empty() ? std::string(".")
                                 : "; **not (yet) above the untrained network's P@1:** " + not_yet +
                                       ". A possible reason, not tested here: demo 10 finds the short-run NormFace "
                                       "and ArcFace embeddings squeezed into a small cap of the sphere (one common "
                                       "direction dominates), which costs retrieval until training spreads them "
                                       "out; a run this short can end before that (compare the curves)."));
  }

  // ---- 3. triplet alone vs triplet + softmax -----------------------------------------------------
  nb.markdown("## 3. Triplet alone, and triplet + softmax");
  nb.markdown(
      "The essay: a triplet batch touches two classes per triplet, so a class's embeddings can jump "
      "around and training goes back and forth; practitioners therefore add a softmax loss. Measured here "
      "on every seed: the final P@1, its spread across seeds, and the largest fall of test P@1 between two "
      "consecutive evaluations during training (" + std::to_string(evals_per_epoch) + " per epoch).");
  Table pair{{"objective", "seed", "P@1", "MAP@R", "largest fall of test P@1 during training"}, {}};
  std::vector<plot::Series> pair_curves;
  std::map<std::string, std::vector<double>> pair_p1, pair_drop;
  for (const std::string& name : {std::string("triplet"), combo}) {
    for (const Run& r : runs[name]) {
      pair.row({name, std::to_string(r.seed), fmt(r.final.retrieval.precision_at_1), fmt(r.final.retrieval.map_at_r),
                fmt(largest_drop(r.curve_p1))});
      pair_p1[name].push_back(r.final.retrieval.precision_at_1);
      pair_drop[name].push_back(largest_drop(r.curve_p1));
      pair_curves.push_back({name + ", seed " + std::to_string(r.seed), r.curve_epoch, r.curve_p1, false, name == combo});
    }
  }
  nb.table(pair);
  for (const std::string& name : {std::string("triplet"), combo}) {
    const Spread p = spread(pair_p1[name]), d = spread(pair_drop[name]);
    nb.result("p1_spread_" + name, p.max - p.min);
    nb.result("largest_fall_mean_" + name, d.mean);
  }
  {
    const Spread t = spread(pair_p1["triplet"]), c = spread(pair_p1[combo]);
    const Spread td = spread(pair_drop["triplet"]), cd = spread(pair_drop[combo]);
    const double gap = c.mean - t.mean;
    nb.markdown("Measured: mean P@1 " + fmt(t.mean) + " (triplet) against " + fmt(c.mean) +
                " (triplet + softmax), a difference of " + fmt(gap, 4) + "; spread across seeds (max - min) " +
                fmt(t.max - t.min) + " against " + fmt(c.max - c.min) +
                "; mean largest fall during training " + fmt(td.mean) + " against " + fmt(cd.mean) + ". " +
                (seeds < 2 ? std::string("With one seed this is one sample, not a finding: there is no interval to "
                                         "compare the difference with.")
                           : "Paired seed by seed: " +
                                 describe_comparison("triplet + softmax", pair_p1[combo], "triplet", pair_p1["triplet"]) +
                                 "."));
  }
  plot::lines(nb.figure_path("triplet_pair"), pair_curves,
              {"Triplet alone (solid) and triplet + softmax (dashed)", "epoch", "test Precision@1"});
  nb.figure("triplet_pair",
            "Test P@1 during training for every seed: solid lines the triplet loss alone, dashed lines triplet + "
            "softmax (same batches, same initial network per seed). A steadier objective shows as lines that "
            "rise without falling back and lie closer together.");

  // The two rows share everything but the loss: the same parts by name, so the same initial
  // network on every seed, which shows in the untrained network's P@1 (the triplet term's
  // metric embedding, the same for both).
  {
    bool same_start = true;
    std::string starts;
    for (int s = 0; s < seeds; ++s) {
      const Run& a = runs["triplet"][static_cast<std::size_t>(s)];
      const Run& b = runs[combo][static_cast<std::size_t>(s)];
      same_start = same_start && a.untrained_p1 == b.untrained_p1;
      starts += (s ? ", " : "") + fmt(a.untrained_p1, 6) + " vs " + fmt(b.untrained_p1, 6);
    }
    nb.check(same_start,
             "triplet and triplet + softmax start from the same network on every seed (the Trainer is built from "
             "the same parts, only the loss swapped), so the rows differ only by their objective",
             "untrained test P@1 per seed: " + starts);
  }

  // ---- 4. data size: does the triplet loss keep its place when data is scarce? --------------------
  nb.markdown("## 4. Scarce data against plenty");
  nb.markdown(
      "The essay closes: with millions of images a margin softmax converges faster and better, while the "
      "triplet loss keeps its use when data is scarce. Measured: the triplet loss, the centroid bound and "
      "ArcFace trained on the first n training images, for n = " + [&] {
        std::string s;
        for (auto n : sweep_sizes) s += (s.empty() ? "" : ", ") + std::to_string(n);
        return s;
      }() + ", each with " + std::to_string(seeds) + " seed(s) (the table's seeds). Every run sees about the same number of images (" +
      std::to_string(sweep_images) +
      ": many epochs over a small set, few over a large one), so the runs differ in how much *distinct* data "
      "they saw, not in how long they trained" +
      std::string(sweep_sizes.back() == table_n && (sweep_images + table_n / 2) / table_n == epochs
                      ? "; the largest n is the table's runs themselves"
                      : "") +
      ". ArcFace keeps its default warm-up (one epoch, at most half the run, as for every margin-softmax loss), "
      "which is a smaller share of a many-epoch run. Each cell is the mean P@1 over the seeds with its 95% "
      "interval (Student's t, eval/confidence.h); the verdict at each size compares triplet and ArcFace seed by "
      "seed (a paired difference), and says \"no difference measured\" when the interval of the difference holds 0.");
  const std::vector<std::string> sweep_losses = {"triplet", "centroid", "arcface"};
  // sweep_p1[name][i]: P@1 of each seed at sweep_sizes[i]
  std::map<std::string, std::vector<std::vector<double>>> sweep_p1;
  Table sweep{{"training images", "epochs", "triplet P@1", "centroid P@1", "arcface P@1", "triplet vs arcface"}, {}};
  std::vector<Verdict> verdicts;
  std::string story;
  for (std::size_t i = 0; i < sweep_sizes.size(); ++i) {
    const std::int64_t n = sweep_sizes[i];
    const int ep = static_cast<int>(std::max<std::int64_t>(1, (sweep_images + n / 2) / n));
    std::vector<std::string> cells = {std::to_string(n), std::to_string(ep)};
    for (const auto& name : sweep_losses) {
      std::vector<double> p1s;
      for (int s = 0; s < seeds; ++s) {
        TrainConfig cfg = base;
        cfg.loss = name;
        cfg.limit_train = n;
        cfg.epochs = ep;
        cfg.seed = nb.seed() + static_cast<std::uint64_t>(s);
        // the table's run for this seed is this run when it trained on the same images for as many epochs
        const bool same_as_table = n == table_n && ep == epochs;
        const double p1 = same_as_table ? runs[name][static_cast<std::size_t>(s)].final.retrieval.precision_at_1
                                        : train_one(name, cfg, false, 0).final.retrieval.precision_at_1;
        std::cout << "  sweep n=" << n << " " << name << " seed " << cfg.seed << ": P@1 " << fmt(p1) << "  ("
                  << fmt(nb.elapsed_seconds(), 1) << " s)\n";
        nb.result("sweep_p1_" + name + "_" + std::to_string(n) + "_seed" + std::to_string(cfg.seed), p1);
        p1s.push_back(p1);
      }
      const Interval iv = mean_interval(p1s);
      nb.result("sweep_p1_" + name + "_" + std::to_string(n), iv.mean);
      cells.push_back(describe_interval(iv));
      sweep_p1[name].push_back(std::move(p1s));
    }
    const auto& tr = sweep_p1["triplet"].back();
    const auto& ar = sweep_p1["arcface"].back();
    verdicts.push_back(compare(tr, ar));
    const Interval d = paired_difference(tr, ar);
    cells.push_back(verdicts.back() == Verdict::kFirstLarger    ? "triplet ahead"
                    : verdicts.back() == Verdict::kSecondLarger ? "arcface ahead"
                    : verdicts.back() == Verdict::kOneSample   ? "one seed: no verdict"
                                                               : "no difference measured");
    nb.result("sweep_triplet_minus_arcface_" + std::to_string(n), d.mean);
    story += (story.empty() ? "" : "; ") + std::string("n = ") + std::to_string(n) + ": " +
             describe_comparison("triplet", tr, "arcface", ar);
    sweep.row(cells);
  }
  nb.table(sweep);
  std::vector<plot::Series> sweep_series;
  std::vector<double> xs(sweep_sizes.begin(), sweep_sizes.end());
  for (const auto& name : sweep_losses) {
    plot::Series sr{name, xs, {}};
    for (const auto& p1s : sweep_p1[name]) {
      const Interval iv = mean_interval(p1s);
      sr.y.push_back(iv.mean);
      sr.y_low.push_back(iv.low);
      sr.y_high.push_back(iv.high);
    }
    sweep_series.push_back(std::move(sr));
  }
  plot::Axes sweep_axes{"Test P@1 against the number of training images (" + std::to_string(seeds) + " seed(s))",
                        "training images (log scale)", "test Precision@1"};
  sweep_axes.log_x = true;
  plot::lines(nb.figure_path("data_size"), sweep_series, sweep_axes);
  nb.figure("data_size",
            "Test P@1 of the triplet loss, the centroid bound and ArcFace trained on n images (same number of "
            "images seen per run): the mean over the seeds, each point with its 95% interval as an error bar. "
            "Where the triplet line lies above ArcFace's at small n and below it at large n, the lines cross: that "
            "is the essay's claim. Where the bars of two lines overlap, look at the table's paired verdict before "
            "reading an order into them.");
  {
    // The essay's crossing holds only when both ends are verdicts, not rounding: triplet ahead at the
    // smallest n and ArcFace ahead at the largest, each with a paired interval that excludes 0.
    const bool essay = verdicts.front() == Verdict::kFirstLarger && verdicts.back() == Verdict::kSecondLarger;
    const bool reversed = verdicts.front() == Verdict::kSecondLarger && verdicts.back() == Verdict::kFirstLarger;
    const bool none = std::all_of(verdicts.begin(), verdicts.end(), [](Verdict v) { return v == Verdict::kNoDifference; });
    const bool one_seed = verdicts.front() == Verdict::kOneSample;
    nb.result("sweep_essay_crossing_measured", essay ? 1 : 0);
    nb.markdown(
        "**The crossing, measured over " + std::to_string(seeds) + " seed(s):** " + story + ". " +
        (one_seed ? std::string("With one seed there is no interval, so no verdict: run with --seeds 3 (the default "
                                "without --quick).")
         : essay ? std::string("The triplet loss is ahead with the fewest images and ArcFace with the most, each beyond "
                               "its interval: the lines cross, as the essay says.")
         : reversed ? std::string("The lines cross, but not in the essay's direction (ArcFace ahead with few images, the "
                                  "triplet loss with many), each beyond its interval.")
         : none ? std::string("At every size the interval of the difference holds 0: no difference measured at this "
                              "budget, so this run neither shows nor refutes the essay's crossing.")
                : std::string("No crossing measured: the verdicts above differ from the essay's (triplet ahead with "
                              "few images, ArcFace with many) at one end or both.")) +
        " This is a measurement of this budget (this model, these sizes, this many seeds), not a law; the gallery "
        "states how far such numbers move across machines (docs/performance.md).");
  }

  // ---- the claims --------------------------------------------------------------------------
  nb.check(complete_rows == rows.size() * static_cast<std::size_t>(seeds),
           "the table has every loss on every seed, with finite metrics",
           std::to_string(complete_rows) + " of " + std::to_string(rows.size()) + " x " + std::to_string(seeds) + " runs");
  nb.check(not_learned.empty(),
           "every loss learned on every seed: its test P@1 ends above the untrained network's (which is already far "
           "above chance, 0.1: the comparison would mean nothing if some loss had not yet moved off it)",
           not_learned.empty()
               ? "smallest gain " + fmt(least_gain, 4) + "; lowest P@1 " + fmt(worst_p1) + ", lowest test accuracy " +
                     fmt(worst_acc)
               : [&] {
                   std::string s = "not above it: ";
                   for (std::size_t i = 0; i < not_learned.size(); ++i) s += (i ? ", " : "") + not_learned[i];
                   return s;
                 }());
  return nb.finish();
}
