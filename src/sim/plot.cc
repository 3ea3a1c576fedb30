// SVG heatmaps, stacked line charts and the HTML report, written directly.
//
// Shape of every picture: a white background, the title on top (wrapped), the
// plot area 900 px wide, a legend on the right, axes labelled with units.
// Heatmap cells are drawn in cell units inside one scaled group, one <path>
// per colour class whose sub-paths are horizontal runs of equal cells: a
// 256 x 800 map with realistic structure is a few hundred KiB, and even pure
// noise stays within a few MiB (about 15 bytes per run).
//
// Downsampling: kMaxColumns columns at most. A heatmap bucket of k samples is
// the mean busy %, overloaded if any sample was above 100 %, sleeping only if
// the core slept in all k; a line-chart point is the mean or the max of its
// bucket (Series::aggregate), ignoring NaN. Each picture's legend says so.

#include "sim/plot.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

namespace reactor::sim::plot {
namespace {

// ---- output ---------------------------------------------------------------

// Writes the whole text under a temporary name beside `path`, then renames it
// over `path`: a reader never sees half a picture, a failure leaves nothing.
Result<void> write_text_file(const std::string& path, std::string_view text) {
  if (path.empty()) return make_error(Errc::invalid_argument, "the output file name is empty");
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return make_error(Errc::invalid_argument, fmt::format("cannot write {}: it is a directory", path));
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return make_error(Errc::io, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  auto fail = [&](int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return make_error(Errc::io, fmt::format("cannot write {}: {}", path, std::strerror(err)));
  };
  if (::fchmod(fd, 0644) != 0) return fail(errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno);
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return make_error(Errc::io, fmt::format("cannot write {}: {}", path, std::strerror(e)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return make_error(Errc::io, fmt::format("cannot write {}: {}", path, std::strerror(e)));
  }
  return {};
}

using Out = std::back_insert_iterator<std::string>;

// A coordinate with one decimal, without a trailing ".0" (keeps files small).
std::string num(double v) {
  if (!std::isfinite(v)) v = 0;
  const double r = std::round(v * 10) / 10;
  if (r == std::floor(r) && std::fabs(r) < 1e15) return fmt::format("{}", static_cast<long long>(r));
  return fmt::format("{:.1f}", r);
}

// Tick and legend numbers: 3 significant digits, k/M/G for large values.
std::string tick_label(double v) {
  const double a = std::fabs(v);
  auto trim = [](std::string s) {
    if (s.find('.') != std::string::npos) {
      while (!s.empty() && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
    }
    return s;
  };
  if (a >= 1e9) return trim(fmt::format("{:.2f}", v / 1e9)) + "G";
  if (a >= 1e6) return trim(fmt::format("{:.2f}", v / 1e6)) + "M";
  if (a >= 1e4) return trim(fmt::format("{:.1f}", v / 1e3)) + "k";
  if (a >= 100 || a == 0) return trim(fmt::format("{:.0f}", v));
  if (a >= 1) return trim(fmt::format("{:.2f}", v));
  return trim(fmt::format("{:.3g}", v));
}

// A "nice" step (1, 2, 2.5 or 5 times a power of ten) giving about `target` ticks.
double nice_step(double range, int target) {
  if (!(range > 0) || !std::isfinite(range)) return 1;
  const double raw = range / target;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

// Splits text into lines of at most `width` characters at spaces (a longer
// word stays whole). Works on bytes; escaping happens afterwards.
std::vector<std::string> wrap(std::string_view text, std::size_t width) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = text.find(' ', i);
    if (j == std::string_view::npos) j = text.size();
    const std::string_view word = text.substr(i, j - i);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      lines.push_back(line);
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
    i = j + 1;
  }
  if (!line.empty() || lines.empty()) lines.push_back(line);
  return lines;
}

// At most `width` characters (bytes, cut at a UTF-8 boundary), "..." when cut.
std::string shorten(std::string_view text, std::size_t width) {
  if (text.size() <= width) return std::string(text);
  std::size_t cut = width - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

void svg_open(std::string& s, double w, double h, std::string_view title) {
  fmt::format_to(Out(s),
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
                 "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"13\" fill=\"#222\">\n"
                 "<title>{2}</title>\n<rect width=\"{0}\" height=\"{1}\" fill=\"#fff\"/>\n",
                 num(w), num(h), escape_xml(title));
}

// The title lines, 16 px bold from y = 24; returns the y below them.
double svg_title(std::string& s, std::string_view title, double x) {
  double y = 24;
  for (const auto& line : wrap(title, 110)) {
    fmt::format_to(Out(s), "<text x=\"{}\" y=\"{}\" font-size=\"17\" font-weight=\"bold\">{}</text>\n", num(x), num(y),
                   escape_xml(line));
    y += 20;
  }
  return y - 8;
}

void text(std::string& s, double x, double y, std::string_view t, std::string_view extra = {}) {
  fmt::format_to(Out(s), "<text x=\"{}\" y=\"{}\"{}{}>{}</text>\n", num(x), num(y), extra.empty() ? "" : " ", extra,
                 escape_xml(t));
}

// Time axis below a plot area [x0, x0 + w] spanning [t_lo, t_hi] seconds;
// grid lines from y_top to y_axis.
void time_axis(std::string& s, double x0, double w, double y_top, double y_axis, double t_lo, double t_hi,
               std::string_view label) {
  const double step = nice_step(t_hi - t_lo, 8);
  fmt::format_to(Out(s), "<g stroke=\"#888\" stroke-width=\"1\">\n<path d=\"M{} {}h{}\"/>\n", num(x0), num(y_axis),
                 num(w));
  std::string grid;
  std::vector<std::pair<double, double>> labels;
  // Ticks as multiples of the step (no accumulated rounding).
  const auto first = static_cast<long long>(std::ceil(t_lo / step - 1e-9));
  const auto last = static_cast<long long>(std::floor(t_hi / step + 1e-9));
  for (long long i = first; i <= last; ++i) {
    const double t = static_cast<double>(i) * step;
    const double x = x0 + (t - t_lo) / (t_hi - t_lo) * w;
    fmt::format_to(Out(s), "<path d=\"M{} {}v5\"/>\n", num(x), num(y_axis));
    fmt::format_to(Out(grid), "M{} {}V{}", num(x), num(y_top), num(y_axis));
    labels.emplace_back(x, t);
  }
  s += "</g>\n";
  if (!grid.empty() && y_top < y_axis)
    fmt::format_to(Out(s), "<path d=\"{}\" stroke=\"#000\" stroke-opacity=\"0.08\"/>\n", grid);
  for (const auto& [x, t] : labels) text(s, x, y_axis + 18, tick_label(std::fabs(t) < 1e-12 ? 0 : t), "text-anchor=\"middle\"");
  text(s, x0 + w / 2, y_axis + 38, label, "text-anchor=\"middle\" font-size=\"14\"");
}

// ---- heatmap --------------------------------------------------------------

// 0-10 %, ..., 90-100 %: viridis at the ten bucket centres (dark = polling
// idle, yellow = busy); then sleeping (white-grey) and overloaded (red).
constexpr std::array<const char*, 12> kHeatColour = {"#440154", "#482878", "#3e4a89", "#31688e", "#26828e", "#1f9e89",
                                                     "#35b779", "#6dcd59", "#b4de2c", "#fde725", "#ececec", "#e41a1c"};
constexpr int kSleepClass = 10;
constexpr int kOverClass = 11;

Result<void> check_heatmap(const Heatmap& m) {
  if (m.cores.empty()) return make_error(Errc::invalid_argument, "heatmap: no cores (rows)");
  if (m.busy_pct.empty()) return make_error(Errc::invalid_argument, "heatmap: no columns (busy_pct is empty)");
  if (!(m.dt_s > 0) || !std::isfinite(m.dt_s))
    return make_error(Errc::invalid_argument, fmt::format("heatmap: column width dt_s must be > 0 s, not {}", m.dt_s));
  if (!std::isfinite(m.t0_s)) return make_error(Errc::invalid_argument, "heatmap: t0_s is not a finite number");
  const std::size_t rows = m.cores.size();
  for (std::size_t c = 0; c < m.busy_pct.size(); ++c) {
    if (m.busy_pct[c].size() != rows)
      return make_error(Errc::invalid_argument, fmt::format("heatmap: busy_pct column {} has {} values for {} cores", c,
                                                            m.busy_pct[c].size(), rows));
    for (std::size_t r = 0; r < rows; ++r) {
      const float v = m.busy_pct[c][r];
      if (!std::isfinite(v) || v < 0)
        return make_error(Errc::invalid_argument,
                          fmt::format("heatmap: busy_pct[{}][{}] (core {}) is {}, not a busy % >= 0", c, r, m.cores[r], v));
    }
  }
  if (!m.sleeping.empty()) {
    if (m.sleeping.size() != m.busy_pct.size())
      return make_error(Errc::invalid_argument, fmt::format("heatmap: sleeping has {} columns, busy_pct {}",
                                                            m.sleeping.size(), m.busy_pct.size()));
    for (std::size_t c = 0; c < m.sleeping.size(); ++c)
      if (m.sleeping[c].size() != rows)
        return make_error(Errc::invalid_argument, fmt::format("heatmap: sleeping column {} has {} values for {} cores",
                                                              c, m.sleeping[c].size(), rows));
  }
  std::set<uint32_t> seen;
  for (uint32_t core : m.cores)
    if (!seen.insert(core).second)
      return make_error(Errc::invalid_argument, fmt::format("heatmap: core {} is listed twice", core));
  const double t_end = m.t0_s + static_cast<double>(m.busy_pct.size()) * m.dt_s;
  for (const auto& mv : m.moves) {
    if (!std::isfinite(mv.t_s) || mv.t_s < m.t0_s || mv.t_s > t_end)
      return make_error(Errc::invalid_argument,
                        fmt::format("heatmap: a move at t={} s is outside the map ({} .. {} s)", mv.t_s, m.t0_s, t_end));
    for (uint32_t core : {mv.from_core, mv.to_core})
      if (!seen.count(core))
        return make_error(Errc::invalid_argument,
                          fmt::format("heatmap: a move at t={} s names core {}, which is not a row", mv.t_s, core));
  }
  return {};
}

}  // namespace

std::string escape_xml(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
          // XML 1.0 allows no control character but tab, newline and CR.
          if (c >= 0x20 || c == '\t' || c == '\n') out += static_cast<char>(c);
          else if (c == '\r') out += ' ';
      }
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (no overlong forms, no surrogates, <= U+10FFFF)
    // is copied; anything else becomes U+FFFD, one replacement per bad byte.
    std::size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    bool ok = len != 0 && i + len <= in.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(in[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
      ok = false;
    // U+FFFE and U+FFFF are not XML characters either.
    if (ok && (cp == 0xFFFE || cp == 0xFFFF)) ok = false;
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

Result<void> write_heatmap_svg(const Heatmap& m, const std::string& path) {
  if (auto ok = check_heatmap(m); !ok) return ok;
  const std::size_t rows = m.cores.size();
  const std::size_t n = m.busy_pct.size();
  const std::size_t k = (n + kMaxColumns - 1) / kMaxColumns;  // samples per drawn column
  const std::size_t cols = (n + k - 1) / k;

  // Classes of the drawn cells, [col][row].
  std::vector<uint8_t> cls(cols * rows);
  for (std::size_t j = 0; j < cols; ++j) {
    const std::size_t a = j * k, b = std::min(n, a + k);
    for (std::size_t r = 0; r < rows; ++r) {
      double sum = 0;
      bool over = false, asleep = !m.sleeping.empty();
      for (std::size_t c = a; c < b; ++c) {
        const double v = m.busy_pct[c][r];
        sum += v;
        over = over || v > 100.0;
        asleep = asleep && m.sleeping[c][r] != 0;
      }
      const double mean = sum / static_cast<double>(b - a);
      int klass = std::min(9, static_cast<int>(mean / 10.0));
      if (asleep) klass = kSleepClass;
      if (over) klass = kOverClass;
      cls[j * rows + r] = static_cast<uint8_t>(klass);
    }
  }

  // Layout.
  constexpr double kPlotW = 900, kLeft = 92, kLegendW = 290, kStripH = 34;
  const double rh = std::clamp(640.0 / static_cast<double>(rows), 2.0, 22.0);
  const double plot_h = rh * static_cast<double>(rows);
  const double cw = kPlotW / static_cast<double>(cols);
  const double t_lo = m.t0_s, t_hi = m.t0_s + static_cast<double>(n) * m.dt_s;
  auto x_of = [&](double t) { return kLeft + (t - t_lo) / (t_hi - t_lo) * kPlotW; };
  std::string s;
  s.reserve(cols * rows * 4 + 16384);
  const double width = kLeft + kPlotW + 24 + kLegendW;
  // Height is fixed after the legend is laid out; write a placeholder header
  // into a separate buffer and join at the end.
  std::string body;
  const double title_bottom = svg_title(body, m.title, 12);
  const double strip_top = title_bottom + 14;
  const double map_top = strip_top + kStripH + 10;
  const double map_bottom = map_top + plot_h;

  // Moves per drawn column, in the strip above the map.
  std::vector<uint32_t> per_col(cols, 0);
  auto col_of = [&](double t) {
    auto c = static_cast<std::size_t>((t - t_lo) / m.dt_s);
    return std::min(c, n - 1) / k;
  };
  for (const auto& mv : m.moves) ++per_col[col_of(mv.t_s)];
  const uint32_t max_moves = *std::max_element(per_col.begin(), per_col.end());
  fmt::format_to(Out(body), "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f7f7f7\" stroke=\"#ccc\"/>\n",
                 num(kLeft), num(strip_top), num(kPlotW), num(kStripH));
  text(body, kLeft - 6, strip_top + 14, "moves", "text-anchor=\"end\"");
  text(body, kLeft - 6, strip_top + 28, fmt::format("max {}", max_moves), "text-anchor=\"end\" font-size=\"11\"");
  if (max_moves > 0) {
    std::string bars;
    for (std::size_t j = 0; j < cols; ++j) {
      if (per_col[j] == 0) continue;
      const double h = std::max(1.0, (kStripH - 4) * per_col[j] / static_cast<double>(max_moves));
      fmt::format_to(Out(bars), "M{} {}h{}v-{}h-{}z", num(kLeft + static_cast<double>(j) * cw),
                     num(strip_top + kStripH), num(std::max(cw, 1.0)), num(h), num(std::max(cw, 1.0)));
    }
    fmt::format_to(Out(body), "<path d=\"{}\" fill=\"#333\"/>\n", bars);
  }

  // Cells: one path per class, runs of equal cells along each row, in cell units.
  std::array<std::string, kHeatColour.size()> paths;
  for (std::size_t r = 0; r < rows; ++r) {
    std::size_t j = 0;
    while (j < cols) {
      const uint8_t c = cls[j * rows + r];
      std::size_t e = j + 1;
      while (e < cols && cls[e * rows + r] == c) ++e;
      fmt::format_to(Out(paths[c]), "M{} {}h{}v1h-{}z", j, r, e - j, e - j);
      j = e;
    }
  }
  fmt::format_to(Out(body), "<g transform=\"translate({} {}) scale({} {})\" shape-rendering=\"crispEdges\">\n",
                 num(kLeft), num(map_top), fmt::format("{:.4f}", cw), fmt::format("{:.4f}", rh));
  for (std::size_t c = 0; c < paths.size(); ++c)
    if (!paths[c].empty()) fmt::format_to(Out(body), "<path fill=\"{}\" d=\"{}\"/>\n", kHeatColour[c], paths[c]);
  body += "</g>\n";
  fmt::format_to(Out(body), "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n",
                 num(kLeft), num(map_top), num(kPlotW), num(plot_h));

  // Moves on the map: a vertical line from the source row to the target row
  // when there are few, and a dot on each (column, core) a thread arrived at.
  std::map<uint32_t, std::size_t> row_of;
  for (std::size_t r = 0; r < rows; ++r) row_of[m.cores[r]] = r;
  auto y_of_row = [&](std::size_t r) { return map_top + (static_cast<double>(r) + 0.5) * rh; };
  if (!m.moves.empty() && m.moves.size() <= 200) {
    std::string lines;
    for (const auto& mv : m.moves)
      fmt::format_to(Out(lines), "M{} {}V{}", num(x_of(mv.t_s)), num(y_of_row(row_of[mv.from_core])),
                     num(y_of_row(row_of[mv.to_core])));
    fmt::format_to(Out(body), "<path d=\"{}\" stroke=\"#fff\" stroke-width=\"1\" stroke-opacity=\"0.8\"/>\n", lines);
  }
  std::set<std::pair<std::size_t, std::size_t>> arrivals;
  for (const auto& mv : m.moves) arrivals.emplace(col_of(mv.t_s), row_of[mv.to_core]);
  const double dot = std::clamp(rh, 3.0, 7.0);
  if (!arrivals.empty()) {
    std::string dots;
    for (const auto& [j, r] : arrivals)
      fmt::format_to(Out(dots), "M{} {}h0", num(kLeft + (static_cast<double>(j) + 0.5) * cw), num(y_of_row(r)));
    fmt::format_to(Out(body),
                   "<path d=\"{0}\" stroke=\"#000\" stroke-width=\"{1}\" stroke-linecap=\"round\"/>\n"
                   "<path d=\"{0}\" stroke=\"#fff\" stroke-width=\"{2}\" stroke-linecap=\"round\"/>\n",
                   dots, num(dot + 1.5), num(dot));
  }

  // Core labels: every row when rows are tall enough, else every k-th.
  const auto label_every = static_cast<std::size_t>(std::ceil(12.0 / rh));
  for (std::size_t r = 0; r < rows; r += label_every)
    text(body, kLeft - 6, y_of_row(r) + 4, fmt::format("{}", m.cores[r]), "text-anchor=\"end\" font-size=\"11\"");
  fmt::format_to(Out(body),
                 "<text transform=\"translate(18 {}) rotate(-90)\" text-anchor=\"middle\" font-size=\"14\">core</text>\n",
                 num(map_top + plot_h / 2));
  time_axis(body, kLeft, kPlotW, map_top, map_bottom, t_lo, t_hi, "time (s)");

  // Legend.
  const double lx = kLeft + kPlotW + 24;
  double ly = map_top;
  text(body, lx, ly + 4, "busy % (core polling)", "font-weight=\"bold\"");
  ly += 14;
  for (int b = 9; b >= 0; --b) {
    fmt::format_to(Out(body), "<rect x=\"{}\" y=\"{}\" width=\"22\" height=\"14\" fill=\"{}\"/>\n", num(lx), num(ly),
                   kHeatColour[static_cast<std::size_t>(b)]);
    text(body, lx + 28, ly + 11, fmt::format("{}-{} %", b * 10, b * 10 + 10), "font-size=\"12\"");
    ly += 14;
  }
  ly += 8;
  auto legend_box = [&](const char* colour, std::string_view label) {
    fmt::format_to(Out(body), "<rect x=\"{}\" y=\"{}\" width=\"22\" height=\"14\" fill=\"{}\" stroke=\"#999\"/>\n",
                   num(lx), num(ly), colour);
    double y = ly + 11;
    for (const auto& line : wrap(label, 38)) {
      text(body, lx + 28, y, line, "font-size=\"12\"");
      y += 13;
    }
    ly = std::max(ly + 20, y + 4);
  };
  legend_box(kHeatColour[kSleepClass], "sleeping (interrupt mode, no work)");
  legend_box(kHeatColour[kOverClass], "over 100 %: overloaded, work queued");
  // The move dot, as drawn on the map.
  fmt::format_to(Out(body),
                 "<path d=\"M{0} {1}h0\" stroke=\"#000\" stroke-width=\"{2}\" stroke-linecap=\"round\"/>"
                 "<path d=\"M{0} {1}h0\" stroke=\"#fff\" stroke-width=\"{3}\" stroke-linecap=\"round\"/>\n",
                 num(lx + 11), num(ly + 7), num(dot + 1.5), num(dot));
  text(body, lx + 28, ly + 11, fmt::format("thread moved onto core ({} moves)", m.moves.size()),
       "font-size=\"12\"");
  ly += 28;
  std::vector<std::string> agg;
  if (k == 1) {
    agg.push_back(fmt::format("1 column = 1 sample of {} s", tick_label(m.dt_s)));
  } else {
    agg.push_back(fmt::format("Downsampled: {} samples -> {} columns", n, cols));
    agg.push_back(fmt::format("1 column = mean busy % of {} samples ({} s)", k, tick_label(static_cast<double>(k) * m.dt_s)));
    agg.push_back("red if any of them was over 100 %,");
    agg.push_back(fmt::format("sleeping only if asleep in all {}", k));
  }
  for (const auto& line : agg) {
    text(body, lx, ly, line, "font-size=\"12\"");
    ly += 14;
  }
  ly += 4;
  text(body, lx, ly, fmt::format("{} cores x {} samples", rows, n), "font-size=\"12\" fill=\"#555\"");

  const double height = std::max(map_bottom + 52, ly + 16);
  svg_open(s, width, height, m.title);
  s += body;
  s += "</svg>\n";
  return write_text_file(path, s);
}

// ---- line chart -----------------------------------------------------------

namespace {

constexpr std::array<const char*, 10> kLineColour = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                     "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

Result<void> check_chart(const LineChart& ch) {
  if (ch.panels.empty()) return make_error(Errc::invalid_argument, "line chart: no panels");
  if (!(ch.dt_s > 0) || !std::isfinite(ch.dt_s))
    return make_error(Errc::invalid_argument, fmt::format("line chart: dt_s must be > 0 s, not {}", ch.dt_s));
  if (!std::isfinite(ch.t0_s)) return make_error(Errc::invalid_argument, "line chart: t0_s is not a finite number");
  for (std::size_t p = 0; p < ch.panels.size(); ++p) {
    const auto& panel = ch.panels[p];
    if (panel.series.empty())
      return make_error(Errc::invalid_argument, fmt::format("line chart: panel {} ('{}') has no series", p, panel.y_label));
    for (const auto& se : panel.series)
      for (std::size_t i = 0; i < se.values.size(); ++i)
        if (std::isinf(se.values[i]))
          return make_error(Errc::invalid_argument,
                            fmt::format("line chart: series '{}' value {} is infinite (use NaN for no value)", se.name, i));
  }
  for (const auto& mk : ch.markers)
    if (!std::isfinite(mk.t_s))
      return make_error(Errc::invalid_argument, fmt::format("line chart: marker '{}' has no finite time", mk.label));
  return {};
}

}  // namespace

Result<void> write_line_chart_svg(const LineChart& ch, const std::string& path) {
  if (auto ok = check_chart(ch); !ok) return ok;
  std::size_t n = 0;
  for (const auto& p : ch.panels)
    for (const auto& se : p.series) n = std::max(n, se.values.size());
  const std::size_t k = n == 0 ? 1 : (n + kMaxColumns - 1) / kMaxColumns;

  double t_lo = ch.t0_s;
  double t_hi = ch.t0_s + static_cast<double>(n > 1 ? n - 1 : 1) * ch.dt_s;
  for (const auto& mk : ch.markers) t_lo = std::min(t_lo, mk.t_s), t_hi = std::max(t_hi, mk.t_s);
  {
    // Out to the neighbouring ticks when that adds little (a run of 0.05 ..
    // 2.95 s is drawn from 0 to 3 s), so the axis starts and ends on a label.
    const double range = t_hi - t_lo, st = nice_step(range, 8);
    const double lo_r = std::floor(t_lo / st + 1e-9) * st, hi_r = std::ceil(t_hi / st - 1e-9) * st;
    if (t_lo - lo_r <= 0.1001 * range) t_lo = lo_r;
    if (hi_r - t_hi <= 0.1001 * range) t_hi = hi_r;
  }

  constexpr double kPlotW = 900, kLeft = 84, kLegendW = 260, kPanelH = 170, kGap = 26;
  auto x_of = [&](double t) { return kLeft + (t - t_lo) / (t_hi - t_lo) * kPlotW; };
  std::string body;
  const double title_bottom = svg_title(body, ch.title, 12);

  // Marker labels above the first panel, staggered in up to three rows so
  // that neighbours do not overwrite each other.
  std::vector<std::pair<std::size_t, double>> label_row;  // (row, x) per marker
  std::array<double, 3> row_end{-1e9, -1e9, -1e9};
  std::size_t rows_used = 0;
  std::vector<std::size_t> order(ch.markers.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return ch.markers[a].t_s < ch.markers[b].t_s; });
  std::vector<std::size_t> row_of(ch.markers.size(), 0);
  for (std::size_t i : order) {
    const double x = x_of(ch.markers[i].t_s);
    const double w = 6.2 * static_cast<double>(std::min<std::size_t>(ch.markers[i].label.size(), 60)) + 8;
    std::size_t row = 0;
    while (row < row_end.size() && x < row_end[row]) ++row;
    if (row == row_end.size()) row = 0;
    row_end[row] = x + w;
    row_of[i] = row;
    rows_used = std::max(rows_used, row + 1);
  }
  const double first_top = title_bottom + 12 + 14.0 * static_cast<double>(rows_used) + (rows_used ? 6 : 0);
  const double last_bottom =
      first_top + static_cast<double>(ch.panels.size()) * kPanelH + static_cast<double>(ch.panels.size() - 1) * kGap;

  for (std::size_t p = 0; p < ch.panels.size(); ++p) {
    const auto& panel = ch.panels[p];
    const double top = first_top + static_cast<double>(p) * (kPanelH + kGap);
    const double bottom = top + kPanelH;
    // Aggregated points.
    std::vector<std::vector<double>> pts;
    double lo = 0, hi = -std::numeric_limits<double>::infinity();
    double lo_pos = std::numeric_limits<double>::infinity();  // log scale: the smallest value above 0
    for (const auto& se : panel.series) {
      std::vector<double> v;
      for (std::size_t a = 0; a < se.values.size(); a += k) {
        const std::size_t b = std::min(se.values.size(), a + k);
        double acc = se.aggregate == Aggregate::max ? -std::numeric_limits<double>::infinity() : 0;
        std::size_t cnt = 0;
        for (std::size_t i = a; i < b; ++i) {
          if (std::isnan(se.values[i])) continue;
          acc = se.aggregate == Aggregate::max ? std::max(acc, se.values[i]) : acc + se.values[i];
          ++cnt;
        }
        double val = std::numeric_limits<double>::quiet_NaN();
        if (cnt) val = se.aggregate == Aggregate::max ? acc : acc / static_cast<double>(cnt);
        if (panel.log_y && val <= 0) val = std::numeric_limits<double>::quiet_NaN();  // no place on a log axis
        if (!std::isnan(val)) lo = std::min(lo, val), hi = std::max(hi, val), lo_pos = std::min(lo_pos, val);
        v.push_back(val);
      }
      pts.push_back(std::move(v));
    }
    if (!std::isfinite(hi)) hi = 1;
    if (hi <= lo) hi = lo + 1;
    // Linear: nice ticks from 0 (or below) to the top. Log: whole decades
    // around the positive values, with 2 and 5 marked when there are few.
    double y_lo = 0, y_hi = 1;
    std::vector<double> ticks;
    if (panel.log_y) {
      if (!std::isfinite(lo_pos)) lo_pos = 1, hi = 10;
      y_lo = std::pow(10.0, std::floor(std::log10(lo_pos) + 1e-9));
      y_hi = std::pow(10.0, std::ceil(std::log10(hi) - 1e-9));
      if (y_hi <= y_lo) y_hi = y_lo * 10;
      const bool few = std::log10(y_hi / y_lo) < 3.5;
      for (double d = y_lo; d <= y_hi * 1.0001; d *= 10)
        for (double m : {1.0, 2.0, 5.0})
          if ((m == 1.0 || few) && d * m <= y_hi * 1.0001) ticks.push_back(d * m);
    } else {
      const double step = nice_step(hi - lo, 4);
      y_lo = std::floor(lo / step + 1e-9) * step;
      y_hi = std::ceil(hi / step - 1e-9) * step;
      const auto first = static_cast<long long>(std::llround(y_lo / step));
      const auto last = static_cast<long long>(std::llround(y_hi / step));
      for (long long i = first; i <= last; ++i) ticks.push_back(static_cast<double>(i) * step);
    }
    auto y_of = [&](double v) {
      const double f = panel.log_y ? std::log10(v / y_lo) / std::log10(y_hi / y_lo) : (v - y_lo) / (y_hi - y_lo);
      return bottom - f * kPanelH;
    };
    fmt::format_to(Out(body), "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fbfbfb\" stroke=\"#888\"/>\n",
                   num(kLeft), num(top), num(kPlotW), num(kPanelH));
    std::string grid;
    for (double v : ticks) {
      const double y = y_of(v);
      fmt::format_to(Out(grid), "M{} {}h{}", num(kLeft), num(y), num(kPlotW));
      text(body, kLeft - 6, y + 4, tick_label(v), "text-anchor=\"end\" font-size=\"12\"");
    }
    fmt::format_to(Out(body), "<path d=\"{}\" stroke=\"#000\" stroke-opacity=\"0.1\"/>\n", grid);
    fmt::format_to(Out(body),
                   "<text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">{}</text>\n",
                   num(top + kPanelH / 2),
                   escape_xml(shorten(panel.log_y ? panel.y_label + ", log scale" : panel.y_label, 34)));
    // Lines (a NaN breaks the line; a lone point is a dot).
    for (std::size_t si = 0; si < pts.size(); ++si) {
      const char* colour = kLineColour[si % kLineColour.size()];
      std::string d, dots;
      bool open = false;
      const auto& v = pts[si];
      for (std::size_t j = 0; j < v.size(); ++j) {
        if (std::isnan(v[j])) {
          open = false;
          continue;
        }
        const std::size_t first = j * k, last = std::min(panel.series[si].values.size(), first + k) - 1;
        const double t = ch.t0_s + (static_cast<double>(first + last) / 2) * ch.dt_s;
        const bool next_ok = j + 1 < v.size() && !std::isnan(v[j + 1]);
        if (!open && !next_ok) {
          fmt::format_to(Out(dots), "M{} {}h0", num(x_of(t)), num(y_of(v[j])));
          continue;
        }
        fmt::format_to(Out(d), "{}{} {}", open ? " " : "M", num(x_of(t)), num(y_of(v[j])));
        open = true;
      }
      if (!d.empty())
        fmt::format_to(Out(body), "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\" stroke-linejoin=\"round\"/>\n",
                       d, colour);
      if (!dots.empty())
        fmt::format_to(Out(body), "<path d=\"{}\" stroke=\"{}\" stroke-width=\"4\" stroke-linecap=\"round\"/>\n", dots,
                       colour);
    }
    // Legend for this panel.
    const double lx = kLeft + kPlotW + 16;
    double ly = top + 4;
    const auto fit = static_cast<std::size_t>((kPanelH - 8) / 16);
    for (std::size_t si = 0; si < panel.series.size(); ++si) {
      if (si + 1 == fit && panel.series.size() > fit) {
        text(body, lx, ly + 10, fmt::format("... and {} more", panel.series.size() - si), "font-size=\"12\"");
        break;
      }
      const auto& se = panel.series[si];
      fmt::format_to(Out(body), "<path d=\"M{} {}h20\" stroke=\"{}\" stroke-width=\"3\"/>\n", num(lx), num(ly + 6),
                     kLineColour[si % kLineColour.size()]);
      std::string name = shorten(se.name, 30);
      if (k > 1) name += se.aggregate == Aggregate::max ? " (max)" : " (mean)";
      bool any = false;
      for (double x : se.values) any = any || !std::isnan(x);
      if (!any) name += " (no data)";
      text(body, lx + 26, ly + 10, name, "font-size=\"12\"");
      ly += 16;
    }
  }

  // Markers across every panel, labels on top.
  for (std::size_t i = 0; i < ch.markers.size(); ++i) {
    const double x = x_of(ch.markers[i].t_s);
    const double ly = title_bottom + 12 + 14.0 * static_cast<double>(row_of[i]) + 10;
    fmt::format_to(Out(body),
                   "<path d=\"M{0} {1}V{2}\" stroke=\"#c00\" stroke-width=\"1.2\" stroke-dasharray=\"5 3\"/>\n",
                   num(x), num(ly + 3), num(last_bottom));
    text(body, x + 3, ly, shorten(ch.markers[i].label, 60), "font-size=\"12\" fill=\"#c00\"");
  }

  time_axis(body, kLeft, kPlotW, last_bottom, last_bottom, t_lo, t_hi, ch.x_label);
  // Vertical grid through every panel at the time ticks.
  {
    const double step = nice_step(t_hi - t_lo, 8);
    std::string grid;
    const auto first = static_cast<long long>(std::ceil(t_lo / step - 1e-9));
    const auto last = static_cast<long long>(std::floor(t_hi / step + 1e-9));
    for (long long i = first; i <= last; ++i)
      fmt::format_to(Out(grid), "M{} {}V{}", num(x_of(static_cast<double>(i) * step)), num(first_top), num(last_bottom));
    fmt::format_to(Out(body), "<path d=\"{}\" stroke=\"#000\" stroke-opacity=\"0.07\"/>\n", grid);
  }
  double foot = last_bottom + 58;
  if (k > 1) {
    text(body, kLeft, foot,
         fmt::format("Downsampled: each point aggregates {} values ({} s), by mean or max as the legend says.", k,
                     tick_label(static_cast<double>(k) * ch.dt_s)),
         "font-size=\"12\" fill=\"#555\"");
    foot += 16;
  }
  std::string s;
  svg_open(s, kLeft + kPlotW + 16 + kLegendW, foot + 4, ch.title);
  s += body;
  s += "</svg>\n";
  return write_text_file(path, s);
}

// ---- HTML report ----------------------------------------------------------

namespace {

// A relative file name as a URL path: unreserved bytes and '/' kept, the rest %XX.
std::string url_path(std::string_view p) {
  std::string out;
  for (unsigned char c : p) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

// A policy's column is never narrower than this: the pictures are 1000-1300 px
// wide, and below about half size their 12 px text stops being readable. A
// window 1400 px wide shows two policies side by side, a wide screen three.
constexpr int kMinColumnPx = 600;

Result<void> check_picture_path(std::string_view policy, std::string_view p) {
  if (p.empty()) return {};
  if (p.front() == '/')
    return make_error(Errc::invalid_argument,
                      fmt::format("report: picture '{}' of '{}' must be relative to the report", p, policy));
  std::size_t i = 0;
  while (i <= p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (p.substr(i, j - i) == "..")
      return make_error(Errc::invalid_argument,
                        fmt::format("report: picture '{}' of '{}' leaves the report's directory", p, policy));
    i = j + 1;
  }
  return {};
}

}  // namespace

Result<void> write_html_report(const std::string& title, const std::string& subtitle,
                               const std::vector<ReportEntry>& entries, const std::string& path) {
  if (entries.empty()) return make_error(Errc::invalid_argument, "report: no policies to show");
  for (const auto& e : entries) {
    if (e.policy.empty()) return make_error(Errc::invalid_argument, "report: an entry has an empty policy name");
    if (auto ok = check_picture_path(e.policy, e.heatmap_svg); !ok) return ok;
    if (auto ok = check_picture_path(e.policy, e.chart_svg); !ok) return ok;
  }
  // Metric names in order of first appearance.
  std::vector<std::string> names;
  for (const auto& e : entries)
    for (const auto& [name, value] : e.metrics)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);

  std::string h;
  fmt::format_to(Out(h),
                 "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>{}</title>\n",
                 escape_xml(title));
  fmt::format_to(Out(h),
                 "<style>\n"
                 "body {{ font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 16px 20px; color: #222; }}\n"
                 "h1 {{ font-size: 22px; margin: 0 0 4px 0; }}\n"
                 "p.sub {{ color: #555; margin: 0 0 14px 0; }}\n"
                 "table.cmp {{ border-collapse: collapse; margin-bottom: 18px; font-size: 13px; }}\n"
                 "table.cmp th, table.cmp td {{ border: 1px solid #ccc; padding: 3px 10px; }}\n"
                 "table.cmp td {{ text-align: right; font-variant-numeric: tabular-nums; }}\n"
                 "table.cmp th {{ background: #f0f0f0; }} table.cmp th.metric {{ text-align: left; }}\n"
                 "div.grid {{ display: grid; grid-template-columns: repeat(auto-fit, minmax({}px, 1fr)); gap: 14px; }}\n"
                 "section.policy {{ border: 1px solid #ddd; padding: 8px; }}\n"
                 "section.policy h2 {{ font-size: 16px; margin: 0 0 6px 0; }}\n"
                 "section.policy img {{ width: 100%; height: auto; display: block; margin-bottom: 8px; }}\n"
                 "p.foot {{ color: #777; font-size: 12px; }}\n"
                 "</style>\n</head>\n<body>\n",
                 kMinColumnPx);
  fmt::format_to(Out(h), "<h1>{}</h1>\n", escape_xml(title));
  if (!subtitle.empty()) fmt::format_to(Out(h), "<p class=\"sub\">{}</p>\n", escape_xml(subtitle));

  if (!names.empty()) {
    h += "<table class=\"cmp\">\n<thead><tr><th class=\"metric\">metric</th>";
    for (const auto& e : entries) fmt::format_to(Out(h), "<th>{}</th>", escape_xml(e.policy));
    h += "</tr></thead>\n<tbody>\n";
    for (const auto& name : names) {
      fmt::format_to(Out(h), "<tr><th class=\"metric\">{}</th>", escape_xml(name));
      for (const auto& e : entries) {
        const auto it = std::find_if(e.metrics.begin(), e.metrics.end(), [&](const auto& m) { return m.first == name; });
        fmt::format_to(Out(h), "<td>{}</td>", it == e.metrics.end() ? "-" : escape_xml(it->second));
      }
      h += "</tr>\n";
    }
    h += "</tbody>\n</table>\n";
  }

  h += "<div class=\"grid\">\n";
  for (const auto& e : entries) {
    fmt::format_to(Out(h), "<section class=\"policy\">\n<h2>{}</h2>\n", escape_xml(e.policy));
    for (const auto& [file, what] : {std::pair{&e.heatmap_svg, "heatmap"}, std::pair{&e.chart_svg, "chart"}}) {
      if (file->empty()) continue;
      const std::string url = escape_xml(url_path(*file));
      fmt::format_to(Out(h), "<a href=\"{0}\"><img src=\"{0}\" alt=\"{1} of {2}\"/></a>\n", url, what,
                     escape_xml(e.policy));
    }
    h += "</section>\n";
  }
  h += "</div>\n<p class=\"foot\">Pictures open full size on click. Heatmap: cores x time, busy % per core, sleeping "
       "cores and overload in their own colours, moves marked. Chart: panels over the same time axis.</p>\n"
       "</body>\n</html>\n";
  return write_text_file(path, h);
}

}  // namespace reactor::sim::plot
