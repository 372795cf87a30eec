// tests/exercises/exercise_main.cpp — the main of every check program exercise_NN: runs the one
// check linked into it on chalk's function (in a student edition: the student's), prints the
// verdict, and exits 0 when it passes, 1 when it does not (scripts/check-exercise, ctest -L
// exercise-NN and `chalk-exercises grade` read that).
#include <iostream>

#include "tests/exercises/checker.h"

int main() {
  auto& all = chalk::checker::registrations();
  if (all.size() != 1) {
    std::cerr << "exercise check program: expected one check linked in, found " << all.size() << "\n";
    return 2;
  }
  return chalk::checker::report(all.front().check_library(), std::cout);
}
