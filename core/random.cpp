#include "core/random.h"

#include <cmath>

#include "core/error.h"

namespace chalk {

double Generator::normal() {
  // Box-Muller: two uniforms u1, u2 give two independent normals
  //   r = sqrt(-2 ln u1),  z0 = r cos(2 pi u2),  z1 = r sin(2 pi u2)
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2.0 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2.0 * M_PI * u2);
}

std::int64_t Generator::randint(std::int64_t low, std::int64_t high) {
  if (high <= low) fail("randint: expected low < high, got [", low, ", ", high, ")");
  // high - low in unsigned arithmetic: it exceeds INT64_MAX for e.g. [-2^62, 2^62), where the
  // signed difference would overflow; every range up to 2^64 - 1 fits.
  const std::uint64_t range = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  // rejection sampling: no modulo bias
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  std::uint64_t r;
  do r = engine_(); while (r >= limit);
  // low + r % range, wrapping modulo 2^64 (defined for unsigned): the result lies in [low, high)
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + r % range);
}

Generator& global_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(std::uint64_t seed) { global_generator().seed(seed); }

}  // namespace chalk
