// train/trainer.cpp — the training loop behind chalk-train and the demos.
#include "train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>
#include <nlohmann/json.hpp>

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/checks.h"
#include "core/gemm.h"
#include "core/machine.h"
#include "core/parallel.h"
#include "core/random.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "nn/models.h"
#include "ops/reduce.h"

namespace chalk {

using json = nlohmann::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- config

void TrainConfig::resolve() {
  nn::find_model(model);                               // throws, listing the known models
  const TrainingDefaults& d = find_loss(loss).defaults;  // throws, listing the known losses
  if (emb_dim < 0) emb_dim = d.emb_dim;
  if (emb_dim == 0 && !d.logits_output)
    fail("--emb-dim: the ", loss, " loss needs an embedding size >= 1 (0 means 'the model outputs the C logits' "
         "and is only for losses without a head of their own, e.g. --loss softmax)");
  if (optimizer.empty()) optimizer = d.optimizer;
  if (optimizer != "sgd" && optimizer != "adam" && optimizer != "adamw")
    fail("--optimizer: expected sgd, adam or adamw, got '", optimizer, "'");
  if (lr == -1) lr = optimizer == "sgd" ? d.sgd_lr : d.adam_lr;  // -1: the loss's default
  if (!(lr > 0) || !std::isfinite(lr)) fail("--lr: expected a positive, finite learning rate, got ", lr);
  if (warmup_steps < -1) fail("--warmup-steps: expected >= 0 (or -1, the loss's default), got ", warmup_steps);
  if (schedule != "constant" && schedule != "step" && schedule != "cosine")
    fail("--schedule: expected constant, step or cosine, got '", schedule, "'");
  if (epochs < 1) fail("--epochs: expected >= 1, got ", epochs);
  if (batch_size < 2) fail("--batch-size: expected >= 2, got ", batch_size);
  if (samples_per_class < 1) fail("--samples-per-class: expected >= 1, got ", samples_per_class);
  if (threads < 0) fail("--threads: expected >= 0 (0: adaptive), got ", threads);
  // A --data folder that is where chalk finds a data set holds that one: it names the run when
  // --dataset is not given, and contradicts any other --dataset.
  const std::string of_folder = data_dir.empty() ? "" : dataset_of_folder(data_dir);
  if (dataset.empty()) dataset = of_folder.empty() ? "mnist" : of_folder;
  const Dataset& ds = find_dataset(dataset);  // throws, listing the known data sets
  if (!of_folder.empty() && of_folder != dataset)
    fail("--dataset ", dataset, ": --data ", data_dir, " is where chalk finds ", find_dataset(of_folder).display_name,
         " (", of_folder, "), not ", ds.display_name, "; pass --dataset ", of_folder, ", or a folder of ",
         ds.display_name, "'s files");
  loss_options.num_classes = ds.num_classes();
  loss_options.emb_dim = emb_dim;
  loss_options.seed = seed;
}

std::int64_t TrainConfig::resolved_warmup_steps(std::int64_t steps_per_epoch) const {
  if (warmup_steps >= 0) return warmup_steps;
  const double epochs_of_warmup = find_loss(loss).defaults.warmup_epochs;
  const std::int64_t total = checked_mul(steps_per_epoch, epochs, "--epochs", "the run's steps, steps per epoch x epochs =");
  return std::min(static_cast<std::int64_t>(std::llround(epochs_of_warmup * steps_per_epoch)), total / 2);
}

namespace {

// The one list of the fields a run's configuration saves (config.json, and the checkpoint's
// metadata): to_json and from_json both walk it, so a new option is one line here.
template <class Config, class F>
void config_fields(Config& c, F&& f) {
  f("model", c.model), f("loss", c.loss), f("emb_dim", c.emb_dim), f("optimizer", c.optimizer), f("lr", c.lr);
  f("momentum", c.momentum), f("nesterov", c.nesterov), f("weight_decay", c.weight_decay);
  f("schedule", c.schedule), f("warmup_steps", c.warmup_steps), f("epochs", c.epochs);
  f("batch_size", c.batch_size), f("samples_per_class", c.samples_per_class), f("seed", c.seed);
  f("threads", c.threads), f("data_dir", c.data_dir), f("limit_train", c.limit_train);
}
template <class Options, class F>
void loss_option_fields(Options& o, F&& f) {
  f("margin", o.margin), f("mining", o.mining), f("distance", o.distance), f("soft_margin", o.soft_margin);
  f("reduction", o.reduction), f("normalize", o.normalize), f("centroids", o.centroids), f("scale", o.scale);
  f("label_smoothing", o.label_smoothing), f("sphere_m", o.sphere_m), f("easy_margin", o.easy_margin);
  f("m1", o.m1), f("m2", o.m2), f("m3", o.m3);
}

}  // namespace

std::string TrainConfig::to_json() const {
  json j, o;
  config_fields(*this, [&](const char* name, const auto& v) { j[name] = v; });
  j["dataset"] = dataset;
  loss_option_fields(loss_options, [&](const char* name, const auto& v) { o[name] = v; });
  j["loss_options"] = o;
  return j.dump();
}

TrainConfig TrainConfig::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    fail("config: not valid JSON: ", e.what());
  }
  if (!j.is_object()) fail("config: expected a JSON object, got ", j.type_name());
  TrainConfig c;
  auto read = [](const json& from, const char* group) {
    return [&from, group](const char* name, auto& v) {
      if (!from.contains(name)) fail("config: missing field '", group, name, "'");
      try {
        from.at(name).get_to(v);
      } catch (const std::exception& e) {
        fail("config: field '", group, name, "' is ", from.at(name).dump(), ", not a ",
             std::is_same_v<std::decay_t<decltype(v)>, std::string> ? "string" : "number of the right kind", " (",
             e.what(), ")");
      }
    };
  };
  config_fields(c, read(j, ""));
  // "dataset" is read apart from the other fields: configurations written before chalk knew more
  // than one data set have none, and those runs were trained on MNIST.
  if (j.contains("dataset")) read(j, "")("dataset", c.dataset);
  else c.dataset = "mnist";
  if (!j.contains("loss_options") || !j.at("loss_options").is_object()) fail("config: missing field 'loss_options'");
  loss_option_fields(c.loss_options, read(j.at("loss_options"), "loss_options."));
  return c;
}

