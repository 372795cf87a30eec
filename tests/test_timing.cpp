// tests/test_timing.cpp — core/timing.h: the calling thread's CPU clock and the best-of timings
// built on it. No test here depends on how fast the machine is: each checks what the clock
// counts (work, not waiting) and what the helpers call, how often, and in which order.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "core/timing.h"
#include "test_util.h"

using namespace chalk;
using chalk::test_util::expect_error;

namespace {
// Work the optimiser cannot remove: about a million floating-point operations.
double burn() {
  volatile double s = 0;
  for (int i = 0; i < 1000000; ++i) s = s + std::sqrt(static_cast<double>(i));
  return s;
}
}  // namespace

TEST(Timing, ThreadCpuClockCountsWorkNotWaiting) {
  const double t0 = thread_cpu_seconds();
  burn();
  const double t1 = thread_cpu_seconds();
  EXPECT_GT(t1, t0) << "a million square roots took no CPU time";
  // Sleeping is waiting: 200 ms asleep add (almost) nothing to this thread's CPU time, whatever
  // else runs on the machine. (A wall clock would advance by at least 0.2 s.)
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const double t2 = thread_cpu_seconds();
  EXPECT_GE(t2, t1);
  EXPECT_LT(t2 - t1, 0.1) << "the thread's CPU clock counted time spent asleep";
}

TEST(Timing, CpuSecondsPerCallRepeatsUntilTheMinimumHasPassed) {
  int calls = 0;
  const double t0 = thread_cpu_seconds();
  const double per_call = cpu_seconds_per_call([&] { ++calls; }, 0.01);
  const double spent = thread_cpu_seconds() - t0;
  EXPECT_GT(calls, 1) << "an empty function takes far less than 10 ms: it must be called many times";
  EXPECT_GT(per_call, 0);
  EXPECT_GE(per_call * calls, 0.01) << "the calls together took at least min_seconds of CPU time";
  EXPECT_LE(per_call * calls, spent);
  // a call longer than min_seconds is made once
  calls = 0;
  cpu_seconds_per_call([&] { ++calls, burn(); }, 1e-9);
  EXPECT_EQ(calls, 1);
}

TEST(Timing, BestOfInterleavedPassesCallsInOrder) {
  std::string order;
  const std::vector<double> best =
      best_cpu_seconds_per_call({{[&] { order += 'a', burn(); }, 3}, {[&] { order += 'b', burn(); }, 1}, {[&] { order += 'c', burn(); }, 2}},
                                1e-9);
  // each call takes far more than 1e-9 s, so each timing is one call: pass 0 times a, b, c; pass 1 a, c; pass 2 a
  EXPECT_EQ(order, "abcaca");
  ASSERT_EQ(best.size(), 3u);
  for (double b : best) EXPECT_TRUE(b > 0 && std::isfinite(b)) << b;
}

TEST(Timing, BadArgumentsAreErrors) {
  expect_error([] { cpu_seconds_per_call(nullptr); }, {"cpu_seconds_per_call", "no function"});
  expect_error([] { cpu_seconds_per_call([] {}, 0); }, {"cpu_seconds_per_call", "min_seconds", "positive", "0"});
  expect_error([] { cpu_seconds_per_call([] {}, NAN); }, {"cpu_seconds_per_call", "min_seconds", "nan"});
  expect_error([] { best_cpu_seconds_per_call({{[] {}, 1}, {[] {}, 0}}); },
               {"best_cpu_seconds_per_call", "call 1", "0 passes"});
  expect_error([] { best_cpu_seconds_per_call({{nullptr, 2}}); }, {"best_cpu_seconds_per_call", "call 0", "no function"});
  EXPECT_TRUE(best_cpu_seconds_per_call({}).empty());
}
