// core/allocator.cpp — see allocator.h.
#include "core/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "core/error.h"

namespace chalk {
namespace {

constexpr std::size_t kAlign = 64;
constexpr std::size_t kPage = 4096;

std::size_t size_class(std::size_t bytes) {
  if (bytes < kCacheMinBytes) return ((bytes + kAlign - 1) / kAlign) * kAlign;  // aligned_alloc's rule
  return ((bytes + kPage - 1) / kPage) * kPage;
}

std::size_t limit_from_env() {
  const char* v = std::getenv("CHALK_CACHE_MB");
  if (!v || !*v) return std::size_t{256} << 20;
  char* end = nullptr;
  const long long mb = std::strtoll(v, &end, 10);
  if (*end != '\0' || mb < 0)
    fail("CHALK_CACHE_MB: expected a non-negative whole number of MiB, got \"", v, "\"");
  return static_cast<std::size_t>(mb) << 20;
}

struct Cache {
  std::mutex mu;
  std::multimap<std::size_t, void*> blocks;  // size class -> free block
  std::size_t bytes = 0, hits = 0, misses = 0;
  std::size_t limit = limit_from_env();

  void shrink_to(std::size_t target) {  // caller holds mu
    while (bytes > target && !blocks.empty()) {
      auto it = std::prev(blocks.end());  // the largest first
      bytes -= it->first;
      std::free(it->second);
      blocks.erase(it);
    }
  }
};

// Never destroyed: tensors held in static variables are freed after main returns, and
// they must still find the cache. The blocks it holds stay reachable (not a leak).
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

void* system_alloc(std::size_t cls, std::size_t bytes) {
  void* p = std::aligned_alloc(kAlign, cls == 0 ? kAlign : cls);
  if (!p) fail("out of memory allocating ", bytes, " bytes");
  return p;
}

}  // namespace

void* allocate(std::size_t bytes) {
  const std::size_t cls = size_class(bytes);
  if (cls >= kCacheMinBytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.blocks.find(cls);
    if (it != c.blocks.end()) {
      void* p = it->second;
      c.blocks.erase(it);
      c.bytes -= cls;
      ++c.hits;
      return p;
    }
    ++c.misses;
  }
  return system_alloc(cls, bytes);
}

void deallocate(void* p, std::size_t bytes) {
  if (!p) return;
  const std::size_t cls = size_class(bytes);
  if (cls >= kCacheMinBytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.bytes + cls <= c.limit) {
      c.blocks.emplace(cls, p);
      c.bytes += cls;
      return;
    }
  }
  std::free(p);
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return {c.bytes, c.blocks.size(), c.hits, c.misses};
}

std::size_t cache_limit() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.limit;
}

void set_cache_limit(std::size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.limit = bytes;
  c.shrink_to(bytes);
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.shrink_to(0);
}

}  // namespace chalk
