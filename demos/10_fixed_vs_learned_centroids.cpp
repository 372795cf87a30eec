// demos/10_fixed_vs_learned_centroids.cpp — the essay's open question, run as an experiment.
//
//   build/demo_10_fixed_vs_learned_centroids             the shipped subset: the MLP, all 6,000 images for
//                                                        8 epochs per run; about 30 s of CPU
//   build/demo_10_fixed_vs_learned_centroids --quick     seconds (1,500 training images, 2 epochs: a check
//                                                        that the program runs, not the answer)
//   build/demo_10_fixed_vs_learned_centroids --data DIR  the full data set on SmallCNN, 3 epochs per run
//   --dataset mnist|fashion-mnist                        which data set (default MNIST)
//   --model cnn                                          SmallCNN on the subset too (about 25 times the CPU)
//
// The essay: a softmax head's weight rows W are initialised at random, so "once you retrain,
// the new embeddings differ greatly from the old ones, even for the same class"; fixed,
// controlled centroids (one-hot, K-means) "keep the embeddings from changing much between
// trainings, and make it easy to add a class (append a new centroid at the required
// distance from the others) — whether this works needs an experiment". Here it is:
//   0. orthogonal Procrustes (through chalk's svd, ops/linalg.h), tested on a known rotation;
//   a. train twice with different seeds; how far do the test embeddings move, before and
//      after the best rotation of one run onto the other?
//   b. train on the first nine classes, add the tenth (a new one-hot centroid / a new row of W),
//      fine-tune briefly on all ten: accuracy on old and new classes, and how far the old
//      classes' embeddings moved.
#include <chalk.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <random>
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

// ============================================================================================
// Orthogonal Procrustes, in double precision.
//
// Given two sets of the same N points, X1 and X2 (N x D, row i of each is the same image), the
// orthogonal matrix R (R^T R = I: a rotation, possibly with a reflection) that best maps X1 onto
// X2 (Schönemann, "A generalized solution of the orthogonal Procrustes problem", 1966):
//
//   R* = argmin_{R^T R = I} ||X1 R - X2||_F^2 = U Vh,   where  M = X1^T X2 = U S Vh  (an SVD).
//
// Why: ||X1 R - X2||^2 = ||X1||^2 + ||X2||^2 - 2 tr(R^T M), and tr(R^T U S Vh) = tr(S (Vh R^T U))
// = sum_i S_i Z_ii with Z = Vh R^T U orthogonal, so |Z_ii| <= 1 and the trace is at most
// sum_i S_i, reached at Z = I, i.e. R = U Vh. Since R = I is one of the candidates, the best R
// never fits worse than no rotation at all. M is only D x D (64 x 64): chalk's svd (ops/linalg.h,
// one-sided Jacobi) decomposes it.
// ============================================================================================

using Matrix = std::vector<double>;  // row-major; the size is passed alongside

// M = X1^T X2 for X1, X2: N x D (row-major).
Matrix cross_covariance(const Matrix& X1, const Matrix& X2, std::int64_t N, int D) {
  Matrix M(static_cast<std::size_t>(D) * D, 0.0);
  for (std::int64_t n = 0; n < N; ++n)
    for (int i = 0; i < D; ++i) {
      const double a = X1[n * D + i];
      for (int j = 0; j < D; ++j) M[i * D + j] += a * X2[n * D + j];
    }
  return M;
}

// U Vh of the SVD of a D x D matrix: the orthogonal factor (the nearest orthogonal matrix).
Matrix orthogonal_factor(const Matrix& M, int D) {
  const SvdResult f = svd(from_vector(M, {D, D}));
  const double* U = f.U.data<double>();
  const double* Vh = f.Vh.data<double>();
  Matrix R(static_cast<std::size_t>(D) * D, 0.0);
  for (int i = 0; i < D; ++i)
    for (int j = 0; j < D; ++j) {
      double r = 0;
      for (int k = 0; k < D; ++k) r += U[i * D + k] * Vh[k * D + j];
      R[i * D + j] = r;
    }
  return R;
}

// The best orthogonal R (D x D) with X1 R ~ X2: R = U Vh from the SVD of X1^T X2.
Matrix procrustes(const Matrix& X1, const Matrix& X2, std::int64_t N, int D) {
  return orthogonal_factor(cross_covariance(X1, X2, N, D), D);
}

// X R (N x D times D x D).
Matrix apply(const Matrix& X, const Matrix& R, std::int64_t N, int D) {
  Matrix Y(X.size(), 0.0);
  for (std::int64_t n = 0; n < N; ++n)
    for (int k = 0; k < D; ++k) {
      const double x = X[n * D + k];
      for (int j = 0; j < D; ++j) Y[n * D + j] += x * R[k * D + j];
    }
  return Y;
}

// max |R^T R - I|: how far R is from orthogonal.
double orthogonality_error(const Matrix& R, int D) {
  double e = 0;
  for (int i = 0; i < D; ++i)
    for (int j = 0; j < D; ++j) {
      double d = 0;
      for (int k = 0; k < D; ++k) d += R[k * D + i] * R[k * D + j];
      e = std::max(e, std::fabs(d - (i == j ? 1.0 : 0.0)));
    }
  return e;
}

// Per-row distances ||X1_i - X2_i||.
std::vector<double> row_distances(const Matrix& X1, const Matrix& X2, std::int64_t N, int D) {
  std::vector<double> d(N);
  for (std::int64_t n = 0; n < N; ++n) {
    double s = 0;
    for (int j = 0; j < D; ++j) s += (X1[n * D + j] - X2[n * D + j]) * (X1[n * D + j] - X2[n * D + j]);
    d[n] = std::sqrt(s);
  }
  return d;
}
double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}
// sqrt(mean d_i^2): the quantity Procrustes minimises (up to the square and the 1/N).
double rms_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return v.empty() ? 0 : std::sqrt(s / static_cast<double>(v.size()));
}

// N x D standard normal entries (std::mt19937_64 + Box-Muller: the same numbers for the same seed).
Matrix gaussian(std::int64_t N, int D, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  auto uniform = [&] { return (static_cast<double>(gen() >> 11) + 0.5) / 9007199254740992.0; };
  Matrix X(static_cast<std::size_t>(N) * D);
  for (auto& x : X) x = std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform());
  return X;
}

// ============================================================================================
// Embeddings, labels and a small training loop on the public API.
// ============================================================================================

