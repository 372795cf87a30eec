// tests/test_pages.cpp — what a page states about the code is what the code does. The line-link
// test (tests/test_demos.cpp, docs_links.LineLinksLandOnTheNamedCode) keeps `#L` links honest;
// these keep the other kinds of statement honest, each by taking the stated value from the code
// (or from the page the statement repeats) and failing when the two part:
//
//   ctest --test-dir build -R PagesAgree
//
// * paths: every repository path a page, the demos' README or a demo's source names exists, and
//   "`name` (path)" names a file that mentions `name`;
// * defaults: the chalk-train defaults the pages quote, from TrainConfig and the loss registry;
// * messages: the messages the pages quote as chalk's output, produced here and looked up;
// * lists: demos/README.md has one row per demo and no roadmap of demos that already exist;
// * order: docs/README.md's reading order is course.md's.
//
// Pages are compared with runs of whitespace made one space (a quote may wrap across lines).
// Counts a demo states in its prose are printed from the variable that holds them (demos/*.cpp),
// not checked here: there is no literal to compare.
#include <gtest/gtest.h>

#include <algorithm>
#include <chalk.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "train/checkpoint.h"
#include "train/sampler.h"
#include "train/config.h"

namespace fs = std::filesystem;
using namespace chalk;

namespace {

const fs::path kRoot = fs::path(CHALK_TEST_DIR).parent_path();

using chalk::test_util::read_text;

std::string rel(const fs::path& p) { return fs::relative(p, kRoot).generic_string(); }

// Runs of whitespace (and the '>' that starts a quoted line, and a list item's indentation)
// made one space, so that a statement wrapped across lines is found.
std::string flat(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// A number as the pages write it: shortest round-trip form of up to 6 digits (0.05, 30, 0.001).
std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// 40320 -> "40,320", as the pages write counts.
std::string thousands(std::int64_t n) {
  std::string d = std::to_string(n), out;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i > 0 && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

// README.md, demos/README.md and docs/**/*.md, but not the gallery (docs/demos/): its reports are
// written by the demos, whose sources are checked instead.
std::vector<fs::path> pages() {
  std::vector<fs::path> files = {kRoot / "README.md", kRoot / "demos" / "README.md"};
  for (const auto& e : fs::recursive_directory_iterator(kRoot / "docs")) {
    if (!e.is_regular_file() || e.path().extension() != ".md") continue;
    if (rel(e.path()).rfind("docs/demos/", 0) == 0) continue;
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<fs::path> demo_sources() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kRoot / "demos"))
    if (e.is_regular_file() && e.path().extension() == ".cpp") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Expects `page` (flattened) to contain `text` (flattened); the message says where the
// statement's source of truth is.
void expect_states(const std::string& page, const std::string& text, const std::string& source) {
  const std::string body = flat(read_text(kRoot / page));
  ASSERT_FALSE(body.empty()) << page << " is missing or empty";
  EXPECT_NE(body.find(flat(text)), std::string::npos)
      << page << " should state, from " << source << ":\n  " << flat(text)
      << "\n(the page and the code have parted: correct the page, or the code if the page is right)";
}

// The top-level folders a path in the text can start with.
const char* const kFolders = "apps|bench|cmake|core|data|demos|docs|eval|include|io|losses|nn|ops|plot|scripts|tests|train";

struct NamedPath {
  std::string path;
  std::size_t pos;
};

// Every "folder/..." token of `text` that names one file or folder (not a pattern such as
// tests/test_*.cpp or demos/NN_topic.cpp).
std::vector<NamedPath> named_paths(const std::string& text) {
  static const std::regex token(std::string(R"((^|[^A-Za-z0-9_./#-])((?:)") + kFolders +
                                R"()/[A-Za-z0-9_.+/-]*[A-Za-z0-9_]))");
  std::vector<NamedPath> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), token); it != std::sregex_iterator(); ++it) {
    const std::string p = (*it)[2].str();
    const std::size_t end = static_cast<std::size_t>(it->position(2)) + p.size();
    const char next = end < text.size() ? text[end] : ' ';
    if (next == '*' || next == '<' || next == '{' || next == '[' || next == '$') continue;  // a pattern
    if (text.compare(end, 2, ".{") == 0) continue;                                         // demos/notebook.{h,cpp}
    if (p.find("NN") != std::string::npos || p.find("..") != std::string::npos) continue;
    // a former name ("it was demos/01_autograd_tour.cpp") is history, not a place
    const std::size_t start = static_cast<std::size_t>(it->position(2));
    if (start >= 4 && text.compare(start - 4, 4, "was ") == 0) continue;
    out.push_back({p, static_cast<std::size_t>(it->position(2))});
  }
  return out;
}

