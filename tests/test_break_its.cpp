// tests/test_break_its.cpp — the "Break it" steps of docs/course.md say what tests/break_its.json
// says, and every line the catalogue names is still in its file, exactly once.
//
//   ctest --test-dir build -L break-it     (these, and the check that applies each break-it)
//
// The catalogue lists, for each course step, one line of chalk's source to change: the file, the
// text to change ("original", which must occur exactly once in the file), the "replacement", the
// test "program" to rebuild, every test of that program that then fails ("fails"; all its other
// tests pass), the tests the pages say still pass ("passes"), the other pages that tell the same
// break-it ("pages"), and, when the line lies in an exercise's region, the exercise's number.
// scripts/check-break-its.cmake applies each break-it for real (a copy of the sources, one
// rebuild each) and checks that exactly "fails" fail; it takes minutes. These tests take
// milliseconds and need no rebuild: each break-it paragraph must quote the original and the
// replacement, name the program, link the file at the line ([ops/conv.cpp:174](../ops/conv.cpp#L174)),
// and only name tests the catalogue lists; course.md's must name every one of them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "core/exercise.h"

namespace fs = std::filesystem;

namespace {

const fs::path kRoot = fs::path(CHALK_TEST_DIR).parent_path();

using chalk::test_util::read_text;

// Runs of white space made one space: a quote may wrap across lines of a paragraph.
std::string flat(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// `text` as a Markdown code span. (Built by appending: GCC 12 misreports "`" + std::string under
// -Wrestrict.)
std::string code(const std::string& text) {
  std::string out(1, '`');
  out += text;
  out += '`';
  return out;
}

struct BreakIt {
  int step = 0;
  std::string function, file, original, replacement, program;
  std::vector<std::string> fails, passes, pages;
  int exercise = 0;  // the exercise whose region holds the line (0: none)
};

std::vector<BreakIt> parse_catalogue(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text);
  std::vector<BreakIt> out;
  for (const auto& e : j.at("break_its")) {
    BreakIt b;
    b.step = e.at("step").get<int>();
    b.function = e.at("function").get<std::string>();
    b.file = e.at("file").get<std::string>();
    b.original = e.at("original").get<std::string>();
    b.replacement = e.at("replacement").get<std::string>();
    b.program = e.at("program").get<std::string>();
    b.fails = e.at("fails").get<std::vector<std::string>>();
    b.passes = e.at("passes").get<std::vector<std::string>>();
    b.pages = e.at("pages").get<std::vector<std::string>>();
    b.exercise = e.value("exercise", 0);
    out.push_back(b);
  }
  return out;
}

const std::vector<BreakIt>& catalogue() {
  static const std::vector<BreakIt> c = parse_catalogue(read_text(kRoot / "tests" / "break_its.json"));
  return c;
}

std::string name_of(const BreakIt& b) {
  return "step " + std::to_string(b.step) + "'s break-it (" + b.file + ": `" + b.original + "`)";
}

// How many times `part` occurs in `text` (non-overlapping), and the 1-based line of the first.
struct Found {
  int count = 0;
  int line = 0;
};
Found locate(const std::string& text, const std::string& part) {
  Found f;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) {
    if (f.count++ == 0) f.line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
  }
  return f;
}

// A student edition (chalk-exercises edition) and the exercises it blanks: their regions, and a
// break-it's line in one, are not there.
std::set<int> blanked_exercises() {
  const fs::path info = kRoot / "student-edition.json";
  if (!fs::exists(info)) return {};
  const auto v = nlohmann::json::parse(read_text(info)).value("blanked", std::vector<int>{});
  return {v.begin(), v.end()};
}

struct Paragraph {
  std::string page;  // relative to the repository root
  int line = 0;      // where it starts, 1-based
  std::string text;
};

// course.md's "* **Break it**" bullet of each "## N. ..." step, by step number.
std::map<int, Paragraph> course_break_its(const std::string& text) {
  static const std::regex step_heading(R"(^## ([0-9]+)\. )");
  std::map<int, Paragraph> out;
  std::istringstream in(text);
  std::string line;
  int step = 0, n = 0;
  Paragraph* open = nullptr;
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    if (open && (line.empty() || line.rfind("* ", 0) == 0 || line.rfind("#", 0) == 0)) open = nullptr;
    if (std::regex_search(line, m, step_heading)) {
      step = std::stoi(m[1].str());
    } else if (line.rfind("#", 0) == 0) {
      step = 0;
    }
    if (open) open->text += "\n" + line;
    if (step > 0 && line.rfind("* **Break it**", 0) == 0) {
      open = &out[step];
      *open = Paragraph{"docs/course.md", n, line};
    }
  }
  return out;
}