std::string EpochMetrics::to_json() const {
  json j = {{"epoch", epoch}, {"train_loss", train_loss}, {"test_loss", test_loss},
            {"test_accuracy", test_accuracy}, {"epoch_seconds", epoch_seconds},
            {"samples_per_second", samples_per_second}, {"lr", lr},
            {"precision_at_1", retrieval.precision_at_1}, {"recall_at_1", retrieval.recall_at_1},
            {"recall_at_2", retrieval.recall_at_2}, {"recall_at_4", retrieval.recall_at_4},
            {"recall_at_8", retrieval.recall_at_8}, {"r_precision", retrieval.r_precision},
            {"map_at_r", retrieval.map_at_r}, {"nmi", nmi}, {"embedding_norm", embedding_norm}};
  return j.dump();
}

EpochMetrics EpochMetrics::from_json(const std::string& text) {
  const json j = json::parse(text);
  EpochMetrics m;
  m.epoch = j.at("epoch");
  m.train_loss = j.at("train_loss"), m.test_loss = j.at("test_loss"), m.test_accuracy = j.at("test_accuracy");
  m.epoch_seconds = j.at("epoch_seconds"), m.samples_per_second = j.at("samples_per_second"), m.lr = j.at("lr");
  m.retrieval.precision_at_1 = j.at("precision_at_1"), m.retrieval.recall_at_1 = j.at("recall_at_1");
  m.retrieval.recall_at_2 = j.at("recall_at_2"), m.retrieval.recall_at_4 = j.at("recall_at_4");
  m.retrieval.recall_at_8 = j.at("recall_at_8"), m.retrieval.r_precision = j.at("r_precision");
  m.retrieval.map_at_r = j.at("map_at_r"), m.nmi = j.at("nmi");
  m.embedding_norm = j.value("embedding_norm", 0.0);  // absent in checkpoints written before it existed
  return m;
}

// ---------------------------------------------------------------- trainer

