// core/machine.h — what a run ran on, for the run line of every report and log.
//
// Numbers move with the CPU and the OpenBLAS kernel (another kernel rounds otherwise, and a
// training run drifts apart from there: docs/performance.md, "Numbers across machines"), so a
// report that quotes numbers says where they came from: the source commit, the CPU, the
// instruction set chalk's own loops were compiled for and run on, the OpenBLAS kernel, and the
// thread count.
#pragma once

#include <string>

namespace chalk {

// The CPU, from /proc/cpuinfo: "Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 167)".
// "unknown CPU" where /proc/cpuinfo cannot be read. Throws nothing.
std::string cpu_model();

// The widest vector instruction set this CPU offers of those that matter for chalk's kernels:
// "AVX-512" (F, DQ, BW, VL: OpenBLAS's SkylakeX kernels), "AVX2+FMA" (its Haswell kernels),
// "SSE4.2" or "SSE2" (x86-64's baseline; its Prescott kernels). Throws nothing.
std::string cpu_isa();

// The commit of the source tree this binary was built from, read at run time with git:
// "8bdec5e1f2a3", with " + uncommitted changes" when tracked files differ from it, or
// "unknown (not a git checkout)" when git or the checkout is not there. Throws nothing.
std::string source_commit();

// One line for a report's or a log's run line:
// "commit 8bdec5e1f2a3, Intel(R) Xeon(R) ... (GenuineIntel family 6 model 167), AVX-512,
// OpenBLAS 0.3.21, SkylakeX kernels, 2 thread(s)". `threads` as the run used them (adaptive:
// the count when the line is written). Throws nothing.
std::string run_environment(int threads);

}  // namespace chalk
