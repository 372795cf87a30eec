// tests/test_plot.cpp — plot/ (every chart kind writes a valid SVG; bad input is a chalk::Error
// naming the path; the log-log slope fit) and demos/notebook (tables, numbers, the report).
//
// The charts are written to <build>/test-plot/ and kept there, so that they can be looked at
// (rsvg-convert -w 600 <build>/test-plot/scatter.svg -o /tmp/scatter.png).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "demos/notebook.h"
#include "plot/plot.h"
#include "test_util.h"

namespace fs = std::filesystem;
using chalk::test_util::error_of;
using chalk::test_util::expect_error;
namespace plot = chalk::plot;

namespace {

fs::path out_dir() {
  const fs::path d = fs::path(CHALK_BINARY_DIR) / "test-plot";
  fs::create_directories(d);
  return d;
}

std::string out(const std::string& name) { return (out_dir() / (name + ".svg")).string(); }

using chalk::test_util::read_text;

// The text PLplot drew: its svg device writes each character as an entity (&#x41;); decode them.
std::string drawn_text(const std::string& svg) {
  std::string out;
  std::size_t i = 0;
  while ((i = svg.find("&#x", i)) != std::string::npos) {
    const auto end = svg.find(';', i);
    const unsigned long cp = std::stoul(svg.substr(i + 3, end - i - 3), nullptr, 16);
    if (cp < 0x80) out += static_cast<char>(cp);
    else out += '?';
    i = end + 1;
  }
  return out;
}

// A valid SVG file: exists, starts with the XML declaration or <svg, ends with </svg>, is
// width x height pixels (height < 0: at most -height), carries the title as <title> and draws the title's characters.
void expect_svg(const std::string& path, const std::string& title, int width = 600, int height = 450) {
  ASSERT_TRUE(fs::exists(path)) << path;
  const std::string s = read_text(path);
  ASSERT_GT(s.size(), 200u) << path;
  EXPECT_TRUE(s.rfind("<?xml", 0) == 0 || s.rfind("<svg", 0) == 0) << path;
  EXPECT_NE(s.find("</svg>"), std::string::npos) << path;
  EXPECT_NE(s.find("width=\"" + std::to_string(width) + "px\""), std::string::npos) << path;
  if (height > 0) {
    EXPECT_NE(s.find("height=\"" + std::to_string(height) + "px\""), std::string::npos) << path;
  } else {  // image_grid: at most -height pixels high
    const auto at = s.find("height=\"");
    ASSERT_NE(at, std::string::npos);
    const int h = std::stoi(s.substr(at + 8));
    EXPECT_GE(h, 100) << path;
    EXPECT_LE(h, -height) << path;
  }
  EXPECT_NE(s.find("<title>" + title + "</title>"), std::string::npos) << path;
  // the characters of the title appear in order in the drawn text (PLplot draws it glyph-run by glyph-run)
  std::string want;
  for (char c : title)
    if (c != ' ') want += c;
  std::string got;
  for (char c : drawn_text(s))
    if (c != ' ') got += c;
  EXPECT_NE(got.find(want), std::string::npos) << path << " draws: " << got.substr(0, 200);
}

// Clustered 2-D points: class c around (3 cos(2 pi c / C), 3 sin(2 pi c / C)).
struct Points {
  std::vector<double> x, y, z;
  std::vector<std::int64_t> labels;
};
Points clusters(int C, int per_class, unsigned seed, bool sphere = false) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> noise(0.0, sphere ? 0.15 : 0.7);
  Points p;
  for (int c = 0; c < C; ++c)
    for (int k = 0; k < per_class; ++k) {
      const double a = 2 * M_PI * c / C;
      if (sphere) {
        // centres spread over the sphere by a golden-angle spiral; points normalised onto it
        const double zc = 1 - 2 * (c + 0.5) / C, r = std::sqrt(1 - zc * zc), th = 2.39996 * c;
        double px = r * std::cos(th) + noise(gen), py = r * std::sin(th) + noise(gen), pz = zc + noise(gen);
        const double n = std::sqrt(px * px + py * py + pz * pz);
        p.x.push_back(px / n);
        p.y.push_back(py / n);
        p.z.push_back(pz / n);
      } else {
        p.x.push_back(3 * std::cos(a) + noise(gen));
        p.y.push_back(3 * std::sin(a) + noise(gen));
      }
      p.labels.push_back(c);
    }
  return p;
}

}  // namespace

