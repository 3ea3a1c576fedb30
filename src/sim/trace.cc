// Load traces, version 1: formatting, checking reader, atomic writer.
//
// Design:
//  - Records are built and parsed with nlohmann::json; key order on output is
//    fixed (ordered_json) so traces diff well and the header starts with
//    "format" and "version".
//  - The line parsers throw LineError internally; the reader turns it into
//    one Error "NAME:LINE: problem". Nothing else escapes.
//  - Everything a replay relies on is checked against the header: a sample's
//    cores, its threads' cores, homes and cpumasks, and a round's moves must
//    name reactor cores of the topology and threads of the sample, so that a
//    replay never indexes past its topology.
//  - The writer creates the file through a temporary file (header written
//    and fsync'ed first, then renamed), so the path never holds a trace
//    without its header; later records are appended one write(2) per line.

#include "sim/trace.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <reactor/policy.hh>

namespace reactor::sim {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

struct LineError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(std::string msg) { throw LineError(msg); }

const json& req(const json& obj, const char* key, std::string_view where) {
  if (!obj.is_object()) fail(fmt::format("{} is not a JSON object", where));
  auto it = obj.find(key);
  if (it == obj.end()) fail(fmt::format("missing key '{}' in {}", key, where));
  return *it;
}

uint64_t as_u64(const json& v, const char* key, std::string_view where) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  fail(fmt::format("'{}' in {} must be a non-negative integer (got {})", key, where, v.dump()));
}

uint64_t get_u64(const json& obj, const char* key, std::string_view where) {
  return as_u64(req(obj, key, where), key, where);
}

uint32_t get_u32(const json& obj, const char* key, std::string_view where, uint64_t max = UINT32_MAX) {
  const uint64_t v = get_u64(obj, key, where);
  if (v > max) fail(fmt::format("'{}' in {} is {}, above {}", key, where, v, max));
  return static_cast<uint32_t>(v);
}

std::string get_str(const json& obj, const char* key, std::string_view where) {
  const json& v = req(obj, key, where);
  if (!v.is_string()) fail(fmt::format("'{}' in {} must be a string (got {})", key, where, v.dump()));
  return v.get<std::string>();
}

bool get_bool(const json& obj, const char* key, std::string_view where) {
  const json& v = req(obj, key, where);
  if (!v.is_boolean()) fail(fmt::format("'{}' in {} must be true or false (got {})", key, where, v.dump()));
  return v.get<bool>();
}

const json& get_array(const json& obj, const char* key, std::string_view where) {
  const json& v = req(obj, key, where);
  if (!v.is_array()) fail(fmt::format("'{}' in {} must be an array", key, where));
  return v;
}

std::vector<uint32_t> get_u32_list(const json& obj, const char* key, std::string_view where) {
  std::vector<uint32_t> out;
  for (const json& v : get_array(obj, key, where)) {
    const uint64_t x = as_u64(v, key, where);
    if (x > UINT32_MAX) fail(fmt::format("'{}' in {} holds {}, not a core id", key, where, x));
    out.push_back(static_cast<uint32_t>(x));
  }
  return out;
}

ReactorMode parse_mode(const std::string& s, const char* key, std::string_view where) {
  if (s == "poll") return ReactorMode::Poll;
  if (s == "interrupt") return ReactorMode::Interrupt;
  fail(fmt::format("'{}' in {} is '{}', not poll or interrupt", key, where, s));
}

std::string_view mode_name(ReactorMode m) { return m == ReactorMode::Poll ? "poll" : "interrupt"; }

bool strictly_ascending(const std::vector<uint32_t>& v) {
  return std::adjacent_find(v.begin(), v.end(), [](uint32_t a, uint32_t b) { return a >= b; }) == v.end();
}

bool contains(const std::vector<uint32_t>& sorted, uint32_t x) {
  return std::binary_search(sorted.begin(), sorted.end(), x);
}

std::string list(const std::vector<uint32_t>& v) { return fmt::format("{}", fmt::join(v, ",")); }

