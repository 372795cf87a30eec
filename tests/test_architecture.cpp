// tests/test_architecture.cpp — the shape of the code base, checked: every include points down
// a layer, no two files of one folder include each other, the training loop names no loss, sets
// no process-wide state, keeps its step on one screen and its parts in files of their own.
//
//   core <- ops <- (io) <- nn, eval <- losses <- train <- apps, demos, bench, tests
//   plot/ stands apart (it draws numbers; it includes nothing of chalk's but core/error.h)
//
// A folder may include its own files and those of any lower layer, never a peer's or a higher
// one's. Run: ctest --test-dir build -R Architecture
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "losses/loss.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

const fs::path kRoot = fs::path(CHALK_TEST_DIR).parent_path();

// The layer of each library folder (higher may include lower; equal only within the folder).
const std::map<std::string, int> kLayer = {{"core", 0}, {"ops", 1}, {"io", 1},     {"nn", 2},
                                           {"eval", 2}, {"losses", 3}, {"train", 4}, {"plot", 5}};

struct Include {
  std::string file;  // "ops/reduce.cpp"
  int line;
  std::string target;  // "ops/elementwise.h"
};

std::vector<Include> includes_of(const std::string& folder) {
  std::vector<Include> out;
  if (folder == "plot" && !fs::exists(kRoot / folder)) return out;  // plot/ is only in trees with the demos
  const std::regex inc(R"re(^\s*#\s*include\s*"([a-z_]+/[A-Za-z0-9_./]+)")re");
  for (const auto& entry : fs::directory_iterator(kRoot / folder)) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".h" && ext != ".cpp") continue;
    std::ifstream f(entry.path());
    std::string text;
    int n = 0;
    while (std::getline(f, text)) {
      ++n;
      std::smatch m;
      if (std::regex_search(text, m, inc)) out.push_back({folder + "/" + entry.path().filename().string(), n, m[1]});
    }
  }
  return out;
}

std::string folder_of(const std::string& path) { return path.substr(0, path.find('/')); }

}  // namespace

TEST(Architecture, EveryIncludePointsDownALayer) {
  int checked = 0;
  for (const auto& [folder, layer] : kLayer) {
    for (const Include& inc : includes_of(folder)) {
      const std::string to = folder_of(inc.target);
      auto it = kLayer.find(to);
      ASSERT_NE(it, kLayer.end()) << inc.file << ":" << inc.line << " includes " << inc.target
                                  << ", outside the library's layers";
      const bool ok = to == folder || it->second < layer || (folder == "plot" && inc.target == "core/error.h");
      EXPECT_TRUE(ok) << inc.file << ":" << inc.line << " includes " << inc.target << ": " << folder << "/ (layer "
                      << layer << ") may not include " << to << "/ (layer " << it->second << ")";
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);  // the scan found the library's includes
}

// Within a folder, file a including b's header and b including a's is a loop the folder's
// reader has to untangle (ops/elementwise <-> ops/reduce once was one). One pair is a loop by
// nature and allowed: a Tensor's backward() calls the engine, and the engine moves Tensors.
TEST(Architecture, NoTwoFilesOfAFolderIncludeEachOther) {
  const std::set<std::pair<std::string, std::string>> allowed = {{"core/tensor", "core/autograd"},
                                                                 {"core/autograd", "core/tensor"}};
  for (const auto& [folder, layer] : kLayer) {
    std::set<std::pair<std::string, std::string>> edges;  // (stem, stem)
    auto stem = [](const std::string& p) { return fs::path(p).replace_extension().string(); };
    for (const Include& inc : includes_of(folder))
      if (folder_of(inc.target) == folder && stem(inc.file) != stem(inc.target))
        edges.insert({stem(inc.file), stem(inc.target)});
    for (const auto& [a, b] : edges)
      EXPECT_FALSE(edges.count({b, a}) && !allowed.count({a, b})) << a << " and " << b << " include each other";
  }
}

namespace {

// The code lines of a source file (relative to the repository), each with its comment and
// trailing blanks cut off.
std::vector<std::string> code_lines(const fs::path& file) {
  std::ifstream f(kRoot / file);
  EXPECT_TRUE(f) << file;
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);) {
    line = line.substr(0, line.find("//"));
    line.erase(line.find_last_not_of(" \t") + 1);
    out.push_back(line);
  }
  return out;
}