// ---- the palette -------------------------------------------------------------------------------

TEST(Plot, PaletteIsOkabeItoFirstAndRepeatsAfterTen) {
  EXPECT_EQ(plot::palette(0), 0x0072B2u);  // Okabe-Ito blue
  EXPECT_EQ(plot::palette(1), 0xD55E00u);  // Okabe-Ito vermillion
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(plot::palette(i), plot::palette(i + 10));
    for (int j = 0; j < i; ++j) EXPECT_NE(plot::palette(i), plot::palette(j)) << i << " " << j;
    EXPECT_NE(plot::palette(i), 0xFFFFFFu);  // never the background
  }
}

// ---- the axes builder ----------------------------------------------------------------------------

// plot::axes(...) is the aggregate Axes with its three strings: every other field keeps its
// default until a with_* setter changes it, and each setter changes only what it names.
TEST(Plot, AxesBuilderSetsWhatItNamesAndKeepsTheDefaults) {
  const plot::Axes plain = plot::axes("Loss per epoch", "epoch", "loss (nats)");
  const plot::Axes aggregate{"Loss per epoch", "epoch", "loss (nats)"};
  EXPECT_EQ(plain.title, aggregate.title);
  EXPECT_EQ(plain.xlabel, aggregate.xlabel);
  EXPECT_EQ(plain.ylabel, aggregate.ylabel);
  EXPECT_EQ(plain.log_x, aggregate.log_x);
  EXPECT_EQ(plain.log_y, aggregate.log_y);
  EXPECT_EQ(plain.width, 600);
  EXPECT_EQ(plain.height, 450);
  EXPECT_EQ(plain.zlabel, "");
  EXPECT_FALSE(plain.log_x || plain.log_y);

  const plot::Axes logy = plot::axes("t", "x", "y").with_log_y();
  EXPECT_TRUE(logy.log_y);
  EXPECT_FALSE(logy.log_x);
  EXPECT_EQ(logy.width, 600);
  const plot::Axes both = plot::axes("t", "x", "y").with_log_x().with_log_y().with_log_x(false);
  EXPECT_FALSE(both.log_x);
  EXPECT_TRUE(both.log_y);
  const plot::Axes sized = plot::axes("t", "x", "y").with_size(640, 560).with_zlabel("x_3");
  EXPECT_EQ(sized.width, 640);
  EXPECT_EQ(sized.height, 560);
  EXPECT_EQ(sized.zlabel, "x_3");
  EXPECT_FALSE(sized.log_x || sized.log_y);

  // what a chart drawn with it shows: the page size and the labels
  plot::lines(out("axes_builder"), {{"a", {1, 2, 3}, {1, 10, 100}}},
              plot::axes("Built axes", "step", "value (log)").with_log_y().with_size(640, 360));
  expect_svg(out("axes_builder"), "Built axes", 640, 360);
  EXPECT_NE(drawn_text(read_text(out("axes_builder"))).find("value (log)"), std::string::npos);
  // a bad size is still caught where the chart is drawn
  expect_error([&] { plot::lines(out("axes_builder_bad"), {{"a", {1}, {1}}}, plot::axes("t", "x", "y").with_size(50, 50)); },
               {"axes_builder_bad", "page is 50 x 50"});
}

// ---- every chart kind writes a valid SVG -------------------------------------------------------

TEST(Plot, ScatterByClass) {
  const Points p = clusters(10, 40, 1);
  std::vector<std::string> names;
  for (int c = 0; c < 10; ++c) names.push_back("digit " + std::to_string(c));
  plot::scatter_by_class(out("scatter"), p.x, p.y, p.labels, {"Embeddings after epoch 3", "e_1", "e_2"}, names);
  expect_svg(out("scatter"), "Embeddings after epoch 3");
  // default class names, a different page size
  plot::Axes ax{"Two classes", "x (a.u.)", "y (a.u.)"};
  ax.width = 800;
  ax.height = 500;
  const Points q = clusters(2, 30, 2);
  plot::scatter_by_class(out("scatter2"), q.x, q.y, q.labels, ax);
  expect_svg(out("scatter2"), "Two classes", 800, 500);
  EXPECT_NE(drawn_text(read_text(out("scatter2"))).find("x (a.u.)"), std::string::npos);
}

