// reactorctl top: a live view like spdk_top.
//
// A frame is two samples apart (framework_get_reactors, thread_get_stats,
// thread_get_pollers; framework_get_scheduler for the header): busy % is the
// delta of busy over busy + idle between them, poller rates the delta of
// run_count per second. Names are escaped (a client names threads; a name with
// an escape sequence must not drive the operator's terminal).
//
// Interactive loop (a terminal):
//   1. save the termios, switch to non-canonical no-echo input (ISIG stays on:
//      Ctrl-C is SIGINT), enter the alternate screen and hide the cursor;
//   2. SIGINT/SIGTERM only set a flag (no SA_RESTART: poll() returns EINTR);
//   3. each round: sample, draw (home + clear + frame), wait up to the
//      interval for a key on stdin ('q' quits, 's' cycles the sort key);
//   4. on any exit (q, signal, a failed sample) restore the cursor, leave the
//      alternate screen, restore the termios and the signal handlers.
// Without a terminal, or with --once, one frame from two samples.

#include "tools/reactorctl_top.hh"

#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <ostream>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tools/reactorctl_cli.hh"
#include "tools/reactorctl_format.hh"

namespace reactor::ctl {
namespace {

using json = nlohmann::json;

std::optional<uint64_t> u64(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) {
    if (it != j.end() && it->is_number_integer() && it->get<int64_t>() >= 0) return it->get<uint64_t>();
    return std::nullopt;
  }
  return it->get<uint64_t>();
}

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return "-";
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "-";
  return it->get<std::string>();  // raw: Table cells are escaped by Table, the header below by printable()
}

const json& arr(const json& j, const char* key) {
  static const json empty = json::array();
  if (!j.is_object()) return empty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : empty;
}

std::string dash(std::optional<uint64_t> v) { return v ? std::to_string(*v) : "-"; }

// busy % between two entries with "busy" and "idle" (prev null: since start).
std::optional<double> busy_pct(const json& now, const json* prev) {
  auto b = u64(now, "busy"), i = u64(now, "idle");
  if (!b || !i) return std::nullopt;
  uint64_t db = *b, di = *i;
  if (prev != nullptr) {
    auto pb = u64(*prev, "busy"), pi = u64(*prev, "idle");
    if (!pb || !pi || *pb > *b || *pi > *i) return std::nullopt;
    db -= *pb;
    di -= *pi;
  }
  return busy_percent(db, di);
}

std::map<uint64_t, const json*> by_key(const json& list, const char* key) {
  std::map<uint64_t, const json*> m;
  for (const auto& e : list)
    if (auto k = u64(e, key)) m[*k] = &e;
  return m;
}

const json* find(const std::map<uint64_t, const json*>& m, std::optional<uint64_t> k) {
  if (!k) return nullptr;
  auto it = m.find(*k);
  return it == m.end() ? nullptr : it->second;
}

struct ThreadRow {
  uint64_t id = 0;
  std::string name;
  std::optional<uint64_t> core;
  std::optional<double> busy;
  std::vector<std::string> cells;
};

struct PollerRow {
  uint64_t thread = 0;
  std::string thread_name;
  std::string name;
  std::optional<uint64_t> core;
  std::optional<double> runs_per_s;
  std::vector<std::string> cells;
};

// Descending busy / rate first (missing last), then the id for a stable order.
template <class Row, class Key>
void sort_rows(std::vector<Row>& rows, TopSort sort, Key metric) {
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    switch (sort) {
      case TopSort::Id: return false;  // already in id order
      case TopSort::Name: return a.name < b.name;
      case TopSort::Core: return a.core.value_or(UINT64_MAX) < b.core.value_or(UINT64_MAX);
      case TopSort::Busy:
      case TopSort::Runs: return metric(a).value_or(-1.0) > metric(b).value_or(-1.0);
    }
    return false;
  });
}

std::string rate(std::optional<double> v) { return v ? fmt::format("{:.0f}", *v) : "-"; }

