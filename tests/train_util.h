// tests/train_util.h — what the tests that train share (kept out of test_util.h, which every
// test includes, so that a test of an op does not see the trainer's names).
#pragma once

#include <cstdint>
#include <string>

#include "test_util.h"
#include "train/trainer.h"

namespace chalk::test_util {

// A short training run's config on the shipped subset: 1 epoch of the first `limit_train` images,
// no progress bar, seed 7; threads 1 is only recorded (a Trainer leaves the thread count to the
// program: the test process's stays adaptive). Tests change what they test.
inline TrainConfig small_config(const std::string& loss = "softmax", std::int64_t limit_train = 1024) {
  TrainConfig c;
  c.data_dir = kSubset;
  c.loss = loss;
  c.epochs = 1;
  c.threads = 1;
  c.progress = false;
  c.limit_train = limit_train;
  c.seed = 7;
  return c;
}

}  // namespace chalk::test_util
