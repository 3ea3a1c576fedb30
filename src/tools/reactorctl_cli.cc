// reactorctl: the operator CLI of reactord.
//
// Shape of a run:
//   1. parse argv with CLI11; bad usage -> one line on stderr, exit 2;
//   2. check what can be checked locally (percentages, policy names,
//      mappings syntax) -> one line, exit 2, nothing sent;
//   3. connect (bounded by --timeout) and make the subcommand's calls, each
//      bounded by --timeout; the first failure -> one line naming the
//      subcommand and the cause (with the RPC code for a server error),
//      exit 1;
//   4. print the raw result (--json) or the tables of reactorctl_format.
// Calls that only enrich the human output (the governor, the history, a
// thread's home core) are optional: a server that does not know them (SPDK,
// or a daemon still starting) gives a shorter table, not an error. A
// transport failure on them is still a failure, since the connection is gone.
// Nothing here is global: everything hangs off run()'s locals, so tests call
// run() in-process, many times.

#include "tools/reactorctl_cli.hh"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>
#include <ostream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <reactor/policy.hh>

#include "rpc/client.hh"
#include "rpc/socket_path.hh"
#include "tools/atomic_file.hh"
#include "tools/reactorctl_format.hh"
#include "tools/reactorctl_record.hh"
#include "tools/reactorctl_top.hh"

namespace reactor::ctl {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// Largest --interval: two samples further apart than this are a mistake.
constexpr uint64_t kMaxIntervalMs = 3600 * 1000;
// Largest --timeout: a day; anything longer is "wait forever", which a
// script should not do by accident.
constexpr double kMaxTimeoutS = 86400;

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return printable(s);  // a daemon's message must not send terminal commands
}

// One connection to the daemon plus the error reporting every subcommand
// shares.
class Session {
 public:
  Session(std::string socket, milliseconds timeout, double timeout_s, std::ostream& err)
      : socket_(std::move(socket)), timeout_(timeout), timeout_s_(timeout_s), err_(err) {}

  void trust_uid(uid_t uid) { client_.trust_uid(uid); }

  bool connect() {
    auto r = client_.connect(socket_, timeout_);
    if (!r) {
      fail(r.error().message);
      return false;
    }
    return true;
  }

  // A call whose failure fails the subcommand `what`.
  // `report_timeout` false: a timeout is left for the caller to word.
  std::optional<json> call(std::string_view what, std::string_view method,
                           const std::optional<json>& params = std::nullopt, bool report_timeout = true) {
    auto r = client_.call(method, params, timeout_);
    if (r) return std::move(*r);
    timed_out_ = !r.error().rpc_code && r.error().code == Errc::timeout;
    if (!timed_out_ || report_timeout) report(what, r.error());
    return std::nullopt;
  }

  // A call whose failure the caller words itself (record).
  rpc::RpcResult<json> raw_call(std::string_view method, const std::optional<json>& params) {
    return client_.call(method, params, timeout_);
  }

  // The last call() failed because no answer came within --timeout.
  bool timed_out() const noexcept { return timed_out_; }
  double timeout_s() const noexcept { return timeout_s_; }

  // A call that only enriches the output: an error answer is ignored; a
  // transport failure is reported (the connection is closed by then).
  std::optional<json> optional_call(std::string_view what, std::string_view method) {
    if (failed_) return std::nullopt;
    auto r = client_.call(method, std::nullopt, timeout_);
    if (r) return std::move(*r);
    if (!r.error().rpc_code) report(what, r.error());
    return std::nullopt;
  }

  // One line on stderr; only the first failure is printed.
  void fail(std::string_view message) {
    if (failed_) return;
    failed_ = true;
    err_ << "reactorctl: " << one_line(std::string(message)) << '\n';
  }

  bool failed() const noexcept { return failed_; }

 private:
  void report(std::string_view what, const rpc::RpcError& e) {
    const std::string message = one_line(e.message);
    if (e.rpc_code)
      fail(fmt::format("{} failed: {} (code {})", what, message, *e.rpc_code));
    else if (e.code == Errc::timeout)
      fail(fmt::format("{} timed out: {} (--timeout {}s)", what, message, timeout_s_));
    else
      fail(fmt::format("{} failed: {}", what, message));
  }

  std::string socket_;
  milliseconds timeout_;
  double timeout_s_;
  std::ostream& err_;
  rpc::RpcClient client_;
  bool failed_ = false;
  bool timed_out_ = false;
};