TraceHeader parse_header(const json& j) {
  if (!j.is_object()) fail("the header is not a JSON object");
  auto fmt_it = j.find("format");
  if (fmt_it == j.end() || !fmt_it->is_string() || fmt_it->get<std::string>() != kTraceFormat)
    fail(fmt::format("not a reactor trace (the first line has no \"format\":\"{}\")", kTraceFormat));
  TraceHeader h;
  const json& ver = req(j, "version", "the header");
  if (!ver.is_number_unsigned())
    fail(fmt::format("'version' in the header must be a positive integer (got {})", ver.dump()));
  if (ver.get<uint64_t>() != kTraceVersion)
    fail(fmt::format("version {} is not supported ({})", ver.get<uint64_t>(), kTraceVersion));
  h.version = kTraceVersion;
  const json& src = req(j, "source", "the header");
  h.source.tool = get_str(src, "tool", "source");
  if (auto it = src.find("pid"); it != src.end()) {
    if (!it->is_number_integer()) fail("'pid' in source must be an integer");
    h.source.pid = it->get<int64_t>();
  }
  if (auto it = src.find("host"); it != src.end() && it->is_string()) h.source.host = it->get<std::string>();
  if (auto it = src.find("started"); it != src.end() && it->is_string())
    h.source.started = it->get<std::string>();
  h.tick_rate = get_u64(j, "tick_rate", "the header");
  h.interval_us = get_u64(j, "interval_us", "the header");
  const json& topo = req(j, "topology", "the header");
  if (auto it = topo.find("synthetic"); it != topo.end() && !it->is_null()) {
    if (!it->is_string()) fail("'synthetic' in topology must be a string");
    h.synthetic = it->get<std::string>();
  }
  const json& cores = get_array(topo, "cores", "topology");
  for (size_t i = 0; i < cores.size(); ++i) {
    const std::string where = fmt::format("topology.cores[{}]", i);
    TraceCore c;
    c.id = get_u32(cores[i], "id", where);
    c.package = get_u32(cores[i], "package", where);
    const json& numa = req(cores[i], "numa_node", where);
    if (!numa.is_number_integer() || numa.get<int64_t>() < -1 || numa.get<int64_t>() > INT32_MAX)
      fail(fmt::format("'numa_node' in {} must be an integer >= -1 (got {})", where, numa.dump()));
    c.numa_node = static_cast<int32_t>(numa.get<int64_t>());
    c.smt_siblings = get_u32_list(cores[i], "smt_siblings", where);
    h.cores.push_back(std::move(c));
  }
  h.reactor_cores = get_u32_list(j, "reactor_cores", "the header");
  h.isolated = get_u32_list(j, "isolated", "the header");
  h.main_core = get_u32(j, "main_core", "the header");
  h.baseline = parse_mode(get_str(j, "baseline", "the header"), "baseline", "the header");
  const json& sch = req(j, "scheduler", "the header");
  h.scheduler.policy = get_str(sch, "policy", "scheduler");
  h.scheduler.period_us = get_u64(sch, "period_us", "scheduler");
  h.scheduler.load_limit = get_u32(sch, "load_limit", "scheduler", 100);
  h.scheduler.core_limit = get_u32(sch, "core_limit", "scheduler", 100);
  h.scheduler.core_busy = get_u32(sch, "core_busy", "scheduler", 100);
  if (std::string problem = check_header(h); !problem.empty()) fail(problem);
  return h;
}

