// train/trainer.cpp — the training loop behind chalk-train and the demos.
#include "train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "core/parallel.h"
#include "core/random.h"
#include "io/safetensors.h"
#include "nn/models.h"
#include "ops/reduce.h"

namespace chalk {

using json = nlohmann::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- config

void TrainConfig::resolve() {
  if (model != "mlp" && model != "cnn") fail("--model: expected mlp or cnn, got '", model, "'");
  bool known = false;
  for (const auto& e : loss_registry()) known = known || e.name == loss;
  if (!known) make_loss(loss, loss_options);  // throws, listing the known names
  if (emb_dim < 0) emb_dim = loss == "softmax" ? 0 : 64;
  if (emb_dim == 0 && loss != "softmax")
    fail("--emb-dim: the ", loss, " loss needs an embedding size >= 1 (0 means 'the model outputs the C logits' "
         "and is only for --loss softmax)");
  // Batch-hard triplet training starts on a plateau (every hardest negative as near as the
  // hardest positive: the loss sits at the margin). Adam leaves it within an epoch; SGD
  // with momentum had not left it after 5 epochs (docs/losses/triplet.md, section 13).
  if (optimizer.empty()) optimizer = loss == "triplet" ? "adam" : "sgd";
  if (optimizer != "sgd" && optimizer != "adam" && optimizer != "adamw")
    fail("--optimizer: expected sgd, adam or adamw, got '", optimizer, "'");
  if (lr < 0) {
    // SGD: the margin-softmax losses multiply their logits by a scale s (16..64), which
    // multiplies their gradients too, so they want a smaller step than the others.
    const bool scaled = loss == "normface" || loss == "cosface" || loss == "arcface" || loss == "combined" ||
                        loss == "sphereface";
    lr = optimizer != "sgd" ? 1e-3 : (scaled ? 0.01 : 0.05);
  }
  if (!(lr > 0) || !std::isfinite(lr)) fail("--lr: expected a positive learning rate, got ", lr);
  if (warmup_steps < -1) fail("--warmup-steps: expected >= 0 (or -1, the loss's default), got ", warmup_steps);
  if (warmup_steps < 0 && loss != "arcface") warmup_steps = 0;  // arcface: set by Trainer (one epoch)
  if (schedule != "constant" && schedule != "step" && schedule != "cosine")
    fail("--schedule: expected constant, step or cosine, got '", schedule, "'");
  if (epochs < 1) fail("--epochs: expected >= 1, got ", epochs);
  if (batch_size < 2) fail("--batch-size: expected >= 2, got ", batch_size);
  if (threads < 0) fail("--threads: expected >= 1, got ", threads);
  loss_options.num_classes = 10;
  loss_options.emb_dim = emb_dim;
  loss_options.seed = seed;
}

std::string TrainConfig::to_json() const {
  const LossOptions& o = loss_options;
  json j = {{"model", model}, {"loss", loss}, {"emb_dim", emb_dim}, {"optimizer", optimizer}, {"lr", lr},
            {"momentum", momentum}, {"nesterov", nesterov}, {"weight_decay", weight_decay},
            {"schedule", schedule}, {"warmup_steps", warmup_steps}, {"epochs", epochs},
            {"batch_size", batch_size}, {"samples_per_class", samples_per_class}, {"seed", seed},
            {"threads", threads}, {"data_dir", data_dir}, {"limit_train", limit_train},
            {"loss_options",
             {{"margin", o.margin}, {"mining", o.mining}, {"distance", o.distance}, {"soft_margin", o.soft_margin},
              {"reduction", o.reduction}, {"normalize", o.normalize}, {"centroids", o.centroids},
              {"scale", o.scale}, {"label_smoothing", o.label_smoothing}, {"sphere_m", o.sphere_m},
              {"easy_margin", o.easy_margin}, {"m1", o.m1}, {"m2", o.m2}, {"m3", o.m3}}}};
  return j.dump();
}

TrainConfig TrainConfig::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    fail("config: not valid JSON: ", e.what());
  }
  TrainConfig c;
  try {
    c.model = j.at("model");
    c.loss = j.at("loss");
    c.emb_dim = j.at("emb_dim");
    c.optimizer = j.at("optimizer");
    c.lr = j.at("lr");
    c.momentum = j.at("momentum");
    c.nesterov = j.at("nesterov");
    c.weight_decay = j.at("weight_decay");
    c.schedule = j.at("schedule");
    c.warmup_steps = j.at("warmup_steps");
    c.epochs = j.at("epochs");
    c.batch_size = j.at("batch_size");
    c.samples_per_class = j.at("samples_per_class");
    c.seed = j.at("seed");
    c.threads = j.at("threads");
    c.data_dir = j.at("data_dir");
    c.limit_train = j.at("limit_train");
    const json& o = j.at("loss_options");
    c.loss_options.margin = o.at("margin");
    c.loss_options.mining = o.at("mining");
    c.loss_options.distance = o.at("distance");
    c.loss_options.soft_margin = o.at("soft_margin");
    c.loss_options.reduction = o.at("reduction");
    c.loss_options.normalize = o.at("normalize");
    c.loss_options.centroids = o.at("centroids");
    c.loss_options.scale = o.at("scale");
    c.loss_options.label_smoothing = o.at("label_smoothing");
    c.loss_options.sphere_m = o.at("sphere_m");
    c.loss_options.easy_margin = o.at("easy_margin");
    c.loss_options.m1 = o.at("m1");
    c.loss_options.m2 = o.at("m2");
    c.loss_options.m3 = o.at("m3");
  } catch (const json::exception& e) {
    fail("config: missing or mistyped field: ", e.what());
  }
  return c;
}