TEST(Plot, Lines) {
  plot::Series train{"train loss", {}, {}}, test{"test loss", {}, {}, false, true}, acc{"test error", {}, {}, true};
  for (int e = 1; e <= 20; ++e) {
    train.x.push_back(e);
    train.y.push_back(2.3 * std::exp(-0.25 * e) + 0.05);
    test.x.push_back(e);
    test.y.push_back(2.3 * std::exp(-0.2 * e) + 0.12);
    acc.x.push_back(e);
    acc.y.push_back(0.9 * std::exp(-0.3 * e) + 0.02);
  }
  plot::lines(out("lines"), {train, test, acc}, {"Training curves", "epoch", "loss (nats)"});
  expect_svg(out("lines"), "Training curves");
  EXPECT_NE(drawn_text(read_text(out("lines"))).find("loss (nats)"), std::string::npos);
  plot::Axes logy{"Training curves (log y)", "epoch", "loss (nats)"};
  logy.log_y = true;
  plot::lines(out("lines_logy"), {train, test, acc}, logy);
  expect_svg(out("lines_logy"), "Training curves (log y)");
  // a single point is drawn as a marker
  plot::lines(out("lines_one"), {{"one", {1.0}, {2.0}}}, {"One point", "x", "y"});
  expect_svg(out("lines_one"), "One point");
}

// Intervals (e.g. over seeds) as error bars: one bar per point, and the axis range holds them.
TEST(Plot, LinesWithIntervalsDrawAnErrorBarPerPoint) {
  plot::Series a{"triplet", {600, 6000, 60000}, {0.80, 0.90, 0.95}};
  a.y_low = {0.76, 0.88, 0.94};
  a.y_high = {0.84, 0.92, 0.96};
  plot::Series b{"arcface", {600, 6000, 60000}, {0.78, 0.91, 0.97}};
  plot::Axes axes{"P@1 against n", "images", "P@1"};
  axes.log_x = true;
  plot::lines(out("lines_bars"), {a, b}, axes);
  expect_svg(out("lines_bars"), "P@1 against n");
  plot::lines(out("lines_nobars"), {plot::Series{"triplet", a.x, a.y}, b}, axes);
  // the bars add paths: three bars of two caps and a stem each, and a marker per point
  EXPECT_GT(read_text(out("lines_bars")).size(), read_text(out("lines_nobars")).size());
  // an interval that does not hold its point, or of the wrong length, is refused by name
  plot::Series bad = a;
  bad.y_high[1] = 0.89;
  expect_error([&] { plot::lines(out("lines_bad"), {bad}, axes); },
               {"point 1: the interval [0.88, 0.89] does not hold y = 0.9"});
  bad = a;
  bad.y_low.pop_back();
  expect_error([&] { plot::lines(out("lines_bad"), {bad}, axes); }, {"has 3 y values but 2 y_low and 3 y_high values"});
}

TEST(Plot, LoglogWithFitReturnsTheSlopesAndPrintsThem) {
  plot::Series a{"L_t", {}, {}}, b{"L_c", {}, {}};
  for (int k = 0; k < 8; ++k) {
    const double n = std::pow(2.0, k + 3);
    a.x.push_back(n);
    a.y.push_back(0.5 * std::pow(n, 3.0));
    b.x.push_back(n);
    b.y.push_back(4.0 * n * (1 + 0.02 * ((k % 2) ? 1 : -1)));
  }
  const auto slopes = plot::loglog_with_fit(out("loglog"), {a, b}, {"Cost against N", "N (samples)", "time (ms)"});
  ASSERT_EQ(slopes.size(), 2u);
  EXPECT_NEAR(slopes[0], 3.0, 1e-9);
  EXPECT_NEAR(slopes[1], 1.0, 0.02);
  expect_svg(out("loglog"), "Cost against N");
  EXPECT_NE(drawn_text(read_text(out("loglog"))).find("L_t: slope 3.00"), std::string::npos);
}

TEST(Plot, ClassRegions) {
  const int nx = 80, ny = 60;
  const double x0 = -5, x1 = 5, y0 = -4, y1 = 4;
  std::vector<std::int64_t> region;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const double x = x0 + (i + 0.5) * (x1 - x0) / nx, y = y0 + (j + 0.5) * (y1 - y0) / ny;
      const double a = std::atan2(y, x) + 2 * M_PI + M_PI / 3;  // three sectors of 120 degrees
      region.push_back(static_cast<std::int64_t>(a / (2 * M_PI / 3)) % 3);
    }
  const Points p = clusters(3, 40, 3);
  // relabel the samples by their true sector so that they sit in their regions
  plot::class_regions(out("regions"), nx, ny, x0, x1, y0, y1, region, p.x, p.y, p.labels,
                      {"Decision regions", "f_1", "f_2"}, {"zero", "one", "two"});
  expect_svg(out("regions"), "Decision regions");
}

