// core/allocator.h — where tensor memory comes from, and why chalk keeps freed blocks.
//
// Training repeats the same step: every batch allocates tensors of the same sizes
// (activations, gradients, im2col buffers) and frees them at the end of the step.
// Large blocks (glibc: above 128 KiB, or more once it has adapted) come straight from
// the kernel with mmap, and the kernel hands out fresh pages that it must zero on first
// touch: a page fault per 4 KiB. For a 4 MB tensor that costs more than adding two
// tensors of that size. So chalk keeps freed large blocks in a small cache and hands
// them out again for a request of the same size (PyTorch's CUDA caching allocator does
// the same for GPU memory).
//
//   allocate(bytes)      64-byte aligned; a cached block of the same size class if any
//   deallocate(p, bytes) back into the cache, or to the system when the cache is full
//
// Blocks below kCacheMinBytes go straight to aligned_alloc / free (malloc is fast
// there). A size class is the request rounded up to 4 KiB; a block is reused only for
// its own size class, so no memory is wasted on rounding beyond that.
// The cache holds at most cache_limit() bytes (default 256 MiB, or CHALK_CACHE_MB from
// the environment; 0 turns caching off). Thread-safe.
#pragma once

#include <cstddef>

namespace chalk {

inline constexpr std::size_t kCacheMinBytes = 64 * 1024;

void* allocate(std::size_t bytes);
void deallocate(void* p, std::size_t bytes);

struct AllocatorStats {
  std::size_t cached_bytes = 0;   // held in the cache now
  std::size_t cached_blocks = 0;
  std::size_t hits = 0;           // large requests served from the cache
  std::size_t misses = 0;         // large requests that went to the system
};
AllocatorStats allocator_stats();

std::size_t cache_limit();
void set_cache_limit(std::size_t bytes);  // shrinks the cache at once if needed
void empty_cache();                       // returns every cached block to the system

}  // namespace chalk
