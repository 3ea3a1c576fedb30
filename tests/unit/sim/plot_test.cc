// reactor_plot: every kind of picture rendered from test data, checked on
// disk (exists, non-empty, parses as SVG or HTML through check_markup.py),
// text escaped, big heatmaps downsampled within a size bound, and every kind
// of bad input refused with a message naming it and nothing written.

#include "sim/plot.hh"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "plot_samples.hh"

namespace reactor::sim::plot {
namespace {

class PlotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/reactor_plot_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!::testing::Test::HasFailure()) std::system(fmt::format("rm -rf '{}'", dir_).c_str());
    else std::fprintf(stderr, "pictures kept in %s\n", dir_.c_str());
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static bool exists(const std::string& p) {
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0;
  }
  // "" when check_markup.py accepts the file, else its one-line complaint.
  static std::string markup_problem(const std::string& kind, const std::string& p) {
    const std::string cmd = fmt::format("'{}' '{}' {} '{}' 2>&1", REACTOR_PYTHON3, REACTOR_CHECK_MARKUP, kind, p);
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return "cannot run python3";
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, f)) out += buf;
    const int rc = ::pclose(f);
    if (rc == 0) return "";
    return out.empty() ? fmt::format("check_markup.py exited with {}", rc) : out;
  }
  // Exists, non-empty, parses.
  static void expect_valid(const std::string& kind, const std::string& p) {
    ASSERT_TRUE(exists(p)) << p;
    EXPECT_GT(slurp(p).size(), 200U) << p;
    EXPECT_EQ(markup_problem(kind, p), "") << p;
  }
  std::string dir_;
};

TEST_F(PlotTest, HeatmapHasAxesLegendSleepOverloadAndMoves) {
  const auto m = samples::heatmap(16, 120, 10, "dynamic on core:16, diurnal, 64 threads");
  const auto p = path("heat.svg");
  ASSERT_TRUE(write_heatmap_svg(m, p)) << "write failed";
  expect_valid("svg", p);
  const auto s = slurp(p);
  EXPECT_NE(s.find(">time (s)</text>"), std::string::npos);
  EXPECT_NE(s.find(">core</text>"), std::string::npos);
  EXPECT_NE(s.find(">dynamic on core:16, diurnal, 64 threads</text>"), std::string::npos);
  EXPECT_NE(s.find("busy % (core polling)"), std::string::npos);
  EXPECT_NE(s.find("1 column = 1 sample of 1 s"), std::string::npos);
  // The sample has sleeping cores and an overloaded one: both colour classes drawn.
  EXPECT_NE(s.find("<path fill=\"#ececec\" d=\"M"), std::string::npos) << "no sleeping cells";
  EXPECT_NE(s.find("<path fill=\"#e41a1c\" d=\"M"), std::string::npos) << "no overloaded cells";
  EXPECT_NE(s.find("thread moved onto core (12 moves)"), std::string::npos);
  EXPECT_NE(s.find("stroke-linecap=\"round\""), std::string::npos) << "moves not marked";
}

TEST_F(PlotTest, HeatmapWithoutSleepOrOverloadDrawsNeither) {
  Heatmap m;
  m.title = "static";
  m.cores = {0, 1};
  m.busy_pct = {{10, 95}, {50, 100}};
  const auto p = path("plain.svg");
  ASSERT_TRUE(write_heatmap_svg(m, p));
  expect_valid("svg", p);
  const auto s = slurp(p);
  EXPECT_EQ(s.find("<path fill=\"#ececec\" d=\"M"), std::string::npos);
  EXPECT_EQ(s.find("<path fill=\"#e41a1c\" d=\"M"), std::string::npos);
  // 100 % exactly is the top busy class (yellow), not overload.
  EXPECT_NE(s.find("<path fill=\"#fde725\" d=\"M"), std::string::npos);
}

TEST_F(PlotTest, LineChartHasPanelsLegendsMarkersAndGaps) {
  auto ch = samples::chart(300, 0.1, "reactor-bench randread, 2 reactors");
  ch.panels.push_back({"empty (%)", {{"nothing", {NAN, NAN}}}});
  const auto p = path("chart.svg");
  ASSERT_TRUE(write_line_chart_svg(ch, p));
  expect_valid("svg", p);
  const auto s = slurp(p);
  for (const char* want : {">time (s)</text>", ">CPU (cores)</text>", ">queued work p99 (ms)</text>", ">polling</text>",
                           ">p99 delay</text>", ">static -&gt; dynamic, stall 1.2 ms</text>",
                           ">dynamic -&gt; global, stall 0.4 ms</text>", ">nothing (no data)</text>"})
    EXPECT_NE(s.find(want), std::string::npos) << want;
  EXPECT_NE(s.find("stroke-dasharray"), std::string::npos) << "no marker lines";
  // 300 points need no downsampling.
  EXPECT_EQ(s.find("Downsampled"), std::string::npos);
}

