// tests/exercises/test_exercises.cpp — the exercises as a whole (core/exercise.h): every exercise
// has its region, its page, its check and its stub; the check passes chalk's solution and fails
// the stub with its "not done yet" message; the regions blank as the edition needs; and
// `chalk-exercises` writes an edition and a Gradescope results.json. The wrong answers each
// check must diagnose are in tests/exercises/mistakes_NN_*.cpp, linked into this program.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/exercise.h"
#include "tests/exercises/checker.h"
#include "tests/test_util.h"

using namespace chalk;
using chalk::test_util::expect_error;
using chalk::test_util::read_text;
namespace fs = std::filesystem;

namespace {

const fs::path kRoot = fs::path(CHALK_TEST_DIR).parent_path();

std::vector<std::string> words(std::string_view list) {
  std::vector<std::string> out;
  std::stringstream ss{std::string(list)};
  for (std::string w; ss >> w;) out.push_back(w);
  return out;
}

const checker::Registration* registration(int number) {
  for (const auto& r : checker::registrations())
    if (r.exercise == number) return &r;
  return nullptr;
}

}  // namespace

TEST(Exercises, NumberedInCourseOrderWithoutGaps) {
  int expected = 1;
  for (const auto& e : exercises()) EXPECT_EQ(e.number, expected++) << e.slug;
  EXPECT_GE(exercises().size(), 12u);
  expect_error([] { exercise(0); }, {"exercise 0 does not exist", "1 to"});
  expect_error([] { exercise(99); }, {"exercise 99 does not exist"});
  EXPECT_EQ(exercise_id(7), "07");
  EXPECT_EQ(exercise_id(12), "12");
  EXPECT_EQ(exercise_page(exercise(1)), "docs/exercises/01-sum-to.md");
}

// Each exercise has: a page; at least one region, in the sources it names, each holding its
// function; exactly one registered check; and a check program of its own.
TEST(Exercises, EachHasItsPageRegionCheckAndProgram) {
  for (const auto& e : exercises()) {
    SCOPED_TRACE(exercise_id(e.number));
    EXPECT_TRUE(fs::exists(kRoot / exercise_page(e))) << exercise_page(e);
    int regions = 0;
    for (const auto& file : words(e.sources)) {
      ASSERT_TRUE(fs::exists(kRoot / file)) << file;
      for (const auto& r : find_exercise_regions(read_text(kRoot / file), file)) regions += r.number == e.number;
    }
    EXPECT_GE(regions, 1) << "no region of exercise " << exercise_id(e.number) << " in " << e.sources;
    EXPECT_NE(read_text(kRoot / words(e.sources).front()).find(std::string(e.function)), std::string::npos) << e.function;
    int checks = 0;
    for (const auto& r : checker::registrations()) checks += r.exercise == e.number;
    EXPECT_EQ(checks, 1);
    EXPECT_TRUE(fs::exists(fs::path(CHALK_BINARY_DIR) / ("exercise_" + exercise_id(e.number))));
  }
}

// chalk's own code is the solution: its check passes (in a student edition, this is the test
// that fails until the student has written the exercise).
TEST(Exercises, SolutionPasses) {
  for (const auto& e : exercises()) {
    const auto* r = registration(e.number);
    if (!r) continue;  // EachHasItsPageRegionCheckAndProgram says so
    const checker::Verdict v = r->check_library();
    EXPECT_TRUE(v.passed) << v.text;
    EXPECT_EQ(v.kind, "pass") << v.text;
  }
}

// The stub the edition writes fails the check with its own message, naming the task and page.
TEST(Exercises, StubFailsWithItsNotDoneMessage) {
  for (const auto& e : exercises()) {
    const auto* r = registration(e.number);
    if (!r) continue;
    const checker::Verdict v = r->check_stub();
    EXPECT_FALSE(v.passed);
    EXPECT_EQ(v.kind, "not-done") << v.text;
    EXPECT_NE(v.text.find(not_done_message_start(e.number) + ": " + std::string(e.task)), std::string::npos) << v.text;
    EXPECT_NE(v.text.find(exercise_page(e)), std::string::npos) << v.text;
  }
}

TEST(Exercises, TheStubThrowsAChalkError) {
  expect_error([] { exercise_not_done(1); },
               {"exercise 01 is not done yet: ", std::string(exercise(1).task), " — docs/exercises/01-sum-to.md"});
  expect_error([] { exercise_not_done(0); }, {"exercise 00 is not done yet", "no exercise has this number"});
}

// ---- regions ----

