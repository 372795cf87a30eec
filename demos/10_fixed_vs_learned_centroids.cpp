// demos/10_fixed_vs_learned_centroids.cpp — the essay's open question, run as an experiment.
//
//   build/demo_10_fixed_vs_learned_centroids             the shipped subset: the MLP, all 6,000 images for
//                                                        8 epochs per run; about 30 s of CPU
//   build/demo_10_fixed_vs_learned_centroids --quick     seconds (1,500 training images, 2 epochs: a check
//                                                        that the program runs, not the answer)
//   build/demo_10_fixed_vs_learned_centroids --data DIR  full MNIST on SmallCNN, 3 epochs per run
//   --model cnn                                          SmallCNN on the subset too (about 25 times the CPU)
//
// The essay: a softmax head's weight rows W are initialised at random, so "once you retrain,
// the new embeddings differ greatly from the old ones, even for the same class"; fixed,
// controlled centroids (one-hot, K-means) "keep the embeddings from changing much between
// trainings, and make it easy to add a class (append a new centroid at the required
// distance from the others) — whether this works needs an experiment". Here it is:
//   0. a small orthogonal Procrustes solver (Jacobi SVD), tested on a known rotation;
//   a. train twice with different seeds; how far do the test embeddings move, before and
//      after the best rotation of one run onto the other?
//   b. train on digits 0-8, add digit 9 (a new one-hot centroid / a new row of W), fine-tune
//      briefly on all digits: accuracy on old and new classes, and how far the old classes'
//      embeddings moved.
#include <chalk.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "demos/notebook.h"
#include "plot/plot.h"

using namespace chalk;
using chalk::demo::fmt;
using chalk::demo::Notebook;
using chalk::demo::Table;

// The network every run of this demo trains: the MLP on the shipped subset (SmallCNN costs about
// 25 times the CPU per image: 3 SmallCNN epochs per run took 150 s on 2 cores, and NormFace had
// not yet spread its embeddings out), SmallCNN with --data; --model chooses.
std::string g_model = "mlp";

namespace {

// ============================================================================================
// 0. Orthogonal Procrustes, in double precision.
//
// Given two sets of the same N points, X1 and X2 (N x D, row i of each is the same image), the
// orthogonal matrix R (R^T R = I: a rotation, possibly with a reflection) that best maps X1 onto
// X2 (Schönemann, "A generalized solution of the orthogonal Procrustes problem", 1966):
//
//   R* = argmin_{R^T R = I} ||X1 R - X2||_F^2 = U V^T,   where  M = X1^T X2 = U S V^T  (an SVD).
//
// Why: ||X1 R - X2||^2 = ||X1||^2 + ||X2||^2 - 2 tr(R^T M), and tr(R^T U S V^T) = tr(S (V^T R^T U))
// = sum_i S_i Z_ii with Z = V^T R^T U orthogonal, so |Z_ii| <= 1 and the trace is at most
// sum_i S_i, reached at Z = I, i.e. R = U V^T. Since R = I is one of the candidates, the best R
// never fits worse than no rotation at all.
//
// chalk has no SVD, so the demo carries a small one: M is only D x D (64 x 64).
// ============================================================================================

using Matrix = std::vector<double>;  // row-major; the size is passed alongside

// One-sided Jacobi SVD of a square D x D matrix (Hestenes 1958). Start from A = M, V = I and
// rotate pairs of columns (p, q) of A — and the same columns of V — by the plane rotation that
// makes them orthogonal:
//     alpha = a_p.a_p, beta = a_q.a_q, gamma = a_p.a_q,  zeta = (beta - alpha) / (2 gamma),
//     t = sign(zeta) / (|zeta| + sqrt(1 + zeta^2)),  c = 1 / sqrt(1 + t^2),  s = c t,
//     a_p <- c a_p - s a_q,   a_q <- s a_p + c a_q          (then a_p . a_q = 0)
// Each rotation keeps A = M V with V orthogonal. Sweep over all pairs until no pair needs a
// rotation; then the columns of A are orthogonal: A = U S with S_j = ||a_j||, U_j = a_j / S_j,
// and M = A V^T = U S V^T. Columns with S_j ~ 0 (M rank-deficient) give no direction; U is
// completed there with an orthonormal basis of the rest of the space (Gram-Schmidt), which
// leaves U S V^T unchanged.
void jacobi_svd(const Matrix& M, int D, Matrix& U, std::vector<double>& S, Matrix& V) {
  Matrix A = M;
  V.assign(static_cast<std::size_t>(D) * D, 0.0);
  for (int i = 0; i < D; ++i) V[i * D + i] = 1;
  auto col_dot = [&](const Matrix& X, int p, int q) {
    double s = 0;
    for (int i = 0; i < D; ++i) s += X[i * D + p] * X[i * D + q];
    return s;
  };
  auto rotate = [&](Matrix& X, int p, int q, double c, double s) {
    for (int i = 0; i < D; ++i) {
      const double xp = X[i * D + p], xq = X[i * D + q];
      X[i * D + p] = c * xp - s * xq;
      X[i * D + q] = s * xp + c * xq;
    }
  };
  for (int sweep = 0; sweep < 100; ++sweep) {
    int rotations = 0;
    for (int p = 0; p < D - 1; ++p)
      for (int q = p + 1; q < D; ++q) {
        const double alpha = col_dot(A, p, p), beta = col_dot(A, q, q), gamma = col_dot(A, p, q);
        if (gamma == 0 || std::fabs(gamma) <= 1e-15 * std::sqrt(alpha * beta)) continue;  // already orthogonal
        const double zeta = (beta - alpha) / (2 * gamma);
        const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(1 + zeta * zeta));
        const double c = 1 / std::sqrt(1 + t * t), s = c * t;
        rotate(A, p, q, c, s);
        rotate(V, p, q, c, s);
        ++rotations;
      }
    if (rotations == 0) break;
  }
  S.assign(D, 0.0);
  double smax = 0;
  for (int j = 0; j < D; ++j) smax = std::max(smax, S[j] = std::sqrt(col_dot(A, j, j)));
  U.assign(static_cast<std::size_t>(D) * D, 0.0);
  std::vector<bool> done(D, false);
  for (int j = 0; j < D; ++j)
    if (S[j] > 1e-12 * smax && S[j] > 0) {
      for (int i = 0; i < D; ++i) U[i * D + j] = A[i * D + j] / S[j];
      done[j] = true;
    }
  // complete U: for each missing column, the unit vector e_k with the largest part outside the
  // columns so far, orthogonalised against them (Gram-Schmidt, twice: orthogonal to rounding).
  // With r columns done, sum_k ||residual of e_k||^2 = D - r >= 1, so the best one is never ~0.
  auto residual = [&](int k) {
    std::vector<double> v(D, 0.0);
    v[k] = 1;
    for (int pass = 0; pass < 2; ++pass)
      for (int c = 0; c < D; ++c) {
        if (!done[c]) continue;
        double d = 0;
        for (int i = 0; i < D; ++i) d += U[i * D + c] * v[i];
        for (int i = 0; i < D; ++i) v[i] -= d * U[i * D + c];
      }
    return v;
  };
  for (int j = 0; j < D; ++j) {
    if (done[j]) continue;
    S[j] = 0;
    std::vector<double> best;
    double best_norm = -1;
    for (int k = 0; k < D; ++k) {
      std::vector<double> v = residual(k);
      double n = 0;
      for (double x : v) n += x * x;
      if (n > best_norm) best_norm = n, best = std::move(v);
    }
    for (int i = 0; i < D; ++i) U[i * D + j] = best[i] / std::sqrt(best_norm);
    done[j] = true;
  }
}

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

