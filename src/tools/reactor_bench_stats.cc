// reactor-bench: option parsers, the latency histogram and the report
// (text and JSON). Pure functions: the unit tests link this file alone.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "tools/reactor_bench.hh"

namespace reactor::bench {

std::string_view workload_name(Workload w) noexcept {
  switch (w) {
    case Workload::RandRead: return "randread";
    case Workload::RandWrite: return "randwrite";
    case Workload::Read: return "read";
    case Workload::Write: return "write";
    case Workload::RandRw: return "randrw";
  }
  return "?";
}

Result<Workload> parse_workload(std::string_view t) {
  for (Workload w : {Workload::RandRead, Workload::RandWrite, Workload::Read, Workload::Write, Workload::RandRw})
    if (t == workload_name(w)) return w;
  return make_error(Errc::invalid_argument,
                    fmt::format("unknown workload '{}' (use randread, randwrite, read, write or randrw)", t));
}

Result<uint64_t> parse_size(std::string_view text) {
  std::string_view t = text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p == t.data())
    return make_error(Errc::invalid_argument, fmt::format("bad size '{}': expected a number like 4096, 4k or 64M", text));
  std::string suffix(p, t.data() + t.size());
  for (auto& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  unsigned shift = 0;
  if (suffix.empty() || suffix == "b") shift = 0;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib") shift = 10;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib") shift = 20;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib") shift = 30;
  else if (suffix == "t" || suffix == "tb" || suffix == "tib") shift = 40;
  else
    return make_error(Errc::invalid_argument,
                      fmt::format("bad size '{}': unknown unit '{}' (use k, m, g or t)", text, suffix));
  if (shift > 0 && v > (UINT64_MAX >> shift))
    return make_error(Errc::invalid_argument, fmt::format("bad size '{}': too large", text));
  return v << shift;
}

std::string format_size(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && b >= 1024 && b % 1024 == 0) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{} {}", b, units[u]);
}

Result<std::string> canonical_policy(std::string_view t) {
  if (t == "static" || t == "dynamic" || t == "gscheduler") return std::string(t);
  if (t == "global") return std::string("gscheduler");
  return make_error(Errc::invalid_argument,
                    fmt::format("unknown policy '{}' (use static, dynamic or global)", t));
}

Result<std::vector<SwitchStep>> parse_schedule(std::string_view text) {
  std::vector<SwitchStep> out;
  if (text.empty()) return make_error(Errc::invalid_argument, "bad --switch-at '': empty schedule");
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string_view item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
    auto bad = [&](const std::string& why) {
      return make_error(Errc::invalid_argument, fmt::format("bad --switch-at '{}': item '{}' {}", text, item, why));
    };
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) return bad("is not <seconds>:<policy>");
    std::string secs(item.substr(0, colon));
    std::string_view pol = item.substr(colon + 1);
    char* end = nullptr;
    errno = 0;
    double at = std::strtod(secs.c_str(), &end);
    if (secs.empty() || end != secs.c_str() + secs.size() || errno != 0 || !std::isfinite(at))
      return bad(fmt::format("has a bad time '{}'", secs));
    if (at <= 0) return bad("must be after the start (time > 0)");
    if (!out.empty() && at <= out.back().at_s)
      return bad(fmt::format("is not after the previous switch at {} s", out.back().at_s));
    auto p = canonical_policy(pol);
    if (!p) return bad(fmt::format("names an unknown policy '{}' (use static, dynamic or global)", pol));
    out.push_back({at, *p});
  }
  return out;
}

uint64_t Histogram::Snapshot::total() const noexcept {
  uint64_t t = 0;
  for (uint64_t c : counts) t += c;
  return t;
}

uint64_t Histogram::Snapshot::quantile(double q) const noexcept {
  const uint64_t n = total();
  if (n == 0) return 0;
  // The rank of the q-quantile, 1-based: p99 of 100 samples is the 99th.
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<uint64_t>(rank, 1, n);
  uint64_t seen = 0;
  for (uint32_t i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (seen >= rank) return lower(i) + (upper(i) - lower(i)) / 2;
  }
  return lower(kBuckets - 1);
}