Trainer::Trainer(TrainConfig config) : config_(std::move(config)) {
  config_.resolve();
  if (config_.threads > 0) set_num_threads(config_.threads);
  manual_seed(config_.seed);
  location_ = locate_dataset(find_dataset(config_.dataset), config_.data_dir);
  train_ = load_mnist(location_.dir, true);
  test_ = load_mnist(location_.dir, false);
  if (config_.limit_train > 0 && config_.limit_train < train_.n) {
    const std::int64_t pix = train_.rows * train_.cols;
    train_.n = config_.limit_train;
    train_.images.resize(static_cast<std::size_t>(train_.n * pix));
    train_.labels.resize(static_cast<std::size_t>(train_.n));
  }
  const std::int64_t out = config_.emb_dim > 0 ? config_.emb_dim : num_classes();
  model_ = nn::make_model(config_.model, out);
  flat_input_ = nn::find_model(config_.model).flat_input;
  loss_ = make_loss(config_.loss, config_.loss_options);

  std::vector<Tensor> params = model_->parameters();
  for (auto& p : loss_->parameters()) params.push_back(p);
  optimizer_ = make_optimizer(config_, std::move(params));
  std::int64_t per_epoch = 0;
  try {
    per_epoch = static_cast<std::int64_t>(epoch_batches(0).size());
  } catch (const Error& e) {  // e.g. a class with fewer images than K
    if (!loss_->wants_pk_batches()) throw;
    fail_flag("--samples-per-class ", config_.samples_per_class, " (K of the P x K batches of --loss ", config_.loss,
              ") does not fit the training set of ", train_.n, " images", config_.limit_train > 0 ? " (--limit-train)" : "",
              ": ", e.what());
  }
  steps_per_epoch_ = per_epoch;
  const std::int64_t total = checked_mul(per_epoch, config_.epochs, "--epochs", "the run's steps, steps per epoch x epochs =");
  if (config_.warmup_steps >= total)
    fail_flag("--warmup-steps ", config_.warmup_steps, ": the warm-up must end before the run does, and this run has ",
              total, " steps (", config_.epochs, " epoch(s) of ", per_epoch, "); give fewer steps, or more --epochs");
  // A loss's default warm-up (TrainingDefaults::warmup_epochs) in steps, at most half the run.
  config_.warmup_steps = config_.resolved_warmup_steps(per_epoch);
  schedule_ = std::make_unique<nn::LRSchedule>(
      nn::make_schedule(config_.schedule, config_.lr, total, config_.warmup_steps));
}

std::int64_t Trainer::samples_per_batch() const {
  if (!loss_->wants_pk_batches()) return config_.batch_size;
  const std::int64_t K = config_.samples_per_class;  // >= 1 (TrainConfig::resolve)
  const std::int64_t P = std::min<std::int64_t>(num_classes(), std::max<std::int64_t>(2, config_.batch_size / K));
  // P classes x K samples each (the P x K sampler: batch_size / K classes, at most all of them)
  return checked_mul(P, K, "--samples-per-class", "the P x K batch =");
}

std::vector<std::vector<std::int64_t>> Trainer::epoch_batches(int epoch) const {
  if (loss_->wants_pk_batches()) {
    const std::int64_t K = config_.samples_per_class, PK = samples_per_batch();
    const std::int64_t per_epoch = std::max<std::int64_t>(1, train_.n / PK);
    return PKSampler(train_.labels, PK / K, K, config_.seed, per_epoch).batches(epoch);
  }
  return BatchLoader(train_.n, config_.batch_size, true, config_.seed, false).batches(epoch);
}

Tensor Trainer::batch_images(const MnistSplit& split, const std::vector<std::int64_t>& idx) const {
  return make_image_batch(split, idx, /*flatten=*/flat_input_);
}

Tensor Trainer::embed(const MnistSplit& split) {
  NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  // 256 images at a time: the SmallCNN's first activation is then 12.8 MB (1,000 images made
  // it 50 MB, and the allocator's cache kept such blocks for the rest of the run).
  const std::int64_t bs = 256;
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

namespace {

// The median of the L2 norms of the rows of x (N x D, N >= 1): the typical embedding length.
double median_row_norm(const Tensor& x) {
  const Tensor v = x.detach();
  const std::int64_t N = v.shape()[0], D = v.shape()[1];
  std::vector<double> norms(static_cast<std::size_t>(N));
  dispatch_float(v.dtype(), "median_row_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* p = v.data<T>();
    for (std::int64_t i = 0; i < N; ++i) {
      double s = 0;
      for (std::int64_t j = 0; j < D; ++j) s += static_cast<double>(p[i * D + j]) * p[i * D + j];
      norms[static_cast<std::size_t>(i)] = std::sqrt(s);
    }
  });
  auto mid = norms.begin() + static_cast<std::ptrdiff_t>(N / 2);
  std::nth_element(norms.begin(), mid, norms.end());
  return *mid;
}

}  // namespace