TEST(Plot, SphereScatter) {
  const Points p = clusters(10, 40, 4, true);
  plot::Axes ax{"Embeddings on the unit sphere", "e_1", "e_2"};
  ax.zlabel = "e_3";
  plot::sphere_scatter(out("sphere"), p.x, p.y, p.z, p.labels, ax);
  expect_svg(out("sphere"), "Embeddings on the unit sphere");
  plot::sphere_scatter(out("sphere_top"), p.x, p.y, p.z, p.labels, {"Seen from above", "", ""}, 90, 0);
  expect_svg(out("sphere_top"), "Seen from above");
}

TEST(Plot, ImageGrid) {
  std::vector<std::vector<float>> images;
  std::vector<std::string> titles;
  for (int k = 0; k < 12; ++k) {
    std::vector<float> img(28 * 28, 0.0f);
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const double d = std::hypot(r - 14.0, c - 14.0 - (k - 6) * 0.6);
        img[static_cast<std::size_t>(r) * 28 + c] = static_cast<float>(std::exp(-std::pow(d - 7 - k * 0.3, 2) / 4));
      }
    images.push_back(img);
    titles.push_back("label " + std::to_string(k % 10));
  }
  plot::image_grid(out("images"), images, 28, 28, 6, {"Nearest neighbours", "", ""}, titles);
  expect_svg(out("images"), "Nearest neighbours", 600, -450);
  // no titles, a shared scale, a constant image, a grid wider than the images
  std::vector<std::vector<float>> filters(5, std::vector<float>(25, 0.0f));
  for (int k = 1; k < 5; ++k)
    for (int i = 0; i < 25; ++i) filters[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)] = (i % (k + 2)) - 1.0f;
  plot::image_grid(out("filters"), filters, 5, 5, 8, {"First-layer filters", "5 x 5 kernels", ""}, {}, true);
  expect_svg(out("filters"), "First-layer filters", 600, -450);
}

TEST(Plot, Matrix) {
  std::vector<double> cm(100, 0.0);
  for (int i = 0; i < 10; ++i)
    for (int j = 0; j < 10; ++j) cm[static_cast<std::size_t>(i) * 10 + j] = i == j ? 950 + 5 * i : (i + 2 * j) % 7;
  plot::matrix(out("confusion"), cm, 10, 10, {"Confusion matrix", "predicted class", "true class"});
  expect_svg(out("confusion"), "Confusion matrix");
  EXPECT_NE(drawn_text(read_text(out("confusion"))).find("995"), std::string::npos);
  plot::matrix(out("matrix"), {0.5, 0.25, -0.126, 1.0, 0.0, 0.75}, 2, 3, {"Weights", "input", "unit"}, {"a", "b"},
               {"p", "q", "r"});
  expect_svg(out("matrix"), "Weights");
  EXPECT_NE(drawn_text(read_text(out("matrix"))).find("-0.13"), std::string::npos);  // %.2f of -0.126
}

TEST(Plot, TitleIsXmlEscapedAndHashIsLiteral) {
  plot::lines(out("escape"), {{"a<b", {1, 2}, {1, 2}}}, {"P & Q <#1>", "x", "y"});
  const std::string s = read_text(out("escape"));
  EXPECT_NE(s.find("<title>P &amp; Q &lt;#1&gt;</title>"), std::string::npos);
  // '#' is PLplot's escape character; the chart draws it literally
  EXPECT_NE(drawn_text(s).find("P & Q <#1>"), std::string::npos) << drawn_text(s).substr(0, 200);
}

TEST(Plot, ManyChartsInARowAndFromSeveralThreads) {
  // every call opens and ends its own stream: PLplot's stream table does not fill up
  for (int i = 0; i < 120; ++i) plot::lines(out("many"), {{"s", {0, 1}, {0, double(i)}}}, {"Chart", "x", "y"});
  expect_svg(out("many"), "Chart");
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([t] {
      const Points p = clusters(3, 20, static_cast<unsigned>(t));
      for (int k = 0; k < 3; ++k)
        plot::scatter_by_class(out("thread" + std::to_string(t)), p.x, p.y, p.labels,
                               {"Thread " + std::to_string(t), "x", "y"});
    });
  for (auto& th : ts) th.join();
  for (int t = 0; t < 4; ++t) expect_svg(out("thread" + std::to_string(t)), "Thread " + std::to_string(t));
}

