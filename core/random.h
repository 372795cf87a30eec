// core/random.h — one seeded generator for reproducible runs.
//
// chalk::manual_seed(s) resets the global generator; rand/randn/randint,
// weight initialisation and data shuffling draw from generators seeded from
// it, so the same seed gives the same numbers (for any thread count: core/parallel.h).
// The generator is std::mt19937_64; normals use Box-Muller, written out here
// (the standard library's distributions differ between implementations).
#pragma once

#include <cstdint>
#include <random>

namespace chalk {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : engine_(seed) {}
  void seed(std::uint64_t s) { engine_.seed(s); has_spare_ = false; }
  std::uint64_t next_u64() { return engine_(); }
  double uniform() { return (engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal();                                             // N(0, 1)
  std::int64_t randint(std::int64_t low, std::int64_t high);   // [low, high)

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

Generator& global_generator();
void manual_seed(std::uint64_t seed);

}  // namespace chalk
