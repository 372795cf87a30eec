// Tests for core/allocator.h: freed large blocks are handed out again for the same size
// (what makes a training step's repeated allocations cheap), small blocks bypass the
// cache, the cache never holds more than its limit, and tensors still read and write
// correctly through recycled memory.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "core/allocator.h"
#include "core/tensor.h"

using namespace chalk;

namespace {

// Every test starts from an empty cache with the default limit, and restores it.
class Allocator : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = cache_limit();
    set_cache_limit(std::size_t{256} << 20);
    empty_cache();
  }
  void TearDown() override { set_cache_limit(saved_); }
  std::size_t saved_ = 0;
};

bool aligned64(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }

}  // namespace

TEST_F(Allocator, LargeBlockIsReusedForTheSameSize) {
  const std::size_t n = 1 << 20;
  void* a = allocate(n);
  ASSERT_TRUE(aligned64(a));
  std::memset(a, 1, n);  // the whole block is usable
  deallocate(a, n);
  EXPECT_EQ(allocator_stats().cached_blocks, 1u);
  EXPECT_EQ(allocator_stats().cached_bytes, n);
  const std::size_t hits = allocator_stats().hits;
  void* b = allocate(n);
  EXPECT_EQ(a, b);
  EXPECT_EQ(allocator_stats().hits, hits + 1);
  EXPECT_EQ(allocator_stats().cached_blocks, 0u);
  deallocate(b, n);
}

TEST_F(Allocator, SizeClassIsTheRequestRoundedToAPage) {
  void* a = allocate(100000);  // 25 pages (102,400 bytes)
  deallocate(a, 100000);
  EXPECT_EQ(allocator_stats().cached_bytes, 102400u);
  void* b = allocate(102000);  // same class: reused
  EXPECT_EQ(a, b);
  deallocate(b, 102000);
  void* c = allocate(110000);  // another class: not reused, and the first stays cached
  EXPECT_NE(c, b);
  EXPECT_EQ(allocator_stats().cached_blocks, 1u);
  deallocate(c, 110000);
  EXPECT_EQ(allocator_stats().cached_blocks, 2u);
}

TEST_F(Allocator, SmallBlocksAreNotCached) {
  void* a = allocate(1000);
  ASSERT_TRUE(aligned64(a));
  deallocate(a, 1000);
  EXPECT_EQ(allocator_stats().cached_blocks, 0u);
  void* z = allocate(0);  // a zero-size tensor still gets a valid, freeable pointer
  EXPECT_NE(z, nullptr);
  deallocate(z, 0);
}

TEST_F(Allocator, CacheNeverExceedsItsLimit) {
  set_cache_limit(3 << 20);
  void* blocks[5];
  for (auto& p : blocks) p = allocate(1 << 20);
  for (auto& p : blocks) deallocate(p, 1 << 20);
  EXPECT_EQ(allocator_stats().cached_bytes, std::size_t{3} << 20);  // two went back to the system
  set_cache_limit(1 << 20);  // shrinking the limit frees at once
  EXPECT_EQ(allocator_stats().cached_bytes, std::size_t{1} << 20);
  empty_cache();
  EXPECT_EQ(allocator_stats().cached_bytes, 0u);
  EXPECT_EQ(allocator_stats().cached_blocks, 0u);
}

TEST_F(Allocator, LimitZeroTurnsCachingOff) {
  set_cache_limit(0);
  void* a = allocate(1 << 20);
  deallocate(a, 1 << 20);
  EXPECT_EQ(allocator_stats().cached_blocks, 0u);
}

TEST_F(Allocator, TensorsThroughRecycledMemoryHoldTheirOwnValues) {
  // The second tensor gets the first one's block: full() must overwrite every element,
  // and the first tensor's values must not leak into it.
  const std::int64_t n = 300000;
  { Tensor a = full({n}, 7.0f); }
  EXPECT_EQ(allocator_stats().cached_blocks, 1u);
  Tensor b = zeros({n});
  EXPECT_EQ(allocator_stats().cached_blocks, 0u);
  for (std::int64_t i = 0; i < n; i += 997) ASSERT_EQ(b.data<float>()[i], 0.0f);
  Tensor c = full({n}, 2.0f);  // a new block while b lives: they must not share memory
  EXPECT_NE(b.data<float>(), c.data<float>());
  EXPECT_EQ(b.data<float>()[n - 1], 0.0f);
}