Histogram::Snapshot& Histogram::Snapshot::operator+=(const Snapshot& o) noexcept {
  for (uint32_t i = 0; i < kBuckets; ++i) counts[i] += o.counts[i];
  return *this;
}

Histogram::Snapshot Histogram::Snapshot::operator-(const Snapshot& o) const {
  Snapshot r;
  for (uint32_t i = 0; i < kBuckets; ++i) r.counts[i] = counts[i] >= o.counts[i] ? counts[i] - o.counts[i] : 0;
  return r;
}

namespace {

std::string thousands(double v) {
  auto n = static_cast<uint64_t>(std::llround(v));
  // Built forwards (no in-place insert: GCC 12 -O3 flags that with a false -Wrestrict).
  const std::string digits = std::to_string(n);
  std::string s;
  s.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

double cpu_seconds(const Summary& s) {
  double t = 0;
  for (const auto& c : s.cpu) t += c.seconds;
  return t;
}

double per_sec(uint64_t n, double secs) { return secs > 0 ? static_cast<double>(n) / secs : 0; }

}  // namespace

std::string format_text(const Summary& s) {
  std::string o;
  if (!s.measured)
    return fmt::format("reactor-bench: {} {}, QD {} x {} thread{} on cores {} ({} mode): interrupted during the "
                       "ramp: nothing measured ({:.1f} s of --ramp {} s done)\n",
                       s.workload, format_size(s.io_size), s.queue_depth, s.workers, s.workers == 1 ? "" : "s",
                       s.cores, s.mode, s.ramped_s, s.ramp_s);
  const double iops = per_sec(s.ios, s.runtime_s);
  o += fmt::format("reactor-bench: {} {}, QD {} x {} thread{}, {:.1f} s on cores {} ({} mode){}\n", s.workload,
                   format_size(s.io_size), s.queue_depth, s.workers, s.workers == 1 ? "" : "s", s.runtime_s, s.cores,
                   s.mode, s.interrupted ? ", interrupted" : "");
  for (const auto& f : s.files) o += fmt::format("  target     {}{}\n", f, s.direct ? " (O_DIRECT)" : " (page cache)");
  o += fmt::format("  IOPS       {}", thousands(iops));
  if (s.reads > 0 && s.writes > 0)
    o += fmt::format("  (read {} / write {})", thousands(per_sec(s.reads, s.runtime_s)),
                     thousands(per_sec(s.writes, s.runtime_s)));
  o += "\n";
  o += fmt::format("  bandwidth  {:.1f} MiB/s\n", per_sec(s.bytes, s.runtime_s) / (1024.0 * 1024.0));
  o += fmt::format("  latency    avg {:.1f} us  p50 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f}\n", s.lat_avg_us,
                   s.lat_p50_us, s.lat_p99_us, s.lat_p999_us, s.lat_max_us);
  o += "  cpu       ";
  for (const auto& c : s.cpu) o += fmt::format(" core {}: {:.1f}%", c.core, c.pct);
  const double cs = cpu_seconds(s);
  o += fmt::format("  ({} IOPS per CPU-second)\n", cs > 0 ? thousands(static_cast<double>(s.ios) / cs) : "-");
  o += fmt::format("  errors     {}\n", s.errors);
  o += fmt::format("  policy     {} (switching: {}); {} round{}, {} thread move{} while measuring\n", s.policy,
                   s.switching, s.rounds, s.rounds == 1 ? "" : "s", s.moves, s.moves == 1 ? "" : "s");
  if (s.idle_threads > 0) o += fmt::format("  idle       {} idle threads next to the workers\n", s.idle_threads);
  if (!s.registered.empty()) o += fmt::format("  registered {}\n", s.registered);
  if (!s.ring_flags.empty()) o += fmt::format("  ring       {}\n", s.ring_flags);
  for (const auto& w : s.switches) {
    o += fmt::format("  switch at {:.1f} s: {} -> {}: {} in {:.2f} ms, {} thread{} moved (restore {}), ", w.at_s,
                     w.from, w.step.policy, w.outcome.ok ? "ok" : "FAILED", w.outcome.duration_ms, w.threads_moved,
                     w.threads_moved == 1 ? "" : "s", w.outcome.restore_moves);
    auto dip = [&](double lo) { return w.iops_typical > 0 ? 100.0 * (lo - w.iops_typical) / w.iops_typical : 0.0; };
    o += fmt::format("stall {:.2f} ms, p99 {:.1f} us around vs {:.1f} us outside, IOPS dip {:.0f}% ({} vs {}), "
                     "{} errors\n",
                     w.max_gap_ms, w.p99_window_us, w.p99_outside_us, dip(w.iops_min_window),
                     thousands(w.iops_min_window), thousands(w.iops_typical), w.errors);
    if (w.max_gap_quiet_ms >= 0)
      o += fmt::format("    a second without a switch (median): stall {:.2f} ms, IOPS dip {:.0f}%\n",
                       w.max_gap_quiet_ms, w.iops_min_quiet >= 0 ? dip(w.iops_min_quiet) : 0.0);
    else
      o += "    no second of the run was without a switch: nothing to compare the stall with\n";
    if (!w.outcome.ok) o += fmt::format("    {}\n", w.outcome.message);
  }
  return o;
}

nlohmann::ordered_json to_json(const Summary& s) {
  nlohmann::ordered_json j;
  j["iops"] = per_sec(s.ios, s.runtime_s);
  j["read_iops"] = per_sec(s.reads, s.runtime_s);
  j["write_iops"] = per_sec(s.writes, s.runtime_s);
  j["mib_s"] = per_sec(s.bytes, s.runtime_s) / (1024.0 * 1024.0);
  j["ios"] = s.ios;
  j["bytes"] = s.bytes;
  j["errors"] = s.errors;
  j["runtime_s"] = s.runtime_s;
  j["interrupted"] = s.interrupted;
  j["measured"] = s.measured;
  j["latency_us"] = {{"avg", s.lat_avg_us}, {"p50", s.lat_p50_us}, {"p99", s.lat_p99_us},
                     {"p99_9", s.lat_p999_us}, {"max", s.lat_max_us}};
  auto cpu = nlohmann::ordered_json::array();
  for (const auto& c : s.cpu) cpu.push_back({{"core", c.core}, {"pct", c.pct}, {"seconds", c.seconds}});
  j["cpu"] = cpu;
  const double cs = cpu_seconds(s);
  j["cpu_seconds"] = cs;
  j["iops_per_cpu_second"] = cs > 0 ? static_cast<double>(s.ios) / cs : 0.0;
  j["config"] = {{"workload", s.workload}, {"io_size", s.io_size}, {"queue_depth", s.queue_depth},
                 {"threads", s.workers},   {"cores", s.cores},     {"mode", s.mode},
                 {"files", s.files},       {"direct", s.direct}};
  j["policy"] = s.policy;
  j["switching"] = s.switching;
  j["scheduler"] = {{"period_us", s.period_us}, {"rounds", s.rounds}, {"moves", s.moves},
                    {"idle_threads", s.idle_threads}};
  j["registered"] = s.registered;
  j["ring_flags"] = s.ring_flags;
  auto sw = nlohmann::ordered_json::array();
  for (const auto& w : s.switches) {
    sw.push_back({{"at_s", w.at_s},
                  {"from", w.from},
                  {"to", w.step.policy},
                  {"ok", w.outcome.ok},
                  {"result", w.outcome.message},
                  {"policy_after", w.outcome.policy_after},
                  {"transition_ms", w.outcome.duration_ms},
                  {"threads_moved", w.threads_moved},
                  {"restore_moves", w.outcome.restore_moves},
                  {"stall_ms", w.max_gap_ms},
                  {"p99_window_us", w.p99_window_us},
                  {"p99_outside_us", w.p99_outside_us},
                  {"iops_min_window", w.iops_min_window},
                  {"iops_typical", w.iops_typical},
                  {"stall_quiet_ms", w.max_gap_quiet_ms >= 0 ? nlohmann::ordered_json(w.max_gap_quiet_ms) : nullptr},
                  {"iops_min_quiet", w.iops_min_quiet >= 0 ? nlohmann::ordered_json(w.iops_min_quiet) : nullptr},
                  {"errors", w.errors}});
  }
  j["switches"] = sw;
  return j;
}

}  // namespace reactor::bench
