// plot/curves.cpp — the chart kinds of curves: lines (training curves, with optional intervals)
// and loglog_with_fit (points with a fitted straight line on log-log axes), and their layout:
// the left margin the tick labels need and the legend in the emptiest corner (plot/chart.h).
#include "plot/chart.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace chalk::plot {

using namespace detail;

namespace {

// Width of the widest y tick label, in characters (an estimate of what PLplot will print:
// "10^-12" on a log axis; on a linear one the ends of the range at the tick step's decimals).
double y_label_chars(Range r, bool log) {
  const auto len = [](long v) { return static_cast<double>(std::to_string(v).size()); };
  if (log) return 2 + 0.75 * std::max(len(std::lround(std::floor(r.lo))), len(std::lround(std::ceil(r.hi))));
  const double raw = (r.hi - r.lo) / 6, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 2 ? mag : raw / mag < 5 ? 2 * mag : 5 * mag;
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  double chars = 1;
  for (double v : {std::ceil(r.lo / step) * step, std::floor(r.hi / step) * step}) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    chars = std::max(chars, static_cast<double>(std::strlen(buf)));
  }
  return std::min(chars, 6.0);  // PLplot moves large exponents to a "x10^n" label
}

// The corner of the viewport (normalised [0,1]^2) whose legend-sized box holds the fewest of
// the points; returns its PL_POSITION flags.
PLINT emptiest_corner(const std::vector<std::pair<double, double>>& pts, double box_w, double box_h) {
  const std::array<PLINT, 4> corners = {PL_POSITION_TOP | PL_POSITION_RIGHT, PL_POSITION_TOP | PL_POSITION_LEFT,
                                        PL_POSITION_BOTTOM | PL_POSITION_RIGHT, PL_POSITION_BOTTOM | PL_POSITION_LEFT};
  PLINT best = corners[0];
  std::size_t best_count = SIZE_MAX;
  for (PLINT c : corners) {
    const bool right = c & PL_POSITION_RIGHT, top = c & PL_POSITION_TOP;
    std::size_t count = 0;
    for (const auto& [u, v] : pts) {
      const bool in_x = right ? u > 1 - box_w : u < box_w;
      const bool in_y = top ? v > 1 - box_h : v < box_h;
      count += (in_x && in_y) ? 1 : 0;
    }
    if (count < best_count) best_count = count, best = c;
  }
  return best | PL_POSITION_INSIDE;
}

// The series' points (and 8 points along each segment) in normalised viewport coordinates.
std::vector<std::pair<double, double>> normalised_points(const Prepared& p) {
  std::vector<std::pair<double, double>> pts;
  const auto u = [&](double x) { return (x - p.xr.lo) / (p.xr.hi - p.xr.lo); };
  const auto v = [&](double y) { return (y - p.yr.lo) / (p.yr.hi - p.yr.lo); };
  for (std::size_t s = 0; s < p.x.size(); ++s)
    for (std::size_t i = 0; i < p.x[s].size(); ++i) {
      pts.emplace_back(u(p.x[s][i]), v(p.y[s][i]));
      if (i + 1 < p.x[s].size())
        for (int k = 1; k < 8; ++k) {
          const double t = k / 8.0;
          pts.emplace_back(u(p.x[s][i] + t * (p.x[s][i + 1] - p.x[s][i])),
                           v(p.y[s][i] + t * (p.y[s][i + 1] - p.y[s][i])));
        }
    }
  return pts;
}

// The layout of a chart of curves (lines, loglog_with_fit): the left margin that the y tick
// labels need, and where the legend goes — inside the corner of the viewport with no data under
// it; when every corner has data, above the data (the y range is extended upwards to make room),
// in two columns when there are 4 or more entries and two fit side by side.
struct CurveLayout {
  double vx0 = 0.13;         // the viewport's left edge (normalised page coordinates)
  double ylabel_disp = 3.6;  // the y label's distance from the axis (character heights)
  Range yr{0, 1};            // the y range, extended when the legend sits above the data
  PLINT legend_position = PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE;
  int legend_columns = 1;
};
constexpr double kCurveVx1 = 0.95, kCurveVy0 = 0.13, kCurveVy1 = 0.90;

