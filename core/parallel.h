// core/parallel.h — OpenMP for element-wise loops and reductions.
//
// One thread pool for everything: chalk's OpenMP loops and OpenBLAS (built
// with OpenMP, Debian's libopenblas0-openmp) share the same OpenMP runtime,
// and chalk never calls GEMM from inside one of its own parallel regions
// except where the region is over images and BLAS then runs single-threaded
// (OpenMP BLAS does so by itself inside a parallel region). So `--threads 2`
// means two threads, not 2 x 2 fighting over two cores.
//
// Small loops run on the calling thread: below kParallelGrain elements the
// cost of waking threads is larger than the work.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace chalk {

// Element count below which a loop runs serially.
inline constexpr std::int64_t kParallelGrain = 32768;

// ---------------------------------------------------------------- how many threads
//
// Two modes.
//
// * Adaptive (the default, until set_num_threads is called): chalk uses the cores that no
//   other process is using, re-measured every kAdaptIntervalSeconds at the next parallel
//   loop or GEMM (adapt_threads). Why: OpenMP threads that wait for each other spin, so a
//   2-thread team on a 2-core machine where another program holds one core runs several
//   times slower than one thread would (measured in docs/performance.md, "Under load").
//   Measuring is reading /proc/stat and this process's CPU clock: over the last interval,
//   the other processes used `others` cores of the ones this process may run on (its
//   affinity mask), so `free = allowed - others` and the count becomes
//   threads_for_free_cores(free, cap). The cap is OpenMP's own maximum (OMP_NUM_THREADS,
//   else the core count). Changing the count never changes a result: every kernel of
//   chalk splits its work so the sums are the same for any thread count, and gemm cuts a
//   large product into tiles that depend on its shape only (core/gemm.cpp: OpenBLAS's own
//   split changes the last bit of some elements). Tests: ThreadInvariance.*,
//   Conv2d.SameResultForEveryThreadCount.
// * Fixed: set_num_threads(n) (chalk-train --threads n) pins the count; adapt_threads
//   then does nothing.

// Threads used by chalk's loops and by BLAS right now.
int num_threads();

// Pin the thread count to n >= 1 (leaves adaptive mode). Throws chalk::Error for n < 1.
void set_num_threads(int n);

// Back to adaptive mode, with at most max_threads threads (0: OpenMP's maximum).
// Throws chalk::Error for max_threads < 0.
void set_adaptive_threads(int max_threads = 0);

// True unless set_num_threads pinned the count.
bool adaptive_threads();

// Seconds between two measurements of the free cores in adaptive mode.
inline constexpr double kAdaptIntervalSeconds = 0.5;

// In adaptive mode, when the last measurement is older than kAdaptIntervalSeconds, measure
// the free cores and set the thread count (chalk's loops and BLAS). Cheap otherwise (one
// clock read). Does nothing inside a parallel region or in fixed mode. parallel_for, the
// convolutions and gemm call it; a program with its own loops need not.
void adapt_threads();

// The adaptive rule: threads = floor(free + 0.25), clamped to [1, cap]. A core counts as
// free when at least 3/4 of it is idle: 1.33 free cores (one other busy process competing
// with a 2-thread team on 2 cores) gives 1 thread, 1.8 gives 2. `free` in cores (may be
// fractional); cap >= 1.
int threads_for_free_cores(double free, int cap);

// What adaptive mode saw at its last measurement (for logs and bench/under_load.sh).
struct ThreadMeasurement {
  double allowed_cores = 0;  // cores this process may run on (affinity mask)
  double other_cores = 0;    // cores used by other processes over the interval (mean)
  int threads = 0;           // the count chosen
  std::int64_t measurements = 0, changes = 0;  // since the program started
};
ThreadMeasurement last_thread_measurement();

// Carries an exception out of an OpenMP parallel region, where it may not cross the region's
// end (the program would terminate): each thread runs its work through run(), the first
// exception is kept, and rethrow() throws it on the calling thread after the region. So an op's
// error (a bad shape, a NaN check, an exercise's stub) reaches the caller from any thread.
class FirstException {
 public:
  template <class F>
  void run(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!first_) first_ = std::current_exception();
    }
  }
  void rethrow() const {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr first_;
};

// Call f(begin, end) over [0, n) split into one contiguous chunk per thread,
// or once on the calling thread when n < grain or we are already inside a
// parallel region. An exception thrown by f on any thread is rethrown here. Chunks depend only on n and the thread count, so results
// are the same run after run.
template <class F>
void parallel_for(std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= 0) return;
#ifdef _OPENMP
  if (n >= grain && !omp_in_parallel()) {
    adapt_threads();
    const int nt = num_threads();
    if (nt > 1) {
      FirstException error;
#pragma omp parallel num_threads(nt)
      {
        const std::int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
        const std::int64_t chunk = (n + T - 1) / T;
        const std::int64_t b = t * chunk, e = std::min(n, b + chunk);
        if (b < e) error.run([&] { f(b, e); });
      }
      error.rethrow();
      return;
    }
  }
#endif
  f(std::int64_t{0}, n);
}

template <class F>
void parallel_for(std::int64_t n, F&& f) {
  parallel_for(n, kParallelGrain, static_cast<F&&>(f));
}

// dst[0, bytes) = src[0, bytes), one memcpy per thread: a single core cannot saturate the
// memory bandwidth on its own. (Tensor::clone; bench_core times it beside memcpy.)
inline void parallel_memcpy(void* dst, const void* src, std::int64_t bytes) {
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  parallel_for(bytes, 4 * kParallelGrain, [=](std::int64_t b, std::int64_t e) { std::memcpy(d + b, s + b, e - b); });
}

}  // namespace chalk
