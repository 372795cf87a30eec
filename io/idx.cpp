#include "io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"

namespace chalk {

namespace {

constexpr std::uint32_t kImagesMagic = 2051;  // 0x00000803: unsigned bytes, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 2049;  // 0x00000801: unsigned bytes, 1 dimension

bool is_gzip(const std::vector<std::uint8_t>& b) { return b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b; }

std::vector<std::uint8_t> read_raw(const char* op, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(op, ": '", path, "' is a folder, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(op, ": cannot open '", path, "': ", std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  try {
    // A regular file: one buffer of exactly its size (reading into a growing vector doubled
    // its capacity on the way: the 47 MB training images took 64 MB, and 96 MB while copying).
    const std::uintmax_t size = std::filesystem::is_regular_file(path, ec) ? std::filesystem::file_size(path, ec) : 0;
    if (!ec && size > 0) {
      bytes.resize(static_cast<std::size_t>(size));
      f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
      if (static_cast<std::uintmax_t>(f.gcount()) != size)
        fail(op, ": '", path, "': read ", f.gcount(), " of its ", size, " bytes (did the file change?)");
    } else {  // a pipe or device: as much as it gives
      bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
  } catch (const std::bad_alloc&) {
    fail(op, ": '", path, "': out of memory reading the file");
  }
  if (f.bad()) fail(op, ": error reading '", path, "'");
  return bytes;
}

// Inflate one or more concatenated gzip members (what `cat a.gz b.gz` gives).
// The output grows with the data actually inflated. The gzip trailer's size field (the last
// 4 bytes) is a claim, not data (8 bytes 1f 8b 08 00 ff ff ff ff "claim" 4 GiB): a file's
// numbers must never decide how much memory is taken before the data backs them. So it is
// used only as a hint for one reservation, capped by what deflate can make of the bytes that
// are there (at most 1032 output bytes per input byte): the 8-byte file reserves 8 KB, the
// 9.9 MB train-images .gz exactly its 47 MB (a growing vector would hold 64 MB).
std::vector<std::uint8_t> gunzip(const char* op, const std::string& path, const std::vector<std::uint8_t>& in) {
  std::vector<std::uint8_t> out;
  if (in.size() >= 18) {  // header (10) + trailer (8)
    const std::size_t n = in.size();
    const std::uint64_t claim = std::uint64_t(in[n - 4]) | std::uint64_t(in[n - 3]) << 8 |
                                std::uint64_t(in[n - 2]) << 16 | std::uint64_t(in[n - 1]) << 24;
    try {
      out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(claim, std::uint64_t(n) * 1032)));
    } catch (const std::bad_alloc&) {
      // only a hint: grow with the data instead
    }
  }
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) fail(op, ": '", path, "': zlib inflateInit2 failed");
  // zlib counts input in uInt (32 bits): feed a file over 4 GiB in pieces.
  const std::uint8_t* next = in.data();
  std::size_t left = in.size();
  auto feed = [&] {
    const std::size_t piece = std::min<std::size_t>(left, 1u << 30);
    z.next_in = const_cast<Bytef*>(next);
    z.avail_in = static_cast<uInt>(piece);
    next += piece;
    left -= piece;
  };
  feed();
  std::uint8_t chunk[1 << 16];
  try {
    for (;;) {
      if (z.avail_in == 0 && left > 0) feed();
      z.next_out = chunk;
      z.avail_out = sizeof(chunk);
      const int rc = inflate(&z, Z_NO_FLUSH);
      out.insert(out.end(), chunk, chunk + (sizeof(chunk) - z.avail_out));
      if (rc == Z_STREAM_END) {
        if (z.avail_in == 0 && left > 0) feed();
        // Another member follows? Then go on; anything else after the data is an error.
        if (z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b) {
          inflateReset(&z);
          continue;
        }
        const std::size_t garbage = z.avail_in + left;
        inflateEnd(&z);
        if (garbage != 0) fail(op, ": '", path, "': ", garbage, " bytes of garbage after the gzip data");
        return out;
      }
      if (rc == Z_BUF_ERROR && z.avail_in == 0 && left == 0) {
        inflateEnd(&z);
        fail(op, ": '", path, "': gzip data ends early after ", out.size(),
             " uncompressed bytes (truncated .gz file?)");
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        const std::string msg = z.msg ? z.msg : "error " + std::to_string(rc);
        inflateEnd(&z);
        fail(op, ": '", path, "': corrupt gzip data (zlib: ", msg, ")");
      }
    }
  } catch (const std::bad_alloc&) {
    inflateEnd(&z);
    fail(op, ": '", path, "': out of memory decompressing, after ", out.size(), " uncompressed bytes from a ",
         in.size(), "-byte .gz file");
  }
}