void Trainer::prepare_loss() {
  if (prepared_) return;  // once per run, before its first step (a resumed run was prepared before)
  Tensor embeddings, labels;
  if (loss_->needs_data_pass()) {  // e.g. K-means centroids: the initial embeddings of the first 10,000 images
    MnistSplit head = train_;
    head.n = std::min<std::int64_t>(train_.n, 10000);
    head.images.resize(static_cast<std::size_t>(head.n * head.rows * head.cols));
    head.labels.resize(static_cast<std::size_t>(head.n));
    embeddings = embed(head);
    labels = from_vector(head.labels, {head.n});
  }
  loss_->prepare(embeddings, labels);
  prepared_ = true;
}

double Trainer::train_step(const std::vector<std::int64_t>& indices) {
  prepare_loss();
  model_->train();
  loss_->train();
  for (std::int64_t i : indices)
    if (i < 0 || i >= train_.n) fail("Trainer::train_step: index ", i, " is outside the training set [0, ", train_.n, ")");
  const Tensor x = batch_images(train_, indices);
  const Tensor y = make_label_batch(train_, indices);
  optimizer_->set_lr(schedule_->lr_at(step_));
  loss_->set_iteration(step_);
  auto diverged = [&](const std::string& what) {
    fail("training stopped at epoch ", step_ / steps_per_epoch_ + 1, ", step ", step_ % steps_per_epoch_ + 1,
         " (global step ", step_ + 1, "): ", what, ". Hint: lower the learning rate (--lr, now ", config_.lr,
         "; this step's rate ", optimizer_->lr(),
         "), add --warmup-steps, or check the loss options; the last good checkpoint (if any) is untouched.");
  };
  Tensor out, loss;
  try {
    out = model_->forward(x);
    loss = loss_->forward(out, y);
  } catch (const Error& e) {  // e.g. a loss refusing non-finite embeddings: say where it happened
    diverged(e.what());
  }
  const double value = loss.item();
  if (!std::isfinite(value)) diverged(str_cat("the loss is ", value));
  // The collapse check, every step. Its cost: outputs_identical compares row i of the B x D output
  // with row 0 and returns at the first difference, so a healthy batch costs one or two comparisons
  // and a collapsed one B D (one read of the output, which the forward pass has just written: far
  // below the forward's own cost). With stop_on_collapse off it warns (the first collapsed step of
  // the run is kept in collapse_warning(); run() prints it) and training goes on.
  if (collapse_warning_.empty() && outputs_identical(out)) {
    const std::string what = str_cat(
        "training collapsed at epoch ", step_ / steps_per_epoch_ + 1, ", step ", step_ % steps_per_epoch_ + 1,
        " (global step ", step_ + 1, "): the model gives the same output for all ", out.shape()[0],
        " images of the batch, so every prediction is one class; its ReLUs have died (each is 0 for every "
        "input, so no gradient reaches the layers before them) and training cannot recover. This happens when "
        "the first steps are too large. Hint: lower the learning rate (--lr, now ", config_.lr,
        ") or lengthen the warm-up (--warmup-steps, now ", config_.warmup_steps, "), or try another --seed.");
    if (config_.stop_on_collapse) fail(what);
    collapse_warning_ = what;
  }
  // The first batch's typical embedding length: run() compares each epoch's with it (a
  // scale-invariant loss stalls when its embeddings grow long; embedding_growth_warning).
  if (first_embedding_norm_ == 0 && out.dim() == 2 && out.shape()[0] > 0) first_embedding_norm_ = median_row_norm(out);
  optimizer_->zero_grad();
  loss.backward();
  optimizer_->step();
  ++step_;
  return value;
}

double Trainer::train_epoch(int epoch, const ProgressFn& progress) {
  const auto batches = epoch_batches(epoch);
  double total = 0;
  std::int64_t count = 0;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    total += train_step(batches[b]);
    ++count;
    if (progress) progress(static_cast<std::int64_t>(b) + 1, static_cast<std::int64_t>(batches.size()), total / count);
  }
  return count ? total / count : 0.0;
}

double Trainer::lr_at_last_step() const { return schedule_->lr_at(std::max<std::int64_t>(step_ - 1, 0)); }

void Trainer::check_parameters_finite(const std::string& when) const {
  auto check = [&](const std::string& prefix, const nn::NamedTensors& tensors) {
    for (const auto& [name, t] : tensors) {
      const Tensor v = t.detach();
      bool finite = true;
      dispatch_float(v.dtype(), "check_parameters_finite", [&](auto tag) {
        using T = decltype(tag);
        const T* p = v.data<T>();
        for (std::int64_t i = 0; i < v.numel() && finite; ++i) finite = std::isfinite(p[i]);
      });
      if (!finite)
        fail("training stopped ", when, " (global step ", step_, "): parameter '", prefix, name, "' ",
             shape_str(v.shape()), " has a non-finite value. Hint: lower the learning rate (--lr, now ",
             config_.lr, "), add --warmup-steps, or run with --detect-anomaly to find the op that made it; "
             "the last good checkpoint (if any) is untouched.");
    }
  };
  check("model.", model_->named_parameters());
  check("loss.", loss_->named_parameters());
}

