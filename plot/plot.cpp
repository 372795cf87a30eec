// plot/plot.cpp — the chart kinds of plot.h over PLplot's C++ API (plstream) and its svg device.
//
// Every chart follows the same four steps, each in its own helper:
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
#include "plot/plot.h"

#include <plstream.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <numeric>
#include <sstream>

#include "core/error.h"

namespace chalk::plot {

namespace {

// Okabe & Ito (2008) without black, ordered for contrast between the first few series, then
// three of Paul Tol's "muted" colours (wine, olive, indigo); Okabe-Ito yellow last, as it is
// the weakest on white.
constexpr std::array<std::uint32_t, 10> kPalette = {
    0x0072B2,  // blue
    0xD55E00,  // vermillion
    0x009E73,  // bluish green
    0xE69F00,  // orange
    0xCC79A7,  // reddish purple
    0x56B4E9,  // sky blue
    0x882255,  // wine (Tol)
    0x999933,  // olive (Tol)
    0x332288,  // indigo (Tol)
    0xF0E442,  // yellow
};

// Indices into colour map 0 (see the file comment).
constexpr int kWhite = 0, kInk = 1, kGrid = 2, kWire = 3, kClass = 4, kTint = 14, kHalf = 24, kNumCol0 = 34;
int class_col(std::int64_t c) { return kClass + static_cast<int>(c % 10); }
int tint_col(std::int64_t c) { return kTint + static_cast<int>(c % 10); }
int half_col(std::int64_t c) { return kHalf + static_cast<int>(c % 10); }

// PLplot's escape character is '#' ("#u" superscript, "#gm" mu): a literal '#' is "##".
std::string pl_text(const std::string& s) {
  std::string out;
  for (char ch : s) {
    out += ch;
    if (ch == '#') out += '#';
  }
  return out;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

// ---- step 1: validation ---------------------------------------------------------------------

void check_finite(const std::string& path, const std::string& what, const std::vector<double>& v) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) fail("plot ", path, ": ", what, "[", i, "] is ", v[i], " (every value must be finite)");
}

void check_positive(const std::string& path, const std::string& what, const std::vector<double>& v) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!(v[i] > 0))
      fail("plot ", path, ": ", what, "[", i, "] is ", v[i], " on a log axis (every value must be > 0)");
}

void check_axes(const std::string& path, const Axes& axes) {
  if (axes.width < 100 || axes.height < 100 || axes.width > 10000 || axes.height > 10000)
    fail("plot ", path, ": page is ", axes.width, " x ", axes.height, " px (each side must be in [100, 10000])");
}

// Class labels in [0, C); returns C (from class_names when given, else max label + 1).
std::int64_t check_labels(const std::string& path, const std::string& what, const std::vector<std::int64_t>& labels,
                          const std::vector<std::string>& class_names) {
  std::int64_t max_label = -1;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) fail("plot ", path, ": ", what, "[", i, "] is ", labels[i], " (class labels must be >= 0)");
    if (!class_names.empty() && labels[i] >= static_cast<std::int64_t>(class_names.size()))
      fail("plot ", path, ": ", what, "[", i, "] is ", labels[i], " but only ", class_names.size(),
           " class names were given");
    max_label = std::max(max_label, labels[i]);
  }
  return class_names.empty() ? max_label + 1 : static_cast<std::int64_t>(class_names.size());
}

std::vector<std::string> names_or_numbers(const std::vector<std::string>& names, std::int64_t n) {
  if (!names.empty()) return names;
  std::vector<std::string> out;
  for (std::int64_t i = 0; i < n; ++i) out.push_back(std::to_string(i));
  return out;
}

// ---- step 2 and 4: one chart = one plstream = one file ----------------------------------------

std::mutex& plplot_mutex() {
  static std::mutex m;
  return m;
}

