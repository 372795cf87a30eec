// plot/classes.cpp — the chart kinds coloured by class: scatter_by_class (points in the plane) and
// class_regions (filled decision regions with the samples on top). Steps shared: plot/chart.h.
#include "plot/chart.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"

namespace chalk::plot {

using namespace detail;

// ---- scatter_by_class -------------------------------------------------------------------------

void scatter_by_class(const std::string& path, const std::vector<double>& x, const std::vector<double>& y,
                      const std::vector<std::int64_t>& labels, const Axes& axes,
                      const std::vector<std::string>& class_names) {
  if (x.empty()) fail("plot ", path, ": no points to draw");
  if (x.size() != y.size() || x.size() != labels.size())
    fail("plot ", path, ": x, y and labels differ in length (", x.size(), ", ", y.size(), ", ", labels.size(), ")");
  Series s{"", x, y, true, false};
  const Prepared p = prepare_series(path, {s}, axes.log_x, axes.log_y, 1);
  const std::int64_t C = check_labels(path, "labels", labels, class_names);
  const auto names = names_or_numbers(class_names, C);

  Chart chart(path, axes);
  auto& pl = chart.pl();
  const double right = 0.97 - legend_width(longest(names));
  chart.frame(0.12, right, 0.13, 0.90, p.xr.lo, p.xr.hi, p.yr.lo, p.yr.hi);
  draw_box(pl, axes.log_x, axes.log_y);
  // Points in input order: a class drawn last would otherwise hide the others.
  for (std::size_t i = 0; i < x.size(); ++i) {
    pl.col0(class_col(labels[i]));
    chart.disc(p.x[0][i], p.y[0][i], kMarkerMm);
  }
  pl.col0(kInk);
  draw_box(pl, axes.log_x, axes.log_y);
  chart.labels(axes);
  std::vector<LegendEntry> entries;
  for (std::int64_t c = 0; c < C; ++c) entries.push_back({names[c], class_col(c), false, true, false});
  draw_legend(pl, entries, PL_POSITION_OUTSIDE | PL_POSITION_RIGHT);
  chart.finish();
}

// ---- class_regions ----------------------------------------------------------------------------

void class_regions(const std::string& path, int nx, int ny, double x0, double x1, double y0, double y1,
                   const std::vector<std::int64_t>& region, const std::vector<double>& px,
                   const std::vector<double>& py, const std::vector<std::int64_t>& plabels, const Axes& axes,
                   const std::vector<std::string>& class_names) {
  if (axes.log_x || axes.log_y) fail("plot ", path, ": class_regions draws linear axes only (log_x/log_y set)");
  if (nx < 1 || ny < 1) fail("plot ", path, ": region grid is ", nx, " x ", ny, " (each side must be >= 1)");
  if (region.size() != static_cast<std::size_t>(nx) * static_cast<std::size_t>(ny))
    fail("plot ", path, ": region has ", region.size(), " cells but nx * ny = ", nx, " * ", ny, " = ",
         static_cast<std::int64_t>(nx) * ny);
  if (!std::isfinite(x0) || !std::isfinite(x1) || !(x0 < x1) || !std::isfinite(y0) || !std::isfinite(y1) ||
      !(y0 < y1))
    fail("plot ", path, ": region rectangle [", x0, ", ", x1, "] x [", y0, ", ", y1,
         "] is empty or not finite (need x0 < x1, y0 < y1)");
  if (px.size() != py.size() || px.size() != plabels.size())
    fail("plot ", path, ": px, py and plabels differ in length (", px.size(), ", ", py.size(), ", ", plabels.size(),
         ")");
  check_finite(path, "px", px);
  check_finite(path, "py", py);
  std::vector<std::int64_t> all = region;
  all.insert(all.end(), plabels.begin(), plabels.end());
  const std::int64_t C = check_labels(path, "region/plabels", all, class_names);
  const auto names = names_or_numbers(class_names, C);

  Chart chart(path, axes);
  auto& pl = chart.pl();
  const double right = 0.97 - legend_width(longest(names));
  chart.frame(0.12, right, 0.13, 0.90, x0, x1, y0, y1);
  // The regions: one rectangle per run of equal class along a row (fewer shapes in the file).
  const double cw = (x1 - x0) / nx, ch = (y1 - y0) / ny;
  for (int j = 0; j < ny; ++j) {
    int i = 0;
    while (i < nx) {
      const std::int64_t c = region[static_cast<std::size_t>(j) * nx + i];
      int k = i + 1;
      while (k < nx && region[static_cast<std::size_t>(j) * nx + k] == c) ++k;
      pl.col0(tint_col(c));
      // a hair of overlap hides the anti-aliasing seams between neighbouring rectangles
      chart.rect(x0 + i * cw, x0 + k * cw + 0.01 * cw, y0 + j * ch, y0 + (j + 1) * ch + 0.01 * ch);
      i = k;
    }
  }
  for (std::size_t i = 0; i < px.size(); ++i) {
    if (px[i] < x0 || px[i] > x1 || py[i] < y0 || py[i] > y1) continue;  // outside the drawn rectangle
    pl.col0(class_col(plabels[i]));
    chart.disc(px[i], py[i], kMarkerMm);
  }
  pl.col0(kInk);
  pl.box("bcnst", 0, 0, "bcnstv", 0, 0);
  chart.labels(axes);
  std::vector<LegendEntry> entries;
  for (std::int64_t c = 0; c < C; ++c) entries.push_back({names[c], class_col(c), false, true, false});
  draw_legend(pl, entries, PL_POSITION_OUTSIDE | PL_POSITION_RIGHT);
  chart.finish();
}

}  // namespace chalk::plot
