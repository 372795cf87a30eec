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

// Chart title, axis labels and size (plot::Axes, field by field).
plot::Axes axes(const std::string& title, const std::string& xlabel, const std::string& ylabel, int width = 600,
                int height = 450) {
  plot::Axes a;
  a.title = title;
  a.xlabel = xlabel;
  a.ylabel = ylabel;
  a.width = width;
  a.height = height;
  return a;
}

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

}  // namespace

int main(int argc, char** argv) {
  demo::Notebook nb("05", "A small CNN: convolution, shapes, filters, and the MLP beaten");
  int epochs = 0;  // 0: the mode's default
  int batch_size = 0;  // 0: the mode's default
  nb.cli().add_option("--epochs", epochs, "training epochs of each model (0: 8, or 3 with --quick)");
  nb.cli().add_option("--batch-size", batch_size, "batch size of both models (0: 128, or 32 with --quick)");
  if (auto code = nb.parse(argc, argv)) return *code;

  TrainConfig cfg = nb.softmax_config(epochs > 0 ? epochs : (nb.quick() ? 3 : 8), /*quick_limit=*/2000);
  cfg.batch_size = batch_size > 0 ? batch_size : (nb.quick() ? 32 : 128);
  TrainConfig cnn_cfg = cfg;
  cnn_cfg.model = "cnn";
  Trainer cnn(cnn_cfg);
  auto& model = dynamic_cast<nn::SmallCNN&>(cnn.model());
  auto& conv1 = dynamic_cast<nn::Conv2d&>(*(*model.net)[0]);
  const Tensor conv1_init = conv1.weight.detach().clone();  // the filters before training

  // ---- 1. One patch, one output number ----------------------------------------------------
  nb.markdown(
      "## 1. What a convolution computes\n\n"
      "The first layer, `Conv2d(1 -> 16, 5x5, padding 2)`, slides each of its 16 filters (5 x 5 weights "
      "w_o and a bias b_o) over the image. Output (o, i, j) is one dot product, of the filter with the "
      "5 x 5 patch of input centred on pixel (i, j) (zeros beyond the border: the padding):\n\n"
      "    y[o, i, j] = b[o] + sum_{p,q} w[o, 0, p, q] * x[0, i + p - 2, j + q - 2]     (ops/conv.h)\n\n"
      "Below: a test digit, the patch with the most ink, and filter 0 as initialised (uniform random, "
      "PyTorch's default); the dot product is computed by hand and compared with `conv2d`'s output.");
  const Tensor x = make_image_batch(cnn.test_set(), {0});  // 1 x 1 x 28 x 28, normalised
  const std::vector<float> xv = x.to_vector<float>();
  const auto pixel = [&](std::int64_t r, std::int64_t c) -> double {  // zero padding
    return (r < 0 || r >= 28 || c < 0 || c >= 28) ? 0.0 : xv[r * 28 + c];
  };
  // the output position whose patch holds the most ink (raw pixels > 0)
  std::int64_t bi = 14, bj = 14;
  double best = -1;
  for (std::int64_t i = 0; i < 28; ++i)
    for (std::int64_t j = 0; j < 28; ++j) {
      double ink = 0;
      for (int p = 0; p < 5; ++p)
        for (int q = 0; q < 5; ++q) ink += pixel(i + p - 2, j + q - 2) * kMnistStd + kMnistMean;
      if (ink > best + 1e-9) best = ink, bi = i, bj = j;
    }
  const int o = 0;
  std::vector<double> patch(25), filt(25);
  for (int p = 0; p < 5; ++p)
    for (int q = 0; q < 5; ++q) {
      patch[p * 5 + q] = pixel(bi + p - 2, bj + q - 2);
      filt[p * 5 + q] = conv1.weight.at({o, 0, p, q});
    }
  double dot = conv1.bias.at({o});
  for (int k = 0; k < 25; ++k) dot += filt[k] * patch[k];
  const Tensor y = conv2d(x, conv1.weight.detach(), conv1.bias.detach(), 1, 2);  // 1 x 16 x 28 x 28
  const double y_lib = y.at({0, o, bi, bj});
  const double patch_diff = std::fabs(dot - y_lib);
  {
    std::ostringstream os;
    os << "test image 0 (label " << cnn.test_set().labels[0] << "), output position (i, j) = (" << bi << ", " << bj
       << "), filter o = " << o << "\n\n"
       << "the patch x[0, i-2..i+2, j-2..j+2] (normalised pixels: (v/255 - 0.1307) / 0.3081):\n"
       << grid5(patch, 2) << "\nthe filter w[0, 0, :, :]:\n"
       << grid5(filt, 3) << "\nbias b[0] = " << fmt(conv1.bias.at({o}), 5) << "\n\n"
       << "by hand:  b[0] + sum_{p,q} w[0,0,p,q] * patch[p,q] = " << fmt(dot, 7) << "\n"
       << "conv2d:   y[0, 0, " << bi << ", " << bj << "]                 = " << fmt(y_lib, 7) << "\n"
       << "difference: " << sci(patch_diff);
    nb.output(os.str());
  }
  {
    std::vector<std::vector<float>> show(3);
    for (int k = 0; k < 25; ++k) {
      show[0].push_back(static_cast<float>(patch[k]));
      show[1].push_back(static_cast<float>(filt[k]));
      show[2].push_back(static_cast<float>(patch[k] * filt[k]));
    }
    plot::image_grid(nb.figure_path("patch"), show, 5, 5, 3,
                     axes("One output number of conv1, piece by piece", "", "", 600, 260),
                     {"patch x", "filter w", "x * w (sum + b = y)"});
    nb.figure("patch",
              "The 5 x 5 patch of the digit, the filter, and their element-wise product, each on its own "
              "grey scale (black = lowest, white = highest value). Adding the 25 products and the bias "
              "gives the one output number printed above.");
  }

  {
    std::vector<float> where(784);
    for (std::int64_t r = 0; r < 28; ++r)
      for (std::int64_t c = 0; c < 28; ++c) {
        const bool in = std::abs(r - bi) <= 2 && std::abs(c - bj) <= 2;
        const float v = static_cast<float>(pixel(r, c) * kMnistStd + kMnistMean);  // back to [0, 1]
        where[r * 28 + c] = in ? v : 0.35f * v;
      }
    plot::image_grid(nb.figure_path("patch_where"), {where}, 28, 28, 1,
                     axes("Test image 0; the 5 x 5 window at (" + std::to_string(bi) + ", " + std::to_string(bj) + ")",
                          "", "", 360, 400));
    nb.figure("patch_where", "Where the patch comes from: the window at full brightness, the rest of the digit dimmed.");
  }

  nb.markdown(
      "### im2col: all patches at once, as one matrix product\n\n"
      "Computing 16 x 28 x 28 dot products one at a time is slow. `conv2d` (ops/conv.cpp) first copies "
      "every patch into a column of a matrix, *im2col*: row (c, p, q) = c*25 + p*5 + q, column i*28 + j, "
      "so the column matrix is (C*5*5) x (28*28) = 25 x 784 here. The filters, reshaped to 16 x 25, then "
      "multiply it in ONE GEMM (BLAS): (16 x 25)(25 x 784) = 16 x 784, which is y reshaped. Below the "
      "demo builds the column matrix itself, by hand, and compares the product with `conv2d`.");
  std::vector<float> colv(25 * 784);
  for (int p = 0; p < 5; ++p)
    for (int q = 0; q < 5; ++q)
      for (std::int64_t i = 0; i < 28; ++i)
        for (std::int64_t j = 0; j < 28; ++j)
          colv[(p * 5 + q) * 784 + i * 28 + j] = static_cast<float>(pixel(i + p - 2, j + q - 2));
  const Tensor cols = from_vector(colv, {25, 784});
  const Tensor w2 = conv1.weight.detach().reshape({16, 25});
  const Tensor y_gemm = matmul(w2, cols) + conv1.bias.detach().reshape({16, 1});  // 16 x 784
  const double gemm_diff = max(abs(y_gemm - y.reshape({16, 784}))).item();
  double col_vs_patch = 0;  // the chosen patch is column bi*28 + bj
  for (int k = 0; k < 25; ++k) col_vs_patch = std::max(col_vs_patch, std::fabs(colv[k * 784 + bi * 28 + bj] - patch[k]));
  nb.code(
      "Tensor cols   = from_vector(colv, {25, 784});          // colv[(p*5+q)*784 + i*28+j] = x[i+p-2, j+q-2]\n"
      "Tensor y_gemm = matmul(w.reshape({16, 25}), cols) + b.reshape({16, 1});   // 16 x 784\n"
      "max(abs(y_gemm - conv2d(x, w, b, 1, 2).reshape({16, 784})))");
  nb.output("column matrix: " + shape_str(cols.shape()) + "; product: " + shape_str(y_gemm.shape()) +
            "\ncolumn " + std::to_string(bi * 28 + bj) + " is the patch above (largest difference " +
            sci(col_vs_patch) + ")\nlargest |y_gemm - conv2d| over all 16 x 784 outputs: " + sci(gemm_diff));

  // ---- 2. Shapes, layer by layer ----------------------------------------------------------
  nb.markdown(
      "## 2. Every tensor's shape, layer by layer\n\n"
      "A batch of 2 test images goes through `SmallCNN`'s layers (nn/models.h) one at a time. The "
      "5 x 5 convolutions with padding 2 keep the height and width; each 2 x 2 max-pool halves them "
      "(ReLU and pool run as one op, `relu_max_pool2d`); Flatten turns 32 maps of 7 x 7 into 1,568 "
      "numbers per image for the linear layers. The parameter count is each layer's weights and biases.");
  demo::Table shapes{{"layer", "module", "output shape", "parameters", "multiply-adds per image"}, {}};
  std::int64_t param_sum = 0, cnn_macs = 0, conv2_macs = 0;
  {
    NoGradGuard no_grad;
    Tensor h = make_image_batch(cnn.test_set(), {0, 1});
    shapes.row({"input", "2 test images", shape_str(h.shape()), "0", "0"});
    for (std::size_t k = 0; k < model.net->size(); ++k) {
      const auto& layer = (*model.net)[k];
      h = layer->forward(h);
      param_sum += layer->num_parameters();
      // multiply-adds: a convolution does one C x K x K dot product per output element, a
      // linear layer one `in`-long dot product per output (max, ReLU, reshape: none)
      std::int64_t macs = 0;
      if (const auto* conv = dynamic_cast<const nn::Conv2d*>(layer.get()))
        macs = h.numel() / h.shape()[0] * conv->in_channels * conv->kernel_size * conv->kernel_size;
      else if (const auto* lin = dynamic_cast<const nn::Linear*>(layer.get()))
        macs = lin->in_features * lin->out_features;
      if (k == 2) conv2_macs = macs;
      cnn_macs += macs;
      shapes.row({"net." + std::to_string(k), layer->name(), shape_str(h.shape()),
                  std::to_string(layer->num_parameters()), std::to_string(macs)});
    }
    shapes.row({"", "**total**", "", "**" + std::to_string(param_sum) + "**", "**" + std::to_string(cnn_macs) + "**"});
  }
  nb.table(shapes);
  TrainConfig mlp_cfg = cfg;
  mlp_cfg.model = "mlp";
  Trainer mlp(mlp_cfg);
  std::int64_t mlp_macs = 0;  // its three linear layers: 784 x 256 + 256 x 128 + 128 x 10
  {
    const auto& mlp_net = *dynamic_cast<nn::MLP&>(mlp.model()).net;
    for (std::size_t k = 0; k < mlp_net.size(); ++k)
      if (const auto* lin = dynamic_cast<const nn::Linear*>(mlp_net[k].get())) mlp_macs += lin->in_features * lin->out_features;
  }
  nb.markdown("The CNN has " + std::to_string(cnn.model().num_parameters()) + " parameters, the MLP of demo 04 " +
              std::to_string(mlp.model().num_parameters()) +
              ": about as many. " +
              fmt(100.0 * (*model.net)[5]->num_parameters() / cnn.model().num_parameters(), 1) +
              "% of the CNN's sit in the first linear layer (1568 -> 128); the two "
              "convolutions, which do the seeing, hold only " +
              std::to_string((*model.net)[0]->num_parameters() + (*model.net)[2]->num_parameters()) +
              ". A convolution reuses its few weights at every position of the image: the same stroke "
              "detector works wherever the stroke is. That reuse is also its cost: per image the CNN does " +
              std::to_string(cnn_macs) + " multiply-adds, " + fmt(static_cast<double>(cnn_macs) / mlp_macs, 1) +
              " times the MLP's " + std::to_string(mlp_macs) + " (784 x 256 + 256 x 128 + 128 x 10), " +
              fmt(100.0 * conv2_macs / cnn_macs, 0) + "% of them in the second convolution.");

  // ---- 3. Training, CNN against MLP -------------------------------------------------------
  nb.markdown(
      "## 3. The CNN against the MLP\n\n"
      "Both models are trained here with the same settings: softmax cross-entropy, SGD (momentum 0.9, "
      "learning rate 0.05, cosine schedule), batches of " + std::to_string(cfg.batch_size) + ", the same " +
      std::to_string(cnn.train_set().n) + " training images in the same order (seed " + std::to_string(nb.seed()) +
      "), " + std::to_string(cfg.epochs) + " epochs.");
  std::vector<double> ep, cnn_acc, mlp_acc, cnn_loss, mlp_loss;
  demo::Table curve{{"epoch", "CNN test loss", "CNN test accuracy", "MLP test loss", "MLP test accuracy",
                     "CNN training s", "MLP training s"},
                    {}};
  double cnn_secs = 0, mlp_secs = 0;
  for (int e = 0; e < cfg.epochs; ++e) {
    auto t0 = std::chrono::steady_clock::now();
    cnn.train_epoch(e);
    const double cs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const EpochMetrics mc = cnn.evaluate(e);
    t0 = std::chrono::steady_clock::now();
    mlp.train_epoch(e);
    const double ms = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const EpochMetrics mm = mlp.evaluate(e);
    ep.push_back(e + 1);
    cnn_acc.push_back(mc.test_accuracy);
    mlp_acc.push_back(mm.test_accuracy);
    cnn_loss.push_back(mc.test_loss);
    mlp_loss.push_back(mm.test_loss);
    cnn_secs += cs;
    mlp_secs += ms;
    curve.row({std::to_string(e + 1), fmt(mc.test_loss), fmt(mc.test_accuracy), fmt(mm.test_loss),
               fmt(mm.test_accuracy), fmt(cs, 2), fmt(ms, 2)});
  }
  nb.table(curve);
  plot::lines(nb.figure_path("accuracy"),
              {{"SmallCNN", ep, cnn_acc}, {"MLP", ep, mlp_acc, false, true}},
              axes("Test accuracy, same data and settings", "epoch", "test accuracy"));
  // from which epoch on is the CNN ahead (in accuracy; in loss)?
  const auto ahead_from = [&](const std::vector<double>& a, const std::vector<double>& b, bool higher) {
    int from = cfg.epochs + 1;  // epoch (1-based) from which a beats b at every later epoch
    for (int e = cfg.epochs - 1; e >= 0 && (higher ? a[e] > b[e] : a[e] < b[e]); --e) from = e + 1;
    return from;
  };
  const int acc_from = ahead_from(cnn_acc, mlp_acc, true), loss_from = ahead_from(cnn_loss, mlp_loss, false);
  const auto from_text = [&](int from) {
    return from == 1 ? std::string("at every epoch")
                     : from <= cfg.epochs ? "from epoch " + std::to_string(from) + " on" : std::string("at no epoch's end");
  };
  nb.figure("accuracy",
            "Test accuracy after each epoch. The CNN (solid) is above the MLP (dashed) " + from_text(acc_from) +
                ": with about as many parameters it makes fewer mistakes, because its convolutions look for "
                "local strokes wherever they are, where the MLP's first layer weighs fixed pixels.");
  plot::lines(nb.figure_path("loss"),
              {{"SmallCNN", ep, cnn_loss}, {"MLP", ep, mlp_loss, false, true}},
              axes("Test loss, same data and settings", "epoch", "test cross-entropy (nats)"));
  nb.figure("loss", "Test cross-entropy after each epoch: the CNN's is lower " + from_text(loss_from) + ".");
  nb.markdown("The price: the CNN's epoch took " + fmt(cnn_secs / cfg.epochs, 2) + " s on average here, the MLP's " +
              fmt(mlp_secs / cfg.epochs, 2) + " s, " + fmt(cnn_secs / std::max(mlp_secs, 1e-9), 1) +
              " times as long. Both pay for the multiply-adds of section 2 three times per image (the forward "
              "pass; in the backward pass, the gradient of each layer's input and of its weight), so compare "
              "this with their ratio of multiply-adds, " + fmt(static_cast<double>(cnn_macs) / mlp_macs, 1) + ".");

  // ---- 4. The learned filters -------------------------------------------------------------
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
  plot::image_grid(nb.figure_path("filters_init"), channels(conv1_init), 5, 5, 8,
                   axes("conv1 filters W0 before training", "", "", 640, 300), ftitles);
  nb.figure("filters_init", "The 16 filters as initialised: uniform random numbers, no structure.");
  plot::image_grid(nb.figure_path("filters_learned"), channels(w_learned), 5, 5, 8,
                   axes("conv1 filters W after " + std::to_string(cfg.epochs) + " epochs", "", "", 640, 300),
                   ftitles);
  nb.figure("filters_learned",
            "The same 16 filters after training. Compare each with its twin above: the initial noise is "
            "still there, with smooth light and dark regions laid over it.");
  plot::image_grid(nb.figure_path("filters_change"), channels(w_change), 5, 5, 8,
                   axes("What training added: W - W0", "", "", 640, 300), ftitles);
  nb.figure("filters_change",
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
                   axes("What the learned filters respond to: relu(conv1(x)) for test image 0", "", "", 720, 400),
                   ftitles);
  nb.figure("feature_maps",
            "The 16 output maps of the trained first layer (after ReLU) for the digit of section 1, each on "
            "its own grey scale: each map is bright where its filter matches the image. Some light up along "
            "one side of the strokes (an edge detector), some on strokes of one direction, some on the "
            "background. The second convolution combines these 16 maps.");
  nb.result("conv1_relative_change", rel_change);

  // ---- The claims -------------------------------------------------------------------------
  const double acc_cnn = cnn_acc.back(), acc_mlp = mlp_acc.back();
  nb.result("patch_dot_by_hand", dot);
  nb.result("patch_conv2d", y_lib);
  nb.result("patch_abs_difference", patch_diff);
  nb.result("im2col_gemm_max_abs_difference", gemm_diff);
  nb.result("cnn_parameters", static_cast<double>(cnn.model().num_parameters()));
  nb.result("mlp_parameters", static_cast<double>(mlp.model().num_parameters()));
  nb.result("cnn_test_accuracy", acc_cnn);
  nb.result("mlp_test_accuracy", acc_mlp);
  nb.result("cnn_seconds_per_epoch", cnn_secs / cfg.epochs);
  nb.result("mlp_seconds_per_epoch", mlp_secs / cfg.epochs);
  nb.check(patch_diff < 1e-5, "the hand-computed patch dot product equals conv2d's output element (to 1e-5)",
           "by hand " + fmt(dot, 7) + ", conv2d " + fmt(y_lib, 7));
  nb.check(gemm_diff < 1e-4 && col_vs_patch == 0,
           "im2col by hand + one matmul reproduces all of conv2d's 16 x 28 x 28 outputs (to 1e-4)",
           "largest difference " + sci(gemm_diff));
  nb.check(acc_cnn > acc_mlp, "after training, the CNN's test accuracy is higher than the MLP's",
           "CNN " + fmt(acc_cnn, 4) + ", MLP " + fmt(acc_mlp, 4) + " after " + std::to_string(cfg.epochs) +
               " epochs on " + std::to_string(cnn.train_set().n) + " images");
  return nb.finish();
}