// What every run of the demo shares: the network, the budget, and the data set's classes.
struct Setup {
  std::string model = "mlp";  // the MLP on the shipped subset, SmallCNN with --data; --model chooses
  std::string model_name;     // for the prose
  bool flat_input = true;     // the model takes images as rows (nn::ModelEntry::flat_input)
  int D = 64;                 // embedding dimension
  int epochs = 8, finetune_epochs = 1;
  std::int64_t limit_train = 0;
  int pairs = 3;              // pairs of trainings in (a), seeds in (b)
  const Dataset* dataset = nullptr;
  std::int64_t C = 10;        // classes; (b) trains on the first C - 1 and adds the last
  // Class c as the reader sees it: "\"9\"" for MNIST, "\"Ankle boot\"" for Fashion-MNIST.
  std::string name(std::int64_t c) const { return "\"" + dataset->class_names[static_cast<std::size_t>(c)] + "\""; }
  std::string new_class() const { return name(C - 1); }
  std::string old_classes() const { return "the other " + count_str(C - 1) + " classes"; }
};

// A float tensor N x D as a row-major double matrix, each row L2-normalised (the losses compared
// here all work on the unit sphere: the centroid loss normalises by default, NormFace and ArcFace
// see only directions).
Matrix normalized_rows(const Tensor& t) {
  const std::int64_t N = t.shape()[0], D = t.shape()[1];
  const float* p = t.data<float>();
  Matrix X(static_cast<std::size_t>(N * D));
  for (std::int64_t n = 0; n < N; ++n) {
    double s = 0;
    for (std::int64_t j = 0; j < D; ++j) s += static_cast<double>(p[n * D + j]) * p[n * D + j];
    const double inv = 1 / std::max(std::sqrt(s), 1e-12);
    for (std::int64_t j = 0; j < D; ++j) X[n * D + j] = p[n * D + j] * inv;
  }
  return X;
}

Tensor labels_of(const MnistSplit& s) { return from_vector(s.labels, {s.n}); }

// The first n images of a split (what TrainConfig::limit_train does).
MnistSplit filter_first(const MnistSplit& split, std::int64_t n) {
  MnistSplit out = split;
  out.n = n;
  out.images.resize(static_cast<std::size_t>(n * split.rows * split.cols));
  out.labels.resize(static_cast<std::size_t>(n));
  return out;
}

// The images of `split` whose label passes `keep` (a class subset of a split).
MnistSplit filter_split(const MnistSplit& split, const std::function<bool(std::int64_t)>& keep) {
  MnistSplit out;
  out.rows = split.rows;
  out.cols = split.cols;
  const std::int64_t pix = split.rows * split.cols;
  for (std::int64_t i = 0; i < split.n; ++i)
    if (keep(split.labels[i])) {
      out.images.insert(out.images.end(), split.images.begin() + i * pix, split.images.begin() + (i + 1) * pix);
      out.labels.push_back(split.labels[i]);
      ++out.n;
    }
  return out;
}

// Copy every parameter of `from` into `to` (same architecture): a second copy of a trained model.
void copy_parameters(const nn::Module& from, nn::Module& to) {
  const auto src = from.named_parameters();
  auto dst = to.named_parameters();
  if (src.size() != dst.size()) fail("demo 10: copy_parameters: ", src.size(), " vs ", dst.size(), " parameters");
  for (std::size_t i = 0; i < src.size(); ++i) {
    if (src[i].first != dst[i].first || src[i].second.shape() != dst[i].second.shape())
      fail("demo 10: copy_parameters: parameter ", src[i].first, " does not match ", dst[i].first);
    Tensor d = dst[i].second;
    std::copy(src[i].second.data<float>(), src[i].second.data<float>() + src[i].second.numel(), d.data<float>());
    increment_version(d);  // an in-place write through data<T>(): autograd must know
  }
}

// Trainer::train_epoch's step, written out for a model and loss the demo builds itself (the
// Trainer has no way to train on a class subset or to change the number of classes): shuffled
// batches of 128, and the optimizer, learning rate, warm-up and cosine decay that TrainConfig
// resolves from the loss's registry entry (TrainingDefaults), as chalk-train would use them for
// this loss. Returns the last epoch's mean loss.
double train_with_defaults(nn::Layer& model, Loss& loss, const MnistSplit& data, const std::string& loss_name,
                           int epochs, std::uint64_t seed, bool flat_input) {
  TrainConfig cfg;
  cfg.loss = loss_name;
  cfg.epochs = epochs;
  cfg.resolve();  // optimizer and learning rate from the loss's TrainingDefaults
  std::vector<Tensor> params = model.parameters();
  for (auto& p : loss.parameters()) params.push_back(p);
  const std::unique_ptr<nn::Optimizer> optimizer = make_optimizer(cfg, params);  // train/trainer.h
  const BatchLoader loader(data.n, cfg.batch_size, /*shuffle=*/true, seed);
  const std::int64_t per_epoch = loader.num_batches();
  const nn::LRSchedule schedule =
      nn::make_schedule(cfg.schedule, cfg.lr, per_epoch * epochs, cfg.resolved_warmup_steps(per_epoch));
  model.train();
  loss.train();
  double mean = 0;
  std::int64_t step = 0;
  for (int e = 0; e < epochs; ++e) {
    double total = 0;
    const auto batches = loader.batches(e);
    for (const auto& idx : batches) {
      optimizer->set_lr(schedule.lr_at(step++));
      Tensor l = loss.forward(model.forward(make_image_batch(data, idx, flat_input)), make_label_batch(data, idx));
      const double v = l.item();
      if (!std::isfinite(v)) fail("demo 10: the ", loss_name, " loss is ", v, " at epoch ", e + 1);
      optimizer->zero_grad();
      l.backward();
      optimizer->step();
      total += v;
    }
    mean = total / static_cast<double>(batches.size());
  }
  return mean;
}

// Accuracy of argmax(logits) over the rows whose label passes `keep`.
double accuracy_where(const Tensor& logits, const std::vector<std::int64_t>& labels,
                      const std::function<bool(std::int64_t)>& keep) {
  const Tensor pred = argmax(logits, 1);
  const std::int64_t* p = pred.data<std::int64_t>();
  std::int64_t hit = 0, n = 0;
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (keep(labels[i])) {
      ++n;
      hit += p[i] == labels[i];
    }
  return n ? static_cast<double>(hit) / n : 0.0;
}

// A row of "mean [95% interval]" cells for a table over seeds.
std::string over_seeds(const std::vector<double>& v, int digits = 4) { return describe_interval(mean_interval(v), digits); }

// ============================================================================================
// The report's sections
// ============================================================================================

