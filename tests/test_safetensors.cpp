// Tests for io/safetensors.h: round trips, the byte layout, atomic saving,
// and every way a file can be wrong (each error names the file and tensor).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <source_location>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"
#include "test_util.h"

using chalk::test_util::expect_error;

using namespace chalk;
namespace fs = std::filesystem;

namespace {

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("chalk_test_st_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// A safetensors file by hand: length, header text, data bytes.
std::string st_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

std::string float_bytes(std::vector<float> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Write a safetensors file by hand at p (the 8-byte length, `header`, then `data`) and expect
// load_safetensors to reject it with a chalk::Error naming every one of `parts`. A failure is
// reported at the caller's line, with the header as its trace.
void expect_rejected(const std::string& p, const std::string& header, const std::string& data,
                     const std::vector<std::string>& parts,
                     std::source_location where = std::source_location::current()) {
  write_all(p, st_file(header, data));
  SCOPED_TRACE(header);
  expect_error([&] { load_safetensors(p); }, parts, where);
}

TensorMap sample_tensors() {
  TensorMap m;
  m["fc1.weight"] = from_vector(std::vector<float>{1.5f, -2.25f, 3e-8f, 4e7f, -0.0f, 6.f}, {2, 3});
  m["fc1.bias"] = from_vector(std::vector<float>{0.125f, -1.f}, {2});
  m["centroids"] = from_vector(std::vector<double>{1.0 / 3.0, -2e-300, 1e300, 0.1}, {2, 1, 2});
  m["step"] = from_vector(std::vector<std::int64_t>{-1, 0, 1LL << 40, INT64_MAX}, {4});
  m["scale"] = scalar(2.718281828459045, DType::Float64);  // shape []
  m["count"] = from_vector(std::vector<std::int64_t>{42}, Shape{});
  m["empty"] = zeros({0, 3});
  return m;
}

void expect_same(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    const Tensor& u = b.at(name);
    EXPECT_EQ(t.shape(), u.shape()) << name;
    ASSERT_EQ(t.dtype(), u.dtype()) << name;
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
    EXPECT_EQ(std::memcmp(t.impl()->storage->data, u.impl()->storage->data, bytes), 0) << name << " differs";
  }
}

}  // namespace

TEST_F(SafetensorsTest, RoundTripAllDtypesScalarsAndMetadata) {
  const TensorMap m = sample_tensors();
  const Metadata meta = {{"epoch", "3"}, {"format", "pt"}, {"loss", "arcface s=30 m=0.5"}};
  save_safetensors(path("a.safetensors"), m, meta);
  const SafetensorsFile f = load_safetensors(path("a.safetensors"));
  expect_same(m, f.tensors);
  EXPECT_EQ(f.metadata, meta);
  EXPECT_EQ(f.tensors.at("scale").shape(), Shape{});
  EXPECT_DOUBLE_EQ(f.tensors.at("scale").item(), 2.718281828459045);
  EXPECT_EQ(f.tensors.at("step").to_vector<std::int64_t>()[3], INT64_MAX);
  // Without metadata there is no __metadata__ entry, and nothing is left behind.
  save_safetensors(path("b.safetensors"), m);
  EXPECT_TRUE(load_safetensors(path("b.safetensors")).metadata.empty());
  EXPECT_EQ(read_all(path("b.safetensors")).find("__metadata__"), std::string::npos);
  EXPECT_FALSE(fs::exists(path("b.safetensors.tmp")));
  // No tensors at all is a valid file too.
  save_safetensors(path("c.safetensors"), {});
  EXPECT_TRUE(load_safetensors(path("c.safetensors")).tensors.empty());
}

TEST_F(SafetensorsTest, ByteLayoutFollowsTheFormat) {
  TensorMap m;
  m["b"] = from_vector(std::vector<float>{1.f, 2.f}, {1, 2});
  m["a"] = from_vector(std::vector<std::int64_t>{7}, {1});
  save_safetensors(path("x.safetensors"), m, {{"k", "v"}});
  const std::string file = read_all(path("x.safetensors"));
  std::uint64_t H = 0;
  for (int i = 7; i >= 0; --i) H = (H << 8) | static_cast<unsigned char>(file[i]);
  ASSERT_LE(8 + H, file.size());
  EXPECT_EQ((8 + H) % 8, 0u) << "data should start 8-byte aligned";
  const auto header = nlohmann::json::parse(file.substr(8, H));
  EXPECT_EQ(header["a"]["dtype"], "I64");
  EXPECT_EQ(header["a"]["shape"], nlohmann::json({1}));
  EXPECT_EQ(header["b"]["dtype"], "F32");
  EXPECT_EQ(header["b"]["shape"], nlohmann::json({1, 2}));
  EXPECT_EQ(header["__metadata__"]["k"], "v");
  const std::string data = file.substr(8 + H);
  ASSERT_EQ(data.size(), 16u);  // 8 bytes of I64 + 2 x 4 bytes of F32
  const auto a = header["a"]["data_offsets"], b = header["b"]["data_offsets"];
  std::int64_t seven = 0;
  std::memcpy(&seven, data.data() + a[0].get<int>(), 8);
  EXPECT_EQ(seven, 7);
  float two[2];
  std::memcpy(two, data.data() + b[0].get<int>(), 8);
  EXPECT_EQ(two[0], 1.f);
  EXPECT_EQ(two[1], 2.f);
}

TEST_F(SafetensorsTest, ReadsAFileWrittenByHand) {
  // As another writer might lay it out: unsorted keys, no padding, metadata first.
  const std::string header =
      R"({"__metadata__":{"who":"hand"},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("s":{"shape":[],"dtype":"F64","data_offsets":[0,8]}})";
  double s = -0.5;
  const std::string data = std::string(reinterpret_cast<const char*>(&s), 8) + float_bytes({3.f, 4.f});
  write_all(path("h.safetensors"), st_file(header, data));
  const SafetensorsFile f = load_safetensors(path("h.safetensors"));
  EXPECT_EQ(f.metadata.at("who"), "hand");
  EXPECT_EQ(f.tensors.at("w").to_vector<float>(), (std::vector<float>{3.f, 4.f}));
  EXPECT_EQ(f.tensors.at("s").shape(), Shape{});
  EXPECT_EQ(f.tensors.at("s").item(), -0.5);
}

TEST_F(SafetensorsTest, OverwriteReplacesWholeFile) {
  save_safetensors(path("m.safetensors"), sample_tensors());
  TensorMap small;
  small["x"] = ones({1});
  save_safetensors(path("m.safetensors"), small);
  const SafetensorsFile f = load_safetensors(path("m.safetensors"));
  EXPECT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors.at("x").item(), 1.0);
}