// Paths a page names on purpose that are not in the repository: made by a script, or the files
// a tutorial asks the reader to write.
bool not_kept(const fs::path& page, const std::string& p) {
  if (p.rfind("data/mnist-full", 0) == 0) return true;  // scripts/fetch-mnist.sh
  return rel(page) == "docs/adding-a-loss.md" && p.rfind("losses/contrastive.", 0) == 0;  // "in your tree"
}

// Does the path a page names exist? From the repository's root or (a page) from the page's
// folder; a name without extension may be a program, built from its .cpp (bench/bench_conv).
bool exists_as_named(const fs::path& page, const std::string& p) {
  for (const fs::path& base : {kRoot, page.parent_path()}) {
    if (base != kRoot && page.extension() != ".md") continue;
    if (fs::exists(base / p)) return true;
    if (fs::path(p).extension().empty() && fs::exists(base / (p + ".cpp"))) return true;
  }
  return false;
}

int line_of(const std::string& text, std::size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}

}  // namespace

// ---------------------------------------------------------------- paths

TEST(PagesAgree, EveryPathAPageNamesExists) {
  int checked = 0;
  std::vector<fs::path> files = pages();
  for (const fs::path& d : demo_sources()) files.push_back(d);
  for (const fs::path& file : files) {
    const std::string text = read_text(file);
    for (const NamedPath& n : named_paths(text)) {
      if (not_kept(file, n.path)) continue;
      ++checked;
      EXPECT_TRUE(exists_as_named(file, n.path)) << rel(file) << ":" << line_of(text, n.pos) << " names " << n.path
                         << ", which does not exist";
    }
  }
  EXPECT_GT(checked, 200) << "suspiciously few paths found: is the pattern broken?";
}

// "`sum_to` (ops/broadcast.cpp)", "[`sub`](../ops/elementwise.cpp#L38) (ops/elementwise.cpp)",
// "`row_grad` in losses/cross_entropy_rows.h": the file must mention the name.
TEST(PagesAgree, ANameSaidToBeInAFileIsThere) {
  static const std::regex said(std::string(R"(`(?:[A-Za-z_][A-Za-z0-9_]*::)*([A-Za-z_][A-Za-z0-9_]*)(?:\([^`]*\))?`)"
                                           R"((?:\]\([^)\s]*\))?(?: \(| in )\[?`?((?:)") +
                               kFolders + R"()/[A-Za-z0-9_./-]+\.(?:h|cpp)))");
  int checked = 0;
  std::vector<fs::path> files = pages();
  for (const fs::path& d : demo_sources()) files.push_back(d);
  for (const fs::path& file : files) {
    const std::string text = read_text(file);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), said); it != std::sregex_iterator(); ++it) {
      const std::string name = (*it)[1].str(), path = (*it)[2].str();
      if (!fs::exists(kRoot / path)) continue;  // EveryPathAPageNamesExists reports it
      ++checked;
      EXPECT_NE(read_text(kRoot / path).find(name), std::string::npos)
          << rel(file) << ":" << line_of(text, static_cast<std::size_t>(it->position(0))) << " says `" << name
          << "` is in " << path << ", which does not mention it";
    }
  }
  EXPECT_GT(checked, 10) << "suspiciously few \"`name` (path)\" statements found: is the pattern broken?";
}

// The patterns themselves, on made-up text: a test that cannot fail is no test.
TEST(PagesAgree, PathPatternFindsPathsAndSkipsPatternsAndLinks) {
  const std::vector<NamedPath> found =
      named_paths("see ops/broadcast.cpp. and `core/autograd.h`, not tests/test_*.cpp, demos/NN_topic.cpp, "
                  "../ops/conv.cpp or https://x.org/core/y.h; docs/demos/01_a/report.md");
  std::vector<std::string> paths;
  for (const NamedPath& n : found) paths.push_back(n.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"ops/broadcast.cpp", "core/autograd.h", "docs/demos/01_a/report.md"}));
  EXPECT_TRUE(named_paths("demos/notebook.{h,cpp}; it was demos/01_old.cpp").empty());
  EXPECT_FALSE(exists_as_named(kRoot / "README.md", "ops/reduce_to.cpp"));
  EXPECT_TRUE(exists_as_named(kRoot / "docs" / "README.md", "losses/triplet.md"));
  EXPECT_TRUE(exists_as_named(kRoot / "README.md", "bench/bench_conv"));
  EXPECT_EQ(flat("a\n   b\tc  "), "a b c");
  EXPECT_EQ(thousands(215040), "215,040");
  EXPECT_EQ(num(0.35), "0.35");
}