void introduction(Notebook& nb, const Setup& s) {
  const std::string data = s.dataset->display_name;
  nb.markdown(
      "The essay ends on a question it leaves to an experiment. A softmax head's weight rows W (each row "
      "acts as the centre of a class) start at random, so a network trained again from another seed puts "
      "its classes somewhere else; fixed centroids chosen in advance (the centroid bound's one-hot centroids: "
      "class c sits at the unit vector e_c) should keep the embeddings where they were, and make a new "
      "class easy to add — append a centroid at the same distance from all the others. Two experiments "
      "answer it on " + data + ", with " + s.model_name + " and 64-d embeddings: (a) train twice with different seeds "
      "and measure how far each test image's embedding moves; (b) train on " + count_str(s.C - 1) + " classes, add the "
      "last, " + s.new_class() + ", fine-tune briefly, and measure the old and new classes' accuracy and how far the old "
      "embeddings moved. The learned-W side is NormFace (a normalised softmax: the same unit sphere, no margin, so "
      "the only difference from the centroid loss is that its centres are learned) and, in (a), ArcFace too.");
  nb.markdown("Budget: every run trains " + s.model_name + " on " +
              (s.limit_train > 0 ? count_str(nb.train_images(s.limit_train)) : std::string("all")) + " " + data +
              " training images for " + std::to_string(s.epochs) +
              " epochs (each loss with its registry defaults, as chalk-train uses them); the test set (" +
              count_str(nb.test_split().n) + " images) is what is measured." +
              (s.model == "cnn" ? std::string("")
                                : " On the shipped subset the demo trains the MLP, not SmallCNN: SmallCNN costs about 25 "
                                  "times the CPU per image, and the few SmallCNN epochs that fit in two minutes left "
                                  "NormFace's embeddings squeezed into a small cap of the sphere (test P@1 0.76 and 0.70 "
                                  "on MNIST in an earlier version of this demo), which made its side of the comparison "
                                  "say little. `--data DIR` runs both experiments on SmallCNN and the full data set (3 "
                                  "epochs per run, about 1.6 million SmallCNN image passes: roughly half an hour on 2 "
                                  "cores, an estimate); `--model cnn` runs SmallCNN on the subset."));
}

// ## 0. The best rotation between two runs: orthogonal Procrustes
void the_best_rotation_between_two_runs(Notebook& nb, int D) {
  nb.markdown("## 0. The best rotation between two runs: orthogonal Procrustes");
  nb.markdown(
      "Two trainings can learn the same geometry in different coordinates. To separate 'moved' from "
      "'rotated', find the orthogonal R minimising ||X1 R - X2||_F over the N test embeddings of run 1 (X1) "
      "and run 2 (X2): R = U Vh from the SVD X1^T X2 = U S Vh (Schönemann 1966), computed by chalk's `svd` "
      "(ops/linalg.h: a one-sided Jacobi SVD in double precision, with tests of its own in "
      "tests/test_ops_linalg.cpp) on the 64 x 64 matrix X1^T X2. First, a test on data with a known answer: "
      "X2 = X1 Q for a random orthogonal Q.");
  const std::int64_t N = 500;
  // a random orthogonal Q: the orthogonal factor (U Vh) of a Gaussian matrix
  const Matrix G = gaussian(D, D, 7);
  const SvdResult g = svd(from_vector(G, {D, D}));
  const Matrix Q = orthogonal_factor(G, D);
  // the SVD itself: U S Vh reproduces G
  double svd_error = 0;
  for (int i = 0; i < D; ++i)
    for (int j = 0; j < D; ++j) {
      double x = 0;
      for (int k = 0; k < D; ++k) x += g.U.data<double>()[i * D + k] * g.S.data<double>()[k] * g.Vh.data<double>()[k * D + j];
      svd_error = std::max(svd_error, std::fabs(x - G[i * D + j]));
    }
  const Matrix X1 = gaussian(N, D, 8);
  const Matrix R = procrustes(X1, apply(X1, Q, N, D), N, D);
  double rotation_error = 0;
  for (std::size_t i = 0; i < R.size(); ++i) rotation_error = std::max(rotation_error, std::fabs(R[i] - Q[i]));
  // rank-deficient data, like trained embeddings that fill only a few directions: X1 of rank 5.
  // R is then not unique, but any best R maps X1 exactly onto X2 and is orthogonal.
  const Matrix Z = gaussian(N, 5, 9), B = gaussian(5, D, 10);
  Matrix Xlow(static_cast<std::size_t>(N) * D, 0.0);
  for (std::int64_t n = 0; n < N; ++n)
    for (int k = 0; k < 5; ++k)
      for (int j = 0; j < D; ++j) Xlow[n * D + j] += Z[n * 5 + k] * B[k * D + j];
  const Matrix Xlow2 = apply(Xlow, Q, N, D);
  const Matrix Rlow = procrustes(Xlow, Xlow2, N, D);
  const double low_fit = rms_of(row_distances(apply(Xlow, Rlow, N, D), Xlow2, N, D)) /
                         rms_of(row_distances(Xlow2, Matrix(Xlow2.size(), 0.0), N, D));
  nb.output("SVD of a 64 x 64 Gaussian matrix: max |U S Vh - G| = " + fmt(svd_error, 3) +
            "\nknown rotation Q, X2 = X1 Q (N = 500): max |R - Q| = " + fmt(rotation_error, 3) +
            ", max |R^T R - I| = " + fmt(orthogonality_error(R, D), 3) +
            "\nrank-5 X1: relative misfit ||X1 R - X2|| / ||X2|| = " + fmt(low_fit, 3) +
            ", max |R^T R - I| = " + fmt(orthogonality_error(Rlow, D), 3));
  nb.result("procrustes_rotation_error", rotation_error);
  nb.result("procrustes_rank5_misfit", low_fit);
  nb.check(svd_error < 1e-10 && rotation_error < 1e-9 && orthogonality_error(R, D) < 1e-10 && low_fit < 1e-9 &&
               orthogonality_error(Rlow, D) < 1e-10,
           "the Procrustes solver recovers a known rotation (and fits rank-deficient data exactly with an "
           "orthogonal R)",
           "max |R - Q| " + fmt(rotation_error, 3) + ", rank-5 misfit " + fmt(low_fit, 3));
}

// ---- a. stability across re-training ----------------------------------------------------------

// Two trainings of one loss (seeds s and s + 1): their normalised test and training embeddings.
struct TwoRuns {
  Matrix test_emb[2], train_emb[2];
  double p1[2] = {0, 0};
  std::vector<std::int64_t> test_labels;
  std::int64_t n_test = 0, n_train = 0;
};
TwoRuns train_two_runs(Notebook& nb, const Setup& s, const std::string& kind, int pair) {
  TwoRuns r;
  for (int run = 0; run < 2; ++run) {
    TrainConfig cfg = nb.train_config();
    cfg.model = s.model;
    cfg.emb_dim = s.D;
    cfg.loss = kind;
    cfg.epochs = s.epochs;
    cfg.limit_train = s.limit_train;
    cfg.seed = nb.seed() + static_cast<std::uint64_t>(2 * pair + run);
    Trainer t(cfg);
    for (int e = 0; e < s.epochs; ++e) t.train_epoch(e);
    const EpochMetrics m = t.evaluate(s.epochs - 1);
    r.p1[run] = m.retrieval.precision_at_1;
    r.test_emb[run] = normalized_rows(t.embed(t.test_set()));
    r.train_emb[run] = normalized_rows(t.embed(t.train_set()));
    r.test_labels = t.test_set().labels;
    r.n_test = t.test_set().n;
    r.n_train = t.train_set().n;
    std::cout << "  " << kind << " seed " << cfg.seed << ": P@1 " << fmt(r.p1[run]) << "  ("
              << fmt(nb.elapsed_seconds(), 1) << " s)\n";
  }
  return r;
}

