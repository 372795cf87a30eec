// io/atomic_file.cpp — PATH.tmp, fsync, rename (io/atomic_file.h).
#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace chalk {

namespace {

bool write_all(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    c += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::vector<ByteChunk>& chunks, const char* op) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    fail(op, ": cannot create '", tmp, "': ", std::strerror(errno), " (nothing written; '", path, "' is unchanged)");
  int err = 0;  // the first errno, if any step fails
  auto step = [&](bool ok) { if (!ok && err == 0) err = errno ? errno : EIO; };
  for (auto it = chunks.begin(); err == 0 && it != chunks.end(); ++it) step(write_all(fd, it->first, it->second));
  if (err == 0) step(::fsync(fd) == 0);
  step(::close(fd) == 0);
  if (err == 0) step(::rename(tmp.c_str(), path.c_str()) == 0);
  if (err != 0) {
    ::unlink(tmp.c_str());
    fail(op, ": writing '", tmp, "' failed: ", std::strerror(err), " (removed it; '", path, "' is unchanged)");
  }
  // Make the rename itself durable: flush the folder's entry too (best effort).
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_text_atomically(const std::string& path, const std::string& text, const char* op) {
  write_file_atomically(path, {{text.data(), text.size()}}, op);
}

}  // namespace chalk
