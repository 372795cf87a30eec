// demos/notebook.cpp — the demos' shared flags, report writer and claim checks (notebook.h).
#include "demos/notebook.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/gemm.h"
#include "core/machine.h"
#include "core/parallel.h"
#include "core/random.h"
#include "io/mnist.h"

namespace chalk::demo {

namespace fs = std::filesystem;

namespace {

// The demo whose error the terminate handler names ("demo 04"); set by Notebook::parse.
std::string g_demo_name = "demo";

// A demo's main holds no try: an error that reaches the top of it — a --data folder without the
// four files, a damaged file, or, in a student edition, a function still blank ("exercise 05 is
// not done yet: ... — docs/exercises/05-....md") — ends here. It is printed as chalk-train prints
// errors, and the demo exits 1 (README: bad data exits 1), instead of the runtime's "terminate
// called after throwing" and an abort (status 134) that a student reads as a crash.
[[noreturn]] void report_uncaught_error() {
  std::cout.flush();
  if (const std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::cerr << g_demo_name << ": error: " << x.what() << "\n";
    } catch (...) {
      std::cerr << g_demo_name << ": error: an exception that is not a std::exception\n";
    }
    std::cerr.flush();
    std::_Exit(1);
  }
  std::cerr << g_demo_name << ": std::terminate called without an exception\n";
  std::abort();
}

}  // namespace

std::string Table::markdown() const {
  std::ostringstream os;
  os << "|";
  for (const auto& h : header) os << " " << h << " |";
  os << "\n|";
  for (std::size_t i = 0; i < header.size(); ++i) os << "---|";
  os << "\n";
  for (const auto& r : rows) {
    if (r.size() != header.size())
      fail("demo table: a row has ", r.size(), " cells, the header ", header.size());
    os << "|";
    for (const auto& c : r) os << " " << c << " |";
    os << "\n";
  }
  return os.str();
}