std::string EpochMetrics::to_json() const {
  json j = {{"epoch", epoch}, {"train_loss", train_loss}, {"test_loss", test_loss},
            {"test_accuracy", test_accuracy}, {"epoch_seconds", epoch_seconds},
            {"samples_per_second", samples_per_second}, {"lr", lr},
            {"precision_at_1", retrieval.precision_at_1}, {"recall_at_1", retrieval.recall_at_1},
            {"recall_at_2", retrieval.recall_at_2}, {"recall_at_4", retrieval.recall_at_4},
            {"recall_at_8", retrieval.recall_at_8}, {"r_precision", retrieval.r_precision},
            {"map_at_r", retrieval.map_at_r}, {"nmi", nmi}};
  return j.dump();
}

// ---------------------------------------------------------------- trainer

Trainer::Trainer(TrainConfig config) : config_(std::move(config)) {
  config_.resolve();
  if (config_.threads > 0) set_num_threads(config_.threads);
  manual_seed(config_.seed);
  location_ = nn::locate_mnist(config_.data_dir);
  train_ = nn::load_mnist(location_.dir, true);
  test_ = nn::load_mnist(location_.dir, false);
  if (config_.limit_train > 0 && config_.limit_train < train_.n) {
    const std::int64_t pix = train_.rows * train_.cols;
    train_.n = config_.limit_train;
    train_.images.resize(static_cast<std::size_t>(train_.n * pix));
    train_.labels.resize(static_cast<std::size_t>(train_.n));
  }
  const std::int64_t out = config_.emb_dim > 0 ? config_.emb_dim : num_classes();
  model_ = nn::make_model(config_.model, out);
  loss_ = make_loss(config_.loss, config_.loss_options);

  std::vector<Tensor> params = model_->parameters();
  for (auto& p : loss_->parameters()) params.push_back(p);
  if (config_.optimizer == "sgd") {
    nn::SGDOptions o;
    o.lr = config_.lr;
    o.momentum = config_.momentum;
    o.nesterov = config_.nesterov;
    o.weight_decay = config_.weight_decay;
    optimizer_ = std::make_unique<nn::SGD>(params, o);
  } else {
    nn::AdamOptions o;
    o.lr = config_.lr;
    o.weight_decay = config_.weight_decay;
    if (config_.optimizer == "adam") optimizer_ = std::make_unique<nn::Adam>(params, o);
    else optimizer_ = std::make_unique<nn::AdamW>(params, o);
  }
  const std::int64_t per_epoch = static_cast<std::int64_t>(epoch_batches(0).size());
  const std::int64_t total = per_epoch * config_.epochs;
  // ArcFace from scratch can stall: with seed 1 its loss sat near 5.9 and P@1 ended at
  // 0.9688. One epoch of linear learning-rate warm-up (469 steps on full MNIST at batch 128)
  // let every seed tried escape (docs/losses.md, "ArcFace and a warm-up"). A run shorter
  // than two epochs warms up for half of it.
  if (config_.warmup_steps < 0) config_.warmup_steps = std::min(per_epoch, total / 2);
  schedule_ = std::make_unique<nn::LRSchedule>(
      nn::make_schedule(config_.schedule, config_.lr, total, config_.warmup_steps));
}