// ---- fit_loglog_slope ------------------------------------------------------------------------

TEST(Plot, FitLoglogSlopeRecoversAKnownExponent) {
  std::vector<double> x, y;
  for (int i = 1; i <= 12; ++i) {
    x.push_back(0.37 * i * i);
    y.push_back(3 * std::pow(x.back(), 2.5));
  }
  EXPECT_NEAR(plot::fit_loglog_slope(x, y), 2.5, 1e-9);
  EXPECT_NEAR(plot::fit_loglog_slope({1e-6, 1e-3}, {1e-4, 1e-10}), -2.0, 1e-9);  // a falling power law
  expect_error([] { plot::fit_loglog_slope({1, 2}, {1}); }, {"fit_loglog_slope", "2", "1"});
  expect_error([] { plot::fit_loglog_slope({1}, {1}); }, {"fit_loglog_slope", "at least 2"});
  expect_error([] { plot::fit_loglog_slope({1, 0}, {1, 2}); }, {"fit_loglog_slope", "x[1]", "x > 0"});
  expect_error([] { plot::fit_loglog_slope({1, 2}, {1, -2}); }, {"fit_loglog_slope", "y[1]", "y > 0"});
  expect_error([] { plot::fit_loglog_slope({3, 3}, {1, 2}); }, {"fit_loglog_slope", "same"});
  expect_error([] { plot::fit_loglog_slope({1, NAN}, {1, 2}); }, {"fit_loglog_slope", "x[1]"});
}

// ---- errors name the path and what is wrong ----------------------------------------------------

TEST(Plot, BadInputIsAChalkErrorNamingThePath) {
  const std::string p = out("bad");
  const plot::Axes ax{"t", "x", "y"};
  plot::Axes logx = ax;
  logx.log_x = true;
  expect_error([&] { plot::scatter_by_class(p, {1, 2}, {1}, {0, 1}, ax); }, {p, "differ in length"});
  expect_error([&] { plot::scatter_by_class(p, {}, {}, {}, ax); }, {p, "no points"});
  expect_error([&] { plot::scatter_by_class(p, {1, 2}, {1, 2}, {0, -1}, ax); }, {p, "labels[1]", ">= 0"});
  expect_error([&] { plot::scatter_by_class(p, {1, 2}, {1, 2}, {0, 2}, ax, {"a", "b"}); }, {p, "labels[1]", "2 class names"});
  expect_error([&] { plot::scatter_by_class(p, {1, NAN}, {1, 2}, {0, 1}, ax); }, {p, "nan", "finite"});
  expect_error([&] { plot::lines(p, {}, ax); }, {p, "no series"});
  expect_error([&] { plot::lines(p, {{"a", {1, 2}, {1}}}, ax); }, {p, "'a'", "2 x values but 1 y"});
  expect_error([&] { plot::lines(p, {{"a", {}, {}}}, ax); }, {p, "0 points"});
  expect_error([&] { plot::lines(p, {{"a", {1, 0}, {1, 2}}}, logx); }, {p, "x[1]", "log axis"});
  expect_error([&] { plot::lines(p, {{"a", {1, 2}, {1, std::numeric_limits<double>::infinity()}}}, ax); },
               {p, "inf", "finite"});
  expect_error([&] { plot::loglog_with_fit(p, {{"a", {1, 2}, {1, -2}}}, ax); }, {p, "y[1]", "log axis"});
  expect_error([&] { plot::loglog_with_fit(p, {{"a", {1}, {1}}}, ax); }, {p, "at least 2"});
  expect_error([&] { plot::class_regions(p, 2, 2, 0, 1, 0, 1, {0, 1, 0}, {}, {}, {}, ax); }, {p, "3 cells", "nx * ny"});
  expect_error([&] { plot::class_regions(p, 1, 1, 1, 0, 0, 1, {0}, {}, {}, {}, ax); }, {p, "x0 < x1"});
  expect_error([&] { plot::class_regions(p, 1, 1, 0, 1, 0, 1, {0}, {0.5}, {0.5}, {}, ax); }, {p, "differ in length"});
  expect_error([&] { plot::sphere_scatter(p, {1}, {0}, {0, 1}, {0}, ax); }, {p, "differ in length"});
  expect_error([&] { plot::image_grid(p, {}, 2, 2, 1, ax); }, {p, "no images"});
  expect_error([&] { plot::image_grid(p, {{1, 2, 3}}, 2, 2, 1, ax); }, {p, "image 0", "3 values", "4"});
  expect_error([&] { plot::image_grid(p, {{1, 2, 3, 4}}, 2, 2, 1, ax, {"a", "b"}); }, {p, "2 titles"});
  expect_error([&] { plot::image_grid(p, {{1, 2, 3, 4}}, 2, 2, 0, ax); }, {p, "grid_cols"});
  expect_error([&] { plot::matrix(p, {1, 2, 3}, 2, 2, ax); }, {p, "3 values", "2 x 2"});
  expect_error([&] { plot::matrix(p, {1, 2, 3, 4}, 2, 2, ax, {"a"}); }, {p, "1 row labels"});
  plot::Axes tiny = ax;
  tiny.width = 10;
  expect_error([&] { plot::lines(p, {{"a", {1, 2}, {1, 2}}}, tiny); }, {p, "10 x 450"});
}