TraceSample parse_sample(const json& j, const TraceHeader& h) {
  TraceSample s;
  s.seq = get_u64(j, "seq", "the sample");
  s.t_us = get_u64(j, "t_us", "the sample");
  s.ticks = get_u64(j, "ticks", "the sample");
  const std::string at = fmt::format("sample {}", s.seq);
  const json& cores = get_array(j, "cores", at);
  for (size_t i = 0; i < cores.size(); ++i) {
    const std::string where = fmt::format("cores[{}] of sample {}", i, s.seq);
    TraceCoreSample c;
    c.id = get_u32(cores[i], "id", where);
    if (!contains(h.reactor_cores, c.id))
      fail(fmt::format("{} is core {}, which is not a reactor core of the header ({})", where, c.id,
                       list(h.reactor_cores)));
    if (!s.cores.empty() && s.cores.back().id >= c.id)
      fail(fmt::format("{}: core {} follows core {} (cores must be in ascending id order, once each)", where,
                       c.id, s.cores.back().id));
    c.busy = get_u64(cores[i], "busy", where);
    c.idle = get_u64(cores[i], "idle", where);
    c.mode = parse_mode(get_str(cores[i], "mode", where), "mode", where);
    const json& f = req(cores[i], "freq_khz", where);
    if (!f.is_null()) c.freq_khz = as_u64(f, "freq_khz", where);
    c.threads = get_u32(cores[i], "threads", where);
    c.stalled = get_bool(cores[i], "stalled", where);
    s.cores.push_back(c);
  }
  const json& threads = get_array(j, "threads", at);
  std::set<uint64_t> ids;
  for (size_t i = 0; i < threads.size(); ++i) {
    const std::string where = fmt::format("threads[{}] of sample {}", i, s.seq);
    TraceThreadSample t;
    t.id = get_u64(threads[i], "id", where);
    if (t.id == 0) fail(fmt::format("{} has thread id 0 (ids start at 1)", where));
    if (!ids.insert(t.id).second) fail(fmt::format("thread {} appears twice in sample {}", t.id, s.seq));
    t.name = get_str(threads[i], "name", where);
    t.core = get_u32(threads[i], "core", where);
    if (!contains(h.reactor_cores, t.core))
      fail(fmt::format("thread {} is on core {}, which is not in the topology (reactor cores {})", t.id, t.core,
                       list(h.reactor_cores)));
    t.home = get_u32(threads[i], "home", where);
    if (!contains(h.reactor_cores, t.home))
      fail(fmt::format("thread {} has home core {}, which is not in the topology (reactor cores {})", t.id,
                       t.home, list(h.reactor_cores)));
    t.cpumask = get_u32_list(threads[i], "cpumask", where);
    if (t.cpumask.empty()) fail(fmt::format("thread {} has an empty cpumask", t.id));
    std::sort(t.cpumask.begin(), t.cpumask.end());
    t.cpumask.erase(std::unique(t.cpumask.begin(), t.cpumask.end()), t.cpumask.end());
    for (uint32_t c : t.cpumask)
      if (h.find_core(c) == nullptr)
        fail(fmt::format("thread {} has core {} in its cpumask, which is not in the topology", t.id, c));
    t.busy = get_u64(threads[i], "busy", where);
    t.idle = get_u64(threads[i], "idle", where);
    t.rounds_since_move = get_u32(threads[i], "rounds_since_move", where);
    s.threads.push_back(std::move(t));
  }
  const json& round = req(j, "round", at);
  if (!round.is_null()) {
    const std::string where = fmt::format("the round of sample {}", s.seq);
    TraceRound r;
    r.seq = get_u64(round, "seq", where);
    r.policy = get_str(round, "policy", where);
    const json& moves = get_array(round, "moves", where);
    for (size_t i = 0; i < moves.size(); ++i) {
      const std::string mwhere = fmt::format("moves[{}] of {}", i, where);
      TraceMove m;
      m.thread = get_u64(moves[i], "thread", mwhere);
      if (!ids.contains(m.thread))
        fail(fmt::format("{} moves thread {}, which is not in the sample", mwhere, m.thread));
      m.from = get_u32(moves[i], "from", mwhere);
      m.to = get_u32(moves[i], "to", mwhere);
      for (uint32_t c : {m.from, m.to})
        if (!contains(h.reactor_cores, c))
          fail(fmt::format("{} names core {}, which is not in the topology (reactor cores {})", mwhere, c,
                           list(h.reactor_cores)));
      if (auto it = moves[i].find("reason"); it != moves[i].end() && it->is_string())
        m.reason = it->get<std::string>();
      r.moves.push_back(std::move(m));
    }
    s.round = std::move(r);
  }
  return s;
}

TraceEnd parse_end(const json& j) {
  TraceEnd e;
  e.samples = get_u64(j, "samples", "the end record");
  const std::string reason = get_str(j, "reason", "the end record");
  if (reason == "duration") {
    e.reason = TraceEndReason::Duration;
  } else if (reason == "signal") {
    e.reason = TraceEndReason::Signal;
  } else if (reason == "daemon-gone") {
    e.reason = TraceEndReason::DaemonGone;
  } else {
    fail(fmt::format("'reason' in the end record is '{}', not duration, signal or daemon-gone", reason));
  }
  return e;
}

json parse_json(const std::string& line) {
  if (line.empty()) fail("empty line");
  try {
    return json::parse(line);
  } catch (const json::parse_error& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
    fail(fmt::format("not JSON: {}", what));
  }
}

