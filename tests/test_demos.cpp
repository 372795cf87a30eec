// tests/test_demos.cpp — the student's path holds together: every demo is built, the gallery
// (docs/demos/, written by scripts/make-gallery.sh) matches the demos that exist, and no link in
// the documentation points at nothing.
//
//   ctest --test-dir build -R demo        every demos/NN_*.cpp has its program (and the demos run)
//   ctest --test-dir build -R gallery     docs/demos/ matches the demos and their --describe (and
//                                         each NN_topic-<dataset> entry was run on that data set)
//   ctest --test-dir build -R docs_links  every relative link in README.md, demos/README.md and
//                                         docs/**/*.md resolves: file, #anchor, #L<line>
//
// The rules, so that a failure is easy to read:
// * A link is [label](target) or an HTML src="target" / href="target", outside fenced code
//   blocks. Targets with a scheme (https:, mailto:) are not checked.
// * target = path#fragment; the path is relative to the Markdown file (empty: the file itself)
//   and must exist (a file or a folder).
// * A fragment into a .md file must be one of its headings' anchors, made as GitHub makes them:
//   lower case; letters, digits, '-', '_' kept, spaces become '-', everything else dropped (ASCII
//   punctuation and the Unicode punctuation of U+2000..U+206F, e.g. the dashes); a repeated
//   heading gets -1, -2, ...
// * A fragment #L<n> (or #L<n>-L<m>) under a label that is one code name, [`conv2d`](...#L259),
//   must land on a line that contains that name (for a::b, the part after the last ::). Line
//   numbers move when a file is edited; this keeps them honest, and the message says where the
//   name is now.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "io/mnist.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

const fs::path kRoot = fs::path(CHALK_TEST_DIR).parent_path();
const fs::path kBin = fs::path(CHALK_BINARY_DIR);
const fs::path kGallery = kRoot / "docs" / "demos";

using chalk::test_util::read_text;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream s(text);
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

std::string rel(const fs::path& p) { return fs::relative(p, kRoot).generic_string(); }