// The top-level result of `method` must be a JSON object.
bool expect_object(Session& s, std::string_view what, std::string_view method, const json& v) {
  if (v.is_object()) return true;
  std::string text = v.dump();
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  s.fail(fmt::format("{} failed: unexpected reply to {}: {}", what, method, text));
  return false;
}

void print_json(std::ostream& out, const json& v) { out << v.dump(2) << '\n'; }

bool every_thread_has_home(const json& reactors) {
  const auto it = reactors.find("reactors");
  if (it == reactors.end() || !it->is_array()) return true;
  for (const auto& r : *it) {
    const auto lw = r.find("lw_threads");
    if (lw == r.end() || !lw->is_array()) continue;
    for (const auto& t : *lw)
      if (!t.is_object() || (!t.contains("home_lcore") && !t.contains("home_core") &&
                             !t.contains("home")))
        return false;
  }
  return true;
}

struct Globals {
  std::string socket;  // empty until parsed: the default then (rpc::default_socket_path)
  std::vector<uint32_t> trust_uids;
  bool json_out = false;
  double timeout_s = 10;
};

// ---- subcommands ----

int cmd_switch(Session& s, const Globals& g, const json& params, std::ostream& out) {
  auto r = s.call("switch", "framework_set_scheduler", params, /*report_timeout=*/false);
  if (!r && s.timed_out()) {
    // The request went out: the daemon may still apply it (it never stops a
    // switch half way), so this is not "failed".
    s.fail(fmt::format("switch timed out after {} s: the switch may still complete, check `reactorctl status`",
                       s.timeout_s()));
    return kExitSwitchTimedOut;
  }
  if (!r) return kExitFailure;
  if (g.json_out) {
    print_json(out, *r);
    return kExitOk;
  }
  auto sched = s.optional_call("switch", "framework_get_scheduler");
  auto history = s.optional_call("switch", "scheduler_get_history");
  if (!sched || !sched->is_object()) {
    out << "switched to " << params.value("name", std::string("?")) << '\n';
    return kExitOk;  // the switch itself succeeded
  }
  out << format_switch_summary(*sched, history ? last_transition(*history) : nullptr);
  return kExitOk;
}

// save_config's document with SPDK's member order (subsystem before config,
// method before params); anything else is printed as received.
std::string config_text(const json& doc) {
  using ojson = nlohmann::ordered_json;
  const auto subs = doc.find("subsystems");
  if (!doc.is_object() || doc.size() != 1 || subs == doc.end() || !subs->is_array()) return doc.dump(2) + "\n";
  ojson out_subs = ojson::array();
  for (const json& sub : *subs) {
    if (!sub.is_object() || sub.size() != 2 || !sub.contains("subsystem") || !sub.contains("config"))
      return doc.dump(2) + "\n";
    ojson o;
    o["subsystem"] = sub["subsystem"];
    ojson config = sub["config"].is_array() ? ojson::array() : ojson(sub["config"]);
    if (sub["config"].is_array())
      for (const json& e : sub["config"]) {
        if (!e.is_object() || !e.contains("method")) return doc.dump(2) + "\n";
        ojson oe;
        oe["method"] = e["method"];
        if (e.contains("params")) oe["params"] = e["params"];
        config.push_back(std::move(oe));
      }
    o["config"] = std::move(config);
    out_subs.push_back(std::move(o));
  }
  ojson out;
  out["subsystems"] = std::move(out_subs);
  return out.dump(2) + "\n";
}

// save_config -> `file` (atomically) or, without one, stdout.
// With `quiet` (switch --persist --json) a written file is not announced, so
// stdout stays one JSON document.
int cmd_save_config(Session& s, std::string_view what, const std::string& file, std::ostream& out,
                    bool quiet = false) {
  auto r = s.call(what, "save_config");
  if (!r || !expect_object(s, what, "save_config", *r)) return kExitFailure;
  const std::string text = config_text(*r);
  if (file.empty()) {
    out << text;
    return kExitOk;
  }
  if (auto w = tools::write_file_atomically(file, text); !w) {
    s.fail(fmt::format("{} failed: {}", what, w.error().message));
    return kExitFailure;
  }
  if (!quiet) out << "configuration saved to " << file << " (reactord --config " << file << " restores it)\n";
  return kExitOk;
}

