#include "core/machine.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "core/gemm.h"

#ifndef CHALK_SOURCE_DIR
#define CHALK_SOURCE_DIR ""
#endif

namespace chalk {

namespace {
// The value of the first "key : value" line of /proc/cpuinfo whose key is `key`, or "".
std::string cpuinfo_field(const std::string& key) {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = line.substr(0, colon);
    while (!k.empty() && (k.back() == ' ' || k.back() == '\t')) k.pop_back();
    if (k != key) continue;
    std::string v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.erase(v.begin());
    return v;
  }
  return "";
}

// The first line a shell command prints, without its newline; "" when it fails.
std::string first_line_of(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return "";
  char buf[256];
  std::string out;
  if (std::fgets(buf, sizeof buf, p) != nullptr) out = buf;
  const int status = pclose(p);
  if (status != 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}
}  // namespace

std::string cpu_model() {
  const std::string name = cpuinfo_field("model name");
  if (name.empty()) return "unknown CPU";
  const std::string vendor = cpuinfo_field("vendor_id"), family = cpuinfo_field("cpu family"),
                    model = cpuinfo_field("model");
  return name + " (" + vendor + " family " + family + " model " + model + ")";
}

std::string cpu_isa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    return "AVX-512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "AVX2+FMA";
  if (__builtin_cpu_supports("sse4.2")) return "SSE4.2";
  return "SSE2";
#else
  return "not x86-64";
#endif
}

std::string source_commit() {
  const std::string dir = CHALK_SOURCE_DIR;
  if (dir.empty()) return "unknown (not a git checkout)";
  const std::string git = "git -C '" + dir + "' ";
  const std::string head = first_line_of(git + "rev-parse --short=12 HEAD 2>/dev/null");
  if (head.empty()) return "unknown (not a git checkout)";
  // any tracked file changed (untracked files, e.g. a build folder, do not count)
  const std::string dirty = first_line_of(git + "status --porcelain --untracked-files=no 2>/dev/null");
  return dirty.empty() ? head : head + " + uncommitted changes";
}

std::string run_environment(int threads) {
  return "commit " + source_commit() + ", " + cpu_model() + ", " + cpu_isa() + ", " + blas_description() + ", " +
         std::to_string(threads) + " thread(s)";
}

}  // namespace chalk
