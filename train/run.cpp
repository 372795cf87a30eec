// train/run.cpp — chalk-train's whole run around a Trainer (train/run.h).
#include "train/run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "core/error.h"
#include "core/gemm.h"
#include "core/machine.h"
#include "core/parallel.h"
#include "io/atomic_file.h"
#include "train/checkpoint.h"
#include "train/monitors.h"

namespace chalk {

namespace fs = std::filesystem;

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

namespace {

// "epoch 3/10 [########------------] 234/469 loss 0.1234 | 51234 samples/s | ETA 4s"
class ProgressBar {
 public:
  ProgressBar(std::ostream& os, int epoch, int epochs, std::int64_t samples_per_batch, bool enabled)
      : os_(os), epoch_(epoch), epochs_(epochs), samples_per_batch_(samples_per_batch), enabled_(enabled),
        tty_(isatty(fileno(stderr)) && &os == &std::cerr), start_(std::chrono::steady_clock::now()) {}
  void operator()(std::int64_t done, std::int64_t total, double loss) {
    if (!enabled_) return;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = done * samples_per_batch_ / std::max(secs, 1e-9);
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
  std::int64_t samples_per_batch_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_;
};

// Where the run starts: epoch 0, or with `resume` the epochs the checkpoint in --out has done
// (loaded into t). Refuses to start a new run over an earlier run's checkpoint.
int start_epoch(Trainer& t, bool resume, const std::string& ckpt, std::ostream& log) {
  const TrainConfig& c = t.config();
  if (!c.out_dir.empty()) fs::create_directories(c.out_dir);
  if (!resume && !ckpt.empty() && fs::exists(ckpt))
    fail("--out ", c.out_dir, " already holds a checkpoint from an earlier run; pass --resume to continue it, "
         "or choose another --out (chalk never overwrites a run's last good checkpoint with a new run)");
  if (!resume) return 0;
  if (ckpt.empty()) fail("--resume needs --out DIR (the folder holding checkpoint.safetensors)");
  if (!fs::exists(ckpt)) fail("--resume: no checkpoint at ", ckpt);
  const TrainConfig stored = checkpoint_config(ckpt);
  const int start = t.load_checkpoint(ckpt);
  log << "resumed from " << ckpt << " after epoch " << start << "\n";
  if (c.epochs > stored.epochs && c.schedule != "constant")
    log << "note: extending a " << stored.epochs << "-epoch run to " << c.epochs << " epochs: from step "
        << t.global_step() << " on, the learning rate follows the " << c.schedule << " schedule of the longer run ("
        << t.schedule().lr_at(t.global_step()) << " now); the steps already taken followed the shorter one, so the "
        << "result differs from a run planned for " << c.epochs << " epochs (docs/training.md)\n";
  return start;
}

void print_header(Trainer& t, std::ostream& log) {
  log << "data: " << t.data().description << "\n"
      << "model: " << t.model().name() << " (" << t.model().num_parameters() << " parameters), loss: "
      << t.loss().name() << ", optimizer: " << t.optimizer().name() << ", lr schedule: " << t.schedule().describe()
      << ", threads: " << describe_threads() << "\n"
      << "BLAS: " << blas_description() << "\n"
      << "machine: commit " << source_commit() << ", " << cpu_model() << ", " << cpu_isa() << "\n";
}

// config.json, and metrics.jsonl rewritten from the checkpoint's own history after every save, so
// it never runs ahead of the checkpoint (a kill between the two leaves the older file, which the
// resumed run rewrites); both files are written atomically and a failed write fails the run.
void write_run_files(const Trainer& t) {
  const TrainConfig& c = t.config();
  if (c.out_dir.empty()) return;
  write_text_atomically(c.out_dir + "/config.json", c.to_json() + "\n", "run_training");
  std::string lines;
  for (const EpochMetrics& m : t.history()) lines += m.to_json() + "\n";
  write_text_atomically(c.out_dir + "/metrics.jsonl", lines, "run_training");
}

// One epoch trained (with the progress bar) and evaluated, with its time and throughput.
EpochMetrics train_and_evaluate(Trainer& t, int epoch) {
  const TrainConfig& c = t.config();
  ProgressBar bar(std::cerr, epoch + 1, c.epochs, t.samples_per_batch(), c.progress);
  const auto t0 = std::chrono::steady_clock::now();
  const double train_loss = t.train_epoch(epoch, [&](std::int64_t d, std::int64_t n, double l) { bar(d, n, l); });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EpochMetrics m = t.evaluate(epoch);
  m.train_loss = train_loss;
  m.epoch_seconds = secs;
  // what the epoch trained on (Sampler::samples_per_epoch): every training image once, or its P x K batches
  m.samples_per_second = static_cast<double>(t.sampler().samples_per_epoch()) / secs;
  return m;
}

// Which warnings the run has printed: each at most once (the embedding norm rarely shrinks again).
struct Warned {
  bool growth = false, dead_units = false;
};

// The epoch's monitors: a stop throws (before the epoch's checkpoint), a warning is printed.
void watch(const Trainer& t, const EpochMetrics& m, Warned& warned, std::ostream& log) {
  const TrainConfig& c = t.config();
  const std::string on = " (stop_on_collapse is off: training goes on).\n";
  const Finding finite = check_parameters_finite(t.model(), t.loss(), str_cat("after epoch ", m.epoch), t.global_step(), c);
  if (finite.stops()) throw TrainingStopped(finite.message);  // never save a checkpoint with NaN weights
  const Finding collapse = check_collapse(t.predicted_classes(), m, c);
  if (collapse.stops()) throw TrainingStopped(collapse.message);
  if (collapse.warns()) log << "warning: " << collapse.message << on;
  const Finding growth = check_embedding_growth(t.first_embedding_norm(), m, t.loss(), c);
  if (growth.warns() && !warned.growth) {
    log << "warning: " << growth.message << "\n";
    warned.growth = true;
  }
  if (!t.collapse_warning().empty() && !warned.dead_units) {  // the step monitor's finding, once per run
    log << "warning: " << t.collapse_warning() << on;
    warned.dead_units = true;
  }
}

}  // namespace

EpochMetrics run_training(Trainer& t, bool resume, std::ostream& log) {
  const TrainConfig& c = t.config();
  const std::string ckpt = c.out_dir.empty() ? "" : c.out_dir + "/checkpoint.safetensors";
  const int start = start_epoch(t, resume, ckpt, log);
  print_header(t, log);
  write_run_files(t);
  if (start >= c.epochs) log << "the run already has " << start << " of " << c.epochs << " epochs\n";
  EpochMetrics last = t.history().empty() ? EpochMetrics{} : t.history().back();
  Warned warned;
  for (int epoch = start; epoch < c.epochs; ++epoch) {
    last = train_and_evaluate(t, epoch);
    print_metrics(log, last);
    if (adaptive_threads() && last_thread_measurement().changes > 0) log << "threads: " << describe_threads() << "\n";
    watch(t, last, warned, log);
    t.record(last);
    if (!ckpt.empty()) {
      t.save_checkpoint(ckpt, epoch + 1);
      write_run_files(t);
    }
  }
  return last;
}

}  // namespace chalk