TEST(ExerciseRegions, FoundAndBlanked) {
  const std::string text =
      "int f(int a) {\n"
      "  // ---- exercise 01 begin: docs/exercises/01-sum-to.md ----\n"
      "  return a + 1;\n"
      "  // ---- exercise 01 end ----\n"
      "}\n"
      "int g(int b) {\n"
      "    // ---- exercise 02 begin ----\n"
      "    return b;\n"
      "    // ---- exercise 02 end ----\n"
      "}\n";
  const auto regions = find_exercise_regions(text, "f.cpp");
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].number, 1);
  EXPECT_EQ(regions[0].begin_line, 1u);
  EXPECT_EQ(regions[0].end_line, 3u);
  EXPECT_EQ(regions[1].indent, "    ");
  const std::string blanked = blank_exercise_regions(text, "f.cpp", {1});
  EXPECT_EQ(blanked,
            "int f(int a) {\n"
            "  // exercise 01: " + std::string(exercise(1).task) + " — docs/exercises/01-sum-to.md\n"
            "  chalk::exercise_not_done(1);\n"
            "}\n"
            "int g(int b) {\n"
            "    // ---- exercise 02 begin ----\n"
            "    return b;\n"
            "    // ---- exercise 02 end ----\n"
            "}\n");
  EXPECT_EQ(blank_exercise_regions(text, "f.cpp", {}), text);  // nothing blanked: unchanged
  const std::string md = "a\n<!-- ---- exercise 03 begin ---- -->\nthe answer\n<!-- ---- exercise 03 end ---- -->\nb";
  const std::string md_blanked = blank_exercise_regions(md, "page.md", {3});
  EXPECT_EQ(md_blanked.find("the answer"), std::string::npos);
  EXPECT_NE(md_blanked.find("exercise 03's answer, left out"), std::string::npos);
  EXPECT_EQ(md_blanked.back(), 'b');  // no newline added at the end
  // the note links the exercise's page relative to the page it stands in, as chalk's links do
  const std::string page = exercise_page(exercise(3));
  EXPECT_NE(blank_exercise_regions(md, "docs/losses/centroid.md", {3}).find("(../exercises/" + page.substr(page.rfind('/') + 1) + ")"),
            std::string::npos);
  EXPECT_NE(blank_exercise_regions(md, "docs/course.md", {3}).find("(exercises/"), std::string::npos);
  EXPECT_NE(blank_exercise_regions(md, "README.md", {3}).find("(" + page + ")"), std::string::npos);
}

TEST(ExerciseRegions, MalformedRegionsNameTheFileAndLine) {
  expect_error([] { find_exercise_regions("x\n// ---- exercise 01 begin ----\n", "a.cpp"); },
               {"a.cpp:2", "exercise 01", "never ends"});
  expect_error([] { find_exercise_regions("// ---- exercise 01 end ----\n", "a.cpp"); },
               {"a.cpp:1", "ends but never began"});
  expect_error([] { find_exercise_regions("// ---- exercise 01 begin ----\n// ---- exercise 02 begin ----\n", "a.cpp"); },
               {"a.cpp:2", "begins inside exercise 01"});
  expect_error([] { find_exercise_regions("// ---- exercise 01 begin ----\n// ---- exercise 02 end ----\n", "a.cpp"); },
               {"a.cpp:2", "the open region is exercise 01"});
  expect_error([] { find_exercise_regions("{\n// ---- exercise 01 begin ----\nx;\n// ---- exercise 01 end ----\ny;\n}\n", "a.cpp"); },
               {"a.cpp:4", "must run to the end of a function body"});
  expect_error([] { find_exercise_regions("// ---- exercise 77 begin ----\n", "a.cpp"); },
               {"a.cpp:1", "exercise 77 does not exist"});
  EXPECT_EQ(whole_file_exercise("// ---- exercise 04 whole file ----\n#include <x>\n"), 4);
  EXPECT_EQ(whole_file_exercise("#include <x>\n"), 0);
}

// Every file of the repository parses: no malformed region anywhere.
TEST(ExerciseRegions, EveryRegionInTheRepositoryIsWellFormed) {
  std::map<int, int> count;
  for (const char* folder : {"core", "ops", "nn", "losses", "eval", "train", "io", "docs", "tests"}) {
    for (const auto& entry : fs::recursive_directory_iterator(kRoot / folder)) {
      const std::string name = entry.path().string();
      if (!entry.is_regular_file() || !(name.ends_with(".cpp") || name.ends_with(".h") || name.ends_with(".md"))) continue;
      for (const auto& r : find_exercise_regions(read_text(entry.path()), fs::relative(entry.path(), kRoot).string()))
        ++count[r.number];
    }
  }
  for (const auto& e : exercises()) EXPECT_GE(count[e.number], 1) << exercise_id(e.number);
}

