// demos/05_small_cnn.cpp — a small convolutional network on MNIST, read top to bottom like a
// notebook.
//
//   build/demo_05_small_cnn [--quick] [--out DIR] [--data DIR] [--threads N] [--seed N]
//
// 1. what a convolution computes, on one 5x5 patch of a real digit, and how im2col turns all
// patches into one matrix product; 2. every tensor's shape, layer by layer; 3. the CNN and
// the MLP of demo 04 trained side by side; 4. the first layer's filters, before and after
// training, and what they respond to. Claims: the patch dot product is conv2d's output, and
// the CNN ends with a higher test accuracy than the MLP.
#include <chalk.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "demos/notebook.h"
#include "plot/plot.h"

using namespace chalk;
using chalk::demo::fmt;

namespace {

// A 5x5 block of numbers, one row per line, for the report.
std::string grid5(const std::vector<double>& v, int digits) {
  std::ostringstream os;
  for (int p = 0; p < 5; ++p) {
    for (int q = 0; q < 5; ++q) {
      std::string s = fmt(v[p * 5 + q], digits);
      os << std::string(s.size() < 7 ? 7 - s.size() : 0, ' ') << s << (q < 4 ? " " : "\n");
    }
  }
  return os.str();
}

// A small difference in scientific notation ("0" when exactly zero): 5.50e-09.
std::string sci(double v) {
  if (v == 0) return "0 (bit for bit)";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

// The 16 channels of a [1, 16, H, W] or [16, 1, H, W] tensor as 16 images of H x W.
std::vector<std::vector<float>> channels(const Tensor& x) {
  const std::int64_t c = x.shape()[0] * x.shape()[1], hw = x.shape()[2] * x.shape()[3];
  const std::vector<float> v = x.to_vector<float>();
  std::vector<std::vector<float>> out;
  for (std::int64_t k = 0; k < c; ++k) out.emplace_back(v.begin() + k * hw, v.begin() + (k + 1) * hw);
  return out;
}

// The first layer of a SmallCNN: Conv2d(1 -> 16, 5x5, padding 2).
nn::Conv2d& first_conv(Trainer& cnn) {
  return dynamic_cast<nn::Conv2d&>(*(*dynamic_cast<nn::SmallCNN&>(cnn.model()).net)[0]);
}

// ---- 1. What a convolution computes -----------------------------------------------------------

// Test image 0 (1 x 1 x 28 x 28, normalised) and the patch of section 1: the output position
// whose 5 x 5 window holds the most ink, that window, filter 0 and their dot product.
struct Patch {
  Tensor x;                      // the image
  std::vector<float> xv;         // its pixels
  std::int64_t bi = 14, bj = 14; // the output position
  std::vector<double> patch, filt;
  double dot = 0;                // b[0] + sum filt * patch, by hand
  Tensor y;                      // conv2d(x, w, b, 1, 2): 1 x 16 x 28 x 28
  double y_lib = 0;              // y[0, 0, bi, bj]
  double pixel(std::int64_t r, std::int64_t c) const {  // zero padding
    return (r < 0 || r >= 28 || c < 0 || c >= 28) ? 0.0 : xv[r * 28 + c];
  }
};

Patch one_patch_one_output(demo::Notebook& nb, Trainer& cnn) {
  nb.markdown(
      "## 1. What a convolution computes\n\n"
      "The first layer, `Conv2d(1 -> 16, 5x5, padding 2)`, slides each of its 16 filters (5 x 5 weights "
      "w_o and a bias b_o) over the image. Output (o, i, j) is one dot product, of the filter with the "
      "5 x 5 patch of input centred on pixel (i, j) (zeros beyond the border: the padding):\n\n"
      "    y[o, i, j] = b[o] + sum_{p,q} w[o, 0, p, q] * x[0, i + p - 2, j + q - 2]     (ops/conv.h)\n\n"
      "Below: a test digit, the patch with the most ink, and filter 0 as initialised (uniform random, "
      "PyTorch's default); the dot product is computed by hand and compared with `conv2d`'s output.");
  const nn::Conv2d& conv1 = first_conv(cnn);
  Patch P;
  P.x = make_image_batch(cnn.test_set(), {0});
  P.xv = P.x.to_vector<float>();
  double best = -1;  // the output position whose patch holds the most ink (raw pixels > 0)
  for (std::int64_t i = 0; i < 28; ++i)
    for (std::int64_t j = 0; j < 28; ++j) {
      double ink = 0;
      for (int p = 0; p < 5; ++p)
        for (int q = 0; q < 5; ++q) ink += P.pixel(i + p - 2, j + q - 2) * kMnistStd + kMnistMean;
      if (ink > best + 1e-9) best = ink, P.bi = i, P.bj = j;
    }
  const int o = 0;
  P.patch.resize(25);
  P.filt.resize(25);
  for (int p = 0; p < 5; ++p)
    for (int q = 0; q < 5; ++q) {
      P.patch[p * 5 + q] = P.pixel(P.bi + p - 2, P.bj + q - 2);
      P.filt[p * 5 + q] = conv1.weight.at({o, 0, p, q});
    }
  P.dot = conv1.bias.at({o});
  for (int k = 0; k < 25; ++k) P.dot += P.filt[k] * P.patch[k];
  P.y = conv2d(P.x, conv1.weight.detach(), conv1.bias.detach(), 1, 2);
  P.y_lib = P.y.at({0, o, P.bi, P.bj});
  std::ostringstream os;
  os << "test image 0 (label " << cnn.test_set().labels[0] << "), output position (i, j) = (" << P.bi << ", " << P.bj
     << "), filter o = " << o << "\n\n"
     << "the patch x[0, i-2..i+2, j-2..j+2] (normalised pixels: (v/255 - 0.1307) / 0.3081):\n"
     << grid5(P.patch, 2) << "\nthe filter w[0, 0, :, :]:\n"
     << grid5(P.filt, 3) << "\nbias b[0] = " << fmt(conv1.bias.at({o}), 5) << "\n\n"
     << "by hand:  b[0] + sum_{p,q} w[0,0,p,q] * patch[p,q] = " << fmt(P.dot, 7) << "\n"
     << "conv2d:   y[0, 0, " << P.bi << ", " << P.bj << "]                 = " << fmt(P.y_lib, 7) << "\n"
     << "difference: " << sci(std::fabs(P.dot - P.y_lib));
  nb.output(os.str());
  return P;
}

// The figures of section 1: the patch, the filter and their product; where the patch lies.
void patch_figures(demo::Notebook& nb, const Patch& P) {
  std::vector<std::vector<float>> show(3);
  for (int k = 0; k < 25; ++k) {
    show[0].push_back(static_cast<float>(P.patch[k]));
    show[1].push_back(static_cast<float>(P.filt[k]));
    show[2].push_back(static_cast<float>(P.patch[k] * P.filt[k]));
  }
  plot::image_grid(nb.figure_path("patch"), show, 5, 5, 3,
                   plot::axes("One output number of conv1, piece by piece", "", "").with_size(600, 260),
                   {"patch x", "filter w", "x * w (sum + b = y)"});
  nb.figure("patch",
            "The 5 x 5 patch of the digit, the filter, and their element-wise product, each on its own "
            "grey scale (black = lowest, white = highest value). Adding the 25 products and the bias "
            "gives the one output number printed above.");
  std::vector<float> where(784);
  for (std::int64_t r = 0; r < 28; ++r)
    for (std::int64_t c = 0; c < 28; ++c) {
      const bool in = std::abs(r - P.bi) <= 2 && std::abs(c - P.bj) <= 2;
      const float v = static_cast<float>(P.pixel(r, c) * kMnistStd + kMnistMean);  // back to [0, 1]
      where[r * 28 + c] = in ? v : 0.35f * v;
    }
  plot::image_grid(nb.figure_path("patch_where"), {where}, 28, 28, 1,
                   plot::axes("Test image 0; the 5 x 5 window at (" + std::to_string(P.bi) + ", " +
                                  std::to_string(P.bj) + ")", "", "")
                       .with_size(360, 400));
  nb.figure("patch_where", "Where the patch comes from: the window at full brightness, the rest of the digit dimmed.");
}

// How far im2col by hand + one matmul is from conv2d: over every output, and the chosen patch's column.
struct Im2colCheck {
  double gemm_diff = 0, col_vs_patch = 0;
};

Im2colCheck im2col_all_patches_at_once(demo::Notebook& nb, Trainer& cnn, const Patch& P) {
  nb.markdown(
      "### im2col: all patches at once, as one matrix product\n\n"
      "Computing 16 x 28 x 28 dot products one at a time is slow. `conv2d` (ops/conv.cpp) first copies "
      "every patch into a column of a matrix, *im2col*: row (c, p, q) = c*25 + p*5 + q, column i*28 + j, "
      "so the column matrix is (C*5*5) x (28*28) = 25 x 784 here. The filters, reshaped to 16 x 25, then "
      "multiply it in ONE GEMM (BLAS): (16 x 25)(25 x 784) = 16 x 784, which is y reshaped. Below the "
      "demo builds the column matrix itself, by hand, and compares the product with `conv2d`.");
  const nn::Conv2d& conv1 = first_conv(cnn);
  std::vector<float> colv(25 * 784);
  for (int p = 0; p < 5; ++p)
    for (int q = 0; q < 5; ++q)
      for (std::int64_t i = 0; i < 28; ++i)
        for (std::int64_t j = 0; j < 28; ++j)
          colv[(p * 5 + q) * 784 + i * 28 + j] = static_cast<float>(P.pixel(i + p - 2, j + q - 2));
  const Tensor cols = from_vector(colv, {25, 784});
  const Tensor w2 = conv1.weight.detach().reshape({16, 25});
  const Tensor y_gemm = matmul(w2, cols) + conv1.bias.detach().reshape({16, 1});  // 16 x 784
  Im2colCheck r;
  r.gemm_diff = max(abs(y_gemm - P.y.reshape({16, 784}))).item();
  const std::int64_t column = P.bi * 28 + P.bj;  // the chosen patch's column
  for (int k = 0; k < 25; ++k) r.col_vs_patch = std::max(r.col_vs_patch, std::fabs(colv[k * 784 + column] - P.patch[k]));
  nb.code(
      "Tensor cols   = from_vector(colv, {25, 784});          // colv[(p*5+q)*784 + i*28+j] = x[i+p-2, j+q-2]\n"
      "Tensor y_gemm = matmul(w.reshape({16, 25}), cols) + b.reshape({16, 1});   // 16 x 784\n"
      "max(abs(y_gemm - conv2d(x, w, b, 1, 2).reshape({16, 784})))");
  nb.output("column matrix: " + shape_str(cols.shape()) + "; product: " + shape_str(y_gemm.shape()) + "\ncolumn " +
            std::to_string(column) + " is the patch above (largest difference " + sci(r.col_vs_patch) +
            ")\nlargest |y_gemm - conv2d| over all 16 x 784 outputs: " + sci(r.gemm_diff));
  return r;
}

// ---- 2. Every tensor's shape, layer by layer ----------------------------------------------------

// Multiply-adds per image: the CNN's, its second convolution's, the MLP's.
struct Macs {
  std::int64_t cnn = 0, conv2 = 0, mlp = 0;
};

// The table of section 2; fills the CNN's multiply-adds.
Macs every_tensors_shape(demo::Notebook& nb, Trainer& cnn) {
  nb.markdown(
      "## 2. Every tensor's shape, layer by layer\n\n"
      "A batch of 2 test images goes through `SmallCNN`'s layers (nn/models.h) one at a time. The "
      "5 x 5 convolutions with padding 2 keep the height and width; each 2 x 2 max-pool halves them "
      "(ReLU and pool run as one op, `relu_max_pool2d`); Flatten turns 32 maps of 7 x 7 into 1,568 "
      "numbers per image for the linear layers. The parameter count is each layer's weights and biases.");
  const auto& net = *dynamic_cast<nn::SmallCNN&>(cnn.model()).net;
  demo::Table shapes{{"layer", "module", "output shape", "parameters", "multiply-adds per image"}, {}};
  std::int64_t param_sum = 0;
  Macs m;
  NoGradGuard no_grad;
  Tensor h = make_image_batch(cnn.test_set(), {0, 1});
  shapes.row({"input", "2 test images", shape_str(h.shape()), "0", "0"});
  for (std::size_t k = 0; k < net.size(); ++k) {
    const auto& layer = net[k];
    h = layer->forward(h);
    param_sum += layer->num_parameters();
    // multiply-adds: a convolution does one C x K x K dot product per output element, a
    // linear layer one `in`-long dot product per output (max, ReLU, reshape: none)
    std::int64_t macs = 0;
    if (const auto* conv = dynamic_cast<const nn::Conv2d*>(layer.get()))
      macs = h.numel() / h.shape()[0] * conv->in_channels * conv->kernel_size * conv->kernel_size;
    else if (const auto* lin = dynamic_cast<const nn::Linear*>(layer.get()))
      macs = lin->in_features * lin->out_features;
    if (k == 2) m.conv2 = macs;
    m.cnn += macs;
    shapes.row({"net." + std::to_string(k), layer->name(), shape_str(h.shape()),
                std::to_string(layer->num_parameters()), std::to_string(macs)});
  }
  shapes.row({"", "**total**", "", "**" + std::to_string(param_sum) + "**", "**" + std::to_string(m.cnn) + "**"});
  nb.table(shapes);
  return m;
}

// The paragraph under the table: parameters and multiply-adds of the CNN against the MLP's.
void parameters_against_the_mlp(demo::Notebook& nb, Trainer& cnn, Trainer& mlp, Macs& m) {
  const auto& mlp_net = *dynamic_cast<nn::MLP&>(mlp.model()).net;  // 784 x 256 + 256 x 128 + 128 x 10
  for (std::size_t k = 0; k < mlp_net.size(); ++k)
    if (const auto* lin = dynamic_cast<const nn::Linear*>(mlp_net[k].get())) m.mlp += lin->in_features * lin->out_features;
  const auto& net = *dynamic_cast<nn::SmallCNN&>(cnn.model()).net;
  nb.markdown("The CNN has " + std::to_string(cnn.model().num_parameters()) + " parameters, the MLP of demo 04 " +
              std::to_string(mlp.model().num_parameters()) + ": about as many. " +
              fmt(100.0 * net[5]->num_parameters() / cnn.model().num_parameters(), 1) +
              "% of the CNN's sit in the first linear layer (1568 -> 128); the two "
              "convolutions, which do the seeing, hold only " +
              std::to_string(net[0]->num_parameters() + net[2]->num_parameters()) +
              ". A convolution reuses its few weights at every position of the image: the same stroke "
              "detector works wherever the stroke is. That reuse is also its cost: per image the CNN does " +
              std::to_string(m.cnn) + " multiply-adds, " + fmt(static_cast<double>(m.cnn) / m.mlp, 1) +
              " times the MLP's " + std::to_string(m.mlp) + " (784 x 256 + 256 x 128 + 128 x 10), " +
              fmt(100.0 * m.conv2 / m.cnn, 0) + "% of them in the second convolution.");
}

// ---- 3. The CNN against the MLP -----------------------------------------------------------------

struct Race {
  std::vector<double> epoch, cnn_acc, mlp_acc, cnn_loss, mlp_loss;
  double cnn_secs = 0, mlp_secs = 0;  // training time, summed over the epochs
};

// Both models trained epoch by epoch, taking turns; the table.
Race train_side_by_side(demo::Notebook& nb, Trainer& cnn, Trainer& mlp) {
  const TrainConfig& cfg = cnn.config();
  nb.markdown(
      "## 3. The CNN against the MLP\n\n"
      "Both models are trained here with the same settings: softmax cross-entropy, " +
      demo::optimizer_words(cfg) + ", batches of " + std::to_string(cfg.batch_size) + ", the same " +
      std::to_string(cnn.train_set().n) + " training images in the same order (seed " + std::to_string(nb.seed()) +
      "), " + std::to_string(cfg.epochs) + " epochs.");
  Race r;
  demo::Table curve{{"epoch", "CNN test loss", "CNN test accuracy", "MLP test loss", "MLP test accuracy",
                     "CNN training s", "MLP training s"},
                    {}};
  const auto timed_epoch = [](Trainer& t, int e) {
    const auto t0 = std::chrono::steady_clock::now();
    t.train_epoch(e);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  for (int e = 0; e < cfg.epochs; ++e) {
    const double cs = timed_epoch(cnn, e);
    const EpochMetrics mc = cnn.evaluate(e);
    const double ms = timed_epoch(mlp, e);
    const EpochMetrics mm = mlp.evaluate(e);
    r.epoch.push_back(e + 1);
    r.cnn_acc.push_back(mc.test_accuracy);
    r.mlp_acc.push_back(mm.test_accuracy);
    r.cnn_loss.push_back(mc.test_loss);
    r.mlp_loss.push_back(mm.test_loss);
    r.cnn_secs += cs;
    r.mlp_secs += ms;
    curve.row({std::to_string(e + 1), fmt(mc.test_loss), fmt(mc.test_accuracy), fmt(mm.test_loss),
               fmt(mm.test_accuracy), fmt(cs, 2), fmt(ms, 2)});
  }
  nb.table(curve);
  return r;
}

// The two charts of section 3 and what they cost.
void the_cnn_against_the_mlp(demo::Notebook& nb, const Race& r, const Macs& m) {
  const int epochs = static_cast<int>(r.epoch.size());
  plot::lines(nb.figure_path("accuracy"), {{"SmallCNN", r.epoch, r.cnn_acc}, {"MLP", r.epoch, r.mlp_acc, false, true}},
              plot::axes("Test accuracy, same data and settings", "epoch", "test accuracy"));
  // from which epoch on is the CNN ahead (in accuracy; in loss)?
  const auto ahead_from = [&](const std::vector<double>& a, const std::vector<double>& b, bool higher) {
    int from = epochs + 1;  // epoch (1-based) from which a beats b at every later epoch
    for (int e = epochs - 1; e >= 0 && (higher ? a[e] > b[e] : a[e] < b[e]); --e) from = e + 1;
    return from;
  };
  const auto from_text = [&](int from) {
    return from == 1 ? std::string("at every epoch")
                     : from <= epochs ? "from epoch " + std::to_string(from) + " on" : std::string("at no epoch's end");
  };
  nb.figure("accuracy",
            "Test accuracy after each epoch. The CNN (solid) is above the MLP (dashed) " +
                from_text(ahead_from(r.cnn_acc, r.mlp_acc, true)) +
                ": with about as many parameters it makes fewer mistakes, because its convolutions look for "
                "local strokes wherever they are, where the MLP's first layer weighs fixed pixels.");
  plot::lines(nb.figure_path("loss"), {{"SmallCNN", r.epoch, r.cnn_loss}, {"MLP", r.epoch, r.mlp_loss, false, true}},
              plot::axes("Test loss, same data and settings", "epoch", "test cross-entropy (nats)"));
  nb.figure("loss", "Test cross-entropy after each epoch: the CNN's is lower " +
                        from_text(ahead_from(r.cnn_loss, r.mlp_loss, false)) + ".");
  nb.markdown("The price: the CNN's epoch took " + fmt(r.cnn_secs / epochs, 2) + " s on average here, the MLP's " +
              fmt(r.mlp_secs / epochs, 2) + " s, " + fmt(r.cnn_secs / std::max(r.mlp_secs, 1e-9), 1) +
              " times as long. Both pay for the multiply-adds of section 2 three times per image (the forward "
              "pass; in the backward pass, the gradient of each layer's input and of its weight), so compare "
              "this with their ratio of multiply-adds, " + fmt(static_cast<double>(m.cnn) / m.mlp, 1) + ".");
}

// ---- 4. The first layer's filters ---------------------------------------------------------------

// The filters before and after training, their change, and the learned layer's feature maps of
// section 1's digit. Returns ||W - W0|| / ||W0||.
double the_first_layers_filters(demo::Notebook& nb, Trainer& cnn, const Tensor& conv1_init, const Tensor& x) {
  const nn::Conv2d& conv1 = first_conv(cnn);
  const Tensor w_learned = conv1.weight.detach();
  const Tensor w_change = w_learned - conv1_init;
  const double rel_change = l2_norm(w_change.reshape({-1})).item() / l2_norm(conv1_init.reshape({-1})).item();
  nb.markdown(
      "## 4. The first layer's filters\n\n"
      "conv1's weight is 16 x 1 x 5 x 5: sixteen 5 x 5 images, drawn below before and after training, "
      "each on its own grey scale (black = its most negative weight, white = its most positive). "
      "Training moved them by ||W - W0|| / ||W0|| = " + fmt(rel_change, 2) +
      ", yet the learned filters still carry their random start: what training adds is a smooth "
      "pattern on top of the initial noise. The change alone, W - W0, shows what was learned: light "
      "next to dark (an edge of some direction), or a bar (a stroke).");
  nb.code("double rel_change = l2_norm(W - W0) / l2_norm(W0);   // over all 400 weights");
  std::vector<std::string> ftitles;
  for (int k = 0; k < 16; ++k) ftitles.push_back("filter " + std::to_string(k));
  const auto filters = [&](const std::string& name, const Tensor& w, const std::string& title, const std::string& caption) {
    plot::image_grid(nb.figure_path(name), channels(w), 5, 5, 8, plot::axes(title, "", "").with_size(640, 300), ftitles);
    nb.figure(name, caption);
  };
  filters("filters_init", conv1_init, "conv1 filters W0 before training",
          "The 16 filters as initialised: uniform random numbers, no structure.");
  filters("filters_learned", w_learned, "conv1 filters W after " + std::to_string(cnn.config().epochs) + " epochs",
          "The same 16 filters after training. Compare each with its twin above: the initial noise is "
          "still there, with smooth light and dark regions laid over it.");
  filters("filters_change", w_change, "What training added: W - W0",
          "The change of each filter during training, W - W0: smooth, unlike the noise it was added to. "
          "A light half next to a dark half makes the filter respond to an edge in that direction; a "
          "light or dark bar, to a stroke. Neighbouring pixels of handwritten strokes are correlated, "
          "and so are the gradients that built these patterns.");
  Tensor maps;
  {
    NoGradGuard no_grad;
    maps = relu(conv2d(x, conv1.weight.detach(), conv1.bias.detach(), 1, 2));  // 1 x 16 x 28 x 28
  }
  plot::image_grid(nb.figure_path("feature_maps"), channels(maps), 28, 28, 8,
                   plot::axes("What the learned filters respond to: relu(conv1(x)) for test image 0", "", "")
                       .with_size(720, 400),
                   ftitles);
  nb.figure("feature_maps",
            "The 16 output maps of the trained first layer (after ReLU) for the digit of section 1, each on "
            "its own grey scale: each map is bright where its filter matches the image. Some light up along "
            "one side of the strokes (an edge detector), some on strokes of one direction, some on the "
            "background. The second convolution combines these 16 maps.");
  return rel_change;
}

// ---- The claims ---------------------------------------------------------------------------------

void the_claims(demo::Notebook& nb, Trainer& cnn, Trainer& mlp, const Patch& P, const Im2colCheck& ic,
                const Race& r) {
  const int epochs = cnn.config().epochs;
  const double acc_cnn = r.cnn_acc.back(), acc_mlp = r.mlp_acc.back();
  const double patch_diff = std::fabs(P.dot - P.y_lib);
  nb.result("patch_dot_by_hand", P.dot);
  nb.result("patch_conv2d", P.y_lib);
  nb.result("patch_abs_difference", patch_diff);
  nb.result("im2col_gemm_max_abs_difference", ic.gemm_diff);
  nb.result("cnn_parameters", static_cast<double>(cnn.model().num_parameters()));
  nb.result("mlp_parameters", static_cast<double>(mlp.model().num_parameters()));
  nb.result("cnn_test_accuracy", acc_cnn);
  nb.result("mlp_test_accuracy", acc_mlp);
  nb.result("cnn_seconds_per_epoch", r.cnn_secs / epochs);
  nb.result("mlp_seconds_per_epoch", r.mlp_secs / epochs);
  nb.check(patch_diff < 1e-5, "the hand-computed patch dot product equals conv2d's output element (to 1e-5)",
           "by hand " + fmt(P.dot, 7) + ", conv2d " + fmt(P.y_lib, 7));
  nb.check(ic.gemm_diff < 1e-4 && ic.col_vs_patch == 0,
           "im2col by hand + one matmul reproduces all of conv2d's 16 x 28 x 28 outputs (to 1e-4)",
           "largest difference " + sci(ic.gemm_diff));
  nb.check(acc_cnn > acc_mlp, "after training, the CNN's test accuracy is higher than the MLP's",
           "CNN " + fmt(acc_cnn, 4) + ", MLP " + fmt(acc_mlp, 4) + " after " + std::to_string(epochs) +
               " epochs on " + std::to_string(cnn.train_set().n) + " images");
}

}  // namespace

int main(int argc, char** argv) {
  demo::Notebook nb("05", "A small CNN: convolution, shapes, filters, and the MLP beaten");
  int epochs = 0;  // 0: the mode's default
  int batch_size = 0;  // 0: the mode's default
  nb.cli().add_option("--epochs", epochs, "training epochs of each model (0: 8, or 3 with --quick)");
  nb.cli().add_option("--batch-size", batch_size, "batch size of both models (0: 128, or 32 with --quick)");
  if (auto code = nb.parse(argc, argv)) return *code;

  // Both models: softmax cross-entropy with the same settings and data, the CNN built first.
  TrainConfig cfg = nb.softmax_config(epochs > 0 ? epochs : (nb.quick() ? 3 : 8), /*quick_limit=*/2000);
  cfg.batch_size = batch_size > 0 ? batch_size : (nb.quick() ? 32 : 128);
  TrainConfig cnn_cfg = cfg, mlp_cfg = cfg;
  cnn_cfg.model = "cnn";
  mlp_cfg.model = "mlp";
  Trainer cnn(cnn_cfg);
  const Tensor conv1_init = first_conv(cnn).weight.detach().clone();  // the filters before training

  const Patch patch = one_patch_one_output(nb, cnn);
  patch_figures(nb, patch);
  const Im2colCheck im2col = im2col_all_patches_at_once(nb, cnn, patch);
  Macs macs = every_tensors_shape(nb, cnn);
  Trainer mlp(mlp_cfg);
  parameters_against_the_mlp(nb, cnn, mlp, macs);
  const Race race = train_side_by_side(nb, cnn, mlp);
  the_cnn_against_the_mlp(nb, race, macs);
  nb.result("conv1_relative_change", the_first_layers_filters(nb, cnn, conv1_init, patch.x));
  the_claims(nb, cnn, mlp, patch, im2col, race);
  return nb.finish();
}