Error line_error(const std::string& name, uint64_t line, const std::string& what) {
  return Error{Errc::invalid_argument, fmt::format("{}:{}: {}", name, line, what)};
}

// Reads one line; nullopt at the end of the file. A last line without "\n"
// is an error: the writer died in the middle of it.
Result<std::optional<std::string>> read_line(std::istream& in, const std::string& name, uint64_t line) {
  std::string text;
  if (!std::getline(in, text)) {
    if (in.bad()) return make_error(Errc::io, fmt::format("{}:{}: read error", name, line));
    return std::optional<std::string>{};
  }
  if (in.eof()) return tl::unexpected(line_error(name, line, "truncated line (no newline at end of file)"));
  return std::optional<std::string>{std::move(text)};
}

}  // namespace

std::string_view to_string(TraceEndReason reason) noexcept {
  switch (reason) {
    case TraceEndReason::Duration: return "duration";
    case TraceEndReason::Signal: return "signal";
    case TraceEndReason::DaemonGone: return "daemon-gone";
  }
  return "duration";
}

const TraceCore* TraceHeader::find_core(uint32_t core) const noexcept {
  auto it = std::lower_bound(cores.begin(), cores.end(), core,
                             [](const TraceCore& c, uint32_t id) { return c.id < id; });
  return it != cores.end() && it->id == core ? &*it : nullptr;
}

std::string check_header(const TraceHeader& h) {
  if (h.version != kTraceVersion) return fmt::format("version {} is not supported ({})", h.version, kTraceVersion);
  if (h.source.tool.empty()) return "'tool' in source is empty";
  if (h.tick_rate == 0) return "'tick_rate' in the header is 0";
  if (h.interval_us == 0) return "'interval_us' in the header is 0";
  if (h.cores.empty()) return "the topology has no cores";
  for (size_t i = 1; i < h.cores.size(); ++i)
    if (h.cores[i - 1].id >= h.cores[i].id)
      return fmt::format("topology core {} follows core {} (ascending ids, once each)", h.cores[i].id,
                         h.cores[i - 1].id);
  for (const TraceCore& c : h.cores) {
    if (std::find(c.smt_siblings.begin(), c.smt_siblings.end(), c.id) == c.smt_siblings.end())
      return fmt::format("topology core {}: smt_siblings does not include the core itself", c.id);
    for (uint32_t s : c.smt_siblings)
      if (h.find_core(s) == nullptr)
        return fmt::format("topology core {}: SMT sibling {} is not in the topology", c.id, s);
  }
  if (h.reactor_cores.empty()) return "'reactor_cores' in the header is empty";
  if (!strictly_ascending(h.reactor_cores)) return "'reactor_cores' must be in ascending order, once each";
  for (uint32_t c : h.reactor_cores)
    if (h.find_core(c) == nullptr) return fmt::format("reactor core {} is not in the topology", c);
  for (uint32_t c : h.isolated)
    if (!contains(h.reactor_cores, c)) return fmt::format("isolated core {} is not a reactor core", c);
  if (!contains(h.reactor_cores, h.main_core))
    return fmt::format("main core {} is not a reactor core ({})", h.main_core, list(h.reactor_cores));
  if (auto kind = parse_policy_name(h.scheduler.policy); !kind)
    return fmt::format("'policy' in scheduler: {}", kind.error().message);
  for (uint32_t pct : {h.scheduler.load_limit, h.scheduler.core_limit, h.scheduler.core_busy})
    if (pct > 100) return fmt::format("scheduler percentage {} is above 100", pct);
  return {};
}

