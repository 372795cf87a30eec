// tests/test_architecture.cpp — the shape of the code base, checked: every include points down
// a layer, no two files of one folder include each other, and the training loop names no loss.
//
//   core <- ops <- (io) <- nn, eval <- losses <- train <- apps, demos, bench, tests
//   plot/ stands apart (it draws numbers; it includes nothing of chalk's but core/error.h)
//
// A folder may include its own files and those of any lower layer, never a peer's or a higher
// one's. Run: ctest --test-dir build -R Architecture
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "losses/loss.h"

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

// The trainer asks the loss registry and the Loss interface; it never asks which loss it has.
TEST(Architecture, TheTrainerNamesNoLoss) {
  for (const char* file : {"train/trainer.cpp", "train/trainer.h", "train/batches.cpp", "train/batches.h"}) {
    std::ifstream f(kRoot / file);
    ASSERT_TRUE(f) << file;
    std::string line;
    int n = 0;
    while (std::getline(f, line)) {
      ++n;
      const std::string code = line.substr(0, line.find("//"));  // comments may name losses
      for (const chalk::LossEntry& e : chalk::loss_registry())
        EXPECT_EQ(code.find('"' + e.name + '"'), std::string::npos)
            << file << ":" << n << " names the loss \"" << e.name << "\": " << line;
    }
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
  auto text = [](const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
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