std::vector<std::vector<std::int64_t>> Trainer::epoch_batches(int epoch) const {
  if (loss_->wants_pk_batches()) {
    const std::int64_t K = config_.samples_per_class;
    const std::int64_t P = std::min<std::int64_t>(num_classes(), std::max<std::int64_t>(2, config_.batch_size / K));
    const std::int64_t per_epoch = std::max<std::int64_t>(1, train_.n / (P * K));
    return nn::PKSampler(train_.labels, P, K, config_.seed, per_epoch).batches(epoch);
  }
  return nn::BatchLoader(train_.n, config_.batch_size, true, config_.seed, false).batches(epoch);
}

Tensor Trainer::batch_images(const nn::MnistSplit& split, const std::vector<std::int64_t>& idx) const {
  return nn::make_image_batch(split, idx, /*flatten=*/config_.model == "mlp");
}

Tensor Trainer::embed(const nn::MnistSplit& split) {
  NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  const std::int64_t bs = 1000;
  std::vector<Tensor> parts;
  Tensor out;
  for (std::int64_t s = 0; s < split.n; s += bs) {
    std::vector<std::int64_t> idx;
    for (std::int64_t i = s; i < std::min(split.n, s + bs); ++i) idx.push_back(i);
    const Tensor e = model_->forward(batch_images(split, idx));
    if (!out.defined()) out = Tensor::empty({split.n, e.shape()[1]}, e.dtype());
    std::copy(e.data<float>(), e.data<float>() + e.numel(), out.data<float>() + s * e.shape()[1]);
  }
  model_->train(was_training);
  return out;
}

double Trainer::train_epoch(int epoch, const ProgressFn& progress) {
  if (!prepared_) {  // e.g. K-means centroids from the initial embeddings (first 10,000 images)
    nn::MnistSplit head = train_;
    head.n = std::min<std::int64_t>(train_.n, 10000);
    head.images.resize(static_cast<std::size_t>(head.n * head.rows * head.cols));
    head.labels.resize(static_cast<std::size_t>(head.n));
    if (config_.loss_options.centroids == "kmeans" && config_.loss == "centroid")
      loss_->prepare(embed(head), nn::make_label_batch(head, [&] {
                       std::vector<std::int64_t> v(static_cast<std::size_t>(head.n));
                       for (std::int64_t i = 0; i < head.n; ++i) v[i] = i;
                       return v;
                     }()));
    prepared_ = true;
  }
  model_->train();
  loss_->train();
  const auto batches = epoch_batches(epoch);
  double total = 0;
  std::int64_t count = 0;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const Tensor x = batch_images(train_, batches[b]);
    const Tensor y = nn::make_label_batch(train_, batches[b]);
    optimizer_->set_lr(schedule_->lr_at(step_));
    loss_->set_iteration(step_);
    auto diverged = [&](const std::string& what) {
      fail("training stopped at epoch ", epoch + 1, ", step ", b + 1, " (global step ", step_ + 1, "): ", what,
           ". Hint: lower the learning rate (--lr, now ", optimizer_->lr(),
           "), add --warmup-steps, or check the loss options; the last good checkpoint (if any) is untouched.");
    };
    Tensor loss;
    try {
      loss = loss_->forward(model_->forward(x), y);
    } catch (const Error& e) {  // e.g. a loss refusing non-finite embeddings: say where it happened
      diverged(e.what());
    }
    const double value = loss.item();
    if (!std::isfinite(value)) diverged(str_cat("the loss is ", value));
    optimizer_->zero_grad();
    loss.backward();
    optimizer_->step();
    ++step_;
    total += value;
    ++count;
    if (progress) progress(static_cast<std::int64_t>(b) + 1, static_cast<std::int64_t>(batches.size()), total / count);
  }
  return count ? total / count : 0.0;
}

