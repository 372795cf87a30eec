// Tests for io/npy.h: embeddings and labels saved as one NumPy .npy file (format 1.0), read back
// byte by byte as numpy.load reads them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/npy.h"
#include "test_util.h"

using namespace chalk;
using chalk::test_util::temp_dir;
namespace fs = std::filesystem;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

// The layout numpy.load expects: magic, version 1.0, a little-endian header length, the dict
// padded with spaces to a 64-byte boundary and ended by '\n', then N packed records of an int64
// label and D values, each row's bits as the tensor holds them.
TEST(NpyEmbeddings, FileHoldsTheHeaderAndEachRecordBitForBit) {
  const std::string dir = temp_dir("npy");
  for (const DType dtype : {DType::Float32, DType::Float64}) {
    const std::int64_t N = 5, D = 3;
    const Tensor x = randn({N, D}, dtype);
    const Tensor y = from_vector(std::vector<std::int64_t>{3, 0, 9, 3, 1}, {N});
    const std::string path = dir + "/emb.npy";
    save_embeddings_npy(path, x, y);
    const std::string f = read_bytes(path);
    ASSERT_GE(f.size(), 10u);
    EXPECT_EQ(f.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
    const std::size_t H = static_cast<unsigned char>(f[8]) | (static_cast<unsigned char>(f[9]) << 8);
    EXPECT_EQ((10 + H) % 64, 0u) << "the data starts 64-byte aligned";
    const std::string header = f.substr(10, H);
    const std::string dict = dtype == DType::Float32
                                 ? "{'descr': [('label', '<i8'), ('embedding', '<f4', (3,))], 'fortran_order': False, 'shape': (5,), }"
                                 : "{'descr': [('label', '<i8'), ('embedding', '<f8', (3,))], 'fortran_order': False, 'shape': (5,), }";
    EXPECT_EQ(header.substr(0, dict.size()), dict);
    EXPECT_EQ(header.back(), '\n');
    EXPECT_EQ(header.find_first_not_of(' ', dict.size()), H - 1) << "spaces, then the newline";
    const std::size_t row = static_cast<std::size_t>(D) * dtype_size(dtype), record = 8 + row;
    ASSERT_EQ(f.size(), 10 + H + N * record);
    for (std::int64_t i = 0; i < N; ++i) {
      const char* r = f.data() + 10 + H + i * record;
      std::int64_t label = 0;
      std::memcpy(&label, r, 8);
      EXPECT_EQ(label, y.data<std::int64_t>()[i]);
      EXPECT_EQ(std::memcmp(r + 8, static_cast<const char*>(x.impl()->storage->data) + i * row, row), 0) << "row " << i;
    }
    EXPECT_FALSE(fs::exists(path + ".tmp"));
  }
  fs::remove_all(dir);
}

// Bad input names the function and what is wrong; a file that cannot be written is named, and
// the file already there is left as it was.
TEST(NpyEmbeddings, BadInputAndUnwritableFileAreNamed) {
  const std::string dir = temp_dir("npy_bad");
  const Tensor x = randn({4, 2});
  const Tensor y = from_vector(std::vector<std::int64_t>{0, 1, 0, 1}, {4});
  EXPECT_THROW(save_embeddings_npy(dir + "/a.npy", x, from_vector(std::vector<std::int64_t>{0, 1, 0}, {3})), Error);
  EXPECT_THROW(save_embeddings_npy(dir + "/a.npy", x, from_vector(std::vector<std::int64_t>{0, -1, 0, 1}, {4})), Error);
  Tensor nan = randn({4, 2});
  nan.data<float>()[3] = std::nanf("");
  try {
    save_embeddings_npy(dir + "/a.npy", nan, y);
    ADD_FAILURE() << "a NaN embedding was saved";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("save_embeddings_npy"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nan"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir + "/a.npy"));
  // a folder in the way of the file: the write fails, naming the file
  fs::create_directories(dir + "/taken.npy");
  try {
    save_embeddings_npy(dir + "/taken.npy", x, y);
    ADD_FAILURE() << "wrote over a folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/taken.npy"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir + "/taken.npy.tmp")) << "the failed write left its temporary file";
  // bad input is refused before anything is written: an existing file stays as it was
  save_embeddings_npy(dir + "/kept.npy", x, y);
  const std::string before = read_bytes(dir + "/kept.npy");
  EXPECT_THROW(save_embeddings_npy(dir + "/kept.npy", nan, y), Error);
  EXPECT_EQ(read_bytes(dir + "/kept.npy"), before);
  fs::remove_all(dir);
}
