// train/evaluate.h — a model and loss scored on the test split: the test loss, accuracy,
// retrieval (P@1, R@k, MAP@R), NMI and the typical embedding length; and EpochMetrics, one line
// of a run's metrics.jsonl.
//
//   chalk::Tensor emb = chalk::embed(model, data.test, flatten);          // N x D, eval mode
//   chalk::Evaluation ev = chalk::evaluate(model, loss, data, flatten, seed);
//   ev.metrics.retrieval.precision_at_1;
//
// Accuracy is the argmax of the loss's logits (the softmax family), else the nearest class mean
// of the training embeddings (triplet, centroid). Retrieval compares loss.metric_embedding(x).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "core/tensor.h"
#include "eval/metrics.h"
#include "io/mnist.h"
#include "losses/loss.h"
#include "nn/module.h"
#include "train/data.h"

namespace chalk {

struct EpochMetrics {
  int epoch = 0;                   // 1-based, as printed
  double train_loss = 0, test_loss = 0, test_accuracy = 0;
  double epoch_seconds = 0;        // training time of the epoch alone (no evaluation)
  double samples_per_second = 0;
  double lr = 0;
  RetrievalMetrics retrieval;
  double nmi = 0;
  double embedding_norm = 0;       // median L2 norm of the test set's model outputs (0: not measured)
  std::string to_json() const;     // one line of metrics.jsonl (its keys are frozen)
  static EpochMetrics from_json(const std::string& json);  // throws on a missing or mistyped field
};

// The line a run prints for an epoch, on `log`:
//   "epoch 3: train loss 0.1234 | test loss 0.1 | accuracy 0.97 | P@1 ... | NMI 0.9 | 2.51 s"
// trained = false: an evaluation alone (chalk-eval): no train loss or seconds, the lr instead.
void print_metrics(std::ostream& log, const EpochMetrics& m, bool trained = true);

// The model's outputs for a whole split, N x D, computed 256 images at a time in eval mode, no
// gradient (the model's mode is restored). flatten: the model takes images as rows [B, rows *
// cols] (nn::ModelEntry::flat_input), else [B, 1, rows, cols]. An empty split gives an undefined
// tensor.
Tensor embed(nn::Layer& model, const MnistSplit& split, bool flatten);

struct Evaluation {
  EpochMetrics metrics;                // test_loss, test_accuracy, retrieval, nmi, embedding_norm
  std::int64_t predicted_classes = 0;  // distinct classes among the test predictions (1: collapse)
  Tensor embeddings;  // N x D: loss.metric_embedding of the test outputs, the vectors retrieval compared
  Tensor labels;      // N, int64: their labels
};

// Score model + loss on data.test, no gradient: test loss (the loss on test batches of 1,000,
// averaged), accuracy, retrieval metrics and NMI (K-means seeded by `seed`) of
// loss.metric_embedding(outputs), and the outputs' median norm; it keeps those metric embeddings
// and their labels (chalk-eval --save-embeddings writes them). Leaves model and loss in
// training mode. epoch, lr, train_loss and the timings are the caller's to fill in.
Evaluation evaluate(nn::Layer& model, Loss& loss, const TrainingData& data, bool flatten, std::uint64_t seed);

// The median of the L2 norms of the rows of x (N x D float, N >= 1): the typical embedding
// length (EpochMetrics::embedding_norm). Throws chalk::Error for another rank, N = 0 or a
// non-float dtype.
double median_row_norm(const Tensor& x);

}  // namespace chalk