class Chart {
 public:
  Chart(std::string path, const Axes& axes) : path_(std::move(path)), title_(axes.title), lock_(plplot_mutex()) {
    check_axes(path_, axes);
    width_ = axes.width;
    height_ = axes.height;
    // Open (and truncate) the file ourselves first: PLplot's own failure here ends the program.
    errno = 0;
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (f == nullptr) fail("plot ", path_, ": cannot write the file: ", std::strerror(errno));
    std::fclose(f);
    pls_ = std::make_unique<plstream>();
    pls_->sdev("svg");
    pls_->sfnam(path_.c_str());
    pls_->spage(0, 0, width_, height_, 0, 0);
    set_colours();
    pls_->init();
    pls_->adv(0);
    pls_->schr(0, 1.0);
    pls_->width(1.0);
  }

  plstream& pl() { return *pls_; }
  int width() const { return width_; }
  int height() const { return height_; }

  // Ends the stream (PLplot writes and closes the file), checks the file, fixes its header.
  void finish() {
    pls_.reset();  // ~plstream: plend1 for this stream only
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto size = fs::file_size(path_, ec);
    if (ec || size == 0) fail("plot ", path_, ": PLplot wrote no file or an empty one (see its messages on stderr)");
    std::string text;
    {
      std::ifstream in(path_, std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    const auto svg = text.find("<svg");
    if (text.rfind("<?xml", 0) != 0 || svg == std::string::npos || text.find("</svg>") == std::string::npos)
      fail("plot ", path_, ": PLplot's output is not a complete SVG file (", text.size(), " bytes)");
    // width="600pt" -> width="600px": the page is meant in pixels.
    for (const char* attr : {"width=\"", "height=\""}) {
      const auto at = text.find(attr, svg);
      const auto end = at == std::string::npos ? at : text.find('"', at + std::strlen(attr));
      if (at != std::string::npos && end != std::string::npos && end >= 2 && text.compare(end - 2, 2, "pt") == 0)
        text.replace(end - 2, 2, "px");
    }
    const auto open_end = text.find('>', svg);
    if (!title_.empty() && open_end != std::string::npos)
      text.insert(open_end + 1, "\n  <title>" + xml_escape(title_) + "</title>");
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) fail("plot ", path_, ": could not rewrite the SVG header");
  }

  // Draws a filled disc of radius r_mm millimetres at world point (x, y), in the current colour.
  void disc(double x, double y, double r_mm) {
    constexpr int kVertices = 12;
    PLFLT px[kVertices], py[kVertices];
    for (int k = 0; k < kVertices; ++k) {
      const double t = 2 * M_PI * k / kVertices;
      px[k] = x + r_mm * wx_per_mm_ * std::cos(t);
      py[k] = y + r_mm * wy_per_mm_ * std::sin(t);
    }
    pls_->fill(kVertices, px, py);
  }
  void rect(double xa, double xb, double ya, double yb) {
    PLFLT px[4] = {xa, xb, xb, xa}, py[4] = {ya, ya, yb, yb};
    pls_->fill(4, px, py);
  }

  // Viewport (normalised page coordinates) and window (world coordinates); remembers the
  // world units per millimetre so that discs stay round.
  void frame(double vx0, double vx1, double vy0, double vy1, double wx0, double wx1, double wy0, double wy1) {
    pls_->vpor(vx0, vx1, vy0, vy1);
    pls_->wind(wx0, wx1, wy0, wy1);
    PLFLT sx0, sx1, sy0, sy1, dx0, dx1, dy0, dy1;
    pls_->gspa(sx0, sx1, sy0, sy1);  // subpage in mm
    pls_->gvpd(dx0, dx1, dy0, dy1);  // viewport in normalised subpage coordinates
    wx_per_mm_ = (wx1 - wx0) / ((dx1 - dx0) * (sx1 - sx0));
    wy_per_mm_ = (wy1 - wy0) / ((dy1 - dy0) * (sy1 - sy0));
  }

  // Title above the viewport, axis labels below and left of it.
  void labels(const Axes& axes, double ylabel_disp = 3.6) {
    pls_->col0(kInk);
    pls_->schr(0, 1.15);
    pls_->mtex("t", 1.6, 0.5, 0.5, pl_text(axes.title).c_str());
    pls_->schr(0, 1.0);
    pls_->mtex("b", 3.0, 0.5, 0.5, pl_text(axes.xlabel).c_str());
    pls_->mtex("l", ylabel_disp, 0.5, 0.5, pl_text(axes.ylabel).c_str());
  }

 private:
  void set_colours() {
    PLINT r[kNumCol0], g[kNumCol0], b[kNumCol0];
    const auto put = [&](int i, std::uint32_t rgb) {
      r[i] = (rgb >> 16) & 0xFF;
      g[i] = (rgb >> 8) & 0xFF;
      b[i] = rgb & 0xFF;
    };
    put(kWhite, 0xFFFFFF);
    put(kInk, 0x222222);
    put(kGrid, 0xE3E3E3);
    put(kWire, 0x9A9A9A);
    for (int c = 0; c < 10; ++c) {
      put(kClass + c, kPalette[c]);
      // tint: mix with white, 78 % white (regions) and 55 % white (far-side points)
      const auto mix = [&](double white) {
        const auto ch = [&](int shift) {
          const double v = ((kPalette[c] >> shift) & 0xFF) * (1 - white) + 255 * white;
          return static_cast<std::uint32_t>(std::lround(v));
        };
        return (ch(16) << 16) | (ch(8) << 8) | ch(0);
      };
      put(kTint + c, mix(0.78));
      put(kHalf + c, mix(0.55));
    }
    pls_->scmap0(r, g, b, kNumCol0);
  }

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
Range padded_range(double lo, double hi, bool log) {
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
    const double half = log ? 0.5 : std::max(0.5, 0.1 * std::fabs(hi));
    return {lo - half, hi + half};
  }
  const double pad = 0.05 * (hi - lo);
  Range r{lo - pad, hi + pad};
  if (log && r.hi - r.lo < 1) r = {std::floor(r.lo), std::ceil(r.hi)};
  return r;
}

// The labelled ticks of a log axis spanning `span` decades: every decade up to 8 decades (with
// PLplot's own log axis, minor ticks at 2..9), beyond that every 2nd, 3rd, ... decade (PLplot's
// log axis labels every decade, so that axis is drawn as a linear one in log10 units with our
// own "10^k" labels).
double log_step(double span) { return span <= 8.5 ? 1.0 : std::ceil(span / 8); }

// plslabelfunc callback: the label of log10 value v, "10^v" (PLplot's #u ... #d: superscript).
void power_of_ten_label(PLINT, PLFLT v, char* label, PLINT length, PLPointer) {
  std::snprintf(label, static_cast<std::size_t>(length), "10#u%ld#d", std::lround(v));
}

// Grid in light grey, then the frame with ticks and numeric labels in ink; xspan, yspan: the
// window's extent in decades on a log axis.
void draw_box(plstream& pl, bool log_x, bool log_y, double xspan = 0, double yspan = 0) {
  const double xstep = log_x ? log_step(xspan) : 0, ystep = log_y ? log_step(yspan) : 0;
  const bool own_x = xstep > 1, own_y = ystep > 1;  // our labels, every xstep / ystep decades
  if (own_x || own_y) pl.slabelfunc(power_of_ten_label, nullptr);
  const std::string gx = own_x ? "g" : log_x ? "gl" : "g", gy = own_y ? "g" : log_y ? "gl" : "g";
  pl.col0(kGrid);
  pl.width(1.0);
  pl.box(gx.c_str(), own_x ? xstep : 0, 0, gy.c_str(), own_y ? ystep : 0, 0);
  pl.col0(kInk);
  const std::string bx = own_x ? "bcnto" : log_x ? "bcnstl" : "bcnst";
  const std::string by = own_y ? "bcntov" : log_y ? "bcnstlv" : "bcnstv";
  pl.box(bx.c_str(), own_x ? xstep : 0, own_x ? 1 : 0, by.c_str(), own_y ? ystep : 0, own_y ? 1 : 0);
}

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

// One legend entry: a line (colour, dashed) and/or a marker.
struct LegendEntry {
  std::string text;
  int colour;
  bool line, marker, dashed;
};

// pllegend inside the viewport at `position` (PL_POSITION_* flags) or outside to its right.
void draw_legend(plstream& pl, const std::vector<LegendEntry>& entries, PLINT position, int columns = 1,
                 double text_scale = 0.9) {
  const auto n = static_cast<PLINT>(entries.size());
  std::vector<PLINT> opt(n), text_col(n, kInk), line_col(n), line_sty(n), sym_col(n), sym_num(n);
  std::vector<PLFLT> line_w(n, 2.5), sym_scale(n, 0.75);
  std::vector<std::string> texts(n);
  std::vector<const char*> text_ptr(n), sym_ptr(n);
  for (PLINT i = 0; i < n; ++i) {
    const auto& e = entries[i];
    opt[i] = (e.line ? PL_LEGEND_LINE : 0) | (e.marker ? PL_LEGEND_SYMBOL : 0);
    line_col[i] = sym_col[i] = e.colour;
    line_sty[i] = e.dashed ? 3 : 1;
    sym_num[i] = e.line ? 2 : 1;
    texts[i] = pl_text(e.text);
    text_ptr[i] = texts[i].c_str();
    sym_ptr[i] = "\xE2\x97\x8F";  // U+25CF BLACK CIRCLE, the legend's marker
  }
  PLFLT w = 0, h = 0;
  pl.width(1.0);
  const PLINT ncol = std::max(1, columns), nrow = (n + ncol - 1) / ncol;
  pl.legend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX | (ncol > 1 ? PL_LEGEND_ROW_MAJOR : 0), position,
            0.02, 0.02, 0.07, kWhite, kGrid, 1, nrow, ncol, n, opt.data(), 0.8, text_scale, 2.0, 0.0, text_col.data(), text_ptr.data(), nullptr, nullptr, nullptr,
            nullptr, line_col.data(), line_sty.data(), line_w.data(), sym_col.data(), sym_scale.data(),
            sym_num.data(), sym_ptr.data());
}