// A student edition replaces a region by `chalk::exercise_not_done(N);` and adds no include: a
// source file (.cpp or .h) holding a region includes core/exercise.h itself, or the edition does
// not compile.
TEST(ExerciseRegions, EverySourceWithARegionIncludesTheStubsHeader) {
  int checked = 0;
  for (const char* folder : {"core", "ops", "nn", "losses", "eval", "train", "io"}) {
    for (const auto& entry : fs::recursive_directory_iterator(kRoot / folder)) {
      const std::string name = entry.path().string();
      if (!entry.is_regular_file() || !(name.ends_with(".cpp") || name.ends_with(".h"))) continue;
      const std::string text = read_text(entry.path());
      const std::string rel = fs::relative(entry.path(), kRoot).string();
      if (find_exercise_regions(text, rel).empty()) continue;
      ++checked;
      EXPECT_NE(text.find("#include \"core/exercise.h\""), std::string::npos)
          << rel << " holds an exercise's region but does not include core/exercise.h, which declares its stub";
    }
  }
  EXPECT_GE(checked, 1);
}

// ---- the tool ----

TEST(ChalkExercises, EditionBlanksTheChosenExercisesAndNothingElse) {
  if (!fs::exists(kRoot / ".git")) GTEST_SKIP() << "the sources are not a git repository";
  const std::string dir = test_util::temp_dir("edition") + "/student";
  std::string out;
  ASSERT_EQ(test_util::run_program("chalk-exercises edition --from " + kRoot.string() + " --out " + dir + " --blank 1", &out), 0) << out;
  const std::string broadcast = read_text(fs::path(dir) / "ops/broadcast.cpp");
  EXPECT_NE(broadcast.find("chalk::exercise_not_done(1);"), std::string::npos);
  EXPECT_EQ(broadcast.find("reduce_axis"), std::string::npos) << "the solution of exercise 01 is still there";
  EXPECT_FALSE(fs::exists(fs::path(dir) / "tests/exercises/mistakes_01_sum_to.cpp"));
  // the other exercises keep their code
  EXPECT_EQ(read_text(fs::path(dir) / "core/gradcheck.cpp"), read_text(kRoot / "core/gradcheck.cpp"));
  const auto info = nlohmann::json::parse(read_text(fs::path(dir) / "student-edition.json"));
  EXPECT_EQ(info.at("blanked"), nlohmann::json::array({1}));
  EXPECT_TRUE(fs::exists(fs::path(dir) / ".git"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "scripts/check-exercise"));
  // an existing folder is not overwritten; bad numbers are flag errors
  EXPECT_EQ(test_util::run_program("chalk-exercises edition --from " + kRoot.string() + " --out " + dir + " --blank 1", &out), 1);
  EXPECT_NE(out.find("exists and is not empty"), std::string::npos) << out;
  EXPECT_EQ(test_util::run_program("chalk-exercises edition --out " + dir + "2 --blank 1,99", &out), 2);
  EXPECT_NE(out.find("--blank: exercise 99 does not exist"), std::string::npos) << out;
  fs::remove_all(fs::path(dir).parent_path());
}

// The edition's break-it catalogue leaves out the break-its whose line lies in a blanked region
// (each quotes a line of the solution): exercise 05 owns course step 4's, exercise 09 step 7's.
// (It was once copied whole, and the edition's own test_break_its then failed.)
TEST(ChalkExercises, EditionDropsTheBlankedExercisesBreakIts) {
  if (!fs::exists(kRoot / ".git")) GTEST_SKIP() << "the sources are not a git repository";
  const std::string dir = test_util::temp_dir("edition-break-its") + "/student";
  std::string out;
  ASSERT_EQ(test_util::run_program("chalk-exercises edition --from " + kRoot.string() + " --out " + dir + " --blank 5,9", &out), 0) << out;
  auto steps_of = [](const fs::path& catalogue, std::set<int>* owned) {
    std::set<int> steps;
    const nlohmann::json parsed = nlohmann::json::parse(read_text(catalogue));
    for (const auto& b : parsed.at("break_its")) {
      steps.insert(b.at("step").get<int>());
      if (owned && b.contains("exercise")) owned->insert(b.at("exercise").get<int>());
    }
    return steps;
  };
  std::set<int> owners;
  const std::set<int> all = steps_of(kRoot / "tests/break_its.json", &owners);
  ASSERT_TRUE(owners.count(5) && owners.count(9)) << "exercises 05 and 09 own no break-it any more: pick others";
  std::set<int> kept_owners;
  const std::set<int> kept = steps_of(fs::path(dir) / "tests/break_its.json", &kept_owners);
  EXPECT_FALSE(kept_owners.count(5) || kept_owners.count(9));
  EXPECT_LT(kept.size(), all.size());
  for (int step : kept) EXPECT_TRUE(all.count(step));
  fs::remove_all(fs::path(dir).parent_path());
}

