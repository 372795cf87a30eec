// tests/fuzz/fuzz_idx.cpp — libFuzzer target for the IDX readers (io/idx.h), raw and gzip'd.
//
// Built by the CMake preset "fuzz" (clang, -fsanitize=fuzzer,address,undefined) and run by
// scripts/fuzz.sh on the seed corpus tests/fuzz/corpus/fuzz_idx/. The bytes are a whole file,
// read both as an image file and as a label file. The only acceptable outcomes are a result or
// a chalk::Error. A crash, a leak, undefined behaviour, any other exception or an allocation
// beyond -malloc_limit_mb is a bug: fix it and add the input to tests/test_idx.cpp and to the
// corpus.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "io/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const chalk::IdxImages im = chalk::parse_idx_images(bytes, "fuzz-input");
    // What a loaded image file promises: the header's dimensions match the pixels exactly.
    // (rows * cols is in int64, as every user of IdxImages computes it.)
    if (im.n < 0 || im.rows <= 0 || im.cols <= 0 || im.rows > INT64_MAX / im.cols ||
        (im.n > 0 && im.pixels.size() / static_cast<std::size_t>(im.n) != static_cast<std::size_t>(im.rows * im.cols)) ||
        (im.n == 0 && !im.pixels.empty()))
      std::abort();
  } catch (const chalk::Error&) {
  }
  try {
    const std::vector<std::uint8_t> labels = chalk::parse_idx_labels(bytes, "fuzz-input", 10);
    for (std::uint8_t l : labels)
      if (l > 9) std::abort();
  } catch (const chalk::Error&) {
  }
  return 0;
}
