#include "io/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/atomic_file.h"

namespace chalk {

// Tensor bytes are written and read as they lie in memory; the format is
// little-endian, and so is every machine chalk targets (x86-64, arm64).
static_assert(std::endian::native == std::endian::little, "io/safetensors.cpp assumes a little-endian machine");

namespace {

using json = nlohmann::json;

const char* st_dtype(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType* t) {
  if (s == "F32") *t = DType::Float32;
  else if (s == "F64") *t = DType::Float64;
  else if (s == "I64") *t = DType::Int64;
  else return false;
  return true;
}

// ---- writing ----

// Write all of [p, p+n) to fd, resuming after partial writes and signals.

// ---- reading ----

std::uint64_t read_le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A non-negative JSON integer, or throws naming the tensor and field.
std::uint64_t json_uint(const json& v, const std::string& where, const char* field) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) {
    const std::int64_t x = v.get<std::int64_t>();
    if (x >= 0) return static_cast<std::uint64_t>(x);
  }
  fail(where, ": ", field, " must hold non-negative integers, found ", v.dump());
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;
};

}  // namespace

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  const char* op = "save_safetensors";
  // 1. The header: each tensor's dtype, shape and byte range, in name order.
  json header = json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty()) fail(op, ": '", path, "': a tensor has an empty name");
    if (name == "__metadata__") fail(op, ": '", path, "': '__metadata__' is reserved and cannot name a tensor");
    if (!t.defined()) fail(op, ": '", path, "': tensor '", name, "' is undefined");
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", st_dtype(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad: the data then starts 8-byte aligned
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(text.size()) >> (8 * i));

  // 2. Write PATH.tmp, flush it to disk, rename it over PATH (io/atomic_file.h): PATH is
  // either the old file or the new one, whole.
  std::vector<ByteChunk> chunks = {{len, 8}, {text.data(), text.size()}};
  for (const auto& [name, t] : tensors)
    chunks.emplace_back(t.impl()->storage->data, static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()));
  write_file_atomically(path, chunks, op);
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string where = "load_safetensors: '" + path + "'";
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(where, ": cannot open: ", std::strerror(errno));
  const std::vector<unsigned char> file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) fail(where, ": read error");

  // 1. Header length and header.
  if (file.size() < 8)
    fail(where, ": file is ", file.size(), " bytes, too short for the 8-byte header length (not a safetensors file?)");
  const std::uint64_t H = read_le64(file.data());
  if (H > file.size() - 8)
    fail(where, ": header length says ", H, " bytes, but only ", file.size() - 8,
         " bytes follow it (truncated file, or not a safetensors file)");
  json header;
  try {
    header = json::parse(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(H));
  } catch (const json::parse_error& e) {
    fail(where, ": the ", H, "-byte header is not valid JSON (", e.what(), ")");
  }
  if (!header.is_object()) fail(where, ": the header is JSON but not an object: ", header.type_name());
  const std::uint64_t data_size = file.size() - 8 - H;
  const unsigned char* data = file.data() + 8 + H;

  // 2. Each entry: dtype, shape, offsets, and bytes = prod(shape) * itemsize.
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) fail(where, ": __metadata__ must be an object of strings, found ", v.type_name());
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string()) fail(where, ": __metadata__ entry '", k, "' must be a string, found ", s.dump());
        out.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    const std::string tw = where + ": tensor '" + name + "'";
    if (!v.is_object()) fail(tw, ": expected an object with dtype, shape, data_offsets, found ", v.type_name());
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!v.contains(key)) fail(tw, ": the header entry has no '", key, "'");
    Entry e;
    e.name = name;
    if (!v["dtype"].is_string()) fail(tw, ": dtype must be a string, found ", v["dtype"].dump());
    const std::string dt = v["dtype"].get<std::string>();
    if (!parse_dtype(dt, &e.dtype)) fail(tw, ": dtype '", dt, "' is not supported (chalk reads F32, F64, I64)");
    if (!v["shape"].is_array()) fail(tw, ": shape must be an array, found ", v["shape"].dump());
    std::uint64_t count = 1;
    bool too_big = false;
    for (const auto& d : v["shape"]) {
      const std::uint64_t n = json_uint(d, tw, "shape");
      if (n > static_cast<std::uint64_t>(INT64_MAX)) too_big = true;
      else e.shape.push_back(static_cast<std::int64_t>(n));
      if (n != 0 && count > data_size / n) too_big = true;  // more elements than the file could hold
      count *= n;
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2) fail(tw, ": data_offsets must be [begin, end], found ", off.dump());
    e.begin = json_uint(off[0], tw, "data_offsets");
    e.end = json_uint(off[1], tw, "data_offsets");
    if (e.begin > e.end) fail(tw, ": data_offsets [", e.begin, ", ", e.end, "] end before they begin");
    if (e.end > data_size)
      fail(tw, ": data_offsets [", e.begin, ", ", e.end, "] go past the end of the data, which is ", data_size,
           " bytes (truncated file?)");
    const std::uint64_t itemsize = dtype_size(e.dtype);
    if (too_big || count * itemsize != e.end - e.begin)
      fail(tw, ": shape ", v["shape"].dump(), " of ", dt, " needs ",
           too_big ? std::string("more than the whole file's") : std::to_string(count * itemsize),
           " bytes, but data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin);
    entries.push_back(std::move(e));
  }

  // 3. The byte ranges tile the data exactly: no gap, no overlap, nothing after.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expect = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.begin != expect) {
      if (i == 0) fail(where, ": tensor '", e.name, "' starts at byte ", e.begin, " of the data, expected 0 (a gap)");
      fail(where, ": tensor '", e.name, "' starts at byte ", e.begin, " but tensor '", entries[i - 1].name,
           "' ends at ", expect, e.begin < expect ? " (they overlap)" : " (a gap between them)");
    }
    expect = e.end;
  }
  if (expect != data_size)
    fail(where, ": the tensors cover ", expect, " bytes of data but the file holds ", data_size, " (",
         data_size - expect, " trailing bytes)");

  // 4. Copy out.
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.impl()->storage->data, data + e.begin, e.end - e.begin);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

Metadata load_safetensors_into(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& targets,
                               bool strict) {
  const std::string where = "load_safetensors_into: '" + path + "'";
  SafetensorsFile file = load_safetensors(path);
  // Check everything first, so that a mismatch leaves the targets untouched.
  std::set<std::string> seen;
  for (const auto& [name, t] : targets) {
    if (!seen.insert(name).second) fail(where, ": the model names two tensors '", name, "'");
    if (!t.defined()) fail(where, ": the model's tensor '", name, "' is undefined");
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) fail(where, ": checkpoint has no tensor '", name, "'");
    const Tensor& src = it->second;
    if (src.shape() != t.shape())
      fail(where, ": tensor '", name, "': shape ", shape_str(src.shape()), " in file, model expects ",
           shape_str(t.shape()));
    if (src.dtype() != t.dtype())
      fail(where, ": tensor '", name, "': dtype ", dtype_name(src.dtype()), " (", st_dtype(src.dtype()),
           ") in file, model expects ", dtype_name(t.dtype()), " (", st_dtype(t.dtype()), ")");
  }
  if (strict)
    for (const auto& [name, t] : file.tensors)
      if (!seen.count(name))
        fail(where, ": checkpoint has tensor '", name, "' ", shape_str(t.shape()),
             " that the model does not have (strict loading)");
  for (const auto& [name, t] : targets) {
    const Tensor& src = file.tensors.at(name);
    std::memcpy(t.impl()->storage->data, src.impl()->storage->data,
                static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()));
  }
  return file.metadata;
}

}  // namespace chalk
