#include "core/gemm.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"

#ifdef CHALK_HAVE_BLAS
#include <cblas.h>
#endif

namespace chalk {

// ---------------------------------------------------------------------------
// The plain twin: a cache-blocked GEMM.
//
// C = beta C first, then for each block of k (kKc rows of op(B)) and of j
// (kNc columns), op(B)'s block is copied ("packed") into a contiguous buffer
// Bp (kKc x kNc, row-major) so the innermost loop reads it with stride 1
// whatever trans_b is. Then every row i of C gets
//     C[i, j] += sum_k (alpha op(A)[i, k]) Bp[k, j]
// with j innermost, which the compiler vectorises. Rows of C are split
// across threads (each thread writes its own rows: no races).
// ---------------------------------------------------------------------------
template <class T>
void gemm_blocked(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
                  T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta,
                  T* C, std::int64_t ldc) {
  constexpr std::int64_t kKc = 256, kNc = 512;
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
  if (alpha == T(0) || K == 0) return;

  std::vector<T> Bp(static_cast<std::size_t>(kKc * kNc));
  for (std::int64_t k0 = 0; k0 < K; k0 += kKc) {
    const std::int64_t kb = std::min(kKc, K - k0);
    for (std::int64_t j0 = 0; j0 < N; j0 += kNc) {
      const std::int64_t jb = std::min(kNc, N - j0);
      // pack op(B)[k0:k0+kb, j0:j0+jb]
      for (std::int64_t k = 0; k < kb; ++k)
        for (std::int64_t j = 0; j < jb; ++j)
          Bp[k * jb + j] = trans_b ? B[(j0 + j) * ldb + (k0 + k)] : B[(k0 + k) * ldb + (j0 + j)];
      parallel_for(M, std::max<std::int64_t>(1, kParallelGrain / (jb * kb)), [&](std::int64_t ib, std::int64_t ie) {
        for (std::int64_t i = ib; i < ie; ++i) {
          T* c = C + i * ldc + j0;
          for (std::int64_t k = 0; k < kb; ++k) {
            const T a = alpha * (trans_a ? A[(k0 + k) * lda + i] : A[i * lda + (k0 + k)]);
            const T* b = Bp.data() + k * jb;
            for (std::int64_t j = 0; j < jb; ++j) c[j] += a * b[j];
          }
        }
      });
    }
  }
}

template <class T>
void gemm_blas(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
               T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
               std::int64_t ldc) {
#ifdef CHALK_HAVE_BLAS
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
  (void)trans_a, (void)trans_b, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda,
      (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
  fail("gemm_blas: chalk was built without BLAS (CMake did not find OpenBLAS)");
#endif
}

// ---------------------------------------------------------------------------
// The same numbers for every thread count.
//
// OpenBLAS splits a large GEMM over its threads by rows or columns, and the rows at the
// edge of a thread's share go through its edge kernels, which round differently: so with
// 1 and 2 threads some elements differ in the last bit (many shapes do, e.g. 128 x 784
// times 784 x 10). chalk's thread count changes while a run trains (adaptive
// threads, core/parallel.h), so gemm() splits a large product itself, into tiles that depend
// on the shape only: each tile is one single-threaded BLAS call (OpenBLAS runs single-threaded
// inside a parallel region), and the threads share the tiles. One thread computes the same
// tiles one after the other. Small products (<= kGemmTileMacs multiply-adds, where OpenBLAS
// itself uses one thread) are one call.
//
// Tiles: at least 2, about kGemmMacsPerTile multiply-adds each, a power of two of them (up to 16, equal
// shares for 2 or 4 threads), edges on multiples of 16.
// Which side is split: the output rows (then every tile packs all of op(B) again) or the
// output columns (every tile packs op(A) again), whichever repacks less.
// ---------------------------------------------------------------------------
namespace {
constexpr double kGemmTileMacs = 262144;      // OpenBLAS 0.3's own single-thread limit (65536 x 4)
constexpr double kGemmMacsPerTile = 16777216;  // about 0.3 ms of work on one core (AVX-512), 1 ms (SSE)
constexpr std::int64_t kGemmTileAlign = 16;   // tile edges on multiples of 16 rows/columns
constexpr std::int64_t kGemmMaxTiles = 16;

struct GemmTiling {
  bool split_rows = true;
  std::int64_t tiles = 1, size = 0;  // tile count and rows (or columns) per tile
};

GemmTiling gemm_tiling(std::int64_t M, std::int64_t N, std::int64_t K) {
  GemmTiling t;
  const double macs = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  if (macs <= kGemmTileMacs) return t;
  t.split_rows = M >= N;  // split the longer side: repack the smaller operand
  const std::int64_t side = t.split_rows ? M : N;
  const std::int64_t wanted = std::clamp<std::int64_t>(static_cast<std::int64_t>(macs / kGemmMacsPerTile), 2, kGemmMaxTiles);
  const std::int64_t most = std::max<std::int64_t>(1, side / kGemmTileAlign);
  // a power of two, so that 2 or 4 threads get equal shares
  std::int64_t tiles = 1;
  while (tiles * 2 <= std::min(wanted, most)) tiles *= 2;
  t.size = (side + tiles - 1) / tiles;
  t.size = (t.size + kGemmTileAlign - 1) / kGemmTileAlign * kGemmTileAlign;
  t.tiles = (side + t.size - 1) / t.size;
  return t;
}
}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc) {
  if (M == 0 || N == 0) return;
  adapt_threads();  // adaptive mode: follow the free cores (core/parallel.h); no-op in a parallel region
#ifdef CHALK_HAVE_BLAS
  if (K > 0) {
    const GemmTiling t = gemm_tiling(M, N, K);
#ifdef _OPENMP
    const bool nested = omp_in_parallel();
#else
    const bool nested = true;
#endif
    if (t.tiles <= 1) {  // one call (OpenBLAS runs it on one thread: it is at most its own limit)
      gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    }
    // tile i: rows (or columns) [i size, min((i + 1) size, side)) of C
    auto tile = [&](std::int64_t i) {
      const std::int64_t b = i * t.size;
      if (t.split_rows) {  // op(A) rows b..e: A + b * lda (no trans) or A + b (trans)
        const std::int64_t m = std::min(t.size, M - b);
        gemm_blas(trans_a, trans_b, m, N, K, alpha, trans_a ? A + b : A + b * lda, lda, B, ldb, beta, C + b * ldc, ldc);
      } else {  // op(B) columns b..e: B + b (no trans) or B + b * ldb (trans)
        const std::int64_t n = std::min(t.size, N - b);
        gemm_blas(trans_a, trans_b, M, n, K, alpha, A, lda, trans_b ? B + b * ldb : B + b, ldb, beta, C + b, ldc);
      }
    };
    // Inside a parallel region (conv2d's loop over images) the same tiles run one after the
    // other on this thread: the tiles, and so the bits, depend on the shape alone, never on
    // whether the caller was parallel. (Calling OpenBLAS once there instead gave other edge
    // kernels than the tiled call outside: with OpenBLAS's Haswell kernels SmallCNN's weights
    // differed between 1 and 2 threads.)
    const int threads = nested ? 1 : static_cast<int>(std::min<std::int64_t>(num_threads(), t.tiles));
#ifdef _OPENMP
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::int64_t i = 0; i < t.tiles; ++i) tile(i);
      return;
    }
#endif
    for (std::int64_t i = 0; i < t.tiles; ++i) tile(i);
    return;
  }