TEST_F(SafetensorsTest, FailedSaveLeavesOldFileIntact) {
  const TensorMap old = sample_tensors();
  save_safetensors(path("ckpt.safetensors"), old);
  const std::string before = read_all(path("ckpt.safetensors"));
  TensorMap next;
  next["w"] = ones({1000, 100});

  // 1. The temporary file cannot be created (a folder is in its way).
  fs::create_directories(path("ckpt.safetensors.tmp"));
  expect_error([&] { save_safetensors(path("ckpt.safetensors"), next); },
               {"save_safetensors", "ckpt.safetensors.tmp", "unchanged"});
  EXPECT_EQ(read_all(path("ckpt.safetensors")), before);
  fs::remove_all(path("ckpt.safetensors.tmp"));

  // 2. The disk "fills up" half-way through the data: a file size limit makes
  // write() fail with EFBIG after about 100 kB of the 400 kB.
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
  struct rlimit lim = saved;
  lim.rlim_cur = 100000;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  std::string message;
  try {
    save_safetensors(path("ckpt.safetensors"), next);
  } catch (const Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find("ckpt.safetensors.tmp' failed"), std::string::npos) << message;
  EXPECT_EQ(read_all(path("ckpt.safetensors")), before);
  EXPECT_FALSE(fs::exists(path("ckpt.safetensors.tmp"))) << "the half-written file is left behind";
  expect_same(old, load_safetensors(path("ckpt.safetensors")).tensors);

  // 3. Bad input is refused before anything is written.
  TensorMap bad;
  bad["ok"] = ones({2});
  bad["undef"] = Tensor();
  expect_error([&] { save_safetensors(path("ckpt.safetensors"), bad); }, {"tensor 'undef'", "undefined"});
  bad.erase("undef");
  bad["__metadata__"] = ones({1});
  expect_error([&] { save_safetensors(path("ckpt.safetensors"), bad); }, {"'__metadata__' is reserved"});
  EXPECT_EQ(read_all(path("ckpt.safetensors")), before);
}

