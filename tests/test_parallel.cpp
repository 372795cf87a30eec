// tests/test_parallel.cpp — the thread count: adaptive (the default) and pinned (core/parallel.h).
//
// This program runs alone (RUN_SERIAL in CMakeLists.txt): one of its tests starts a busy
// process and checks that chalk sees it, which another test running beside it would blur.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "core/parallel.h"
#include "test_util.h"

using namespace chalk;
using chalk::test_util::expect_error;

TEST(Parallel, ThreadsForFreeCores) {
  // a core counts when at least 3/4 of it is free
  EXPECT_EQ(threads_for_free_cores(2.0, 2), 2);
  EXPECT_EQ(threads_for_free_cores(1.8, 2), 2);
  EXPECT_EQ(threads_for_free_cores(1.75, 2), 2);
  EXPECT_EQ(threads_for_free_cores(1.74, 2), 1);
  EXPECT_EQ(threads_for_free_cores(1.33, 2), 1);  // one busy process beside a 2-thread team on 2 cores
  EXPECT_EQ(threads_for_free_cores(0.67, 2), 1);  // never fewer than one
  EXPECT_EQ(threads_for_free_cores(0.0, 2), 1);
  EXPECT_EQ(threads_for_free_cores(7.9, 4), 4);   // never more than the cap
  EXPECT_EQ(threads_for_free_cores(5.2, 8), 5);
  EXPECT_EQ(threads_for_free_cores(std::nan(""), 3), 3);  // no reading: the maximum
  expect_error([] { threads_for_free_cores(1.0, 0); }, {"threads_for_free_cores", "cap >= 1", "0"});
}

// An op that fails on one of its threads (a bad value found mid-loop, an exercise's stub) must
// reach the caller as its chalk::Error: an exception leaving an OpenMP region ends the program.
TEST(Parallel, AnErrorInOneThreadReachesTheCaller) {
  set_num_threads(2);
  for (const std::int64_t failing : {std::int64_t{0}, std::int64_t{999}}) {  // the first and the last chunk
    expect_error([failing] {
      parallel_for(1000, 1, [failing](std::int64_t b, std::int64_t e) {
        if (b <= failing && failing < e) fail("element ", failing, " is bad");
      });
    }, {"element", "is bad"});
  }
  int calls = 0;  // and a loop that does not fail still runs every element
  std::vector<int> seen(1000, 0);
  parallel_for(1000, 1, [&seen](std::int64_t b, std::int64_t e) { for (auto i = b; i < e; ++i) seen[i] = 1; });
  for (int v : seen) calls += v;
  EXPECT_EQ(calls, 1000);
  set_adaptive_threads();
}

TEST(Parallel, SetNumThreadsPinsTheCountAndAdaptiveComesBack) {
  set_num_threads(1);
  EXPECT_FALSE(adaptive_threads());
  EXPECT_EQ(num_threads(), 1);
  adapt_threads();  // pinned: does nothing
  EXPECT_EQ(num_threads(), 1);
  set_adaptive_threads(2);
  EXPECT_TRUE(adaptive_threads());
  EXPECT_EQ(num_threads(), 2);  // the maximum until the first measurement
  expect_error([] { set_num_threads(0); }, {"set_num_threads", ">= 1", "0"});
  expect_error([] { set_adaptive_threads(-1); }, {"set_adaptive_threads", ">= 0", "-1"});
}

namespace {
// Call adapt_threads until it has made `n` more measurements (one every kAdaptIntervalSeconds).
ThreadMeasurement measure(int n) {
  const std::int64_t target = last_thread_measurement().measurements + n;
  for (int k = 0; k < 100 && last_thread_measurement().measurements < target; ++k) {
    adapt_threads();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return last_thread_measurement();
}
}  // namespace

TEST(Parallel, AdaptiveThreadsSeeAnotherBusyProcess) {
  set_adaptive_threads(0);
  const ThreadMeasurement quiet = measure(2);
  ASSERT_GE(quiet.measurements, 2) << "no measurement: /proc/stat unreadable?";
  ASSERT_GE(quiet.allowed_cores, 1);
  if (quiet.allowed_cores < 2) GTEST_SKIP() << "one core: nothing to adapt";
  if (quiet.other_cores > 0.3)
    GTEST_SKIP() << "the machine is busy (" << quiet.other_cores << " cores used by other processes): "
                 << "a busy process of the test's own would not show";
  const int cores = static_cast<int>(quiet.allowed_cores);
  set_adaptive_threads(cores);  // at most one thread per core we may use
  // one busy process (as `yes > /dev/null` would be) on one of our cores
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    volatile unsigned long spin = 0;
    for (;;) spin = spin + 1;
  }
  const ThreadMeasurement busy = measure(3);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  // it used about one core (a little less when the machine's other work took some)
  EXPECT_GE(busy.other_cores, 0.7) << "quiet: " << quiet.other_cores << " cores used by others";
  EXPECT_EQ(busy.threads, threads_for_free_cores(busy.allowed_cores - busy.other_cores, cores));
  if (busy.allowed_cores == 2) {
    EXPECT_EQ(num_threads(), 1) << "2 cores, one taken: one thread";
  }
  // and when it is gone, the cores come back
  const ThreadMeasurement after = measure(3);
  EXPECT_LT(after.other_cores, busy.other_cores - 0.5);
  EXPECT_GT(num_threads(), busy.threads);
  EXPECT_GE(after.changes, busy.changes + 1);
}
