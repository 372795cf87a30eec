// train/data.h — the data a Trainer is given: what the data set is (its name and class names)
// and its two splits.
//
//   chalk::TrainingData data = chalk::load_training_data(cfg);   // the data set cfg names
//   data.dataset.class_names[data.train.labels[0]];              // "5", or "Ankle boot"
//   data.num_classes();                                          // C, from the class names
//
// A program with data of its own fills a TrainingData itself: any number of classes, labels
// 0..C-1, images in MNIST's layout (bytes, one rows x cols image after another; io/mnist.h).
#pragma once

#include <cstdint>
#include <string>

#include "io/mnist.h"

namespace chalk {

struct TrainConfig;

struct TrainingData {
  Dataset dataset;          // what the labels mean: name, display name, class_names[k] for label k
  std::string description;  // one line for a log: "MNIST from data/mnist-subset (...)"
  MnistSplit train, test;
  std::int64_t num_classes() const { return dataset.num_classes(); }
};

// The data set a resolved config names (TrainConfig::dataset, data_dir; io/mnist.h's
// locate_dataset), both splits read, the training split cut to its first limit_train images when
// limit_train > 0. Throws chalk::Error naming the folder or file that is missing or damaged.
TrainingData load_training_data(const TrainConfig& config);

// The first n samples of a split (all of it when n >= split.n). Throws chalk::Error for n < 0.
MnistSplit first_samples(const MnistSplit& split, std::int64_t n);

// Throws chalk::Error (naming `who`, the split and the sample) unless both splits hold at least
// one image, every label is in 0..num_classes()-1, and the data set has at least 2 classes.
void check_training_data(const TrainingData& data, const char* who);

}  // namespace chalk
