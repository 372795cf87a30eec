#include "core/parallel.h"

#include "core/error.h"

#ifdef CHALK_HAVE_BLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace chalk {

namespace {
int g_threads = 0;  // 0: not set yet, use OpenMP's default
}

int num_threads() {
  if (g_threads > 0) return g_threads;
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  if (n < 1) fail("set_num_threads: expected a thread count >= 1, got ", n);
  g_threads = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
#ifdef CHALK_HAVE_BLAS
  openblas_set_num_threads(n);
#endif
}

}  // namespace chalk