// Fraction of the page width a right-hand legend needs for labels of `chars` characters.
double legend_width(std::size_t chars) { return std::min(0.4, 0.11 + 0.0145 * static_cast<double>(chars)); }

std::size_t longest(const std::vector<std::string>& s) {
  std::size_t m = 0;
  for (const auto& t : s) m = std::max(m, t.size());
  return m;
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

// Validated, transformed (log10 where asked) copies of the series.
struct Prepared {
  std::vector<std::vector<double>> x, y;
  std::vector<std::vector<double>> y_low, y_high;  // per series: empty, or an interval per point
  Range xr{0, 1}, yr{0, 1};
};

Prepared prepare_series(const std::string& path, const std::vector<Series>& series, bool log_x, bool log_y,
                        std::size_t min_points) {
  if (series.empty()) fail("plot ", path, ": no series to draw");
  Prepared p;
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (std::size_t s = 0; s < series.size(); ++s) {
    const auto& sr = series[s];
    const std::string name = "series " + std::to_string(s) + " ('" + sr.label + "')";
    if (sr.x.size() != sr.y.size())
      fail("plot ", path, ": ", name, " has ", sr.x.size(), " x values but ", sr.y.size(), " y values");
    if (sr.x.size() < min_points)
      fail("plot ", path, ": ", name, " has ", sr.x.size(), " points (at least ", min_points, " needed)");
    check_finite(path, name + " x", sr.x);
    check_finite(path, name + " y", sr.y);
    if (log_x) check_positive(path, name + " x", sr.x);
    if (log_y) check_positive(path, name + " y", sr.y);
    std::vector<double> tx = sr.x, ty = sr.y, tlo = sr.y_low, thi = sr.y_high;
    if (!tlo.empty() || !thi.empty()) {
      if (tlo.size() != sr.y.size() || thi.size() != sr.y.size())
        fail("plot ", path, ": ", name, " has ", sr.y.size(), " y values but ", tlo.size(), " y_low and ", thi.size(),
             " y_high values (an interval per point, or none)");
      check_finite(path, name + " y_low", tlo);
      check_finite(path, name + " y_high", thi);
      if (log_y) check_positive(path, name + " y_low", tlo);
      for (std::size_t i = 0; i < ty.size(); ++i)
        if (!(tlo[i] <= ty[i] && ty[i] <= thi[i]))
          fail("plot ", path, ": ", name, " point ", i, ": the interval [", tlo[i], ", ", thi[i], "] does not hold y = ",
               ty[i]);
    }
    if (log_x) for (auto& v : tx) v = std::log10(v);
    if (log_y) for (auto* vs : {&ty, &tlo, &thi}) for (auto& v : *vs) v = std::log10(v);
    for (double v : tx) xlo = std::min(xlo, v), xhi = std::max(xhi, v);
    for (const auto* vs : {&ty, &tlo, &thi}) for (double v : *vs) ylo = std::min(ylo, v), yhi = std::max(yhi, v);
    p.x.push_back(std::move(tx));
    p.y.push_back(std::move(ty));
    p.y_low.push_back(std::move(tlo));
    p.y_high.push_back(std::move(thi));
  }
  p.xr = padded_range(xlo, xhi, log_x);
  p.yr = padded_range(ylo, yhi, log_y);
  return p;
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

constexpr double kMarkerMm = 0.9;  // radius of a data marker

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

std::uint32_t palette(int i) { return kPalette[static_cast<std::size_t>(((i % 10) + 10) % 10)]; }

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

// ---- image_grid -------------------------------------------------------------------------------

void image_grid(const std::string& path, const std::vector<std::vector<float>>& images, int rows, int cols,
                int grid_cols, const Axes& axes, const std::vector<std::string>& titles, bool shared_scale) {
  if (images.empty()) fail("plot ", path, ": no images to draw");
  if (rows < 1 || cols < 1) fail("plot ", path, ": image size is ", rows, " x ", cols, " (each side must be >= 1)");
  if (grid_cols < 1) fail("plot ", path, ": grid_cols is ", grid_cols, " (must be >= 1)");
  if (!titles.empty() && titles.size() != images.size())
    fail("plot ", path, ": ", titles.size(), " titles for ", images.size(), " images (give none or one each)");
  if (axes.log_x || axes.log_y) fail("plot ", path, ": image_grid has no log axes (log_x/log_y set)");
  check_axes(path, axes);
  const std::size_t pixels = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  float glo = INFINITY, ghi = -INFINITY;
  for (std::size_t k = 0; k < images.size(); ++k) {
    if (images[k].size() != pixels)
      fail("plot ", path, ": image ", k, " has ", images[k].size(), " values, expected rows * cols = ", rows, " * ",
           cols, " = ", pixels);
    for (std::size_t i = 0; i < pixels; ++i) {
      if (!std::isfinite(images[k][i]))
        fail("plot ", path, ": image ", k, " value [", i, "] is ", images[k][i], " (every value must be finite)");
      glo = std::min(glo, images[k][i]);
      ghi = std::max(ghi, images[k][i]);
    }
  }
  // Layout in world units of one image pixel: cells of cols x rows pixels, a gap between them,
  // room for a caption under each when there are titles.
  const int n = static_cast<int>(images.size());
  const int gc = std::min(grid_cols, n), gr = (n + gc - 1) / gc;
  const double gap = 0.12 * std::max(rows, cols);
  const double caption = titles.empty() ? 0.0 : 0.3 * std::max(rows, cols);
  const double cell_w = cols + gap, cell_h = rows + gap + caption;
  const double W = gc * cell_w, H = gr * cell_h;
  // The grid as large as the page allows; the page's height is cut to what the grid needs
  // (at most axes.height), so that a wide grid leaves no blank band.
  const double top_px = 44, bottom_px = axes.xlabel.empty() ? 10 : 34, side_px = 0.03 * axes.width;
  const double scale = std::min((axes.width - 2 * side_px) / W, (axes.height - top_px - bottom_px) / H);
  const double vw = W * scale, vh = H * scale;
  Axes page = axes;
  page.height = std::max(100, static_cast<int>(std::ceil(vh + top_px + bottom_px)));

  Chart chart(path, page);
  auto& pl = chart.pl();
  // grey map (colour map 1): low values black, high values white, as MNIST is usually shown
  PLFLT pos[2] = {0, 1}, grey[2] = {0, 1};
  pl.scmap1l(true, 2, pos, grey, grey, grey, nullptr);
  const double vx0 = 0.5 - 0.5 * vw / page.width, vy0 = bottom_px / page.height;
  chart.frame(vx0, vx0 + vw / page.width, vy0, vy0 + vh / page.height, 0, W, 0, H);
  // captions: small enough to fit a cell's width
  PLFLT def = 0, ht = 0, sx0, sx1, sy0, sy1;
  pl.gchr(def, ht);
  pl.gspa(sx0, sx1, sy0, sy1);
  const double cell_mm_w = (sx1 - sx0) * (vw / page.width) * cell_w / W;
  std::size_t longest_title = 1;
  for (const auto& t : titles) longest_title = std::max(longest_title, t.size());
  const double caption_scale = std::clamp(cell_mm_w / (0.75 * def * static_cast<double>(longest_title)), 0.3, 0.85);
  constexpr int kLevels = 64;  // grey levels: runs of equal level become one rectangle
  for (int k = 0; k < n; ++k) {
    const double left = (k % gc) * cell_w + gap / 2, top = H - (k / gc) * cell_h - gap / 2;
    const auto& img = images[static_cast<std::size_t>(k)];
    float lo = glo, hi = ghi;
    if (!shared_scale) {
      const auto [a, b] = std::minmax_element(img.begin(), img.end());
      lo = *a;
      hi = *b;
    }
    const auto level = [&](float v) {  // v in [lo, hi] -> 0 .. kLevels - 1 (a constant image: 0)
      return hi > lo ? std::min(kLevels - 1, static_cast<int>((v - lo) / (hi - lo) * kLevels)) : 0;
    };
    // the most frequent level as the cell's background, then the runs of other levels
    std::array<int, kLevels> count{};
    for (float v : img) ++count[static_cast<std::size_t>(level(v))];
    const int background = static_cast<int>(std::max_element(count.begin(), count.end()) - count.begin());
    pl.col1(background / (kLevels - 1.0));
    chart.rect(left, left + cols, top - rows, top);
    for (int r = 0; r < rows; ++r) {  // row 0 is the image's top
      int c = 0;
      while (c < cols) {
        const int lv = level(img[static_cast<std::size_t>(r) * cols + c]);
        int e = c + 1;
        while (e < cols && level(img[static_cast<std::size_t>(r) * cols + e]) == lv) ++e;
        if (lv != background) {
          pl.col1(lv / (kLevels - 1.0));
          // a hair of overlap hides the anti-aliasing seams between neighbouring rectangles
          chart.rect(left + c, std::min(left + e + 0.02, left + cols), top - r - 1 - (r + 1 < rows ? 0.02 : 0),
                     top - r);
        }
        c = e;
      }
    }
    pl.col0(kWire);
    PLFLT bx[5] = {left, left + cols, left + cols, left, left}, by[5] = {top - rows, top - rows, top, top, top - rows};
    pl.line(5, bx, by);
    if (!titles.empty()) {
      pl.col0(kInk);
      pl.schr(0, caption_scale);
      pl.ptex(left + cols / 2.0, top - rows - 0.45 * caption, 1, 0, 0.5,
              pl_text(titles[static_cast<std::size_t>(k)]).c_str());
      pl.schr(0, 1.0);
    }
  }
  pl.col0(kInk);
  pl.schr(0, 1.15);
  pl.mtex("t", 1.2, 0.5, 0.5, pl_text(axes.title).c_str());
  pl.schr(0, 1.0);
  if (!axes.xlabel.empty()) pl.mtex("b", 1.4, 0.5, 0.5, pl_text(axes.xlabel).c_str());
  chart.finish();
}

// ---- matrix -----------------------------------------------------------------------------------

void matrix(const std::string& path, const std::vector<double>& values, int rows, int cols, const Axes& axes,
            const std::vector<std::string>& row_labels, const std::vector<std::string>& col_labels) {
  if (rows < 1 || cols < 1) fail("plot ", path, ": matrix is ", rows, " x ", cols, " (each side must be >= 1)");
  if (values.size() != static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols))
    fail("plot ", path, ": ", values.size(), " values for a ", rows, " x ", cols, " matrix (expected ",
         static_cast<std::int64_t>(rows) * cols, ")");
  if (!row_labels.empty() && row_labels.size() != static_cast<std::size_t>(rows))
    fail("plot ", path, ": ", row_labels.size(), " row labels for ", rows, " rows");
  if (!col_labels.empty() && col_labels.size() != static_cast<std::size_t>(cols))
    fail("plot ", path, ": ", col_labels.size(), " column labels for ", cols, " columns");
  if (axes.log_x || axes.log_y) fail("plot ", path, ": matrix has no log axes (log_x/log_y set)");
  check_finite(path, "values", values);
  const auto rl = names_or_numbers(row_labels, rows), cl = names_or_numbers(col_labels, cols);
  const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
  const double lo = std::min(0.0, *mn), hi = *mx > lo ? *mx : lo + 1;
  bool integers = true;
  for (double v : values) integers &= v == std::round(v) && std::fabs(v) < 1e9;

  Chart chart(path, axes);
  auto& pl = chart.pl();
  // colour map 1: white -> Okabe-Ito blue
  PLFLT pos[2] = {0, 1}, r[2] = {1, 0x00 / 255.0}, g[2] = {1, 0x72 / 255.0}, b[2] = {1, 0xB2 / 255.0};
  pl.scmap1l(true, 2, pos, r, g, b, nullptr);
  const double label_room = 0.05 + 0.012 * static_cast<double>(longest(rl));
  pl.vpas(0.08 + label_room, 0.97, 0.14, 0.88, static_cast<double>(rows) / cols);
  PLFLT vx0, vx1, vy0, vy1;
  pl.gvpd(vx0, vx1, vy0, vy1);
  chart.frame(vx0, vx1, vy0, vy1, 0, cols, 0, rows);
  // value text: as large as a cell allows
  PLFLT def = 0, ht = 0, sx0, sx1, sy0, sy1;
  pl.gchr(def, ht);
  pl.gspa(sx0, sx1, sy0, sy1);
  const double cell_mm = std::min((vx1 - vx0) * (sx1 - sx0) / cols, (vy1 - vy0) * (sy1 - sy0) / rows);
  std::vector<std::string> texts(values.size());
  std::size_t chars = 1;
  for (std::size_t i = 0; i < values.size(); ++i) {
    char buf[32];
    if (integers) std::snprintf(buf, sizeof buf, "%.0f", values[i]);
    else std::snprintf(buf, sizeof buf, std::fabs(values[i]) >= 100 ? "%.0f" : "%.2f", values[i]);
    texts[i] = buf;
    chars = std::max(chars, texts[i].size());
  }
  const double text_scale = std::clamp(cell_mm / (0.8 * def * static_cast<double>(chars) + 0.6 * def), 0.35, 1.0);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      const double v = values[static_cast<std::size_t>(i) * cols + j];
      const double t = (v - lo) / (hi - lo);
      const double yb = rows - 1 - i;  // row 0 at the top
      pl.col1(t);
      chart.rect(j, j + 1, yb, yb + 1);
      pl.col0(t > 0.55 ? kWhite : kInk);
      pl.schr(0, text_scale);
      pl.ptex(j + 0.5, yb + 0.5 - 0.18 * text_scale * def / (cell_mm > 0 ? cell_mm : 1), 1, 0, 0.5,
              texts[static_cast<std::size_t>(i) * cols + j].c_str());
    }
  pl.schr(0, std::min(1.0, std::max(0.5, cell_mm / (0.9 * def * 2))));
  pl.col0(kInk);
  for (int i = 0; i < rows; ++i)
    pl.mtex("lv", 0.6, 1.0 - (i + 0.5) / rows, 1.0, pl_text(rl[static_cast<std::size_t>(i)]).c_str());
  for (int j = 0; j < cols; ++j)
    pl.mtex("b", 1.4, (j + 0.5) / cols, 0.5, pl_text(cl[static_cast<std::size_t>(j)]).c_str());
  pl.schr(0, 1.0);
  pl.box("bc", 0, 0, "bc", 0, 0);
  pl.schr(0, 1.15);
  pl.mtex("t", 1.6, 0.5, 0.5, pl_text(axes.title).c_str());
  pl.schr(0, 1.0);
  pl.mtex("b", 3.2, 0.5, 0.5, pl_text(axes.xlabel).c_str());
  pl.mtex("l", 2.6 + 0.75 * static_cast<double>(longest(rl)), 0.5, 0.5, pl_text(axes.ylabel).c_str());
  chart.finish();
}

}  // namespace chalk::plot
