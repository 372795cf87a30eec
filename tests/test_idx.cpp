// Tests for io/idx.h: reading MNIST's IDX files, raw and gzip'd, and every
// way a file can be wrong; plus the subset shipped in data/mnist-subset.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/idx.h"
#include "io/mnist.h"
#include "train/batches.h"
#include "test_util.h"

using chalk::test_util::expect_error;

using namespace chalk;
namespace fs = std::filesystem;

namespace {

// A fresh folder per test, removed afterwards.
class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("chalk_test_idx_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

std::vector<std::uint8_t> be32(std::uint32_t v) {
  return {std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)};
}

// An IDX file by hand: magic, dims, then payload bytes.
std::vector<std::uint8_t> idx_bytes(std::uint32_t magic, std::vector<std::uint32_t> dims,
                                    const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> b = be32(magic);
  for (auto d : dims) {
    auto p = be32(d);
    b.insert(b.end(), p.begin(), p.end());
  }
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// A file's bytes as stored (not decompressed).
std::vector<std::uint8_t> raw_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// 3 images of 2 x 3 pixels with values 0..17.
IdxImages small_images() {
  IdxImages im;
  im.n = 3, im.rows = 2, im.cols = 3;
  for (int i = 0; i < 18; ++i) im.pixels.push_back(static_cast<std::uint8_t>(i * 14));
  return im;
}

}  // namespace

TEST_F(IdxTest, ReadsRawImagesWrittenByHand) {
  const IdxImages im = small_images();
  write_file_bytes(path("img"), idx_bytes(2051, {3, 2, 3}, im.pixels));
  const IdxImages r = read_idx_images(path("img"));
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(r.rows, 2);
  EXPECT_EQ(r.cols, 3);
  EXPECT_EQ(r.pixels, im.pixels);
}

TEST_F(IdxTest, ReadsGzipByMagicNotByName) {
  const IdxImages im = small_images();
  const std::vector<std::uint8_t> labels = {7, 0, 9};
  // gzip'd content under names without .gz, raw content under a .gz name.
  write_idx_images(path("images_no_suffix"), im, /*gzip=*/true);
  write_idx_labels(path("labels.gz"), labels, /*gzip=*/false);
  const auto raw = fs::file_size(path("images_no_suffix"));
  EXPECT_NE(raw, 16u + 18u);  // really compressed
  const IdxImages r = read_idx_images(path("images_no_suffix"));
  EXPECT_EQ(r.pixels, im.pixels);
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(read_idx_labels(path("labels.gz")), labels);

  // And gzip'd labels, round trip of the writers.
  write_idx_labels(path("l2"), labels, true);
  EXPECT_EQ(read_idx_labels(path("l2")), labels);
}

TEST_F(IdxTest, ReadsConcatenatedGzipMembers) {
  // `cat a.gz b.gz` is one valid gzip stream holding a then b.
  const std::vector<std::uint8_t> full = idx_bytes(2049, {4}, {1, 2, 3, 4});
  write_file_bytes(path("a"), {full.begin(), full.begin() + 6}, true);
  write_file_bytes(path("b"), {full.begin() + 6, full.end()}, true);
  std::vector<std::uint8_t> ga = raw_bytes(path("a")), gb = raw_bytes(path("b"));
  ga.insert(ga.end(), gb.begin(), gb.end());
  write_file_bytes(path("ab.gz"), ga, false);
  EXPECT_EQ(read_idx_labels(path("ab.gz")), (std::vector<std::uint8_t>{1, 2, 3, 4}));
}

TEST_F(IdxTest, MissingFileNamesIt) {
  expect_error([&] { read_idx_images(path("nope")); }, {"read_idx_images", path("nope"), "cannot open"});
  expect_error([&] { read_idx_labels(path("nope")); }, {"read_idx_labels", path("nope")});
  fs::create_directories(path("folder"));
  expect_error([&] { read_idx_images(path("folder")); }, {"read_idx_images", path("folder"), "is a folder"});
}

TEST_F(IdxTest, WrongMagic) {
  // A label file given as images, and the other way round.
  write_idx_labels(path("labels"), {1, 2});
  expect_error([&] { read_idx_images(path("labels")); },
               {path("labels"), "magic number is 2049", "label file", "expected 2051", "image file"});
  write_idx_images(path("images"), small_images());
  expect_error([&] { read_idx_labels(path("images")); }, {path("images"), "magic number is 2051", "expected 2049"});
  // Not IDX at all.
  write_file_bytes(path("text"), {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', '!', '!', '!', '!'});
  expect_error([&] { read_idx_images(path("text")); }, {path("text"), "not an IDX file", "expected 2051"});
  // Too short for even the magic.
  write_file_bytes(path("tiny"), {0, 0});
  expect_error([&] { read_idx_labels(path("tiny")); }, {path("tiny"), "2 bytes", "too short"});
}

TEST_F(IdxTest, TruncatedFile) {
  const IdxImages im = small_images();
  std::vector<std::uint8_t> b = idx_bytes(2051, {3, 2, 3}, im.pixels);
  b.resize(b.size() - 5);
  write_file_bytes(path("cut"), b);
  expect_error([&] { read_idx_images(path("cut")); },
               {path("cut"), "13 bytes of data", "expected 3 images x 2 x 3 = 18", "truncated", "5 bytes missing"});
  // Same, gzip'd: the message says the sizes are after decompression.
  write_file_bytes(path("cut.gz"), b, true);
  expect_error([&] { read_idx_images(path("cut.gz")); }, {path("cut.gz"), "after gzip decompression", "truncated"});
  // Cut inside the header.
  write_file_bytes(path("hdr"), {0, 0, 8, 3, 0, 0, 0, 1, 0, 0});
  expect_error([&] { read_idx_images(path("hdr")); }, {path("hdr"), "shorter than the 16-byte header"});
  // A truncated .gz file (the compressed stream itself is cut).
  write_file_bytes(path("full.gz"), idx_bytes(2051, {3, 2, 3}, im.pixels), true);
  std::vector<std::uint8_t> gz = raw_bytes(path("full.gz"));
  gz.resize(gz.size() / 2);
  write_file_bytes(path("half.gz"), gz);
  expect_error([&] { read_idx_images(path("half.gz")); }, {path("half.gz"), "gzip data ends early"});
}

TEST_F(IdxTest, WrongCount) {
  // The header promises 5 labels, the file has 3; and 2 images where 3 are.
  write_file_bytes(path("l"), idx_bytes(2049, {5}, {1, 2, 3}));
  expect_error([&] { read_idx_labels(path("l")); }, {path("l"), "3 bytes of data", "expected 5 labels", "truncated"});
  write_file_bytes(path("i"), idx_bytes(2051, {2, 2, 3}, small_images().pixels));
  expect_error([&] { read_idx_images(path("i")); }, {path("i"), "expected 2 images x 2 x 3 = 12", "6 trailing"});
  // A huge count cannot overflow into a pass.
  write_file_bytes(path("huge"), idx_bytes(2051, {0xffffffffu, 0x7fffffffu, 0xffffffffu}, {1, 2, 3}));
  expect_error([&] { read_idx_images(path("huge")); }, {path("huge"), "4294967295 images", "corrupt header"});
  // rows * cols alone past int64 (found by fuzzing, see FuzzRegressionImageSizeOverflowsInt64).
  write_file_bytes(path("huge2"), idx_bytes(2051, {1, 0xffffffffu, 0xffffffffu}, {1, 2, 3}));
  expect_error([&] { read_idx_images(path("huge2")); }, {path("huge2"), "4294967295 x 4294967295", "corrupt header"});
  // Zero-sized images are refused.
  write_file_bytes(path("zero"), idx_bytes(2051, {1, 0, 28}, {}));
  expect_error([&] { read_idx_images(path("zero")); }, {path("zero"), "0 x 28", "positive"});
}

TEST_F(IdxTest, TrailingBytes) {
  write_file_bytes(path("l"), idx_bytes(2049, {3}, {1, 2, 3, 4, 5}));
  expect_error([&] { read_idx_labels(path("l")); }, {path("l"), "expected 3 labels", "2 trailing bytes"});
  std::vector<std::uint8_t> px = small_images().pixels;
  px.push_back(0);
  write_file_bytes(path("i.gz"), idx_bytes(2051, {3, 2, 3}, px), true);
  expect_error([&] { read_idx_images(path("i.gz")); }, {path("i.gz"), "1 trailing bytes", "after gzip decompression"});
  // Garbage after a gzip stream.
  write_idx_labels(path("g.gz"), {1, 2}, true);
  {
    std::ofstream f(path("g.gz"), std::ios::binary | std::ios::app);
    f << "junk";
  }
  expect_error([&] { read_idx_labels(path("g.gz")); }, {path("g.gz"), "4 bytes of garbage after the gzip data"});
}

TEST_F(IdxTest, BadLabel) {
  write_file_bytes(path("l"), idx_bytes(2049, {4}, {0, 9, 10, 3}));
  expect_error([&] { read_idx_labels(path("l")); }, {path("l"), "label 2 is 10", "expected a class in 0..9"});
  // With more classes allowed, the same file is fine.
  EXPECT_EQ(read_idx_labels(path("l"), 11).size(), 4u);
}

// Issue 11, section 2: memory is bounded by the real data, never by a header field.
// 8 bytes, 1f 8b 08 00 ff ff ff ff: a gzip header cut short whose last 4 bytes, read as the
// trailer's size field, claim 4 GiB. The reader used to reserve that before inflating, which
// under a memory limit was std::bad_alloc naming no file.
TEST_F(IdxTest, GzipTrailerClaimingFourGiBReservesNothing) {
  write_file_bytes(path("claim.gz"), {0x1f, 0x8b, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff});
  expect_error([&] { read_idx_images(path("claim.gz")); },
               {"read_idx_images", path("claim.gz"), "gzip data ends early after 0 uncompressed bytes"});
  expect_error([&] { read_idx_labels(path("claim.gz")); }, {"read_idx_labels", path("claim.gz"), "ends early"});
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the address-space limit below does not work under AddressSanitizer";
#else
  // The same under a 1 GiB address-space limit, in a child process: the error, not bad_alloc.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    struct rlimit lim = {1ULL << 30, 1ULL << 30};
    if (setrlimit(RLIMIT_AS, &lim) != 0) ::_exit(3);
    try {
      read_idx_images(path("claim.gz"));
    } catch (const Error& e) {
      ::_exit(std::string(e.what()).find("ends early") != std::string::npos ? 0 : 1);
    } catch (...) {
      ::_exit(2);  // std::bad_alloc
    }
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: wrong message, 2: not a chalk::Error (bad_alloc), 3: setrlimit failed";
#endif
}

TEST_F(IdxTest, GzipTrailerThatLiesIsCorrupt) {
  // A whole, valid .gz whose trailer size is patched to 4 GiB - 1: zlib's length check catches it.
  write_idx_labels(path("l.gz"), {1, 2, 3}, true);
  std::vector<std::uint8_t> gz = raw_bytes(path("l.gz"));
  for (std::size_t i = gz.size() - 4; i < gz.size(); ++i) gz[i] = 0xff;
  write_file_bytes(path("l.gz"), gz);
  expect_error([&] { read_idx_labels(path("l.gz")); }, {path("l.gz"), "corrupt gzip data", "incorrect length check"});
}

TEST_F(IdxTest, HeaderDimensionsAreCheckedAgainstTheFileBeforeAllocating) {
  // 60000 x 28 x 28 claimed, 100 bytes in the file: both sizes named, raw and gzip'd.
  write_file_bytes(path("claim"), idx_bytes(2051, {60000, 28, 28}, std::vector<std::uint8_t>(84, 0)));
  ASSERT_EQ(fs::file_size(path("claim")), 100u);
  expect_error([&] { read_idx_images(path("claim")); },
               {path("claim"), "84 bytes of data after the header", "expected 60000 images x 28 x 28 = 47040000",
                "47039916 bytes missing"});
  write_file_bytes(path("claim.gz"), idx_bytes(2051, {60000, 28, 28}, std::vector<std::uint8_t>(84, 0)), true);
  expect_error([&] { read_idx_images(path("claim.gz")); },
               {path("claim.gz"), "84 bytes of data after the header (after gzip decompression)", "47040000"});
  write_file_bytes(path("labels"), idx_bytes(2049, {0xffffffffu}, {1, 2}));
  expect_error([&] { read_idx_labels(path("labels")); }, {path("labels"), "2 bytes of data", "expected 4294967295 labels"});
}

// Found by tests/fuzz/fuzz_idx.cpp: 0 images of 4177001727 x 4293916680 pixels loaded, and then
// rows * cols overflowed int64 in every user (UB). Now the header is refused, naming the file.
TEST_F(IdxTest, FuzzRegressionImageSizeOverflowsInt64) {
  const std::vector<std::uint8_t> bytes = {0x00, 0x00, 0x08, 0x03, 0x00, 0x00, 0x00, 0x00,
                                           0xf8, 0xf7, 0xfc, 0xff, 0xff, 0xef, 0xf8, 0x08};
  expect_error([&] { parse_idx_images(bytes, "fuzz-crash"); },
               {"read_idx_images: 'fuzz-crash'", "image size is 4177001727 x 4293916680", "corrupt header"});
  // The largest image size int64 holds still reads (as 0 images).
  const IdxImages im = parse_idx_images(idx_bytes(2051, {0, 0x7fffffffu, 0xffffffffu}, {}), "big-but-empty");
  EXPECT_EQ(im.n, 0);
  EXPECT_EQ(im.rows * im.cols, 0x7fffffffLL * 0xffffffffLL);
}

TEST_F(IdxTest, ParseFromMemoryMatchesTheFile) {
  const IdxImages im = small_images();
  write_idx_images(path("i.gz"), im, true);
  const IdxImages r = parse_idx_images(raw_bytes(path("i.gz")), "in-memory");
  EXPECT_EQ(r.pixels, im.pixels);
  EXPECT_EQ(r.rows, 2);
  EXPECT_EQ(parse_idx_labels(idx_bytes(2049, {2}, {4, 5}), "mem"), (std::vector<std::uint8_t>{4, 5}));
  expect_error([&] { parse_idx_labels(idx_bytes(2049, {2}, {4, 50}), "mem"); }, {"read_idx_labels: 'mem'", "label 1 is 50"});
  expect_error([&] { parse_idx_images({}, "mem"); }, {"read_idx_images: 'mem'", "0 bytes"});
}

// The data that ships with chalk: 600 + 100 images of each digit.
TEST(ShippedSubset, LoadsBalanced) {
  const std::string dir = chalk::test_util::kSubset;
  for (bool train : {true, false}) {
    const MnistSplit s = load_mnist(dir, train);
    const std::int64_t n = train ? 6000 : 1000;
    EXPECT_EQ(s.n, n);
    EXPECT_EQ(s.rows, 28);
    EXPECT_EQ(s.cols, 28);
    EXPECT_EQ(static_cast<std::int64_t>(s.images.size()), n * 28 * 28);
    ASSERT_EQ(static_cast<std::int64_t>(s.labels.size()), n);
    std::array<std::int64_t, 10> count{};
    for (auto y : s.labels) ++count[y];
    for (int c = 0; c < 10; ++c) EXPECT_EQ(count[c], n / 10) << "digit " << c;
    // Real images: mostly background, some ink.
    std::int64_t ink = 0;
    for (auto p : s.images) ink += p > 128;
    EXPECT_GT(ink, n * 784 / 20);
    EXPECT_LT(ink, n * 784 / 2);
  }
  // The first training image of MNIST is a 5, and it is in the subset.
  EXPECT_EQ(load_mnist(dir, true).labels[0], 5);
}
