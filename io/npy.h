// io/npy.h — embeddings and their labels saved as one NumPy .npy file, for analysis outside
// chalk (chalk-eval --save-embeddings).
//
// The file is NumPy's format version 1.0 (numpy.lib.format, "A Simple File Format for NumPy
// Arrays", NEP 1): the magic "\x93NUMPY", the version bytes 1 and 0, the header length H
// (unsigned 16-bit little-endian), H bytes of a Python dict literal padded with spaces and
// ended by '\n' so that the data starts at a multiple of 64 bytes, then the data. chalk writes
// a one-dimensional structured array, one record per sample:
//
//   {'descr': [('label', '<i8'), ('embedding', '<f4', (D,))], 'fortran_order': False, 'shape': (N,), }
//
// ('<f8' for float64 embeddings), read in Python with
//
//   a = numpy.load("emb.npy"); a["embedding"]  # N x D;  a["label"]  # N, int64
//
// (no pickle: a structured dtype of numbers loads with numpy's default allow_pickle=False).
#pragma once

#include <string>

#include "core/tensor.h"

namespace chalk {

// Write embeddings (N x D, float32 or float64, every value finite, N, D >= 1) and labels (N,
// int64, >= 0) to `path` as the .npy file above: record i holds labels[i] and row i of the
// embeddings, bit for bit. Written atomically (io/atomic_file.h: PATH.tmp, then renamed), so a
// failed write leaves an existing file unchanged. Throws chalk::Error naming save_embeddings_npy
// and the file when it cannot be written, and naming the argument when a shape, dtype or value
// is not as above.
void save_embeddings_npy(const std::string& path, const Tensor& embeddings, const Tensor& labels);

// The header dict save_embeddings_npy writes for N samples of D values of `dtype` (float32 or
// float64), without padding: "{'descr': [('label', '<i8'), ('embedding', '<f4', (64,))], ...}".
std::string embeddings_npy_header(std::int64_t N, std::int64_t D, DType dtype);

}  // namespace chalk
