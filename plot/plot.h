// plot/plot.h — the few chart kinds the demos draw, as SVG files, through PLplot.
//
// Plotting is not what chalk exists for, so it is left to a well-kept library: PLplot 5.15
// (Debian 12: libplplot-dev, C++ API `plstream`), whose `svg` device writes a file with no X
// server and no Cairo. This module only chooses the chart kinds, a colour-blind-safe palette
// (Okabe & Ito 2008, extended to 10 classes with Paul Tol's "muted" scheme) and sizes that read
// well at 600 px.
//
// Layering: plot/ stands apart: it includes nothing of chalk's but core/error.h (for its errors),
// so a chart can be drawn from any numbers; the demos (and tests/test_plot.cpp) use it.
//
//   chalk::plot::scatter_by_class("runs/demo-06/emb.svg", xs, ys, labels,
//                                 chalk::plot::axes("Embeddings after epoch 3", "e_1", "e_2"));
//   chalk::plot::lines(path, series, chalk::plot::axes("Spread", "step", "distance (log)").with_log_y());
//
// Every function writes one SVG file at `path` (its folder must exist) and throws
// chalk::Error naming the path and what was wrong (mismatched lengths, an empty series,
// a non-positive value on a log axis, a NaN, a file that cannot be written). Each call has its
// own PLplot stream and leaves no state behind; calls from several threads are serialised (PLplot
// keeps its current stream in a process-wide variable).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace chalk::plot {

// Title and axis labels (with units, e.g. "step", "loss (nats)", "time (ms)").
struct Axes {
  std::string title;
  std::string xlabel;
  std::string ylabel;
  bool log_x = false;   // log10 axis; every x must be > 0
  bool log_y = false;   // log10 axis; every y must be > 0
  int width = 600;      // pixels
  int height = 450;
  std::string zlabel{}; // sphere_scatter only: the third axis' name (default "z")

  // Setters for the optional fields, each returning the Axes so that they chain after axes():
  //   axes("Confusion matrix", "predicted", "true").with_size(600, 560)
  //   axes("Cost against N", "N", "time (ms)").with_log_x().with_log_y()
  // The size is checked where a chart is drawn (each side in [100, 10000] px).
  Axes& with_log_x(bool on = true) { log_x = on; return *this; }
  Axes& with_log_y(bool on = true) { log_y = on; return *this; }
  Axes& with_size(int width_px, int height_px) { width = width_px; height = height_px; return *this; }
  Axes& with_zlabel(std::string z) { zlabel = std::move(z); return *this; }
};

// The Axes of a chart with a title and two axis labels, linear axes and the default 600 x 450
// page: the common case in one call (an empty label draws no label). The with_* setters above
// change the rest.
inline Axes axes(std::string title, std::string xlabel, std::string ylabel) {
  Axes a;
  a.title = std::move(title);
  a.xlabel = std::move(xlabel);
  a.ylabel = std::move(ylabel);
  return a;
}

// One named line (or point set) of a chart.
struct Series {
  std::string label;        // legend entry
  std::vector<double> x, y; // same length, >= 1 point
  bool points = false;      // draw markers instead of a line
  bool dashed = false;
  // Optional: an interval per point (e.g. a 95% confidence interval over seeds), drawn as an
  // error bar with a marker on the point. Empty, or the same length as y with
  // y_low[i] <= y[i] <= y_high[i] (lines() throws chalk::Error otherwise).
  std::vector<double> y_low{}, y_high{};
};

// The palette: colour i (0 <= i < 10) as 0xRRGGBB; colours repeat after 10.
std::uint32_t palette(int i);

// Points coloured by class, with a legend. x, y, labels: N each; labels in [0, C).
// class_names: C legend entries (default "0", "1", ...).
void scatter_by_class(const std::string& path, const std::vector<double>& x, const std::vector<double>& y,
                      const std::vector<std::int64_t>& labels, const Axes& axes,
                      const std::vector<std::string>& class_names = {});

// Several line series (training curves), each with a legend entry; optional log axes.
void lines(const std::string& path, const std::vector<Series>& series, const Axes& axes);

// A straight-line fit log10 y = a + b log10 x by least squares: returns the slope b.
double fit_loglog_slope(const std::vector<double>& x, const std::vector<double>& y);

// Log-log chart of the series (as points) with each series' fitted line drawn and its slope
// printed in the legend ("L_t: slope 2.98"). Returns the slopes, one per series.
std::vector<double> loglog_with_fit(const std::string& path, const std::vector<Series>& series, const Axes& axes);

// Filled class regions over the rectangle [x0, x1] x [y0, y1] (decision regions), with the
// samples drawn on top. region: nx * ny class indices, row-major with y outermost
// (region[j * nx + i] is the class at x0 + (i + 0.5) (x1 - x0) / nx, y0 + (j + 0.5) (y1 - y0) / ny);
// px, py, plabels: the samples (N each).
void class_regions(const std::string& path, int nx, int ny, double x0, double x1, double y0, double y1,
                   const std::vector<std::int64_t>& region, const std::vector<double>& px,
                   const std::vector<double>& py, const std::vector<std::int64_t>& plabels, const Axes& axes,
                   const std::vector<std::string>& class_names = {});

// Points on (or near) the unit sphere in a 3-D view, coloured by class, with the sphere's
// wire frame; points on the far side are drawn in a lighter tint, under the near side. The axis
// directions are marked at the outline with axes.xlabel, ylabel, zlabel ("x", "y", "z" when empty).
// altitude, azimuth: viewing angles in degrees (PLplot's plw3d convention).
void sphere_scatter(const std::string& path, const std::vector<double>& x, const std::vector<double>& y,
                    const std::vector<double>& z, const std::vector<std::int64_t>& labels, const Axes& axes,
                    double altitude = 30, double azimuth = 40, const std::vector<std::string>& class_names = {});

// A grid of grey-scale images (first-layer filters, digits, nearest neighbours).
// images: each rows * cols values, row-major; each image is scaled to its own [min, max]
// (or to a shared one when `shared_scale`). grid_cols images per row; titles: empty or one
// short caption per image. The page is axes.width wide and only as high as the grid needs
// (at most axes.height). Grey map: the low end black, the high end white.
void image_grid(const std::string& path, const std::vector<std::vector<float>>& images, int rows, int cols,
                int grid_cols, const Axes& axes, const std::vector<std::string>& titles = {},
                bool shared_scale = false);

// A matrix as a coloured grid with its values written in the cells (confusion matrices).
// values: rows * cols, row-major; row_labels / col_labels name the rows and columns.
void matrix(const std::string& path, const std::vector<double>& values, int rows, int cols, const Axes& axes,
            const std::vector<std::string>& row_labels = {}, const std::vector<std::string>& col_labels = {});

}  // namespace chalk::plot
