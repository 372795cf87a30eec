// demos/09_loss_comparison.cpp — every loss on the same network: the essay's comparison, measured.
//
//   build/demo_09_loss_comparison                 the shipped subset: the MLP, 3 seeds, all 6,000 images
//                                                 for 4 epochs (the gallery's run line says how long it took)
//   build/demo_09_loss_comparison --quick         seconds: 1 seed, 1,000 training images, 2 epochs
//                                                 (a check that the program runs; not the answer)
//   build/demo_09_loss_comparison --data DIR      the full data set on SmallCNN at full scale: 3 seeds,
//                                                 60,000 images for 2 epochs (about an hour on 2 cores)
//   --dataset mnist|fashion-mnist                 which data set (default MNIST)
//   --model cnn                                   SmallCNN on the subset too (about 25 times the CPU)
//
// 1. every loss of the registry, plus triplet + softmax, on one network with 64-d embeddings,
//    over 3 seeds: one table (accuracy, P@1, MAP@R, NMI, epoch time) with 95% intervals, and the
//    ranking by P@1, each loss paired seed by seed with the first;
// 2. the training curves (test P@1 during training, seed 0), one series per loss;
// 3. triplet alone against triplet + softmax: does the softmax term steady the triplet loss?
// 4. the essay's closing claim: P@1 of triplet, the centroid bound and ArcFace against the
//    number of training images — does the triplet loss win when data is scarce?
//
// Why the MLP on the subset: SmallCNN costs about 10 s of CPU per epoch of 6,000 images, the MLP
// about 0.4 s. In two minutes on 2 cores, 27 SmallCNN runs got a few dozen steps each, and the
// margin losses had not started to learn (on MNIST, ArcFace test accuracy 0.21, below its untrained
// P@1): a table of runs that have barely begun compares nothing. The MLP gets every loss 188 steps
// (94 left CosFace and the combined margin unsteady on MNIST: test accuracy 0.71 and 0.67 on one
// seed), 3 seeds.
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
using chalk::demo::count_str;
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

// Largest fall of test P@1 between two consecutive evaluations of a curve (0 if it never falls).
double largest_drop(const std::vector<double>& p1) {
  double d = 0;
  for (std::size_t i = 1; i < p1.size(); ++i) d = std::max(d, p1[i - 1] - p1[i]);
  return d;
}

// ---- the budget -------------------------------------------------------------------------------

// What every run of the demo trains, decided from the flags once.
//
// Measured on one thread: the MLP trains an epoch of the 6,000 subset images in about 0.4 s of
// CPU (the triplet rows about twice that: more, smaller P x K batches, and the mining), SmallCNN
// in about 10 s. 9 objectives x 3 seeds is 27 runs, plus the data-size sweep: on the subset,
// within 2 minutes on 2 cores (with a margin for slower machines), that is 4 MLP epochs over all
// 6,000 images per run (72-84 s of CPU on one thread with OpenBLAS's generic kernels, 10-25 s
// with its AVX-512 ones) — or about 30 steps per SmallCNN run, too few for the margin losses to
// start learning.
struct Budget {
  std::string model, model_name;
  bool quick = false, full = false, cnn = false;
  int seeds = 3, epochs = 4;
  std::int64_t limit_train = 0, sweep_images = 0;
  std::int64_t table_n = 0, test_n = 0;  // the table's training images; the test set's
  std::vector<std::int64_t> sweep_sizes;
  std::int64_t B = 0, K = 0, PK = 0, steps_per_epoch = 0, pk_steps_per_epoch = 0;
  TrainConfig base;  // every run's config before its loss, seed, epochs and images
  int evals_per_epoch = 2;
};