// How far two runs' embeddings lie apart, before and after the best rotation, and the scales to read
// the distances against.
struct Movement {
  std::vector<double> d_before, d_after;  // per test image
  double rms_before = 0, rms_after = 0, rms_after_train_fit = 0;
  double spread = 0;  // run 1: RMS distance of a test embedding to its class's mean direction
  double radius = 0;  // run 2: RMS distance of its test embeddings to their mean vector
};
Movement measure_movement(const TwoRuns& r, int D, std::int64_t C) {
  Movement m;
  const std::int64_t n_test = r.n_test;
  m.d_before = row_distances(r.test_emb[0], r.test_emb[1], n_test, D);
  const Matrix R_test = procrustes(r.test_emb[0], r.test_emb[1], n_test, D);
  m.d_after = row_distances(apply(r.test_emb[0], R_test, n_test, D), r.test_emb[1], n_test, D);
  const Matrix R_train = procrustes(r.train_emb[0], r.train_emb[1], r.n_train, D);
  const auto d_after_train = row_distances(apply(r.test_emb[0], R_train, n_test, D), r.test_emb[1], n_test, D);
  // class spread within run 1: RMS distance to the normalised class mean
  Matrix means(static_cast<std::size_t>(C * D), 0.0);
  for (std::int64_t n = 0; n < n_test; ++n)
    for (int j = 0; j < D; ++j) means[r.test_labels[n] * D + j] += r.test_emb[0][n * D + j];
  for (std::int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int j = 0; j < D; ++j) s += means[c * D + j] * means[c * D + j];
    for (int j = 0; j < D; ++j) means[c * D + j] /= std::max(std::sqrt(s), 1e-12);
  }
  for (std::int64_t n = 0; n < n_test; ++n)
    for (int j = 0; j < D; ++j) {
      const double d = r.test_emb[0][n * D + j] - means[r.test_labels[n] * D + j];
      m.spread += d * d;
    }
  m.spread = std::sqrt(m.spread / static_cast<double>(n_test));
  // The cloud radius of run 2. A short run can leave every embedding close to one common
  // direction: then every distance is small, and only a distance relative to this radius says
  // whether the two runs agree.
  std::vector<double> centre(D, 0.0);
  for (std::int64_t n = 0; n < n_test; ++n)
    for (int j = 0; j < D; ++j) centre[j] += r.test_emb[1][n * D + j] / static_cast<double>(n_test);
  for (std::int64_t n = 0; n < n_test; ++n)
    for (int j = 0; j < D; ++j) m.radius += (r.test_emb[1][n * D + j] - centre[j]) * (r.test_emb[1][n * D + j] - centre[j]);
  m.radius = std::sqrt(m.radius / static_cast<double>(n_test));
  m.rms_before = rms_of(m.d_before);
  m.rms_after = rms_of(m.d_after);
  m.rms_after_train_fit = rms_of(d_after_train);
  return m;
}

// What (a) keeps: the first pair's numbers (table, figure) and every pair's (the verdicts).
struct Stability {
  std::map<std::string, double> before_rms, after_rms, relative_after;  // first pair
  std::map<std::string, std::vector<double>> before_seeds, relative_seeds;  // every pair
  bool alignment_never_hurts = true;
  std::string alignment_detail;
};

// The first pair's row, numbers and per-class curves of one loss.
void first_pair_row(Notebook& nb, const Setup& s, const std::string& kind, const TwoRuns& r, const Movement& m,
                    Table& table, std::vector<plot::Series>& per_class, Stability& st) {
  st.before_rms[kind] = m.rms_before;
  st.after_rms[kind] = m.rms_after;
  st.relative_after[kind] = m.rms_after / m.radius;
  table.row({kind == "centroid" ? "centroid (fixed one-hot)" : kind + " (learned W)", fmt(r.p1[0]) + " / " + fmt(r.p1[1]),
             fmt(m.rms_before), fmt(mean_of(m.d_before)), fmt(m.rms_after), fmt(m.rms_after_train_fit), fmt(m.spread),
             fmt(m.radius), fmt(m.rms_after / m.radius)});
  nb.result("a_cloud_radius_" + kind, m.radius);
  nb.result("a_rms_after_over_radius_" + kind, m.rms_after / m.radius);
  nb.result("a_rms_before_" + kind, m.rms_before);
  nb.result("a_mean_before_" + kind, mean_of(m.d_before));
  nb.result("a_rms_after_test_fit_" + kind, m.rms_after);
  nb.result("a_mean_after_test_fit_" + kind, mean_of(m.d_after));
  nb.result("a_rms_after_train_fit_" + kind, m.rms_after_train_fit);
  nb.result("a_class_spread_" + kind, m.spread);
  nb.result("a_p1_run1_" + kind, r.p1[0]);
  nb.result("a_p1_run2_" + kind, r.p1[1]);
  st.alignment_detail += (st.alignment_detail.empty() ? "" : "; ") + kind + " " + fmt(m.rms_before) + " -> " + fmt(m.rms_after);
  // per class: RMS distance before and after the (test-fitted) rotation
  std::vector<double> classes, before_c, after_c;
  for (std::int64_t c = 0; c < s.C; ++c) {
    std::vector<double> b, a;
    for (std::int64_t n = 0; n < r.n_test; ++n)
      if (r.test_labels[n] == c) b.push_back(m.d_before[n]), a.push_back(m.d_after[n]);
    classes.push_back(static_cast<double>(c));
    before_c.push_back(rms_of(b));
    after_c.push_back(rms_of(a));
  }
  per_class.push_back({kind + ": before", classes, before_c, false, false});
  per_class.push_back({kind + ": after best rotation", classes, after_c, false, true});
}

// The class names of the per-class charts' x axis, for their captions: "0 T-shirt/top, 1 Trouser, ...".
std::string class_axis(const Setup& s) {
  std::string out;
  for (std::int64_t c = 0; c < s.C; ++c) out += (c ? ", " : "") + std::to_string(c) + " " + s.dataset->class_names[c];
  return out;
}