TEST_F(SafetensorsTest, TruncatedFileNamesTheTensor) {
  TensorMap m;
  m["a.first"] = ones({4});
  m["b.last"] = ones({8});
  save_safetensors(path("t.safetensors"), m);
  std::string bytes = read_all(path("t.safetensors"));
  write_all(path("t.safetensors"), bytes.substr(0, bytes.size() - 5));
  expect_error([&] { load_safetensors(path("t.safetensors")); },
               {"load_safetensors", path("t.safetensors"), "tensor 'b.last'", "past the end", "truncated"});
  // Cut inside the header, and inside the length.
  write_all(path("t.safetensors"), bytes.substr(0, 20));
  expect_error([&] { load_safetensors(path("t.safetensors")); }, {path("t.safetensors"), "header length says"});
  write_all(path("t.safetensors"), bytes.substr(0, 5));
  expect_error([&] { load_safetensors(path("t.safetensors")); }, {path("t.safetensors"), "5 bytes", "too short"});
  expect_error([&] { load_safetensors(path("missing.safetensors")); }, {"missing.safetensors", "cannot open"});
  // A folder where the file should be (reading it would give 0 bytes, a misleading "too short").
  fs::create_directories(path("folder.safetensors"));
  expect_error([&] { load_safetensors(path("folder.safetensors")); }, {path("folder.safetensors"), "is a folder"});
}

TEST_F(SafetensorsTest, BadHeaders) {
  const std::string p = path("bad.safetensors");
  auto expect_bad = [&](const std::string& header, const std::string& data, std::initializer_list<std::string> parts,
                        std::source_location where = std::source_location::current()) {
    expect_rejected(p, header, data, parts, where);
  };
  const std::string d8 = float_bytes({1.f, 2.f});
  expect_bad("{not json", d8, {p, "not valid JSON"});
  expect_bad("[1, 2]", "", {p, "not an object"});
  expect_bad(R"({"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", "abcd", {"tensor 'w'", "dtype 'BF16'", "F32, F64, I64"});
  expect_bad(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8, {"tensor 'w'", "needs 12 bytes", "span 8"});
  expect_bad(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d8, {"tensor 'w'", "non-negative"});
  expect_bad(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", d8, {"tensor 'w'", "no 'shape'"});
  expect_bad(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", d8, {"tensor 'w'", "end before"});
  expect_bad(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}})", d8, {"tensor 'w'", "[begin, end]"});
  expect_bad(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", d8,
             {"tensor 'w'", "is too large", "exceed 2^63 - 1 bytes"});
  // Offsets must tile the data: a gap, an overlap, bytes after the last tensor.
  expect_bad(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", d8, {"tensor 'w'", "expected 0"});
  expect_bad(R"({"u":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
             d8, {"tensor 'v'", "tensor 'u'", "overlap"});
  expect_bad(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", d8, {p, "4 trailing bytes"});
  expect_bad(R"({"__metadata__":{"epoch":3}})", "", {p, "'epoch' must be a string"});
}

// Issue 11, section 2: a file is untrusted input. Every exception that could cross the file
// boundary (a JSON number that overflows a double, bad UTF-8, deep nesting) is a chalk::Error
// naming the file and, where there is one, the tensor and the field.
TEST_F(SafetensorsTest, JsonErrorsNameTheFileAndField) {
  const std::string p = path("bad.safetensors");
  // 13 bytes: the length 5, then "1e400" (nlohmann throws out_of_range 406 for it).
  write_all(p, le64(5) + "1e400");
  ASSERT_EQ(read_all(p).size(), 13u);
  expect_error([&] { load_safetensors(p); }, {"load_safetensors", p, "5-byte header is not valid JSON", "number overflow", "1e400"});
  auto expect_bad = [&](const std::string& header, std::initializer_list<std::string> parts,
                        std::source_location where = std::source_location::current()) {
    expect_rejected(p, header, std::string(8, '\0'), parts, where);
  };
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,1e400]}})",
             {p, "not valid JSON", "tensor 'a', field 'data_offsets'", "number overflow"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[1e400],"data_offsets":[0,8]}})", {p, "tensor 'a', field 'shape'", "overflow"});
  expect_bad(R"({"__metadata__":{"step":1e999}})", {p, "__metadata__ key 'step'", "overflow"});
  expect_bad("{\"a\xff\":1}", {p, "not valid JSON", "UTF-8"});
  // A number that fits a double but is not an integer, or too big for 64 bits: named, not cast.
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}})", {"tensor 'a'", "data_offsets", "non-negative integers", "8.0"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,1e19]}})", {"tensor 'a'", "data_offsets", "non-negative integers"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551616]}})", {"tensor 'a'", "data_offsets"});
  // The format nests three levels; deeper is refused while parsing, naming where.
  expect_bad(R"({"a":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})",
             {p, "nests deeper", "tensor 'a', field 'shape'"});
  expect_bad(std::string(100000, '[') + std::string(100000, ']'), {p, "nests deeper"});
  expect_bad(R"({"__metadata__":{"k":{"x":"y"}}})", {p, "__metadata__ key 'k' must be a string"});
  expect_bad(R"({"__metadata__":{"k":{"x":[]}}})", {p, "nests deeper", "in __metadata__ key 'k'"});
}

