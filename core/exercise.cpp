// core/exercise.cpp — the table of exercises (core/exercise.h) and the stub's message.
#include "core/exercise.h"

#include <cstdio>
#include <filesystem>
#include <regex>
#include <sstream>

#include "core/error.h"

namespace chalk {

const std::vector<Exercise>& exercises() {
  // number, slug, course step, task, source(s), function
  static const std::vector<Exercise> table = {
      {1, "sum-to", "1", "write sum_to, the backward of a broadcast", "ops/broadcast.cpp", "sum_to"},
      {2, "accumulate-gradients", "2",
       "write how backward() sums a tensor's gradient over all its uses, and a leaf's .grad() across calls",
       "core/autograd.cpp", "accumulate_gradient"},
      {3, "gradient-check", "3", "write gradcheck's numeric gradient: central differences of the weighted output",
       "core/gradcheck.cpp", "numeric_gradient"},
      {4, "matmul-vjp", "4", "write matmul's VJP for both operands, with its transpose flags", "ops/linalg.cpp",
       "matmul_vjp"},
      {5, "cross-entropy-gradient", "4",
       "write softmax cross-entropy's gradient p - t: each row with label smoothing, the batch with its reduction",
       "losses/cross_entropy_rows.cpp", "row_grad"},
      {6, "conv2d-backward", "5", "write conv2d's backward through im2col: col2im and the weight gradient",
       "ops/conv.cpp", "col2im"},
      {7, "max-pool-backward", "5",
       "write max_pool2d's argmax route: each window's argmax (ties, NaN) and the backward that follows it",
       "ops/pooling.cpp", "max_pool2d_vjp"},
      {8, "triplet-loss", "6", "write the triplet margin loss's VJP and batch-hard mining",
       "losses/triplet.cpp", "triplet_margin_vjp"},
      {9, "centroid-bound", "7", "write the centroid bound's linear form and its VJP",
       "losses/centroid.cpp", "centroid_bound_rows"},
      {10, "arcface-margin", "8",
       "write ArcFace's target logit cos(theta + m) and the combined margin's, "
       "with their derivatives and special cases",
       "losses/margin_softmax.cpp", "arcface_target"},
      {11, "retrieval-metrics", "9",
       "rank a query's neighbours (itself left out, ties by index) and write Precision@1 and MAP@R",
       "eval/metrics.cpp", "precision_at_1"},
      {12, "optimizer-step", "training", "write one optimizer update: SGD with momentum and Nesterov, and Adam",
       "nn/optim.cpp", "sgd_update"},
  };
  return table;
}

const Exercise& exercise(int number) {
  const auto& all = exercises();
  if (number < 1 || number > static_cast<int>(all.size()))
    fail("exercise ", number, " does not exist: the exercises are numbered 1 to ", all.size(),
         " (docs/exercises/README.md)");
  return all[static_cast<std::size_t>(number - 1)];
}

std::string exercise_id(int number) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", number);
  return buf;
}

std::string exercise_page(const Exercise& e) {
  return str_cat("docs/exercises/", exercise_id(e.number), "-", e.slug, ".md");
}

std::string not_done_message_start(int number) {
  return str_cat("exercise ", exercise_id(number), " is not done yet");
}

void exercise_not_done(int number) {
  const auto& all = exercises();
  if (number < 1 || number > static_cast<int>(all.size()))
    throw ExerciseNotDone(str_cat(not_done_message_start(number), " (and no exercise has this number: the stub was edited?)"));
  const Exercise& e = all[static_cast<std::size_t>(number - 1)];
  throw ExerciseNotDone(str_cat(not_done_message_start(number), ": ", e.task, " — ", exercise_page(e)));
}

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// "---- exercise 07 begin" / "end" / "whole file": the number and the word, or {0, ""}.
std::pair<int, std::string> marker_of(std::string_view line) {
  static const std::regex re(R"(^(\s*)(//|<!--)\s*---- exercise (\d+) (begin|end|whole file)\b)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(line.begin(), line.end(), m, re)) return {0, ""};
  return {std::stoi(m[3].str()), m[4].str()};
}

}  // namespace

