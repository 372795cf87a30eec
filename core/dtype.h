// core/dtype.h — the element types a tensor can hold.
//
//   Float32  training (the default everywhere)
//   Float64  gradient checks and reference comparisons
//   Int64    labels and indices (never differentiable)
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/error.h"

namespace chalk {

enum class DType { Float32, Float64, Int64 };

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
  }
  return "?";
}

inline std::size_t dtype_size(DType t) { return t == DType::Float32 ? 4 : 8; }

inline bool is_floating(DType t) { return t != DType::Int64; }

// The C++ type behind a dtype, and back.
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::Int64; }

// Run `f` with a value of the C++ type behind a floating dtype, so that one
// templated body serves float32 and float64:
//   dispatch_float(x.dtype(), "exp", [&](auto tag) { using T = decltype(tag); ... });
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: break;
  }
  fail(op, ": expected a float32 or float64 tensor, got ", dtype_name(t));
}

// The same, for all three dtypes (copies, printing, indexing).
template <class F>
decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int64: return f(std::int64_t{});
  }
  return f(float{});
}

}  // namespace chalk
