// plot/chart.h — what every chart kind of plot.h shares: the four steps each one follows.
// Not part of plot/'s interface (a demo includes plot/plot.h); the chart kinds' sources include it.
//
//   1. validate the numbers (lengths, emptiness, NaN, log axes) and throw chalk::Error naming the
//      path — before PLplot sees anything, because PLplot answers some errors with exit();
//   2. open a Chart: truncate the file ourselves (a path that cannot be written fails here with
//      the OS's reason; PLplot would print "Can't open" ten times and end the program), then a
//      plstream local to this call: device "svg", page width x height, our colour map 0;
//   3. draw (viewport, window, box, labels, data, legend);
//   4. Chart::finish(): plend1 via the plstream's destructor, then check that the file exists,
//      is non-empty and is an SVG, and rewrite its header so the page is width x height
//      *pixels* (PLplot writes "pt") with the title as the SVG's <title> element.
//
// Colour map 0 (PLplot's indexed colours) is the same for every chart:
//   0 white (background), 1 ink (axes, text), 2 grid grey, 3 wire-frame grey,
//   4..13 the 10 class colours (palette()), 14..23 their light tints (class regions),
//   24..33 their half tints (the far side of the sphere).
// PLplot keeps its "current stream" in a process-wide variable, so a chart holds a mutex while
// it draws: charts from several threads are serialised, never interleaved.
//
// The chart kinds, one source each: curves.cpp (lines, loglog_with_fit), classes.cpp
// (scatter_by_class, class_regions), sphere.cpp (sphere_scatter), grids.cpp (image_grid, matrix).
#pragma once

#include <plstream.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "plot/plot.h"

namespace chalk::plot::detail {

// Indices into colour map 0 (see the file comment).
constexpr int kWhite = 0, kInk = 1, kGrid = 2, kWire = 3, kClass = 4, kTint = 14, kHalf = 24, kNumCol0 = 34;
inline int class_col(std::int64_t c) { return kClass + static_cast<int>(c % 10); }
inline int tint_col(std::int64_t c) { return kTint + static_cast<int>(c % 10); }
inline int half_col(std::int64_t c) { return kHalf + static_cast<int>(c % 10); }

constexpr double kMarkerMm = 0.9;  // radius of a data marker

// PLplot's escape character is '#' ("#u" superscript, "#gm" mu): a literal '#' is "##".
std::string pl_text(const std::string& s);

// ---- step 1: validation ---------------------------------------------------------------------

void check_finite(const std::string& path, const std::string& what, const std::vector<double>& v);
void check_positive(const std::string& path, const std::string& what, const std::vector<double>& v);
void check_axes(const std::string& path, const Axes& axes);
// Class labels in [0, C); returns C (from class_names when given, else max label + 1).
std::int64_t check_labels(const std::string& path, const std::string& what, const std::vector<std::int64_t>& labels,
                          const std::vector<std::string>& class_names);
// names when given, else "0", "1", ..., n - 1.
std::vector<std::string> names_or_numbers(const std::vector<std::string>& names, std::int64_t n);

// ---- step 2 and 4: one chart = one plstream = one file ----------------------------------------

class Chart {
 public:
  // Checks the page size, opens (truncates) the file, starts the stream; holds the PLplot lock.
  Chart(std::string path, const Axes& axes);

  plstream& pl() { return *pls_; }
  int width() const { return width_; }
  int height() const { return height_; }

  // Ends the stream (PLplot writes and closes the file), checks the file, fixes its header.
  void finish();

  // Draws a filled disc of radius r_mm millimetres at world point (x, y), in the current colour.
  void disc(double x, double y, double r_mm);
  void rect(double xa, double xb, double ya, double yb);

  // Viewport (normalised page coordinates) and window (world coordinates); remembers the
  // world units per millimetre so that discs stay round.
  void frame(double vx0, double vx1, double vy0, double vy1, double wx0, double wx1, double wy0, double wy1);

  // Title above the viewport, axis labels below and left of it.
  void labels(const Axes& axes, double ylabel_disp = 3.6);

 private:
  void set_colours();

  std::string path_, title_;
  std::unique_lock<std::mutex> lock_;
  std::unique_ptr<plstream> pls_;
  int width_ = 0, height_ = 0;
  double wx_per_mm_ = 1, wy_per_mm_ = 1;
};

// ---- step 3 helpers: ranges, boxes, legends ---------------------------------------------------

struct Range {
  double lo, hi;
};

// The range of values (already log10 when `log`), padded by 5 %; a log range spans at least
// one decade so that PLplot labels a power of ten.
Range padded_range(double lo, double hi, bool log);

// Grid in light grey, then the frame with ticks and numeric labels in ink; xspan, yspan: the
// window's extent in decades on a log axis.
void draw_box(plstream& pl, bool log_x, bool log_y, double xspan = 0, double yspan = 0);

// One legend entry: a line (colour, dashed) and/or a marker.
struct LegendEntry {
  std::string text;
  int colour;
  bool line, marker, dashed;
};

// pllegend inside the viewport at `position` (PL_POSITION_* flags) or outside to its right.
void draw_legend(plstream& pl, const std::vector<LegendEntry>& entries, PLINT position, int columns = 1,
                 double text_scale = 0.9);

// Fraction of the page width a right-hand legend needs for labels of `chars` characters.
double legend_width(std::size_t chars);

// The length of the longest string of s.
std::size_t longest(const std::vector<std::string>& s);

// Validated, transformed (log10 where asked) copies of the series.
struct Prepared {
  std::vector<std::vector<double>> x, y;
  std::vector<std::vector<double>> y_low, y_high;  // per series: empty, or an interval per point
  Range xr{0, 1}, yr{0, 1};
};

// Checks every series (equal lengths, at least min_points, finite, > 0 on a log axis, intervals
// that hold their point) and returns them transformed, with the padded ranges of all of them.
Prepared prepare_series(const std::string& path, const std::vector<Series>& series, bool log_x, bool log_y,
                        std::size_t min_points);

}  // namespace chalk::plot::detail
