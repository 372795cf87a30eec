// core/timing.cpp — CPU time per call of the calling thread (core/timing.h).
#include "core/timing.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>

#include "core/error.h"

namespace chalk {

double thread_cpu_seconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    fail("thread_cpu_seconds: clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: ", std::strerror(errno));
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double cpu_seconds_per_call(const std::function<void()>& f, double min_seconds) {
  if (!f) fail("cpu_seconds_per_call: no function to time");
  if (!(min_seconds > 0) || !std::isfinite(min_seconds))
    fail("cpu_seconds_per_call: min_seconds must be a positive number of seconds, got ", min_seconds);
  const double t0 = thread_cpu_seconds();
  long calls = 0;
  double elapsed = 0;
  do {
    f();
    ++calls;
    elapsed = thread_cpu_seconds() - t0;
  } while (elapsed < min_seconds);
  return elapsed / static_cast<double>(calls);
}

std::vector<double> best_cpu_seconds_per_call(const std::vector<TimedCall>& calls, double min_seconds) {
  int passes = 0;
  for (std::size_t k = 0; k < calls.size(); ++k) {
    if (calls[k].passes < 1)
      fail("best_cpu_seconds_per_call: call ", k, " has ", calls[k].passes, " passes; each needs at least 1");
    if (!calls[k].f) fail("best_cpu_seconds_per_call: call ", k, " has no function to time");
    passes = std::max(passes, calls[k].passes);
  }
  std::vector<double> best(calls.size(), std::numeric_limits<double>::infinity());
  for (int pass = 0; pass < passes; ++pass)
    for (std::size_t k = 0; k < calls.size(); ++k)
      if (pass < calls[k].passes) best[k] = std::min(best[k], cpu_seconds_per_call(calls[k].f, min_seconds));
  return best;
}

}  // namespace chalk