TEST_F(PlotTest, LogScalePanelShowsDecadesAndTheAxisEndsOnTicks) {
  LineChart ch;
  ch.title = "latency";
  ch.t0_s = 0.05;
  ch.dt_s = 0.1;
  ch.panels = {{"p99 latency (us)", {{"p99", {50, 60, 150000, 0, 55, 58}, Aggregate::max}}, true}};
  const auto p = path("log.svg");
  ASSERT_TRUE(write_line_chart_svg(ch, p));
  expect_valid("svg", p);
  const auto s = slurp(p);
  EXPECT_NE(s.find(">p99 latency (us), log scale</text>"), std::string::npos);
  // 50 .. 150000 us: decades 10 .. 1M, no 2/5 steps over five decades.
  for (const char* want : {">10</text>", ">100</text>", ">1000</text>", ">10k</text>", ">100k</text>", ">1M</text>"})
    EXPECT_NE(s.find(want), std::string::npos) << want;
  EXPECT_EQ(s.find(">20</text>"), std::string::npos);
  // 0 has no place on a log axis: the line breaks there (two sub-paths).
  const auto at = s.find("fill=\"none\" stroke=\"#1f77b4\"");
  ASSERT_NE(at, std::string::npos);
  const auto d0 = s.rfind("d=\"M", at), d1 = s.find('"', d0 + 3);
  EXPECT_EQ(std::count(s.begin() + static_cast<long>(d0), s.begin() + static_cast<long>(d1), 'M'), 2);
  // 0.05 .. 0.55 s is drawn from 0 to 0.6 s: the axis starts and ends on a tick.
  EXPECT_NE(s.find(">0</text>"), std::string::npos);
  EXPECT_NE(s.find(">0.6</text>"), std::string::npos);
}

TEST_F(PlotTest, LongLineChartIsDownsampledAndSaysHow) {
  const auto ch = samples::chart(36000, 0.1, "an hour at 100 ms");
  const auto p = path("long.svg");
  ASSERT_TRUE(write_line_chart_svg(ch, p));
  expect_valid("svg", p);
  const auto s = slurp(p);
  EXPECT_NE(s.find("each point aggregates 45 values (4.5 s)"), std::string::npos);
  EXPECT_NE(s.find(">p99 delay (max)</text>"), std::string::npos);
  EXPECT_NE(s.find(">polling (mean)</text>"), std::string::npos);
  EXPECT_LT(s.size(), 200U * 1024) << "800 points per line should stay small";
}

TEST_F(PlotTest, HtmlReportPutsPoliciesSideBySide) {
  std::vector<ReportEntry> entries;
  for (const char* pol : {"static", "dynamic", "global"}) {
    const std::string h = fmt::format("{}_heatmap.svg", pol), c = fmt::format("{}_chart.svg", pol);
    ASSERT_TRUE(write_heatmap_svg(samples::heatmap(8, 60, 7, pol), path(h)));
    ASSERT_TRUE(write_line_chart_svg(samples::chart(60, 1, pol), path(c)));
    entries.push_back({pol, {{"polling CPU-s", "120.5"}, {"moves", "3"}}, h, c});
  }
  entries[1].metrics.push_back({"only dynamic", "7"});
  const auto p = path("report.html");
  ASSERT_TRUE(write_html_report("Policy lab", "bursty, 64 cores", entries, p));
  expect_valid("html", p);
  const auto s = slurp(p);
  EXPECT_NE(s.find("<title>Policy lab</title>"), std::string::npos);
  EXPECT_NE(s.find("<p class=\"sub\">bursty, 64 cores</p>"), std::string::npos);
  EXPECT_NE(s.find("<th>static</th><th>dynamic</th><th>global</th>"), std::string::npos);
  EXPECT_NE(s.find("<tr><th class=\"metric\">only dynamic</th><td>-</td><td>7</td><td>-</td></tr>"), std::string::npos);
  EXPECT_NE(s.find("<img src=\"dynamic_heatmap.svg\""), std::string::npos);
  EXPECT_NE(s.find("<img src=\"global_chart.svg\""), std::string::npos);
  EXPECT_NE(s.find("grid-template-columns: repeat(auto-fit"), std::string::npos) << "policies side by side";
}