EpochMetrics Trainer::evaluate(int epoch) {
  NoGradGuard no_grad;
  model_->eval();
  loss_->eval();
  EpochMetrics m;
  m.epoch = epoch + 1;
  m.lr = optimizer_->lr();
  const Tensor out = embed(test_);                  // model outputs (what the loss sees)
  empty_cache();  // the evaluation's activation blocks are not the training step's sizes: free them
  const Tensor emb = loss_->metric_embedding(out);  // what retrieval compares
  if (out.shape()[0] > 0) m.embedding_norm = median_row_norm(out);
  const Tensor labels = make_label_batch(test_, [&] {
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
    total += loss_->forward(eb, make_label_batch(test_, rows)).item();
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
  {  // how many classes the predictions use (1: the run has collapsed; run() stops on it)
    std::vector<bool> seen(static_cast<std::size_t>(num_classes()), false);
    const Tensor p64 = pred.to(DType::Int64);
    for (std::int64_t i = 0; i < p64.numel(); ++i) {
      const std::int64_t k = p64.data<std::int64_t>()[i];
      if (k >= 0 && k < num_classes()) seen[static_cast<std::size_t>(k)] = true;
    }
    predicted_classes_ = std::count(seen.begin(), seen.end(), true);
  }
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
  json history = json::array();
  for (const EpochMetrics& m : history_) history.push_back(json::parse(m.to_json()));
  Metadata meta = {{"format", "chalk checkpoint v1"},
                   {"epochs_done", std::to_string(epochs_done)},
                   {"global_step", std::to_string(step_)},
                   {"first_embedding_norm", json(first_embedding_norm_).dump()},
                   {"config", config_.to_json()},
                   {"metrics", history.dump()}};
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
      if (is_floating(src.dtype())) check_finite(src, str_cat("tensor '", name, "'").c_str(), path.c_str());
      std::copy(static_cast<const char*>(src.impl()->storage->data),
                static_cast<const char*>(src.impl()->storage->data) + src.numel() * dtype_size(src.dtype()),
                static_cast<char*>(target.impl()->storage->data));
      increment_version(target);  // overwritten in place: a graph that saved it is now stale
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
  auto count = [&](const char* key) {
    const std::string text = meta(key);
    std::int64_t v = -1;
    try {
      std::size_t used = 0;
      v = std::stoll(text, &used);
      if (used != text.size()) v = -1;
    } catch (const std::exception&) {
      v = -1;
    }
    if (v < 0) fail(path, ": checkpoint metadata '", key, "' is \"", text, "\", not a whole number >= 0");
    return v;
  };
  step_ = count("global_step");
  if (auto f = file.metadata.find("first_embedding_norm"); f != file.metadata.end()) {  // absent before it existed
    double v = -1;
    try {
      const json j = json::parse(f->second);
      if (j.is_number()) v = j.get<double>();
    } catch (const std::exception&) {
    }
    if (!(v >= 0) || !std::isfinite(v))
      fail(path, ": checkpoint metadata 'first_embedding_norm' is \"", f->second, "\", not a number >= 0");
    first_embedding_norm_ = v;
  }
  const std::int64_t epochs_done = count("epochs_done");
  history_.clear();
  auto it = file.metadata.find("metrics");
  if (it != file.metadata.end()) {  // checkpoints before the metrics history have none
    try {
      for (const json& m : json::parse(it->second)) history_.push_back(EpochMetrics::from_json(m.dump()));
    } catch (const std::exception& e) {
      fail(path, ": checkpoint metadata 'metrics' is not the list of epoch metrics chalk writes: ", e.what());
    }
  }
  prepared_ = true;
  return static_cast<int>(epochs_done);
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

// "2" (pinned), or "adaptive, 1 now (other processes used 1.0 of 2 cores; 3 changes so far)".
std::string describe_threads() {
  if (!adaptive_threads()) return std::to_string(num_threads());
  const ThreadMeasurement m = last_thread_measurement();
  std::ostringstream os;
  os << "adaptive, " << num_threads() << " now";
  if (m.measurements > 0)
    os << " (other processes used " << std::fixed << std::setprecision(1) << m.other_cores << " of "
       << m.allowed_cores << " cores; " << m.changes << " change" << (m.changes == 1 ? "" : "s") << " so far)";
  else
    os << " (follows the cores other processes leave free, core/parallel.h)";
  return os.str();
}

// One line per epoch; `trained`: the epoch was trained now (train loss and seconds exist).
void print_metrics(std::ostream& log, const EpochMetrics& m, bool trained = true) {
  log << std::fixed << std::setprecision(4) << "epoch " << m.epoch << ": ";
  if (trained) log << "train loss " << m.train_loss << " | ";
  log << "test loss " << m.test_loss << " | accuracy " << m.test_accuracy << " | P@1 " << m.retrieval.precision_at_1
      << " | R@8 " << m.retrieval.recall_at_8 << " | MAP@R " << m.retrieval.map_at_r << " | NMI " << m.nmi;
  if (trained) log << " | " << std::setprecision(2) << m.epoch_seconds << " s";
  else log << " | lr " << std::setprecision(6) << m.lr;
  log << std::endl;
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
    const TrainConfig stored = checkpoint_config(ckpt);
    start = load_checkpoint(ckpt);
    log << "resumed from " << ckpt << " after epoch " << start << "\n";
    if (config_.epochs > stored.epochs && config_.schedule != "constant")
      log << "note: extending a " << stored.epochs << "-epoch run to " << config_.epochs << " epochs: from step "
          << step_ << " on, the learning rate follows the " << config_.schedule << " schedule of the longer run ("
          << schedule_->lr_at(step_) << " now); the steps already taken followed the shorter one, so the result "
          << "differs from a run planned for " << config_.epochs << " epochs (docs/training.md)\n";
  }
  log << "data: " << location_.description << "\n"
      << "model: " << model_->name() << " (" << model_->num_parameters() << " parameters), loss: " << loss_->name()
      << ", optimizer: " << optimizer_->name() << ", lr schedule: " << schedule_->describe()
      << ", threads: " << describe_threads() << "\n"
      << "BLAS: " << blas_description() << "\n"
      << "machine: commit " << source_commit() << ", " << cpu_model() << ", " << cpu_isa() << "\n";
  // metrics.jsonl is rewritten from the checkpoint's own history after every save, so it never
  // runs ahead of the checkpoint (a kill between the two leaves the older file, which the
  // resumed run rewrites); both files are written atomically and a failed write fails the run.
  auto write_run_files = [&] {
    if (config_.out_dir.empty()) return;
    write_text_atomically(config_.out_dir + "/config.json", config_.to_json() + "\n", "Trainer::run");
    std::string lines;
    for (const EpochMetrics& m : history_) lines += m.to_json() + "\n";
    write_text_atomically(config_.out_dir + "/metrics.jsonl", lines, "Trainer::run");
  };
  write_run_files();
  if (start >= config_.epochs) log << "the run already has " << start << " of " << config_.epochs << " epochs\n";
  EpochMetrics last = history_.empty() ? EpochMetrics{} : history_.back();
  for (int epoch = start; epoch < config_.epochs; ++epoch) {
    ProgressBar bar(std::cerr, epoch + 1, config_.epochs, samples_per_batch(), config_.progress);
    const auto t0 = std::chrono::steady_clock::now();
    const double train_loss = train_epoch(epoch, [&](std::int64_t d, std::int64_t t, double l) { bar(d, t, l); });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    last = evaluate(epoch);
    last.train_loss = train_loss;
    last.epoch_seconds = secs;
    // what the epoch trained on: steps_per_epoch_ P x K batches for the triplet losses; else every
    // training image once (the loader keeps a short last batch)
    const std::int64_t samples = loss_->wants_pk_batches() ? steps_per_epoch_ * samples_per_batch() : train_.n;
    last.samples_per_second = static_cast<double>(samples) / secs;
    print_metrics(log, last);
    if (adaptive_threads() && last_thread_measurement().changes > 0) log << "threads: " << describe_threads() << "\n";
    check_parameters_finite(str_cat("after epoch ", epoch + 1));  // never save a checkpoint with NaN weights
    if (predicted_classes_ == 1) {
      const std::string what = str_cat(
          "training collapsed after epoch ", epoch + 1, ": every test image is predicted as the same class (test "
          "accuracy ", last.test_accuracy, "); the network has stopped using its input (typically its ReLUs died "
          "after a loss spike in the first steps). Hint: lower the learning rate (--lr, now ", config_.lr,
          ") or lengthen the warm-up (--warmup-steps, now ", config_.warmup_steps, "), or try another --seed");
      if (config_.stop_on_collapse) fail(what, "; no checkpoint was written for this epoch.");
      log << "warning: " << what << " (stop_on_collapse is off: training goes on).\n";
    }
    if (const std::string growth = embedding_growth_warning(last); !growth.empty() && !growth_warned_) {
      log << "warning: " << growth << "\n";  // once per run: the norm rarely shrinks again
      growth_warned_ = true;
    }
    if (!collapse_warning_.empty() && !collapse_warned_) {  // the step check's finding, once per run
      log << "warning: " << collapse_warning_ << " (stop_on_collapse is off: training goes on).\n";
      collapse_warned_ = true;
    }
    history_.push_back(last);
    if (!config_.out_dir.empty()) {
      save_checkpoint(ckpt, epoch + 1);
      write_run_files();
    }
  }
  return last;
}

std::string Trainer::embedding_growth_warning(const EpochMetrics& m) const {
  // A scale-invariant loss's gradient is orthogonal to x with length |g| / ||x||, so each SGD
  // step lengthens x (Pythagoras) and a long x moves slowly: after a few too-large first steps
  // the embeddings can grow a thousandfold and the network all but stops learning (full MNIST,
  // SmallCNN, CosFace without warm-up, seeds 1 and 4: median norm 931 and 992 from about 0.8,
  // test accuracy 0.50 and 0.40; the 110 healthy runs of the seed sweep grew 1.6-47x, and no
  // run tried grew more than 180x without stalling; kEmbeddingGrowthLimit;
  // bench/results/2026-11-30-seed-sweep.md).
  // The hint names what rescued seed 1 (a 234-step warm-up: 0.9875; --lr 0.003: 0.981), not
  // --weight-decay 5e-4, which did not (0.511).
  if (!loss_->scale_invariant() || first_embedding_norm_ <= 0 || m.embedding_norm <= 0) return "";
  const double growth = m.embedding_norm / first_embedding_norm_;
  if (!(growth > kEmbeddingGrowthLimit)) return "";
  std::ostringstream msg;
  msg << std::setprecision(3) << "after epoch " << m.epoch << " the embeddings are " << growth
      << " times as long as at the first step (median norm " << m.embedding_norm << ", was " << first_embedding_norm_
      << "). " << loss_->name() << " sees only their direction, so the gradient reaching the network is divided by "
      << "that length (NormFace, Wang et al. 2017, Fig. 4): its gradients are about " << growth << " times smaller "
      << "than at the start, and such a run rarely recovers (test accuracy " << m.test_accuracy << "). Too large "
      << "first steps lengthen them; a warm-up prevented it in every run tried. Hint: lengthen the warm-up "
      << "(--warmup-steps, now " << config_.warmup_steps
      << "), lower the learning rate (--lr, now " << config_.lr << "), or try another --seed";
  return msg.str();
}

TrainConfig checkpoint_config(const std::string& path) {
  SafetensorsFile file;
  try {
    file = load_safetensors(path);
  } catch (const Error& e) {
    fail(path, " is not a chalk checkpoint (not a readable safetensors file): ", e.what());
  }
  auto it = file.metadata.find("config");
  if (it == file.metadata.end()) fail(path, ": not a chalk checkpoint (no 'config' in its metadata)");
  try {
    return TrainConfig::from_json(it->second);
  } catch (const Error& e) {
    fail(path, ": checkpoint metadata 'config': ", e.what());
  }
}

TrainConfig resume_config(const TrainConfig& stored, const TrainConfig& given,
                          const std::vector<std::string>& given_flags) {
  // What may change on resume: the length (--epochs extends), the threads, the progress bar and
  // the folder. Every other flag given must agree with the run's stored configuration.
  TrainConfig merged = stored;
  merged.out_dir = given.out_dir;
  merged.progress = given.progress;
  merged.threads = given.threads;
  const json want = json::parse(given.to_json()), have = json::parse(stored.to_json());
  for (const std::string& flag : given_flags) {
    if (flag == "--epochs") {
      merged.epochs = given.epochs;
      continue;
    }
    std::string key = flag.substr(flag.find_first_not_of('-'));
    std::replace(key.begin(), key.end(), '-', '_');
    if (key == "data") key = "data_dir";
    const json* a = nullptr;
    const json* b = nullptr;
    if (have.contains(key)) a = &have.at(key), b = &want.at(key);
    else if (have.at("loss_options").contains(key)) a = &have.at("loss_options").at(key), b = &want.at("loss_options").at(key);
    if (!a) continue;  // not part of the run's configuration (--threads, --quiet, --out, ...)
    const bool same = a->is_number() && b->is_number() ? a->get<double>() == b->get<double>() : *a == *b;
    if (!same)
      fail(flag, " ", b->dump(), " contradicts the run being resumed, which has ", key, " = ", a->dump(),
           " (a resumed run keeps its configuration: drop ", flag, ", or start a new run with another --out)");
  }
  return merged;
}

std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& config, std::vector<Tensor> params) {
  if (config.optimizer == "sgd") {
    nn::SGDOptions o;
    o.lr = config.lr;
    o.momentum = config.momentum;
    o.nesterov = config.nesterov;
    o.weight_decay = config.weight_decay;
    return std::make_unique<nn::SGD>(params, o);
  }
  nn::AdamOptions o;
  o.lr = config.lr;
  o.weight_decay = config.weight_decay;
  if (config.optimizer == "adam") return std::make_unique<nn::Adam>(params, o);
  if (config.optimizer == "adamw") return std::make_unique<nn::AdamW>(params, o);
  fail("make_optimizer: unknown optimizer '", config.optimizer, "' (expected sgd, adam or adamw)");
}

EpochMetrics evaluate_checkpoint(const std::string& path, const std::string& data_dir, std::ostream& log,
                                 const std::string& dataset, bool allow_other_dataset) {
  TrainConfig cfg = checkpoint_config(path);
  const Dataset& trained_on = [&]() -> const Dataset& {  // "mnist" for a checkpoint that records none
    try {
      return find_dataset(cfg.dataset);
    } catch (const Error& e) {
      fail(path, ": the checkpoint was trained on a data set this chalk does not know: ", e.what());
    }
  }();
  // The data set asked for: named, else the one whose folder --data is, else (a folder chalk does
  // not know, or none) the checkpoint's own.
  std::string wanted = dataset.empty() && !data_dir.empty() ? dataset_of_folder(data_dir) : dataset;
  if (wanted.empty()) wanted = trained_on.name;
  const Dataset& given = find_dataset(wanted);
  if (given.name != trained_on.name) {
    if (!allow_other_dataset)
      fail(path, " was trained on ", trained_on.display_name, " (", trained_on.name, ") but would be evaluated on ",
           given.display_name, " (", given.name, data_dir.empty() ? "" : ", --data " + data_dir,
           "): its test metrics would score a model on classes it never learned. Evaluate it with --dataset ",
           trained_on.name, ", or pass --allow-other-dataset to score it anyway");
    log << "warning: " << path << " was trained on " << trained_on.display_name << ", evaluated here on "
        << given.display_name << " (--allow-other-dataset): a label number names a different class in each, "
        << "so the metrics below do not measure what it learned\n";
  }
  cfg.dataset = given.name;
  cfg.data_dir = data_dir;
  cfg.out_dir.clear();
  cfg.threads = 0;  // keep the caller's thread count (chalk-eval --threads), not the training run's
  // Evaluation takes no step, so the run's schedule is not needed, and its warm-up need not fit
  // this data: 234 warm-up steps of a 1-epoch run on full MNIST are more than the 47 steps of
  // the shipped subset (found: chalk-eval --data data/mnist-subset refused such a checkpoint).
  const std::int64_t trained_warmup = cfg.warmup_steps;
  cfg.warmup_steps = 0;
  Trainer t(cfg);
  const int epochs = t.load_checkpoint(path);
  log << "checkpoint " << path << ": " << cfg.model << " + " << cfg.loss << ", " << epochs << " epoch(s) on "
      << trained_on.display_name << "\n"
      << "data: " << t.data_location().description << "\n";
  if (epochs < 1) fail(path, ": the checkpoint has no trained epoch (epochs_done = ", epochs, ")");
  EpochMetrics m = t.evaluate(epochs - 1);
  // The learning rate of the checkpoint's last step (not the optimizer's initial one): its own
  // metrics say it (EpochMetrics::lr is the rate of the epoch's last step). A checkpoint written
  // before chalk kept that history gets the schedule's value, exact unless it ended in a warm-up.
  if (!t.history().empty()) {
    m.lr = t.history().back().lr;
  } else {
    m.lr = t.lr_at_last_step();
    if (trained_warmup > 0 && t.global_step() <= trained_warmup)
      log << "note: the checkpoint has no metrics history and ended in its warm-up: the lr below ignores the warm-up\n";
  }
  print_metrics(log, m, /*trained=*/false);
  return m;
}

}  // namespace chalk