// The bytes of a file as stored, decompressed if gzip'd; `gz` says whether they were (for messages).
std::vector<std::uint8_t> decompress(const char* op, const std::string& path, std::vector<std::uint8_t> bytes,
                                     bool* gz = nullptr) {
  const bool compressed = is_gzip(bytes);
  if (gz) *gz = compressed;
  return compressed ? gunzip(op, path, bytes) : bytes;
}

std::uint32_t read_be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
void put_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

// "2049 (0x00000801: a label file)" — what a magic number means, for messages.
std::string describe_magic(std::uint32_t m) {
  char hex[16];
  std::snprintf(hex, sizeof(hex), "0x%08x", m);
  std::string what;
  if (m == kImagesMagic) what = ": an IDX image file";
  else if (m == kLabelsMagic) what = ": an IDX label file";
  else if ((m >> 16) != 0) what = ": not an IDX file";
  else if (((m >> 8) & 0xff) != 0x08) what = ": IDX, but not of unsigned bytes";
  else what = ": IDX of unsigned bytes with " + std::to_string(m & 0xff) + " dimensions";
  return std::to_string(m) + " (" + hex + what + ")";
}

// Header, then the item count against the bytes that follow it.
void check_header(const char* op, const std::string& path, const std::vector<std::uint8_t>& b, bool was_gz,
                  std::uint32_t magic, std::size_t header) {
  const char* gz = was_gz ? " (after gzip decompression)" : "";
  if (b.size() < 4) fail(op, ": '", path, "': file is ", b.size(), " bytes", gz, ", too short for an IDX magic number");
  const std::uint32_t m = read_be32(b.data());
  if (m != magic)
    fail(op, ": '", path, "': magic number is ", describe_magic(m), ", expected ", describe_magic(magic));
  if (b.size() < header)
    fail(op, ": '", path, "': file is ", b.size(), " bytes", gz, ", shorter than the ", header,
         "-byte header (truncated file?)");
}

void check_payload(const char* op, const std::string& path, bool was_gz, std::size_t have, std::uint64_t want,
                   const std::string& count_text, const char* item) {
  const char* gz = was_gz ? " (after gzip decompression)" : "";
  if (have < want)
    fail(op, ": '", path, "': ", have, " bytes of data after the header", gz, ", expected ", count_text, " = ", want,
         " (truncated file: ", (want - have), " bytes missing)");
  if (have > want)
    fail(op, ": '", path, "': ", have, " bytes of data after the header", gz, ", expected ", count_text, " = ", want,
         " (", (have - want), " trailing bytes after the last ", item, ")");
}

}  // namespace

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  return decompress("read_file_bytes", path, read_raw("read_file_bytes", path));
}

