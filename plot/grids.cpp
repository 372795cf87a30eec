// plot/grids.cpp — the chart kinds drawn as grids of cells: image_grid (grey-scale images: filters,
// digits) and matrix (a coloured matrix with its values written in: confusion matrices). Steps
// shared: plot/chart.h.
#include "plot/chart.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"

namespace chalk::plot {

using namespace detail;

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