TEST_F(SafetensorsTest, DuplicateKeysAreRejectedNamingTheKey) {
  const std::string p = path("dup.safetensors");
  auto expect_bad = [&](const std::string& header, const std::string& data, std::initializer_list<std::string> parts,
                        std::source_location where = std::source_location::current()) {
    expect_rejected(p, header, data, parts, where);
  };
  const std::string d8 = float_bytes({1.f, 2.f}), d16 = float_bytes({1.f, 2.f, 3.f, 4.f});
  // Two identical entries (JSON parsers keep one without a word).
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
             d8, {p, "tensor 'a' appears twice", "forbids duplicate"});
  // I64 then F32 over the same 8 bytes: would load the integer's bytes as floats.
  expect_bad(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
             d8, {p, "tensor 'a' appears twice"});
  // [0,8) then [8,16): was a misleading "gap" error.
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
             d16, {p, "tensor 'a' appears twice"});
  // Inside a tensor's entry, inside __metadata__, and __metadata__ itself.
  expect_bad(R"({"a":{"dtype":"I64","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d8,
             {p, "tensor 'a', field 'dtype' appears twice"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"shape":[2]}})", d8,
             {p, "tensor 'a', field 'shape' appears twice"});
  expect_bad(R"({"__metadata__":{"epoch":"1","epoch":"2"}})", "", {p, "__metadata__ key 'epoch' appears twice"});
  expect_bad(R"({"__metadata__":{},"__metadata__":{}})", "", {p, "__metadata__ appears twice"});
  // Equal keys in different objects are fine.
  write_all(p, st_file(R"({"__metadata__":{"dtype":"x"},"dtype":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d8));
  const SafetensorsFile f = load_safetensors(p);
  EXPECT_EQ(f.metadata.at("dtype"), "x");
  EXPECT_EQ(f.tensors.at("dtype").to_vector<float>(), (std::vector<float>{1.f, 2.f}));
}

TEST_F(SafetensorsTest, EntriesShapesAndDtypesAreChecked) {
  const std::string p = path("bad.safetensors");
  auto expect_bad = [&](const std::string& header, const std::string& data, std::initializer_list<std::string> parts,
                        std::source_location where = std::source_location::current()) {
    expect_rejected(p, header, data, parts, where);
  };
  const std::string d8 = float_bytes({1.f, 2.f});
  // A safetensors dtype chalk does not read is named as such; an unknown one as not a dtype.
  expect_bad(R"({"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", d8,
             {p, "tensor 'w'", "dtype 'F16' is a safetensors dtype chalk does not read", "F32, F64, I64"});
  expect_bad(R"({"w":{"dtype":"float32","shape":[2],"data_offsets":[0,8]}})", d8,
             {p, "tensor 'w'", "dtype 'float32' is not a safetensors dtype"});
  expect_bad(R"({"w":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", d8, {"tensor 'w'", "dtype must be a string"});
  // A field the format does not have.
  expect_bad(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"strides":[1]}})", d8,
             {p, "tensor 'w'", "field 'strides' is not part of the format"});
  // Offsets beyond the file, and a header length beyond it.
  expect_bad(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", d8, {p, "tensor 'w'", "past the end", "8 bytes"});
  expect_bad(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[9,9]}})", d8, {p, "tensor 'w'", "past the end"});
  write_all(p, le64(1000) + "{}");
  expect_error([&] { load_safetensors(p); }, {p, "header length says 1000 bytes, but only 2 bytes follow"});
  write_all(p, le64(~0ULL) + "{}");
  expect_error([&] { load_safetensors(p); }, {p, "header length says 18446744073709551615 bytes"});
  // Shape products that overflow 64 bits, even next to a zero dimension (strides would overflow).
  expect_bad(R"({"w":{"dtype":"F32","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}})", "",
             {p, "tensor 'w'", "too large"});
  expect_bad(R"({"w":{"dtype":"F64","shape":[1152921504606846976],"data_offsets":[0,8]}})", d8,
             {p, "tensor 'w'", "too large"});
  expect_bad(R"({"w":{"dtype":"F32","shape":[9223372036854775808, 0],"data_offsets":[0,0]}})", "", {p, "tensor 'w'", "too large"});
  // Non-object header and entries; metadata values that are not strings.
  expect_bad(R"("just a string")", "", {p, "not an object: string"});
  expect_bad(R"({"w":[1,2]})", "", {p, "tensor 'w'", "expected an object"});
  expect_bad(R"({"__metadata__":["a"]})", "", {p, "__metadata__ must be an object of strings"});
  expect_bad(R"({"__metadata__":{"n":null}})", "", {p, "__metadata__ key 'n' must be a string, found null"});
  // Control bytes in a name are shown escaped.
  expect_bad("{\"a\\u0001b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", d8, {"tensor 'a\\x01b'"});
}