void write_file_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes, bool gzip) {
  const char* op = "write_file_bytes";
  std::vector<std::uint8_t> out;
  if (!gzip) {
    out = bytes;
  } else {
    // zlib counts in uInt (32 bits); MNIST's largest file is 47 MB.
    if (bytes.size() > 0xffffffffULL / 2)
      fail(op, ": '", path, "': ", bytes.size(), " bytes is more than this writer compresses (2 GiB)");
    z_stream z{};
    // windowBits 16 + 15: a gzip wrapper (header with no name, time stamp 0) around deflate.
    if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      fail(op, ": '", path, "': zlib deflateInit2 failed");
    out.resize(deflateBound(&z, static_cast<uLong>(bytes.size())));
    z.next_in = const_cast<Bytef*>(bytes.data());
    z.avail_in = static_cast<uInt>(bytes.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) fail(op, ": '", path, "': zlib deflate failed (", rc, ")");
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail(op, ": cannot create '", path, "': ", std::strerror(errno));
  f.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
  if (!f) fail(op, ": error writing '", path, "'");
}

IdxImages read_idx_images(const std::string& path) {
  return parse_idx_images(read_raw("read_idx_images", path), path);
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path, int num_classes) {
  return parse_idx_labels(read_raw("read_idx_labels", path), path, num_classes);
}

IdxImages parse_idx_images(std::vector<std::uint8_t> file_bytes, const std::string& path) {
  const char* op = "read_idx_images";
  bool gz = false;
  std::vector<std::uint8_t> b = decompress(op, path, std::move(file_bytes), &gz);
  check_header(op, path, b, gz, kImagesMagic, 16);
  IdxImages im;
  im.n = read_be32(b.data() + 4);
  im.rows = read_be32(b.data() + 8);
  im.cols = read_be32(b.data() + 12);
  if (im.rows == 0 || im.cols == 0)
    fail(op, ": '", path, "': image size is ", im.rows, " x ", im.cols, ", expected positive rows and cols");
  // N, rows, cols < 2^32 each: rows * cols fits 64 bits unsigned, but chalk counts pixels in int64
  // (even 0 images of 4e9 x 4e9 would overflow rows * cols there), and N * rows * cols may not fit.
  const std::uint64_t per_image = std::uint64_t(im.rows) * std::uint64_t(im.cols);
  if (per_image > std::uint64_t(INT64_MAX))
    fail(op, ": '", path, "': image size is ", im.rows, " x ", im.cols, " = ", per_image,
         " pixels, more than any file holds (corrupt header?)");
  const std::uint64_t have = b.size() - 16;
  if (std::uint64_t(im.n) > UINT64_MAX / per_image)
    fail(op, ": '", path, "': header says ", im.n, " images of ", im.rows, " x ", im.cols,
         ", more bytes than any file holds; only ", have, " bytes follow the header (corrupt header?)");
  check_payload(op, path, gz, have, std::uint64_t(im.n) * per_image,
                str_cat(im.n, " images x ", im.rows, " x ", im.cols), "image");
  b.erase(b.begin(), b.begin() + 16);  // the pixels, in place: no second copy of the data
  im.pixels = std::move(b);
  return im;
}

std::vector<std::uint8_t> parse_idx_labels(std::vector<std::uint8_t> file_bytes, const std::string& path,
                                           int num_classes) {
  const char* op = "read_idx_labels";
  if (num_classes < 1 || num_classes > 256) fail(op, ": num_classes must be in 1..256, got ", num_classes);
  bool gz = false;
  std::vector<std::uint8_t> b = decompress(op, path, std::move(file_bytes), &gz);
  check_header(op, path, b, gz, kLabelsMagic, 8);
  const std::uint64_t n = read_be32(b.data() + 4);
  check_payload(op, path, gz, b.size() - 8, n, str_cat(n, " labels x 1 byte"), "label");
  b.erase(b.begin(), b.begin() + 8);
  std::vector<std::uint8_t> labels = std::move(b);
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= num_classes)
      fail(op, ": '", path, "': label ", i, " is ", int(labels[i]), ", expected a class in 0..", num_classes - 1);
  return labels;
}

void write_idx_images(const std::string& path, const IdxImages& im, bool gzip) {
  if (im.n < 0 || im.rows <= 0 || im.cols <= 0 || im.n > 0xffffffffLL || im.rows > 0xffffffffLL ||
      im.cols > 0xffffffffLL)
    fail("write_idx_images: '", path, "': bad dimensions ", im.n, " x ", im.rows, " x ", im.cols);
  std::uint64_t count = 0;  // n * rows * cols, which may overflow 64 bits for dimensions below 2^32
  if (__builtin_mul_overflow(std::uint64_t(im.rows), std::uint64_t(im.cols), &count) ||
      __builtin_mul_overflow(count, std::uint64_t(im.n), &count) || im.pixels.size() != count)
    fail("write_idx_images: '", path, "': ", im.pixels.size(), " pixels, expected ", im.n, " x ", im.rows, " x ",
         im.cols);
  std::vector<std::uint8_t> out;
  out.reserve(16 + im.pixels.size());
  put_be32(out, kImagesMagic);
  put_be32(out, static_cast<std::uint32_t>(im.n));
  put_be32(out, static_cast<std::uint32_t>(im.rows));
  put_be32(out, static_cast<std::uint32_t>(im.cols));
  out.insert(out.end(), im.pixels.begin(), im.pixels.end());
  write_file_bytes(path, out, gzip);
}

void write_idx_labels(const std::string& path, const std::vector<std::uint8_t>& labels, bool gzip) {
  if (labels.size() > 0xffffffffULL) fail("write_idx_labels: '", path, "': too many labels: ", labels.size());
  std::vector<std::uint8_t> out;
  out.reserve(8 + labels.size());
  put_be32(out, kLabelsMagic);
  put_be32(out, static_cast<std::uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  write_file_bytes(path, out, gzip);
}

}  // namespace chalk
