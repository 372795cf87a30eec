// chalk-exercises — the course's exercises: list them, write a student edition, grade one.
//
//   chalk-exercises list
//   chalk-exercises edition --out DIR [--blank 1,5,9 | --blank all] [--from REPO]
//   chalk-exercises grade [--build DIR] [--out results.json] [--exercises 1,5,9] [--no-build]
//
// `edition` copies the files git tracks in REPO (default: the current folder) into DIR, a new git
// repository, with every region of the blanked exercises replaced by its stub (core/exercise.h)
// and every file that belongs wholly to one (its checker's wrong answers) left out. It then
// checks that no marker of a blanked exercise is left anywhere. `grade` builds and runs each
// exercise's check program (exercise_NN in the build folder) and writes Gradescope's autograder
// results.json: {"score", "tests": [{"name", "score", "max_score", "output", "visibility"}]}
// (https://gradescope-autograders.readthedocs.io/en/latest/specs/). Without --exercises it
// grades the exercises student-edition.json names (an edition's), else all of them.
// docs/teaching.md is the instructor's page.
//
// Exit status: 0 success, 1 error (a file that cannot be read or written, a malformed region),
// 2 bad flags.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <sys/wait.h>

#include "core/error.h"
#include "core/exercise.h"

namespace fs = std::filesystem;
using chalk::fail;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail("chalk-exercises: cannot read ", p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& text) {
  if (!p.parent_path().empty()) fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << text;
  if (!out) fail("chalk-exercises: cannot write ", p.string());
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command; its output (stdout and stderr) and exit status.
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) fail("chalk-exercises: cannot run ", command);
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0), out};
}

// "1,5,9" or "all" -> the numbers (each checked against the table).
std::set<int> parse_numbers(const std::string& list, const char* flag) {
  std::set<int> numbers;
  if (list == "all") {
    for (const auto& e : chalk::exercises()) numbers.insert(e.number);
    return numbers;
  }
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    int n = 0;
    try {
      n = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size())
      chalk::fail_flag(flag, ": '", item, "' is not an exercise number (expected e.g. 1,5,9 or all)");
    if (n < 1 || n > static_cast<int>(chalk::exercises().size()))
      chalk::fail_flag(flag, ": exercise ", n, " does not exist (1 to ", chalk::exercises().size(), ")");
    numbers.insert(n);
  }
  if (numbers.empty()) chalk::fail_flag(flag, ": no exercise given (expected e.g. 1,5,9 or all)");
  return numbers;
}

int list() {
  std::cout << "The exercises (docs/exercises/README.md). Check one with scripts/check-exercise N.\n\n";
  for (const auto& e : chalk::exercises())
    std::cout << chalk::exercise_id(e.number) << "  step " << e.course_step << "  " << e.task << "\n    "
              << chalk::exercise_page(e) << "  (" << e.sources << ")\n";
  return 0;
}

// tests/break_its.json without the break-its whose line lies in a blanked exercise's region (their
// "exercise"): each quotes its line of the solution ("original"), and the course steps and pages
// that tell it are blanked with the region, so the edition's suite checks the others only.
std::string without_blanked_break_its(const std::string& text, const std::set<int>& blank) {
  nlohmann::json catalogue = nlohmann::json::parse(text);
  nlohmann::json kept = nlohmann::json::array();
  for (const auto& b : catalogue.at("break_its"))
    if (!blank.count(b.value("exercise", 0))) kept.push_back(b);
  catalogue["break_its"] = kept;
  return catalogue.dump(2) + "\n";
}