EpochMetrics Trainer::evaluate(int epoch) {
  NoGradGuard no_grad;
  model_->eval();
  loss_->eval();
  EpochMetrics m;
  m.epoch = epoch + 1;
  m.lr = optimizer_->lr();
  const Tensor out = embed(test_);                  // model outputs (what the loss sees)
  const Tensor emb = loss_->metric_embedding(out);  // what retrieval compares
  const Tensor labels = nn::make_label_batch(test_, [&] {
    std::vector<std::int64_t> v(static_cast<std::size_t>(test_.n));
    for (std::int64_t i = 0; i < test_.n; ++i) v[i] = i;
    return v;
  }());
  // test loss: the training loss on test batches of 1,000, averaged
  double total = 0;
  std::int64_t parts = 0;
  for (std::int64_t s = 0; s < test_.n; s += 1000) {
    const std::int64_t e = std::min(test_.n, s + 1000);
    std::vector<std::int64_t> rows;
    for (std::int64_t i = s; i < e; ++i) rows.push_back(i);
    Tensor eb = Tensor::empty({e - s, out.shape()[1]});
    std::copy(out.data<float>() + s * out.shape()[1], out.data<float>() + e * out.shape()[1], eb.data<float>());
    total += loss_->forward(eb, nn::make_label_batch(test_, rows)).item();
    ++parts;
  }
  m.test_loss = total / std::max<std::int64_t>(parts, 1);
  // accuracy: the loss's logits, else the nearest class mean of the training embeddings
  const Tensor logits = loss_->logits(out);
  Tensor pred;
  if (logits.defined()) {
    pred = argmax(logits, 1);
  } else {
    const Tensor train_emb = loss_->metric_embedding(embed(train_));
    const Tensor train_labels = from_vector(train_.labels, {train_.n});
    pred = nearest_centroid(emb, class_means(train_emb, train_labels, num_classes()));
  }
  m.test_accuracy = accuracy(pred, labels);
  m.retrieval = retrieval_metrics(emb, labels);
  m.nmi = clustering_nmi(emb, labels, num_classes(), config_.seed);
  model_->train();
  loss_->train();
  return m;
}

void Trainer::save_checkpoint(const std::string& path, int epochs_done) const {
  TensorMap tensors;
  for (auto& [n, t] : model_->named_parameters()) tensors["model." + n] = t.detach();
  for (auto& [n, t] : model_->named_buffers()) tensors["model." + n] = t.detach();
  for (auto& [n, t] : loss_->named_parameters()) tensors["loss." + n] = t.detach();
  for (auto& [n, t] : loss_->named_buffers()) tensors["loss." + n] = t.detach();
  for (auto& [n, t] : optimizer_->state()) tensors["optim." + n] = t.detach();
  Metadata meta = {{"format", "chalk checkpoint v1"},
                   {"epochs_done", std::to_string(epochs_done)},
                   {"global_step", std::to_string(step_)},
                   {"config", config_.to_json()}};
  save_safetensors(path, tensors, meta);
}

