// demos/notebook.h — what every numbered demo shares: its flags, its report, its claims.
//
// A demo reads top to bottom like a notebook: prose cells (printed as the program runs and
// written to the report), code, numbers as tables, figures as SVG files beside the report,
// and the claim the demo demonstrates, checked. The run writes DIR/report.md; the program
// exits non-zero when a checked claim does not hold, so every demo is its own test.
//
//   int main(int argc, char** argv) {
//     chalk::demo::Notebook nb("06", "Triplet loss and mining");
//     int pairs = 3;                                    // demo-specific flags, if any:
//     nb.cli().add_option("--pairs", pairs, "...");
//     if (auto code = nb.parse(argc, argv)) return *code;   // --help, a bad flag, --describe
//     nb.markdown("A triplet loss pulls ...");               // a prose cell
//     chalk::TrainConfig cfg = nb.train_config();            // --data, --seed, --threads, --quick
//     ...
//     nb.table(t);                                           // a Markdown table
//     chalk::plot::lines(nb.figure_path("curves"), series, chalk::plot::axes("Loss", "epoch", "loss"));
//     nb.figure("curves", "Training loss per epoch: ...what to see in it...");
//     nb.check(p1 > 0.9, "batch-hard reaches P@1 > 0.9");    // the claim
//     return nb.finish();                                    // writes report.md; 0 iff every check held
//   }
//
// Standard flags (CLI11, as chalk-train): --quick (seconds, the shipped subset; the test suite
// runs this), --out DIR (default runs/demo-NN), --data DIR (full MNIST when given), --threads N,
// --seed N, and --describe (print the report's first line and exit; the gallery test uses it).
// A demo whose text holds for any data set calls add_dataset_flag() before parse() to take
// --dataset NAME as well (io/mnist.h); the others run on MNIST. Name classes to the reader with
// dataset().class_names ("7" for MNIST, "Sneaker" for Fashion-MNIST).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace chalk::demo {

// A Markdown table: header, then rows of cells (already formatted strings).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  Table& row(std::vector<std::string> cells) { rows.push_back(std::move(cells)); return *this; }
  std::string markdown() const;  // "| a | b |\n|---|---|\n| 1 | 2 |\n"
};

// Number formatting for cells: fixed with `digits` decimals, or scientific when |v| < 1e-3
// or >= 1e6 (and v != 0); "nan"/"inf" spelled out.
std::string fmt(double v, int digits = 4);
// A count with thousands separators, as the prose writes it: 60000 -> "60,000".
std::string count_str(std::int64_t n);
// The optimizer of a resolved config (TrainConfig::resolve, or a Trainer's config()), as the prose
// writes it: "SGD with momentum 0.9, learning rate 0.05, cosine schedule", "Adam, learning rate
// 0.001, constant schedule". A report states the settings its runs used, never a copy of the
// defaults that could drift from them. Throws chalk::Error for a config not yet resolved.
std::string optimizer_words(const TrainConfig& resolved);

class Notebook {
 public:
  // id: the two-digit number ("06"); title: the report's heading ("Triplet loss and mining").
  // The report's first line is "# Demo <id> — <title>".
  Notebook(std::string id, std::string title);

  // The CLI11 app: add demo-specific options before parse().
  CLI::App& cli() { return app_; }

  // Parses the flags. Returns an exit code for main to return at once (--help: 0, --describe: 0,
  // a bad flag: 2), else std::nullopt after creating the output folder, seeding chalk's
  // generator (manual_seed(seed)) and setting the thread count when --threads was given.
  // From then on an error no code catches (bad --data, a blank exercise in a student edition)
  // prints "demo NN: error: <what>" and exits 1 rather than aborting (std::set_terminate).
  std::optional<int> parse(int argc, char** argv);

  // Adds --dataset NAME (mnist | fashion-mnist; default mnist): call before parse().
  void add_dataset_flag();

  bool quick() const { return quick_; }
  std::uint64_t seed() const { return seed_; }
  int threads() const { return threads_; }
  // The data set the demo runs on: --dataset (add_dataset_flag), else the one whose folder --data
  // is (dataset_of_folder), else MNIST. Its name, display name and class names.
  const Dataset& dataset() const;
  // The data folder: --data, else the data set's shipped subset (never its full set unless asked).
  std::string data_dir() const;
  const std::string& out_dir() const { return out_; }
  // True when --data was given: the demo then works on full MNIST.
  bool full_data() const { return !data_.empty(); }

  // A TrainConfig with dataset, data_dir (--data, else the shipped subset), seed, threads set from the flags, out_dir empty (the demo
  // writes its own report), progress off. The demo sets the model, loss, epochs, and
  // limit_train for --quick runs.
  TrainConfig train_config() const;
  // The softmax classifier of demos 04 and 05: train_config() with the "softmax" loss on the
  // model's own 10 outputs (emb_dim 0, no head) for `epochs` epochs; in --quick mode on the
  // shipped subset, only the first `quick_limit` training images. The demo sets the model.
  TrainConfig softmax_config(int epochs, std::int64_t quick_limit) const;
  // The test split of data_dir() (demos 06 and 07 embed fixed test images from it).
  MnistSplit test_split() const;
  // How many training images a run with TrainConfig::limit_train = `limit` (0: all) trains on, so
  // that the prose states the count of the data it ran on (--data or the shipped subset).
  std::int64_t train_images(std::int64_t limit = 0) const;

  // ---- cells (each is printed to stdout as it is added and kept for the report) ----
  void markdown(const std::string& text);                     // prose; Markdown allowed
  void code(const std::string& text, const std::string& language = "cpp");  // a fenced block
  void output(const std::string& text);                       // program output, fenced as text
  void table(const Table& t);
  // DIR/<name>.svg — where a chart function should write figure `name`.
  std::string figure_path(const std::string& name) const;
  // Adds figure `name` (already written to figure_path(name)) with a caption that says what
  // to see in it. Throws chalk::Error if the file does not exist.
  void figure(const std::string& name, const std::string& caption);
  // A named number the tests and the closing note can read back: written to DIR/results.json
  // and listed at the end of the report.
  void result(const std::string& key, double value);

  // A claim the demo demonstrates: recorded in the report as "holds" or "FAILS" with the
  // detail (e.g. the measured numbers). Returns ok.
  bool check(bool ok, const std::string& claim, const std::string& detail = "");

  // Seconds since parse().
  double elapsed_seconds() const;

  // Writes DIR/report.md and DIR/results.json, prints a summary of the checks; returns 0 if
  // every check held, 1 otherwise (the demo's exit status).
  int finish();

 private:
  std::string id_, title_;
  std::string program_ = "demo";  // argv[0]'s file name, for the report's run line
  CLI::App app_;
  bool quick_ = false;
  std::string out_, data_;
  std::string dataset_ = "mnist";
  CLI::Option* dataset_option_ = nullptr;  // --dataset, when add_dataset_flag() added it
  int threads_ = 0;
  std::uint64_t seed_ = 0;
  std::string body_;
  std::vector<std::pair<std::string, double>> results_;
  std::vector<std::pair<bool, std::string>> checks_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace chalk::demo
