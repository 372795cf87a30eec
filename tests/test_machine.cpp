// tests/test_machine.cpp — the run line of reports and logs says where the numbers came from
// (core/machine.h): commit, CPU, instruction set, OpenBLAS kernel, threads.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <string>

#include "core/gemm.h"
#include "core/machine.h"
#include "test_util.h"

using namespace chalk;

namespace {
std::string command_output(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}
}  // namespace

TEST(Machine, CpuModelIsProcCpuinfosWithFamilyAndModel) {
  const std::string m = cpu_model();
  std::ifstream f("/proc/cpuinfo");
  if (!f) {
    EXPECT_EQ(m, "unknown CPU");
    return;
  }
  EXPECT_TRUE(std::regex_search(m, std::regex(R"( \(\S+ family \d+ model \d+\)$)"))) << m;
  const std::string name = command_output("grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'");
  EXPECT_EQ(m.rfind(name, 0), 0u) << m << " should start with " << name;
}

TEST(Machine, IsaIsTheWidestTheCpuHas) {
  const std::string isa = cpu_isa();
  std::string flags = " ";
  flags.append(command_output("grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2-")).push_back(' ');
  auto has = [&](const std::string& f) {
    std::string key = " ";
    key.append(f).push_back(' ');
    return flags.find(key) != std::string::npos;
  };
  if (has("avx512f") && has("avx512dq") && has("avx512bw") && has("avx512vl")) EXPECT_EQ(isa, "AVX-512");
  else if (has("avx2") && has("fma")) EXPECT_EQ(isa, "AVX2+FMA");
  else if (has("sse4_2")) EXPECT_EQ(isa, "SSE4.2");
  else EXPECT_EQ(isa, "SSE2");
}

TEST(Machine, CommitIsTheCheckoutsHead) {
  const std::string dir = std::string(CHALK_TEST_DIR) + "/..";
  const std::string head = command_output("git -C '" + dir + "' rev-parse --short=12 HEAD 2>/dev/null");
  const std::string c = source_commit();
  if (head.empty()) {
    EXPECT_EQ(c, "unknown (not a git checkout)");
    return;
  }
  EXPECT_EQ(c.substr(0, head.size()), head) << c;
  const bool dirty = !command_output("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null").empty();
  EXPECT_EQ(c == head + " + uncommitted changes", dirty) << c;
}

TEST(Machine, RunEnvironmentNamesAllFive) {
  const std::string line = run_environment(3);
  EXPECT_EQ(line.rfind("commit " + source_commit() + ", ", 0), 0u) << line;
  EXPECT_NE(line.find(cpu_model()), std::string::npos) << line;
  EXPECT_NE(line.find(", " + cpu_isa() + ", "), std::string::npos) << line;
  EXPECT_NE(line.find(blas_description()), std::string::npos) << line;
  EXPECT_NE(line.find(", 3 thread(s)"), std::string::npos) << line;
}

// Every demo report says where it was made: the gallery test reads the run line, this one the
// machine line (demos/notebook.cpp writes both under the title).
TEST(Machine, ChalkTrainsLogNamesTheMachine) {
  std::string log;
  const std::string dir = test_util::temp_dir("machine");
  ASSERT_EQ(test_util::run_program("chalk-train --epochs 1 --limit-train 256 --threads 1 --quiet --data " +
                                       test_util::kSubset + " --out " + dir + "/run",
                                   &log),
            0)
      << log;
  EXPECT_NE(log.find("machine: commit " + source_commit() + ", " + cpu_model() + ", " + cpu_isa() + "\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("BLAS: " + blas_description()), std::string::npos) << log;
}