TEST_F(PlotTest, EveryTextIsEscaped) {
  const std::string nasty = "a <&\"'> b";
  const std::string want = "a &lt;&amp;&quot;&#39;&gt; b";
  auto m = samples::heatmap(4, 10, 0, nasty);
  auto ch = samples::chart(10, 1, nasty);
  ch.panels[0].y_label = nasty;
  ch.panels[0].series[0].name = nasty;
  ch.markers[0].label = nasty;
  ASSERT_TRUE(write_heatmap_svg(m, path("h.svg")));
  ASSERT_TRUE(write_line_chart_svg(ch, path("c.svg")));
  ASSERT_TRUE(write_html_report(nasty, nasty, {{nasty, {{nasty, nasty}}, "a b&c.svg", ""}}, path("r.html")));
  for (const auto& [kind, file] : {std::pair{"svg", "h.svg"}, std::pair{"svg", "c.svg"}, std::pair{"html", "r.html"}}) {
    expect_valid(kind, path(file));
    const auto s = slurp(path(file));
    EXPECT_NE(s.find(want), std::string::npos) << file;
    EXPECT_EQ(s.find("<&\""), std::string::npos) << file << " has raw text";
  }
  const auto c = slurp(path("c.svg"));
  EXPECT_GE(static_cast<int>(std::count(c.begin(), c.end(), '&')), 4 * 5) << "title, label, series, marker";
  EXPECT_NE(slurp(path("r.html")).find("src=\"a%20b%26c.svg\""), std::string::npos);
}