// **Answer (a)**: the verdicts over every pair, paired pair by pair.
void answer_a(Notebook& nb, const Setup& s, const Stability& st) {
  const std::vector<std::string> kinds = {"centroid", "normface", "arcface"};
  Table t{{"loss (centres)", "RMS d before", "RMS d after R / cloud radius"}, {}};
  for (const auto& kind : kinds)
    t.row({kind, over_seeds(st.before_seeds.at(kind)), over_seeds(st.relative_seeds.at(kind))});
  nb.markdown("Over all " + std::to_string(s.pairs) + " pair(s) of trainings, the mean with its 95% interval "
              "(Student's t over the pairs; one pair: the value alone):");
  nb.table(t);
  const double c_a = st.after_rms.at("centroid"), n_a = st.after_rms.at("normface"), a_a = st.after_rms.at("arcface");
  const double c_r = st.relative_after.at("centroid"), n_r = st.relative_after.at("normface"),
               a_r = st.relative_after.at("arcface");
  // The verdicts, paired over the pairs of trainings: lower is steadier.
  auto steadier = [&](const std::map<std::string, std::vector<double>>& m, const std::string& learned) {
    return describe_comparison("centroid", m.at("centroid"), learned, m.at(learned), 3, Better::kLower);
  };
  const Verdict raw_n = compare(st.before_seeds.at("centroid"), st.before_seeds.at("normface")),
                raw_a = compare(st.before_seeds.at("centroid"), st.before_seeds.at("arcface"));
  const Verdict rel_n = compare(st.relative_seeds.at("centroid"), st.relative_seeds.at("normface")),
                rel_a = compare(st.relative_seeds.at("centroid"), st.relative_seeds.at("arcface"));
  auto word = [](Verdict v, const std::string& less, const std::string& more) {
    return v == Verdict::kSecondLarger ? less : v == Verdict::kFirstLarger ? more
           : v == Verdict::kOneSample ? less + " or " + more + " (one pair: no verdict)"
                                      : "neither " + less + " nor " + more + " (no difference measured at this budget)";
  };
  nb.result("a_fixed_steadier_raw_both", raw_n == Verdict::kSecondLarger && raw_a == Verdict::kSecondLarger ? 1 : 0);
  nb.result("a_fixed_closer_relative_both", rel_n == Verdict::kSecondLarger && rel_a == Verdict::kSecondLarger ? 1 : 0);
  nb.markdown(std::string("**Answer (a), measured over ") + std::to_string(s.pairs) + " pair(s) of trainings** (the table "
              "shows the first pair; each comparison is paired pair by pair, with the 95% interval of the "
              "difference). Without any alignment, the fixed centroids' embeddings moved " +
              word(raw_n, "less", "more") + " than NormFace's and " + word(raw_a, "less", "more") +
              " than ArcFace's between two trainings (RMS d before: " + steadier(st.before_seeds, "normface") + "; " +
              steadier(st.before_seeds, "arcface") + "; 1.414 is what two unrelated sets of directions give). For the "
              "first pair, after the best rotation, the distances are " + fmt(c_a) + " (centroid), " + fmt(n_a) +
              " (NormFace), " + fmt(a_a) + " (ArcFace), which is " + fmt(c_r, 3) + ", " + fmt(n_r, 3) + " and " +
              fmt(a_r, 3) +
              " times the radius of each embedding cloud (the fair comparison: a cloud squeezed into a small cap of "
              "the sphere has small distances whatever the runs do). Relative to the cloud, once rotated, the "
              "fixed centroids' embeddings agree " + word(rel_n, "better", "worse") + " than NormFace's and " +
              word(rel_a, "better", "worse") + " than ArcFace's (" + steadier(st.relative_seeds, "normface") + "; " +
              steadier(st.relative_seeds, "arcface") + ")" +
              (rel_n == Verdict::kSecondLarger && rel_a == Verdict::kSecondLarger
                   ? ": the fixed centroids fix more than the coordinate system."
               : rel_n == Verdict::kFirstLarger && rel_a == Verdict::kFirstLarger
                   ? ": what fixed centroids buy is the coordinate system — no alignment needed — not a "
                     "better-defined geometry."
                   : ": after alignment, no single verdict holds for both learned-W losses at this budget.") +
              " The rotation fitted on the training images and applied to the test images (table) tells whether "
              "the alignment is a property of the two networks or is fitted to the test points.");
}

// ## a. Train twice: how far do the embeddings move?
Stability train_twice(Notebook& nb, const Setup& s) {
  nb.markdown("## a. Train twice: how far do the embeddings move?");
  // Every comparison below rests on `pairs` pairs of trainings (seeds s, s + 1 for s = seed, seed + 2,
  // ...); the table, the numbers and the figure show the first pair.
  nb.markdown(
      "Each loss trains twice, with seeds " + std::to_string(nb.seed()) + " and " + std::to_string(nb.seed() + 1) +
      " (another initial network, another order of batches, and for NormFace and ArcFace another random W)" +
      (s.pairs > 1 ? "; and so " + std::to_string(s.pairs - 1) + " more pair(s), seeds s and s + 1 for s = " +
                         std::to_string(nb.seed() + 2) + ", ...: the table, the numbers and the figure show the first "
                         "pair, the answer compares over all " + std::to_string(s.pairs) + ". "
                   : std::string(". ")) +
      "For every test image, d_i = || u1_i - u2_i || between its L2-normalised embeddings in the two runs "
      "(0: the same point; sqrt(2) = 1.414: the distance between two random directions in 64-d; 2: "
      "opposite). Then the same after the best rotation R of run 1 onto run 2, fitted on the test embeddings "
      "themselves (the number Procrustes minimises), and fitted on the training images' embeddings and "
      "applied to the test ones (a rotation that generalises, not one that also fits noise). For scale: the "
      "RMS distance of a test embedding to its class's mean direction within run 1.");
  Table stab{{"loss (centres)", "P@1 run 1 / run 2", "RMS d before", "mean d before", "RMS d after R (fit on test)",
              "RMS d after R (fit on train)", "class spread (RMS to class mean)", "cloud radius", "RMS d after R / cloud radius"},
             {}};
  std::vector<plot::Series> per_class;
  Stability st;
  for (int pair = 0; pair < s.pairs; ++pair)
    for (const std::string kind : {"centroid", "normface", "arcface"}) {
      const TwoRuns r = train_two_runs(nb, s, kind, pair);
      const Movement m = measure_movement(r, s.D, s.C);
      st.before_seeds[kind].push_back(m.rms_before);
      st.relative_seeds[kind].push_back(m.rms_after / m.radius);
      st.alignment_never_hurts = st.alignment_never_hurts && m.rms_after <= m.rms_before + 1e-12;
      if (pair == 0) first_pair_row(nb, s, kind, r, m, stab, per_class, st);
    }
  nb.table(stab);
  plot::lines(nb.figure_path("stability"), per_class,
              {"How far each class's test embeddings move between two trainings", "class (label)",
               "RMS distance between runs (unit vectors)"});
  nb.figure("stability",
            "RMS distance between the two runs' normalised test embeddings, per class (" + class_axis(s) +
                "): solid before any alignment, dashed after the best rotation of run 1 onto run 2. Fixed one-hot "
                "centroids pin each class to the same coordinates in both runs; a learned W lets each run put the "
                "classes anywhere, which a rotation can undo only if the two arrangements have the same shape.");
  nb.check(st.alignment_never_hurts,
           "the best rotation never increases the RMS distance between the two runs (R = I is a candidate)",
           st.alignment_detail);
  answer_a(nb, s, st);
  return st;
}

