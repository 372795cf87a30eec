// plot/sphere.cpp — sphere_scatter: points on the unit sphere in an orthographic 3-D view, with the
// sphere's wire frame, drawn back to front. Steps shared: plot/chart.h.
#include "plot/chart.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.h"

namespace chalk::plot {

using namespace detail;

// ---- sphere_scatter ---------------------------------------------------------------------------
//
// Orthographic view in PLplot's plw3d convention (altitude above the xy plane, azimuth from the
// x axis): screen right  e_r = ( cos az, -sin az, 0 ),
//          screen up     e_u = ( sin az sin alt, cos az sin alt, cos alt ),
//          toward viewer e_v = e_r x e_u = ( -sin az cos alt, -cos az cos alt, sin alt ).
// A point p is drawn at (p . e_r, p . e_u); p . e_v < 0 is the far side (drawn in a half tint,
// under the near side). Everything is drawn back to front.

void sphere_scatter(const std::string& path, const std::vector<double>& x, const std::vector<double>& y,
                    const std::vector<double>& z, const std::vector<std::int64_t>& labels, const Axes& axes,
                    double altitude, double azimuth, const std::vector<std::string>& class_names) {
  if (x.empty()) fail("plot ", path, ": no points to draw");
  if (x.size() != y.size() || x.size() != z.size() || x.size() != labels.size())
    fail("plot ", path, ": x, y, z and labels differ in length (", x.size(), ", ", y.size(), ", ", z.size(), ", ",
         labels.size(), ")");
  if (axes.log_x || axes.log_y) fail("plot ", path, ": sphere_scatter has no log axes (log_x/log_y set)");
  check_finite(path, "x", x);
  check_finite(path, "y", y);
  check_finite(path, "z", z);
  if (!std::isfinite(altitude) || !std::isfinite(azimuth))
    fail("plot ", path, ": viewing angles must be finite (altitude ", altitude, ", azimuth ", azimuth, ")");
  const std::int64_t C = check_labels(path, "labels", labels, class_names);
  const auto names = names_or_numbers(class_names, C);

  const double alt = altitude * M_PI / 180, az = azimuth * M_PI / 180;
  const std::array<double, 3> er = {std::cos(az), -std::sin(az), 0.0};
  const std::array<double, 3> eu = {std::sin(az) * std::sin(alt), std::cos(az) * std::sin(alt), std::cos(alt)};
  const std::array<double, 3> ev = {-std::sin(az) * std::cos(alt), -std::cos(az) * std::cos(alt), std::sin(alt)};
  const auto dot = [](const std::array<double, 3>& a, double p0, double p1, double p2) {
    return a[0] * p0 + a[1] * p1 + a[2] * p2;
  };
  double rmax = 1.0;
  for (std::size_t i = 0; i < x.size(); ++i) rmax = std::max(rmax, std::sqrt(x[i] * x[i] + y[i] * y[i] + z[i] * z[i]));
  const double w = 1.25 * rmax;  // room for the axis names outside the outline

  Chart chart(path, axes);
  auto& pl = chart.pl();
  const double right = 0.97 - legend_width(longest(names));
  // a square viewport: the sphere's outline is a circle
  pl.vpas(0.03, right, 0.04, 0.90, 1.0);
  PLFLT vx0, vx1, vy0, vy1;
  pl.gvpd(vx0, vx1, vy0, vy1);
  chart.frame(vx0, vx1, vy0, vy1, -w, w, -w, w);

  // The wire frame: parallels every 30 degrees and meridians every 30 degrees, cut into short
  // segments, each drawn light (far side) or darker (near side).
  struct Seg {
    double depth;
    PLFLT x[2], y[2];
  };
  std::vector<Seg> wire;
  const auto add_circle = [&](auto point_at) {
    constexpr int kSteps = 96;
    for (int k = 0; k < kSteps; ++k) {
      const auto a = point_at(2 * M_PI * k / kSteps), b = point_at(2 * M_PI * (k + 1) / kSteps);
      const double depth = 0.5 * (dot(ev, a[0], a[1], a[2]) + dot(ev, b[0], b[1], b[2]));
      wire.push_back({depth,
                      {dot(er, a[0], a[1], a[2]), dot(er, b[0], b[1], b[2])},
                      {dot(eu, a[0], a[1], a[2]), dot(eu, b[0], b[1], b[2])}});
    }
  };
  for (int lat = -60; lat <= 60; lat += 30) {
    const double phi = lat * M_PI / 180;
    add_circle([&](double t) {
      return std::array<double, 3>{std::cos(phi) * std::cos(t), std::cos(phi) * std::sin(t), std::sin(phi)};
    });
  }
  for (int lon = 0; lon < 180; lon += 30) {
    const double lam = lon * M_PI / 180;
    add_circle([&](double t) {
      return std::array<double, 3>{std::cos(t) * std::cos(lam), std::cos(t) * std::sin(lam), std::sin(t)};
    });
  }
  const auto draw_wire = [&](bool near) {
    pl.col0(near ? kWire : kGrid);
    pl.width(near ? 1.0 : 0.8);
    for (auto& s : wire)
      if ((s.depth >= 0) == near) pl.line(2, s.x, s.y);
    pl.width(1.0);
  };
  // the points, back to front
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::vector<double> depth(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) depth[i] = dot(ev, x[i], y[i], z[i]);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return depth[a] < depth[b]; });
  const auto draw_points = [&](bool near) {
    for (std::size_t i : order) {
      if ((depth[i] >= 0) != near) continue;
      pl.col0(near ? class_col(labels[i]) : half_col(labels[i]));
      chart.disc(dot(er, x[i], y[i], z[i]), dot(eu, x[i], y[i], z[i]), kMarkerMm);
    }
  };
  draw_wire(false);
  draw_points(false);
  // the outline (the sphere's silhouette) and the near side
  std::vector<PLFLT> cx(121), cy(121);
  for (int k = 0; k <= 120; ++k) cx[k] = std::cos(2 * M_PI * k / 120), cy[k] = std::sin(2 * M_PI * k / 120);
  pl.col0(kWire);
  pl.width(1.5);
  pl.line(121, cx.data(), cy.data());
  pl.width(1.0);
  draw_wire(true);
  draw_points(true);
  // axis directions: short arrows from the outline outwards, labelled x, y, z (or the Axes labels)
  const std::array<std::string, 3> axis_names = {axes.xlabel.empty() ? "x" : axes.xlabel,
                                                 axes.ylabel.empty() ? "y" : axes.ylabel,
                                                 axes.zlabel.empty() ? "z" : axes.zlabel};
  pl.col0(kInk);
  pl.schr(0, 0.9);
  for (int a = 0; a < 3; ++a) {
    const double p0 = a == 0, p1 = a == 1, p2 = a == 2;
    const double sx = dot(er, p0, p1, p2), sy = dot(eu, p0, p1, p2);
    const double len = std::hypot(sx, sy);
    if (len < 0.15) continue;  // the axis points at the viewer: no room for an arrow
    // label at the axis' end point (1, 0, 0) etc. pushed slightly outwards
    // the axis' direction as a tick on the outline, its name beyond it; grey when it points away
    const double ux = sx / len, uy = sy / len;
    pl.col0(dot(ev, p0, p1, p2) >= -1e-9 ? kInk : kWire);
    PLFLT ax[2] = {ux, 1.07 * ux}, ay[2] = {uy, 1.07 * uy};
    pl.width(1.5);
    pl.line(2, ax, ay);
    pl.width(1.0);
    pl.ptex(1.1 * ux, 1.1 * uy - 0.03 + (uy > 0.8 ? 0.03 : 0), 1, 0, ux > 0.3 ? 0.0 : ux < -0.3 ? 1.0 : 0.5,
            pl_text(axis_names[static_cast<std::size_t>(a)]).c_str());
  }
  pl.col0(kInk);
  pl.schr(0, 1.15);
  pl.mtex("t", 1.6, 0.5, 0.5, pl_text(axes.title).c_str());
  pl.schr(0, 1.0);
  std::vector<LegendEntry> entries;
  for (std::int64_t c = 0; c < C; ++c) entries.push_back({names[c], class_col(c), false, true, false});
  // the legend beside the square viewport, at the page's right
  draw_legend(pl, entries, PL_POSITION_OUTSIDE | PL_POSITION_RIGHT);
  chart.finish();
}

}  // namespace chalk::plot