Budget decide_budget(const Notebook& nb, std::string model, int seeds, int epochs, std::int64_t limit_train,
                     std::int64_t sweep_images) {
  Budget b;
  b.quick = nb.quick();
  b.full = nb.full_data();
  b.model = model.empty() ? (b.full && !b.quick ? "cnn" : "mlp") : model;
  nn::find_model(b.model);  // throws, naming the known models
  b.cnn = b.model == "cnn";
  b.model_name = b.cnn ? "SmallCNN" : "the MLP";
  b.seeds = seeds < 0 ? (b.quick ? 1 : 3) : seeds;
  b.epochs = epochs < 0 ? (b.quick || b.cnn ? 2 : 4) : epochs;
  b.limit_train = limit_train < 0 ? (b.quick ? 1000 : 0) : limit_train;
  if (b.seeds < 1 || b.epochs < 1 || b.limit_train < 0 || sweep_images == 0 || sweep_images < -1)
    fail("demo 09: --seeds, --epochs, --sweep-images must be >= 1 and --limit-train >= 0");
  // the table's training images: the first limit_train of the training split (0: all of it)
  b.table_n = nb.train_images(b.limit_train);
  b.test_n = nb.test_split().n;
  b.sweep_images = sweep_images < 0 ? b.epochs * b.table_n : sweep_images;
  // the sweep's sizes, from a few hundred images up: on the subset a twentieth of the set, a tenth,
  // a third and all of it; on a full set a hundredth, a tenth and all of it
  const std::int64_t n = b.table_n;
  for (std::int64_t size : b.quick ? std::vector<std::int64_t>{n * 3 / 10, n}
                           : b.full ? std::vector<std::int64_t>{n / 100, n / 10, n}
                                    : std::vector<std::int64_t>{n / 20, n / 10, n / 3, n})
    // at least 200 images: the triplet loss's P x K batches need K = 8 images of every class
    if (size >= 200 && (b.sweep_sizes.empty() || size > b.sweep_sizes.back())) b.sweep_sizes.push_back(size);
  // the batches chalk-train draws at its defaults (train/sampler.h decides P x K)
  const TrainConfig defaults;
  b.B = defaults.batch_size;
  b.K = defaults.samples_per_class;
  b.PK = pk_classes_per_batch(nb.dataset().num_classes(), b.B, b.K) * b.K;
  b.steps_per_epoch = (b.table_n + b.B - 1) / b.B;
  b.pk_steps_per_epoch = std::max<std::int64_t>(1, b.table_n / b.PK);
  b.base = nb.train_config();
  b.base.model = b.model;
  b.base.emb_dim = 64;
  b.base.epochs = b.epochs;
  b.base.limit_train = b.limit_train;
  return b;
}

// ---- the report's sections --------------------------------------------------------------------

const std::vector<std::string> kLosses = {"softmax", "normface", "sphereface", "cosface",
                                          "arcface", "combined", "triplet",    "centroid"};
const std::string kCombo = "triplet+softmax";
// The table's rows: every registry loss, then triplet + softmax.
std::vector<std::string> rows() {
  std::vector<std::string> r = kLosses;
  r.push_back(kCombo);
  return r;
}
using Runs = std::map<std::string, std::vector<Run>>;  // per row, one run per seed

// MNIST's full-data reference: docs/losses.md's table (the only data set it has one for).
bool has_reference(const Notebook& nb) { return nb.dataset().name == "mnist"; }

void introduction(Notebook& nb, const Budget& b) {
  const std::string data = nb.dataset().display_name;
  nb.markdown(
      "The essay compares the losses by argument: the softmax family sees every class in every batch "
      "through its weight rows W (each row acts as a class centre), the triplet loss sees two classes per "
      "triplet, and the centroid bound gives the triplet loss back the global view with fixed centres. "
      "Here every loss of the registry trains the same network, " + b.model_name +
      " with 64-d embeddings, each loss with its own defaults from the loss registry (optimizer, learning "
      "rate, warm-up: docs/losses.md), on the same " + data + " images, with " + std::to_string(b.seeds) +
      " seed(s), and the test set (" + count_str(b.test_n) +
      " images) scores each: accuracy (argmax of the logits; nearest class mean for the triplet losses), "
      "Precision@1 and MAP@R (retrieval, every test image querying the others), NMI of a K-means "
      "clustering, and the training seconds per epoch.");
  // the image passes a --data run costs (SmallCNN, 3 seeds, 2 epochs of 60,000; the sweep's two
  // smaller sizes, the largest is the table's run): at about 1,000 images/s on 2 cores
  const double data_passes = 9.0 * 3 * 2 * 60000 + 3.0 * 2 * 2 * 60000;
  nb.markdown(
      std::string("**What this run does, and what `--data` adds.** ") +
      (b.full ? "This is a run on the full " + data + " set: "
              : "This run uses the shipped " + data + " subset (" + count_str(nb.train_images()) + " training images, " +
                    count_str(b.test_n) + " test images): ") +
      "every run of the table trains " + b.model_name + " on " + count_str(b.table_n) + " training images for " +
      std::to_string(b.epochs) + (b.epochs == 1 ? " epoch (" : " epochs (") + std::to_string(b.steps_per_epoch * b.epochs) +
      " steps at batch " + std::to_string(b.B) + "; the two triplet rows " + std::to_string(b.pk_steps_per_epoch * b.epochs) +
      " P x K batches of " + std::to_string(b.PK) + "). " +
      (b.cnn ? std::string("")
             : "It trains the MLP (784-256-128-64) rather than SmallCNN because SmallCNN costs about 25 times "
               "the CPU per image: within two minutes on 2 cores, 27 SmallCNN runs got a few dozen steps each, "
               "and at that budget the margin losses had not started to learn (in an earlier version of this "
               "demo, on MNIST, ArcFace's test accuracy was 0.21 after 24 steps) — a table of runs that have barely "
               "begun would compare nothing. With the MLP every loss learns, but the MLP is a weaker network than "
               "SmallCNN and " + count_str(b.test_n) + " test images are few: read the table for how the losses "
               "compare after the same short training, not for where they end. Every loss gets 4 epochs (188 steps) "
               "and 3 seeds: with 2 epochs, CosFace and the combined margin were still unsteady on MNIST (test "
               "accuracy 0.71 and 0.67 on one seed of three). ") +
      (has_reference(nb) ? "On full MNIST every loss reaches P@1 >= 0.99 with seed 0 (docs/losses.md, quoted below). "
                         : std::string("")) +
      "`--data DIR` (the full set, 60,000 training images) runs the comparison at full scale: SmallCNN, 3 seeds, "
      "all 60,000 training images for 2 epochs (938 steps), the 10,000 test images, and the sweep over 600 / "
      "6,000 / 60,000 images — about " + fmt(data_passes / 1e6, 1) +
      " million SmallCNN image passes, roughly an hour on 2 cores at the ~1,000 images/s SmallCNN trains at "
      "(an estimate; not run for this report unless the run line above says --data). `--model`, `--seeds`, "
      "`--epochs`, `--limit-train` and `--sweep-images` change the budget.");
}