TEST_F(SafetensorsTest, ZeroSizedTensorsLoad) {
  // A zero dimension anywhere makes 0 bytes, whatever the other dimensions (was rejected as
  // "more than the whole file" when the file held no data).
  const std::string p = path("zero.safetensors");
  write_all(p, st_file(R"({"e":{"dtype":"F32","shape":[5,0],"data_offsets":[0,0]},"f":{"dtype":"I64","shape":[0,3],"data_offsets":[0,0]}})", ""));
  const SafetensorsFile f = load_safetensors(p);
  EXPECT_EQ(f.tensors.at("e").shape(), (Shape{5, 0}));
  EXPECT_EQ(f.tensors.at("f").shape(), (Shape{0, 3}));
  EXPECT_EQ(f.tensors.at("f").dtype(), DType::Int64);
}

TEST_F(SafetensorsTest, ParseFromMemoryMatchesTheFile) {
  save_safetensors(path("m.safetensors"), sample_tensors(), {{"k", "v"}});
  const std::string bytes = read_all(path("m.safetensors"));
  const SafetensorsFile a = load_safetensors(path("m.safetensors")), b = parse_safetensors(bytes, "in-memory");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [n, t] : a.tensors) {
    const Tensor& u = b.tensors.at(n);
    ASSERT_EQ(t.shape(), u.shape()) << n;
    ASSERT_EQ(t.dtype(), u.dtype()) << n;
    EXPECT_EQ(0, std::memcmp(t.impl()->storage->data, u.impl()->storage->data, t.numel() * dtype_size(t.dtype()))) << n;
  }
  EXPECT_EQ(b.metadata, a.metadata);
  expect_error([&] { parse_safetensors(bytes.substr(0, 7), "in-memory"); }, {"load_safetensors: 'in-memory'", "7 bytes"});
}

TEST_F(SafetensorsTest, LoadIntoExistingTensors) {
  TensorMap saved;
  saved["fc1.weight"] = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  saved["fc1.bias"] = from_vector(std::vector<float>{7, 8}, {2});
  save_safetensors(path("m.safetensors"), saved, {{"epoch", "5"}});

  Tensor w = zeros({2, 3}), b = zeros({2});
  w.requires_grad_();
  const void* w_data = w.impl()->storage->data;
  const Metadata meta = load_safetensors_into(path("m.safetensors"), {{"fc1.weight", w}, {"fc1.bias", b}});
  EXPECT_EQ(meta.at("epoch"), "5");
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{7, 8}));
  EXPECT_EQ(w.impl()->storage->data, w_data) << "loaded in place";
  EXPECT_TRUE(w.requires_grad());

  // Mismatches are named; nothing is copied when one is found.
  Tensor w_t = zeros({3, 2}), b2 = zeros({2});
  expect_error([&] { load_safetensors_into(path("m.safetensors"), {{"fc1.bias", b2}, {"fc1.weight", w_t}}); },
               {"load_safetensors_into", path("m.safetensors"), "tensor 'fc1.weight': shape [2, 3] in file, model expects [3, 2]"});
  EXPECT_EQ(b2.to_vector<float>(), (std::vector<float>{0, 0})) << "partially loaded";
  expect_error([&] { load_safetensors_into(path("m.safetensors"), {{"fc1.weight", zeros({2, 3}, DType::Float64)}}); },
               {"tensor 'fc1.weight': dtype float32 (F32) in file, model expects float64 (F64)"});
  expect_error([&] { load_safetensors_into(path("m.safetensors"), {{"fc2.weight", zeros({2, 3})}}); },
               {"checkpoint has no tensor 'fc2.weight'"});
  // Strict: the file may not hold tensors the model lacks; non-strict ignores them.
  Tensor w2 = zeros({2, 3});
  expect_error([&] { load_safetensors_into(path("m.safetensors"), {{"fc1.weight", w2}}); },
               {"checkpoint has tensor 'fc1.bias'", "does not have"});
  load_safetensors_into(path("m.safetensors"), {{"fc1.weight", w2}}, /*strict=*/false);
  EXPECT_EQ(w2.to_vector<float>()[5], 6.f);
}