#endif
  gemm_blocked(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#ifdef CHALK_HAVE_BLAS
extern "C" char* openblas_get_corename(void);
extern "C" char* openblas_get_config(void);
#endif

void use_best_blas_kernels(int argc, char** argv) {
#ifdef CHALK_HAVE_BLAS
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice (or ours, after the re-run)
  const std::string core = openblas_get_corename();
  if (core != "Prescott" && core != "prescott") return;  // OpenBLAS knew the CPU
  __builtin_cpu_init();
  const char* better = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    better = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    better = "Haswell";
  if (better == nullptr) return;  // an old CPU: Prescott is right
  // Only a program's own arguments may be used to run it again: a caller that passes argv of
  // its own making (a test driving a demo's Notebook in-process) must not re-run the program.
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0 || argc < 1 || argv == nullptr || argv[0] == nullptr) return;
  self[n] = '\0';
  const std::string exe = self, arg0 = argv[0];
  auto base = [](const std::string& p) { return p.substr(p.find_last_of('/') + 1); };
  if (base(exe) != base(arg0)) return;
  setenv("OPENBLAS_CORETYPE", better, 1);
  setenv("CHALK_SET_OPENBLAS_CORETYPE", better, 1);  // for blas_description()
  execv("/proc/self/exe", argv);
  // execv returned: it failed. Go on with the generic kernels, and say so.
  std::fprintf(stderr, "chalk: OpenBLAS uses its generic Prescott kernels on this CPU; re-running with "
               "OPENBLAS_CORETYPE=%s failed (%s): set it yourself for faster matrix products\n", better, std::strerror(errno));
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv("CHALK_SET_OPENBLAS_CORETYPE");
#else
  (void)argc, (void)argv;
#endif
}

std::string blas_description() {
#ifdef CHALK_HAVE_BLAS
  std::string config = openblas_get_config();
  config = config.substr(0, config.find(' ', config.find(' ') + 1));  // "OpenBLAS 0.3.21"
  std::string d = config + ", " + openblas_get_corename() + " kernels";
  const char* set_by_chalk = std::getenv("CHALK_SET_OPENBLAS_CORETYPE");
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  if (set_by_chalk != nullptr && coretype != nullptr && std::string(set_by_chalk) == coretype)
    d += " (OPENBLAS_CORETYPE set by chalk: OpenBLAS did not know this CPU)";
  else if (coretype != nullptr)
    d += std::string(" (OPENBLAS_CORETYPE=") + coretype + ")";
  return d;
#else
  return gemm_backend();
#endif
}

bool have_blas() {
#ifdef CHALK_HAVE_BLAS
  return true;
#else
  return false;
#endif
}

const char* gemm_backend() {
  return have_blas() ? "OpenBLAS (CBLAS)" : "chalk blocked GEMM (no BLAS)";
}

#define CHALK_INSTANTIATE_GEMM(T)                                                             \
  template void gemm<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T, const T*,   \
                        std::int64_t, const T*, std::int64_t, T, T*, std::int64_t);          \
  template void gemm_blocked<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T,     \
                                const T*, std::int64_t, const T*, std::int64_t, T, T*,       \
                                std::int64_t);                                               \
  template void gemm_blas<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T,        \
                             const T*, std::int64_t, const T*, std::int64_t, T, T*, std::int64_t);
CHALK_INSTANTIATE_GEMM(float)
CHALK_INSTANTIATE_GEMM(double)

}  // namespace chalk
