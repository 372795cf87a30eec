// io/safetensors.h — save and load named tensors in the safetensors format.
//
// The file layout (the format of Hugging Face's `safetensors`, readable by
// it and by a few lines of any language):
//
//   8 bytes    H, the header length: unsigned 64-bit little-endian
//   H bytes    a JSON object, padded with spaces to a multiple of 8 bytes:
//                { "fc1.weight": {"dtype": "F32", "shape": [256, 784], "data_offsets": [0, 802816]},
//                  ...,
//                  "__metadata__": {"epoch": "3", ...} }        (optional; string -> string)
//   the rest   the tensors' bytes, little-endian, row-major; tensor t occupies
//              [begin, end) counted from the first byte after the header, and
//              the ranges tile the rest of the file exactly, without gaps.
//
// chalk writes and reads the dtypes "F32", "F64" and "I64" (float32, float64,
// int64). Saving is atomic: the file is written to PATH.tmp, flushed to disk
// (fsync) and renamed over PATH, so a crash or an error while saving never
// leaves a half-written checkpoint and never destroys the previous one.
//
// A file is untrusted input. Loading checks everything and every error is a
// chalk::Error that names the file and the tensor or field: the header length
// against the file size; the JSON (a number that overflows, bad UTF-8, nesting
// deeper than the format's three levels); a key given twice in one object (a
// tensor, a field of a tensor's entry, a metadata key: the format forbids
// them, and JSON parsers silently keep one); fields the format does not have;
// dtypes (a safetensors dtype chalk does not read is named as such); shapes
// whose element count overflows; shapes against byte counts; offsets in range;
// and the ranges tiling the data exactly (no gap, no overlap, nothing after).
// Memory is bounded by the file's real size, never by a number in the header.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace chalk {

using TensorMap = std::map<std::string, Tensor>;
using Metadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  TensorMap tensors;
  Metadata metadata;  // the "__metadata__" entry (empty if the file has none)
};

// Write `tensors` (and `metadata`, if any) to `path`, atomically (see above).
// The tensors' values are saved, not their autograd state.
void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});

// Read every tensor of a safetensors file (each a fresh tensor with its own data).
// Throws chalk::Error "load_safetensors: 'PATH': ..." for a file that cannot be
// read or is not a valid safetensors file (see above).
SafetensorsFile load_safetensors(const std::string& path);

// The same from the file's bytes in memory; `name` stands for the file in error
// messages. load_safetensors reads the file and calls this (so does the fuzz
// target tests/fuzz/fuzz_safetensors.cpp).
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name);

// Copy the file's tensors into existing tensors, e.g. a model's parameters and
// buffers: load_safetensors_into(path, model.named_parameters()). Every name
// must be in the file, with the same shape and dtype; with `strict`, the file
// must hold no other tensors either. Nothing is copied unless all checks pass.
// The targets' data is overwritten in place (they stay the same tensors, so
// an optimizer holding them sees the new values). Returns the file's metadata.
Metadata load_safetensors_into(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& targets,
                               bool strict = true);

}  // namespace chalk