// ---------------------------------------------------------------- defaults

// The chalk-train defaults the pages quote, each rebuilt from TrainConfig (what `chalk-train
// --help` prints) and the loss registry. MNIST has C = 10 classes.
TEST(PagesAgree, DefaultsThePagesQuoteAreChalkTrains) {
  const TrainConfig c;
  const std::int64_t C = 10, B = c.batch_size, K = c.samples_per_class;
  const std::int64_t P = pk_classes_per_batch(C, B, K), N = P * K;
  const std::string from_config = "TrainConfig (train/config.h), pk_classes_per_batch (train/sampler.h)";
  const std::string tri = "docs/losses/triplet.md";
  expect_states(tri, "with chalk-train's defaults on MNIST, $P = " + std::to_string(P) + "$, $K = " +
                         std::to_string(K) + "$:", from_config);
  expect_states(tri, "| mining | triplets per batch | with $P = " + std::to_string(P) + ", K = " + std::to_string(K) + "$ |",
                from_config);
  expect_states(tri, "| all | $N (K - 1)(N - K)$ | " + thousands(N * (K - 1) * (N - K)) + " |", from_config);
  expect_states(tri, "| hard | $N$ | " + thousands(N) + " |", from_config);
  expect_states(tri, "| semihard | $N (K - 1)$ | " + thousands(N * (K - 1)) + " |", from_config);
  expect_states(tri, "batch-all's " + thousands(N * (K - 1) * (N - K)) + " triplets are never stored", from_config);
  expect_states(tri, "$K$ = `--samples-per-class` (" + std::to_string(K) + ")", from_config);
  expect_states(tri, "so all " + std::to_string(P) + " classes $\\times$ " + std::to_string(K) + " = " +
                         std::to_string(N) + " embeddings at the default batch size of " + std::to_string(B),
                from_config);
  expect_states("docs/losses.md", "K = " + std::to_string(K) + " of the P x K batches (P = batch size / K, at most C: " +
                                      std::to_string(P) + " x " + std::to_string(K) + " at batch size " +
                                      std::to_string(B) + ")",
                from_config);
  expect_states("docs/losses.md", "Defaults were chosen to train well on MNIST (" + c.schedule + " schedule, batch " +
                                      std::to_string(B) + ")",
                from_config);

  // the registry's training defaults
  const TrainingDefaults& soft = find_loss("softmax").defaults;
  const TrainingDefaults& arc = find_loss("arcface").defaults;
  const TrainingDefaults& trip = find_loss("triplet").defaults;
  const std::string from_registry = "the loss registry (losses/registry.cpp)";
  expect_states("docs/losses.md", "| `--emb-dim` | all | " + std::to_string(arc.emb_dim) + "; `softmax` " +
                                      std::to_string(soft.emb_dim) + " = the model outputs",
                from_registry);
  expect_states("docs/losses.md", "| `--optimizer` | all | `" + trip.optimizer + "` for `triplet`", from_registry);
  expect_states("docs/losses.md", "`" + soft.optimizer + "` with momentum " + num(c.momentum) + " for the others",
                from_registry);
  expect_states("docs/losses.md", "| `--lr` | all | SGD: " + num(soft.sgd_lr) + "; the margin-softmax family " +
                                      num(arc.sgd_lr) + " (",
                from_registry);
  expect_states("docs/losses.md", "Adam/AdamW: " + num(soft.adam_lr) + " |", from_registry);

  // the losses' own option defaults, as their option tables declare them (losses/options.h)
  auto def = [](const char* loss, const char* option) {
    const OptionSpec* o = find_option(find_loss(loss), option);
    EXPECT_TRUE(o) << loss << " has no option " << option;
    return o ? o->default_str() : std::string("?");
  };
  const std::string from_losses = "the losses' option tables (losses/*.cpp)";
  const std::string ms = "docs/losses/margin_softmax.md";
  expect_states(ms, "| $\\theta_1 = \\theta_2$ | $s = " + def("normface", "scale") + "$ |", from_losses);
  expect_states(ms, "| $s = " + def("cosface", "scale") + "$, $m = " + def("cosface", "margin") + "$ |", from_losses);
  expect_states(ms, "| $s = " + def("arcface", "scale") + "$, $m = " + def("arcface", "margin") + "$ rad |", from_losses);
  expect_states(ms, "| $s = " + def("combined", "scale") + "$, $m_1 = " + def("combined", "m1") + "$, $m_2 = " +
                        def("combined", "m2") + "$, $m_3 = " + def("combined", "m3") + "$ |",
                from_losses);
  expect_states(ms, "| $m = " + def("sphereface", "sphere_m") + "$, $\\lambda$ annealed |", from_losses);
  expect_states(tri, "the margin (" + def("triplet", "margin") + " with the defaults", from_losses);
  expect_states("docs/training.md", "CosFaceLoss(s = " + def("cosface", "scale") + ", m = " + def("cosface", "margin") + ")",
                from_losses);
}

