// tests/test_blas.cpp — chalk's programs run OpenBLAS's fast kernels (core/gemm.h,
// use_best_blas_kernels): Debian 12's OpenBLAS 0.3.21 falls back to its generic "Prescott"
// kernels on CPUs newer than itself, 2-4x slower.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "core/gemm.h"
#include "test_util.h"

using namespace chalk;
using chalk::test_util::run_program;

TEST(Blas, DescriptionNamesTheLibraryAndItsKernels) {
  const std::string d = blas_description();
  if (!have_blas()) GTEST_SKIP() << "built without BLAS: " << d;
  EXPECT_NE(d.find("OpenBLAS"), std::string::npos) << d;
  EXPECT_NE(d.find(" kernels"), std::string::npos) << d;
}

TEST(Blas, ChalkTrainRunsVectorKernelsOnAVX2Machines) {
  if (!have_blas()) GTEST_SKIP() << "built without BLAS";
  __builtin_cpu_init();
  std::string log;
  ASSERT_EQ(run_program("chalk-train --epochs 1 --limit-train 256 --quiet --data " + test_util::kSubset + " --out " +
                            test_util::temp_dir("blas") + "/run",
                        &log),
            0)
      << log;
  const auto at = log.find("BLAS: ");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string line = log.substr(at, log.find('\n', at) - at);
  // A kernel the environment chose is the user's choice (the machine's set-up may set
  // OPENBLAS_CORETYPE, even to Prescott): chalk keeps it and says so. Otherwise chalk picks.
  if (const char* chosen = std::getenv("OPENBLAS_CORETYPE"); chosen != nullptr && *chosen != '\0') {
    EXPECT_NE(line.find(std::string("(OPENBLAS_CORETYPE=") + chosen + ")"), std::string::npos) << line;
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    EXPECT_EQ(line.find("Prescott"), std::string::npos) << "a CPU with AVX2 + FMA runs OpenBLAS's generic kernels: " << line;
  }
  std::cout << line << "\n";
}

// A made-up argv (a test driving a demo's Notebook in-process) must not re-run the program:
// had it, this process would be a fresh run of the test binary with CHALK_SET_OPENBLAS_CORETYPE
// set (on a CPU where OpenBLAS chose its generic kernels), and this test, run again, would see it.
TEST(Blas, MadeUpArgumentsDoNotReRunTheProgram) {
  char name[] = "demo_made_up", flag[] = "--quick";
  char* argv[] = {name, flag, nullptr};
  use_best_blas_kernels(2, argv);
  EXPECT_EQ(std::getenv("CHALK_SET_OPENBLAS_CORETYPE"), nullptr);
}

// `chalk-train --blas-info` prints the log's "BLAS:" line and exits: bench/blas_kernels.sh reads
// it to give PyTorch the kernels chalk chose (one place decides: use_best_blas_kernels).
TEST(Blas, BenchScriptsGivePyTorchTheKernelsChalkChose) {
  std::string info;
  ASSERT_EQ(run_program("chalk-train --blas-info", &info), 0) << info;
  if (!have_blas()) {
    EXPECT_EQ(info, std::string(gemm_backend()) + "\n");
    GTEST_SKIP() << "built without BLAS: " << info;
  }
  EXPECT_EQ(info.rfind("OpenBLAS ", 0), 0u) << info;
  EXPECT_NE(info.find(" kernels"), std::string::npos) << info;
  // The script, sourced in this test's own environment (a test never changes OPENBLAS_CORETYPE:
  // the machine's set-up may have chosen it, and then the script must keep it for both sides).
  const std::string out = test_util::temp_dir("blas_sh") + "/out.txt";
  const std::string cmd = "bash -c 'blas_kernels_train=" + std::string(CHALK_BINARY_DIR) + "/chalk-train; source " +
                          std::string(CHALK_TEST_DIR) +
                          "/../bench/blas_kernels.sh; echo \"${OPENBLAS_CORETYPE:-unset}\"; echo \"$blas_kernels_note\"' > " +
                          out + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out);
  std::string coretype, note;
  std::getline(in, coretype);
  std::getline(in, note);
  const char* given = std::getenv("OPENBLAS_CORETYPE");
  if (given != nullptr && *given != '\0') {
    EXPECT_EQ(coretype, given) << "the caller's OPENBLAS_CORETYPE must reach both sides unchanged";
    EXPECT_EQ(note, std::string("OPENBLAS_CORETYPE=") + given + " (set by the caller)");
  } else if (info.find("set by chalk") != std::string::npos) {
    // "OpenBLAS 0.3.21, SkylakeX kernels (OPENBLAS_CORETYPE set by chalk: ...)": the same name
    EXPECT_NE(info.find(", " + coretype + " kernels"), std::string::npos) << info << " vs " << coretype;
    EXPECT_NE(coretype, "unset");
  } else {
    EXPECT_EQ(coretype, "unset") << "OpenBLAS chose its own kernels (" << info << "): the script must leave them";
  }
}