// The best orthogonal R (D x D) with X1 R ~ X2: R = U V^T from the SVD of X1^T X2.
Matrix procrustes(const Matrix& X1, const Matrix& X2, std::int64_t N, int D) {
  Matrix U, V;
  std::vector<double> S;
  jacobi_svd(cross_covariance(X1, X2, N, D), D, U, S, V);
  Matrix R(static_cast<std::size_t>(D) * D, 0.0);
  for (int i = 0; i < D; ++i)
    for (int j = 0; j < D; ++j) {
      double r = 0;
      for (int k = 0; k < D; ++k) r += U[i * D + k] * V[j * D + k];
      R[i * D + j] = r;
    }
  return R;
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

// The model's outputs for a whole split, N x D, in batches of 1,000, eval mode, no graph
// (as Trainer::embed).
Tensor embed(nn::Layer& model, const MnistSplit& split) {
  NoGradGuard no_grad;
  model.eval();
  Tensor out;
  for (std::int64_t s = 0; s < split.n; s += 1000) {
    std::vector<std::int64_t> idx;
    for (std::int64_t i = s; i < std::min(split.n, s + 1000); ++i) idx.push_back(i);
    const Tensor e = model.forward(make_image_batch(split, idx, /*flatten=*/nn::find_model(g_model).flat_input));
    if (!out.defined()) out = Tensor::empty({split.n, e.shape()[1]});
    std::copy(e.data<float>(), e.data<float>() + e.numel(), out.data<float>() + s * e.shape()[1]);
  }
  model.train();
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
                           int epochs, std::uint64_t seed) {
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
      Tensor l = loss.forward(model.forward(make_image_batch(data, idx, /*flatten=*/nn::find_model(g_model).flat_input)),
                              make_label_batch(data, idx));
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

}  // namespace

int main(int argc, char** argv) {
  Notebook nb("10", "Fixed centroids or a learned classifier: stability across re-training, and a new class");
  int epochs = -1, finetune_epochs = 1;
  std::int64_t limit_train = -1;
  std::string model;
  nb.cli().add_option("--model", model, "mlp | cnn (default: mlp on the shipped subset and with --quick, cnn with --data)");
  nb.cli().add_option("--epochs", epochs, "epochs of every training run (default 8 with the MLP, 3 with SmallCNN; --quick 2)");
  nb.cli().add_option("--finetune-epochs", finetune_epochs, "epochs of fine-tuning after adding digit 9")
      ->capture_default_str();
  nb.cli().add_option("--limit-train", limit_train,
                      "training images (default 0: all of them, 6,000 on the subset, 60,000 with --data; --quick 1500)");
  if (auto code = nb.parse(argc, argv)) return *code;
  if (model.empty()) model = nb.full_data() && !nb.quick() ? "cnn" : "mlp";
  nn::find_model(model);  // throws, naming the known models
  g_model = model;
  const std::string model_name = model == "cnn" ? "SmallCNN" : "the MLP (784-256-128-64)";
  if (epochs < 0) epochs = nb.quick() ? 2 : model == "cnn" ? 3 : 8;
  if (limit_train < 0) limit_train = nb.quick() ? 1500 : 0;
  if (epochs < 1 || finetune_epochs < 1) fail("demo 10: --epochs and --finetune-epochs must be >= 1");
  const int D = 64;

  nb.markdown(
      "The essay ends on a question it leaves to an experiment. A softmax head's weight rows W (each row "
      "acts as the centre of a class) start at random, so a network trained again from another seed puts "
      "its classes somewhere else; fixed centroids chosen in advance (the centroid bound's one-hot centroids: "
      "class c sits at the unit vector e_c) should keep the embeddings where they were, and make a new "
      "class easy to add — append a centroid at the same distance from all the others. Two experiments "
      "answer it on " + model_name + " with 64-d embeddings: (a) train twice with different seeds and measure how far "
      "each test image's embedding moves; (b) train on digits 0-8, add digit 9, fine-tune briefly, and "
      "measure the old and new classes' accuracy and how far the old embeddings moved. The learned-W side "
      "is NormFace (a normalised softmax: the same unit sphere, no margin, so the only difference from "
      "the centroid loss is that its centres are learned) and, in (a), ArcFace too.");
  nb.markdown("Budget: every run trains " + model_name + " on " +
              (limit_train > 0 ? std::to_string(limit_train) : std::string("all")) + " training images for " +
              std::to_string(epochs) + " epochs (each loss with its registry defaults, as chalk-train uses them); "
              "the test set (" + std::string(nb.full_data() ? "10,000" : "1,000") + " images) is what is measured." +
              (model == "cnn" ? std::string("")
                              : " On the shipped subset the demo trains the MLP, not SmallCNN: SmallCNN costs about 25 "
                                "times the CPU per image, and the few SmallCNN epochs that fit in two minutes left "
                                "NormFace's embeddings squeezed into a small cap of the sphere (test P@1 0.76 and 0.70 "
                                "in an earlier version of this demo), which made its side of the comparison say little. "
                                "`--data DIR` runs both experiments on SmallCNN and full MNIST (3 epochs per run, about "
                                "1.6 million SmallCNN image passes: roughly half an hour on 2 cores, an estimate); "
                                "`--model cnn` runs SmallCNN on the subset."));

  // ---- 0. the Procrustes solver, on a rotation we know ---------------------------------------------
  nb.markdown("## 0. The best rotation between two runs: orthogonal Procrustes");
  nb.markdown(
      "Two trainings can learn the same geometry in different coordinates. To separate 'moved' from "
      "'rotated', find the orthogonal R minimising ||X1 R - X2||_F over the N test embeddings of run 1 (X1) "
      "and run 2 (X2): R = U V^T from the SVD X1^T X2 = U S V^T (Schönemann 1966). chalk has no SVD, so "
      "the demo carries a one-sided Jacobi SVD of the 64 x 64 matrix X1^T X2, in double precision "
      "(`jacobi_svd` above). First, a test on data with a known answer: X2 = X1 Q for a random orthogonal Q.");
  {
    const std::int64_t N = 500;
    // a random orthogonal Q: the orthogonal factor (U V^T) of a Gaussian matrix
    const Matrix G = gaussian(D, D, 7);
    Matrix Ug, Vg;
    std::vector<double> Sg;
    jacobi_svd(G, D, Ug, Sg, Vg);
    Matrix Q(static_cast<std::size_t>(D) * D, 0.0);
    for (int i = 0; i < D; ++i)
      for (int j = 0; j < D; ++j)
        for (int k = 0; k < D; ++k) Q[i * D + j] += Ug[i * D + k] * Vg[j * D + k];
    // the SVD itself: U S V^T reproduces G
    double svd_error = 0;
    for (int i = 0; i < D; ++i)
      for (int j = 0; j < D; ++j) {
        double g = 0;
        for (int k = 0; k < D; ++k) g += Ug[i * D + k] * Sg[k] * Vg[j * D + k];
        svd_error = std::max(svd_error, std::fabs(g - G[i * D + j]));
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
    nb.output("SVD of a 64 x 64 Gaussian matrix: max |U S V^T - G| = " + fmt(svd_error, 3) +
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

  // ---- a. stability across re-training -------------------------------------------------------------
  nb.markdown("## a. Train twice: how far do the embeddings move?");
  // Every comparison below rests on `pairs` pairs of trainings (seeds s, s + 1 for s = seed, seed + 2,
  // ...); the table, the numbers and the figure show the first pair.
  const int pairs = nb.quick() ? 1 : 3;
  nb.markdown(
      "Each loss trains twice, with seeds " + std::to_string(nb.seed()) + " and " + std::to_string(nb.seed() + 1) +
      " (another initial network, another order of batches, and for NormFace and ArcFace another random W)" +
      (pairs > 1 ? "; and so " + std::to_string(pairs - 1) + " more pair(s), seeds s and s + 1 for s = " +
                       std::to_string(nb.seed() + 2) + ", ...: the table, the numbers and the figure show the first "
                       "pair, the answer compares over all " + std::to_string(pairs) + ". "
                 : std::string(". ")) +
      "For every test image, d_i = || u1_i - u2_i || between its L2-normalised embeddings in the two runs "
      "(0: the same point; sqrt(2) = 1.414: the distance between two random directions in 64-d; 2: "
      "opposite). Then the same after the best rotation R of run 1 onto run 2, fitted on the test embeddings "
      "themselves (the number Procrustes minimises), and fitted on the training images' embeddings and "
      "applied to the test ones (a rotation that generalises, not one that also fits noise). For scale: the "
      "RMS distance of a test embedding to its class's mean direction within run 1.");
  const std::vector<std::string> kinds = {"centroid", "normface", "arcface"};
  Table stab{{"loss (centres)", "P@1 run 1 / run 2", "RMS d before", "mean d before", "RMS d after R (fit on test)",
              "RMS d after R (fit on train)", "class spread (RMS to class mean)", "cloud radius", "RMS d after R / cloud radius"},
             {}};
  std::map<std::string, double> before_rms, after_rms, relative_after;
  std::vector<plot::Series> per_class_series;
  bool alignment_never_hurts = true;
  std::string alignment_detail;
  std::map<std::string, std::vector<double>> before_seeds, relative_seeds;
  for (int pair = 0; pair < pairs; ++pair)
  for (const auto& kind : kinds) {
    Matrix test_emb[2], train_emb[2];
    double p1[2];
    std::vector<std::int64_t> test_labels;
    std::int64_t n_test = 0, n_train = 0;
    for (int run = 0; run < 2; ++run) {
      TrainConfig cfg = nb.train_config();
      cfg.model = g_model;
      cfg.emb_dim = D;
      cfg.loss = kind;
      cfg.epochs = epochs;
      cfg.limit_train = limit_train;
      cfg.seed = nb.seed() + static_cast<std::uint64_t>(2 * pair + run);
      Trainer t(cfg);
      for (int e = 0; e < epochs; ++e) t.train_epoch(e);
      const EpochMetrics m = t.evaluate(epochs - 1);
      p1[run] = m.retrieval.precision_at_1;
      test_emb[run] = normalized_rows(t.embed(t.test_set()));
      train_emb[run] = normalized_rows(t.embed(t.train_set()));
      test_labels = t.test_set().labels;
      n_test = t.test_set().n;
      n_train = t.train_set().n;
      std::cout << "  " << kind << " seed " << cfg.seed << ": P@1 " << fmt(p1[run]) << "  ("
                << fmt(nb.elapsed_seconds(), 1) << " s)\n";
    }
    const auto d_before = row_distances(test_emb[0], test_emb[1], n_test, D);
    const Matrix R_test = procrustes(test_emb[0], test_emb[1], n_test, D);
    const auto d_after = row_distances(apply(test_emb[0], R_test, n_test, D), test_emb[1], n_test, D);
    const Matrix R_train = procrustes(train_emb[0], train_emb[1], n_train, D);
    const auto d_after_train = row_distances(apply(test_emb[0], R_train, n_test, D), test_emb[1], n_test, D);
    // class spread within run 1: RMS distance to the normalised class mean
    double spread = 0;
    {
      Matrix means(10 * D, 0.0);
      for (std::int64_t n = 0; n < n_test; ++n)
        for (int j = 0; j < D; ++j) means[test_labels[n] * D + j] += test_emb[0][n * D + j];
      for (int c = 0; c < 10; ++c) {
        double s = 0;
        for (int j = 0; j < D; ++j) s += means[c * D + j] * means[c * D + j];
        for (int j = 0; j < D; ++j) means[c * D + j] /= std::max(std::sqrt(s), 1e-12);
      }
      for (std::int64_t n = 0; n < n_test; ++n)
        for (int j = 0; j < D; ++j) {
          const double d = test_emb[0][n * D + j] - means[test_labels[n] * D + j];
          spread += d * d;
        }
      spread = std::sqrt(spread / static_cast<double>(n_test));
    }
    // the cloud radius of run 2: RMS distance of its test embeddings to their mean vector. A short
    // run can leave every embedding close to one common direction: then every distance is small,
    // and only a distance relative to this radius says whether the two runs agree.
    double radius = 0;
    {
      std::vector<double> centre(D, 0.0);
      for (std::int64_t n = 0; n < n_test; ++n)
        for (int j = 0; j < D; ++j) centre[j] += test_emb[1][n * D + j] / static_cast<double>(n_test);
      for (std::int64_t n = 0; n < n_test; ++n)
        for (int j = 0; j < D; ++j) radius += (test_emb[1][n * D + j] - centre[j]) * (test_emb[1][n * D + j] - centre[j]);
      radius = std::sqrt(radius / static_cast<double>(n_test));
    }
    const double rb = rms_of(d_before), ra = rms_of(d_after), rt = rms_of(d_after_train);
    before_seeds[kind].push_back(rb);
    relative_seeds[kind].push_back(ra / radius);
    alignment_never_hurts = alignment_never_hurts && ra <= rb + 1e-12;
    if (pair > 0) continue;  // the table, the numbers and the figure: the first pair
    before_rms[kind] = rb;
    after_rms[kind] = ra;
    stab.row({kind == "centroid" ? "centroid (fixed one-hot)" : kind + " (learned W)", fmt(p1[0]) + " / " + fmt(p1[1]),
              fmt(rb), fmt(mean_of(d_before)), fmt(ra), fmt(rt), fmt(spread), fmt(radius), fmt(ra / radius)});
    relative_after[kind] = ra / radius;
    nb.result("a_cloud_radius_" + kind, radius);
    nb.result("a_rms_after_over_radius_" + kind, ra / radius);
    nb.result("a_rms_before_" + kind, rb);
    nb.result("a_mean_before_" + kind, mean_of(d_before));
    nb.result("a_rms_after_test_fit_" + kind, ra);
    nb.result("a_mean_after_test_fit_" + kind, mean_of(d_after));
    nb.result("a_rms_after_train_fit_" + kind, rt);
    nb.result("a_class_spread_" + kind, spread);
    nb.result("a_p1_run1_" + kind, p1[0]);
    nb.result("a_p1_run2_" + kind, p1[1]);
    alignment_detail += (alignment_detail.empty() ? "" : "; ") + kind + " " + fmt(rb) + " -> " + fmt(ra);
    // per digit: RMS distance before and after the (test-fitted) rotation
    std::vector<double> digits, before_c, after_c;
    for (int c = 0; c < 10; ++c) {
      std::vector<double> b, a;
      for (std::int64_t n = 0; n < n_test; ++n)
        if (test_labels[n] == c) b.push_back(d_before[n]), a.push_back(d_after[n]);
      digits.push_back(c);
      before_c.push_back(rms_of(b));
      after_c.push_back(rms_of(a));
    }
    per_class_series.push_back({kind + ": before", digits, before_c, false, false});
    per_class_series.push_back({kind + ": after best rotation", digits, after_c, false, true});
  }
  nb.table(stab);
  plot::lines(nb.figure_path("stability"), per_class_series,
              {"How far each digit's test embeddings move between two trainings", "digit",
               "RMS distance between runs (unit vectors)"});
  nb.figure("stability",
            "RMS distance between the two runs' normalised test embeddings, per digit: solid before any "
            "alignment, dashed after the best rotation of run 1 onto run 2. Fixed one-hot centroids pin each "
            "class to the same coordinates in both runs; a learned W lets each run put the classes anywhere, "
            "which a rotation can undo only if the two arrangements have the same shape.");
  nb.check(alignment_never_hurts,
           "the best rotation never increases the RMS distance between the two runs (R = I is a candidate)",
           alignment_detail);
  {
    const double c_a = after_rms["centroid"], n_a = after_rms["normface"], a_a = after_rms["arcface"];
    const double c_r = relative_after["centroid"], n_r = relative_after["normface"], a_r = relative_after["arcface"];
    // The verdicts, paired over the pairs of trainings: lower is steadier.
    auto steadier = [&](const std::map<std::string, std::vector<double>>& m, const std::string& learned) {
      return describe_comparison("centroid", m.at("centroid"), learned, m.at(learned), 3, Better::kLower);
    };
    const Verdict raw_n = compare(before_seeds["centroid"], before_seeds["normface"]),
                  raw_a = compare(before_seeds["centroid"], before_seeds["arcface"]);
    const Verdict rel_n = compare(relative_seeds["centroid"], relative_seeds["normface"]),
                  rel_a = compare(relative_seeds["centroid"], relative_seeds["arcface"]);
    auto word = [](Verdict v, const std::string& less, const std::string& more) {
      return v == Verdict::kSecondLarger ? less : v == Verdict::kFirstLarger ? more
             : v == Verdict::kOneSample ? less + " or " + more + " (one pair: no verdict)"
                                        : "neither " + less + " nor " + more + " (no difference measured at this budget)";
    };
    nb.result("a_fixed_steadier_raw_both", raw_n == Verdict::kSecondLarger && raw_a == Verdict::kSecondLarger ? 1 : 0);
    nb.markdown(std::string("**Answer (a), measured over ") + std::to_string(pairs) + " pair(s) of trainings** (the table "
                "shows the first pair; each comparison is paired pair by pair, with the 95% interval of the "
                "difference). Without any alignment, the fixed centroids' embeddings moved " +
                word(raw_n, "less", "more") + " than NormFace's and " + word(raw_a, "less", "more") +
                " than ArcFace's between two trainings (RMS d before: " + steadier(before_seeds, "normface") + "; " +
                steadier(before_seeds, "arcface") + "; 1.414 is what two unrelated sets of directions give). For the "
                "first pair, after the best rotation, the distances are " + fmt(c_a) + " (centroid), " + fmt(n_a) +
                " (NormFace), " + fmt(a_a) + " (ArcFace), which is " + fmt(c_r, 3) + ", " + fmt(n_r, 3) + " and " +
                fmt(a_r, 3) +
                " times the radius of each embedding cloud (the fair comparison: a cloud squeezed into a small cap of "
                "the sphere has small distances whatever the runs do). Relative to the cloud, once rotated, the "
                "fixed centroids' embeddings agree " + word(rel_n, "better", "worse") + " than NormFace's and " +
                word(rel_a, "better", "worse") + " than ArcFace's (" + steadier(relative_seeds, "normface") + "; " +
                steadier(relative_seeds, "arcface") + ")" +
                (rel_n == Verdict::kSecondLarger && rel_a == Verdict::kSecondLarger
                     ? ": the fixed centroids fix more than the coordinate system."
                 : rel_n == Verdict::kFirstLarger && rel_a == Verdict::kFirstLarger
                     ? ": what fixed centroids buy is the coordinate system — no alignment needed — not a "
                       "better-defined geometry."
                     : ": after alignment, no single verdict holds for both learned-W losses at this budget.") +
                " The rotation fitted on the training images and applied to the test images (table) tells whether "
                "the alignment is a property of the two networks or is fitted to the test points.");
  }

  // ---- b. adding a class -----------------------------------------------------------------------------
  nb.markdown("## b. Add digit 9 to a network trained on digits 0-8");
  nb.markdown(
      "Train on the training images of digits 0-8 only (9 classes). Then add a 10th class: for the centroid "
      "loss a new fixed centroid, the one-hot vector e_9 (checked below: as far from every old centroid as "
      "the old ones are from each other); for NormFace a new row of W, either as the loss initialises its "
      "rows (N(0, 1) entries: a random direction) or 'imprinted' — the normalised mean of the trained "
      "network's embeddings of the training 9s, scaled to the old rows' mean length (Qi, Brown, Lowe, "
      "'Low-shot learning with imprinted weights', CVPR 2018). Then fine-tune on all ten digits for " +
      std::to_string(finetune_epochs) +
      " epoch(s) (each loss's registry defaults: its optimizer, learning rate and warm-up, cosine decay), and measure "
      "on the test set: "
      "accuracy on the old digits and on the new one (argmax over all 10 classes), and how far the old "
      "digits' normalised embeddings moved during fine-tuning. Chance is 0.1; before fine-tuning, nothing "
      "has been trained towards the new centre.");
  nb.code(
      "MnistSplit old_classes = filter_split(train, [](auto y) { return y < 9; });\n"
      "auto model = nn::make_model(\"" + model + "\", 64);   LossOptions o; o.num_classes = 9;\n"
      "auto loss9 = make_loss(kind, o);           train_with_defaults(*model, *loss9, old_classes, ...);\n"
      "o.num_classes = 10;  auto loss10 = make_loss(kind, o);   // + copy W's 9 rows (NormFace)\n"
      "train_with_defaults(*model, *loss10, all_classes, ..., finetune_epochs);");
  // the splits exactly as Trainer loads them: the data folder, then the first limit_train images
  const std::string data_dir = locate_mnist(nb.data_dir()).dir;
  MnistSplit train_all = load_mnist(data_dir, /*train=*/true);
  const MnistSplit test = load_mnist(data_dir, /*train=*/false);
  if (limit_train > 0 && limit_train < train_all.n) train_all = filter_first(train_all, limit_train);
  const MnistSplit old_train = filter_split(train_all, [](std::int64_t y) { return y < 9; });
  const MnistSplit nines = filter_split(train_all, [](std::int64_t y) { return y == 9; });
  auto is_old = [](std::int64_t y) { return y < 9; };
  auto is_new = [](std::int64_t y) { return y == 9; };
  auto any = [](std::int64_t) { return true; };

  Table add{{"variant", "old digits acc. before", "digit 9 acc. before fine-tuning", "old digits acc. after",
             "digit 9 acc. after", "all digits acc. after", "test P@1 after", "old digits moved (mean d)"},
            {}};
  std::vector<plot::Series> per_digit;
  struct Variant {
    std::string kind, row, label;
  };
  const std::vector<Variant> variants = {{"centroid", "onehot", "centroid: new one-hot centroid e_9"},
                                         {"normface", "random", "normface: new row of W at random"},
                                         {"normface", "imprinted", "normface: new row imprinted"}};
  std::map<std::string, std::shared_ptr<nn::Layer>> pretrained;
  std::map<std::string, std::shared_ptr<Loss>> heads9;
  std::map<std::string, double> drift_of, new_acc_of, old_acc_of, old_before_of;
  // Every variant over `pairs` seeds (the first seed's runs fill the table, the numbers and the figure;
  // the answer compares over all of them): drift_seeds[key], new_seeds[key], one value per seed.
  std::map<std::string, std::vector<double>> drift_seeds, new_seeds;
  for (int k = 0; k < pairs; ++k) {
  const std::uint64_t seed = nb.seed() + 10 * static_cast<std::uint64_t>(k);
  pretrained.clear();
  heads9.clear();
  for (const auto& v : variants) {
    LossOptions o9;
    o9.num_classes = 9;
    o9.emb_dim = D;
    o9.seed = seed;
    if (!pretrained.count(v.kind)) {  // one pre-training per loss, shared by its variants
      manual_seed(seed);
      pretrained[v.kind] = nn::make_model(g_model, D);
      heads9[v.kind] = make_loss(v.kind, o9);
      const double l = train_with_defaults(*pretrained[v.kind], *heads9[v.kind], old_train, v.kind, epochs, seed);
      std::cout << "  " << v.kind << " on digits 0-8, seed " << seed << ": last epoch's loss " << fmt(l) << "  ("
                << fmt(nb.elapsed_seconds(), 1) << " s)\n";
    }
    // a fresh copy of the pre-trained network for this variant
    manual_seed(seed);
    std::shared_ptr<nn::Layer> model = nn::make_model(g_model, D);
    copy_parameters(*pretrained[v.kind], *model);
    LossOptions o10 = o9;
    o10.num_classes = 10;
    std::shared_ptr<Loss> loss10 = make_loss(v.kind, o10);

    if (v.kind == "centroid" && k == 0) {
      // the new centroid: e_9; the old ones must be unchanged, and every pair sqrt(2) apart
      const Tensor c9 = dynamic_cast<CentroidLoss&>(*heads9[v.kind]).centroids();
      const Tensor c10 = dynamic_cast<CentroidLoss&>(*loss10).centroids();
      const float* a = c9.data<float>();
      const float* b = c10.data<float>();
      bool old_same = true;
      for (int i = 0; i < 9 * D; ++i) old_same = old_same && a[i] == b[i];
      double new_min = 1e9, new_max = 0, old_min = 1e9, old_max = 0;
      for (int p = 0; p < 10; ++p)
        for (int q = p + 1; q < 10; ++q) {
          double s = 0;
          for (int j = 0; j < D; ++j) s += (b[p * D + j] - b[q * D + j]) * (b[p * D + j] - b[q * D + j]);
          const double d = std::sqrt(s);
          if (q == 9) new_min = std::min(new_min, d), new_max = std::max(new_max, d);
          else old_min = std::min(old_min, d), old_max = std::max(old_max, d);
        }
      nb.check(old_same && std::fabs(new_min - old_min) < 1e-6 && std::fabs(new_max - old_max) < 1e-6 &&
                   std::fabs(new_max - std::sqrt(2.0)) < 1e-6,
               "the 10th one-hot centroid leaves the 9 old ones unchanged and sits at the old centroids' mutual "
               "distance from every one of them",
               "new-to-old distances " + fmt(new_min, 6) + "..." + fmt(new_max, 6) + ", old-to-old " + fmt(old_min, 6) +
                   "..." + fmt(old_max, 6) + " (sqrt 2 = 1.414214)");
    } else if (v.kind != "centroid") {
      // W: the 9 trained rows, then the new row
      Tensor W10 = dynamic_cast<MarginSoftmaxLoss&>(*loss10).W();
      const Tensor W9 = dynamic_cast<MarginSoftmaxLoss&>(*heads9[v.kind]).W();
      float* w = W10.data<float>();
      std::copy(W9.data<float>(), W9.data<float>() + 9 * D, w);
      if (v.row == "imprinted") {
        const Matrix e = normalized_rows(embed(*model, nines));
        std::vector<double> mean(D, 0.0);
        for (std::int64_t n = 0; n < nines.n; ++n)
          for (int j = 0; j < D; ++j) mean[j] += e[n * D + j];
        double norm = 0, old_norm = 0;
        for (double x : mean) norm += x * x;
        for (int r = 0; r < 9; ++r) {
          double s = 0;
          for (int j = 0; j < D; ++j) s += static_cast<double>(w[r * D + j]) * w[r * D + j];
          old_norm += std::sqrt(s) / 9;
        }
        for (int j = 0; j < D; ++j) w[9 * D + j] = static_cast<float>(mean[j] / std::sqrt(norm) * old_norm);
      }
      increment_version(W10);  // written in place through data<T>(): autograd must know
    }
    // before fine-tuning
    const Tensor out_before = embed(*model, test);
    const Matrix u_before = normalized_rows(out_before);
    double old_before, new_before;
    {
      NoGradGuard no_grad;
      const Tensor logits = loss10->logits(out_before);
      old_before = accuracy_where(logits, test.labels, is_old);
      new_before = accuracy_where(logits, test.labels, is_new);
    }
    // fine-tune on all ten digits
    train_with_defaults(*model, *loss10, train_all, v.kind, finetune_epochs, seed + 100);
    const Tensor out_after = embed(*model, test);
    const Matrix u_after = normalized_rows(out_after);
    double old_after, new_after, all_after, p1_after;
    std::vector<double> digit_acc, digits;
    {
      NoGradGuard no_grad;
      const Tensor logits = loss10->logits(out_after);
      old_after = accuracy_where(logits, test.labels, is_old);
      new_after = accuracy_where(logits, test.labels, is_new);
      all_after = accuracy_where(logits, test.labels, any);
      p1_after = retrieval_metrics(loss10->metric_embedding(out_after), labels_of(test)).precision_at_1;
      for (int c = 0; c < 10; ++c) {
        digits.push_back(c);
        digit_acc.push_back(accuracy_where(logits, test.labels, [c](std::int64_t y) { return y == c; }));
      }
    }
    std::vector<double> moved;
    for (std::int64_t n = 0; n < test.n; ++n)
      if (is_old(test.labels[n])) {
        double s = 0;
        for (int j = 0; j < D; ++j) s += (u_before[n * D + j] - u_after[n * D + j]) * (u_before[n * D + j] - u_after[n * D + j]);
        moved.push_back(std::sqrt(s));
      }
    const double drift = mean_of(moved);
    const std::string key = v.kind + "_" + v.row;
    drift_seeds[key].push_back(drift);
    new_seeds[key].push_back(new_after);
    if (k > 0) continue;  // the table, the numbers and the figure: the first seed
    add.row({v.label, fmt(old_before), fmt(new_before), fmt(old_after), fmt(new_after), fmt(all_after), fmt(p1_after),
             fmt(drift)});
    per_digit.push_back({v.label, digits, digit_acc, false, v.row == "random"});
    nb.result("b_old_acc_before_" + key, old_before);
    nb.result("b_new_acc_before_" + key, new_before);
    nb.result("b_old_acc_after_" + key, old_after);
    nb.result("b_new_acc_after_" + key, new_after);
    nb.result("b_all_acc_after_" + key, all_after);
    nb.result("b_p1_after_" + key, p1_after);
    nb.result("b_old_moved_mean_" + key, drift);
    drift_of[key] = drift;
    new_acc_of[key] = new_after;
    old_acc_of[key] = old_after;
    old_before_of[key] = old_before;
    std::cout << "  " << v.label << ": old " << fmt(old_after) << ", new " << fmt(new_after) << ", moved "
              << fmt(drift) << "  (" << fmt(nb.elapsed_seconds(), 1) << " s)\n";
  }
  }
  nb.table(add);
  plot::lines(nb.figure_path("new_class"), per_digit,
              {"Test accuracy per digit after adding digit 9 and fine-tuning", "digit", "test accuracy"});
  nb.figure("new_class",
            "Accuracy per digit after fine-tuning on all ten digits: the point at digit 9 is the new class, "
            "digits 0-8 show whether the old classes kept up. One line per way of adding the class.");
  {
    const double dc = drift_of["centroid_onehot"], dr = drift_of["normface_random"], di = drift_of["normface_imprinted"];
    const double nc = new_acc_of["centroid_onehot"], nr = new_acc_of["normface_random"], ni = new_acc_of["normface_imprinted"];
    const double oc = old_acc_of["centroid_onehot"], orr = old_acc_of["normface_random"], oi = old_acc_of["normface_imprinted"];
    nb.markdown(std::string("**Answer (b), measured:** after ") + std::to_string(finetune_epochs) +
                " epoch(s) of fine-tuning, the new digit is recognised with accuracy " + fmt(nc) +
                " (new one-hot centroid), " + fmt(nr) + " (new random row of W) and " + fmt(ni) +
                " (imprinted row); the old digits with " + fmt(oc) + ", " + fmt(orr) + ", " + fmt(oi) +
                "; and the old digits' embeddings moved by " + fmt(dc) + ", " + fmt(dr) + ", " + fmt(di) +
                " on average (unit vectors; sqrt(2) = 1.41 would be a random new direction). " +
                "Those are the first seed's numbers; compared seed by seed over " + std::to_string(pairs) +
                " seed(s) (each a pre-training and a fine-tuning; 95% interval of the paired difference): how far "
                "the old digits moved, " +
                describe_comparison("new centroid", drift_seeds["centroid_onehot"], "random row", drift_seeds["normface_random"], 3, Better::kLower) +
                "; " +
                describe_comparison("new centroid", drift_seeds["centroid_onehot"], "imprinted row", drift_seeds["normface_imprinted"], 3, Better::kLower) +
                "; the new digit's accuracy, " +
                describe_comparison("new centroid", new_seeds["centroid_onehot"], "random row", new_seeds["normface_random"], 3) +
                "; " +
                describe_comparison("new centroid", new_seeds["centroid_onehot"], "imprinted row", new_seeds["normface_imprinted"], 3) +
                ". Where the interval holds 0, this budget cannot tell the two ways apart." +
                (std::min(old_before_of["normface_random"], old_before_of["normface_imprinted"]) < 0.5
                     ? " Caution: at this budget NormFace's pre-training on digits 0-8 had not separated them (old-digit "
                       "accuracy " + fmt(old_before_of["normface_random"]) + " with the new random row, " +
                           fmt(old_before_of["normface_imprinted"]) +
                           " with the imprinted one, before fine-tuning), so its side of the comparison says little; "
                           "run without --quick (or with more --epochs)."
                     : std::string()));
  }
  nb.check(std::isfinite(before_rms["centroid"]) && std::isfinite(before_rms["normface"]) &&
               std::isfinite(drift_of["centroid_onehot"]) && std::isfinite(drift_of["normface_imprinted"]),
           "the report states its measured answer to both questions (every number above is finite)");
  return nb.finish();
}
