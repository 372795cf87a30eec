#include "plot/graphviz.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"

extern char** environ;

namespace chalk::plot {

namespace fs = std::filesystem;

bool dot_available() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream folders(path);
  for (std::string folder; std::getline(folders, folder, ':');) {
    const fs::path candidate = fs::path(folder.empty() ? "." : folder) / "dot";
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

void render_dot(const std::string& svg_path, const std::string& dot_text) {
  const std::string dot_path = fs::path(svg_path).replace_extension(".dot").string();
  const std::string err_path = fs::path(svg_path).replace_extension(".dot.err").string();
  {
    std::ofstream out(dot_path, std::ios::binary | std::ios::trunc);
    out << dot_text;
    out.close();
    if (!out) fail("render_dot: cannot write ", dot_path, " (", std::strerror(errno), ")");
  }
  if (!dot_available())
    fail("render_dot ", svg_path, ": Graphviz's dot program is not on PATH (Debian: apt-get install graphviz, "
         "which scripts/install-deps.sh does); the graph is in ", dot_path, " for any DOT viewer");
  std::error_code ec;
  fs::remove(svg_path, ec);  // so that a stale picture is never taken for a new one

  // dot's stderr goes to a file, read back for the message when it fails.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> args{"dot", "-Tsvg", dot_path, "-o", svg_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "dot", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) fail("render_dot ", svg_path, ": cannot run dot (", std::strerror(spawned), ")");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) fail("render_dot ", svg_path, ": waiting for dot failed (", std::strerror(errno), ")");
  std::string message;
  {
    std::ifstream err(err_path);
    std::ostringstream s;
    s << err.rdbuf();
    message = s.str();
  }
  fs::remove(err_path, ec);
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("render_dot ", svg_path, ": dot -Tsvg ", dot_path, " failed",
         WIFEXITED(status) ? " with exit status " + std::to_string(WEXITSTATUS(status)) : std::string(" (killed)"),
         message.empty() ? std::string() : ": " + message);
  if (!fs::is_regular_file(svg_path, ec) || fs::file_size(svg_path, ec) == 0)
    fail("render_dot ", svg_path, ": dot exited normally but wrote no SVG");
}

}  // namespace chalk::plot
