// plot/chart.cpp — the steps every chart kind shares (plot/chart.h): validation, the Chart that
// owns one PLplot stream and one file, ranges, boxes and legends; and the palette.
#include "plot/chart.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
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

std::mutex& plplot_mutex() {
  static std::mutex m;
  return m;
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

}  // namespace

std::uint32_t palette(int i) { return kPalette[static_cast<std::size_t>(((i % 10) + 10) % 10)]; }

namespace detail {

std::string pl_text(const std::string& s) {
  std::string out;
  for (char ch : s) {
    out += ch;
    if (ch == '#') out += '#';
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


Chart::Chart(std::string path, const Axes& axes) : path_(std::move(path)), title_(axes.title), lock_(plplot_mutex()) {
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

void Chart::finish() {
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

void Chart::disc(double x, double y, double r_mm) {
  constexpr int kVertices = 12;
  PLFLT px[kVertices], py[kVertices];
  for (int k = 0; k < kVertices; ++k) {
    const double t = 2 * M_PI * k / kVertices;
    px[k] = x + r_mm * wx_per_mm_ * std::cos(t);
    py[k] = y + r_mm * wy_per_mm_ * std::sin(t);
  }
  pls_->fill(kVertices, px, py);
}

void Chart::rect(double xa, double xb, double ya, double yb) {
  PLFLT px[4] = {xa, xb, xb, xa}, py[4] = {ya, ya, yb, yb};
  pls_->fill(4, px, py);
}

void Chart::frame(double vx0, double vx1, double vy0, double vy1, double wx0, double wx1, double wy0, double wy1) {
  pls_->vpor(vx0, vx1, vy0, vy1);
  pls_->wind(wx0, wx1, wy0, wy1);
  PLFLT sx0, sx1, sy0, sy1, dx0, dx1, dy0, dy1;
  pls_->gspa(sx0, sx1, sy0, sy1);  // subpage in mm
  pls_->gvpd(dx0, dx1, dy0, dy1);  // viewport in normalised subpage coordinates
  wx_per_mm_ = (wx1 - wx0) / ((dx1 - dx0) * (sx1 - sx0));
  wy_per_mm_ = (wy1 - wy0) / ((dy1 - dy0) * (sy1 - sy0));
}

void Chart::labels(const Axes& axes, double ylabel_disp) {
  pls_->col0(kInk);
  pls_->schr(0, 1.15);
  pls_->mtex("t", 1.6, 0.5, 0.5, pl_text(axes.title).c_str());
  pls_->schr(0, 1.0);
  pls_->mtex("b", 3.0, 0.5, 0.5, pl_text(axes.xlabel).c_str());
  pls_->mtex("l", ylabel_disp, 0.5, 0.5, pl_text(axes.ylabel).c_str());
}

void Chart::set_colours() {
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

// ---- step 3 helpers: ranges, boxes, legends ---------------------------------------------------

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

// Grid in light grey, then the frame with ticks and numeric labels in ink; xspan, yspan: the
// window's extent in decades on a log axis.
void draw_box(plstream& pl, bool log_x, bool log_y, double xspan, double yspan) {
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

// pllegend inside the viewport at `position` (PL_POSITION_* flags) or outside to its right.
void draw_legend(plstream& pl, const std::vector<LegendEntry>& entries, PLINT position, int columns,
                 double text_scale) {
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

}  // namespace detail

}  // namespace chalk::plot