namespace {

// docs/losses.md's table of every loss's options, made from the losses' own option tables: the
// text between the two marker lines.
const char* const kOptionsTableBegin = "<!-- the losses' options: generated from their option tables";
const char* const kOptionsTableEnd = "<!-- end of the losses' options -->";

std::string cell(const std::string& text) {  // a Markdown table cell: '|' escaped
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string loss_options_table() {
  std::string t = "| `--loss` | option | default | values | what it sets |\n|---|---|---|---|---|\n";
  for (const LossEntry& e : loss_registry())
    for (const OptionSpec& o : e.options) {
      std::string values = o.is_switch() ? "a switch: given, on" : o.allowed_str();
      if (o.type == OptionType::Bool && !o.is_switch()) values = "`on`, `off` (or `1`, `0`)";
      if (o.type == OptionType::Text && !o.choices.empty()) {
        values.clear();
        for (const std::string& c : o.choices) values += (values.empty() ? "" : ", ") + ("`" + c + "`");
      }
      t += "| `" + e.name + "` | `" + o.flag() + "` | " + cell(o.default_str()) + " | " + cell(values) + " | " +
           cell(o.help) + " |\n";
    }
  return t;
}

}  // namespace

// The options table of docs/losses.md is the losses' own declarations, row for row: a changed
// default, help text or new option shows up here, and the failure prints the table to paste.
TEST(PagesAgree, LossOptionsTableIsTheLossesOwn) {
  const std::string page = read_text(kRoot / "docs" / "losses.md");
  const std::size_t begin = page.find(kOptionsTableBegin);
  ASSERT_NE(begin, std::string::npos) << "docs/losses.md has no line starting " << kOptionsTableBegin;
  const std::size_t from = page.find('\n', begin) + 1, to = page.find(kOptionsTableEnd, from);
  ASSERT_NE(to, std::string::npos) << "docs/losses.md: no " << kOptionsTableEnd << " after the table";
  const std::string want = loss_options_table();
  EXPECT_EQ(page.substr(from, to - from), want)
      << "docs/losses.md's options table differs from the losses' option tables; the table they declare:\n" << want;
  EXPECT_NE(want.find("| `cosface` | `--margin` | " + find_option(find_loss("cosface"), "margin")->default_str()),
            std::string::npos)
      << want;  // the generator itself: one row per option, the default from the declaration
}

// ---------------------------------------------------------------- messages

// A square whose VJP forgets the 2: dx = g x instead of 2 g x. docs/autograd.md shows its report.
Tensor square_forgets_two(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * x;
  }
  record(y, "square_forgets_two", {x}, [x = x.detach()](const Tensor& g, Grads& dx) {
    if (dx.wants(0)) dx.add(0, g * x);  // the bug: should be 2 g x
  });
  return y;
}