TEST(Plot, AFileThatCannotBeWrittenIsAnErrorNotAnExit) {
  const std::string missing = (out_dir() / "no-such-folder" / "x.svg").string();
  expect_error([&] { plot::lines(missing, {{"a", {1, 2}, {1, 2}}}, {"t", "x", "y"}); },
               {missing, "cannot write", "No such file"});
  // a folder in place of the file
  const std::string folder = (out_dir() / "a-folder.svg").string();
  fs::create_directories(folder);
  expect_error([&] { plot::matrix(folder, {1}, 1, 1, {"t", "x", "y"}); }, {folder, "cannot write"});
  // after a failure, charts still work
  plot::lines(out("after"), {{"a", {1, 2}, {1, 2}}}, {"After a failure", "x", "y"});
  expect_svg(out("after"), "After a failure");
}

// ---- demos/notebook ---------------------------------------------------------------------------

namespace demo = chalk::demo;

TEST(Notebook, TableMarkdown) {
  demo::Table t{{"h", "error"}, {}};
  t.row({"1e-1", "0.5"}).row({"1e-2", "0.005"});
  EXPECT_EQ(t.markdown(), "| h | error |\n|---|---|\n| 1e-1 | 0.5 |\n| 1e-2 | 0.005 |\n");
  t.row({"only one cell"});
  expect_error([&] { (void)t.markdown(); }, {"table", "1 cells", "header 2"});
}

TEST(Notebook, Fmt) {
  EXPECT_EQ(demo::fmt(0.98765), "0.9877");
  EXPECT_EQ(demo::fmt(0.98765, 2), "0.99");
  EXPECT_EQ(demo::fmt(0.0), "0.0000");
  EXPECT_EQ(demo::fmt(-12.5, 1), "-12.5");
  EXPECT_EQ(demo::fmt(1.234e-5), "1.234e-05");
  EXPECT_EQ(demo::fmt(2.5e7, 3), "2.50e+07");
  EXPECT_EQ(demo::fmt(NAN), "nan");
  EXPECT_EQ(demo::fmt(INFINITY), "inf");
  EXPECT_EQ(demo::fmt(-INFINITY), "-inf");
}