// The .h and .cpp files of a folder, as paths relative to the repository.
std::vector<fs::path> sources_of(const std::string& folder) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(kRoot / folder)) {
    const std::string ext = entry.path().extension().string();
    if (ext == ".h" || ext == ".cpp") out.push_back(fs::path(folder) / entry.path().filename());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A function defined at namespace scope in a .cpp file: where it starts and how many lines it has.
struct Function {
  std::string head;  // its first line
  int line = 0, length = 0;
};

// The namespace-scope function definitions of a .cpp file in chalk's layout (clang-format: a
// definition starts at column 0 and its body closes with a "}" alone at column 0).
std::vector<Function> functions_of(const fs::path& file) {
  static const std::regex not_a_function(R"(^(namespace|using|template|struct|class|enum|static_assert|#|\}|//|\s|$))");
  const std::vector<std::string> lines = code_lines(file);
  std::vector<Function> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (std::regex_search(lines[i], not_a_function) || lines[i].find('(') == std::string::npos) continue;
    // the line that ends the signature: with '{' (a body follows), '}' (a one-line body) or ';'
    auto ends = [](const std::string& l) { return !l.empty() && (l.back() == '{' || l.back() == '}'); };
    std::size_t open = i;
    while (open < lines.size() && lines[open].find(';') == std::string::npos && !ends(lines[open])) ++open;
    if (open == lines.size() || !ends(lines[open])) continue;
    std::size_t close = open;
    if (lines[open].back() == '{')
      while (close < lines.size() && lines[close] != "}") ++close;
    out.push_back({lines[i], static_cast<int>(i) + 1, static_cast<int>(close - i) + 1});
    i = close;
  }
  return out;
}

}  // namespace

// The trainer asks the loss registry and the Loss interface; it never asks which loss it has.
TEST(Architecture, TheTrainerNamesNoLoss) {
  int scanned = 0;
  for (const fs::path& file : sources_of("train")) {
    const std::vector<std::string> lines = code_lines(file);  // comments may name losses
    for (std::size_t n = 0; n < lines.size(); ++n)
      for (const chalk::LossEntry& e : chalk::loss_registry())
        EXPECT_EQ(lines[n].find('"' + e.name + '"'), std::string::npos)
            << file << ":" << n + 1 << " names the loss \"" << e.name << "\": " << lines[n];
    ++scanned;
  }
  EXPECT_GE(scanned, 20);  // every part of train/: trainer, step, sampler, monitors, ...
}

// A loss's options are declared once, in the loss's own files: its options struct (the defaults)
// and its option table (names, help, allowed values; losses/options.h). Everything else reads
// them from the registry (LossEntry::options), so no other file may spell one: not chalk-train's
// flags, not train/ (config.json, checkpoints, resume, chalk-eval), not the registry, and no
// "--flag default" help text. The one exception is train/config_v1.cpp, the frozen description
// of config.json's earlier format.
TEST(Architecture, NoLossOptionIsDeclaredOutsideItsLoss) {
  std::vector<fs::path> consumers;
  for (const std::string folder : {"apps", "train"})
    for (const fs::path& file : sources_of(folder))
      if (file != fs::path("train/config_v1.cpp")) consumers.push_back(file);
  for (const char* file : {"losses/registry.cpp", "losses/loss.h", "losses/options.h", "losses/options.cpp"})
    consumers.emplace_back(file);
  int options = 0;
  for (const chalk::LossEntry& e : chalk::loss_registry())
    for (const chalk::OptionSpec& o : e.options) {
      ++options;
      const std::vector<std::string> spelled = {'"' + o.name + '"', '"' + o.flag(), o.flag() + " " + o.default_str()};
      for (const fs::path& file : consumers) {
        const std::vector<std::string> lines = code_lines(file);  // comments may name options
        for (std::size_t n = 0; n < lines.size(); ++n)
          for (const std::string& s : spelled)
            EXPECT_EQ(lines[n].find(s), std::string::npos)
                << file << ":" << n + 1 << " spells the " << e.name << " loss's option " << o.name << " (" << s
                << "); take it from the loss's table (find_loss(...).options, losses/options.h): " << lines[n];
      }
    }
  EXPECT_GE(options, 14);  // the scan saw the losses' options
  // Each loss's table is in a file of its own loss, one table per registry loss: none in the
  // registry, the interface or the option machinery.
  int tables = 0;
  for (const fs::path& file : sources_of("losses")) {
    const std::vector<std::string> lines = code_lines(file);
    for (std::size_t n = 0; n < lines.size(); ++n) {
      if (lines[n].find("static const OptionTable<") == std::string::npos) continue;
      ++tables;
      EXPECT_TRUE(file.stem() != "registry" && file.stem() != "loss" && file.stem() != "options")
          << file << ":" << n + 1 << " declares a loss's option table outside the loss's own files";
    }
  }
  EXPECT_EQ(tables, static_cast<int>(chalk::loss_registry().size())) << "one option table per loss of the registry";
}