std::string render_limited(const Table& t, std::size_t shown_rows, std::size_t all_rows) {
  std::string out = t.render();
  if (shown_rows < all_rows) out += fmt::format("... {} more\n", all_rows - shown_rows);
  return out;
}

}  // namespace

std::optional<TopSort> parse_top_sort(std::string_view t) {
  if (t == "busy") return TopSort::Busy;
  if (t == "id") return TopSort::Id;
  if (t == "name") return TopSort::Name;
  if (t == "core") return TopSort::Core;
  if (t == "runs") return TopSort::Runs;
  return std::nullopt;
}

std::string_view top_sort_name(TopSort s) {
  switch (s) {
    case TopSort::Busy: return "busy";
    case TopSort::Id: return "id";
    case TopSort::Name: return "name";
    case TopSort::Core: return "core";
    case TopSort::Runs: return "runs";
  }
  return "busy";
}

std::string escape_control(std::string_view name) { return printable(name); }

std::string format_top_frame(const TopSample& now, const TopSample* before, const TopOptions& opt) {
  std::string out;
  // Header.
  std::string policy = "-";
  if (now.scheduler.is_object()) {
    policy = str(now.scheduler, "scheduler_name");
    if (auto p = u64(now.scheduler, "scheduler_period"); p && *p != 0)
      policy += fmt::format(" (period {})", format_duration_us(*p));
  }
  out += fmt::format("reactorctl top  {}  policy {}  {}  sort {}\n", escape_control(opt.socket), escape_control(policy),
                     before != nullptr ? fmt::format("busy % over {} ms", opt.interval_ms) : "busy % since start",
                     top_sort_name(opt.sort));

  // Cores.
  const json& reactors = arr(now.reactors, "reactors");
  const auto reactors_before = before != nullptr ? by_key(arr(before->reactors, "reactors"), "lcore")
                                                 : std::map<uint64_t, const json*>{};
  std::map<uint64_t, uint64_t> core_of;  // thread id -> core
  Table cores({{"CORE", Align::Right}, {"MODE", Align::Left}, {"BUSY%", Align::Right},
               {"THREADS", Align::Right}, {"FREQ", Align::Right}});
  for (const auto& r : reactors) {
    const auto core = u64(r, "lcore");
    const json& lw = arr(r, "lw_threads");
    for (const auto& t : lw)
      if (auto id = u64(t, "id"); id && core) core_of[*id] = *core;
    const json* prev = before != nullptr ? find(reactors_before, core) : nullptr;
    std::string mode = "-";
    if (r.is_object() && r.contains("in_interrupt") && r["in_interrupt"].is_boolean())
      mode = r["in_interrupt"].get<bool>() ? "interrupt" : "poll";
    const auto freq = u64(r, "core_freq");
    cores.add_row({dash(core), mode, format_percent(before != nullptr && prev == nullptr ? std::nullopt
                                                                                          : busy_pct(r, prev)),
                   std::to_string(lw.size()), freq ? fmt::format("{} MHz", *freq) : "-"});
  }
  out += fmt::format("\nCORES {}\n", cores.rows());
  if (cores.rows() != 0) out += cores.render();

  // Threads.
  const auto threads_before = before != nullptr ? by_key(arr(before->threads, "threads"), "id")
                                                : std::map<uint64_t, const json*>{};
  std::vector<ThreadRow> trows;
  for (const auto& t : arr(now.threads, "threads")) {
    ThreadRow row;
    const auto id = u64(t, "id");
    row.id = id.value_or(0);
    row.name = str(t, "name");
    if (id)
      if (auto it = core_of.find(*id); it != core_of.end()) row.core = it->second;
    const json* prev = before != nullptr ? find(threads_before, id) : nullptr;
    row.busy = before != nullptr && prev == nullptr ? std::nullopt : busy_pct(t, prev);
    row.cells = {dash(id),         row.name,
                 dash(row.core),   format_percent(row.busy),
                 dash(u64(t, "active_pollers_count")), dash(u64(t, "timed_pollers_count")),
                 dash(u64(t, "paused_pollers_count"))};
    trows.push_back(std::move(row));
  }
  std::sort(trows.begin(), trows.end(), [](const ThreadRow& a, const ThreadRow& b) { return a.id < b.id; });
  sort_rows(trows, opt.sort, [](const ThreadRow& r) { return r.busy; });
  Table threads({{"ID", Align::Right}, {"NAME", Align::Left}, {"CORE", Align::Right}, {"BUSY%", Align::Right},
                 {"ACTIVE", Align::Right}, {"TIMED", Align::Right}, {"PAUSED", Align::Right}});
  const std::size_t tshown = opt.max_rows != 0 ? std::min(opt.max_rows, trows.size()) : trows.size();
  for (std::size_t i = 0; i < tshown; ++i) threads.add_row(trows[i].cells);
  out += fmt::format("\nTHREADS {}\n", trows.size());
  if (!trows.empty()) out += render_limited(threads, tshown, trows.size());

  // Pollers: run and busy rates over the interval.
  std::map<std::pair<uint64_t, uint64_t>, const json*> pollers_before;  // (thread, poller) -> entry
  if (before != nullptr)
    for (const auto& t : arr(before->pollers, "threads"))
      for (const char* key : {"active_pollers", "timed_pollers", "paused_pollers"})
        for (const auto& p : arr(t, key))
          if (auto tid = u64(t, "id"), pid = u64(p, "id"); tid && pid) pollers_before[{*tid, *pid}] = &p;
  const double secs = static_cast<double>(opt.interval_ms) / 1000.0;
  std::vector<PollerRow> prows;
  for (const auto& t : arr(now.pollers, "threads")) {
    const auto tid = u64(t, "id");
    for (const auto& [key, type] : {std::pair{"active_pollers", "active"}, std::pair{"timed_pollers", "timed"},
                                    std::pair{"paused_pollers", "paused"}}) {
      for (const auto& p : arr(t, key)) {
        PollerRow row;
        row.thread = tid.value_or(0);
        row.thread_name = str(t, "name");
        row.name = str(p, "name");
        if (tid)
          if (auto it = core_of.find(*tid); it != core_of.end()) row.core = it->second;
        const auto pid = u64(p, "id");
        const auto runs = u64(p, "run_count");
        const auto busy = u64(p, "busy_count");
        std::optional<double> busy_rate;
        if (before != nullptr && tid && pid && secs > 0) {
          auto it = pollers_before.find({*tid, *pid});
          if (it != pollers_before.end()) {
            const auto r0 = u64(*it->second, "run_count");
            const auto b0 = u64(*it->second, "busy_count");
            if (runs && r0 && *runs >= *r0) row.runs_per_s = static_cast<double>(*runs - *r0) / secs;
            if (busy && b0 && *busy >= *b0) busy_rate = static_cast<double>(*busy - *b0) / secs;
          }
        }
        row.cells = {row.thread_name, dash(tid),   row.name, dash(pid), type, str(p, "state"),
                     dash(runs),      rate(row.runs_per_s), rate(busy_rate)};
        prows.push_back(std::move(row));
      }
    }
  }
  sort_rows(prows, opt.sort == TopSort::Busy ? TopSort::Runs : opt.sort,
            [](const PollerRow& r) { return r.runs_per_s; });
  Table pollers({{"THREAD", Align::Left}, {"TID", Align::Right}, {"POLLER", Align::Left}, {"ID", Align::Right},
                 {"TYPE", Align::Left}, {"STATE", Align::Left}, {"RUNS", Align::Right}, {"RUNS/S", Align::Right},
                 {"BUSY/S", Align::Right}});
  const std::size_t pshown = opt.max_rows != 0 ? std::min(opt.max_rows, prows.size()) : prows.size();
  for (std::size_t i = 0; i < pshown; ++i) pollers.add_row(prows[i].cells);
  out += fmt::format("\nPOLLERS {}\n", prows.size());
  if (!prows.empty()) out += render_limited(pollers, pshown, prows.size());
  return out;
}