int cmd_status(Session& s, const Globals& g, std::ostream& out) {
  auto sched = s.call("status", "framework_get_scheduler");
  if (!sched || !expect_object(s, "status", "framework_get_scheduler", *sched)) return kExitFailure;
  if (g.json_out) {
    print_json(out, *sched);
    return kExitOk;
  }
  auto governor = s.optional_call("status", "framework_get_governor");
  auto reactors = s.optional_call("status", "framework_get_reactors");
  auto history = s.optional_call("status", "scheduler_get_history");
  if (s.failed()) return kExitFailure;
  auto obj = [](const std::optional<json>& v) { return v && v->is_object() ? &*v : nullptr; };
  out << format_status(*sched, obj(governor), obj(reactors),
                       history && (history->is_object() || history->is_array()) ? &*history
                                                                                 : nullptr);
  return kExitOk;
}

int cmd_reactors(Session& s, const Globals& g, uint64_t interval_ms, std::ostream& out,
                 const FormatOptions& fo) {
  // reactor_get_reactor_stats (reactor's own: overhead) is sampled beside
  // framework_get_reactors when the daemon has it; SPDK and older daemons
  // answer "method not found" and the table has no OVERHEAD% column.
  auto obj = [](const std::optional<json>& v) { return v && v->is_object() ? &*v : nullptr; };
  std::optional<json> before, extra_before;
  if (interval_ms != 0) {
    before = s.call("reactors", "framework_get_reactors");
    if (!before || !expect_object(s, "reactors", "framework_get_reactors", *before))
      return kExitFailure;
    if (!g.json_out) extra_before = s.optional_call("reactors", "reactor_get_reactor_stats");
    if (s.failed()) return kExitFailure;
    std::this_thread::sleep_for(milliseconds(interval_ms));
  }
  auto now = s.call("reactors", "framework_get_reactors");
  if (!now || !expect_object(s, "reactors", "framework_get_reactors", *now)) return kExitFailure;
  if (g.json_out) {
    print_json(out, *now);
    return kExitOk;
  }
  // Only with an interval when the first sample had it too (same window).
  std::optional<json> extra;
  if (interval_ms == 0 || obj(extra_before) != nullptr)
    extra = s.optional_call("reactors", "reactor_get_reactor_stats");
  std::optional<json> stats;
  if (!every_thread_has_home(*now)) stats = s.optional_call("reactors", "thread_get_stats");
  if (s.failed()) return kExitFailure;
  out << format_reactors(*now, before ? &*before : nullptr, obj(stats), fo,
                         ReactorStatsSamples{obj(extra), obj(extra_before)});
  return kExitOk;
}

int cmd_threads(Session& s, const Globals& g, uint64_t interval_ms, std::ostream& out,
                const FormatOptions& fo) {
  std::optional<json> before;
  if (interval_ms != 0) {
    before = s.call("threads", "thread_get_stats");
    if (!before || !expect_object(s, "threads", "thread_get_stats", *before)) return kExitFailure;
    std::this_thread::sleep_for(milliseconds(interval_ms));
  }
  auto now = s.call("threads", "thread_get_stats");
  if (!now || !expect_object(s, "threads", "thread_get_stats", *now)) return kExitFailure;
  if (g.json_out) {
    print_json(out, *now);
    return kExitOk;
  }
  auto reactors = s.optional_call("threads", "framework_get_reactors");
  if (s.failed()) return kExitFailure;
  out << format_threads(*now, before ? &*before : nullptr,
                        reactors && reactors->is_object() ? &*reactors : nullptr, fo);
  return kExitOk;
}

// A subcommand that is one call and one table.
template <class Format>
int cmd_simple(Session& s, const Globals& g, std::string_view what, std::string_view method,
               std::ostream& out, Format format) {
  auto r = s.call(what, method);
  if (!r) return kExitFailure;
  if (g.json_out) {
    print_json(out, *r);
    return kExitOk;
  }
  if (!expect_object(s, what, method, *r)) return kExitFailure;
  out << format(*r);
  return kExitOk;
}

int cmd_history(Session& s, const Globals& g, std::size_t rounds, std::ostream& out) {
  auto r = s.call("history", "scheduler_get_history");
  if (!r) return kExitFailure;
  if (g.json_out) {
    print_json(out, *r);
    return kExitOk;
  }
  if (!r->is_object() && !r->is_array()) {
    s.fail(fmt::format("history failed: unexpected reply to scheduler_get_history: {}", r->dump()));
    return kExitFailure;
  }
  out << format_history(*r, rounds);
  return kExitOk;
}