// The paragraphs of a page (blank-line separated, or a list item; outside code fences) that tell
// a break-it: "Then break it: ..." or "**Break it**: ...". (Only naming the steps, as
// contributing.md does, is not telling one.)
std::vector<Paragraph> break_it_paragraphs(const std::string& page, const std::string& text) {
  std::vector<Paragraph> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  bool fence = false;
  Paragraph current;
  auto close = [&] {
    std::string lower = current.text;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (contains(lower, "break it:") || contains(lower, "break it**")) out.push_back(current);
    current = Paragraph{};
  };
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("```", 0) == 0) {
      close();
      fence = !fence;
      continue;
    }
    if (fence) continue;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      close();
      continue;
    }
    static const std::regex list_item(R"(^\s*([-*]|[0-9]+\.)\s)");
    if (!current.text.empty() && std::regex_search(line, list_item)) close();
    if (current.text.empty()) current = Paragraph{page, n, line};
    else current.text += "\n" + line;
  }
  close();
  return out;
}

// What `p` says that disagrees with `b`, or leaves out (empty: nothing). `file_text` is b.file's
// text (empty in a student edition that blanks the line's exercise: then its line is not checked).
// With `every_test`, the paragraph must name each test of b.fails and b.passes (course.md does).
std::vector<std::string> disagreements(const BreakIt& b, const Paragraph& p, const std::string& file_text,
                                       bool every_test) {
  std::vector<std::string> out;
  const std::string text = flat(p.text);
  const std::string where = p.page + ":" + std::to_string(p.line) + ": ";
  if (!contains(text, code(flat(b.original))))
    out.push_back(where + "does not quote the line's text `" + b.original + "` (tests/break_its.json's original)");
  if (!contains(text, code(flat(b.replacement))))
    out.push_back(where + "does not quote the replacement `" + b.replacement + "`");
  if (!contains(text, code(b.program)))
    out.push_back(where + "does not name the program to rebuild, `" + b.program + "`");
  // links into the file: each must land on the line to change
  const Found at = locate(file_text, b.original);
  const fs::path page_dir = (kRoot / p.page).parent_path();
  const std::string expected_target = fs::relative(kRoot / b.file, page_dir).generic_string() + "#L" + std::to_string(at.line);
  static const std::regex link(R"(\]\(([^)\s#]+)#L([0-9]+)(?:-L[0-9]+)?\))");
  int links = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), link); it != std::sregex_iterator(); ++it) {
    const fs::path target = (page_dir / (*it)[1].str()).lexically_normal();
    if (fs::relative(target, kRoot).generic_string() != b.file) continue;
    ++links;
    if (at.count == 1 && std::stoi((*it)[2].str()) != at.line)
      out.push_back(where + "links " + (*it)[0].str().substr(2, (*it)[0].length() - 3) + ", but the line to change is line " +
                    std::to_string(at.line) + " of " + b.file + ": link " + expected_target);
  }
  if (links == 0 && at.count == 1)
    out.push_back(where + "does not link the line to change: write [" + b.file + ":" + std::to_string(at.line) + "](" +
                  expected_target + ")");
  // the tests it names
  std::set<std::string> listed(b.fails.begin(), b.fails.end());
  listed.insert(b.passes.begin(), b.passes.end());
  // a test's name in a code span, alone or in a command (`ctest --test-dir build -R Suite.Name`)
  static const std::regex code_span("`([^`]+)`");
  static const std::regex test_name(R"((?:^|[^A-Za-z0-9_.])([A-Z][A-Za-z0-9_]*\.[A-Z][A-Za-z0-9_]*)(?![A-Za-z0-9_.(]))");
  std::set<std::string> named;
  for (auto span = std::sregex_iterator(text.begin(), text.end(), code_span); span != std::sregex_iterator(); ++span) {
    const std::string inside = (*span)[1].str();
    for (auto it = std::sregex_iterator(inside.begin(), inside.end(), test_name); it != std::sregex_iterator(); ++it)
      named.insert((*it)[1].str());
  }
  for (const std::string& t : named)
    if (!listed.count(t))
      out.push_back(where + "names `" + t + "`, which tests/break_its.json lists neither as failing (fails) nor as " +
                    "still passing (passes) for this break-it");
  if (every_test)
    for (const std::string& t : listed)
      if (!named.count(t))
        out.push_back(where + "does not name `" + t + "`, which " +
                      (std::count(b.fails.begin(), b.fails.end(), t) ? "fails" : "still passes") + " (tests/break_its.json)");
  return out;
}

