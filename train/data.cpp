// train/data.cpp — loading the data a run names, and checking data a program gives (train/data.h).
#include "train/data.h"

#include <algorithm>

#include "core/error.h"
#include "train/config.h"

namespace chalk {

TrainingData load_training_data(const TrainConfig& config) {
  const MnistLocation where = locate_dataset(find_dataset(config.dataset), config.data_dir);
  TrainingData data{where.dataset, where.description, load_mnist(where.dir, true), load_mnist(where.dir, false)};
  if (config.limit_train > 0) data.train = first_samples(data.train, config.limit_train);
  return data;
}

MnistSplit first_samples(const MnistSplit& split, std::int64_t n) {
  if (n < 0) fail("first_samples: expected n >= 0, got ", n);
  MnistSplit head = split;
  head.n = std::min(split.n, n);
  head.images.resize(static_cast<std::size_t>(head.n * head.rows * head.cols));
  head.labels.resize(static_cast<std::size_t>(head.n));
  return head;
}

void check_training_data(const TrainingData& data, const char* who) {
  const std::int64_t C = data.num_classes();
  if (C < 2) fail(who, ": the data set '", data.dataset.name, "' has ", C, " class name(s); expected at least 2");
  for (const auto* split : {&data.train, &data.test}) {
    const char* name = split == &data.train ? "training" : "test";
    if (split->n < 1) fail(who, ": the ", name, " split of '", data.dataset.name, "' holds no image");
    if (static_cast<std::int64_t>(split->labels.size()) != split->n ||
        static_cast<std::int64_t>(split->images.size()) != split->n * split->rows * split->cols)
      fail(who, ": the ", name, " split of '", data.dataset.name, "' says n = ", split->n, " images of ", split->rows,
           " x ", split->cols, " but holds ", split->labels.size(), " labels and ", split->images.size(), " pixels");
    for (std::int64_t i = 0; i < split->n; ++i)
      if (split->labels[i] < 0 || split->labels[i] >= C)
        fail(who, ": label ", split->labels[i], " of ", name, " sample ", i, " is outside 0..", C - 1, " (the ", C,
             " classes of '", data.dataset.name, "')");
  }
}

}  // namespace chalk