// ---- b. adding a class ------------------------------------------------------------------------

// One way of adding the last class: the loss, the name of the new row, its label in tables.
struct Variant {
  std::string kind, row, label;
};

// The 10th one-hot centroid must leave the 9 old ones unchanged and sit at their mutual distance.
void check_the_new_centroid(Notebook& nb, const Setup& s, Loss& loss9, Loss& loss10) {
  const int D = s.D;
  const auto C = static_cast<int>(s.C);
  const Tensor c9 = dynamic_cast<CentroidLoss&>(loss9).centroids();
  const Tensor c10 = dynamic_cast<CentroidLoss&>(loss10).centroids();
  const float* a = c9.data<float>();
  const float* b = c10.data<float>();
  bool old_same = true;
  for (int i = 0; i < (C - 1) * D; ++i) old_same = old_same && a[i] == b[i];
  double new_min = 1e9, new_max = 0, old_min = 1e9, old_max = 0;
  for (int p = 0; p < C; ++p)
    for (int q = p + 1; q < C; ++q) {
      double sum = 0;
      for (int j = 0; j < D; ++j) sum += (b[p * D + j] - b[q * D + j]) * (b[p * D + j] - b[q * D + j]);
      const double d = std::sqrt(sum);
      if (q == C - 1) new_min = std::min(new_min, d), new_max = std::max(new_max, d);
      else old_min = std::min(old_min, d), old_max = std::max(old_max, d);
    }
  nb.check(old_same && std::fabs(new_min - old_min) < 1e-6 && std::fabs(new_max - old_max) < 1e-6 &&
               std::fabs(new_max - std::sqrt(2.0)) < 1e-6,
           "the 10th one-hot centroid leaves the 9 old ones unchanged and sits at the old centroids' mutual "
           "distance from every one of them",
           "new-to-old distances " + fmt(new_min, 6) + "..." + fmt(new_max, 6) + ", old-to-old " + fmt(old_min, 6) +
               "..." + fmt(old_max, 6) + " (sqrt 2 = 1.414214)");
}

// W of the C-class head: the C - 1 trained rows, then the new one — random as the loss initialised
// it, or imprinted: the normalised mean of the network's embeddings of the new class's training
// images, scaled to the old rows' mean length (Qi, Brown, Lowe, CVPR 2018).
void set_the_new_row(const Setup& s, const Variant& v, Loss& loss9, Loss& loss10, nn::Layer& model,
                     const MnistSplit& new_class_images) {
  const int D = s.D;
  const auto old = static_cast<int>(s.C - 1);
  Tensor W10 = dynamic_cast<MarginSoftmaxLoss&>(loss10).W();
  const Tensor W9 = dynamic_cast<MarginSoftmaxLoss&>(loss9).W();
  float* w = W10.data<float>();
  std::copy(W9.data<float>(), W9.data<float>() + old * D, w);
  if (v.row == "imprinted") {
    const Matrix e = normalized_rows(embed(model, new_class_images, s.flat_input));
    std::vector<double> mean(D, 0.0);
    for (std::int64_t n = 0; n < new_class_images.n; ++n)
      for (int j = 0; j < D; ++j) mean[j] += e[n * D + j];
    double norm = 0, old_norm = 0;
    for (double x : mean) norm += x * x;
    for (int r = 0; r < old; ++r) {
      double sum = 0;
      for (int j = 0; j < D; ++j) sum += static_cast<double>(w[r * D + j]) * w[r * D + j];
      old_norm += std::sqrt(sum) / old;
    }
    for (int j = 0; j < D; ++j) w[old * D + j] = static_cast<float>(mean[j] / std::sqrt(norm) * old_norm);
  }
  increment_version(W10);  // written in place through data<T>(): autograd must know
}

// One variant's measurements on the test set, before and after fine-tuning.
struct Added {
  double old_before = 0, new_before = 0, old_after = 0, new_after = 0, all_after = 0, p1_after = 0, drift = 0;
  std::vector<double> class_acc;  // after, per class
};
Added finetune_and_measure(const Setup& s, nn::Layer& model, Loss& loss10, const std::string& kind,
                           const MnistSplit& train_all, const MnistSplit& test, std::uint64_t seed) {
  const std::int64_t last = s.C - 1;
  auto is_old = [last](std::int64_t y) { return y < last; };
  auto is_new = [last](std::int64_t y) { return y == last; };
  Added a;
  const Matrix u_before = [&] {
    const Tensor out = embed(model, test, s.flat_input);
    NoGradGuard no_grad;
    const Tensor logits = loss10.logits(out);
    a.old_before = accuracy_where(logits, test.labels, is_old);
    a.new_before = accuracy_where(logits, test.labels, is_new);
    return normalized_rows(out);
  }();
  train_with_defaults(model, loss10, train_all, kind, s.finetune_epochs, seed + 100, s.flat_input);
  const Tensor out_after = embed(model, test, s.flat_input);
  const Matrix u_after = normalized_rows(out_after);
  {
    NoGradGuard no_grad;
    const Tensor logits = loss10.logits(out_after);
    a.old_after = accuracy_where(logits, test.labels, is_old);
    a.new_after = accuracy_where(logits, test.labels, is_new);
    a.all_after = accuracy_where(logits, test.labels, [](std::int64_t) { return true; });
    a.p1_after = retrieval_metrics(loss10.metric_embedding(out_after), labels_of(test)).precision_at_1;
    for (std::int64_t c = 0; c < s.C; ++c)
      a.class_acc.push_back(accuracy_where(logits, test.labels, [c](std::int64_t y) { return y == c; }));
  }
  std::vector<double> moved;
  const int D = s.D;
  for (std::int64_t n = 0; n < test.n; ++n)
    if (is_old(test.labels[n])) {
      double sum = 0;
      for (int j = 0; j < D; ++j) sum += (u_before[n * D + j] - u_after[n * D + j]) * (u_before[n * D + j] - u_after[n * D + j]);
      moved.push_back(std::sqrt(sum));
    }
  a.drift = mean_of(moved);
  return a;
}

// What (b) keeps: the first seed's numbers and every seed's, per variant key ("normface_imprinted").
struct NewClass {
  std::map<std::string, Added> first;
  std::map<std::string, std::vector<double>> drift_seeds, new_seeds, old_seeds;
};