namespace {

// Runs a notebook with these arguments (argv[0] = "demo_99_test").
std::optional<int> parse(demo::Notebook& nb, std::vector<std::string> args) {
  args.insert(args.begin(), "demo_99_test");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return nb.parse(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST(Notebook, RunWritesReportWithFigureAndResults) {
  const fs::path dir = out_dir() / "notebook-run";
  fs::remove_all(dir);
  demo::Notebook nb("99", "A test notebook");
  int extra = 0;
  nb.cli().add_option("--extra", extra, "a demo-specific flag");
  testing::internal::CaptureStdout();
  const auto code = parse(nb, {"--quick", "--out", dir.string(), "--seed", "7", "--extra", "3"});
  ASSERT_FALSE(code.has_value());
  EXPECT_TRUE(nb.quick());
  EXPECT_EQ(nb.seed(), 7u);
  EXPECT_EQ(extra, 3);
  EXPECT_FALSE(nb.full_data());
  EXPECT_TRUE(fs::is_directory(dir));
  const chalk::TrainConfig cfg = nb.train_config();
  EXPECT_EQ(cfg.seed, 7u);
  EXPECT_TRUE(cfg.out_dir.empty());
  nb.markdown("Some *prose*.");
  nb.table(demo::Table{{"k", "v"}, {{"a", "1"}}});
  plot::lines(nb.figure_path("curve"), {{"s", {1, 2}, {1, 4}}}, {"A curve", "x", "y"});
  nb.figure("curve", "what to see");
  expect_error([&] { nb.figure("missing", "x"); }, {"missing", "was not written"});
  nb.result("answer", 42.0);
  nb.result("tiny", 1.5e-9);
  EXPECT_TRUE(nb.check(true, "the answer is 42", "42"));
  const int status = nb.finish();
  const std::string printed = testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 0);
  EXPECT_NE(printed.find("# Demo 99 — A test notebook"), std::string::npos);
  EXPECT_NE(printed.find("1/1 claims hold"), std::string::npos);

  const std::string report = read_text((dir / "report.md").string());
  EXPECT_EQ(report.rfind("# Demo 99 — A test notebook\n", 0), 0u) << report.substr(0, 100);
  EXPECT_NE(report.find("demo_99_test --quick --seed 7"), std::string::npos) << report.substr(0, 300);
  EXPECT_NE(report.find("Some *prose*."), std::string::npos);
  EXPECT_NE(report.find("| k | v |"), std::string::npos);
  EXPECT_NE(report.find("![curve](curve.svg)"), std::string::npos);
  EXPECT_NE(report.find("*Figure: what to see*"), std::string::npos);
  EXPECT_NE(report.find("holds: the answer is 42 (42)"), std::string::npos);
  EXPECT_NE(report.find("| answer | 42.000000 |"), std::string::npos);
  expect_svg((dir / "curve.svg").string(), "A curve");

  std::ifstream jf(dir / "results.json");
  const auto j = nlohmann::json::parse(jf);
  EXPECT_EQ(j["demo"], "99");
  EXPECT_EQ(j["quick"], true);
  EXPECT_EQ(j["seed"], 7);
  EXPECT_DOUBLE_EQ(j["results"]["answer"].get<double>(), 42.0);
  EXPECT_DOUBLE_EQ(j["results"]["tiny"].get<double>(), 1.5e-9);
  ASSERT_EQ(j["checks"].size(), 1u);
  EXPECT_EQ(j["checks"][0]["holds"], true);
}

TEST(Notebook, FinishReturnsOneWhenACheckFails) {
  const fs::path dir = out_dir() / "notebook-fail";
  demo::Notebook nb("98", "Failing");
  testing::internal::CaptureStdout();
  ASSERT_FALSE(parse(nb, {"--out", dir.string()}).has_value());
  EXPECT_TRUE(nb.check(true, "first"));
  EXPECT_FALSE(nb.check(false, "second", "measured 0.3"));
  nb.result("not finite", NAN);
  const int status = nb.finish();
  const std::string printed = testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 1);
  EXPECT_NE(printed.find("CLAIM FAILS: second (measured 0.3)"), std::string::npos);
  EXPECT_NE(printed.find("1/2 claims hold"), std::string::npos);
  const std::string report = read_text((dir / "report.md").string());
  EXPECT_NE(report.find("- **FAILS**: second (measured 0.3)"), std::string::npos);
  std::ifstream jf(dir / "results.json");
  const auto j = nlohmann::json::parse(jf);
  EXPECT_EQ(j["results"]["not finite"], "nan");  // NaN is written, not dropped
  EXPECT_EQ(j["checks"][1]["holds"], false);
}

TEST(Notebook, DescribePrintsTheHeaderLineAndStops) {
  const fs::path dir = out_dir() / "notebook-describe";
  fs::remove_all(dir);
  demo::Notebook nb("97", "Describe me");
  testing::internal::CaptureStdout();
  const auto code = parse(nb, {"--describe", "--out", dir.string()});
  const std::string printed = testing::internal::GetCapturedStdout();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(printed, "# Demo 97 — Describe me\n");
  EXPECT_FALSE(fs::exists(dir));  // nothing written
}

TEST(Notebook, ABadFlagExitsWithTwo) {
  demo::Notebook nb("96", "Bad flag");
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  const auto code = parse(nb, {"--no-such-flag"});
  testing::internal::GetCapturedStdout();
  testing::internal::GetCapturedStderr();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
}