namespace {

std::atomic<int> g_top_signal{0};  // set by the handler; the one global of the live view
extern "C" void top_on_signal(int sig) { g_top_signal.store(sig, std::memory_order_relaxed); }

// Saves and restores the terminal and the signal handlers (RAII: every exit
// path of the loop restores).
class TerminalSession {
 public:
  TerminalSession(std::ostream& out) : out_(out) {
    if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      have_termios_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    struct sigaction sa {};
    sa.sa_handler = top_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: poll() returns at once
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
    out_ << "\x1b[?1049h\x1b[?25l" << std::flush;  // alternate screen, hide cursor
  }
  ~TerminalSession() {
    out_ << "\x1b[?25h\x1b[?1049l" << std::flush;  // show cursor, leave the alternate screen
    if (have_termios_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  TerminalSession(const TerminalSession&) = delete;
  TerminalSession& operator=(const TerminalSession&) = delete;

 private:
  std::ostream& out_;
  termios saved_{};
  bool have_termios_ = false;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// Waits up to `ms` for a key; returns it, or 0.
char wait_key(uint64_t ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    if (g_top_signal.load(std::memory_order_relaxed) != 0) return 0;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return 0;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) {
      char c = 0;
      if (::read(STDIN_FILENO, &c, 1) == 1) return c;
      if (p.revents & (POLLHUP | POLLERR)) {  // no keyboard any more: just wait out the interval
        std::this_thread::sleep_for(std::chrono::milliseconds(left));
        return 0;
      }
    }
  }
}

int terminal_rows() {
  // Rows for the tables: the terminal height minus headers; LINES if set.
  if (const char* l = std::getenv("LINES"))
    if (int n = std::atoi(l); n > 0) return n;
  return 40;
}

}  // namespace

int run_top(const std::function<bool(TopSample&)>& sample, TopOptions opt, bool interactive, std::ostream& out) {
  using Clock = std::chrono::steady_clock;
  // Rates use the time that really passed between the samples.
  auto elapsed_ms = [](Clock::time_point a, Clock::time_point b) {
    return static_cast<uint64_t>(std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count()));
  };
  TopSample before;
  if (!sample(before)) return kExitFailure;
  Clock::time_point before_at = Clock::now();
  if (!interactive) {
    std::this_thread::sleep_for(std::chrono::milliseconds(opt.interval_ms));
    TopSample now;
    if (!sample(now)) return kExitFailure;
    TopOptions frame = opt;
    frame.interval_ms = elapsed_ms(before_at, Clock::now());
    out << format_top_frame(now, &before, frame);
    return kExitOk;
  }
  g_top_signal.store(0, std::memory_order_relaxed);
  TerminalSession term(out);
  // Three tables with their headers share the screen.
  opt.max_rows = static_cast<std::size_t>(std::max(3, (terminal_rows() - 12) / 2));
  bool have_before = false;
  for (;;) {
    const char key = wait_key(have_before ? opt.interval_ms : std::min<uint64_t>(opt.interval_ms, 200));
    if (g_top_signal.load(std::memory_order_relaxed) != 0 || key == 'q' || key == 'Q') break;
    if (key == 's' || key == 'S')
      opt.sort = static_cast<TopSort>((static_cast<int>(opt.sort) + 1) % (static_cast<int>(TopSort::Runs) + 1));
    TopSample now;
    if (!sample(now)) return kExitFailure;  // the session restores the terminal first
    const Clock::time_point now_at = Clock::now();
    TopOptions frame = opt;
    frame.interval_ms = elapsed_ms(before_at, now_at);
    out << "\x1b[H\x1b[2J" << format_top_frame(now, &before, frame) << "(q quits, s changes the sort key)"
        << std::flush;
    before = std::move(now);
    before_at = now_at;
    have_before = true;
  }
  return kExitOk;
}

}  // namespace reactor::ctl