std::string format_header(const TraceHeader& h) {
  ojson cores = ojson::array();
  for (const TraceCore& c : h.cores)
    cores.push_back(ojson{{"id", c.id}, {"package", c.package}, {"numa_node", c.numa_node},
                          {"smt_siblings", c.smt_siblings}});
  ojson topo = ojson::object();
  if (h.synthetic) topo["synthetic"] = *h.synthetic;
  topo["cores"] = std::move(cores);
  ojson j = {{"format", kTraceFormat},
             {"version", h.version},
             {"source", {{"tool", h.source.tool}, {"pid", h.source.pid}, {"host", h.source.host},
                         {"started", h.source.started}}},
             {"tick_rate", h.tick_rate},
             {"interval_us", h.interval_us},
             {"topology", std::move(topo)},
             {"reactor_cores", h.reactor_cores},
             {"isolated", h.isolated},
             {"main_core", h.main_core},
             {"baseline", mode_name(h.baseline)},
             {"scheduler", {{"policy", h.scheduler.policy}, {"period_us", h.scheduler.period_us},
                            {"load_limit", h.scheduler.load_limit}, {"core_limit", h.scheduler.core_limit},
                            {"core_busy", h.scheduler.core_busy}}}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string format_sample(const TraceSample& s) {
  ojson round = nullptr;
  if (s.round) {
    ojson moves = ojson::array();
    for (const TraceMove& m : s.round->moves)
      moves.push_back(ojson{{"thread", m.thread}, {"from", m.from}, {"to", m.to}, {"reason", m.reason}});
    round = ojson{{"seq", s.round->seq}, {"policy", s.round->policy}, {"moves", std::move(moves)}};
  }
  ojson cores = ojson::array();
  for (const TraceCoreSample& c : s.cores) {
    ojson freq = nullptr;
    if (c.freq_khz) freq = *c.freq_khz;
    cores.push_back(ojson{{"id", c.id}, {"busy", c.busy}, {"idle", c.idle}, {"mode", mode_name(c.mode)},
                          {"freq_khz", std::move(freq)}, {"threads", c.threads}, {"stalled", c.stalled}});
  }
  ojson threads = ojson::array();
  for (const TraceThreadSample& t : s.threads)
    threads.push_back(ojson{{"id", t.id}, {"name", t.name}, {"core", t.core}, {"home", t.home},
                            {"cpumask", t.cpumask}, {"busy", t.busy}, {"idle", t.idle},
                            {"rounds_since_move", t.rounds_since_move}});
  ojson j = {{"type", "sample"},      {"seq", s.seq},         {"t_us", s.t_us},
             {"ticks", s.ticks},      {"round", std::move(round)}, {"cores", std::move(cores)},
             {"threads", std::move(threads)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string format_end(const TraceEnd& e) {
  ojson j = {{"type", "end"}, {"samples", e.samples}, {"reason", to_string(e.reason)}};
  return j.dump() + "\n";
}

// ---- reader ----

TraceReader::TraceReader(std::istream& in, std::string name, TraceHeader header, uint64_t line)
    : in_(in), name_(std::move(name)), header_(std::move(header)), line_(line) {}

TraceReader::~TraceReader() = default;

Result<std::unique_ptr<TraceReader>> TraceReader::open(std::istream& in, std::string name) {
  auto first = read_line(in, name, 1);
  if (!first) return tl::unexpected(first.error());
  if (!*first) return make_error(Errc::invalid_argument, fmt::format("{}: empty file (no header)", name));
  try {
    TraceHeader h = parse_header(parse_json(**first));
    return std::make_unique<TraceReader>(in, std::move(name), std::move(h), 1);
  } catch (const LineError& e) {
    return tl::unexpected(line_error(name, 1, e.what()));
  } catch (const json::exception& e) {
    return tl::unexpected(line_error(name, 1, e.what()));
  }
}

Result<std::optional<TraceSample>> TraceReader::next() {
  if (done_) return std::optional<TraceSample>{};
  auto text = read_line(in_, name_, line_ + 1);
  if (!text) return tl::unexpected(text.error());
  if (!*text)
    return make_error(Errc::invalid_argument,
                      fmt::format("{}: ends after line {} without its end record: truncated?", name_, line_));
  ++line_;
  try {
    json j = parse_json(**text);
    const std::string type = get_str(j, "type", fmt::format("line {}", line_));
    if (type == "end") {
      end_ = parse_end(j);
      if (end_.samples != samples_)
        fail(fmt::format("the end record counts {} samples, the trace has {}", end_.samples, samples_));
      done_ = true;
      auto extra = read_line(in_, name_, line_ + 1);
      if (!extra) return tl::unexpected(extra.error());
      if (*extra) return tl::unexpected(line_error(name_, line_ + 1, "a line after the end record"));
      return std::optional<TraceSample>{};
    }
    if (type != "sample") fail(fmt::format("unknown record type '{}' (sample or end)", type));
    TraceSample s = parse_sample(j, header_);
    if (s.seq != samples_) {
      if (samples_ == 0) fail(fmt::format("the first sample has seq {} (expected 0)", s.seq));
      if (s.seq < samples_)
        fail(fmt::format("sample seq {} follows seq {}", s.seq, samples_ - 1));
      fail(fmt::format("sample seq {} follows seq {}: {} sample(s) missing", s.seq, samples_ - 1,
                       s.seq - samples_));
    }
    if (s.t_us < last_t_us_) fail(fmt::format("sample {} has t_us {}, before the previous {}", s.seq, s.t_us, last_t_us_));
    last_t_us_ = s.t_us;
    ++samples_;
    return std::optional<TraceSample>{std::move(s)};
  } catch (const LineError& e) {
    return tl::unexpected(line_error(name_, line_, e.what()));
  } catch (const json::exception& e) {
    return tl::unexpected(line_error(name_, line_, e.what()));
  }
}

Result<Trace> parse_trace(std::istream& in, std::string_view name) {
  auto reader = TraceReader::open(in, std::string(name));
  if (!reader) return tl::unexpected(reader.error());
  Trace trace;
  trace.header = (*reader)->header();
  for (;;) {
    auto s = (*reader)->next();
    if (!s) return tl::unexpected(s.error());
    if (!*s) break;
    trace.samples.push_back(std::move(**s));
  }
  trace.end = (*reader)->end();
  return trace;
}

Result<Trace> read_trace(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::io, fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  return parse_trace(in, path);
}

// ---- writer ----

namespace {

Result<void> write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(Errc::io, fmt::format("cannot write {}: {}", what, std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace

TraceWriter::TraceWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

TraceWriter::~TraceWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<TraceWriter>> TraceWriter::create(const std::string& path, const TraceHeader& header) {
  if (std::string problem = check_header(header); !problem.empty())
    return make_error(Errc::invalid_argument, fmt::format("bad trace header: {}", problem));
  if (path.empty()) return make_error(Errc::invalid_argument, "the trace path is empty");
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmp = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + "." +
                    path.substr(slash == std::string::npos ? 0 : slash + 1) + ".XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0)
    return make_error(Errc::io, fmt::format("cannot create a temporary file in {}: {}", dir, std::strerror(errno)));
  auto undo = [&](Error e) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return tl::unexpected(std::move(e));
  };
  if (::fchmod(fd, 0644) != 0)
    return undo(Error{Errc::io, fmt::format("cannot chmod {}: {}", tmp, std::strerror(errno))});
  if (auto w = write_all(fd, format_header(header), tmp); !w) return undo(w.error());
  if (::fsync(fd) != 0) return undo(Error{Errc::io, fmt::format("cannot sync {}: {}", tmp, std::strerror(errno))});
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return undo(Error{Errc::io, fmt::format("cannot create {}: {}", path, std::strerror(errno))});
  return std::make_unique<TraceWriter>(fd, path);
}

Result<void> TraceWriter::write_line(const std::string& line) { return write_all(fd_, line, path_); }

Result<void> TraceWriter::write_sample(const TraceSample& sample) {
  if (ended_) return make_error(Errc::invalid_argument, fmt::format("{}: the end record is written already", path_));
  if (sample.seq != samples_)
    return make_error(Errc::invalid_argument,
                      fmt::format("{}: sample seq {} written after {} samples", path_, sample.seq, samples_));
  if (sample.t_us < last_t_us_)
    return make_error(Errc::invalid_argument,
                      fmt::format("{}: sample t_us {} is before the previous {}", path_, sample.t_us, last_t_us_));
  if (auto w = write_line(format_sample(sample)); !w) return w;
  ++samples_;
  last_t_us_ = sample.t_us;
  return {};
}

Result<void> TraceWriter::write_end(TraceEndReason reason) {
  if (ended_) return make_error(Errc::invalid_argument, fmt::format("{}: the end record is written already", path_));
  if (auto w = write_line(format_end(TraceEnd{samples_, reason})); !w) return w;
  ended_ = true;
  if (::fsync(fd_) != 0)
    return make_error(Errc::io, fmt::format("cannot sync {}: {}", path_, std::strerror(errno)));
  return {};
}

}  // namespace reactor::sim
