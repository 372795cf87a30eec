// io/atomic_file.h — write a file so that a crash, a kill or a full disk never leaves it half
// written: PATH is either the old file or the new one, whole.
//
// The bytes go to PATH.tmp, which is flushed to disk (fsync) and renamed over PATH (rename()
// within one folder is atomic); the folder's entry is flushed too. Every step is checked: a
// failed write (ENOSPC, EIO, ...) removes PATH.tmp and throws, and PATH is unchanged.
// Used for checkpoints (io/safetensors.cpp) and a run's config.json and metrics.jsonl.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace chalk {

// One piece of the file: a pointer and a length in bytes.
using ByteChunk = std::pair<const void*, std::size_t>;

// Write the chunks, in order, to `path` atomically. Throws chalk::Error naming `op`, the file
// and the system's reason ("No space left on device"), and saying that `path` is unchanged.
void write_file_atomically(const std::string& path, const std::vector<ByteChunk>& chunks, const char* op);

// The same for one string.
void write_text_atomically(const std::string& path, const std::string& text, const char* op);

}  // namespace chalk
