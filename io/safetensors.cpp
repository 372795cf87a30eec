#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "core/autograd.h"
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

// The dtypes of the safetensors format that chalk does not read, so that a
// message can say "a safetensors dtype chalk does not read" rather than "unknown".
bool is_other_safetensors_dtype(const std::string& s) {
  for (const char* d : {"BOOL", "U8", "I8", "U16", "I16", "F16", "BF16", "U32", "I32", "U64", "F8_E4M3", "F8_E5M2"})
    if (s == d) return true;
  return false;
}

bool parse_dtype(const std::string& s, DType* t) {
  if (s == "F32") *t = DType::Float32;
  else if (s == "F64") *t = DType::Float64;
  else if (s == "I64") *t = DType::Int64;
  else return false;
  return true;
}

// ---- reading ----

std::uint64_t read_le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Text from the file, for a message: control bytes escaped, at most 80 bytes shown.
std::string shown(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 80; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 80) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

// A non-negative JSON integer, or throws naming the tensor and field.
std::uint64_t json_uint(const json& v, const std::string& where, const char* field) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) {
    const std::int64_t x = v.get<std::int64_t>();
    if (x >= 0) return static_cast<std::uint64_t>(x);
  }
  fail(where, ": ", field, " must hold non-negative integers, found ", shown(v.dump()));
}

