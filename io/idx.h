// io/idx.h — the IDX file format of MNIST, raw or gzip-compressed.
//
// An IDX file is a big-endian header followed by the items, one unsigned
// byte per pixel or label:
//
//   images (magic 2051 = 0x00000803: unsigned bytes, 3 dimensions)
//     u32 magic, u32 N, u32 rows, u32 cols, then N * rows * cols pixels (0..255)
//   labels (magic 2049 = 0x00000801: unsigned bytes, 1 dimension)
//     u32 magic, u32 N, then N labels (0..9 for MNIST)
//
// A file whose first two bytes are the gzip magic 1f 8b is decompressed first,
// whatever its name. Every check (magic, dimensions, item count against the
// file size: truncated or trailing bytes, label values) throws chalk::Error
// naming the file and what was expected against what was found.
//
// A file is untrusted input: memory is bounded by the data actually there,
// never by a number in a header. The gzip trailer's size field is not used to
// reserve memory, and the IDX header's dimensions are checked against the
// bytes that follow before anything is allocated for them (a header claiming
// 60000 x 28 x 28 in a 100-byte file fails naming both sizes).
//
// io/mnist.h builds MNIST splits on top of these; train/batches.h makes batches of them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chalk {

// N grey-scale images of rows x cols pixels, row-major, image after image.
struct IdxImages {
  std::vector<std::uint8_t> pixels;  // N * rows * cols bytes
  std::int64_t n = 0, rows = 0, cols = 0;
};

// Read an IDX image file (magic 2051), raw or gzip'd.
IdxImages read_idx_images(const std::string& path);

// Read an IDX label file (magic 2049), raw or gzip'd; every label must be
// in 0 .. num_classes-1.
std::vector<std::uint8_t> read_idx_labels(const std::string& path, int num_classes = 10);

// The same from a file's bytes as stored (raw or gzip'd); `name` stands for the
// file in error messages. The readers above read the file and call these (so do
// the fuzz targets, tests/fuzz/fuzz_idx.cpp).
IdxImages parse_idx_images(std::vector<std::uint8_t> file_bytes, const std::string& name);
std::vector<std::uint8_t> parse_idx_labels(std::vector<std::uint8_t> file_bytes, const std::string& name,
                                           int num_classes = 10);

// Write IDX files (gzip'd when `gzip` is true): for tests and tools.
void write_idx_images(const std::string& path, const IdxImages& images, bool gzip = false);
void write_idx_labels(const std::string& path, const std::vector<std::uint8_t>& labels, bool gzip = false);

// The bytes of a file; decompressed if they start with the gzip magic 1f 8b.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);
// Write bytes to a file, gzip-compressed when `gzip` is true.
void write_file_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes, bool gzip = false);

}  // namespace chalk