// **Answer (b)**: the first seed's numbers, and the verdicts over every seed.
void answer_b(Notebook& nb, const Setup& s, const NewClass& b) {
  const std::vector<std::pair<std::string, std::string>> keys = {{"centroid_onehot", "new one-hot centroid"},
                                                                  {"normface_random", "NormFace, new random row"},
                                                                  {"normface_imprinted", "NormFace, imprinted row"}};
  Table t{{"variant", "old classes acc. after", s.new_class() + " acc. after", "old classes moved (mean d)"}, {}};
  for (const auto& [k, label] : keys)
    t.row({label, over_seeds(b.old_seeds.at(k)), over_seeds(b.new_seeds.at(k)), over_seeds(b.drift_seeds.at(k))});
  nb.markdown("Over all " + std::to_string(s.pairs) + " seed(s), the mean with its 95% interval (Student's t over the "
              "seeds; one seed: the value alone):");
  nb.table(t);
  const Added &c = b.first.at("centroid_onehot"), &r = b.first.at("normface_random"), &i = b.first.at("normface_imprinted");
  auto cmp = [&](const std::map<std::string, std::vector<double>>& m, const std::string& other, const std::string& name,
                 Better better) {
    return describe_comparison("new centroid", m.at("centroid_onehot"), name, m.at(other), 3, better);
  };
  nb.markdown(std::string("**Answer (b), measured:** after ") + std::to_string(s.finetune_epochs) +
              " epoch(s) of fine-tuning, the new class " + s.new_class() + " is recognised with accuracy " +
              fmt(c.new_after) + " (new one-hot centroid), " + fmt(r.new_after) + " (new random row of W) and " +
              fmt(i.new_after) + " (imprinted row); the old classes with " + fmt(c.old_after) + ", " +
              fmt(r.old_after) + ", " + fmt(i.old_after) + "; and the old classes' embeddings moved by " +
              fmt(c.drift) + ", " + fmt(r.drift) + ", " + fmt(i.drift) +
              " on average (unit vectors; sqrt(2) = 1.41 would be a random new direction). " +
              "Those are the first seed's numbers; compared seed by seed over " + std::to_string(s.pairs) +
              " seed(s) (each a pre-training and a fine-tuning; 95% interval of the paired difference): how far "
              "the old classes moved, " +
              cmp(b.drift_seeds, "normface_random", "random row", Better::kLower) + "; " +
              cmp(b.drift_seeds, "normface_imprinted", "imprinted row", Better::kLower) +
              "; the new class's accuracy, " + cmp(b.new_seeds, "normface_random", "random row", Better::kHigher) +
              "; " + cmp(b.new_seeds, "normface_imprinted", "imprinted row", Better::kHigher) +
              ". Where the interval holds 0, this budget cannot tell the two ways apart." +
              (std::min(r.old_before, i.old_before) < 0.5
                   ? " Caution: at this budget NormFace's pre-training on " + s.old_classes() +
                         " had not separated them (old-class accuracy " + fmt(r.old_before) +
                         " with the new random row, " + fmt(i.old_before) +
                         " with the imprinted one, before fine-tuning), so its side of the comparison says little; "
                         "run without --quick (or with more --epochs)."
                   : std::string()));
}

// The splits of (b), exactly as Trainer loads them (the data folder, then the first limit_train
// images): all of the training images, the old classes' and the new class's, and the test set.
struct ClassSplits {
  MnistSplit train_all, old_train, new_train, test;
};
ClassSplits class_splits(const Notebook& nb, const Setup& s) {
  const std::int64_t last = s.C - 1;
  const std::string data_dir = locate_dataset(*s.dataset, nb.data_dir()).dir;
  ClassSplits c;
  c.train_all = load_mnist(data_dir, /*train=*/true);
  c.test = load_mnist(data_dir, /*train=*/false);
  if (s.limit_train > 0 && s.limit_train < c.train_all.n) c.train_all = filter_first(c.train_all, s.limit_train);
  c.old_train = filter_split(c.train_all, [last](std::int64_t y) { return y < last; });
  c.new_train = filter_split(c.train_all, [last](std::int64_t y) { return y == last; });
  return c;
}

// The networks pre-trained on the old classes for one seed, one per loss (shared by its variants),
// with their C - 1 class heads.
struct Pretrained {
  std::map<std::string, std::shared_ptr<nn::Layer>> model;
  std::map<std::string, std::shared_ptr<Loss>> head;
};

// One variant on one seed: pre-train for its loss if no variant did yet, add the class to a fresh
// copy of the pre-trained network, fine-tune on every class and measure.
Added add_the_class(Notebook& nb, const Setup& s, const Variant& v, std::uint64_t seed, bool first_seed,
                    const ClassSplits& splits, Pretrained& pre) {
  LossOptions o9;
  o9.num_classes = s.C - 1;
  o9.emb_dim = s.D;
  o9.seed = seed;
  if (!pre.model.count(v.kind)) {  // one pre-training per loss, shared by its variants
    manual_seed(seed);
    pre.model[v.kind] = nn::make_model(s.model, s.D);
    pre.head[v.kind] = make_loss(v.kind, o9);
    const double l =
        train_with_defaults(*pre.model[v.kind], *pre.head[v.kind], splits.old_train, v.kind, s.epochs, seed, s.flat_input);
    std::cout << "  " << v.kind << " on " << s.old_classes() << ", seed " << seed << ": last epoch's loss " << fmt(l)
              << "  (" << fmt(nb.elapsed_seconds(), 1) << " s)\n";
  }
  // a fresh copy of the pre-trained network for this variant
  manual_seed(seed);
  std::shared_ptr<nn::Layer> model = nn::make_model(s.model, s.D);
  copy_parameters(*pre.model[v.kind], *model);
  LossOptions o10 = o9;
  o10.num_classes = s.C;
  std::shared_ptr<Loss> loss10 = make_loss(v.kind, o10);
  if (v.kind == "centroid" && first_seed) check_the_new_centroid(nb, s, *pre.head[v.kind], *loss10);
  else if (v.kind != "centroid") set_the_new_row(s, v, *pre.head[v.kind], *loss10, *model, splits.new_train);
  return finetune_and_measure(s, *model, *loss10, v.kind, splits.train_all, splits.test, seed);
}

// The first seed's table row, numbers and per-class curve of one variant.
void first_seed_row(Notebook& nb, const Setup& s, const Variant& v, const Added& a, Table& add,
                    std::vector<plot::Series>& per_class) {
  const std::string key = v.kind + "_" + v.row;
  add.row({v.label, fmt(a.old_before), fmt(a.new_before), fmt(a.old_after), fmt(a.new_after), fmt(a.all_after),
           fmt(a.p1_after), fmt(a.drift)});
  std::vector<double> classes;
  for (std::int64_t c = 0; c < s.C; ++c) classes.push_back(static_cast<double>(c));
  per_class.push_back({v.label, classes, a.class_acc, false, v.row == "random"});
  nb.result("b_old_acc_before_" + key, a.old_before);
  nb.result("b_new_acc_before_" + key, a.new_before);
  nb.result("b_old_acc_after_" + key, a.old_after);
  nb.result("b_new_acc_after_" + key, a.new_after);
  nb.result("b_all_acc_after_" + key, a.all_after);
  nb.result("b_p1_after_" + key, a.p1_after);
  nb.result("b_old_moved_mean_" + key, a.drift);
  std::cout << "  " << v.label << ": old " << fmt(a.old_after) << ", new " << fmt(a.new_after) << ", moved "
            << fmt(a.drift) << "  (" << fmt(nb.elapsed_seconds(), 1) << " s)\n";
}

