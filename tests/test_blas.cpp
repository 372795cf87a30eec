// tests/test_blas.cpp — chalk's programs run OpenBLAS's fast kernels (core/gemm.h,
// use_best_blas_kernels): Debian 12's OpenBLAS 0.3.21 falls back to its generic "Prescott"
// kernels on CPUs newer than itself, 2-4x slower.
#include <gtest/gtest.h>

#include <cstdlib>
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
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
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
