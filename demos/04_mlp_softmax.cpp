// demos/04_mlp_softmax.cpp — an MLP learns MNIST with softmax cross-entropy, read top to
// bottom like a notebook.
//
//   build/demo_04_mlp_softmax [--quick] [--out DIR] [--data DIR] [--threads N] [--seed N]
//
// 1. the model and the loss; 2. training, epoch by epoch (train and test curves);
// 3. the test set's logits, their softmax and cross-entropy, computed here from the outputs;
// 4. the confusion matrix (and the check that its diagonal is the accuracy the trainer
//    reported); 5. the digits the model gets most wrong. Claim: test accuracy above a
// threshold, and the confusion matrix agrees exactly with the trainer's accuracy.
#include <chalk.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "demos/notebook.h"
#include "plot/plot.h"

using namespace chalk;
using chalk::demo::fmt;

namespace {

// p with two significant digits: 0.02, 0.0011, 0.31.
std::string sig2(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", p);
  return buf;
}

// ---- 1. The model and the loss ----------------------------------------------------------------

TrainConfig model_and_loss(demo::Notebook& nb, int epochs) {
  TrainConfig cfg = nb.softmax_config(epochs > 0 ? epochs : (nb.quick() ? 4 : 12), /*quick_limit=*/3000);
  cfg.model = "mlp";
  TrainConfig shown = cfg;  // the settings the prose states, as the trainer will resolve them
  shown.resolve();
  nb.markdown(
      "## 1. The model and the loss\n\n"
      "An MLP maps each 28 x 28 image, flattened to 784 numbers, to 10 numbers z (the *logits*, one "
      "per digit): 784 -> 256 -> ReLU -> 128 -> ReLU -> 10 (nn/models.h). Softmax turns the logits into "
      "probabilities, and the loss is the negative log-probability of the true class y:\n\n"
      "    p_k  = exp(z_k) / sum_j exp(z_j)           (softmax)\n"
      "    loss = -log p_y = logsumexp(z) - z_y       (cross-entropy; PyTorch: nn.CrossEntropyLoss)\n"
      "    d loss / d z_k = p_k - [k = y]             (the gradient every classifier trains on)\n\n"
      "With `emb_dim = 0` the \"softmax\" loss has no head of its own: the model's 10 outputs *are* the "
      "logits (losses/softmax.h). The trainer uses " + demo::optimizer_words(shown) + ", batches of " +
      std::to_string(shown.batch_size) + ".");
  return cfg;
}

// The model's summary and the data it trains on, under section 1.
void show_model(demo::Notebook& nb, Trainer& t) {
  nb.output(t.model().summary() + "\nparameters: " + std::to_string(t.model().num_parameters()) +
            "\ndata: " + t.data().description + "; " + std::to_string(t.train_set().n) + " training images, " +
            std::to_string(t.test_set().n) + " test images; " + std::to_string(t.config().epochs) + " epochs");
}

// ---- 2. Training, epoch by epoch --------------------------------------------------------------

struct Curves {
  std::vector<double> epoch, train_loss, test_loss, train_acc, test_acc;
  EpochMetrics last;  // the trainer's evaluation after the last epoch
};

Curves training_epoch_by_epoch(demo::Notebook& nb, Trainer& t) {
  nb.markdown(
      "## 2. Training, epoch by epoch\n\n"
      "`train_epoch` runs one pass over the training set and returns the mean of the batch losses "
      "(the model changes during the pass, so this is a running figure). `evaluate` computes the test "
      "loss and accuracy with the model frozen. The training accuracy below is measured the same way "
      "as the test accuracy, on all training images after the epoch.");
  const Tensor train_labels = from_vector(t.train_set().labels, {t.train_set().n});
  Curves c;
  demo::Table curve{{"epoch", "train loss", "test loss", "train accuracy", "test accuracy", "training s"}, {}};
  for (int e = 0; e < t.config().epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    const double tl = t.train_epoch(e);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    c.last = t.evaluate(e);
    const double tr_acc = accuracy(argmax(t.embed(t.train_set()), 1), train_labels);
    c.epoch.push_back(e + 1);
    c.train_loss.push_back(tl);
    c.test_loss.push_back(c.last.test_loss);
    c.train_acc.push_back(tr_acc);
    c.test_acc.push_back(c.last.test_accuracy);
    curve.row({std::to_string(e + 1), fmt(tl), fmt(c.last.test_loss), fmt(tr_acc), fmt(c.last.test_accuracy),
               fmt(secs, 2)});
  }
  nb.table(curve);
  plot::lines(nb.figure_path("loss"),
              {{"train (mean over the epoch)", c.epoch, c.train_loss}, {"test (after the epoch)", c.epoch, c.test_loss}},
              plot::axes("MLP, softmax cross-entropy", "epoch", "cross-entropy (nats)"));
  nb.figure("loss",
            "Cross-entropy per epoch. Both fall fast in the first epochs; at the end the training loss is " +
                fmt(c.train_loss.back(), 3) + " nats and the test loss " + fmt(c.test_loss.back(), 3) +
                ". The gap between them is what the model fits in its own training images and does not "
                "carry over to new ones.");
  plot::lines(nb.figure_path("accuracy"), {{"train", c.epoch, c.train_acc}, {"test", c.epoch, c.test_acc}},
              plot::axes("MLP, softmax cross-entropy", "epoch", "accuracy"));
  nb.figure("accuracy", "Accuracy per epoch on the training images and on the held-out test images: " +
                            fmt(c.train_acc.back(), 3) + " and " + fmt(c.test_acc.back(), 3) + " after the last epoch.");
  return c;
}

// ---- 3. The test set's logits, probabilities and losses ---------------------------------------

// What section 3 computes from the test logits, and sections 4 and 5 read.
struct TestOutputs {
  std::vector<float> p;              // N x 10: softmax(logits)
  std::vector<float> loss;           // N: cross_entropy(logits, labels, "none")
  std::vector<std::int64_t> pred;    // N: argmax(logits)
  double mean_loss = 0;              // the mean of `loss`
  double max_dev = 0;                // max over i of |-log p[i, y_i] - loss[i]|
};

TestOutputs logits_probabilities_and_losses(demo::Notebook& nb, Trainer& t, const EpochMetrics& last) {
  nb.markdown(
      "## 3. The test set's logits, probabilities and losses\n\n"
      "`t.embed(t.test_set())` runs the trained model on every test image: an N x 10 matrix of logits. "
      "From it, with the library's ops:");
  nb.code(
      "Tensor logits = t.embed(t.test_set());                     // N x 10\n"
      "Tensor p      = softmax(logits, 1);                        // N x 10, rows sum to 1\n"
      "Tensor loss_i = cross_entropy(logits, labels, 0, \"none\");  // N: -log p[i, y_i]\n"
      "Tensor pred   = argmax(logits, 1);                         // N: the predicted digit");
  const std::int64_t n_test = t.test_set().n;
  const Tensor logits = t.embed(t.test_set());
  TestOutputs o;
  o.p = softmax(logits, 1).to_vector<float>();
  o.loss = cross_entropy(logits, from_vector(t.test_set().labels, {n_test}), 0.0, "none").to_vector<float>();
  o.pred = argmax(logits, 1).to_vector<std::int64_t>();
  const std::vector<std::int64_t>& yv = t.test_set().labels;
  for (std::int64_t i = 0; i < n_test; ++i) {
    o.mean_loss += o.loss[i];
    // -log p[i, y_i] from the softmax must be the fused cross-entropy's value
    o.max_dev = std::max(o.max_dev, std::fabs(-std::log(static_cast<double>(o.p[i * 10 + yv[i]])) - o.loss[i]));
  }
  o.mean_loss /= static_cast<double>(n_test);
  std::ostringstream os;
  os << "first test image: label " << yv[0] << ", prediction " << o.pred[0] << "\n  logits z = ";
  for (int k = 0; k < 10; ++k) os << fmt(logits.at({0, k}), 2) << (k < 9 ? " " : "\n");
  os << "  p = softmax(z) = ";
  for (int k = 0; k < 10; ++k) os << fmt(o.p[k], 3) << (k < 9 ? " " : "\n");
  os << "  loss = -log p_y = " << fmt(o.loss[0], 5) << "\n"
     << "mean over the " << n_test << " test images: " << fmt(o.mean_loss, 5)
     << "   (the trainer's test loss: " << fmt(last.test_loss, 5) << ")\n"
     << "largest |-log softmax(z)_y - cross_entropy| over the test set: " << fmt(o.max_dev, 3);
  nb.output(os.str());
  return o;
}

// ---- 4. The confusion matrix --------------------------------------------------------------------

// The table and chart of the confusion matrix; returns its diagonal sum (the correct answers).
std::int64_t the_confusion_matrix(demo::Notebook& nb, const Trainer& t, const TestOutputs& o) {
  nb.markdown(
      "## 4. The confusion matrix\n\n"
      "Row = the true digit, column = the predicted digit; cell (r, c) counts the test images of digit "
      "r the model called c. The diagonal holds the correct answers, so its sum divided by N is the "
      "accuracy; every off-diagonal cell is a kind of mistake. The last column is each digit's recall "
      "(the diagonal cell over its row's sum).");
  const std::int64_t n_test = t.test_set().n;
  std::vector<std::int64_t> cm(100, 0);
  for (std::int64_t i = 0; i < n_test; ++i) ++cm[t.test_set().labels[i] * 10 + o.pred[i]];
  std::int64_t diag = 0;
  for (int k = 0; k < 10; ++k) diag += cm[k * 10 + k];
  const std::vector<std::string>& names = nb.dataset().class_names;  // what a person calls class k
  demo::Table cmt;
  cmt.header = {"true \\ predicted"};
  for (int k = 0; k < 10; ++k) cmt.header.push_back(names[k]);
  cmt.header.push_back("recall");
  std::vector<double> cmv(100);
  std::pair<int, int> worst_pair{0, 1};
  for (int r = 0; r < 10; ++r) {
    std::vector<std::string> cells{"**" + names[r] + "**"};
    std::int64_t row_sum = 0;
    for (int c = 0; c < 10; ++c) {
      const std::int64_t v = cm[r * 10 + c];
      row_sum += v;
      cmv[r * 10 + c] = static_cast<double>(v);
      cells.push_back(r == c ? "**" + std::to_string(v) + "**" : (v ? std::to_string(v) : "."));
      if (r != c && v > cm[worst_pair.first * 10 + worst_pair.second]) worst_pair = {r, c};
    }
    cells.push_back(row_sum ? fmt(static_cast<double>(cm[r * 10 + r]) / row_sum, 3) : "-");
    cmt.row(cells);
  }
  nb.table(cmt);
  plot::matrix(nb.figure_path("confusion"), cmv, 10, 10,
               plot::axes("Confusion matrix, " + std::to_string(n_test) + " test images", "predicted digit", "true digit")
                   .with_size(600, 560),
               names, names);
  nb.figure("confusion",
            "The same counts as a picture: the bright diagonal is the correct answers; the few lit "
            "off-diagonal cells are the mistakes the model makes most (here most often a " +
                names[worst_pair.first] + " called a " + names[worst_pair.second] + ", " +
                std::to_string(cm[worst_pair.first * 10 + worst_pair.second]) + " times).");
  return diag;
}

// ---- 5. The digits the model gets most wrong ----------------------------------------------------

void digits_the_model_gets_most_wrong(demo::Notebook& nb, const Trainer& t, const TestOutputs& o) {
  nb.markdown(
      "## 5. The digits the model gets most wrong\n\n"
      "Sorting the test images by their loss -log p_y, highest first, is the same as sorting by the "
      "probability the model gives the true class, lowest first. These are the images the model is "
      "most confidently wrong about. Some are badly written or ambiguous; others are clear to a person "
      "but drawn thicker, slanted or shifted, which an MLP, weighing each pixel position separately, "
      "handles badly (demo 05's convolutions look for strokes wherever they are).");
  const auto& ts = t.test_set();
  const std::vector<std::int64_t>& yv = ts.labels;
  const std::vector<std::string>& names = nb.dataset().class_names;
  std::vector<std::int64_t> order(static_cast<std::size_t>(ts.n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return o.loss[a] > o.loss[b]; });
  const int n_show = static_cast<int>(std::min<std::int64_t>(12, ts.n));
  std::vector<std::vector<float>> imgs;
  std::vector<std::string> titles;
  demo::Table worst{{"rank", "test index", "true", "predicted", "p(true)", "p(predicted)", "loss"}, {}};
  const std::int64_t px = ts.rows * ts.cols;
  for (int r = 0; r < n_show; ++r) {
    const std::int64_t i = order[r];
    std::vector<float> img(static_cast<std::size_t>(px));
    for (std::int64_t q = 0; q < px; ++q) img[q] = ts.images[i * px + q] / 255.0f;
    imgs.push_back(std::move(img));
    const double p_true = o.p[i * 10 + yv[i]];
    titles.push_back("true " + names[yv[i]] + " / pred " + names[o.pred[i]] + " (p=" + sig2(p_true) + ")");
    worst.row({std::to_string(r + 1), std::to_string(i), names[yv[i]], names[o.pred[i]], fmt(p_true, 4),
               fmt(o.p[i * 10 + o.pred[i]], 4), fmt(o.loss[i], 3)});
  }
  plot::image_grid(nb.figure_path("worst"), imgs, static_cast<int>(ts.rows), static_cast<int>(ts.cols), 4,
                   plot::axes("The " + std::to_string(n_show) + " test digits with the highest loss", "", "")
                       .with_size(640, 560),
                   titles, /*shared_scale=*/true);
  nb.figure("worst",
            "The test images with the highest loss; p is the probability the model gives the TRUE class, "
            "and 'pred' is the digit it chose instead. Which of them would a person also misread, and "
            "which are clear digits the model gets wrong?");
  nb.table(worst);
}

// ---- The claims ---------------------------------------------------------------------------------

void the_claims(demo::Notebook& nb, const Trainer& t, const Curves& c, const TestOutputs& o, std::int64_t diag) {
  const std::int64_t n_test = t.test_set().n;
  const double acc = c.last.test_accuracy;
  const double threshold = nb.quick() ? 0.85 : 0.9;
  nb.result("test_accuracy", acc);
  nb.result("test_loss", c.last.test_loss);
  nb.result("train_loss_first_epoch", c.train_loss.front());
  nb.result("train_loss_last_epoch", c.train_loss.back());
  nb.result("train_accuracy", c.train_acc.back());
  nb.result("confusion_diagonal", static_cast<double>(diag));
  nb.result("test_images", static_cast<double>(n_test));
  nb.result("mean_cross_entropy_by_hand", o.mean_loss);
  nb.check(acc > threshold, "the MLP's test accuracy is above " + fmt(threshold, 2),
           "measured " + fmt(acc, 4) + " on " + std::to_string(n_test) + " test images after " +
               std::to_string(t.config().epochs) + " epochs");
  const double acc_n = acc * static_cast<double>(n_test);
  nb.check(static_cast<double>(diag) == std::round(acc_n) && std::fabs(acc_n - std::round(acc_n)) < 1e-6,
           "the confusion matrix's diagonal sum equals accuracy x N exactly",
           "diagonal " + std::to_string(diag) + ", accuracy x N = " + fmt(acc_n, 6));
  nb.check(std::fabs(o.mean_loss - c.last.test_loss) < 1e-4 && o.max_dev < 1e-4,
           "cross-entropy computed here from the logits agrees with the trainer's test loss (to 1e-4)",
           "here " + fmt(o.mean_loss, 6) + ", trainer " + fmt(c.last.test_loss, 6) + "; -log softmax vs fused op: " +
               fmt(o.max_dev, 3));
}

}  // namespace

int main(int argc, char** argv) {
  demo::Notebook nb("04", "An MLP classifier with softmax cross-entropy");
  int epochs = 0;  // 0: the mode's default (12, or 4 with --quick)
  nb.cli().add_option("--epochs", epochs, "training epochs (0: 12, or 4 with --quick)");
  if (auto code = nb.parse(argc, argv)) return *code;

  Trainer t(model_and_loss(nb, epochs));
  show_model(nb, t);
  const Curves curves = training_epoch_by_epoch(nb, t);
  const TestOutputs outputs = logits_probabilities_and_losses(nb, t, curves.last);
  const std::int64_t diagonal = the_confusion_matrix(nb, t, outputs);
  digits_the_model_gets_most_wrong(nb, t, outputs);
  the_claims(nb, t, curves, outputs, diagonal);
  return nb.finish();
}