CurveLayout layout_curves(Chart& chart, const Prepared& p, bool log_y, const std::vector<LegendEntry>& entries) {
  auto& pl = chart.pl();
  PLFLT def = 0, ht = 0, sx0, sx1, sy0, sy1;
  pl.gchr(def, ht);             // character height, mm
  pl.gspa(sx0, sx1, sy0, sy1);  // the page, mm
  const double page_w = sx1 - sx0, page_h = sy1 - sy0;
  CurveLayout L;
  L.yr = p.yr;
  L.ylabel_disp = 1.8 + 0.62 * y_label_chars(p.yr, log_y);
  L.vx0 = std::clamp((L.ylabel_disp + 1.6) * ht / page_w, 0.08, 0.3);
  if (entries.empty()) return L;
  // the legend's size in normalised viewport units, as pllegend computes it (text scale 0.9;
  // measured: 0.95 character heights per character, 7.9 mm of margins, 2.22 character heights a row)
  const double vp_w = (kCurveVx1 - L.vx0) * page_w, vp_h = (kCurveVy1 - kCurveVy0) * page_h, ch = 0.9 * ht;
  std::size_t chars = 0;
  for (const auto& e : entries) chars = std::max(chars, e.text.size());
  const double col_w = 0.07 * vp_w + 7.9 + 0.95 * ch * static_cast<double>(chars);
  const auto box = [&](int columns) {
    const double rows = std::ceil(static_cast<double>(entries.size()) / columns);
    return std::pair<double, double>{columns * col_w / vp_w + 0.03, rows * 2.22 * ch / vp_h + 0.03};
  };
  const auto [w1, h1] = box(1);
  const auto pts = normalised_points(p);
  const PLINT corner = emptiest_corner(pts, w1, h1);
  const bool right = corner & PL_POSITION_RIGHT, top = corner & PL_POSITION_TOP;
  std::size_t under = 0;
  for (const auto& [u, v] : pts) under += ((right ? u > 1 - w1 : u < w1) && (top ? v > 1 - h1 : v < h1)) ? 1 : 0;
  if (under == 0) {
    L.legend_position = corner;
    return L;
  }
  L.legend_columns = entries.size() >= 4 && box(2).first <= 0.97 ? 2 : 1;
  const double h = box(L.legend_columns).second;
  // the data keeps the lower (1 - h - 0.02) of the viewport
  L.yr.hi = L.yr.lo + (L.yr.hi - L.yr.lo) / std::max(0.3, 1 - h - 0.02);
  L.legend_position = PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE;
  return L;
}

}  // namespace

// ---- lines ------------------------------------------------------------------------------------

void lines(const std::string& path, const std::vector<Series>& series, const Axes& axes) {
  const Prepared p = prepare_series(path, series, axes.log_x, axes.log_y, 1);
  std::vector<LegendEntry> entries;
  bool any_label = false;
  for (std::size_t s = 0; s < series.size(); ++s) {
    const bool markers = series[s].points || p.x[s].size() == 1;
    entries.push_back({series[s].label, class_col(static_cast<std::int64_t>(s)), !markers, markers, series[s].dashed});
    any_label |= !series[s].label.empty();
  }
  if (!any_label) entries.clear();

  Chart chart(path, axes);
  auto& pl = chart.pl();
  const CurveLayout L = layout_curves(chart, p, axes.log_y, entries);
  chart.frame(L.vx0, kCurveVx1, kCurveVy0, kCurveVy1, p.xr.lo, p.xr.hi, L.yr.lo, L.yr.hi);
  draw_box(pl, axes.log_x, axes.log_y, p.xr.hi - p.xr.lo, L.yr.hi - L.yr.lo);
  for (std::size_t s = 0; s < series.size(); ++s) {
    pl.col0(class_col(static_cast<std::int64_t>(s)));
    const auto n = static_cast<PLINT>(p.x[s].size());
    if (series[s].points || n == 1) {
      for (PLINT i = 0; i < n; ++i) chart.disc(p.x[s][i], p.y[s][i], kMarkerMm * 1.2);
    } else {
      pl.width(2.5);
      pl.lsty(series[s].dashed ? 3 : 1);
      pl.line(n, p.x[s].data(), p.y[s].data());
      pl.lsty(1);
      pl.width(1.0);
    }
    if (!p.y_low[s].empty()) {  // the intervals: a bar from y_low to y_high and a marker on the point
      pl.width(1.5);
      pl.erry(n, p.x[s].data(), p.y_low[s].data(), p.y_high[s].data());
      pl.width(1.0);
      if (!(series[s].points || n == 1))
        for (PLINT i = 0; i < n; ++i) chart.disc(p.x[s][i], p.y[s][i], kMarkerMm * 0.8);
    }
  }
  chart.labels(axes, L.ylabel_disp);
  if (!entries.empty()) draw_legend(pl, entries, L.legend_position, L.legend_columns);
  chart.finish();
}

