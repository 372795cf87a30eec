// train/evaluate.cpp — test-set metrics of a model and loss, and metrics.jsonl's lines (train/evaluate.h).
#include "train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/error.h"
#include "ops/reduce.h"
#include "train/batches.h"

namespace chalk {

using json = nlohmann::json;

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

void print_metrics(std::ostream& log, const EpochMetrics& m, bool trained) {
  log << std::fixed << std::setprecision(4) << "epoch " << m.epoch << ": ";
  if (trained) log << "train loss " << m.train_loss << " | ";
  log << "test loss " << m.test_loss << " | accuracy " << m.test_accuracy << " | P@1 " << m.retrieval.precision_at_1
      << " | R@8 " << m.retrieval.recall_at_8 << " | MAP@R " << m.retrieval.map_at_r << " | NMI " << m.nmi;
  if (trained) log << " | " << std::setprecision(2) << m.epoch_seconds << " s";
  else log << " | lr " << std::setprecision(6) << m.lr;
  log << std::endl;
}

Tensor embed(nn::Layer& model, const MnistSplit& split, bool flatten) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  // 256 images at a time: the SmallCNN's first activation is then 12.8 MB (1,000 images made
  // it 50 MB, and the allocator's cache kept such blocks for the rest of the run).
  const std::int64_t bs = 256;
  Tensor out;
  for (std::int64_t s = 0; s < split.n; s += bs) {
    std::vector<std::int64_t> idx;
    for (std::int64_t i = s; i < std::min(split.n, s + bs); ++i) idx.push_back(i);
    const Tensor e = model.forward(make_image_batch(split, idx, flatten));
    if (!out.defined()) out = Tensor::empty({split.n, e.shape()[1]}, e.dtype());
    std::copy(e.data<float>(), e.data<float>() + e.numel(), out.data<float>() + s * e.shape()[1]);
  }
  model.train(was_training);
  return out;
}

double median_row_norm(const Tensor& x) {
  if (x.dim() != 2 || x.shape()[0] < 1) fail("median_row_norm: expected N x D with N >= 1, got ", shape_str(x.shape()));
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

namespace {

// 0, 1, ..., n - 1: every sample of a split, in order.
std::vector<std::int64_t> all_indices(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// The training loss on the test outputs, in batches of 1,000, averaged.
double test_loss(Loss& loss, const Tensor& out, const MnistSplit& test) {
  double total = 0;
  std::int64_t parts = 0;
  for (std::int64_t s = 0; s < test.n; s += 1000) {
    const std::int64_t e = std::min(test.n, s + 1000);
    std::vector<std::int64_t> rows;
    for (std::int64_t i = s; i < e; ++i) rows.push_back(i);
    Tensor eb = Tensor::empty({e - s, out.shape()[1]});
    std::copy(out.data<float>() + s * out.shape()[1], out.data<float>() + e * out.shape()[1], eb.data<float>());
    total += loss.forward(eb, make_label_batch(test, rows)).item();
    ++parts;
  }
  return total / static_cast<double>(std::max<std::int64_t>(parts, 1));
}

// How many distinct classes (of 0..C-1) the predictions use.
std::int64_t distinct_classes(const Tensor& pred, std::int64_t C) {
  std::vector<bool> seen(static_cast<std::size_t>(C), false);
  const Tensor p64 = pred.to(DType::Int64);
  for (std::int64_t i = 0; i < p64.numel(); ++i) {
    const std::int64_t k = p64.data<std::int64_t>()[i];
    if (k >= 0 && k < C) seen[static_cast<std::size_t>(k)] = true;
  }
  return std::count(seen.begin(), seen.end(), true);
}

}  // namespace

Evaluation evaluate(nn::Layer& model, Loss& loss, const TrainingData& data, bool flatten, std::uint64_t seed) {
  NoGradGuard no_grad;
  model.eval();
  loss.eval();
  Evaluation ev;
  EpochMetrics& m = ev.metrics;
  const Tensor out = embed(model, data.test, flatten);  // model outputs (what the loss sees)
  empty_cache();  // the evaluation's activation blocks are not the training step's sizes: free them
  const Tensor emb = loss.metric_embedding(out);        // what retrieval compares
  if (out.shape()[0] > 0) m.embedding_norm = median_row_norm(out);
  const Tensor labels = make_label_batch(data.test, all_indices(data.test.n));
  m.test_loss = test_loss(loss, out, data.test);
  // accuracy: the loss's logits, else the nearest class mean of the training embeddings
  const Tensor logits = loss.logits(out);
  Tensor pred;
  if (logits.defined()) {
    pred = argmax(logits, 1);
  } else {
    const Tensor train_emb = loss.metric_embedding(embed(model, data.train, flatten));
    const Tensor train_labels = from_vector(data.train.labels, {data.train.n});
    pred = nearest_centroid(emb, class_means(train_emb, train_labels, data.num_classes()));
  }
  m.test_accuracy = accuracy(pred, labels);
  ev.predicted_classes = distinct_classes(pred, data.num_classes());
  m.retrieval = retrieval_metrics(emb, labels);
  m.nmi = clustering_nmi(emb, labels, data.num_classes(), seed);
  ev.embeddings = emb;
  ev.labels = labels;
  model.train();
  loss.train();
  return ev;
}

}  // namespace chalk