// One sample of `reactorctl top`: reactors and threads are required, pollers
// and the scheduler only enrich the view.
bool top_sample(Session& s, TopSample& out) {
  auto reactors = s.call("top", "framework_get_reactors");
  if (!reactors || !expect_object(s, "top", "framework_get_reactors", *reactors)) return false;
  auto threads = s.call("top", "thread_get_stats");
  if (!threads || !expect_object(s, "top", "thread_get_stats", *threads)) return false;
  auto pollers = s.optional_call("top", "thread_get_pollers");
  auto sched = s.optional_call("top", "framework_get_scheduler");
  if (s.failed()) return false;
  out.reactors = std::move(*reactors);
  out.threads = std::move(*threads);
  out.pollers = pollers ? std::move(*pollers) : json();
  out.scheduler = sched ? std::move(*sched) : json();
  return true;
}

// CLI11 validators with plain messages ("" = valid).
std::string seconds_check(const std::string& text) {
  double v = 0;
  if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || v <= 0 || v > kMaxTimeoutS)
    return fmt::format("'{}' is not a number of seconds in (0, {}]", text, kMaxTimeoutS);
  return {};
}

// Strict decimal: CLI11 reads "-5" into a uint64_t by wrapping around and
// saturates on overflow, so the validators parse for themselves.
bool parse_unsigned(const std::string& text, uint64_t& v) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  return !text.empty() && ec == std::errc() && ptr == end;
}

std::string interval_check(const std::string& text) {
  uint64_t v = 0;
  if (!parse_unsigned(text, v) || v == 0 || v > kMaxIntervalMs)
    return fmt::format("'{}' is not a number of milliseconds in 1..{}", text, kMaxIntervalMs);
  return {};
}

// Seconds of a recording: a finite number in (0, one year].
std::string duration_check(const std::string& text) {
  double v = 0;
  if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || v <= 0 || v > 365.0 * 24 * 3600)
    return fmt::format("'{}' is not a number of seconds in (0, 31536000]", text);
  return {};
}

std::string period_check(const std::string& text) {
  uint64_t v = 0;
  if (!parse_unsigned(text, v))
    return fmt::format("'{}' is not a number of microseconds (0..2^64-1)", text);
  return {};
}

// Milliseconds for a validated --timeout (at least 1).
milliseconds timeout_ms(double seconds) {
  return milliseconds(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(seconds * 1000.0))));
}

}  // namespace

