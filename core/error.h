// core/error.h — chalk's one exception type and a helper that builds its message.
//
// Every bad input (shape or dtype mismatch, axis out of range, backward on a
// non-scalar, a corrupt file, ...) throws chalk::Error. The message always
// names the op (or file, or flag) and the offending shapes or values, e.g.
//   "matmul: inner dimensions differ: a is [3, 4], b is [5, 2]"
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace chalk {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A flag's value (a TrainConfig field) that the data shows cannot work, found after the data
// is read: e.g. a warm-up as long as the run. Programs exit 2 on it, as on a malformed flag.
class FlagError : public Error {
 public:
  explicit FlagError(const std::string& what) : Error(what) {}
};

// Concatenate any streamable pieces into one string.
template <class... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// Throw chalk::Error with the pieces concatenated: fail("sum: axis ", a, " out of range").
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(str_cat(parts...));
}

// Throw chalk::FlagError with the pieces concatenated; the message starts with the flag.
template <class... Parts>
[[noreturn]] void fail_flag(const Parts&... parts) {
  throw FlagError(str_cat(parts...));
}

}  // namespace chalk
