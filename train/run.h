// train/run.h — a whole training run as chalk-train does it: resume if asked, the epochs with a
// progress bar and a metrics line each, the monitors' warnings and stops, and in --out
// config.json, metrics.jsonl and the checkpoint after every epoch.
//
//   chalk::Trainer t(cfg);
//   chalk::EpochMetrics last = chalk::run_training(t, /*resume=*/false, std::cout);
#pragma once

#include <ostream>
#include <string>

#include "train/evaluate.h"
#include "train/trainer.h"

namespace chalk {

// Runs trainer from its first epoch not done to config().epochs, logging to `log` (the progress
// bar goes to stderr when config().progress). With out_dir set: refuses a folder that already
// holds a checkpoint unless `resume`; resume loads it (the config is the caller's: chalk-train
// merges it with resume_config). After each epoch: the metrics line, then the monitors (a
// non-finite parameter or, with stop_on_collapse, a collapse throws chalk::Error before the
// epoch's checkpoint is written; warnings are printed once per run), then the checkpoint and the
// run files (both atomic). Returns the last epoch's metrics.
EpochMetrics run_training(Trainer& trainer, bool resume, std::ostream& log);

// The thread count for a log: "2" (pinned), or "adaptive, 1 now (other processes used 1.0 of 2
// cores; 3 changes so far)".
std::string describe_threads();

}  // namespace chalk