// Every row on every seed: seed 0's runs record their P@1 curve, and every seed of the two triplet
// rows (their stability, section 3).
Runs train_every_loss(Notebook& nb, const Budget& b) {
  Runs runs;
  for (const auto& name : rows()) {
    for (int s = 0; s < b.seeds; ++s) {
      TrainConfig cfg = b.base;
      cfg.seed = nb.seed() + static_cast<std::uint64_t>(s);
      cfg.loss = name == kCombo ? "triplet" : name;
      const bool curve = s == 0 || name == "triplet" || name == kCombo;
      Run r = train_one(name, cfg, name == kCombo, curve ? b.evals_per_epoch : 0);
      std::cout << "  " << name << " seed " << cfg.seed << ": P@1 " << fmt(r.final.retrieval.precision_at_1)
                << ", " << fmt(r.seconds_per_epoch, 2) << " s/epoch  (" << fmt(nb.elapsed_seconds(), 1) << " s)\n";
      runs[name].push_back(std::move(r));
    }
  }
  return runs;
}

// What section 1 found, for the claims at the end.
struct TableFindings {
  std::size_t complete_runs = 0;
  std::vector<std::string> not_learned;
  double worst_p1 = 1, worst_acc = 1, least_gain = 1;
  void add(const std::string& name, const Run& r) {
    const auto& m = r.final;
    complete_runs += std::isfinite(m.test_accuracy) && std::isfinite(m.retrieval.precision_at_1) &&
                     std::isfinite(m.retrieval.map_at_r) && std::isfinite(m.nmi);
    worst_p1 = std::min(worst_p1, m.retrieval.precision_at_1);
    worst_acc = std::min(worst_acc, m.test_accuracy);
    least_gain = std::min(least_gain, m.retrieval.precision_at_1 - r.untrained_p1);
    if (!(m.retrieval.precision_at_1 > r.untrained_p1))
      not_learned.push_back(name + " (seed " + std::to_string(r.seed) + ": " + fmt(r.untrained_p1, 3) + " -> " +
                            fmt(m.retrieval.precision_at_1, 3) + ")");
  }
};

