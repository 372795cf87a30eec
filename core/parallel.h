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

#ifdef _OPENMP
#include <omp.h>
#endif

namespace chalk {

// Element count below which a loop runs serially.
inline constexpr std::int64_t kParallelGrain = 32768;

// Threads used by chalk's loops and by BLAS. Default: what OpenMP chose
// (OMP_NUM_THREADS, else the number of cores).
int num_threads();
void set_num_threads(int n);

// Call f(begin, end) over [0, n) split into one contiguous chunk per thread,
// or once on the calling thread when n < grain or we are already inside a
// parallel region. Chunks depend only on n and the thread count, so results
// are the same run after run.
template <class F>
void parallel_for(std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= 0) return;
#ifdef _OPENMP
  const int nt = num_threads();
  if (n >= grain && nt > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(nt)
    {
      const std::int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
      const std::int64_t chunk = (n + T - 1) / T;
      const std::int64_t b = t * chunk, e = std::min(n, b + chunk);
      if (b < e) f(b, e);
    }
    return;
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