// The thread count and the global generator belong to the process: a program sets them
// (chalk-train's main, the demos' Notebook). train/ is a library a program builds Trainers with,
// several in one process (demos 06 and 09 build dozens), so nothing in it may set either: not in a
// constructor, nor anywhere else. Its random draws use generators of their own, seeded from
// TrainConfig::seed.
TEST(Architecture, TrainSetsNoProcessWideState) {
  const std::regex setter(R"(\b(set_num_threads|set_adaptive_threads|manual_seed|global_generator|omp_set_num_threads|srand)\s*\()");
  for (const fs::path& file : sources_of("train")) {
    const std::vector<std::string> lines = code_lines(file);
    for (std::size_t n = 0; n < lines.size(); ++n)
      EXPECT_FALSE(std::regex_search(lines[n], setter))
          << file << ":" << n + 1 << " sets process-wide state (the program's to set): " << lines[n];
  }
}

// The training step is the function a student reads first (and will write as an exercise): the
// five calls of every training loop, on one screen, in their order.
TEST(Architecture, TheTrainingStepFitsOnAScreen) {
  const std::vector<Function> fns = functions_of("train/step.cpp");
  const auto step = std::find_if(fns.begin(), fns.end(), [](const Function& f) {
    return f.head.rfind("StepResult train_step(", 0) == 0;
  });
  ASSERT_NE(step, fns.end()) << "train/step.cpp defines no StepResult train_step(...)";
  EXPECT_LE(step->length, 30) << "train/step.cpp:" << step->line << ": train_step has grown to " << step->length
                              << " lines; what it does beyond forward, loss, zero_grad, backward, update belongs "
                                 "in a part of its own (train/monitors.h, train/trainer.cpp)";
  const std::vector<std::string> lines = code_lines("train/step.cpp");
  std::string body;
  for (int n = step->line - 1; n < step->line - 1 + step->length; ++n) body += lines[static_cast<std::size_t>(n)] + "\n";
  std::size_t at = 0;
  for (const char* call : {"model.forward(", "loss.forward(", "optimizer.zero_grad()", ".backward()", "optimizer.step()"}) {
    const std::size_t found = body.find(call, at);
    EXPECT_NE(found, std::string::npos) << "train_step does not call " << call << " after the calls before it:\n" << body;
    if (found != std::string::npos) at = found;
  }
}

// The Trainer was once one 958-line file whose run() was 78 lines: its parts now live in files
// named for them. A function in train/ that grows past a screen is a part asking for its name.
TEST(Architecture, NoFunctionInTrainIsLongerThanAScreen) {
  int functions = 0;
  for (const fs::path& file : sources_of("train")) {
    if (file.extension() != ".cpp") continue;
    for (const Function& f : functions_of(file)) {
      EXPECT_LE(f.length, 45) << file << ":" << f.line << " is " << f.length << " lines: " << f.head;
      ++functions;
    }
  }
  EXPECT_GT(functions, 40);  // the scan found the definitions
}