// The demo names, "NN_topic", of every demos/NN_topic.cpp, sorted.
std::vector<std::string> demo_names() {
  std::vector<std::string> names;
  const std::regex pattern(R"([0-9][0-9]_.+\.cpp)");
  for (const auto& e : fs::directory_iterator(kRoot / "demos"))
    if (e.is_regular_file() && std::regex_match(e.path().filename().string(), pattern))
      names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The text with every fenced code block (``` ... ```) blanked, newlines kept (line numbers stay).
std::string without_code_blocks(const std::string& text) {
  std::string out;
  bool inside = false;
  for (const std::string& line : lines_of(text)) {
    const bool fence = line.rfind("```", 0) == 0;
    if (fence) inside = !inside;
    out += (fence || inside) ? std::string() : line;
    out += '\n';
  }
  return out;
}

struct Link {
  std::string label;   // the text between [ and ] (empty for an HTML attribute)
  std::string target;  // as written
  int line;            // 1-based, in the Markdown file
};

// Every [label](target) and src="target" / href="target" outside code blocks.
std::vector<Link> links_in(const std::string& raw) {
  const std::string text = without_code_blocks(raw);
  std::vector<Link> out;
  const auto line_at = [&](std::size_t pos) { return 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n')); };
  for (std::size_t i = text.find("]("); i != std::string::npos; i = text.find("](", i + 1)) {
    // the target: up to the matching ')', no whitespace inside
    std::size_t end = i + 2;
    while (end < text.size() && text[end] != ')' && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    if (end >= text.size() || text[end] != ')' || end == i + 2) continue;
    // the label: back to the matching '['
    int depth = 0;
    std::size_t start = std::string::npos;
    for (std::size_t j = i; j-- > 0 && i - j < 2000;) {
      if (text[j] == ']') ++depth;
      else if (text[j] == '[') {
        if (depth == 0) { start = j; break; }
        --depth;
      }
    }
    if (start == std::string::npos) continue;
    out.push_back({text.substr(start + 1, i - start - 1), text.substr(i + 2, end - i - 2), line_at(i)});
  }
  const std::regex attr(R"re((?:src|href)="([^"]+)")re");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), attr); it != std::sregex_iterator(); ++it)
    out.push_back({"", (*it)[1].str(), line_at(static_cast<std::size_t>(it->position(0)))});
  return out;
}

bool has_scheme(const std::string& target) {
  static const std::regex scheme(R"([A-Za-z][A-Za-z0-9+.-]*:.*)");
  return std::regex_match(target, scheme);
}

// GitHub's anchor for a heading's text (see the rules at the top).
std::string slug(const std::string& heading) {
  std::string out;
  for (std::size_t i = 0; i < heading.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(heading[i]);
    if (c < 0x80) {
      if (std::isalnum(c) || c == '-' || c == '_') out += static_cast<char>(std::tolower(c));
      else if (c == ' ') out += '-';
      continue;
    }
    // a UTF-8 sequence: drop General Punctuation (U+2000..U+206F: E2 80 xx, E2 81 xx), keep the rest
    std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    len = std::min(len, heading.size() - i);
    const bool punctuation = c == 0xE2 && len == 3 &&
                             (static_cast<unsigned char>(heading[i + 1]) == 0x80 ||
                              static_cast<unsigned char>(heading[i + 1]) == 0x81);
    if (!punctuation) out += heading.substr(i, len);
    i += len - 1;
  }
  return out;
}

// The anchors of every heading of a Markdown file.
std::set<std::string> anchors_of(const fs::path& md) {
  std::set<std::string> out;
  std::map<std::string, int> seen;
  const std::regex heading(R"(^#{1,6}[ \t]+(.*?)[ \t#]*$)");
  for (const std::string& line : lines_of(without_code_blocks(read_text(md)))) {
    std::smatch m;
    if (!std::regex_match(line, m, heading)) continue;
    const std::string s = slug(m[1].str());
    const int n = seen[s]++;
    out.insert(n == 0 ? s : s + "-" + std::to_string(n));
  }
  return out;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Every Markdown file the links test covers.
std::vector<fs::path> markdown_files() {
  std::vector<fs::path> files = {kRoot / "README.md", kRoot / "demos" / "README.md"};
  for (const auto& e : fs::recursive_directory_iterator(kRoot / "docs"))
    if (e.is_regular_file() && e.path().extension() == ".md") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Runs a command, returns its standard output (and its exit status through `status`).
std::string run(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe)) out += buf.data();
  status = pclose(pipe);
  return out;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// The SVG files a report references, as written (relative to the report's folder).
std::vector<std::string> svg_targets(const std::string& report) {
  std::vector<std::string> out;
  for (const Link& l : links_in(report)) {
    const std::string path = l.target.substr(0, l.target.find('#'));
    if (!has_scheme(path) && path.size() > 4 && path.compare(path.size() - 4, 4, ".svg") == 0) out.push_back(path);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- (a) the programs

TEST(demo_programs, EveryDemoSourceHasABuiltProgram) {
  const std::vector<std::string> names = demo_names();
  ASSERT_FALSE(names.empty()) << "no demos/NN_*.cpp in " << rel(kRoot / "demos");
  for (const std::string& name : names) {
    const fs::path program = kBin / ("demo_" + name);
    EXPECT_TRUE(fs::exists(program)) << "demos/" << name << ".cpp has no program " << program.string()
                                     << " (build it: cmake --build " << kBin.string() << " --target programs)";
    if (fs::exists(program)) {
      EXPECT_NE(fs::status(program).permissions() & fs::perms::owner_exec, fs::perms::none)
          << program.string() << " is not executable";
    }
  }
}

// ---------------------------------------------------------------- (b), (c) the gallery

TEST(gallery, IndexListsExactlyTheDemosThatExist) {
  if (!fs::exists(kGallery))
    GTEST_SKIP() << "docs/demos/ does not exist yet: scripts/make-gallery.sh writes it";
  const fs::path index = kGallery / "README.md";
  ASSERT_TRUE(fs::exists(index)) << "docs/demos/ exists but has no README.md: run scripts/make-gallery.sh";
  const std::string text = read_text(index);
  // every demo the index names (by its source or its folder) exists as demos/<name>.cpp
  const std::regex named(R"((?:demos/|^|[(/"])([0-9][0-9]_[A-Za-z0-9_]+)(?:\.cpp|/report\.md))");
  std::set<std::string> listed;
  for (const std::string& line : lines_of(text))
    for (auto it = std::sregex_iterator(line.begin(), line.end(), named); it != std::sregex_iterator(); ++it)
      listed.insert((*it)[1].str());
  EXPECT_FALSE(listed.empty()) << rel(index) << " names no demo";
  for (const std::string& name : listed)
    EXPECT_TRUE(fs::exists(kRoot / "demos" / (name + ".cpp")))
        << rel(index) << " lists " << name << " but demos/" << name << ".cpp does not exist";
  // and every demo that exists has its row and its folder: a new demo needs a new gallery run
  for (const std::string& name : demo_names()) {
    EXPECT_TRUE(listed.count(name)) << "demos/" << name << ".cpp is missing from " << rel(index)
                                    << " (run scripts/make-gallery.sh)";
    EXPECT_TRUE(fs::exists(kGallery / name / "report.md"))
        << "docs/demos/" << name << "/report.md is missing (run scripts/make-gallery.sh)";
  }
}

namespace {
// The demo a gallery folder shows: "NN_topic" for NN_topic (MNIST, the default) and for
// NN_topic-<dataset> (the same demo with --dataset <dataset>; demo names have no '-').
std::string demo_of_folder(const std::string& folder) { return folder.substr(0, folder.find('-')); }
// The data set of a gallery folder's run: "" for NN_topic, "<dataset>" for NN_topic-<dataset>.
std::string dataset_of_folder_name(const std::string& folder) {
  const std::size_t dash = folder.find('-');
  return dash == std::string::npos ? "" : folder.substr(dash + 1);
}
// The command of a report's run line, "*Run: `demo_NN_topic [--quick] ... --seed N` ...", or "".
std::string run_command(const std::string& report) {
  for (const std::string& line : lines_of(report))
    if (line.rfind("*Run: `", 0) == 0) return line.substr(7, line.find('`', 7) - 7);
  return "";
}
// The gallery's reports: docs/demos/NN_topic[-dataset]/report.md, one per demo folder that has one.
std::vector<fs::path> gallery_reports() {
  std::vector<fs::path> reports;
  for (const auto& e : fs::directory_iterator(kGallery))
    if (e.is_directory() && fs::exists(e.path() / "report.md")) reports.push_back(e.path() / "report.md");
  return reports;
}
}  // namespace

TEST(gallery, EveryReportStartsWithItsProgramsDescribeLine) {
  if (!fs::exists(kGallery))
    GTEST_SKIP() << "docs/demos/ does not exist yet: scripts/make-gallery.sh writes it";
  int reports = 0;
  for (const fs::path& report : gallery_reports()) {
    ++reports;
    const std::string name = demo_of_folder(report.parent_path().filename().string());
    const fs::path program = kBin / ("demo_" + name);
    ASSERT_TRUE(fs::exists(program)) << "docs/demos/" << name << "/report.md has no program " << program.string();
    int status = 0;
    std::string command = "'";  // (not "'" + ...: GCC 12 warns -Wrestrict on that once inlined here)
    command.append(program.string()).append("' --describe");
    const std::string described = first_line(run(command, status));
    EXPECT_EQ(status, 0) << program.string() << " --describe failed";
    EXPECT_EQ(first_line(read_text(report)), described)
        << rel(report) << " is not the report of demo_" << name
        << " as it is now (its title changed? run scripts/make-gallery.sh)";
  }
  EXPECT_GT(reports, 0) << "docs/demos/ holds no report";
}

// The gallery shows the default runs (the shipped subset, the full budget), not --quick ones:
// the numbers in a --quick report are noisier and some claims are checked with looser margins.
// demos/notebook.cpp writes the command under the title: "*Run: `demo_NN_topic [--quick] --seed N` ...".
TEST(gallery, ReportsAreFromDefaultRunsNotQuick) {
  if (!fs::exists(kGallery))
    GTEST_SKIP() << "docs/demos/ does not exist yet: scripts/make-gallery.sh writes it";
  for (const fs::path& report : gallery_reports()) {
    const std::string command = run_command(read_text(report));
    EXPECT_FALSE(command.empty()) << rel(report) << " has no \"*Run: `...`\" line saying how it was made";
    EXPECT_EQ(command.find("--quick"), std::string::npos)
        << rel(report) << " comes from a --quick run (" << command << "): run scripts/make-gallery.sh without --quick";
  }
}

// A demo that takes --dataset (Notebook::add_dataset_flag) has a second gallery entry per other data
// set, NN_topic-<dataset> (scripts/make-gallery.sh): the folder's name says which data set, and the
// report's run line must say the same; the index lists it; and a demo that takes --dataset and has
// no Fashion-MNIST entry is a gallery that was not remade.
TEST(gallery, DatasetEntriesAreRunsOnTheirDataSet) {
  if (!fs::exists(kGallery))
    GTEST_SKIP() << "docs/demos/ does not exist yet: scripts/make-gallery.sh writes it";
  const std::string index = read_text(kGallery / "README.md");
  const std::vector<std::string> known = chalk::dataset_names();
  for (const fs::path& report : gallery_reports()) {
    const std::string folder = report.parent_path().filename().string(), dataset = dataset_of_folder_name(folder);
    if (dataset.empty()) continue;
    EXPECT_TRUE(std::find(known.begin(), known.end(), dataset) != known.end() && dataset != known.front())
        << rel(report) << ": '" << dataset << "' is not one of chalk's other data sets (io/mnist.h)";
    const std::string command = run_command(read_text(report));
    EXPECT_NE((command + " ").find(" --dataset " + dataset + " "), std::string::npos)
        << rel(report) << " is in the " << dataset << " folder but its run line says `" << command << "`";
    EXPECT_NE(index.find("(" + folder + "/report.md)"), std::string::npos)
        << "docs/demos/README.md does not link " << folder << "/report.md (run scripts/make-gallery.sh)";
  }
  for (const std::string& name : demo_names()) {
    bool takes_dataset = false;
    for (const std::string& line : lines_of(read_text(kRoot / "demos" / (name + ".cpp"))))
      takes_dataset = takes_dataset || line.find("add_dataset_flag()") != std::string::npos;
    if (!takes_dataset) continue;
    EXPECT_TRUE(fs::exists(kGallery / (name + "-fashion-mnist") / "report.md"))
        << "demos/" << name << ".cpp takes --dataset, but docs/demos/" << name
        << "-fashion-mnist/report.md is missing (scripts/make-gallery.sh --demos " << name.substr(0, 2) << ")";
  }
}

// Numbers move with the CPU and the OpenBLAS kernel (docs/demos/SPREAD.md): every report says where
// it was made, on the line demos/notebook.cpp writes under the run line:
// "*Machine: commit ..., <CPU> (<vendor> family F model M), <ISA>, OpenBLAS ..., <kernel> kernels, N thread(s).*"
TEST(gallery, ReportsSayWhereTheyWereMade) {
  if (!fs::exists(kGallery))
    GTEST_SKIP() << "docs/demos/ does not exist yet: scripts/make-gallery.sh writes it";
  int reports = 0;
  for (const fs::path& report : gallery_reports()) {
    ++reports;
    std::string machine;
    for (const std::string& line : lines_of(read_text(report)))
      if (line.rfind("*Machine: commit ", 0) == 0) machine = line;
    EXPECT_FALSE(machine.empty()) << rel(report) << " has no \"*Machine: commit ...*\" line saying where it was made";
    for (const char* part : {" family ", " model ", " kernels, ", " thread(s).*"})
      EXPECT_NE(machine.find(part), std::string::npos) << rel(report) << ": " << machine << " lacks '" << part << "'";
  }
  EXPECT_GT(reports, 0);
}

TEST(gallery, EverySvgAReportShowsExists) {
  if (!fs::exists(kGallery))
    GTEST_SKIP() << "docs/demos/ does not exist yet: scripts/make-gallery.sh writes it";
  int figures = 0;
  for (const fs::path& report : gallery_reports()) {
    const std::vector<std::string> svgs = svg_targets(read_text(report));
    EXPECT_FALSE(svgs.empty()) << rel(report) << " shows no SVG figure (every demo draws at least one)";
    for (const std::string& svg : svgs) {
      ++figures;
      const fs::path file = report.parent_path() / percent_decode(svg);
      EXPECT_TRUE(fs::is_regular_file(file)) << rel(report) << " shows " << svg << ", which does not exist";
      if (fs::is_regular_file(file)) {
        EXPECT_NE(read_text(file).find("<svg"), std::string::npos) << rel(file) << " is not an SVG";
      }
    }
  }
  EXPECT_GT(figures, 0) << "no report in docs/demos/ shows a figure";
}

// ---------------------------------------------------------------- (d) the links

TEST(docs_links, EveryRelativeLinkResolves) {
  int checked = 0;
  for (const fs::path& md : markdown_files()) {
    if (!fs::exists(md)) {
      ADD_FAILURE() << rel(md) << " does not exist";
      continue;
    }
    for (const Link& l : links_in(read_text(md))) {
      if (has_scheme(l.target) || l.target.rfind("//", 0) == 0) continue;
      const std::string path = percent_decode(l.target.substr(0, l.target.find_first_of("#?")));
      const fs::path file = path.empty() ? md : (md.parent_path() / path).lexically_normal();
      ++checked;
      EXPECT_TRUE(fs::exists(file)) << rel(md) << ":" << l.line << ": link to " << l.target
                                    << ", but " << rel(file) << " does not exist";
    }
  }
  EXPECT_GT(checked, 100) << "suspiciously few links found: is the parser broken?";
}

TEST(docs_links, EveryAnchorIntoAMarkdownPageExists) {
  std::map<fs::path, std::set<std::string>> cache;
  int checked = 0;
  for (const fs::path& md : markdown_files()) {
    for (const Link& l : links_in(read_text(md))) {
      const std::size_t hash = l.target.find('#');
      if (has_scheme(l.target) || hash == std::string::npos) continue;
      const std::string path = percent_decode(l.target.substr(0, hash)), anchor = l.target.substr(hash + 1);
      const fs::path file = path.empty() ? md : (md.parent_path() / path).lexically_normal();
      if (file.extension() != ".md" || !fs::exists(file)) continue;  // missing files: the test above
      if (!cache.count(file)) cache[file] = anchors_of(file);
      ++checked;
      EXPECT_TRUE(cache[file].count(percent_decode(anchor)))
          << rel(md) << ":" << l.line << ": link to " << l.target << ", but " << rel(file)
          << " has no heading with the anchor #" << anchor;
    }
  }
  EXPECT_GT(checked, 10);
}

TEST(docs_links, LineLinksLandOnTheNamedCode) {
  const std::regex line_anchor(R"(L([0-9]+)(?:-L[0-9]+)?)");
  const std::regex code_name(R"(`(?:[A-Za-z_][A-Za-z0-9_]*::)*([A-Za-z_][A-Za-z0-9_]*)(?:\([^`]*\))?`)");
  int checked = 0;
  for (const fs::path& md : markdown_files()) {
    for (const Link& l : links_in(read_text(md))) {
      const std::size_t hash = l.target.find('#');
      std::smatch la, cn;
      if (has_scheme(l.target) || hash == std::string::npos) continue;
      const std::string anchor = l.target.substr(hash + 1);
      if (!std::regex_match(anchor, la, line_anchor) || !std::regex_match(l.label, cn, code_name)) continue;
      const fs::path file = (md.parent_path() / percent_decode(l.target.substr(0, hash))).lexically_normal();
      if (!fs::exists(file)) continue;  // reported by EveryRelativeLinkResolves
      const std::vector<std::string> lines = lines_of(read_text(file));
      const std::size_t n = std::stoul(la[1].str());
      const std::string name = cn[1].str();
      ++checked;
      if (n >= 1 && n <= lines.size() && lines[n - 1].find(name) != std::string::npos) continue;
      std::string now = "nowhere";
      for (std::size_t i = 0; i < lines.size(); ++i)
        if (lines[i].find(name + "(") != std::string::npos && lines[i].find(';') == std::string::npos &&
            !lines[i].empty() && !std::isspace(static_cast<unsigned char>(lines[i][0])) && lines[i].rfind("//", 0) != 0) {
          now = "line " + std::to_string(i + 1) + ": " + lines[i];
          break;
        }
      ADD_FAILURE() << rel(md) << ":" << l.line << ": [" << l.label << "](" << l.target << ") — line " << n << " of "
                    << rel(file) << " does not mention " << name << " (it reads: "
                    << (n >= 1 && n <= lines.size() ? lines[n - 1] : std::string("past the end")) << "); " << name
                    << " is defined at " << now;
    }
  }
  EXPECT_GT(checked, 10);
}

// The parser itself, on a made-up page: a test that cannot fail is no test.
TEST(docs_links, ParserFindsLinksAnchorsAndSkipsCode) {
  const std::string page =
      "# A title — with a dash\n"
      "See [`conv2d`](../ops/conv.cpp#L259) and [two\nlines](b.md#x), <img src=\"d/f.svg\" width=\"9\">.\n"
      "```\n[not a link](nowhere.md)\n```\n"
      "## 2. The gradient: $p - t$\n## 2. The gradient: $p - t$\n";
  const std::vector<Link> links = links_in(page);
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[0].label, "`conv2d`");
  EXPECT_EQ(links[0].target, "../ops/conv.cpp#L259");
  EXPECT_EQ(links[0].line, 2);
  EXPECT_EQ(links[1].label, "two\nlines");
  EXPECT_EQ(links[2].target, "d/f.svg");
  EXPECT_EQ(slug("A title — with a dash"), "a-title--with-a-dash");
  EXPECT_EQ(slug("2. The gradient: $p - t$"), "2-the-gradient-p---t");
  EXPECT_EQ(slug("5. PyTorch's `TripletMarginLoss`, exactly"), "5-pytorchs-tripletmarginloss-exactly");
  EXPECT_TRUE(has_scheme("https://arxiv.org/abs/1904.08720"));
  EXPECT_FALSE(has_scheme("../ops/conv.cpp#L259"));
}

// A demo that reads data, given a --data folder without MNIST's four files, says so and exits 1
// (README: bad data exits 1): an error reaching the top of a demo's main is printed as
// "demo NN: error: ..." by the notebook (demos/notebook.cpp), not an abort. The same path carries
// a student edition's "exercise NN is not done yet" (tests/exercises/edition_test.sh runs it).
TEST(demo_programs, ABadDataFolderIsAnErrorNotACrash) {
  const fs::path empty = fs::temp_directory_path() / ("chalk_demo_empty_" + std::to_string(::getpid()));
  fs::create_directories(empty);
  int readers = 0;
  for (const std::string& name : demo_names()) {
    if (!fs::exists(kBin / ("demo_" + name))) continue;  // EveryDemoSourceHasABuiltProgram reports it
    std::string out;
    const int status = chalk::test_util::run_program(
        "demo_" + name + " --quick --threads 1 --data " + empty.string() + " --out " + (empty / name).string(), &out);
    if (status == 0) continue;  // a demo that never reads the data set (01-03)
    ++readers;
    EXPECT_EQ(status, 1) << "demo_" << name << " with an empty --data folder: " << out;
    EXPECT_NE(out.find("demo " + name.substr(0, 2) + ": error: --data: '" + empty.string()), std::string::npos)
        << "demo_" << name << " does not name the --data folder: " << out;
    EXPECT_EQ(out.find("terminate called"), std::string::npos) << "demo_" << name << " aborted: " << out;
  }
  EXPECT_GE(readers, 7) << "demos 04-10 read the data set";
  fs::remove_all(empty);
}