// ## b. Add the last class to a network trained on the others
NewClass add_a_class(Notebook& nb, const Setup& s) {
  nb.markdown("## b. Add a class: " + s.new_class() + " to a network trained on " + s.old_classes());
  nb.markdown(
      "Train on the training images of " + s.old_classes() + " only (all but " + s.new_class() +
      "). Then add a 10th class, " + s.new_class() + ": for the centroid "
      "loss a new fixed centroid, the one-hot vector e_9 (checked below: as far from every old centroid as "
      "the old ones are from each other); for NormFace a new row of W, either as the loss initialises its "
      "rows (N(0, 1) entries: a random direction) or 'imprinted' — the normalised mean of the trained "
      "network's embeddings of the new class's training images, scaled to the old rows' mean length (Qi, Brown, "
      "Lowe, 'Low-shot learning with imprinted weights', CVPR 2018). Then fine-tune on all ten classes for " +
      std::to_string(s.finetune_epochs) +
      " epoch(s) (each loss's registry defaults: its optimizer, learning rate and warm-up, cosine decay), and "
      "measure on the test set: accuracy on the old classes and on the new one (argmax over all 10 classes), and "
      "how far the old classes' normalised embeddings moved during fine-tuning. Chance is 0.1; before "
      "fine-tuning, nothing has been trained towards the new centre.");
  nb.code(
      "MnistSplit old_classes = filter_split(train, [](auto y) { return y < 9; });\n"
      "auto model = nn::make_model(\"" + s.model + "\", 64);   LossOptions o; o.num_classes = 9;\n"
      "auto loss9 = make_loss(kind, o);           train_with_defaults(*model, *loss9, old_classes, ...);\n"
      "o.num_classes = 10;  auto loss10 = make_loss(kind, o);   // + copy W's 9 rows (NormFace)\n"
      "train_with_defaults(*model, *loss10, all_classes, ..., finetune_epochs);");
  const ClassSplits splits = class_splits(nb, s);
  Table add{{"variant", "old classes acc. before", s.new_class() + " acc. before fine-tuning", "old classes acc. after",
             s.new_class() + " acc. after", "all classes acc. after", "test P@1 after", "old classes moved (mean d)"},
            {}};
  std::vector<plot::Series> per_class;
  const std::vector<Variant> variants = {{"centroid", "onehot", "centroid: new one-hot centroid e_9"},
                                         {"normface", "random", "normface: new row of W at random"},
                                         {"normface", "imprinted", "normface: new row imprinted"}};
  NewClass b;
  // Every variant over `pairs` seeds (the first seed's runs fill the table, the numbers and the
  // figure; the answer compares over all of them).
  for (int k = 0; k < s.pairs; ++k) {
    Pretrained pre;
    for (const auto& v : variants) {
      const Added a = add_the_class(nb, s, v, nb.seed() + 10 * static_cast<std::uint64_t>(k), k == 0, splits, pre);
      const std::string key = v.kind + "_" + v.row;
      b.drift_seeds[key].push_back(a.drift);
      b.new_seeds[key].push_back(a.new_after);
      b.old_seeds[key].push_back(a.old_after);
      if (k > 0) continue;  // the table, the numbers and the figure: the first seed
      first_seed_row(nb, s, v, a, add, per_class);
      b.first[key] = a;
    }
  }
  nb.table(add);
  plot::lines(nb.figure_path("new_class"), per_class,
              {"Test accuracy per class after adding " + s.new_class() + " and fine-tuning", "class (label)",
               "test accuracy"});
  nb.figure("new_class",
            "Accuracy per class after fine-tuning on all ten classes (" + class_axis(s) + "): the point at " +
                std::to_string(s.C - 1) + " is the new class, " + s.new_class() +
                "; the others show whether the old classes kept up. One line per way of adding the class.");
  answer_b(nb, s, b);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  Notebook nb("10", "Fixed centroids or a learned classifier: stability across re-training, and a new class");
  Setup s;
  s.epochs = -1;
  s.limit_train = -1;
  std::string model;
  nb.add_dataset_flag();
  nb.cli().add_option("--model", model, "mlp | cnn (default: mlp on the shipped subset and with --quick, cnn with --data)");
  nb.cli().add_option("--epochs", s.epochs, "epochs of every training run (default 8 with the MLP, 3 with SmallCNN; --quick 2)");
  nb.cli().add_option("--finetune-epochs", s.finetune_epochs, "epochs of fine-tuning after adding the last class")
      ->capture_default_str();
  nb.cli().add_option("--limit-train", s.limit_train,
                      "training images (default 0: all of them, 6,000 on the subset, 60,000 with --data; --quick 1500)");
  if (auto code = nb.parse(argc, argv)) return *code;
  s.model = model.empty() ? (nb.full_data() && !nb.quick() ? "cnn" : "mlp") : model;
  s.flat_input = nn::find_model(s.model).flat_input;  // throws, naming the known models
  s.model_name = s.model == "cnn" ? "SmallCNN" : "the MLP (784-256-128-64)";
  if (s.epochs < 0) s.epochs = nb.quick() ? 2 : s.model == "cnn" ? 3 : 8;
  if (s.limit_train < 0) s.limit_train = nb.quick() ? 1500 : 0;
  if (s.epochs < 1 || s.finetune_epochs < 1) fail("demo 10: --epochs and --finetune-epochs must be >= 1");
  s.pairs = nb.quick() ? 1 : 3;
  s.dataset = &nb.dataset();
  s.C = s.dataset->num_classes();

  introduction(nb, s);
  the_best_rotation_between_two_runs(nb, s.D);  // ## 0. The best rotation between two runs: orthogonal Procrustes
  const Stability a = train_twice(nb, s);       // ## a. Train twice: how far do the embeddings move?
  const NewClass b = add_a_class(nb, s);        // ## b. Add a class: <the last> to a network trained on the others
  nb.check(std::isfinite(a.before_rms.at("centroid")) && std::isfinite(a.before_rms.at("normface")) &&
               std::isfinite(b.first.at("centroid_onehot").drift) && std::isfinite(b.first.at("normface_imprinted").drift),
           "the report states its measured answer to both questions (every number above is finite)");
  return nb.finish();
}
