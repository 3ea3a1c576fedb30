// reactor-sim's command line: parse and check everything first (bad input
// changes nothing and runs nothing), then run each --policy in order on a
// fresh pool with the same demand, then print the table or the JSON.

#include "sim/sim_cli.hh"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <cctype>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/plot.hh"
#include "sim/replay.hh"
#include "sim/simulation.hh"
#include "sim/trace.hh"
#include "sim/workload.hh"

namespace reactor::sim {
namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

std::string fmt_s(double v) { return v >= 100 ? fmt::format("{:.0f}", v) : fmt::format("{:.2f}", v); }
std::string fmt_us(double v) {
  if (v >= 1e6) return fmt::format("{:.2f} s", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f} ms", v / 1e3);
  return fmt::format("{:.0f} us", v);
}

void print_table(std::ostream& out, const std::string& title, const std::vector<PolicyResult>& rs) {
  struct Row {
    std::string name;
    std::function<std::string(const PolicyResult&)> f;
  };
  const std::vector<Row> rows = {
      {"rounds", [](const PolicyResult& r) { return fmt::format("{}", r.rounds); }},
      {"CPU used (core-s)", [](const PolicyResult& r) { return fmt_s(r.cpu_used_s); }},
      {"  polling (core-s)", [](const PolicyResult& r) { return fmt_s(r.polling_s); }},
      {"sleeping (core-s)", [](const PolicyResult& r) { return fmt_s(r.sleeping_s); }},
      {"busy (core-s)", [](const PolicyResult& r) { return fmt_s(r.busy_s); }},
      {"demand (core-s, base freq)", [](const PolicyResult& r) { return fmt_s(r.demand_s); }},
      {"work done (core-s, base freq)", [](const PolicyResult& r) { return fmt_s(r.work_s); }},
      {"above core_busy (core-s)",
       [](const PolicyResult& r) { return fmt::format("{} (>={}%)", fmt_s(r.above_core_busy_s), r.core_busy); }},
      {"queued delay p50", [](const PolicyResult& r) { return fmt_us(r.delay_p50_us); }},
      {"queued delay p99", [](const PolicyResult& r) { return fmt_us(r.delay_p99_us); }},
      {"worst thread p99", [](const PolicyResult& r) { return fmt_us(r.worst_thread_p99_us); }},
      {"queued at end (core-s)", [](const PolicyResult& r) { return fmt_s(r.queued_end_s); }},
      {"wake-ups", [](const PolicyResult& r) { return fmt::format("{:.0f}", r.wakes); }},
      {"moves", [](const PolicyResult& r) { return fmt::format("{}", r.moves); }},
      {"moves/thread/hour", [](const PolicyResult& r) { return fmt::format("{:.3f}", r.moves_per_thread_hour); }},
      {"mode changes", [](const PolicyResult& r) { return fmt::format("{}", r.mode_changes); }},
      {"frequency changes", [](const PolicyResult& r) { return fmt::format("{}", r.frequency_changes); }},
      {"deciding rounds", [](const PolicyResult& r) { return fmt::format("{}", r.deciding_rounds); }},
      {"first deciding round",
       [](const PolicyResult& r) {
         return r.deciding.empty() ? std::string("-") : fmt::format("#{} ({} s)", r.deciding[0].round,
                                                                    fmt_s(r.deciding[0].t_s));
       }},
      {"reactor passes", [](const PolicyResult& r) { return fmt::format("{}", r.passes); }},
      {"real time (s)", [](const PolicyResult& r) { return fmt::format("{:.1f}", r.real_s); }},
      {"CPU time (s)", [](const PolicyResult& r) { return fmt::format("{:.1f}", r.cpu_s); }},
  };
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> width(rs.size() + 1, 0);
  std::vector<std::string> head{"metric"};
  for (const PolicyResult& r : rs) head.push_back(r.policy);
  cells.push_back(head);
  for (const Row& row : rows) {
    std::vector<std::string> line{row.name};
    for (const PolicyResult& r : rs) line.push_back(row.f(r));
    cells.push_back(std::move(line));
  }
  for (const auto& line : cells)
    for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  out << title << '\n';
  for (const PolicyResult& r : rs) out << "  " << r.policy << ": " << r.options << '\n';
  out << '\n';
  for (size_t li = 0; li < cells.size(); ++li) {
    const auto& line = cells[li];
    std::string s;
    for (size_t i = 0; i < line.size(); ++i) {
      if (i == 0) s += fmt::format("{:<{}}", line[i], width[i]);
      else s += fmt::format("  {:>{}}", line[i], width[i]);
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << '\n';
    if (li == 0) {
      size_t total = 0;
      for (size_t w : width) total += w + 2;
      out << std::string(total - 2, '-') << '\n';
    }
  }
}

nlohmann::json to_json(const PolicyResult& r) {
  nlohmann::json deciding = nlohmann::json::array();
  for (const DecidingRound& d : r.deciding)
    deciding.push_back({{"round", d.round}, {"t_s", d.t_s}, {"moves", d.moves}, {"mode_changes", d.mode_changes},
                        {"frequency_changes", d.frequency_changes}, {"first_reason", d.first_reason}});
  return {{"policy", r.policy},
          {"options", r.options},
          {"rounds", r.rounds},
          {"period_s", r.period_s},
          {"simulated_s", r.simulated_s},
          {"real_s", r.real_s},
          {"cpu_s", r.cpu_s},
          {"passes", r.passes},
          {"threads", r.threads},
          {"cores", r.cores},
          {"cpu_used_s", r.cpu_used_s},
          {"polling_s", r.polling_s},
          {"sleeping_s", r.sleeping_s},
          {"busy_s", r.busy_s},
          {"work_s", r.work_s},
          {"demand_s", r.demand_s},
          {"core_busy", r.core_busy},
          {"above_core_busy_s", r.above_core_busy_s},
          {"delay_p50_us", r.delay_p50_us},
          {"delay_p99_us", r.delay_p99_us},
          {"worst_thread_p99_us", r.worst_thread_p99_us},
          {"queued_end_s", r.queued_end_s},
          {"wakes", r.wakes},
          {"moves", r.moves},
          {"moves_skipped", r.moves_skipped},
          {"moves_per_thread_hour", r.moves_per_thread_hour},
          {"mode_changes", r.mode_changes},
          {"frequency_changes", r.frequency_changes},
          {"deciding_rounds", r.deciding_rounds},
          {"deciding", deciding},
          {"problems", r.problems}};
}

/// Checks (and creates) the --plot directory before anything runs.
std::optional<std::string> prepare_plot_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fmt::format("--plot {}: cannot create the directory: {}", dir, ec.message());
  if (!std::filesystem::is_directory(dir, ec)) return fmt::format("--plot {}: not a directory", dir);
  return std::nullopt;
}

/// Per policy a heatmap and a line chart, and the HTML report side by side.
Result<std::string> write_plots(const std::string& dir, const std::string& title, const std::string& what,
                                const std::vector<PolicyResult>& rs) {
  std::vector<plot::ReportEntry> entries;
  for (size_t i = 0; i < rs.size(); ++i) {
    const PolicyResult& r = rs[i];
    std::string stem = fmt::format("{}-", i + 1);
    for (char c : r.policy) stem += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
    const SimSeries& ss = r.series;
    plot::Heatmap h;
    h.title = fmt::format("{} ({}) on {}", r.policy, r.options, what);
    h.cores = ss.cores;
    h.t0_s = 0;
    h.dt_s = r.period_s;
    h.busy_pct = ss.busy_pct;
    h.sleeping = ss.sleeping;
    for (const SimSeries::Move& m : ss.move_list) h.moves.push_back({m.t_s, m.from, m.to});
    if (auto ok = plot::write_heatmap_svg(h, dir + "/" + stem + "-heatmap.svg"); !ok) return tl::unexpected(ok.error());
    plot::LineChart c;
    c.title = h.title;
    c.t0_s = 0;
    c.dt_s = r.period_s;
    std::vector<double> cpu(ss.cpu_used_s.size());
    for (size_t k = 0; k < cpu.size(); ++k) cpu[k] = ss.cpu_used_s[k] / r.period_s;
    c.panels.push_back({"CPU used (cores)", {{"CPU used", cpu, plot::Aggregate::mean}}});
    c.panels.push_back({"queued work (core-seconds)", {{"queued at round end", ss.queued_s, plot::Aggregate::max}}});
    c.panels.push_back({"moves (per round)", {{"moves", ss.moves, plot::Aggregate::max}}});
    if (auto ok = plot::write_line_chart_svg(c, dir + "/" + stem + "-chart.svg"); !ok) return tl::unexpected(ok.error());
    plot::ReportEntry e;
    e.policy = r.policy;
    e.metrics = {{"options", r.options},
                 {"CPU used (core-s)", fmt_s(r.cpu_used_s)},
                 {"polling (core-s)", fmt_s(r.polling_s)},
                 {"sleeping (core-s)", fmt_s(r.sleeping_s)},
                 {fmt::format("above core_busy (core-s)"), fmt_s(r.above_core_busy_s)},
                 {"queued delay p50", fmt_us(r.delay_p50_us)},
                 {"queued delay p99", fmt_us(r.delay_p99_us)},
                 {"worst thread p99", fmt_us(r.worst_thread_p99_us)},
                 {"moves", fmt::format("{}", r.moves)},
                 {"moves/thread/hour", fmt::format("{:.3f}", r.moves_per_thread_hour)},
                 {"frequency changes", fmt::format("{}", r.frequency_changes)},
                 {"deciding rounds", fmt::format("{}", r.deciding_rounds)}};
    e.heatmap_svg = stem + "-heatmap.svg";
    e.chart_svg = stem + "-chart.svg";
    entries.push_back(std::move(e));
  }
  const std::string report = dir + "/report.html";
  if (auto ok = plot::write_html_report(title, "reactor-sim: the production pool and policies on a manual clock; "
                                               "heatmap: busy % per core per round (sleeping cores and moves marked)",
                                        entries, report);
      !ok)
    return tl::unexpected(ok.error());
  return report;
}

}  // namespace

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"reactor-sim: replays a recorded or generated load through scheduling policies on the production "
               "reactor pool and scheduler, on a manual clock",
               "reactor-sim"};
  std::string workload_text, topology_text = "package:2 numa:1 core:64 pu:2", cpumask_text, trace_path;
  bool verify = false;
  std::string plot_dir;
  std::vector<std::string> policy_texts;
  uint32_t threads = 0, cores = 0;
  int64_t threads_arg = -1, cores_arg = -1, main_core_arg = -1;
  double duration = 3600;
  uint64_t seed = 1;
  bool json = false;
  WorkloadOptions wo;
  ModelOptions mo;
  app.add_option("--trace", trace_path, "Replay a load trace recorded by reactorctl record");
  app.add_flag("--verify", verify,
               "With --trace: replay the recorded policy on the recorded load and compare its moves round by "
               "round (exit 1 if they diverge)");
  app.add_option("--workload", workload_text, "Generated load: steady, bursty, diurnal or skewed");
  app.add_option("--threads", threads_arg, "Lightweight threads of the generated load (at least 1)");
  app.add_option("--topology", topology_text,
                 "hwloc synthetic topology (default 'package:2 numa:1 core:64 pu:2': 2 NUMA nodes, 256 PUs)");
  app.add_option("--cores", cores_arg, "Reactor cores: the first M PUs of the topology (default: all)");
  app.add_option("--main-core", main_core_arg, "Main core (default: the first reactor core)");
  app.add_option("--cpumask", cpumask_text, "Every thread's cpumask (default: every reactor core)");
  app.add_option("--duration", duration, "Simulated seconds (default 3600)");
  app.add_option("--policy", policy_texts,
                 "NAME[:key=value,...], repeatable (default: static, dynamic, gscheduler, spdk-dynamic)");
  app.add_option("--seed", seed, "Seed of the generated load (default 1)");
  app.add_flag("--json", json, "Print one JSON object with a `policies` array");
  app.add_option("--plot", plot_dir,
                 "Write per policy a heatmap and a line chart (SVG) and report.html side by side into DIR");
  app.add_option("--load", wo.load, "Generated load: total demand as a fraction of the cores (default 0.5)");
  app.add_option("--active", wo.active, "Generated load: fraction of busy threads (default 0.05)");
  app.add_option("--idle-share", wo.idle_share,
                 "Generated load: mean share of a core of each other thread (default 0.0001)");
  app.add_option("--period", mo.period_s, "Model: round length in seconds unless a policy sets period_us (default 1)");
  app.add_option("--wake-us", mo.wake_us, "Model: wake latency of an Interrupt-mode core, us (default 50)");
  app.add_option("--move-stall-us", mo.move_stall_us, "Model: extra work of a moved thread, us (default 200)");
  app.add_option("--burst-us", mo.burst_us, "Model: size of an arriving burst of work, us (default 100)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    err << "reactor-sim: " << one_line(e.what()) << " (see --help)\n";
    return 2;
  }
  auto fail = [&](const std::string& m) {
    err << "reactor-sim: " << one_line(m) << '\n';
    return 2;
  };
  if (!plot_dir.empty())
    if (auto bad = prepare_plot_dir(plot_dir)) return fail(*bad);
  // Writes the pictures after a run; prints where the report is.
  auto finish_plots = [&](const std::string& title, const std::string& what, const std::vector<PolicyResult>& rs) {
    if (plot_dir.empty()) return 0;
    auto rep = write_plots(plot_dir, title, what, rs);
    if (!rep) {
      err << "reactor-sim: --plot: " << one_line(rep.error().message) << '\n';
      return 1;
    }
    if (!json) out << "pictures: " << *rep << '\n';
    return 0;
  };
  if (!trace_path.empty()) {
    if (!workload_text.empty() || threads_arg != -1)
      return fail("--trace replays a recording: it does not take --workload or --threads");
    auto tr = read_trace(trace_path);
    if (!tr) return fail(tr.error().message);
    auto trace = std::make_shared<const Trace>(std::move(*tr));
    if (verify) {
      auto chk = replay_recorded(*trace);
      if (!chk) return fail(chk.error().message);
      if (json) {
        out << nlohmann::json{{"trace", trace_path},
                              {"policy", trace->header.scheduler.policy},
                              {"samples", chk->samples},
                              {"rounds", chk->rounds},
                              {"rounds_matched", chk->rounds_matched},
                              {"moves_recorded", chk->moves_recorded},
                              {"moves_replayed", chk->moves_replayed},
                              {"divergences", chk->divergences},
                              {"ok", chk->ok()}}
                   .dump()
            << '\n';
      } else {
        out << fmt::format("replay of {} ({}, {} samples): {} of {} rounds reproduced, {} moves recorded, {} "
                           "replayed{}\n",
                           trace_path, trace->header.scheduler.policy, chk->samples, chk->rounds_matched,
                           chk->rounds, chk->moves_recorded, chk->moves_replayed,
                           chk->ok() ? ": identical" : ": DIVERGED");
        for (const std::string& d : chk->divergences) out << "  " << d << '\n';
      }
      return chk->ok() ? 0 : 1;
    }
    const TraceHeader& h = trace->header;
    SimSetup setup;
    if (app.count("--topology") != 0) {
      auto topo = Topology::synthetic(topology_text);
      if (!topo) return fail("--topology: " + topo.error().message);
      setup.topology = *topo;
    } else {
      auto topo = trace_topology(h);
      if (!topo) return fail(fmt::format("{}: {}", trace_path, topo.error().message));
      setup.topology = *topo;
      topology_text = h.synthetic ? *h.synthetic : fmt::format("flat, cores {}", h.reactor_cores.size());
    }
    for (uint32_t c : h.reactor_cores) {
      if (!setup.topology.all().test(CoreId{c}))
        return fail(fmt::format("trace core {} is not in the topology '{}'", c, topology_text));
      setup.reactor_cores.set(CoreId{c});
    }
    setup.main_core = CoreId{h.main_core};
    setup.topology_text = topology_text;
    mo.period_s = static_cast<double>(h.interval_us) / 1e6;
    if (auto ok = validate(mo); !ok) return fail(fmt::format("{}: interval: {}", trace_path, ok.error().message));
    const double whole = static_cast<double>(trace->samples.size()) * mo.period_s;
    setup.duration_s = app.count("--duration") != 0 ? std::min(duration, whole) : whole;
    if (setup.duration_s <= 0) return fail(fmt::format("{}: the trace has no samples", trace_path));
    setup.model = mo;
    // Each thread's cpumask and home as first recorded.
    auto first = std::make_shared<std::vector<ThreadOptions>>();
    {
      const std::vector<uint64_t> ids = TraceDemand::thread_ids(*trace);
      first->resize(ids.size());
      std::vector<bool> seen(ids.size(), false);
      for (const TraceSample& smp : trace->samples)
        for (const TraceThreadSample& t : smp.threads) {
          const size_t i = static_cast<size_t>(std::lower_bound(ids.begin(), ids.end(), t.id) - ids.begin());
          if (seen[i]) continue;
          seen[i] = true;
          (*first)[i].name = t.name;
          for (uint32_t c : t.cpumask) (*first)[i].cpumask.set(CoreId{c});
          (*first)[i].cpumask &= setup.reactor_cores;
          (*first)[i].home = CoreId{t.home};
        }
    }
    setup.thread_options = [first](uint32_t i, ThreadOptions& o) {
      const ThreadOptions& f = (*first)[i];
      o.name = f.name;
      if (!f.cpumask.empty()) o.cpumask = f.cpumask;
      if (f.home && o.cpumask.test(*f.home)) o.home = f.home;
    };
    setup.source = [trace] { return std::make_unique<TraceDemand>(trace); };
    setup.keep_series = !plot_dir.empty();
    if (policy_texts.empty()) policy_texts = {"static", "dynamic", "gscheduler", "spdk-dynamic"};
    std::vector<PolicySpec> specs;
    for (const std::string& p : policy_texts) {
      auto sp = parse_policy_spec(p);
      if (!sp) return fail(sp.error().message);
      specs.push_back(std::move(*sp));
    }
    std::vector<PolicyResult> results;
    for (const PolicySpec& sp : specs) {
      auto r = run_policy(setup, sp);
      if (!r) {
        err << "reactor-sim: " << one_line(r.error().message) << '\n';
        return r.error().code == Errc::invalid_argument ? 2 : 1;
      }
      results.push_back(std::move(*r));
    }
    const std::string title = fmt::format("reactor-sim: trace {} ({} samples of {} ms, recorded under {}) on '{}', "
                                          "{} s replayed",
                                          trace_path, trace->samples.size(), h.interval_us / 1000,
                                          h.scheduler.policy, topology_text, setup.duration_s);
    if (json) {
      nlohmann::json j;
      j["trace"] = trace_path;
      j["topology"] = topology_text;
      j["duration_s"] = setup.duration_s;
      j["policies"] = nlohmann::json::array();
      for (const PolicyResult& r : results) j["policies"].push_back(to_json(r));
      out << j.dump() << '\n';
    } else {
      print_table(out, title, results);
    }
    return finish_plots(title, fmt::format("trace {}", trace_path), results);
  }
  if (verify) return fail("--verify needs --trace FILE");
  if (workload_text.empty()) return fail("give --workload KIND --threads N (or --trace FILE)");
  auto kind = parse_workload_kind(workload_text);
  if (!kind) return fail("--workload: " + kind.error().message);
  if (threads_arg < 1) return fail(threads_arg == -1 ? "--workload needs --threads N" : "--threads must be at least 1");
  if (threads_arg > 1'000'000) return fail(fmt::format("--threads {} is more than 1000000", threads_arg));
  threads = static_cast<uint32_t>(threads_arg);
  if (!std::isfinite(duration) || duration <= 0 || duration > 366 * 86400.0)
    return fail(fmt::format("--duration {} must be a positive number of seconds (at most a year)", duration));
  auto topo = Topology::synthetic(topology_text);
  if (!topo) return fail("--topology: " + topo.error().message);
  const std::vector<CoreId> all = topo->all().cores();
  if (cores_arg == 0 || cores_arg < -1) return fail("--cores must be at least 1");
  if (cores_arg > static_cast<int64_t>(all.size()))
    return fail(fmt::format("--cores {} is more than the {} PUs of the topology '{}'", cores_arg, all.size(),
                            topology_text));
  cores = cores_arg == -1 ? static_cast<uint32_t>(all.size()) : static_cast<uint32_t>(cores_arg);
  SimSetup setup;
  setup.topology = *topo;
  setup.topology_text = topology_text;
  for (uint32_t i = 0; i < cores; ++i) setup.reactor_cores.set(all[i]);
  if (main_core_arg != -1) {
    if (main_core_arg < 0 || main_core_arg >= static_cast<int64_t>(CpuSet::kMaxCores) ||
        !setup.reactor_cores.test(CoreId{static_cast<uint32_t>(main_core_arg)}))
      return fail(fmt::format("--main-core {} is not a reactor core ({})", main_core_arg,
                              setup.reactor_cores.to_list()));
    setup.main_core = CoreId{static_cast<uint32_t>(main_core_arg)};
  }
  if (!cpumask_text.empty()) {
    auto m = CpuSet::parse(cpumask_text);
    if (!m) return fail("--cpumask: " + m.error().message);
    if (m->empty()) return fail("--cpumask is empty");
    if (!m->is_subset_of(setup.reactor_cores)) {
      CpuSet outside;
      for (CoreId c : m->cores())
        if (!setup.reactor_cores.test(c)) outside.set(c);
      return fail(fmt::format("--cpumask {} is outside the reactor cores ({}): cores {} are not reactors",
                              cpumask_text, setup.reactor_cores.to_list(), outside.to_list()));
    }
    setup.thread_mask = *m;
  }
  wo.kind = *kind;
  wo.threads = threads;
  wo.cores = cores;
  wo.duration_s = duration;
  wo.seed = seed;
  if (auto ok = validate(wo); !ok) return fail(ok.error().message);
  if (auto ok = validate(mo); !ok) return fail(ok.error().message);
  if (policy_texts.empty()) policy_texts = {"static", "dynamic", "gscheduler", "spdk-dynamic"};
  std::vector<PolicySpec> specs;
  for (const std::string& p : policy_texts) {
    auto s = parse_policy_spec(p);
    if (!s) return fail(s.error().message);
    specs.push_back(std::move(*s));
  }
  setup.duration_s = duration;
  setup.model = mo;
  setup.source = [wo] { return std::make_unique<Workload>(wo); };
  setup.keep_series = !plot_dir.empty();

  std::vector<PolicyResult> results;
  for (const PolicySpec& s : specs) {
    auto r = run_policy(setup, s);
    if (!r) {
      err << "reactor-sim: " << one_line(r.error().message) << '\n';
      return r.error().code == Errc::invalid_argument ? 2 : 1;
    }
    results.push_back(std::move(*r));
  }
  const std::string what = fmt::format("{} workload, {} threads, seed {}, load {}", workload_text, threads, seed,
                                       wo.load);
  const std::string title = fmt::format("reactor-sim: {} on '{}' ({} reactor cores), {} s simulated", what,
                                        topology_text, cores, duration);
  if (json) {
    nlohmann::json j;
    j["topology"] = topology_text;
    j["cores"] = cores;
    j["threads"] = threads;
    j["workload"] = workload_text;
    j["seed"] = seed;
    j["load"] = wo.load;
    j["active"] = wo.active;
    j["idle_share"] = wo.idle_share;
    j["duration_s"] = duration;
    j["model"] = {{"period_s", mo.period_s},
                  {"wake_us", mo.wake_us},
                  {"move_stall_us", mo.move_stall_us},
                  {"burst_us", mo.burst_us}};
    j["policies"] = nlohmann::json::array();
    for (const PolicyResult& r : results) j["policies"].push_back(to_json(r));
    out << j.dump() << '\n';
  } else {
    print_table(out, title, results);
  }
  return finish_plots(title, fmt::format("{}, {}", topology_text, what), results);
}

}  // namespace reactor::sim
