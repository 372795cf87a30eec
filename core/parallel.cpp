#include "core/parallel.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

#include "core/error.h"

#ifdef CHALK_HAVE_BLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace chalk {

namespace {

std::atomic<int> g_threads{0};          // 0: not chosen yet (OpenMP's maximum)
std::atomic<bool> g_adaptive{true};     // false once set_num_threads pinned the count
std::atomic<int> g_cap{0};              // adaptive mode's maximum (0: OpenMP's maximum)
std::atomic<std::int64_t> g_next_ns{0};  // steady-clock time of the next measurement
std::mutex g_measure_mutex;             // one measurement at a time (others skip it)

int openmp_max_threads() {
#ifdef _OPENMP
  static const int n = omp_get_max_threads();  // read once: later omp_set_num_threads changes it
  return n;
#else
  return 1;
#endif
}

// Set chalk's count and the runtime's (OpenMP's loops and OpenBLAS) to n.
void apply_threads(int n) {
  g_threads = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
#ifdef CHALK_HAVE_BLAS
  openblas_set_num_threads(n);
#endif
}

std::int64_t now_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// One reading: busy CPU time of the cores this process may run on (all processes, from
// /proc/stat), this process's own CPU time, and the wall clock.
struct CpuReading {
  bool ok = false;
  int allowed = 0;            // cores in the affinity mask
  double busy_seconds = 0;    // user + nice + system + irq + softirq + steal, over those cores
  double own_seconds = 0;     // CLOCK_PROCESS_CPUTIME_ID (all our threads)
  std::int64_t wall_ns = 0;
};

CpuReading read_cpu() {
  CpuReading r;
  r.wall_ns = now_ns(CLOCK_MONOTONIC);
  r.own_seconds = static_cast<double>(now_ns(CLOCK_PROCESS_CPUTIME_ID)) * 1e-9;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) != 0) return r;
  std::ifstream in("/proc/stat");
  if (!in) return r;
  static const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::string line;
  std::uint64_t busy = 0;
  while (std::getline(in, line)) {
    // per-core lines: "cpu<N> user nice system idle iowait irq softirq steal guest guest_nice"
    if (line.size() < 4 || line.compare(0, 3, "cpu") != 0 || line[3] < '0' || line[3] > '9') continue;
    std::istringstream ls(line.substr(3));
    int cpu = -1;
    std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    ls >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    if (!ls || cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &mask)) continue;
    busy += user + nice + system + irq + softirq + steal;
    ++r.allowed;
  }
  r.busy_seconds = static_cast<double>(busy) * tick;
  r.ok = r.allowed > 0;
  return r;
}

// The first reading is taken when the program starts, so the first decision (at the first
// parallel loop at least kAdaptIntervalSeconds / 2 later, typically after the data is loaded)
// already knows what the other processes did meanwhile.
CpuReading g_last_reading = read_cpu();  // guarded by g_measure_mutex
ThreadMeasurement g_last_measurement;    // guarded by g_measure_mutex

}  // namespace

int num_threads() {
  const int n = g_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : openmp_max_threads();
}

void set_num_threads(int n) {
  if (n < 1) fail("set_num_threads: expected a thread count >= 1, got ", n);
  g_adaptive = false;
  apply_threads(n);
}

void set_adaptive_threads(int max_threads) {
  if (max_threads < 0) fail("set_adaptive_threads: expected a maximum >= 0 (0: OpenMP's), got ", max_threads);
  g_cap = max_threads;
  g_adaptive = true;
  apply_threads(max_threads > 0 ? max_threads : openmp_max_threads());
  g_next_ns = 0;  // measure at the next loop
}

bool adaptive_threads() { return g_adaptive.load(std::memory_order_relaxed); }

int threads_for_free_cores(double free, int cap) {
  if (cap < 1) fail("threads_for_free_cores: expected cap >= 1, got ", cap);
  if (!(free == free)) return cap;  // NaN (no reading): keep the maximum
  const double n = std::floor(free + 0.25);
  return n < 1 ? 1 : (n >= cap ? cap : static_cast<int>(n));
}

void adapt_threads() {
  if (!g_adaptive.load(std::memory_order_relaxed)) return;
#ifdef _OPENMP
  if (omp_in_parallel()) return;
#endif
  const std::int64_t now = now_ns(CLOCK_MONOTONIC);
  if (now < g_next_ns.load(std::memory_order_relaxed)) return;
  std::unique_lock<std::mutex> lock(g_measure_mutex, std::try_to_lock);
  if (!lock.owns_lock()) return;
  const auto interval = static_cast<std::int64_t>(kAdaptIntervalSeconds * 1e9);
  const CpuReading prev = g_last_reading;
  if (prev.ok && now - prev.wall_ns < interval / 2) {  // too short to count ticks (10 ms each): soon
    g_next_ns = prev.wall_ns + interval / 2;
    return;
  }
  g_next_ns = now + interval;
  const CpuReading r = read_cpu();
  g_last_reading = r;
  if (!r.ok || !prev.ok || r.allowed != prev.allowed) return;  // first reading, or no /proc/stat
  const double wall = static_cast<double>(r.wall_ns - prev.wall_ns) * 1e-9;
  const double others = std::max(0.0, ((r.busy_seconds - prev.busy_seconds) - (r.own_seconds - prev.own_seconds)) / wall);
  const int cap_setting = g_cap.load(std::memory_order_relaxed);
  const int cap = cap_setting > 0 ? cap_setting : openmp_max_threads();
  const int threads = threads_for_free_cores(static_cast<double>(r.allowed) - others, cap);
  ++g_last_measurement.measurements;
  g_last_measurement.allowed_cores = r.allowed;
  g_last_measurement.other_cores = others;
  g_last_measurement.threads = threads;
  if (threads != num_threads()) {
    ++g_last_measurement.changes;
    apply_threads(threads);
  }
}

ThreadMeasurement last_thread_measurement() {
  std::lock_guard<std::mutex> lock(g_measure_mutex);
  return g_last_measurement;
}

}  // namespace chalk