int edition(const fs::path& from, const fs::path& out, const std::set<int>& blank) {
  if (fs::exists(out) && !fs::is_empty(out)) fail("chalk-exercises edition: ", out.string(), " exists and is not empty");
  auto [status, listing] = run("git -C " + quote(from.string()) + " ls-files -z");
  if (status != 0) fail("chalk-exercises edition: ", from.string(), " is not a git repository: ", listing);
  std::vector<std::string> files;
  for (std::size_t start = 0; start < listing.size();) {
    const std::size_t end = listing.find('\0', start);
    files.push_back(listing.substr(start, end - start));
    start = end == std::string::npos ? listing.size() : end + 1;
  }
  int blanked_regions = 0, left_out = 0;
  for (const auto& rel : files) {
    const fs::path src = from / rel, dst = out / rel;
    if (!fs::exists(src)) continue;  // deleted in the work tree, not yet committed
    if (fs::is_symlink(src) || !fs::is_regular_file(src)) continue;
    // (before the copy of non-source files below, which would take it whole)
    if (rel == "tests/break_its.json") {  // the catalogue quotes each break-it's line: a blanked one's goes
      write_file(dst, without_blanked_break_its(read_file(src), blank));
      continue;
    }
    const bool text = rel.ends_with(".cpp") || rel.ends_with(".h") || rel.ends_with(".md");
    if (!text) {
      fs::create_directories(dst.parent_path());
      fs::copy_file(src, dst, fs::copy_options::overwrite_existing);
      fs::permissions(dst, fs::status(src).permissions());
      continue;
    }
    const std::string body = read_file(src);
    if (const int owner = chalk::whole_file_exercise(body); owner && blank.count(owner)) {
      ++left_out;
      continue;
    }
    for (const auto& r : chalk::find_exercise_regions(body, rel)) blanked_regions += blank.count(r.number) ? 1 : 0;
    const std::string blanked = chalk::blank_exercise_regions(body, rel, blank);
    // nothing of a blanked exercise's solution may be left: no region of it in what is written
    for (const auto& r : chalk::find_exercise_regions(blanked, rel))
      if (blank.count(r.number)) fail("chalk-exercises edition: ", rel, " still holds exercise ", r.number, "'s region");
    write_file(dst, blanked);
  }
  nlohmann::json info;
  info["blanked"] = std::vector<int>(blank.begin(), blank.end());
  std::string commit = run("git -C " + quote(from.string()) + " rev-parse HEAD").second;
  while (!commit.empty() && (commit.back() == '\n' || commit.back() == ' ')) commit.pop_back();
  info["from_commit"] = commit;
  write_file(out / "student-edition.json", info.dump(2) + "\n");
  const std::string git = "git -C " + quote(out.string()) + " ";
  auto [init_status, init_out] = run(git + "init -q && " + git + "add -A && " + git +
                                     "-c user.name=chalk -c user.email=chalk@localhost commit -q -m "
                                     "'chalk student edition'");
  if (init_status != 0) fail("chalk-exercises edition: git could not commit the edition: ", init_out);
  std::cout << "student edition in " << out.string() << ": exercises";
  for (int n : blank) std::cout << " " << chalk::exercise_id(n);
  std::cout << " blanked (" << blanked_regions << " regions; " << left_out << " files of their wrong answers left out).\n"
            << "A student builds it with README's commands and checks an exercise with scripts/check-exercise N.\n";
  return 0;
}

int grade(const fs::path& build, const fs::path& out, std::set<int> numbers, bool build_first) {
  if (numbers.empty()) {
    const fs::path info = fs::path(build) / ".." / "student-edition.json";
    const fs::path here = "student-edition.json";
    const fs::path found = fs::exists(here) ? here : info;
    if (fs::exists(found)) {
      const nlohmann::json info_json = nlohmann::json::parse(read_file(found));  // alive through the loop
      for (int n : info_json.at("blanked")) numbers.insert(n);
    } else {
      for (const auto& e : chalk::exercises()) numbers.insert(e.number);
    }
  }
  nlohmann::json tests = nlohmann::json::array();
  double total = 0;
  for (int n : numbers) {
    const chalk::Exercise& e = chalk::exercise(n);
    const std::string target = "exercise_" + chalk::exercise_id(n);
    std::string output;
    int status = 0;
    if (build_first) {
      auto [s, o] = run("cmake --build " + quote(build.string()) + " --target " + target);
      if (s != 0) status = s, output = "the check program did not build:\n" + o;
    }
    if (status == 0) {
      auto [s, o] = run(quote((build / target).string()));
      status = s;
      output = o;
    }
    const double score = status == 0 ? 1.0 : 0.0;
    total += score;
    tests.push_back({{"name", "exercise " + chalk::exercise_id(n) + ": " + std::string(e.task)},
                     {"score", score},
                     {"max_score", 1.0},
                     {"output", output},
                     {"visibility", "visible"}});
    std::cout << chalk::exercise_id(n) << "  " << (score > 0 ? "pass" : "FAIL") << "  " << e.task << "\n";
  }
  nlohmann::json results = {{"score", total}, {"tests", tests}};
  write_file(out, results.dump(2) + "\n");
  std::cout << "score " << total << " of " << numbers.size() << "; results in " << out.string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chalk-exercises: the course's exercises (docs/exercises/README.md, docs/teaching.md)"};
  app.require_subcommand(1);
  auto* list_cmd = app.add_subcommand("list", "list the exercises, their pages and sources");
  std::string out, from = ".", blank = "all", build = "build", results = "results.json", which;
  bool no_build = false;
  auto* edition_cmd = app.add_subcommand("edition", "write a student edition: the chosen exercises blanked");
  edition_cmd->add_option("--out", out, "the new folder (must not exist or be empty)")->required();
  edition_cmd->add_option("--blank", blank, "exercises to blank: e.g. 1,5,9, or all")->capture_default_str();
  edition_cmd->add_option("--from", from, "the repository to copy (its files git tracks)")->capture_default_str();
  auto* grade_cmd = app.add_subcommand("grade", "build and run exercise checks; write Gradescope's results.json");
  grade_cmd->add_option("--build", build, "the build folder")->capture_default_str();
  grade_cmd->add_option("--out", results, "where to write results.json")->capture_default_str();
  grade_cmd->add_option("--exercises", which, "e.g. 1,5,9 (default: student-edition.json's, else all)");
  grade_cmd->add_flag("--no-build", no_build, "run the check programs as they are, without building them");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  try {
    if (*list_cmd) return list();
    if (*edition_cmd) return edition(from, out, parse_numbers(blank, "--blank"));
    if (*grade_cmd) return grade(build, results, which.empty() ? std::set<int>{} : parse_numbers(which, "--exercises"), !no_build);
  } catch (const chalk::FlagError& e) {
    std::cerr << "chalk-exercises: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "chalk-exercises: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
