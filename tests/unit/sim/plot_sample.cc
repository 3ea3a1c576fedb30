// plot_sample DIR: writes a sample policy-lab report (three policies, a
// heatmap and a chart each, report.html) into DIR from plot_samples.hh, for
// the screenshot test and for looking at the pictures by hand, and beside it
// big_heatmap.svg (256 cores x 3600 s, downsampled).

#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "plot_samples.hh"

int main(int argc, char** argv) {
  using namespace reactor::sim::plot;
  if (argc != 2) {
    std::fprintf(stderr, "usage: plot_sample DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<ReportEntry> entries;
  const char* policies[] = {"static", "dynamic", "global"};
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string pol = policies[i];
    const std::string what = fmt::format("{} on package:2 core:32 pu:2, diurnal, 2000 threads", pol);
    const auto heat = pol + "_heatmap.svg", chart = pol + "_chart.svg";
    auto ok = write_heatmap_svg(samples::heatmap(64, 600, i == 1 ? 15 : 0, what), dir + "/" + heat);
    if (ok) ok = write_line_chart_svg(samples::chart(600, 1, what), dir + "/" + chart);
    if (!ok) {
      std::fprintf(stderr, "plot_sample: %s\n", ok.error().message.c_str());
      return 1;
    }
    entries.push_back({pol,
                       {{"polling CPU-s", fmt::format("{}", 38400 - 9000 * i)},
                        {"sleeping CPU-s", fmt::format("{}", 9000 * i)},
                        {"core-s above core_busy", fmt::format("{}", 120 + 7 * i)},
                        {"queued delay p99 (ms)", fmt::format("{:.1f}", 3.5 + i)},
                        {"moves", fmt::format("{}", i == 1 ? 40 : 0)}},
                       heat,
                       chart});
  }
  // Not in the report: a 256-core hour, downsampled, to look at.
  if (auto ok = write_heatmap_svg(samples::heatmap(256, 3600, 10, "dynamic on package:2 core:64 pu:2, diurnal, 10000 threads"),
                                  dir + "/big_heatmap.svg");
      !ok) {
    std::fprintf(stderr, "plot_sample: %s\n", ok.error().message.c_str());
    return 1;
  }
  if (auto ok = write_html_report("Policy lab: diurnal load, 64 cores <sample>",
                                  "600 s simulated, 1 s rounds; sample data from tests/unit/sim/plot_samples.hh",
                                  entries, dir + "/report.html");
      !ok) {
    std::fprintf(stderr, "plot_sample: %s\n", ok.error().message.c_str());
    return 1;
  }
  std::printf("%s/report.html\n", dir.c_str());
  return 0;
}
