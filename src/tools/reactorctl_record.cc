// `reactorctl record`: scheduler_get_load replies -> load trace.
//
//   1. check the arguments and the output directory (exit 2, nothing sent);
//   2. first call (since_round absent): it also makes the daemon keep each
//      round's load from now on; the header comes from it and the file is
//      created holding the header (never a trace without one);
//   3. poll every interval (while the daemon runs rounds: every half period,
//      bounded by the interval, so its bounded history never drops a round
//      before it is read); each reply adds one sample per new round, or one
//      interval sample when no rounds run (each core's and thread's busy +
//      idle capped at the interval's wall time, the excess carried on: see
//      TraceBuilder); every sample is one write;
//   4. stop on --duration, SIGINT/SIGTERM (flag only, no SA_RESTART) or a
//      failed exchange (the daemon went away), write the end record with
//      that reason and print a summary line.

#include "tools/reactorctl_record.hh"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ostream>
#include <thread>
#include <tuple>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace reactor::ctl {

using json = nlohmann::json;

namespace {

bool non_negative_integer(const json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

uint64_t u64(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!non_negative_integer(v)) throw std::runtime_error(fmt::format("'{}' is not a non-negative integer", key));
  return v.get<uint64_t>();
}

uint32_t u32(const json& j, const char* key) {
  const uint64_t v = u64(j, key);
  if (v > UINT32_MAX) throw std::runtime_error(fmt::format("'{}' is out of range", key));
  return static_cast<uint32_t>(v);
}

std::vector<uint32_t> u32_list(const json& j, const char* key) {
  std::vector<uint32_t> out;
  for (const json& v : j.at(key)) {
    if (!non_negative_integer(v) || v.get<uint64_t>() > UINT32_MAX)
      throw std::runtime_error(fmt::format("'{}' holds a value that is not a core id", key));
    out.push_back(v.get<uint32_t>());
  }
  return out;
}

ReactorMode mode_of(const json& j) {
  const std::string m = j.at("mode").get<std::string>();
  if (m == "poll") return ReactorMode::Poll;
  if (m == "interrupt") return ReactorMode::Interrupt;
  throw std::runtime_error(fmt::format("mode '{}' is neither poll nor interrupt", m));
}

uint64_t delta(uint64_t now, uint64_t before) { return now > before ? now - before : 0; }

std::atomic<int> g_record_signal{0};  // set by the handler: the one global of the recorder
extern "C" void record_on_signal(int sig) { g_record_signal.store(sig, std::memory_order_relaxed); }

// SIGINT/SIGTERM set a flag for the scope (restored on every exit).
class SignalScope {
 public:
  SignalScope() {
    g_record_signal.store(0, std::memory_order_relaxed);
    struct sigaction sa {};
    sa.sa_handler = record_on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalScope() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
  bool raised() const noexcept { return g_record_signal.load(std::memory_order_relaxed) != 0; }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

std::string utc_now() {
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", now);
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

}  // namespace

// ---- TraceBuilder ----

Result<TraceBuilder> TraceBuilder::start(const json& first, uint64_t interval_us, std::string host,
                                         std::string started) {
  TraceBuilder b;
  try {
    sim::TraceHeader& h = b.header_;
    const json& proc = first.at("process");
    h.source.tool = proc.at("name").get<std::string>();
    h.source.pid = proc.at("pid").get<int64_t>();
    h.source.host = std::move(host);
    h.source.started = std::move(started);
    h.tick_rate = u64(first, "tick_rate");
    h.interval_us = interval_us;
    for (const json& c : first.at("topology").at("cores")) {
      sim::TraceCore tc;
      tc.id = u32(c, "id");
      tc.package = u32(c, "package");
      tc.numa_node = c.at("numa_node").get<int32_t>();
      tc.smt_siblings = u32_list(c, "smt_siblings");
      h.cores.push_back(std::move(tc));
    }
    h.reactor_cores = u32_list(first, "reactor_cores");
    h.isolated = u32_list(first, "isolated");
    h.main_core = u32(first, "main_core");
    h.baseline = first.at("baseline").get<std::string>() == "interrupt" ? ReactorMode::Interrupt : ReactorMode::Poll;
    const json& s = first.at("scheduler");
    h.scheduler.policy = s.at("policy").get<std::string>();
    h.scheduler.period_us = u64(s, "period_us");
    h.scheduler.load_limit = u32(s, "load_limit");
    h.scheduler.core_limit = u32(s, "core_limit");
    h.scheduler.core_busy = u32(s, "core_busy");
    b.start_tick_ = u64(first, "now");
    b.since_round_ = u64(first, "rounds_total");
    b.period_us_ = h.scheduler.period_us;
    b.rounds_mode_ = h.scheduler.policy != "static" && b.period_us_ != 0;
    b.rebase(first);
  } catch (const std::exception& e) {
    return make_error(Errc::invalid_argument, fmt::format("unexpected reply to scheduler_get_load: {}", e.what()));
  }
  if (std::string problem = sim::check_header(b.header_); !problem.empty())
    return make_error(Errc::invalid_argument, fmt::format("the daemon's state does not make a trace header: {}", problem));
  return b;
}

uint64_t TraceBuilder::t_us(uint64_t tick) const noexcept {
  const uint64_t d = delta(tick, start_tick_);
  return static_cast<uint64_t>(static_cast<long double>(d) * 1e6L / static_cast<long double>(header_.tick_rate));
}

void TraceBuilder::rebase(const json& reply) {
  base_tick_ = u64(reply, "now");
  for (const json& c : reply.at("cores")) {
    CoreBase& b = core_base_[u32(c, "id")];
    b = CoreBase{u64(c, "busy"), u64(c, "idle") + u64(c, "sleep"), u64(c, "loops")};
  }
  std::map<uint64_t, ThreadBase> next;
  for (const json& t : reply.at("threads")) {
    const uint64_t id = u64(t, "id");
    ThreadBase b{u64(t, "busy"), u64(t, "idle"), u32(t, "core"), UINT32_MAX};
    if (auto it = thread_base_.find(id); it != thread_base_.end()) {
      if (it->second.core != b.core) b.samples_since_move = 0;
      else if (it->second.samples_since_move != UINT32_MAX)
        b.samples_since_move = std::min(it->second.samples_since_move + 1, UINT32_MAX - 1);
    }
    next.emplace(id, b);
  }
  thread_base_ = std::move(next);
}

Result<std::vector<sim::TraceSample>> TraceBuilder::next(const json& reply, bool interval_due) {
  std::vector<sim::TraceSample> out;
  try {
    const json& sched = reply.at("scheduler");
    period_us_ = u64(sched, "period_us");
    rounds_mode_ = sched.at("policy").get<std::string>() != "static" && period_us_ != 0;
    rounds_missed_ += u64(reply, "rounds_missed");
    // Current frequencies (rounds do not record them).
    std::map<uint32_t, std::optional<uint64_t>> freq;
    for (const json& c : reply.at("cores")) {
      const json& f = c.at("freq_khz");
      freq[u32(c, "id")] = f.is_null() ? std::nullopt : std::optional<uint64_t>(u64(c, "freq_khz"));
    }
    const json& rounds = reply.at("rounds");
    for (const json& r : rounds) {
      sim::TraceSample s;
      s.seq = seq_;
      s.t_us = std::max(last_t_us_, t_us(u64(r, "at_tick")));
      s.ticks = u64(r, "ticks");
      sim::TraceRound round;
      round.seq = u64(r, "seq");
      round.policy = r.at("policy").get<std::string>();
      for (const json& m : r.at("moves"))
        round.moves.push_back(sim::TraceMove{u64(m, "thread"), u32(m, "from"), u32(m, "to"),
                                             m.at("reason").get<std::string>()});
      s.round = std::move(round);
      const json& load = r.at("load");
      for (const json& c : load.at("cores")) {
        sim::TraceCoreSample cs;
        cs.id = u32(c, "id");
        cs.busy = u64(c, "busy");
        cs.idle = u64(c, "idle");
        cs.mode = mode_of(c);
        cs.freq_khz = freq[cs.id];
        cs.threads = u32(c, "threads");
        cs.stalled = c.at("stalled").get<bool>();
        s.cores.push_back(cs);
      }
      for (const json& t : load.at("threads"))
        s.threads.push_back(sim::TraceThreadSample{u64(t, "id"), t.at("name").get<std::string>(), u32(t, "core"),
                                                   u32(t, "home"), u32_list(t, "cpumask"), u64(t, "busy"),
                                                   u64(t, "idle"), u32(t, "rounds_since_move")});
      since_round_ = std::max(since_round_, round.seq);
      last_t_us_ = s.t_us;
      ++seq_;
      ++rounds_;
      out.push_back(std::move(s));
    }
    since_round_ = std::max(since_round_, u64(reply, "rounds_total"));
    if (!out.empty()) {
      rebase(reply);
      return out;
    }
    // While rounds run, samples come from rounds only; the counters' baseline
    // stays at the last sample, so an interval sample after a switch to
    // static covers the time since that sample.
    if (rounds_mode_ || !interval_due) return out;
    // An interval sample: deltas of the cumulative counters since the previous
    // one, capped at the interval's wall time (see the class comment).
    const uint64_t now = u64(reply, "now");
    sim::TraceSample s;
    s.seq = seq_;
    s.t_us = std::max(last_t_us_, t_us(now));
    s.ticks = delta(now, base_tick_);
    const uint64_t wall = s.ticks;
    std::map<uint32_t, std::pair<uint64_t, uint64_t>> core_reached;    // id -> busy, idle baselines
    std::map<uint64_t, std::pair<uint64_t, uint64_t>> thread_reached;  // id -> busy, idle baselines
    for (const json& c : reply.at("cores")) {
      sim::TraceCoreSample cs;
      cs.id = u32(c, "id");
      const uint64_t busy = u64(c, "busy");
      const uint64_t idle = u64(c, "idle") + u64(c, "sleep");
      const uint64_t loops = u64(c, "loops");
      const CoreBase b = core_base_.count(cs.id) ? core_base_[cs.id] : CoreBase{};
      cs.busy = std::min(delta(busy, b.busy), wall);
      cs.idle = std::min(delta(idle, b.idle), wall - cs.busy);
      core_reached[cs.id] = {b.busy + cs.busy, b.idle + cs.idle};
      cs.mode = mode_of(c);
      cs.freq_khz = freq[cs.id];
      cs.threads = u32(c, "threads");
      // As the scheduler's snapshot: no pass while awake since the previous sample.
      cs.stalled = loops != 0 && loops == b.loops && !c.at("sleeping").get<bool>();
      s.cores.push_back(cs);
    }
    for (const json& t : reply.at("threads")) {
      sim::TraceThreadSample ts{u64(t, "id"), t.at("name").get<std::string>(), u32(t, "core"), u32(t, "home"),
                                u32_list(t, "cpumask"), u64(t, "busy"), u64(t, "idle"), UINT32_MAX};
      ThreadBase b{};  // a thread new since the previous sample: its counters since spawn
      if (auto it = thread_base_.find(ts.id); it != thread_base_.end()) {
        b = it->second;
        if (it->second.core != ts.core) ts.rounds_since_move = 0;
        else if (it->second.samples_since_move != UINT32_MAX)
          ts.rounds_since_move = std::min(it->second.samples_since_move + 1, UINT32_MAX - 1);
      }
      ts.busy = std::min(delta(ts.busy, b.busy), wall);
      ts.idle = std::min(delta(ts.idle, b.idle), wall - ts.busy);
      thread_reached[ts.id] = {b.busy + ts.busy, b.idle + ts.idle};
      s.threads.push_back(std::move(ts));
    }
    last_t_us_ = s.t_us;
    ++seq_;
    out.push_back(std::move(s));
    rebase(reply);
    // The busy/idle baselines advance by what was reported, not to the
    // counters: what a cap held back stays counted for the next sample.
    for (const auto& [id, r] : core_reached) std::tie(core_base_[id].busy, core_base_[id].idle) = r;
    for (const auto& [id, r] : thread_reached) std::tie(thread_base_[id].busy, thread_base_[id].idle) = r;
  } catch (const std::exception& e) {
    return make_error(Errc::invalid_argument, fmt::format("unexpected reply to scheduler_get_load: {}", e.what()));
  }
  return out;
}

// ---- the command ----

std::string check_record_path(const std::string& path) {
  if (path.empty()) return "--out is empty";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return fmt::format("--out {} is a directory, not a file", path);
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fmt::format("--out {}: directory {} does not exist", path, dir);
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return fmt::format("--out {}: directory {} is not writable", path, dir);
  return {};
}

int run_record(const std::function<LoadCall(const json& params)>& call, const RecordOptions& opt,
               std::ostream& out, std::ostream& err) {
  using clock = std::chrono::steady_clock;
  SignalScope signals;
  const auto t0 = clock::now();
  LoadCall first = call(json::object());
  if (!first.result) {
    err << "reactorctl: record failed: " << first.error << '\n';
    return 1;
  }
  auto builder = TraceBuilder::start(*first.result, opt.interval_ms * 1000, host_name(), utc_now());
  if (!builder) {
    err << "reactorctl: record failed: " << builder.error().message << '\n';
    return 1;
  }
  auto writer = sim::TraceWriter::create(opt.out, builder->header());
  if (!writer) {
    err << "reactorctl: record failed: " << writer.error().message << '\n';
    return 1;
  }
  const auto interval = std::chrono::milliseconds(opt.interval_ms);
  const std::optional<clock::duration> duration =
      opt.duration_s ? std::optional<clock::duration>(std::chrono::duration_cast<clock::duration>(
                           std::chrono::duration<double>(*opt.duration_s)))
                     : std::nullopt;
  auto last_sample = clock::now();
  sim::TraceEndReason reason = sim::TraceEndReason::Duration;
  std::string gone;
  int status = 0;
  uint64_t missed_reported = 0;
  for (;;) {
    // The next poll: every interval; while rounds run, every half period (at
    // least 10 ms) if that is sooner, so no round leaves the history unread.
    auto wait = std::chrono::duration_cast<clock::duration>(interval);
    if (builder->rounds_mode()) {
      const auto half = std::chrono::microseconds(std::max<uint64_t>(builder->period_us() / 2, 10'000));
      wait = std::min(wait, std::chrono::duration_cast<clock::duration>(half));
    }
    const auto due = clock::now() + wait;
    bool stop = false;
    while (clock::now() < due) {
      if (signals.raised()) {
        reason = sim::TraceEndReason::Signal;
        stop = true;
        break;
      }
      if (duration && clock::now() - t0 >= *duration) {
        reason = sim::TraceEndReason::Duration;
        stop = true;
        break;
      }
      std::this_thread::sleep_for(std::min<clock::duration>(due - clock::now(), std::chrono::milliseconds(20)));
    }
    if (!stop && signals.raised()) {
      reason = sim::TraceEndReason::Signal;
      stop = true;
    }
    if (!stop && duration && clock::now() - t0 >= *duration) stop = true;
    // A last read at the end of the duration keeps the rounds run until then.
    if (stop && reason == sim::TraceEndReason::Signal) break;
    LoadCall reply = call(json{{"since_round", builder->since_round()}});
    if (!reply.result) {
      if (signals.raised()) {  // the signal interrupted the exchange
        reason = sim::TraceEndReason::Signal;
        break;
      }
      if (reply.transport) {
        reason = sim::TraceEndReason::DaemonGone;
        gone = reply.error;
        break;
      }
      err << "reactorctl: record failed: " << reply.error << '\n';
      reason = sim::TraceEndReason::DaemonGone;
      status = 1;
      break;
    }
    const bool interval_due = clock::now() - last_sample >= interval - std::chrono::milliseconds(1);
    auto samples = builder->next(*reply.result, interval_due);
    if (!samples) {
      err << "reactorctl: record failed: " << samples.error().message << '\n';
      reason = sim::TraceEndReason::DaemonGone;
      status = 1;
      break;
    }
    for (const sim::TraceSample& s : *samples) {
      if (auto w = (*writer)->write_sample(s); !w) {
        err << "reactorctl: record failed: " << w.error().message << '\n';
        return 1;
      }
    }
    if (!samples->empty()) last_sample = clock::now();
    if (builder->rounds_missed() > missed_reported) {
      err << fmt::format("reactorctl: record: {} scheduling round(s) left the daemon's history before they were "
                         "read; the trace skips them\n",
                         builder->rounds_missed() - missed_reported);
      missed_reported = builder->rounds_missed();
    }
    if (stop) break;
  }
  if (auto w = (*writer)->write_end(reason); !w) {
    err << "reactorctl: record failed: " << w.error().message << '\n';
    return 1;
  }
  const double secs = std::chrono::duration<double>(clock::now() - t0).count();
  out << fmt::format("recorded {} samples ({} rounds) to {} in {:.1f} s: {}{}\n", (*writer)->samples(),
                     builder->rounds(), opt.out, secs, sim::to_string(reason),
                     gone.empty() ? "" : fmt::format(" ({})", gone));
  return status;
}

}  // namespace reactor::ctl