std::string join_lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += "\n  " + x;
  return s;
}

}  // namespace

TEST(BreakIts, CatalogueIsWellFormed) {
  const auto& c = catalogue();
  ASSERT_GE(c.size(), 8u) << "tests/break_its.json lists too few break-its";
  std::set<int> steps;
  for (const BreakIt& b : c) {
    SCOPED_TRACE(name_of(b));
    EXPECT_TRUE(steps.insert(b.step).second) << "two break-its for step " << b.step;
    EXPECT_FALSE(b.original.empty());
    EXPECT_NE(b.original, b.replacement) << "a break-it must change the line";
    EXPECT_EQ(b.original.find('\n'), std::string::npos) << "original must be (part of) one line";
    EXPECT_EQ(b.replacement.find('\n'), std::string::npos) << "replacement must be (part of) one line";
    EXPECT_FALSE(b.fails.empty()) << "a break-it no test notices teaches nothing: name the tests that fail";
    EXPECT_TRUE(fs::exists(kRoot / "tests" / (b.program + ".cpp")))
        << "program " << b.program << " has no source tests/" << b.program << ".cpp";
    for (const std::string& t : b.passes)
      EXPECT_EQ(std::count(b.fails.begin(), b.fails.end(), t), 0) << t << " is listed both as failing and as passing";
    for (const std::string& page : b.pages) {
      EXPECT_TRUE(fs::exists(kRoot / page)) << "pages names " << page << ", which does not exist";
      EXPECT_NE(page, "docs/course.md") << "pages lists the other pages; course.md is every break-it's";
    }
  }
}

TEST(BreakIts, EachLineOccursExactlyOnceInItsFile) {
  const std::set<int> blanked = blanked_exercises();
  for (const BreakIt& b : catalogue()) {
    if (b.exercise && blanked.count(b.exercise)) continue;  // the student writes that line
    const fs::path path = kRoot / b.file;
    if (!fs::exists(path)) {
      ADD_FAILURE() << name_of(b) << " is stale: " << b.file << " does not exist";
      continue;
    }
    const std::string text = read_text(path);
    const Found at = locate(text, b.original);
    EXPECT_EQ(at.count, 1) << name_of(b) << " is stale: its text occurs " << at.count << " times in " << b.file
                           << (at.count == 0 ? " (the line is gone: find the line that now does what it did, "
                                               "and correct tests/break_its.json and docs/course.md; "
                                               "scripts/check-break-its --print-actual then lists what fails)"
                                             : " (quote more of the line, so that it names one)");
    if (at.count != 1 || !blanked.empty()) continue;
    // the exercise whose region holds the line, so that a student edition blanking it skips it
    int region = 0;
    for (const auto& r : chalk::find_exercise_regions(text, b.file))
      if (static_cast<std::size_t>(at.line - 1) > r.begin_line && static_cast<std::size_t>(at.line - 1) < r.end_line)
        region = r.number;
    EXPECT_EQ(b.exercise, region) << name_of(b) << ": line " << at.line << " of " << b.file
                                  << (region ? " lies in exercise " + chalk::exercise_id(region) + "'s region: give its entry \"exercise\": " +
                                                   std::to_string(region)
                                             : std::string(" lies in no exercise's region: drop its \"exercise\""));
  }
}

// Every test a break-it names is a test of its program (a renamed test is caught here, at once).
TEST(BreakIts, NamedTestsAreDefinedInTheirProgram) {
  static const std::regex definition(R"(\bTEST(?:_F)?\(\s*([A-Za-z0-9_]+)\s*,\s*([A-Za-z0-9_]+)\s*\))");
  for (const BreakIt& b : catalogue()) {
    const std::string source = read_text(kRoot / "tests" / (b.program + ".cpp"));
    std::set<std::string> defined;
    for (auto it = std::sregex_iterator(source.begin(), source.end(), definition); it != std::sregex_iterator(); ++it)
      defined.insert((*it)[1].str() + "." + (*it)[2].str());
    ASSERT_FALSE(defined.empty()) << "no TEST(...) found in tests/" << b.program << ".cpp";
    std::vector<std::string> named = b.fails;
    named.insert(named.end(), b.passes.begin(), b.passes.end());
    for (const std::string& t : named)
      EXPECT_TRUE(defined.count(t)) << name_of(b) << " names " << t << ", which tests/" << b.program
                                    << ".cpp does not define (renamed? the checker's --print-actual lists what fails)";
  }
}

