// tests/test_blas.cpp — chalk's programs run OpenBLAS's fast kernels (core/gemm.h,
// use_best_blas_kernels): Debian 12's OpenBLAS 0.3.21 falls back to its generic "Prescott"
// kernels on CPUs newer than itself, 2-4x slower.
#include <gtest/gtest.h>

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