TEST(PagesAgree, MessagesThePagesQuoteAreChalks) {
  // gradcheck's report (docs/autograd.md §4)
  std::vector<double> v(12);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.25 * static_cast<double>(i) - 1.0;
  const GradcheckResult r =
      gradcheck([](const std::vector<Tensor>& in) { return square_forgets_two(in[0]); }, {from_vector(v, {3, 4})});
  ASSERT_FALSE(r.ok);
  expect_states("docs/autograd.md", r.report, "gradcheck on tests/test_pages.cpp's square_forgets_two");

  // anomaly mode (docs/autograd.md §6)
  {
    AnomalyGuard anomaly;
    std::string forward, backward;
    try {
      Tensor x = from_vector(std::vector<double>{1.0, -1.0, 2.0}, {3});
      x.requires_grad_(true);
      (void)log(x);
    } catch (const Error& e) {
      forward = e.what();
    }
    try {
      Tensor x = from_vector(std::vector<double>{1.0, 0.0}, {2});
      x.requires_grad_(true);
      sum(sqrt(x)).backward();
    } catch (const Error& e) {
      backward = e.what();
    }
    ASSERT_FALSE(forward.empty());
    ASSERT_FALSE(backward.empty());
    expect_states("docs/autograd.md", forward, "log of [1, -1, 2] under AnomalyGuard");
    expect_states("docs/autograd.md", backward, "the backward of sqrt at [1, 0] under AnomalyGuard");
  }

  // a broadcasting error (docs/broadcasting.md, docs/ops.md)
  std::string broadcast;
  try {
    (void)add(zeros({2, 3}), zeros({4}));
  } catch (const Error& e) {
    broadcast = e.what();
  }
  ASSERT_FALSE(broadcast.empty());
  expect_states("docs/broadcasting.md", "error: \"" + broadcast + "\"", "add of [2, 3] and [4]");
  expect_states("docs/ops.md", "error: \"" + broadcast + "\"", "add of [2, 3] and [4]");

  // a flag that contradicts the resumed run (docs/training.md, "Resuming")
  TrainConfig stored, given;
  stored.loss = "cosface";
  given.loss = "arcface";
  std::string contradiction;
  try {
    (void)resume_config(stored, given, {"--loss"});
  } catch (const Error& e) {
    contradiction = e.what();
  }
  const std::size_t from = contradiction.find("--loss"), to = contradiction.find("\"cosface\"");
  ASSERT_TRUE(from != std::string::npos && to != std::string::npos && to > from) << contradiction;
  expect_states("docs/training.md", "`" + contradiction.substr(from, to + 9 - from) + "`",
                "resume_config (train/checkpoint.cpp) given --loss arcface for a cosface run");
}

// ---------------------------------------------------------------- lists

// demos/README.md's table has one row per demos/NN_*.cpp, in order, and names no demo to come.
TEST(PagesAgree, DemosReadmeListsExactlyTheDemos) {
  std::vector<std::string> demos;
  for (const fs::path& d : demo_sources())
    if (std::regex_match(d.filename().string(), std::regex(R"([0-9][0-9]_.+\.cpp)"))) demos.push_back(d.filename().string());
  const std::string text = read_text(kRoot / "demos" / "README.md");
  std::vector<std::string> rows;
  static const std::regex row(R"(^\| \[([0-9][0-9]_[A-Za-z0-9_]+\.cpp)\]\()");
  std::istringstream s(text);
  for (std::string line; std::getline(s, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) rows.push_back(m[1].str());
  }
  EXPECT_EQ(rows, demos) << "demos/README.md's table should have one row per demo, in order";
  const std::string lower = [&] {
    std::string t = text;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return t;
  }();
  EXPECT_EQ(lower.find("roadmap"), std::string::npos) << "demos/README.md plans demos: plans belong in issues";
}

// ---------------------------------------------------------------- order

namespace {

// The .md pages linked in bold ("**[x](x.md)**") in `section`, first mention order, anchors dropped.
std::vector<std::string> bold_pages(const std::string& section) {
  static const std::regex bold(R"(\*\*\[[^\]]*\]\(([A-Za-z0-9_/.-]+\.md)(?:#[^)]*)?\)\*\*)");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(section.begin(), section.end(), bold); it != std::sregex_iterator(); ++it)
    if (std::find(out.begin(), out.end(), (*it)[1].str()) == out.end()) out.push_back((*it)[1].str());
  return out;
}

}  // namespace

// course.md is the source: its steps in order, each step's first "Read" page. docs/README.md's
// reading order must list those pages in that order (other pages may sit in between).
TEST(PagesAgree, ReadingOrderFollowsTheCourse) {
  const std::string course = read_text(kRoot / "docs" / "course.md");
  std::vector<std::string> steps;
  static const std::regex read_line(R"(\* \*\*Read\*\* [^\[]*\[[^\]]*\]\(([A-Za-z0-9_/.-]+\.md))");
  for (auto it = std::sregex_iterator(course.begin(), course.end(), read_line); it != std::sregex_iterator(); ++it)
    if (std::find(steps.begin(), steps.end(), (*it)[1].str()) == steps.end()) steps.push_back((*it)[1].str());
  ASSERT_GE(steps.size(), 8u) << "course.md's \"* **Read** [page](page.md)\" lines not found";

  const std::string readme = read_text(kRoot / "docs" / "README.md");
  const std::size_t at = readme.find("## A reading order for a student");
  ASSERT_NE(at, std::string::npos) << "docs/README.md has no reading order section";
  std::vector<std::string> listed;
  for (const std::string& p : bold_pages(readme.substr(at)))
    if (std::find(steps.begin(), steps.end(), p) != steps.end()) listed.push_back(p);
  EXPECT_EQ(listed, steps) << "docs/README.md's reading order should read course.md's pages in course.md's order";
}
