// core/timing.h — how long a call takes, in CPU time of the calling thread.
//
// On a shared machine a wall clock also counts the time other processes hold the core, which has
// nothing to do with the code being timed. The calling thread's CPU clock counts only the time the
// thread ran. It still counts interruptions the thread cannot see (cache misses, a hypervisor
// taking the core), which only ever add time: so the best of several timings, not their mean, is
// the estimate. The benchmarks in bench/ time with Google Benchmark; programs that time a few
// calls themselves (demos/07 fits the cost exponents of the triplet sum and of its bound) use these.
//
//   const auto best = chalk::best_cpu_seconds_per_call({{[&] { f(x); }, 5}, {[&] { g(x); }, 7}});
//   // best[0]: f's CPU seconds per call, the best of 5 timings; best[1]: g's, of 7
#pragma once

#include <functional>
#include <vector>

namespace chalk {

// CPU seconds the calling thread has used so far (POSIX clock_gettime(CLOCK_THREAD_CPUTIME_ID)).
// Only differences mean anything. Time the thread spends waiting (sleeping, blocked, or runnable
// while another process holds the core) is not counted. Throws chalk::Error if the clock cannot
// be read.
double thread_cpu_seconds();

// CPU seconds per call of f on the calling thread, from one timing: f is called until at least
// `min_seconds` of CPU time have passed (at least once), and the time is divided by the number of
// calls, so that a call of a few microseconds is not lost in the clock's resolution. Work f hands
// to other threads (OpenMP, OpenBLAS) is not counted: time single-threaded code, or set one thread
// (core/parallel.h) while timing. Throws chalk::Error for an empty f or a min_seconds that is not
// a positive finite number.
double cpu_seconds_per_call(const std::function<void()>& f, double min_seconds = 0.002);

// A function to time, and how many timings to take the best of.
struct TimedCall {
  std::function<void()> f;
  int passes = 1;
};

// The best (smallest) cpu_seconds_per_call of each function over its `passes` timings, taken in
// interleaved passes: pass p times every function that has more than p passes once, in the order
// given. A burst of interference then slows one pass, not every timing of one function (timed
// function after function, such a burst can bend a fitted cost curve at a few neighbouring
// sizes). Returns one value per function, in order. Throws chalk::Error for a function without
// passes (passes < 1) or an empty one, and as cpu_seconds_per_call.
std::vector<double> best_cpu_seconds_per_call(const std::vector<TimedCall>& calls, double min_seconds = 0.002);

}  // namespace chalk
