// io/npy.cpp — the .npy writer of io/npy.h.
#include "io/npy.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/checks.h"
#include "core/error.h"
#include "io/atomic_file.h"

namespace chalk {

// The format stores little-endian numbers ('<' in the descr) and chalk copies its tensors'
// bytes as they are.
static_assert(std::endian::native == std::endian::little, "io/npy.cpp writes the host's bytes as little-endian");

std::string embeddings_npy_header(std::int64_t N, std::int64_t D, DType dtype) {
  if (dtype != DType::Float32 && dtype != DType::Float64)
    fail("embeddings_npy_header: embeddings must be float32 or float64, got ", dtype_name(dtype));
  if (N < 1 || D < 1) fail("embeddings_npy_header: N and D must be >= 1, got N = ", N, ", D = ", D);
  // A one-element tuple needs its trailing comma in Python: (64,), (10000,).
  return str_cat("{'descr': [('label', '<i8'), ('embedding', '", dtype == DType::Float32 ? "<f4" : "<f8", "', (", D,
                 ",))], 'fortran_order': False, 'shape': (", N, ",), }");
}

void save_embeddings_npy(const std::string& path, const Tensor& embeddings, const Tensor& labels) {
  const char* op = "save_embeddings_npy";
  check_embeddings(embeddings, op);
  const std::int64_t N = embeddings.shape()[0], D = embeddings.shape()[1];
  check_class_labels(labels, N, 0, op);
  std::string header = embeddings_npy_header(N, D, embeddings.dtype());
  // magic (6) + version (2) + length (2) + header, padded so that the data starts 64-byte
  // aligned (numpy's own writer aligns to 64), the padding's last byte a '\n'.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  if (header.size() > 65535) fail(op, ": '", path, "': the header of ", header.size(), " bytes does not fit format 1.0");
  const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                      static_cast<unsigned char>(header.size() & 0xff),
                                      static_cast<unsigned char>(header.size() >> 8)};
  // The records interleave a label and a row: 8 + D * (4 or 8) bytes each, packed (numpy's
  // structured dtypes have no padding unless asked for alignment).
  const std::size_t row_bytes = static_cast<std::size_t>(D) * dtype_size(embeddings.dtype());
  const std::size_t record = sizeof(std::int64_t) + row_bytes;
  std::vector<unsigned char> data(static_cast<std::size_t>(N) * record);
  const auto* rows = static_cast<const unsigned char*>(embeddings.impl()->storage->data);
  const std::int64_t* y = labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < N; ++i) {
    unsigned char* r = data.data() + static_cast<std::size_t>(i) * record;
    std::memcpy(r, &y[i], sizeof(std::int64_t));
    std::memcpy(r + sizeof(std::int64_t), rows + static_cast<std::size_t>(i) * row_bytes, row_bytes);
  }
  write_file_atomically(path, {{preamble, 10}, {header.data(), header.size()}, {data.data(), data.size()}}, op);
}

}  // namespace chalk