std::string count_str(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string optimizer_words(const TrainConfig& c) {
  if (c.optimizer.empty() || !(c.lr > 0)) fail("optimizer_words: the config is not resolved (TrainConfig::resolve)");
  auto g = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  std::string s = c.optimizer == "sgd"     ? "SGD with momentum " + g(c.momentum) + (c.nesterov ? " (Nesterov)" : "")
                  : c.optimizer == "adam"  ? std::string("Adam")
                  : c.optimizer == "adamw" ? std::string("AdamW")
                                           : c.optimizer;
  return s + ", learning rate " + g(c.lr) + ", " + c.schedule + " schedule";
}

std::string fmt(double v, int digits) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const double a = std::fabs(v);
  if (v != 0 && (a < 1e-3 || a >= 1e6)) std::snprintf(buf, sizeof buf, "%.*e", std::max(digits - 1, 1), v);
  else std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

Notebook::Notebook(std::string id, std::string title)
    : id_(std::move(id)), title_(std::move(title)), app_("demo " + id_ + ": " + title_) {
  out_ = "runs/demo-" + id_;
  app_.add_flag("--quick", quick_, "seconds on the shipped subset (what the test suite runs)");
  app_.add_option("--out", out_, "folder for report.md and its figures")->capture_default_str();
  app_.add_option("--data", data_, "folder with the four files of MNIST's format (the full set); default: the shipped subset");
  app_.add_option("--threads", threads_, "threads for chalk's loops and OpenBLAS (0: adaptive, the cores other processes leave free)")
      ->check(CLI::Range(0, 1024));
  app_.add_option("--seed", seed_, "random seed")->capture_default_str();
  app_.add_flag_callback("--describe", [this] { throw CLI::Success(); },
                         "print the report's first line and exit");
}

std::optional<int> Notebook::parse(int argc, char** argv) {
  use_best_blas_kernels(argc, argv);  // OpenBLAS's fast kernels on CPUs it does not know (core/gemm.h)
  g_demo_name = "demo " + id_;
  std::set_terminate(report_uncaught_error);  // an error from the demo's body: its message, exit 1
  try {
    app_.parse(argc, argv);
  } catch (const CLI::Success& e) {
    if (app_.count("--describe")) {
      std::cout << "# Demo " << id_ << " — " << title_ << "\n";
      return 0;
    }
    return app_.exit(e);
  } catch (const CLI::ParseError& e) {
    // --help: 0; a bad flag: its usage message and status 2 (CLI11's own codes are 100..127)
    return app_.exit(e) == 0 ? 0 : 2;
  }
  if (argc > 0) program_ = fs::path(argv[0]).filename().string();
  // As chalk-train: a --data folder where chalk finds a data set names it, unless --dataset did.
  if (!data_.empty() && (dataset_option_ == nullptr || dataset_option_->count() == 0)) {
    if (const std::string of_folder = dataset_of_folder(data_); !of_folder.empty()) dataset_ = of_folder;
  }
  try {
    fs::create_directories(out_);
  } catch (const std::exception& e) {
    std::cerr << "demo " << id_ << ": cannot create --out " << out_ << ": " << e.what() << "\n";
    return 1;
  }
  if (threads_ > 0) set_num_threads(threads_);
  manual_seed(seed_);
  start_ = std::chrono::steady_clock::now();
  std::cout << "# Demo " << id_ << " — " << title_ << (quick_ ? "  (--quick)" : "") << "\n\n";
  return std::nullopt;
}

void Notebook::add_dataset_flag() {
  std::string names;
  for (const std::string& n : dataset_names()) names += (names.empty() ? "" : " | ") + n;
  dataset_option_ = app_.add_option("--dataset", dataset_, "data set: " + names + " (its shipped subset unless --data)")
      ->check(CLI::IsMember(dataset_names()))
      ->capture_default_str();
}

const Dataset& Notebook::dataset() const { return find_dataset(dataset_); }

std::string Notebook::data_dir() const { return data_.empty() ? subset_dir(dataset_) : data_; }

TrainConfig Notebook::train_config() const {
  TrainConfig c;
  // the shipped subset unless --data was given (even where data/mnist-full has been fetched):
  // the demos' budgets and reports are for the subset
  c.dataset = dataset_;
  c.data_dir = data_dir();
  c.seed = seed_;
  c.threads = threads_;
  c.out_dir.clear();
  c.progress = false;
  c.stop_on_collapse = false;  // the demos show what training does, collapse included (chalk-train stops)
  return c;
}

TrainConfig Notebook::softmax_config(int epochs, std::int64_t quick_limit) const {
  TrainConfig c = train_config();
  c.loss = "softmax";
  c.emb_dim = 0;
  c.epochs = epochs;
  if (quick_ && !full_data()) c.limit_train = quick_limit;
  return c;
}

MnistSplit Notebook::test_split() const {
  return load_mnist(locate_dataset(dataset(), data_dir()).dir, /*train=*/false);
}

std::int64_t Notebook::train_images(std::int64_t limit) const {
  const std::int64_t n = load_mnist(locate_dataset(dataset(), data_dir()).dir, /*train=*/true).n;
  return limit > 0 ? std::min(limit, n) : n;
}

void Notebook::markdown(const std::string& text) {
  std::cout << text << "\n\n";
  body_ += text + "\n\n";
}

void Notebook::code(const std::string& text, const std::string& language) {
  std::cout << text << "\n\n";
  body_ += "```" + language + "\n" + text + "\n```\n\n";
}

void Notebook::output(const std::string& text) {
  std::cout << text << "\n\n";
  body_ += "```text\n" + text + "\n```\n\n";
}

void Notebook::table(const Table& t) {
  const std::string md = t.markdown();
  std::cout << md << "\n";
  body_ += md + "\n";
}

std::string Notebook::figure_path(const std::string& name) const { return (fs::path(out_) / (name + ".svg")).string(); }

void Notebook::figure(const std::string& name, const std::string& caption) {
  const std::string path = figure_path(name);
  if (!fs::exists(path)) fail("demo ", id_, ": figure '", name, "' was not written (expected ", path, ")");
  std::cout << "[figure " << path << "] " << caption << "\n\n";
  body_ += "![" + name + "](" + name + ".svg)\n\n*Figure: " + caption + "*\n\n";
}

void Notebook::result(const std::string& key, double value) { results_.emplace_back(key, value); }

bool Notebook::check(bool ok, const std::string& claim, const std::string& detail) {
  checks_.emplace_back(ok, claim + (detail.empty() ? "" : " (" + detail + ")"));
  const std::string line = std::string(ok ? "**holds**: " : "**FAILS**: ") + checks_.back().second;
  std::cout << (ok ? "claim holds: " : "CLAIM FAILS: ") << checks_.back().second << "\n\n";
  body_ += "> " + line + "\n\n";
  return ok;
}

double Notebook::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

int Notebook::finish() {
  int failed = 0;
  for (const auto& c : checks_) failed += c.first ? 0 : 1;
  const double secs = elapsed_seconds();
  std::ostringstream os;
  os << "# Demo " << id_ << " — " << title_ << "\n\n";
  const std::string name = dataset().display_name;
  os << "*Run: `" << program_ << (quick_ ? " --quick" : "") << (dataset_ == "mnist" ? "" : " --dataset " + dataset_)
     << " --seed " << seed_ << "`"
     << (data_.empty() ? " on the shipped " + name + " subset" : " on the " + name + " files in " + data_) << ", "
     << num_threads()
     << " thread(s), " << fmt(secs, 1) << " s.*\n\n";
  // Where the numbers came from: they move with the CPU and the OpenBLAS kernel (docs/performance.md).
  const std::string machine = run_environment(num_threads());
  os << "*Machine: " << machine << ".*\n\n";
  os << body_;
  os << "## Claims checked\n\n";
  if (checks_.empty()) os << "(none)\n";
  for (const auto& c : checks_) os << "- " << (c.first ? "holds" : "**FAILS**") << ": " << c.second << "\n";
  if (!results_.empty()) {
    os << "\n## Numbers\n\n| key | value |\n|---|---|\n";
    for (const auto& [k, v] : results_) os << "| " << k << " | " << fmt(v, 6) << " |\n";
  }
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : results_) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(fmt(v));
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : checks_) checks.push_back({{"claim", c.second}, {"holds", c.first}});
  const nlohmann::json all = {{"demo", id_}, {"title", title_}, {"quick", quick_}, {"seed", seed_},
                              {"seconds", secs}, {"machine", machine}, {"results", j}, {"checks", checks}};
  const auto write = [&](const std::string& name, const std::string& text) {
    const fs::path path = fs::path(out_) / name;
    std::ofstream f(path);
    f << text;
    f.flush();
    if (!f) fail("demo ", id_, ": could not write ", path.string());
  };
  write("report.md", os.str());
  write("results.json", all.dump(2) + "\n");
  std::cout << "report: " << (fs::path(out_) / "report.md").string() << " (" << fmt(secs, 1) << " s); "
            << checks_.size() - failed << "/" << checks_.size() << " claims hold\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace chalk::demo