std::vector<ExerciseRegion> find_exercise_regions(std::string_view text, std::string_view file) {
  std::vector<ExerciseRegion> regions;
  const auto lines = split_lines(text);
  bool open = false;
  ExerciseRegion current;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto [number, word] = marker_of(lines[i]);
    if (word.empty() || word == "whole file") continue;
    const std::string where = str_cat(file, ":", i + 1, ": ");
    if (number < 1 || number > static_cast<int>(exercises().size()))
      fail(where, "exercise ", number, " does not exist (core/exercise.cpp lists 1 to ", exercises().size(), ")");
    if (word == "begin") {
      if (open) fail(where, "exercise ", exercise_id(number), " begins inside exercise ",
                     exercise_id(current.number), "'s region (opened on line ", current.begin_line + 1, ")");
      open = true;
      current = ExerciseRegion{};
      current.number = number;
      current.begin_line = i;
      const auto first = lines[i].find_first_not_of(" \t");
      current.indent = std::string(lines[i].substr(0, first == std::string_view::npos ? 0 : first));
    } else {
      if (!open) fail(where, "exercise ", exercise_id(number), " ends but never began");
      if (number != current.number)
        fail(where, "exercise ", exercise_id(number), " ends, but the open region is exercise ",
             exercise_id(current.number), "'s (line ", current.begin_line + 1, ")");
      current.end_line = i;
      // a region runs to the end of a function body, so that the stub (a call that never
      // returns) compiles in its place: in C++ the next line that is not blank closes the body
      if (!(file.size() >= 3 && file.substr(file.size() - 3) == ".md")) {
        std::size_t next = i + 1;
        while (next < lines.size() && lines[next].find_first_not_of(" \t") == std::string_view::npos) ++next;
        const std::string_view after = next < lines.size() ? lines[next] : std::string_view{};
        const auto first = after.find_first_not_of(" \t");
        if (first == std::string_view::npos || after[first] != '}')
          fail(where, "exercise ", exercise_id(number), "'s region must run to the end of a function body ",
               "(the next line must be its closing brace), so that the stub compiles in its place");
      }
      regions.push_back(current);
      open = false;
    }
  }
  if (open) fail(file, ":", current.begin_line + 1, ": exercise ", exercise_id(current.number), "'s region never ends");
  return regions;
}

int whole_file_exercise(std::string_view text) {
  const auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size() && i < 10; ++i) {
    const auto [number, word] = marker_of(lines[i]);
    if (word == "whole file") return number;
  }
  return 0;
}

std::string blank_exercise_regions(std::string_view text, std::string_view file, const std::set<int>& blank) {
  const auto regions = find_exercise_regions(text, file);
  const auto lines = split_lines(text);
  const bool markdown = file.size() >= 3 && file.substr(file.size() - 3) == ".md";
  std::ostringstream out;
  std::size_t next = 0;
  for (const auto& r : regions) {
    if (!blank.count(r.number)) continue;
    for (; next < r.begin_line; ++next) out << lines[next] << '\n';
    const Exercise& e = exercise(r.number);
    if (markdown) {
      // the link relative to the page, as every link of chalk's pages (docs_links checks them)
      const std::string link =
          std::filesystem::path(exercise_page(e)).lexically_relative(std::filesystem::path(file).parent_path()).generic_string();
      out << r.indent << "*(This part is exercise " << exercise_id(r.number) << "'s answer, left out of the student "
          << "edition: [" << exercise_page(e) << "](" << link << ").)*\n";
    } else {
      out << r.indent << "// exercise " << exercise_id(r.number) << ": " << e.task << " — " << exercise_page(e) << '\n';
      out << r.indent << "chalk::exercise_not_done(" << r.number << ");\n";
    }
    next = r.end_line + 1;
  }
  for (; next < lines.size(); ++next) out << lines[next] << '\n';
  std::string result = out.str();
  if (!text.empty() && text.back() != '\n' && !result.empty()) result.pop_back();  // keep a missing last newline missing
  return result;
}

}  // namespace chalk