int Trainer::load_checkpoint(const std::string& path) {
  std::vector<std::pair<std::string, Tensor>> targets;
  for (auto& [n, t] : model_->named_parameters()) targets.emplace_back("model." + n, t);
  for (auto& [n, t] : model_->named_buffers()) targets.emplace_back("model." + n, t);
  for (auto& [n, t] : loss_->named_parameters()) targets.emplace_back("loss." + n, t);
  for (auto& [n, t] : loss_->named_buffers()) targets.emplace_back("loss." + n, t);
  // model and loss must match exactly; the optimizer state is read separately
  const SafetensorsFile file = load_safetensors(path);
  {
    TensorMap only;
    for (auto& [n, t] : file.tensors)
      if (n.rfind("optim.", 0) != 0) only[n] = t;
    for (auto& [name, target] : targets) {
      auto it = only.find(name);
      if (it == only.end()) fail(path, ": checkpoint has no tensor '", name, "' (does it come from another model or loss?)");
      if (it->second.shape() != target.shape() || it->second.dtype() != target.dtype())
        fail(path, ": tensor '", name, "' is ", dtype_name(it->second.dtype()), " ", shape_str(it->second.shape()),
             " in the file, the model expects ", dtype_name(target.dtype()), " ", shape_str(target.shape()));
      only.erase(it);
    }
    if (!only.empty()) fail(path, ": checkpoint has a tensor '", only.begin()->first, "' the model does not have");
    for (auto& [name, target] : targets) {
      const Tensor& src = file.tensors.at(name);
      std::copy(static_cast<const char*>(src.impl()->storage->data),
                static_cast<const char*>(src.impl()->storage->data) + src.numel() * dtype_size(src.dtype()),
                static_cast<char*>(target.impl()->storage->data));
    }
  }
  nn::NamedTensors optim;
  for (auto& [n, t] : file.tensors)
    if (n.rfind("optim.", 0) == 0) optim.emplace_back(n.substr(6), t);
  optimizer_->load_state(optim);
  auto meta = [&](const char* key) {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end()) fail(path, ": checkpoint metadata has no '", key, "'");
    return it->second;
  };
  step_ = std::stoll(meta("global_step"));
  prepared_ = true;
  return std::stoi(meta("epochs_done"));
}

namespace {

// "epoch 3/10 [########------------] 234/469 loss 0.1234 | 51234 samples/s | ETA 4s"
class ProgressBar {
 public:
  ProgressBar(std::ostream& os, int epoch, int epochs, std::int64_t batch_size, bool enabled)
      : os_(os), epoch_(epoch), epochs_(epochs), batch_size_(batch_size), enabled_(enabled),
        tty_(isatty(fileno(stderr)) && &os == &std::cerr), start_(std::chrono::steady_clock::now()) {}
  void operator()(std::int64_t done, std::int64_t total, double loss) {
    if (!enabled_) return;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = done * batch_size_ / std::max(secs, 1e-9);
    const double eta = secs / done * (total - done);
    if (tty_) {
      if (done != total && done % 5 != 0) return;  // redraw at most every 5 batches
      const int width = 24, fill = static_cast<int>(width * done / total);
      os_ << "\repoch " << epoch_ << "/" << epochs_ << " [" << std::string(fill, '#')
          << std::string(width - fill, '-') << "] " << done << "/" << total << " loss " << std::fixed
          << std::setprecision(4) << loss << " | " << std::setprecision(0) << rate << " samples/s | ETA "
          << std::setprecision(1) << eta << "s   " << std::flush;
      if (done == total) os_ << "\n";
    } else if (done == total || (total >= 4 && done % (total / 4) == 0)) {
      os_ << "epoch " << epoch_ << "/" << epochs_ << ": " << done << "/" << total << " batches, loss "
          << std::fixed << std::setprecision(4) << loss << ", " << std::setprecision(0) << rate << " samples/s\n";
    }
  }