// MNIST's runs below the reference's P@1 of 0.99, and the reference itself (docs/losses.md).
void against_the_reference(Notebook& nb, const Budget& b, const std::vector<std::string>& below) {
  nb.markdown(below.empty()
                  ? "Every loss reached P@1 >= 0.99 on every seed."
                  : "**Below P@1 0.99:** " + std::to_string(below.size()) + " of " +
                        std::to_string(rows().size() * b.seeds) + " runs — " +
                        (below.size() == rows().size() * static_cast<std::size_t>(b.seeds)
                             ? std::string("all of them, every loss on every seed")
                             : [&] {
                                 std::string s;
                                 for (const auto& x : below) s += (s.empty() ? "" : ", ") + x;
                                 return s;
                               }()) +
                        (b.full && b.cnn ? ". This is the short budget (2 epochs), not the losses: the reference below "
                                           "is where they get after 5."
                                         : ". This is the short budget on the subset" +
                                               std::string(b.cnn ? "" : " and the MLP") +
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
}

// The summary (mean and 95% interval per loss) and per-run tables; on MNIST, the runs below the
// reference's P@1.
TableFindings the_tables(Notebook& nb, const Budget& b, const Runs& runs) {
  const bool reference = has_reference(nb);
  std::vector<std::string> header = {"loss", "test accuracy", "P@1", "MAP@R", "NMI", "s / epoch"};
  if (reference) header.push_back("seeds with P@1 >= 0.99");
  Table summary{header, {}};
  Table per_seed{{"loss", "seed", "test accuracy", "P@1", "R@8", "MAP@R", "NMI", "final train loss", "s / epoch"}, {}};
  std::vector<std::string> below;
  TableFindings f;
  for (const auto& name : rows()) {
    std::vector<double> acc, p1, mapr, nmi, sec;
    int at_target = 0;
    for (const Run& r : runs.at(name)) {
      const auto& m = r.final;
      acc.push_back(m.test_accuracy);
      p1.push_back(m.retrieval.precision_at_1);
      mapr.push_back(m.retrieval.map_at_r);
      nmi.push_back(m.nmi);
      sec.push_back(r.seconds_per_epoch);
      at_target += m.retrieval.precision_at_1 >= 0.99;
      if (m.retrieval.precision_at_1 < 0.99) below.push_back(name + " (seed " + std::to_string(r.seed) + ")");
      f.add(name, r);
      per_seed.row({name, std::to_string(r.seed), fmt(m.test_accuracy), fmt(m.retrieval.precision_at_1),
                    fmt(m.retrieval.recall_at_8), fmt(m.retrieval.map_at_r), fmt(m.nmi), fmt(r.train_loss.back()),
                    fmt(r.seconds_per_epoch, 2)});
    }
    std::vector<std::string> cells = {name, describe_interval(mean_interval(acc)), describe_interval(mean_interval(p1)),
                                      describe_interval(mean_interval(mapr)), describe_interval(mean_interval(nmi)),
                                      describe_interval(mean_interval(sec), 2)};
    if (reference) cells.push_back(std::to_string(at_target) + " of " + std::to_string(b.seeds));
    summary.row(cells);
    const Spread p = spread(p1);
    nb.result("acc_mean_" + name, spread(acc).mean);
    nb.result("p1_mean_" + name, p.mean);
    nb.result("p1_min_" + name, p.min);
    nb.result("p1_max_" + name, p.max);
    nb.result("mapr_mean_" + name, spread(mapr).mean);
    nb.result("nmi_mean_" + name, spread(nmi).mean);
    nb.result("seconds_per_epoch_" + name, spread(sec).mean);
  }
  nb.markdown(b.seeds > 1 ? "Mean over the " + std::to_string(b.seeds) + " seeds, with its 95% interval (Student's t, "
                                "eval/confidence.h):"
                          : std::string("One seed: the values alone (no interval):"));
  nb.table(summary);
  nb.markdown("Every run (every loss, every seed):");
  nb.table(per_seed);
  if (reference) against_the_reference(nb, b, below);
  else
    nb.markdown("docs/losses.md has full-data reference numbers for MNIST only; for " + nb.dataset().display_name +
                " this table is the measurement, at this budget.");
  nb.markdown(
      "The epoch times are wall-clock seconds of the training alone on a machine that may be shared; "
      "they compare the losses' costs only roughly (the triplet rows mine a " + std::to_string(b.PK) + " x " +
      std::to_string(b.PK) + " distance matrix per P x K batch of " + std::to_string(b.PK) +
      "; the others use batches of " + std::to_string(b.B) + ", so their epochs have fewer steps).");
  return f;
}

// The ranking by mean test P@1, each loss paired seed by seed with the first.
void the_ranking(Notebook& nb, const Budget& b, const Runs& runs) {
  std::vector<std::pair<double, std::string>> order;
  std::map<std::string, std::vector<double>> p1;
  for (const auto& name : rows()) {
    for (const Run& r : runs.at(name)) p1[name].push_back(r.final.retrieval.precision_at_1);
    order.push_back({-mean_interval(p1[name]).mean, name});
  }
  std::stable_sort(order.begin(), order.end());
  const std::string& top = order.front().second;
  Table t{{"rank", "loss", "P@1", "against " + top + " (paired over the seeds)"}, {}};
  std::string tied, behind;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::string& name = order[i].second;
    const Verdict v = name == top ? Verdict::kNoDifference : compare(p1[name], p1[top]);
    std::string verdict = "-";
    if (name != top) {
      const Interval d = paired_difference(p1[name], p1[top]);
      verdict = fmt(d.mean, 4) + (b.seeds > 1 ? " [" + fmt(d.low, 4) + ", " + fmt(d.high, 4) + "]" : std::string()) + ": " +
                (v == Verdict::kSecondLarger ? "behind" : v == Verdict::kFirstLarger ? "ahead"
                 : v == Verdict::kOneSample   ? "one seed, no verdict"
                                              : "no difference measured");
      std::string& list = v == Verdict::kSecondLarger ? behind : tied;
      list += (list.empty() ? "" : ", ") + name;
    }
    t.row({std::to_string(i + 1), name, describe_interval(mean_interval(p1[name])), verdict});
    nb.result("rank_" + name, static_cast<double>(i + 1));
  }
  nb.markdown("### The ranking by P@1\n\nThe losses ordered by their mean test P@1; each is paired seed by seed with "
              "the first, " + top + " (the difference of P@1 with its 95% interval):");
  nb.table(t);
  nb.markdown(
      b.seeds < 2
          ? std::string("With one seed the order is one sample, not a ranking: there is no interval to compare a "
                        "difference with. Run with --seeds 3 (the default without --quick).")
          : "Measured over " + std::to_string(b.seeds) + " seeds: " +
                (behind.empty() ? "no loss is measurably behind " + top
                                : "measurably behind " + top + " (the interval of the difference lies below 0): " + behind) +
                "; " + (tied.empty() ? "every other loss is behind it" : "no difference measured from " + top + ": " + tied) +
                ". Only the first place is tested, against each other loss; an order among the others is not "
                "measured. " + std::to_string(order.size() - 1) + " comparisons at 95% each: were all the losses "
                "equal, " + fmt(100 * (1 - std::pow(0.95, static_cast<double>(order.size() - 1))), 0) +
                "% of such rankings would still show at least one 'behind' by chance alone.");
}

// ## 2. The training curves
void the_training_curves(Notebook& nb, const Budget& b, const Runs& runs) {
  nb.markdown("## 2. The training curves");
  std::vector<plot::Series> curves;
  for (const auto& name : rows()) {
    const Run& r = runs.at(name).front();
    curves.push_back({name, r.curve_epoch, r.curve_p1, false, name == kCombo});
  }
  plot::lines(nb.figure_path("curves"), curves,
              {"Test P@1 during training (seed " + std::to_string(nb.seed()) + ", " + std::to_string(b.table_n) + " images)",
               "epoch", "test Precision@1"});
  nb.figure("curves",
            "Test Precision@1 measured " + std::to_string(b.evals_per_epoch) +
                " times per epoch (x = 0: the untrained network), one line per loss, seed " + std::to_string(nb.seed()) +
                ". Look at how fast each line rises in the first epoch and where it flattens; the untrained "
                "network's P@1 (x = 0) is already far above chance (0.1): even an untrained network's features "
                "put many images next to their own kind (so does the raw pixel distance).");
  // did each loss improve on the untrained network's retrieval within this budget?
  std::string improved, not_yet;
  for (const auto& name : rows()) {
    const Run& r = runs.at(name).front();
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

// ## 3. Triplet alone, and triplet + softmax
void triplet_alone_and_with_softmax(Notebook& nb, const Budget& b, const Runs& runs) {
  nb.markdown("## 3. Triplet alone, and triplet + softmax");
  nb.markdown(
      "The essay: a triplet batch touches two classes per triplet, so a class's embeddings can jump "
      "around and training goes back and forth; practitioners therefore add a softmax loss. Measured here "
      "on every seed: the final P@1, its spread across seeds, and the largest fall of test P@1 between two "
      "consecutive evaluations during training (" + std::to_string(b.evals_per_epoch) + " per epoch).");
  Table pair{{"objective", "seed", "P@1", "MAP@R", "largest fall of test P@1 during training"}, {}};
  std::vector<plot::Series> pair_curves;
  std::map<std::string, std::vector<double>> pair_p1, pair_drop;
  for (const std::string& name : {std::string("triplet"), kCombo}) {
    for (const Run& r : runs.at(name)) {
      pair.row({name, std::to_string(r.seed), fmt(r.final.retrieval.precision_at_1), fmt(r.final.retrieval.map_at_r),
                fmt(largest_drop(r.curve_p1))});
      pair_p1[name].push_back(r.final.retrieval.precision_at_1);
      pair_drop[name].push_back(largest_drop(r.curve_p1));
      pair_curves.push_back({name + ", seed " + std::to_string(r.seed), r.curve_epoch, r.curve_p1, false, name == kCombo});
    }
  }
  nb.table(pair);
  for (const std::string& name : {std::string("triplet"), kCombo}) {
    const Spread p = spread(pair_p1[name]), d = spread(pair_drop[name]);
    nb.result("p1_spread_" + name, p.max - p.min);
    nb.result("largest_fall_mean_" + name, d.mean);
  }
  const Spread t = spread(pair_p1["triplet"]), c = spread(pair_p1[kCombo]);
  const Spread td = spread(pair_drop["triplet"]), cd = spread(pair_drop[kCombo]);
  nb.result("triplet_plus_softmax_minus_triplet_p1", c.mean - t.mean);
  nb.markdown("Measured: mean P@1 " + fmt(t.mean) + " (triplet) against " + fmt(c.mean) +
              " (triplet + softmax), a difference of " + fmt(c.mean - t.mean, 4) + "; spread across seeds (max - min) " +
              fmt(t.max - t.min) + " against " + fmt(c.max - c.min) + "; mean largest fall during training " +
              fmt(td.mean) + " against " + fmt(cd.mean) + ". " +
              (b.seeds < 2 ? std::string("With one seed this is one sample, not a finding: there is no interval to "
                                         "compare the difference with.")
                           : "Paired seed by seed: P@1, " +
                                 describe_comparison("triplet + softmax", pair_p1[kCombo], "triplet", pair_p1["triplet"]) +
                                 "; the largest fall, " +
                                 describe_comparison("triplet + softmax", pair_drop[kCombo], "triplet",
                                                     pair_drop["triplet"], 4, Better::kLower) +
                                 "."));
  plot::lines(nb.figure_path("triplet_pair"), pair_curves,
              {"Triplet alone (solid) and triplet + softmax (dashed)", "epoch", "test Precision@1"});
  nb.figure("triplet_pair",
            "Test P@1 during training for every seed: solid lines the triplet loss alone, dashed lines triplet + "
            "softmax (same batches, same initial network per seed). A steadier objective shows as lines that "
            "rise without falling back and lie closer together.");

  // The two rows share everything but the loss: the same parts by name, so the same initial
  // network on every seed, which shows in the untrained network's P@1 (the triplet term's
  // metric embedding, the same for both).
  bool same_start = true;
  std::string starts;
  for (int s = 0; s < b.seeds; ++s) {
    const Run& x = runs.at("triplet")[static_cast<std::size_t>(s)];
    const Run& y = runs.at(kCombo)[static_cast<std::size_t>(s)];
    same_start = same_start && x.untrained_p1 == y.untrained_p1;
    starts += (s ? ", " : "") + fmt(x.untrained_p1, 6) + " vs " + fmt(y.untrained_p1, 6);
  }
  nb.check(same_start,
           "triplet and triplet + softmax start from the same network on every seed (the Trainer is built from "
           "the same parts, only the loss swapped), so the rows differ only by their objective",
           "untrained test P@1 per seed: " + starts);
}

// One size of the sweep: every sweep loss on every seed; the table's run where it is the same run.
struct SweepPoint {
  std::int64_t n = 0;
  int epochs = 0;
  std::map<std::string, std::vector<double>> p1;  // per loss, one P@1 per seed
};
const std::vector<std::string> kSweepLosses = {"triplet", "centroid", "arcface"};
SweepPoint sweep_point(Notebook& nb, const Budget& b, const Runs& runs, std::int64_t n) {
  SweepPoint pt{n, static_cast<int>(std::max<std::int64_t>(1, (b.sweep_images + n / 2) / n)), {}};
  for (const auto& name : kSweepLosses) {
    for (int s = 0; s < b.seeds; ++s) {
      TrainConfig cfg = b.base;
      cfg.loss = name;
      cfg.limit_train = n;
      cfg.epochs = pt.epochs;
      cfg.seed = nb.seed() + static_cast<std::uint64_t>(s);
      // the table's run for this seed is this run when it trained on the same images for as many epochs
      const bool same_as_table = n == b.table_n && pt.epochs == b.epochs;
      const double p1 = same_as_table ? runs.at(name)[static_cast<std::size_t>(s)].final.retrieval.precision_at_1
                                      : train_one(name, cfg, false, 0).final.retrieval.precision_at_1;
      std::cout << "  sweep n=" << n << " " << name << " seed " << cfg.seed << ": P@1 " << fmt(p1) << "  ("
                << fmt(nb.elapsed_seconds(), 1) << " s)\n";
      nb.result("sweep_p1_" + name + "_" + std::to_string(n) + "_seed" + std::to_string(cfg.seed), p1);
      pt.p1[name].push_back(p1);
    }
    nb.result("sweep_p1_" + name + "_" + std::to_string(n), mean_interval(pt.p1[name]).mean);
  }
  return pt;
}

// **The crossing**: the verdicts at the two ends of the sweep, against the essay's direction.
void the_crossing(Notebook& nb, const Budget& b, const std::vector<Verdict>& verdicts, const std::string& story) {
  // The essay's crossing holds only when both ends are verdicts, not rounding: triplet ahead at the
  // smallest n and ArcFace ahead at the largest, each with a paired interval that excludes 0.
  const bool essay = verdicts.front() == Verdict::kFirstLarger && verdicts.back() == Verdict::kSecondLarger;
  const bool reversed = verdicts.front() == Verdict::kSecondLarger && verdicts.back() == Verdict::kFirstLarger;
  const bool none = std::all_of(verdicts.begin(), verdicts.end(), [](Verdict v) { return v == Verdict::kNoDifference; });
  const bool one_seed = verdicts.front() == Verdict::kOneSample;
  nb.result("sweep_essay_crossing_measured", essay ? 1 : 0);
  nb.markdown(
      "**The crossing, measured over " + std::to_string(b.seeds) + " seed(s):** " + story + ". " +
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
      " This is a measurement of this budget (this model, these sizes, this many seeds, " + nb.dataset().display_name +
      "), not a law; the gallery states how far such numbers move across machines (docs/performance.md).");
}

// ## 4. Scarce data against plenty
void scarce_data_against_plenty(Notebook& nb, const Budget& b, const Runs& runs) {
  nb.markdown("## 4. Scarce data against plenty");
  std::string sizes;
  for (auto n : b.sweep_sizes) sizes += (sizes.empty() ? "" : ", ") + std::to_string(n);
  nb.markdown(
      "The essay closes: with millions of images a margin softmax converges faster and better, while the "
      "triplet loss keeps its use when data is scarce. Measured: the triplet loss, the centroid bound and "
      "ArcFace trained on the first n training images, for n = " + sizes + ", each with " + std::to_string(b.seeds) +
      " seed(s) (the table's seeds). Every run sees about the same number of images (" + std::to_string(b.sweep_images) +
      ": many epochs over a small set, few over a large one), so the runs differ in how much *distinct* data "
      "they saw, not in how long they trained" +
      std::string(b.sweep_sizes.back() == b.table_n && (b.sweep_images + b.table_n / 2) / b.table_n == b.epochs
                      ? "; the largest n is the table's runs themselves"
                      : "") +
      ". ArcFace keeps its default warm-up (one epoch, at most half the run, as for every margin-softmax loss), "
      "which is a smaller share of a many-epoch run. Each cell is the mean P@1 over the seeds with its 95% "
      "interval (Student's t, eval/confidence.h); the verdict at each size compares triplet and ArcFace seed by "
      "seed (a paired difference), and says \"no difference measured\" when the interval of the difference holds 0.");
  Table sweep{{"training images", "epochs", "triplet P@1", "centroid P@1", "arcface P@1", "triplet - arcface (paired)",
               "verdict"}, {}};
  std::vector<SweepPoint> points;
  std::vector<Verdict> verdicts;
  std::string story;
  for (const std::int64_t n : b.sweep_sizes) {
    points.push_back(sweep_point(nb, b, runs, n));
    const auto &tr = points.back().p1.at("triplet"), &ar = points.back().p1.at("arcface");
    verdicts.push_back(compare(tr, ar));
    const Interval d = paired_difference(tr, ar);
    std::vector<std::string> cells = {std::to_string(n), std::to_string(points.back().epochs)};
    for (const auto& name : kSweepLosses) cells.push_back(describe_interval(mean_interval(points.back().p1.at(name))));
    cells.push_back(describe_interval(d));
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
  std::vector<plot::Series> series;
  const std::vector<double> xs(b.sweep_sizes.begin(), b.sweep_sizes.end());
  for (const auto& name : kSweepLosses) {
    plot::Series sr{name, xs, {}};
    for (const SweepPoint& pt : points) {
      const Interval iv = mean_interval(pt.p1.at(name));
      sr.y.push_back(iv.mean);
      sr.y_low.push_back(iv.low);
      sr.y_high.push_back(iv.high);
    }
    series.push_back(std::move(sr));
  }
  plot::Axes axes{"Test P@1 against the number of training images (" + std::to_string(b.seeds) + " seed(s))",
                  "training images (log scale)", "test Precision@1"};
  axes.log_x = true;
  plot::lines(nb.figure_path("data_size"), series, axes);
  nb.figure("data_size",
            "Test P@1 of the triplet loss, the centroid bound and ArcFace trained on n images (same number of "
            "images seen per run): the mean over the seeds, each point with its 95% interval as an error bar. "
            "Where the triplet line lies above ArcFace's at small n and below it at large n, the lines cross: that "
            "is the essay's claim. Where the bars of two lines overlap, look at the table's paired verdict before "
            "reading an order into them.");
  the_crossing(nb, b, verdicts, story);
}

// The claims: every run complete; every loss trained (its training loss fell); and, except in --quick
// mode, every loss moved off the untrained network's retrieval. A --quick run is too short for that
// on every data set: on Fashion-MNIST the untrained MLP's P@1 is about 0.72 (its classes' raw pixels
// are already close neighbours), and 16 steps left several losses below it; so --quick reports it.
void the_claims(Notebook& nb, const Budget& b, const Runs& runs, const TableFindings& f) {
  const std::size_t all_runs = rows().size() * static_cast<std::size_t>(b.seeds);
  nb.check(f.complete_runs == all_runs, "the table has every loss on every seed, with finite metrics",
           std::to_string(f.complete_runs) + " of " + std::to_string(rows().size()) + " x " + std::to_string(b.seeds) +
               " runs");
  if (b.epochs >= 2) {
    std::string rose;
    double worst = 0;  // the largest ratio of the last epoch's mean training loss to the first's
    for (const auto& name : rows())
      for (const Run& r : runs.at(name)) {
        const double ratio = r.train_loss.back() / r.train_loss.front();
        worst = std::max(worst, ratio);
        if (!(r.train_loss.back() < r.train_loss.front()))
          rose += (rose.empty() ? "" : ", ") + name + " (seed " + std::to_string(r.seed) + ")";
      }
    nb.result("train_loss_last_over_first_max", worst);
    nb.check(rose.empty(), "every loss trained on every seed: its mean training loss fell from the first epoch to the last",
             rose.empty() ? "the last epoch's mean over the first's is at most " + fmt(worst, 3) : "it did not: " + rose);
  }
  std::string not_above;
  for (std::size_t i = 0; i < f.not_learned.size(); ++i) not_above += (i ? ", " : "") + f.not_learned[i];
  const std::string claim =
      "every loss learned on every seed: its test P@1 ends above the untrained network's (which is already far "
      "above chance, 0.1: the comparison would mean nothing if some loss had not yet moved off it)";
  const std::string detail = f.not_learned.empty() ? "smallest gain " + fmt(f.least_gain, 4) + "; lowest P@1 " +
                                                         fmt(f.worst_p1) + ", lowest test accuracy " + fmt(f.worst_acc)
                                                   : "not above it: " + not_above;
  if (!b.quick) {
    nb.check(f.not_learned.empty(), claim, detail);
  } else {
    nb.markdown("Not checked with --quick (a run this short need not leave the untrained network's retrieval behind: "
                "on Fashion-MNIST it often does not), measured: " + claim + " — " +
                (f.not_learned.empty() ? "yes" : "no") + " (" + detail + ").");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Notebook nb("09", "Every loss on one network: the comparison, the curves, and data size");
  int seeds = -1, epochs = -1;
  std::int64_t limit_train = -1, sweep_images = -1;
  std::string model;
  nb.add_dataset_flag();
  nb.cli().add_option("--model", model, "mlp | cnn (default: mlp on the shipped subset and with --quick, cnn with --data)");
  nb.cli().add_option("--seeds", seeds, "seeds per loss (default 3; --quick 1)");
  nb.cli().add_option("--epochs", epochs, "epochs of the table's runs (default 4 with the MLP, 2 with SmallCNN)");
  nb.cli().add_option("--limit-train", limit_train,
                      "training images of the table's runs (default 0 = all: 6,000 on the subset, 60,000 with --data; "
                      "--quick 1000)");
  nb.cli().add_option("--sweep-images", sweep_images,
                      "images every run of the data-size sweep sees (default: epochs x the table's training images, "
                      "so the sweep's largest point is the table's seed-0 run)");
  if (auto code = nb.parse(argc, argv)) return *code;
  const Budget b = decide_budget(nb, model, seeds, epochs, limit_train, sweep_images);

  introduction(nb, b);
  nb.markdown("## 1. Every loss, " + std::to_string(b.seeds) + " seed(s)");
  nb.code(
      "TrainConfig cfg = nb.train_config();          // --data, --threads\n"
      "cfg.model = \"" + b.model + "\"; cfg.emb_dim = 64; cfg.loss = name; cfg.seed = seed;\n"
      "cfg.epochs = " + std::to_string(b.epochs) + "; cfg.limit_train = " + std::to_string(b.limit_train) + ";\n"
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
  const Runs runs = train_every_loss(nb, b);              //    every row on every seed
  const TableFindings found = the_tables(nb, b, runs);    //    the summary and per-run tables
  the_ranking(nb, b, runs);                               // ### The ranking by P@1
  the_training_curves(nb, b, runs);                       // ## 2. The training curves
  triplet_alone_and_with_softmax(nb, b, runs);            // ## 3. Triplet alone, and triplet + softmax
  scarce_data_against_plenty(nb, b, runs);                // ## 4. Scarce data against plenty
  the_claims(nb, b, runs, found);
  return nb.finish();
}