Result<json> switch_params(const SwitchRequest& req) {
  auto kind = parse_policy_name(req.policy);
  if (!kind)
    return make_error(Errc::invalid_argument,
                      fmt::format("unknown policy '{}'; known: static, dynamic, global "
                                  "(alias of gscheduler)",
                                  req.policy));
  json p = json::object();
  p["name"] = std::string(policy_name(*kind));
  if (req.period_us) p["period"] = *req.period_us;
  const std::pair<const char*, const std::optional<int64_t>*> pcts[] = {
      {"load_limit", &req.load_limit}, {"core_limit", &req.core_limit}, {"core_busy", &req.core_busy}};
  for (const auto& [key, value] : pcts) {
    if (!value->has_value()) continue;
    std::string flag = fmt::format("--{}", key);
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (**value < 0 || **value > 100)
      return make_error(Errc::invalid_argument,
                        fmt::format("{} {} is not a percentage (0..100)", flag, **value));
    if (*kind != PolicyKind::Dynamic)
      return make_error(Errc::invalid_argument,
                        fmt::format("{} applies to the dynamic policy only, not {}", flag,
                                    policy_name(*kind)));
    p[key] = **value;
  }
  const std::pair<const char*, const std::optional<std::string>*> flags[] = {
      {"numa_local", &req.numa_local}, {"smt_last", &req.smt_last}, {"keep_asleep", &req.keep_asleep},
      {"main_room", &req.main_room}};
  for (const auto& [key, value] : flags) {
    if (!value->has_value()) continue;
    std::string flag = fmt::format("--{}", key);
    std::replace(flag.begin(), flag.end(), '_', '-');
    const std::string& v = **value;
    bool on = false;
    if (v == "on" || v == "true") on = true;
    else if (v != "off" && v != "false")
      return make_error(Errc::invalid_argument,
                        fmt::format("{} '{}' is not on, off, true or false", flag, printable(v)));
    if (*kind != PolicyKind::Dynamic)
      return make_error(Errc::invalid_argument,
                        fmt::format("{} applies to the dynamic policy only, not {}", flag, policy_name(*kind)));
    p[key] = on;
  }
  if (req.mappings) {
    if (*kind != PolicyKind::Static)
      return make_error(Errc::invalid_argument,
                        fmt::format("--mappings applies to the static policy only, not {}",
                                    policy_name(*kind)));
    if (auto m = parse_mappings(*req.mappings); !m)
      return make_error(Errc::invalid_argument, fmt::format("--mappings: {}", m.error().message));
    p["mappings"] = *req.mappings;
  }
  return p;
}

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "reactorctl: inspect a running reactord and switch its scheduling policy.\n"
      "Talks JSON-RPC 2.0 (SPDK's framework_* / thread_* methods) over the daemon's Unix socket.",
      "reactorctl"};
  app.fallthrough();  // global options may follow the subcommand
  app.require_subcommand(1);
  Globals g;
  auto* socket_opt = app.add_option("-s,--socket", g.socket,
                                    "reactord's JSON-RPC socket (env REACTOR_SOCKET; default "
                                    "/run/reactor/reactor.sock as root, $XDG_RUNTIME_DIR/reactor.sock "
                                    "otherwise)")
                         ->envname("REACTOR_SOCKET");
  app.add_option("--trust-uid", g.trust_uids,
                 "also accept a daemon running as this uid (repeatable; by default only a daemon of "
                 "your own uid or root is, checked with SO_PEERCRED)")
      ->allow_extra_args(false);
  app.add_flag("--json", g.json_out,
               "print the raw JSON-RPC result (pretty JSON) instead of tables, for scripts");
  app.add_option("--timeout", g.timeout_s,
                 "seconds to wait for the connection and for each reply (default 10)")
      ->check(seconds_check);

  SwitchRequest sw_req;
  uint64_t period_us = 0;
  int64_t load_limit = 0;
  int64_t core_limit = 0;
  int64_t core_busy = 0;
  std::string mappings;
  auto* sw = app.add_subcommand(
      "switch", "switch the scheduling policy (framework_set_scheduler); options not given keep "
                "their committed values");
  sw->add_option("policy", sw_req.policy, "static | dynamic | global (alias: gscheduler)")
      ->required();
  auto* o_period = sw->add_option("--period-us", period_us,
                                  "balancing period in microseconds (dynamic, global)")
                       ->check(period_check);
  auto* o_load = sw->add_option("--load-limit", load_limit,
                                "dynamic: a thread below this busy % is idle (0..100)");
  auto* o_core = sw->add_option("--core-limit", core_limit,
                                "dynamic: do not fill a core past this busy % (0..100)");
  auto* o_busy = sw->add_option("--core-busy", core_busy,
                                "dynamic: a core past this busy % is overloaded (0..100)");
  std::string numa_local, smt_last, keep_asleep, main_room;
  auto* o_numa = sw->add_option("--numa-local", numa_local,
                                "dynamic: on|off, keep a busy thread on its NUMA node while it has room");
  auto* o_smt = sw->add_option("--smt-last", smt_last,
                               "dynamic: on|off, fill an awake physical core's idle hyperthread before waking "
                               "a whole physical core");
  auto* o_asleep = sw->add_option("--keep-asleep", keep_asleep,
                                  "dynamic: on|off, do not wake a sleeping core for a thread that fits on an "
                                  "awake one");
  auto* o_room = sw->add_option("--main-room", main_room,
                                "dynamic: on|off, send an idle thread to the main core only while main has "
                                "room for it (stays under core_limit)");
  auto* o_map = sw->add_option("--mappings", mappings,
                               "static: home cores, \"<thread_id>:<core>[,<thread_id>:<core>...]\"");
  std::string persist_file;
  auto* o_persist = sw->add_option("--persist", persist_file,
                                   "after the switch, save the whole configuration to FILE as save-config "
                                   "does (for reactord --config FILE)");
  std::string save_file;
  auto* save = app.add_subcommand(
      "save-config", "print the daemon's configuration (save_config: main core, isolated cores, mode, "
                     "policy, period, limits) or write it atomically to FILE, for reactord --config FILE");
  save->add_option("file", save_file, "file to write (replaced atomically); default: stdout");

  app.add_subcommand("status", "policy, period, options, governor, main core, isolated cores, "
                               "reactors and the last switch");
  uint64_t interval_ms = 0;
  auto* reactors = app.add_subcommand(
      "reactors", "reactors (mode, busy %, CPU time) and where each thread runs vs its home core");
  reactors->add_option("--interval", interval_ms,
                       "busy % over MS milliseconds (two samples) instead of since start")
      ->check(interval_check);
  auto* threads = app.add_subcommand("threads", "lightweight threads: core, cpumask, busy %, pollers");
  threads->add_option("--interval", interval_ms,
                      "busy % over MS milliseconds (two samples) instead of since start")
      ->check(interval_check);
  app.add_subcommand("pollers", "pollers of every thread (thread_get_pollers)");
  uint64_t top_interval_ms = 1000;
  std::string top_sort = "busy";
  bool top_once = false;
  auto* top = app.add_subcommand(
      "top", "live view of cores, threads and pollers (like spdk_top); q or Ctrl-C quits, s changes the sort "
             "key. Without a terminal (or with --once) prints one frame and exits");
  top->add_option("--interval", top_interval_ms, "refresh every MS milliseconds (default 1000); a frame's "
                                                 "busy % and rates are over this interval")
      ->check(interval_check);
  top->add_option("--sort", top_sort, "busy (default), id, name, core or runs (pollers by runs per second)");
  top->add_flag("--once", top_once, "print one frame (two samples --interval apart) and exit");
  app.add_subcommand("governor", "frequency governor and per-core frequencies");
  std::size_t max_rounds = 10;
  auto* history = app.add_subcommand("history", "policy switches and recent scheduling rounds");
  history->add_option("--rounds", max_rounds, "scheduling rounds to show (newest; default 10)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1000000}));
  RecordOptions rec_opts;
  double rec_duration = 0;
  auto* record = app.add_subcommand(
      "record", "record the daemon's load into a trace for reactor-sim (README: Load traces): one sample per "
                "scheduling round while rounds run, else one per --interval; stops after --duration, on "
                "SIGINT/SIGTERM or when the daemon goes away");
  record->add_option("--out", rec_opts.out, "trace file to write (replaced)")->required();
  record->add_option("--interval", rec_opts.interval_ms,
                     "sampling interval in milliseconds when no rounds run (default 1000, at least 10)")
      ->check(interval_check);
  auto* o_duration = record->add_option("--duration", rec_duration, "stop after S seconds (default: until "
                                                                    "SIGINT/SIGTERM or the daemon goes away)")
                         ->check(duration_check);
  std::string call_method;
  std::string call_params;
  auto* call = app.add_subcommand(
      "call", "send any JSON-RPC method and print its result as JSON (e.g. "
              "call scheduler_thread_create '{\"active\":50,\"name\":\"load\"}')");
  call->add_option("method", call_method, "method name")->required();
  call->add_option("params", call_params, "params as JSON text (object or array)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::ParseError& e) {
    err << "reactorctl: " << one_line(e.what()) << " (see reactorctl --help)\n";
    return kExitUsage;
  }

  auto usage = [&](std::string_view message) {
    err << "reactorctl: " << one_line(std::string(message)) << '\n';
    return kExitUsage;
  };

  // Local validation before anything is sent.
  json switch_json;
  if (sw->parsed()) {
    if (o_period->count() > 0) sw_req.period_us = period_us;
    if (o_load->count() > 0) sw_req.load_limit = load_limit;
    if (o_core->count() > 0) sw_req.core_limit = core_limit;
    if (o_busy->count() > 0) sw_req.core_busy = core_busy;
    if (o_numa->count() > 0) sw_req.numa_local = numa_local;
    if (o_smt->count() > 0) sw_req.smt_last = smt_last;
    if (o_asleep->count() > 0) sw_req.keep_asleep = keep_asleep;
    if (o_room->count() > 0) sw_req.main_room = main_room;
    if (o_map->count() > 0) sw_req.mappings = mappings;
    if (o_persist->count() > 0 && persist_file.empty()) return usage("switch: --persist needs a file name");
    auto p = switch_params(sw_req);
    if (!p) return usage(fmt::format("switch: {}", p.error().message));
    switch_json = std::move(*p);
  }
  if (save->parsed() && save->count("file") > 0 && save_file.empty())
    return usage("save-config: the file name is empty");
  std::optional<TopSort> top_sort_key;
  if (top->parsed()) {
    top_sort_key = parse_top_sort(top_sort);
    if (!top_sort_key)
      return usage(fmt::format("top: --sort '{}' is not a sort key (busy, id, name, core, runs)", top_sort));
    if (g.json_out) return usage("top: --json is not supported (use reactors, threads or pollers --json)");
  }
  if (record->parsed()) {
    if (rec_opts.interval_ms < kMinRecordIntervalMs)
      return usage(fmt::format("record: --interval {} ms is below the minimum of {} ms", rec_opts.interval_ms,
                               kMinRecordIntervalMs));
    if (o_duration->count() > 0) rec_opts.duration_s = rec_duration;
    if (g.json_out) return usage("record: --json is not supported (the trace is JSON lines already)");
    if (std::string problem = check_record_path(rec_opts.out); !problem.empty())
      return usage(fmt::format("record: {}", problem));
  }
  std::optional<json> call_json;
  if (call->parsed() && !call_params.empty()) {
    try {
      call_json = json::parse(call_params);
    } catch (const json::exception& e) {
      return usage(fmt::format("call: params are not valid JSON: {}", e.what()));
    }
    if (!call_json->is_object() && !call_json->is_array() && !call_json->is_null())
      return usage("call: params must be a JSON object or array");
  }
  if (socket_opt->count() == 0) {
    auto def = rpc::default_socket_path();
    if (!def) return usage(def.error().message + "; pass -s PATH");
    g.socket = *def;
  }
  if (g.socket.empty()) return usage("--socket is empty");

  Session s(g.socket, timeout_ms(g.timeout_s), g.timeout_s, err);
  for (uint32_t uid : g.trust_uids) s.trust_uid(static_cast<uid_t>(uid));
  // record: an unreachable daemon is a bad argument (exit 2), as the brief of the command says.
  if (!s.connect()) return record->parsed() ? kExitUsage : kExitFailure;

  FormatOptions fo;
  if (const long hz = ::sysconf(_SC_CLK_TCK); hz > 0) fo.clock_ticks_per_s = static_cast<uint64_t>(hz);
  fo.interval_ms = interval_ms;

  if (sw->parsed()) {
    const int rc = cmd_switch(s, g, switch_json, out);
    if (rc != kExitOk || o_persist->count() == 0) return rc;
    return cmd_save_config(s, "switch --persist", persist_file, out, g.json_out);
  }
  if (save->parsed()) return cmd_save_config(s, "save-config", save_file, out);
  if (app.got_subcommand("status")) return cmd_status(s, g, out);
  if (reactors->parsed()) return cmd_reactors(s, g, interval_ms, out, fo);
  if (threads->parsed()) return cmd_threads(s, g, interval_ms, out, fo);
  if (app.got_subcommand("pollers"))
    return cmd_simple(s, g, "pollers", "thread_get_pollers", out,
                      [](const json& v) { return format_pollers(v); });
  if (app.got_subcommand("governor"))
    return cmd_simple(s, g, "governor", "framework_get_governor", out,
                      [](const json& v) { return format_governor(v); });
  if (history->parsed()) return cmd_history(s, g, max_rounds, out);
  if (top->parsed()) {
    TopOptions to;
    to.sort = *top_sort_key;
    to.interval_ms = top_interval_ms;
    to.socket = g.socket;
    // Live only when run() writes to the real stdout and stdin/stdout are a terminal.
    const bool interactive =
        !top_once && &out == &std::cout && ::isatty(STDOUT_FILENO) == 1 && ::isatty(STDIN_FILENO) == 1;
    return run_top([&s](TopSample& t) { return top_sample(s, t); }, to, interactive, out);
  }
  if (record->parsed()) {
    auto call_load = [&s](const json& params) {
      LoadCall c;
      auto r = s.raw_call("scheduler_get_load", params);
      if (r) {
        c.result = std::move(*r);
      } else {
        c.transport = !r.error().rpc_code;
        c.error = r.error().rpc_code ? fmt::format("scheduler_get_load: {} (code {})", one_line(r.error().message),
                                                   *r.error().rpc_code)
                                     : one_line(r.error().message);
      }
      return c;
    };
    return run_record(call_load, rec_opts, out, err);
  }
  if (call->parsed()) {
    auto r = s.call(call_method, call_method, call_json);
    if (!r) return kExitFailure;
    print_json(out, *r);
    return kExitOk;
  }
  return usage("no subcommand given (see reactorctl --help)");
}

}  // namespace reactor::ctl
