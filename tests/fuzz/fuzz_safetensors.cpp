// tests/fuzz/fuzz_safetensors.cpp — libFuzzer target for the safetensors reader (io/safetensors.h).
//
// Built by the CMake preset "fuzz" (clang, -fsanitize=fuzzer,address,undefined) and run by
// scripts/fuzz.sh on the seed corpus tests/fuzz/corpus/fuzz_safetensors/. The bytes are a whole
// file; the only acceptable outcomes are a loaded file or a chalk::Error. A crash, a leak,
// undefined behaviour, any other exception (libFuzzer reports it as a deadly signal) or an
// allocation beyond -malloc_limit_mb is a bug: fix it and add the input to
// tests/test_safetensors.cpp and to the corpus.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const chalk::SafetensorsFile file = chalk::parse_safetensors(bytes, "fuzz-input");
    // What a loaded file promises: every tensor's bytes came from the file, so together they
    // are no larger than it.
    std::size_t total = 0;
    for (const auto& [name, t] : file.tensors) total += static_cast<std::size_t>(t.numel()) * chalk::dtype_size(t.dtype());
    if (total > size) std::abort();
  } catch (const chalk::Error&) {
    // a clear error naming the file: the right answer for a damaged file
  }
  return 0;
}