// P x K batches are decided in one place, train/sampler.h (pk_classes_per_batch, Sampler), which
// also says how many samples a batch holds: a program that draws its own (demo 09 once did, and
// re-derived P and K) drifts from what the Trainer trains on.
TEST(Architecture, OnlyTrainDrawsPKBatches) {
  for (const std::string folder : {"apps", "demos"}) {
    if (!fs::exists(kRoot / folder)) continue;
    for (const fs::path& file : sources_of(folder)) {
      const std::vector<std::string> lines = code_lines(file);
      for (std::size_t n = 0; n < lines.size(); ++n)
        EXPECT_EQ(lines[n].find("PKSampler"), std::string::npos)
            << file << ":" << n + 1 << " draws its own P x K batches; use the Trainer's (Trainer::sampler(), "
            << "train/sampler.h): " << lines[n];
    }
  }
}

// The data set is a value the Trainer is given (train/data.h): within train/, only data.cpp
// reads data files; every other part works on the TrainingData it is handed.
TEST(Architecture, OnlyTrainDataReadsDataFiles) {
  const std::regex reads(R"(\b(load_mnist|locate_dataset|locate_mnist|read_idx\w*)\s*\()");
  for (const fs::path& file : sources_of("train")) {
    if (file == fs::path("train/data.cpp")) continue;
    const std::vector<std::string> lines = code_lines(file);
    for (std::size_t n = 0; n < lines.size(); ++n)
      EXPECT_FALSE(std::regex_search(lines[n], reads))
          << file << ":" << n + 1 << " reads data files; take a TrainingData (train/data.h): " << lines[n];
  }
}

// One expect_error for every test program: tests/test_util.h's (it also fails when the function
// throws nothing, or something other than a chalk::Error). Local copies drifted apart (seven of
// them once, with three different failure messages); this fails when a test file defines one.
TEST(Architecture, NoTestFileDefinesItsOwnExpectError) {
  const std::regex definition(
      R"re(^\s*(template\s*<[^>]*>\s*)?((inline|static)\s+)*(void|bool|auto)\s+expect_error\s*\(|\bauto\s+expect_error\s*=|#\s*define\s+expect_error\b)re");
  int scanned = 0;
  for (const auto& entry : fs::directory_iterator(kRoot / "tests")) {
    const std::string ext = entry.path().extension().string(), name = entry.path().filename().string();
    if ((ext != ".h" && ext != ".cpp") || name == "test_util.h") continue;
    std::ifstream f(entry.path());
    std::string line;
    int n = 0;
    while (std::getline(f, line)) {
      ++n;
      EXPECT_FALSE(std::regex_search(line, definition))
          << "tests/" << name << ":" << n << " defines its own expect_error; use chalk::test_util::expect_error "
          << "(tests/test_util.h): " << line;
    }
    ++scanned;
  }
  EXPECT_GT(scanned, 20);  // the scan found the test sources
}

// README's Quick start is two commands: the first installs, builds chalk-train only and runs it
// on the shipped data; the second builds everything and runs the whole suite, and .ci/run calls
// it verbatim (so CI runs exactly what a new user is told to run).
TEST(Architecture, CiRunsReadmesTestCommandVerbatim) {
  const auto& text = chalk::test_util::read_text;
  const std::string readme = text(kRoot / "README.md"), ci = text(kRoot / ".ci/run");
  const auto start = readme.find("## Quick start");
  ASSERT_NE(start, std::string::npos) << "README.md has no '## Quick start'";
  std::vector<std::string> commands;
  for (std::size_t at = readme.find("```sh\n", start); at != std::string::npos && commands.size() < 2;
       at = readme.find("```sh\n", at + 1))
    commands.push_back(readme.substr(at + 6, readme.find('\n', at + 6) - (at + 6)));
  ASSERT_EQ(commands.size(), 2u) << "expected two ```sh blocks in README's Quick start";
  EXPECT_NE(commands[0].find("scripts/install-deps.sh"), std::string::npos) << commands[0];
  EXPECT_NE(commands[0].find("--target chalk-train"), std::string::npos) << "the first run builds what it runs: " << commands[0];
  EXPECT_NE(commands[0].find("build/chalk-train"), std::string::npos) << commands[0];
  EXPECT_NE(commands[1].find("ctest --test-dir build"), std::string::npos) << commands[1];
  EXPECT_NE(ci.find("\n" + commands[1] + "\n"), std::string::npos) << ".ci/run does not call README's test command: " << commands[1];
}