TEST(BreakIts, CourseStatesEachBreakItAsTheCatalogueDoes) {
  const std::string course = read_text(kRoot / "docs" / "course.md");
  const std::map<int, Paragraph> paragraphs = course_break_its(course);
  const std::set<int> blanked = blanked_exercises();
  // (a student edition drops the break-its of the exercises it blanks, bullets and entries alike)
  ASSERT_GE(paragraphs.size(), blanked.empty() ? 8u : 1u)
      << "docs/course.md's \"* **Break it**\" bullets not found under its \"## N.\" steps";
  std::set<int> described;
  for (const BreakIt& b : catalogue()) {
    described.insert(b.step);
    const auto p = paragraphs.find(b.step);
    if (p == paragraphs.end()) {
      ADD_FAILURE() << "docs/course.md's step " << b.step << " has no \"* **Break it**\" bullet for " << name_of(b);
      continue;
    }
    const std::string file_text = b.exercise && blanked.count(b.exercise) ? std::string() : read_text(kRoot / b.file);
    const auto problems = disagreements(b, p->second, file_text, true);
    EXPECT_TRUE(problems.empty()) << "docs/course.md and tests/break_its.json disagree on " << name_of(b) << ":"
                                  << join_lines(problems);
  }
  for (const auto& [step, p] : paragraphs)
    EXPECT_TRUE(described.count(step)) << "docs/course.md:" << p.line << ": step " << step
                                       << "'s break-it is not in tests/break_its.json (add it: the suite checks each one)";
  // the page says that the suite checks them, and where the catalogue is
  EXPECT_TRUE(contains(flat(course), "ctest --test-dir build -L break-it")) << "docs/course.md should say how the break-its are checked";
  EXPECT_TRUE(contains(course, "(../tests/break_its.json)")) << "docs/course.md should link the catalogue";
}

// The derivation pages retell some break-its ("Then break it: ..."); each must be one of the
// catalogue's, told as it is, and listed in that break-it's "pages".
TEST(BreakIts, OtherPagesStateTheirBreakItsAsTheCatalogueDoes) {
  const std::set<int> blanked = blanked_exercises();
  std::map<std::string, std::set<int>> told;  // page -> steps whose break-it it tells
  int seen = 0;
  for (const auto& e : fs::recursive_directory_iterator(kRoot / "docs")) {
    if (!e.is_regular_file() || e.path().extension() != ".md") continue;
    const std::string page = fs::relative(e.path(), kRoot).generic_string();
    if (page == "docs/course.md" || page.rfind("docs/demos/", 0) == 0) continue;
    for (const Paragraph& p : break_it_paragraphs(page, read_text(e.path()))) {
      const BreakIt* match = nullptr;
      for (const BreakIt& b : catalogue())
        if (contains(flat(p.text), code(flat(b.original)))) match = &b;
      if (!match) {
        ADD_FAILURE() << page << ":" << p.line << ": a \"break it\" paragraph that quotes no line of tests/break_its.json "
                      << "(add its break-it there, or correct the quote):\n" << p.text;
        continue;
      }
      ++seen;
      told[page].insert(match->step);
      EXPECT_TRUE(std::count(match->pages.begin(), match->pages.end(), page))
          << page << ":" << p.line << " tells " << name_of(*match) << ": add \"" << page << "\" to its pages";
      const std::string file_text =
          match->exercise && blanked.count(match->exercise) ? std::string() : read_text(kRoot / match->file);
      const auto problems = disagreements(*match, p, file_text, false);
      EXPECT_TRUE(problems.empty()) << page << " and tests/break_its.json disagree on " << name_of(*match) << ":"
                                    << join_lines(problems);
    }
  }
  for (const BreakIt& b : catalogue())
    for (const std::string& page : b.pages)
      EXPECT_TRUE(told[page].count(b.step)) << name_of(b) << " lists " << page
                                            << " in its pages, but no \"break it\" paragraph there quotes its line";
  EXPECT_GT(seen, 0);
}

