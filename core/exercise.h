// core/exercise.h — the course's exercises: which of chalk's own functions a student writes.
//
// An exercise is a region of chalk's real source (the code the library runs) between two marker
// comments that name it, for example in ops/broadcast.cpp:
//
//   Tensor sum_to(const Tensor& g, const Shape& shape) {
//     // ---- exercise 01 begin: docs/exercises/01-sum-to.md ----
//     ... chalk's solution ...
//     // ---- exercise 01 end ----
//   }
//
// A region always runs to the end of a function body (the line after its end marker is the
// body's closing brace; what comes before the begin marker, such as an early return for a case
// that needs no work, stays), so that `chalk-exercises edition` can replace it by the stub
// `chalk::exercise_not_done(1);` and the source still compiles. The table below is the
// one list of exercises; the edition tool, the check programs (tests/exercises/) and the pages
// (docs/exercises/) all read it. docs/exercises/README.md explains the course side,
// docs/teaching.md the instructor's.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace chalk {

struct Exercise {
  int number = 0;               // 1, 2, ...: the order of the course
  std::string_view slug;        // "sum-to": the page's name after the number
  std::string_view course_step; // the step of docs/course.md it belongs to ("1", ..., "training")
  std::string_view task;        // what the student writes, one line ("write sum_to, the backward of a broadcast")
  std::string_view sources;     // the source file(s) holding its region(s), space-separated
  std::string_view function;    // the function whose body the student writes (as the page names it)
};

// Every exercise, in course order (numbers 1..N, no gaps).
const std::vector<Exercise>& exercises();

// The exercise with this number. Throws chalk::Error naming the number and the valid range.
const Exercise& exercise(int number);

// "07" for 7: how markers, pages, targets and labels spell an exercise's number.
std::string exercise_id(int number);

// "docs/exercises/07-max-pool-backward.md": the exercise's page, relative to the repository root.
std::string exercise_page(const Exercise& e);

// The stub a student edition puts in place of an exercise's region. Throws chalk::Error
// "exercise 07 is not done yet: write ... — docs/exercises/07-....md" (also for an unknown number,
// then naming it). Safe inside chalk's parallel loops: parallel_for and the convolutions pass an
// exception thrown by one thread on to the caller.
// Throws ExerciseNotDone (a chalk::Error: programs print it and exit 1).
[[noreturn]] void exercise_not_done(int number);

// What exercise_not_done throws: an Error of its own kind, so that code that adds advice to an
// op's error (the Trainer's "lower the learning rate") passes this one on as it is.
class ExerciseNotDone : public Error {
 public:
  explicit ExerciseNotDone(const std::string& what) : Error(what) {}
};

// The start of the message exercise_not_done throws: "exercise 07 is not done yet".
std::string not_done_message_start(int number);

// ---- regions: the markers in sources and pages ----
//
// In C++ sources:  // ---- exercise 07 begin: docs/exercises/07-max-pool-backward.md ----
//                  // ---- exercise 07 end ----
// In Markdown:     <!-- ---- exercise 07 begin ---- -->  ...  <!-- ---- exercise 07 end ---- -->
// A whole file that belongs to an exercise (its wrong answers, kept for the checker's own tests)
// says so in one of its first lines:  // ---- exercise 07 whole file ----
// The marker's words (`---- exercise NN begin`) are what find_exercise_regions looks for; the
// rest of the line is free.

struct ExerciseRegion {
  int number = 0;
  std::size_t begin_line = 0, end_line = 0;  // 0-based lines of the two markers
  std::string indent;                         // the begin marker's leading white space
};

// The regions of one file's text, in order. Throws chalk::Error naming `file` and the line for a
// malformed region: an end without a begin, a begin inside another region, an end of another
// number, a region left open, an unknown exercise number, or (in a C++ file) a region that does
// not end where its function body ends.
std::vector<ExerciseRegion> find_exercise_regions(std::string_view text, std::string_view file);

// The exercise a whole file belongs to (its marker in the first 10 lines), or 0.
int whole_file_exercise(std::string_view text);

// The text with each region of an exercise in `blank` replaced: in a C++ file (file not ending in
// ".md") by the stub `chalk::exercise_not_done(N);` and a comment naming the task and its page,
// in a Markdown file by a line saying the part is left out and naming the page. The regions of
// other exercises stay as they are, markers included. Throws what find_exercise_regions throws.
std::string blank_exercise_regions(std::string_view text, std::string_view file, const std::set<int>& blank);

}  // namespace chalk