// Parse the header's JSON, and see what a JSON value cannot show afterwards.
// nlohmann-json keeps the last of two equal keys without a word; the format forbids them
// (two "a" entries could give "a" two dtypes over the same bytes), so the parser callback
// watches every key as it is read. The format nests three levels at most (the header object,
// a tensor's entry, its shape or data_offsets array), so anything deeper is refused before it
// is built. A JSON error (syntax, a number that overflows a double, bad UTF-8) is reported
// with the place in the header where the parser was: the tensor and the field.
json parse_header(const char* text, std::size_t size, const std::string& where) {
  struct Level {
    bool is_object;
    std::set<std::string> keys;  // the keys read so far in this object
    std::string key;             // the key whose value is being read
    bool has_key = false;        // a key has been read (keys may be "")
  };
  std::vector<Level> open;  // the containers being read, outermost first
  // "tensor 'a', field 'data_offsets'", "__metadata__ key 'epoch'", or "" at the top.
  auto place = [&]() -> std::string {
    if (open.empty() || !open[0].is_object || !open[0].has_key) return "";
    const std::string& top = open[0].key;
    std::string p = top == "__metadata__" ? std::string("__metadata__") : "tensor '" + shown(top) + "'";
    if (open.size() >= 2 && open[1].is_object && open[1].has_key)
      p += (top == "__metadata__" ? " key '" : ", field '") + shown(open[1].key) + "'";
    return p;
  };
  const json::parser_callback_t watch = [&](int, json::parse_event_t event, json& parsed) {
    using E = json::parse_event_t;
    if (event == E::object_start || event == E::array_start) {
      if (open.size() == 3) {
        const std::string at = place();
        fail(where, ": the header nests deeper than the format's three levels (header, tensor entry, shape), in ",
             at.empty() ? std::string("its top level") : at);
      }
      open.push_back({event == E::object_start, {}, {}, false});
    } else if (event == E::object_end || event == E::array_end) {
      open.pop_back();
    } else if (event == E::key) {
      Level& level = open.back();
      level.key = parsed.get<std::string>();
      level.has_key = true;
      if (!level.keys.insert(level.key).second) {
        if (open.size() == 1)
          fail(where, ": ", level.key == "__metadata__" ? std::string("__metadata__") : "tensor '" + shown(level.key) + "'",
               " appears twice in the header (the format forbids duplicate names)");
        fail(where, ": ", place(), " appears twice in the header (the format forbids duplicate keys)");
      }
    }
    return true;
  };
  try {
    return json::parse(text, text + size, watch);
  } catch (const json::exception& e) {
    // e.what() is "[json.exception.out_of_range.406] number overflow parsing '1e400'": keep the words.
    std::string what = e.what();
    if (const auto close = what.find("] "); what.rfind("[json.exception", 0) == 0 && close != std::string::npos)
      what = what.substr(close + 2);
    const std::string at = place();
    fail(where, ": the ", size, "-byte header is not valid JSON", at.empty() ? "" : " (in " + at + ")", ": ", what);
  }
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
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(where, ": is a folder, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(where, ": cannot open: ", std::strerror(errno));
  std::string bytes;
  try {
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  } catch (const std::bad_alloc&) {
    fail(where, ": out of memory reading the file");
  }
  if (f.bad()) fail(where, ": read error");
  return parse_safetensors(bytes, path);
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name) {
  const std::string where = "load_safetensors: '" + name + "'";
  const auto* file = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::uint64_t file_size = bytes.size();

  // 1. Header length and header.
  if (file_size < 8)
    fail(where, ": file is ", file_size, " bytes, too short for the 8-byte header length (not a safetensors file?)");
  const std::uint64_t H = read_le64(file);
  if (H > file_size - 8)
    fail(where, ": header length says ", H, " bytes, but only ", file_size - 8,
         " bytes follow it (truncated file, or not a safetensors file)");
  const json header = parse_header(bytes.data() + 8, H, where);
  if (!header.is_object()) fail(where, ": the header is JSON but not an object: ", header.type_name());
  const std::uint64_t data_size = file_size - 8 - H;
  const unsigned char* data = file + 8 + H;

  // 2. Each entry: dtype, shape, offsets, and bytes = prod(shape) * itemsize.
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [key, v] : header.items()) {
    if (key == "__metadata__") {
      if (!v.is_object()) fail(where, ": __metadata__ must be an object of strings, found ", v.type_name());
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string())
          fail(where, ": __metadata__ key '", shown(k), "' must be a string, found ", shown(s.dump()));
        out.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    const std::string tw = where + ": tensor '" + shown(key) + "'";
    if (!v.is_object()) fail(tw, ": expected an object with dtype, shape, data_offsets, found ", v.type_name());
    for (const auto& [field, unused] : v.items())
      if (field != "dtype" && field != "shape" && field != "data_offsets")
        fail(tw, ": field '", shown(field), "' is not part of the format (a tensor's entry holds dtype, shape, data_offsets)");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) fail(tw, ": the header entry has no '", field, "'");
    Entry e;
    e.name = key;
    const json& dtype = v.at("dtype");
    if (!dtype.is_string()) fail(tw, ": dtype must be a string, found ", shown(dtype.dump()));
    const std::string dt = dtype.get<std::string>();
    if (!parse_dtype(dt, &e.dtype)) {
      if (is_other_safetensors_dtype(dt))
        fail(tw, ": dtype '", dt, "' is a safetensors dtype chalk does not read (chalk reads F32, F64, I64; "
             "convert the tensor before saving, e.g. .float() in PyTorch)");
      fail(tw, ": dtype '", shown(dt), "' is not a safetensors dtype (chalk reads F32, F64, I64)");
    }
    const std::uint64_t itemsize = dtype_size(e.dtype);
    // prod(shape) * itemsize bytes. A zero dimension makes it 0 whatever the others are, but the
    // others still have to multiply within int64 bytes: chalk's strides and offsets are int64.
    const json& shape = v.at("shape");
    if (!shape.is_array()) fail(tw, ": shape must be an array, found ", shown(shape.dump()));
    std::uint64_t nonzero_bytes = itemsize;  // itemsize * the product of the nonzero dimensions
    bool has_zero = false, overflows = false;
    for (const json& d : shape) {
      const std::uint64_t n = json_uint(d, tw, "shape");
      if (n == 0) has_zero = true;
      else if (__builtin_mul_overflow(nonzero_bytes, n, &nonzero_bytes) || nonzero_bytes > INT64_MAX) overflows = true;
      if (!overflows) e.shape.push_back(static_cast<std::int64_t>(n));
    }
    if (overflows)
      fail(tw, ": shape ", shown(shape.dump()), " of ", dt, " is too large: its nonzero dimensions times ", itemsize, " bytes exceed 2^63 - 1 bytes");
    const std::uint64_t bytes_needed = has_zero ? 0 : nonzero_bytes;
    const json& off = v.at("data_offsets");
    if (!off.is_array() || off.size() != 2) fail(tw, ": data_offsets must be [begin, end], found ", shown(off.dump()));
    e.begin = json_uint(off[0], tw, "data_offsets");
    e.end = json_uint(off[1], tw, "data_offsets");
    if (e.begin > e.end) fail(tw, ": data_offsets [", e.begin, ", ", e.end, "] end before they begin");
    if (e.end > data_size)
      fail(tw, ": data_offsets [", e.begin, ", ", e.end, "] go past the end of the data, which is ", data_size,
           " bytes (truncated file?)");
    if (bytes_needed != e.end - e.begin)
      fail(tw, ": shape ", shown(shape.dump()), " of ", dt, " needs ", bytes_needed, " bytes, but data_offsets [",
           e.begin, ", ", e.end, "] span ", e.end - e.begin);
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
      if (i == 0)
        fail(where, ": tensor '", shown(e.name), "' starts at byte ", e.begin, " of the data, expected 0 (a gap)");
      fail(where, ": tensor '", shown(e.name), "' starts at byte ", e.begin, " but tensor '", shown(entries[i - 1].name),
           "' ends at ", expect, e.begin < expect ? " (they overlap)" : " (a gap between them)");
    }
    expect = e.end;
  }
  if (expect != data_size)
    fail(where, ": the tensors cover ", expect, " bytes of data but the file holds ", data_size, " (",
         data_size - expect, " trailing bytes)");

  // 4. Copy out. Every size was checked against the file's real size above.
  for (const Entry& e : entries) {
    Tensor t;
    try {
      t = Tensor::empty(e.shape, e.dtype);
    } catch (const std::bad_alloc&) {
      fail(where, ": tensor '", shown(e.name), "': out of memory allocating ", e.end - e.begin, " bytes");
    }
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
    increment_version(t);  // a live model's parameter: a graph that saved it is now stale
  }
  return file.metadata;
}

}  // namespace chalk