// The checks themselves, on a made-up break-it and paragraphs: each kind of disagreement is found.
TEST(BreakIts, DisagreementsAreFoundOfEachKind) {
  BreakIt b;
  b.step = 1;
  b.file = "ops/elementwise.cpp";
  b.original = "a + b";
  b.replacement = "a - b";
  b.program = "test_ops_elementwise";
  b.fails = {"Suite.FailsOne", "Suite.FailsTwo"};
  b.passes = {"Suite.StillPasses"};
  const std::string file = "line one\nline two: a + b\n";
  const std::string good =
      "* **Break it**: in [ops/elementwise.cpp:2](../ops/elementwise.cpp#L2), change `a + b` to\n"
      "  `a - b`. Rebuild `test_ops_elementwise`; `Suite.FailsOne` and `Suite.FailsTwo` fail,\n"
      "  `Suite.StillPasses` passes.";
  EXPECT_TRUE(disagreements(b, {"docs/course.md", 1, good}, file, true).empty()) << join_lines(disagreements(b, {"docs/course.md", 1, good}, file, true));
  auto one = [&](const std::string& text, bool every) {
    const auto d = disagreements(b, {"docs/course.md", 7, text}, file, every);
    return d.size() == 1 ? d[0] : "<" + std::to_string(d.size()) + " disagreements>" + join_lines(d);
  };
  auto swap = [&](std::string text, const std::string& from, const std::string& to) {
    return text.replace(text.find(from), from.size(), to);
  };
  EXPECT_TRUE(contains(one(swap(good, "#L2", "#L1"), true), "the line to change is line 2 of ops/elementwise.cpp"));
  EXPECT_TRUE(contains(one(swap(good, "[ops/elementwise.cpp:2](../ops/elementwise.cpp#L2)", "ops/elementwise.cpp"), true),
                       "does not link the line to change: write [ops/elementwise.cpp:2](../ops/elementwise.cpp#L2)"));
  EXPECT_TRUE(contains(one(swap(good, "`a + b`", "`a+b`"), true), "does not quote the line's text `a + b`"));
  EXPECT_TRUE(contains(one(swap(good, "`a - b`", "`a * b`"), true), "does not quote the replacement `a - b`"));
  EXPECT_TRUE(contains(one(swap(good, "`test_ops_elementwise`", "`test_ops`"), true), "`test_ops_elementwise`"));
  EXPECT_TRUE(contains(one(swap(good, " and `Suite.FailsTwo`", ""), true), "does not name `Suite.FailsTwo`, which fails"));
  EXPECT_TRUE(contains(one(swap(good, "`Suite.StillPasses`", "`Suite.Other`"), false), "names `Suite.Other`, which"));
  EXPECT_TRUE(contains(one(good + " Run `ctest --test-dir build -R Suite.Other`.", false), "names `Suite.Other`, which"));
  EXPECT_TRUE(disagreements(b, {"docs/course.md", 1, good + " `Suite.*` and `x.Grad()` and `ops.Md`"}, file, true).empty());
  // a page other than course.md may name only some of the tests
  EXPECT_TRUE(disagreements(b, {"docs/course.md", 1, swap(good, " and `Suite.FailsTwo`", "")}, file, false).empty());
  // a line that is gone: the text and the test names are still compared, the link cannot be
  EXPECT_TRUE(disagreements(b, {"docs/course.md", 1, good}, "", true).empty());

  EXPECT_EQ(locate("x a + b y\na + b", "a + b").count, 2);
  EXPECT_EQ(locate("x\ny\nz a + b", "a + b").line, 3);
  const auto course = course_break_its(
      "intro\n4. **Break it**: not a step\n## 3. Three\n* **Read** this\n* **Break it**: change\n  `x`.\n* **Then**\n## Then\n");
  ASSERT_EQ(course.size(), 1u);
  EXPECT_EQ(course.at(3).line, 5);
  EXPECT_EQ(course.at(3).text, "* **Break it**: change\n  `x`.");
  const auto paragraphs = break_it_paragraphs(
      "docs/x.md",
      "a\n\nThen break it: in\n`f`.\n\n```\nbreak it: x\n```\nno\n- the \"Break it\" steps\n- **Break it**: y\n  z\n");
  ASSERT_EQ(paragraphs.size(), 2u);
  EXPECT_EQ(paragraphs[0].line, 3);
  EXPECT_EQ(paragraphs[0].text, "Then break it: in\n`f`.");
  EXPECT_EQ(paragraphs[1].line, 11);
  EXPECT_EQ(paragraphs[1].text, "- **Break it**: y\n  z");
}