 private:
  std::ostream& os_;
  int epoch_, epochs_;
  std::int64_t batch_size_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_;
};

void print_metrics(std::ostream& log, const EpochMetrics& m) {
  log << std::fixed << std::setprecision(4) << "epoch " << m.epoch << ": train loss " << m.train_loss
      << " | test loss " << m.test_loss << " | accuracy " << m.test_accuracy << " | P@1 "
      << m.retrieval.precision_at_1 << " | R@8 " << m.retrieval.recall_at_8 << " | MAP@R " << m.retrieval.map_at_r
      << " | NMI " << m.nmi << " | " << std::setprecision(2) << m.epoch_seconds << " s" << std::endl;
}

}  // namespace

EpochMetrics Trainer::run(bool resume, std::ostream& log) {
  const std::string ckpt = config_.out_dir.empty() ? "" : config_.out_dir + "/checkpoint.safetensors";
  int start = 0;
  if (!config_.out_dir.empty()) fs::create_directories(config_.out_dir);
  if (!resume && !ckpt.empty() && fs::exists(ckpt))
    fail("--out ", config_.out_dir, " already holds a checkpoint from an earlier run; pass --resume to continue it, "
         "or choose another --out (chalk never overwrites a run's last good checkpoint with a new run)");
  if (resume) {
    if (ckpt.empty()) fail("--resume needs --out DIR (the folder holding checkpoint.safetensors)");
    if (!fs::exists(ckpt)) fail("--resume: no checkpoint at ", ckpt);
    start = load_checkpoint(ckpt);
    log << "resumed from " << ckpt << " after epoch " << start << "\n";
  }
  log << "data: " << location_.description << "\n"
      << "model: " << model_->name() << " (" << model_->num_parameters() << " parameters), loss: " << loss_->name()
      << ", optimizer: " << optimizer_->name() << ", lr schedule: " << schedule_->describe()
      << ", threads: " << num_threads() << "\n";
  if (!config_.out_dir.empty() && !resume) {
    std::ofstream(config_.out_dir + "/config.json") << config_.to_json() << "\n";
    std::ofstream(config_.out_dir + "/metrics.jsonl", std::ios::trunc);
  }
  EpochMetrics last;
  for (int epoch = start; epoch < config_.epochs; ++epoch) {
    ProgressBar bar(std::cerr, epoch + 1, config_.epochs, config_.batch_size, config_.progress);
    const auto t0 = std::chrono::steady_clock::now();
    const double train_loss = train_epoch(epoch, [&](std::int64_t d, std::int64_t t, double l) { bar(d, t, l); });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    last = evaluate(epoch);
    last.train_loss = train_loss;
    last.epoch_seconds = secs;
    last.samples_per_second = static_cast<double>(epoch_batches(epoch).size() * config_.batch_size) / secs;
    print_metrics(log, last);
    if (!config_.out_dir.empty()) {
      std::ofstream(config_.out_dir + "/metrics.jsonl", std::ios::app) << last.to_json() << "\n";
      save_checkpoint(ckpt, epoch + 1);
    }
  }
  return last;
}

EpochMetrics evaluate_checkpoint(const std::string& path, const std::string& data_dir, std::ostream& log) {
  const SafetensorsFile file = load_safetensors(path);
  auto it = file.metadata.find("config");
  if (it == file.metadata.end()) fail(path, ": not a chalk checkpoint (no 'config' in its metadata)");
  TrainConfig cfg = TrainConfig::from_json(it->second);
  cfg.data_dir = data_dir;
  cfg.out_dir.clear();
  Trainer t(cfg);
  const int epochs = t.load_checkpoint(path);
  log << "checkpoint " << path << ": " << cfg.model << " + " << cfg.loss << ", " << epochs << " epoch(s)\n"
      << "data: " << t.data_location().description << "\n";
  EpochMetrics m = t.evaluate(epochs - 1);
  print_metrics(log, m);
  return m;
}

}  // namespace chalk