// The words of a constant factor name the count a sum or a mean brings, and a check of values
// says "value", not "gradient".
TEST(Checker, FactorWordsNameTheSumOrTheMean) {
  EXPECT_EQ(checker::factor_words(0.5), "yours is 0.5x the true gradient: a mean of 2 values where their sum belongs, "
                                         "one of two equal terms missing, or a stray 1/2?");
  EXPECT_EQ(checker::factor_words(1.0 / 3), "yours is 0.3333x the true gradient: a mean of 3 values where their sum "
                                             "belongs, or a stray 1/3?");
  EXPECT_EQ(checker::factor_words(6), "yours is 6x the true gradient: a sum of 6 values where their mean belongs "
                                       "(a 1/6 left out), or a term counted 6 times?");
  EXPECT_NE(checker::factor_words(2).find("a symmetric term counted twice"), std::string::npos);
  EXPECT_EQ(checker::factor_words(1.7, "value"), "yours is 1.7x the true value: a scale applied twice or not at all?");
  EXPECT_EQ(checker::describe_kind("sign", "value"), "equal and opposite to the true value: a sign");
  EXPECT_EQ(checker::describe_kind("zero", "value"), "zero everywhere: the value is never computed, or not returned");
}

TEST(Checker, ValueCasesSayValueAndAFindingSilencesNoPattern) {
  checker::Checker c(11, "precision_at_1");
  checker::Case k;
  k.name = "three values";
  k.quantity = "value";
  k.shape = {3};
  k.truth = {1, 0.5, 0.25};
  k.yours = {-1, -0.5, -0.25};
  c.add(k);
  const checker::Verdict v = c.verdict();
  EXPECT_EQ(v.kind, "sign");
  EXPECT_NE(v.text.find("equal and opposite to the true value"), std::string::npos) << v.text;
  EXPECT_EQ(v.text.find("gradient"), std::string::npos) << v.text;

  checker::Checker f(2, "accumulate_gradient");
  checker::Case w;
  w.name = "scrambled";
  w.shape = {3};
  w.truth = {1, 2, 3};
  w.yours = {3, -7, 0.5};
  f.add(w);
  f.add_finding("one-path", "only one path's gradient survives", "case \"scrambled\"");
  const checker::Verdict fv = f.verdict();
  EXPECT_EQ(fv.kind, "one-path");
  EXPECT_EQ(fv.text.find("no pattern"), std::string::npos) << fv.text;
  EXPECT_NE(fv.text.find("scrambled — wrong (see what is wrong, above)"), std::string::npos) << fv.text;
}

// Gradescope's autograder reads results.json: "tests" is a list of objects with a string name,
// numeric score and max_score, a string output and a visibility of visible, hidden,
// after_due_date or after_published; "score" is a number
// (https://gradescope-autograders.readthedocs.io/en/latest/specs/#output-format).
TEST(ChalkExercises, GradeWritesGradescopeResults) {
  const std::string dir = test_util::temp_dir("grade");
  const std::string file = dir + "/results.json";
  std::string out;
  ASSERT_EQ(test_util::run_program("chalk-exercises grade --no-build --build " + std::string(CHALK_BINARY_DIR) +
                                   " --exercises 1 --out " + file, &out), 0) << out;
  const auto results = nlohmann::json::parse(read_text(file));
  ASSERT_TRUE(results.is_object());
  ASSERT_TRUE(results.at("score").is_number());
  ASSERT_TRUE(results.at("tests").is_array());
  ASSERT_EQ(results.at("tests").size(), 1u);
  for (const auto& t : results.at("tests")) {
    for (const char* key : {"name", "output"}) EXPECT_TRUE(t.at(key).is_string()) << key;
    for (const char* key : {"score", "max_score"}) EXPECT_TRUE(t.at(key).is_number()) << key;
    const std::string vis = t.at("visibility");
    EXPECT_TRUE(vis == "visible" || vis == "hidden" || vis == "after_due_date" || vis == "after_published") << vis;
    for (const auto& [key, value] : t.items())
      EXPECT_TRUE(key == "name" || key == "score" || key == "max_score" || key == "output" || key == "visibility" ||
                  key == "number" || key == "tags" || key == "status" || key == "name_format" || key == "output_format")
          << "not a key of Gradescope's test object: " << key;
  }
  EXPECT_EQ(results.at("tests")[0].at("score"), 1.0);  // chalk's own sum_to passes
  EXPECT_NE(results.at("tests")[0].at("output").get<std::string>().find("exercise 01 (sum_to): PASS"), std::string::npos);
  EXPECT_EQ(results.at("score"), 1.0);
  fs::remove_all(dir);
}