// ---- fit_loglog_slope and loglog_with_fit -----------------------------------------------------

namespace {

// Least squares of log10 y = a + b log10 x: returns {a, b}. Needs >= 2 points, distinct x.
std::pair<double, double> fit_loglog(const std::string& where, const std::vector<double>& x,
                                     const std::vector<double>& y) {
  if (x.size() != y.size()) fail(where, ": x has ", x.size(), " values but y has ", y.size());
  if (x.size() < 2) fail(where, ": a line fit needs at least 2 points, got ", x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!(x[i] > 0) || !std::isfinite(x[i])) fail(where, ": x[", i, "] is ", x[i], " (a log-log fit needs x > 0)");
    if (!(y[i] > 0) || !std::isfinite(y[i])) fail(where, ": y[", i, "] is ", y[i], " (a log-log fit needs y > 0)");
  }
  const double n = static_cast<double>(x.size());
  double mu = 0, mv = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mu += std::log10(x[i]), mv += std::log10(y[i]);
  mu /= n;
  mv /= n;
  double suu = 0, suv = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double du = std::log10(x[i]) - mu, dv = std::log10(y[i]) - mv;
    suu += du * du;
    suv += du * dv;
  }
  if (suu == 0) fail(where, ": every x is the same (", x[0], "), so the slope is undefined");
  const double b = suv / suu;  // b = cov(u, v) / var(u)
  return {mv - b * mu, b};
}

}  // namespace

double fit_loglog_slope(const std::vector<double>& x, const std::vector<double>& y) {
  return fit_loglog("fit_loglog_slope", x, y).second;
}

std::vector<double> loglog_with_fit(const std::string& path, const std::vector<Series>& series, const Axes& axes) {
  const Prepared p = prepare_series(path, series, true, true, 2);
  std::vector<std::pair<double, double>> fits;
  for (std::size_t s = 0; s < series.size(); ++s)
    fits.push_back(fit_loglog("plot " + path + ": series " + std::to_string(s), series[s].x, series[s].y));

  std::vector<LegendEntry> entries;
  std::vector<double> slopes;
  for (std::size_t s = 0; s < series.size(); ++s) {
    char slope[32];
    std::snprintf(slope, sizeof slope, "slope %.2f", fits[s].second);
    const std::string text = series[s].label.empty() ? slope : series[s].label + ": " + slope;
    entries.push_back({text, class_col(static_cast<std::int64_t>(s)), true, true, series[s].dashed});
    slopes.push_back(fits[s].second);
  }

  Chart chart(path, axes);
  auto& pl = chart.pl();
  const CurveLayout L = layout_curves(chart, p, true, entries);
  chart.frame(L.vx0, kCurveVx1, kCurveVy0, kCurveVy1, p.xr.lo, p.xr.hi, L.yr.lo, L.yr.hi);
  draw_box(pl, true, true, p.xr.hi - p.xr.lo, L.yr.hi - L.yr.lo);
  for (std::size_t s = 0; s < series.size(); ++s) {
    const auto [a, b] = fits[s];
    const auto [lo, hi] = std::minmax_element(p.x[s].begin(), p.x[s].end());
    PLFLT fx[2] = {*lo, *hi}, fy[2] = {a + b * *lo, a + b * *hi};
    pl.col0(class_col(static_cast<std::int64_t>(s)));
    pl.width(2.0);
    pl.lsty(series[s].dashed ? 3 : 1);
    pl.line(2, fx, fy);
    pl.lsty(1);
    pl.width(1.0);
    for (std::size_t i = 0; i < p.x[s].size(); ++i) chart.disc(p.x[s][i], p.y[s][i], kMarkerMm * 1.3);
  }
  chart.labels(axes, L.ylabel_disp);
  draw_legend(pl, entries, L.legend_position, L.legend_columns);
  chart.finish();
  return slopes;
}

}  // namespace chalk::plot