TEST_F(PlotTest, EscapeDropsControlCharactersAndBadUtf8) {
  EXPECT_EQ(escape_xml("a\x01" "b\tc"), "ab\tc");
  EXPECT_EQ(escape_xml("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(escape_xml("x\xC3(y"), "x\xEF\xBF\xBD(y");
  EXPECT_EQ(escape_xml("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "a surrogate is not UTF-8";
  EXPECT_EQ(escape_xml("\xEF\xBF\xBF"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "U+FFFF is not an XML char";
  // Such a title still gives a file that parses.
  auto m = samples::heatmap(2, 3, 0, "bad \x02\xff\xfe title \xF0\x9F\x98\x80");
  ASSERT_TRUE(write_heatmap_svg(m, path("u.svg")));
  expect_valid("svg", path("u.svg"));
}

TEST_F(PlotTest, Big256x3600HeatmapIsDownsampledUnderSizeBound) {
  const auto m = samples::heatmap(256, 3600, 10, "dynamic on package:2 core:64 pu:2, diurnal, 10000 threads");
  const auto p = path("big.svg");
  ASSERT_TRUE(write_heatmap_svg(m, p));
  expect_valid("svg", p);
  const auto s = slurp(p);
  // ceil(3600 / 800) = 5 samples per column: 720 columns of 900/720 px.
  EXPECT_NE(s.find("1 column = mean busy % of 5 samples (5 s)"), std::string::npos);
  EXPECT_NE(s.find("scale(1.2500 2.5000)"), std::string::npos);
  EXPECT_NE(s.find("256 cores x 3600 samples"), std::string::npos);
  EXPECT_LT(s.size(), 2U * 1024 * 1024) << "structured 256 x 3600 map: " << s.size() << " bytes";
  std::printf("256 x 3600 heatmap (720 columns): %zu bytes\n", s.size());
}

TEST_F(PlotTest, NoiseHeatmapStaysWithinFewMiB) {
  // The worst case for run merging: every cell independent.
  Heatmap m;
  m.title = "noise";
  for (uint32_t c = 0; c < 256; ++c) m.cores.push_back(c);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0, 120);
  for (int t = 0; t < 3600; ++t) {
    std::vector<float> col(256);
    for (auto& v : col) v = u(rng);
    m.busy_pct.push_back(std::move(col));
  }
  ASSERT_TRUE(write_heatmap_svg(m, path("noise.svg")));
  expect_valid("svg", path("noise.svg"));
  const auto size = slurp(path("noise.svg")).size();
  EXPECT_LT(size, 4U * 1024 * 1024);
  std::printf("256 x 3600 noise heatmap: %zu bytes\n", size);
}

TEST_F(PlotTest, BadInputIsRefusedByNameAndWritesNothing) {
  const auto good = samples::heatmap(4, 10, 2, "t");
  struct Case {
    const char* what;
    Heatmap m;
    const char* says;
  };
  std::vector<Case> cases;
  auto add = [&](const char* what, auto edit, const char* says) {
    Heatmap m = good;
    edit(m);
    cases.push_back({what, std::move(m), says});
  };
  add("no cores", [](Heatmap& m) { m.cores.clear(); }, "no cores");
  add("no columns", [](Heatmap& m) { m.busy_pct.clear(); m.sleeping.clear(); }, "no columns");
  add("short column", [](Heatmap& m) { m.busy_pct[3].pop_back(); }, "busy_pct column 3 has 3 values for 4 cores");
  add("NaN", [](Heatmap& m) { m.busy_pct[2][1] = NAN; }, "busy_pct[2][1] (core 1)");
  add("negative", [](Heatmap& m) { m.busy_pct[0][0] = -1; }, "busy_pct[0][0] (core 0) is -1");
  add("dt", [](Heatmap& m) { m.dt_s = 0; }, "dt_s must be > 0");
  add("sleeping shape", [](Heatmap& m) { m.sleeping.pop_back(); }, "sleeping has 9 columns, busy_pct 10");
  add("duplicate core", [](Heatmap& m) { m.cores[2] = 1; }, "core 1 is listed twice");
  add("move core", [](Heatmap& m) { m.moves.push_back({1, 0, 9}); }, "names core 9, which is not a row");
  add("move time", [](Heatmap& m) { m.moves.push_back({99, 0, 1}); }, "move at t=99 s is outside the map (0 .. 10 s)");
  const auto p = path("bad.svg");
  for (const auto& c : cases) {
    const auto r = write_heatmap_svg(c.m, p);
    ASSERT_FALSE(r) << c.what;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << c.what;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << c.what << ": " << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << "one line";
    EXPECT_FALSE(exists(p)) << c.what;
  }

  auto ch = samples::chart(10, 1, "t");
  auto bad_chart = [&](auto edit, const char* says) {
    auto c = ch;
    edit(c);
    const auto r = write_line_chart_svg(c, p);
    ASSERT_FALSE(r) << says;
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
    EXPECT_FALSE(exists(p));
  };
  bad_chart([](LineChart& c) { c.panels.clear(); }, "no panels");
  bad_chart([](LineChart& c) { c.panels[1].series.clear(); }, "panel 1 ('queued work p99 (ms)') has no series");
  bad_chart([](LineChart& c) { c.dt_s = -1; }, "dt_s must be > 0");
  bad_chart([](LineChart& c) { c.panels[0].series[1].values[4] = INFINITY; }, "series 'sleeping' value 4 is infinite");
  bad_chart([](LineChart& c) { c.markers[0].t_s = NAN; }, "marker 'static -> dynamic, stall 1.2 ms' has no finite time");

  auto bad_report = [&](std::vector<ReportEntry> e, const char* says) {
    const auto r = write_html_report("t", "s", e, p);
    ASSERT_FALSE(r) << says;
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
    EXPECT_FALSE(exists(p));
  };
  bad_report({}, "no policies");
  bad_report({{"", {}, "", ""}}, "empty policy name");
  bad_report({{"x", {}, "/etc/passwd", ""}}, "picture '/etc/passwd' of 'x' must be relative");
  bad_report({{"x", {}, "", "a/../../b.svg"}}, "leaves the report's directory");
}

TEST_F(PlotTest, UnwritablePathIsAnIoErrorAndAnExistingFileIsReplacedWhole) {
  const auto m = samples::heatmap(4, 10, 0, "t");
  const auto r = write_heatmap_svg(m, path("no/such/dir.svg"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::io);
  EXPECT_NE(r.error().message.find("cannot write " + path("no/such/dir.svg") + ": No such file or directory"),
            std::string::npos)
      << r.error().message;
  const auto d = write_heatmap_svg(m, dir_);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("is a directory"), std::string::npos);

  const auto p = path("again.svg");
  { std::ofstream(p) << "old"; }
  ASSERT_TRUE(write_heatmap_svg(m, p));
  expect_valid("svg", p);
  // Bad input leaves the old picture alone.
  auto bad = m;
  bad.cores.clear();
  ASSERT_FALSE(write_heatmap_svg(bad, p));
  expect_valid("svg", p);
  // No temporary files left behind.
  EXPECT_EQ(std::system(fmt::format("test -z \"$(ls '{}' | grep tmp)\"", dir_).c_str()), 0);
}

}  // namespace
}  // namespace reactor::sim::plot
