// reactorctl tables: JSON-RPC results -> aligned text.
//
// Every accessor here tolerates a missing member or a wrong type and prints
// "-": the tables are for people, and a daemon of another version (or SPDK
// itself, whose reactor listing has no home core) should still give a
// readable answer. The members read are those of rpc-compat.md §3; reactor's
// extras (a thread's home core, scheduler_get_history,
// reactor_get_reactor_stats) are read under the names reactord uses, with the
// obvious alternatives accepted.

#include "tools/reactorctl_format.hh"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>

#include <reactor/cpuset.hh>

namespace reactor::ctl {
namespace {

// ---- tolerant accessors ----

const json* member(const json& o, std::string_view key) {
  if (!o.is_object()) return nullptr;
  const auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

std::optional<uint64_t> as_u64(const json* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer()) {
    const auto i = v->get<int64_t>();
    if (i >= 0) return static_cast<uint64_t>(i);
    return std::nullopt;
  }
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (d >= 0 && d < 1.8e19) return static_cast<uint64_t>(d);
  }
  return std::nullopt;
}

std::optional<uint64_t> u64_at(const json& o, std::string_view key) { return as_u64(member(o, key)); }

// First of several alternative member names that holds an unsigned integer.
std::optional<uint64_t> u64_any(const json& o, std::initializer_list<std::string_view> keys) {
  for (const auto k : keys)
    if (auto v = u64_at(o, k)) return v;
  return std::nullopt;
}

std::optional<std::string> str_at(const json& o, std::string_view key) {
  const json* v = member(o, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

std::optional<std::string> str_any(const json& o, std::initializer_list<std::string_view> keys) {
  for (const auto k : keys)
    if (auto v = str_at(o, k)) return v;
  return std::nullopt;
}

std::optional<bool> bool_at(const json& o, std::string_view key) {
  const json* v = member(o, key);
  if (v == nullptr || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}

// The array member `key`, or an empty array.
const json& array_at(const json& o, std::string_view key) {
  static const json kEmpty = json::array();  // immutable: not a mutable global
  const json* v = member(o, key);
  return v != nullptr && v->is_array() ? *v : kEmpty;
}

std::string dash_or(const std::optional<uint64_t>& v) { return v ? fmt::format("{}", *v) : "-"; }
std::string dash_or(const std::optional<std::string>& v) { return v ? *v : "-"; }

// USER_HZ ticks as seconds with two decimals.
std::string ticks_to_s(std::optional<uint64_t> ticks, uint64_t per_s) {
  if (!ticks || per_s == 0) return "-";
  return fmt::format("{:.2f}", static_cast<double>(*ticks) / static_cast<double>(per_s));
}

// Tick-counter ticks (tick_rate per second) as seconds with one decimal.
std::string tick_seconds(std::optional<uint64_t> ticks, std::optional<uint64_t> tick_rate) {
  if (!ticks || !tick_rate || *tick_rate == 0) return "-";
  return fmt::format("{:.1f}", static_cast<double>(*ticks) / static_cast<double>(*tick_rate));
}

// A thread's home core, under the names reactord may use for it.
std::optional<uint64_t> home_of(const json& thread) {
  return u64_any(thread, {"home_lcore", "home_core", "home"});
}

// busy % of an entry: delta against `before` (matched by `key`) when given.
std::optional<double> entry_busy(const json& now, const json* before) {
  const auto busy = u64_at(now, "busy");
  const auto idle = u64_at(now, "idle");
  if (!busy || !idle) return std::nullopt;
  if (before == nullptr) return busy_percent(*busy, *idle);
  const auto b0 = u64_at(*before, "busy");
  const auto i0 = u64_at(*before, "idle");
  if (!b0 || !i0 || *b0 > *busy || *i0 > *idle) return std::nullopt;
  return busy_percent(*busy - *b0, *idle - *i0);
}

// overhead % of a reactor_get_reactor_stats entry: overhead / (busy + idle),
// delta against `before` when given (as entry_busy).
std::optional<double> entry_overhead(const json& now, const json* before) {
  const auto busy = u64_at(now, "busy");
  const auto idle = u64_at(now, "idle");
  const auto over = u64_at(now, "overhead");
  if (!busy || !idle || !over) return std::nullopt;
  if (before == nullptr) {
    const uint64_t total = *busy + *idle;
    const uint64_t part = std::min(*over, total);
    return busy_percent(part, total - part);
  }
  const auto b0 = u64_at(*before, "busy");
  const auto i0 = u64_at(*before, "idle");
  const auto o0 = u64_at(*before, "overhead");
  if (!b0 || !i0 || !o0 || *b0 > *busy || *i0 > *idle || *o0 > *over) return std::nullopt;
  const uint64_t total = (*busy - *b0) + (*idle - *i0);
  const uint64_t part = std::min(*over - *o0, total);
  return busy_percent(part, total - part);
}

// Index of array entries by an unsigned member (lcore, id).
std::map<uint64_t, const json*> index_by(const json& array, std::string_view key) {
  std::map<uint64_t, const json*> out;
  for (const auto& e : array)
    if (auto k = u64_at(e, key)) out.emplace(*k, &e);
  return out;
}

const json* lookup(const std::map<uint64_t, const json*>& m, std::optional<uint64_t> key) {
  if (!key) return nullptr;
  const auto it = m.find(*key);
  return it == m.end() ? nullptr : it->second;
}

std::string busy_heading(const FormatOptions& opt) {
  return opt.interval_ms == 0 ? "busy % since start (busy / (busy + idle) ticks)"
                              : fmt::format("busy % over the last {} ms", opt.interval_ms);
}

// Options of a scheduler_get_history entry: a string, or an object shown as
// "key=value ...".
std::string options_text(const json* v) {
  if (v == nullptr || v->is_null()) return "-";
  if (v->is_string()) {
    auto s = v->get<std::string>();
    return s.empty() ? "-" : s;
  }
  if (v->is_object()) {
    std::string out;
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (!out.empty()) out += ' ';
      out += it.key() + '=' + (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
    }
    return out.empty() ? "-" : out;
  }
  return v->dump();
}

std::optional<uint64_t> duration_us_of(const json& e) {
  return u64_any(e, {"duration_us", "duration"});
}

// "2/2 restored", "1/2 restored, 1 skipped, timed out".
std::string restored_text(const json& t) {
  const json* r = member(t, "restore");
  if (r == nullptr || !r->is_object()) {
    if (auto m = u64_any(t, {"moves", "moves_restored"})) return fmt::format("{} moved", *m);
    return "-";
  }
  const auto requested = u64_at(*r, "moves_requested").value_or(0);
  const auto done = u64_at(*r, "moves_done").value_or(0);
  const auto skipped = u64_at(*r, "moves_skipped").value_or(0);
  std::string out = fmt::format("{}/{}", done, requested);
  if (skipped != 0) out += fmt::format(", {} skipped", skipped);
  if (bool_at(*r, "timed_out").value_or(false)) out += ", timed out";
  return out;
}

std::string transition_result(const json& t) {
  auto result = str_any(t, {"result", "error"});
  const auto ok = bool_at(t, "ok");
  if (result && !result->empty()) return *result;
  if (ok) return *ok ? "ok" : "failed";
  return "-";
}

// "2025-11-25T21:40:12.345Z" -> "21:40:12"; other text as is.
std::string time_of_day(const std::optional<std::string>& iso) {
  if (!iso) return "-";
  const auto t = iso->find('T');
  if (t == std::string::npos || iso->size() < t + 9) return *iso;
  return iso->substr(t + 1, 8);
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

// ---- Table ----

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case 0x1b: out += "\\e"; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
      // U+0080-U+009F: C1 controls (0x9b is a CSI on some terminals).
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(s[i + 1]));
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void Table::add_row(std::vector<std::string> cells) {
  for (std::string& cell : cells) cell = printable(cell);
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  std::vector<std::size_t> width(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    width[c] = columns_[c].header.size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto line = [&](auto cell_of) {
    std::string l;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      if (c != 0) l += "  ";
      const std::string& text = cell_of(c);
      const std::size_t pad = width[c] - text.size();
      if (columns_[c].align == Align::Right) l.append(pad, ' ');
      l += text;
      if (columns_[c].align == Align::Left) l.append(pad, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l;
    out += '\n';
  };
  line([&](std::size_t c) -> const std::string& { return columns_[c].header; });
  for (const auto& row : rows_) line([&](std::size_t c) -> const std::string& { return row[c]; });
  return out;
}

// ---- small helpers ----

std::optional<double> busy_percent(uint64_t busy, uint64_t idle) noexcept {
  const long double total = static_cast<long double>(busy) + static_cast<long double>(idle);
  if (total == 0) return std::nullopt;
  return static_cast<double>(100.0L * static_cast<long double>(busy) / total);
}

std::string format_percent(std::optional<double> pct) {
  return pct ? fmt::format("{:.1f}", *pct) : "-";
}

std::string mask_to_list(std::string_view hex) {
  auto set = CpuSet::parse(hex);
  if (!set) return std::string(hex);
  if (set->empty()) return "none";
  return set->to_list();
}

std::string format_duration_us(uint64_t us) {
  if (us < 1000) return fmt::format("{} us", us);
  if (us < 1000000) return fmt::format("{:.1f} ms", static_cast<double>(us) / 1e3);
  return fmt::format("{:.2f} s", static_cast<double>(us) / 1e6);
}

const json* last_transition(const json& history) {
  const json& list = history.is_array() ? history : array_at(history, "transitions");
  if (list.empty()) return nullptr;
  // Entries are oldest first; pick the highest seq in case they are not.
  const json* best = &list.back();
  for (const auto& t : list)
    if (u64_at(t, "seq").value_or(0) > u64_at(*best, "seq").value_or(0)) best = &t;
  return best;
}

// ---- status ----

std::string format_status(const json& scheduler, const json* governor, const json* reactors,
                          const json* history) {
  Table t({{"", Align::Left}, {"", Align::Left}});
  const auto name = str_at(scheduler, "scheduler_name");
  t.add_row({"scheduler", name ? *name : "none (framework not initialized)"});
  const auto period = u64_at(scheduler, "scheduler_period");
  std::string period_text = "-";
  if (period)
    period_text = *period == 0 ? "0 (no periodic rounds)"
                               : fmt::format("{} us ({})", *period, format_duration_us(*period));
  t.add_row({"period", period_text});
  std::string options;
  for (const char* key : {"load_limit", "core_limit", "core_busy"})
    if (auto v = u64_at(scheduler, key))
      options += fmt::format("{}{}={}", options.empty() ? "" : " ", key, *v);
  for (const char* key : {"numa_local", "smt_last", "keep_asleep", "main_room"})
    if (auto v = bool_at(scheduler, key))
      options += fmt::format("{}{}={}", options.empty() ? "" : " ", key, *v ? "on" : "off");
  t.add_row({"options", options.empty() ? "-" : options});

  std::string gov = "none";
  if (auto g = str_at(scheduler, "governor_name")) gov = *g;
  else if (governor != nullptr)
    if (auto g2 = str_at(*governor, "governor_name")) gov = *g2;
  if (governor != nullptr)
    if (const json* ms = member(*governor, "module_specific"))
      if (auto env = str_at(*ms, "env")) gov += fmt::format(" (env {})", *env);
  t.add_row({"governor", gov});
  t.add_row({"main core", dash_or(u64_at(scheduler, "scheduling_core"))});
  const auto iso = str_at(scheduler, "isolated_core_mask");
  t.add_row({"isolated cores", iso ? mask_to_list(*iso) : "-"});

  if (reactors != nullptr) {
    const json& list = array_at(*reactors, "reactors");
    CpuSet cores;
    std::size_t sleeping = 0;
    std::size_t threads = 0;
    for (const auto& r : list) {
      if (auto c = u64_at(r, "lcore"); c && *c < CpuSet::kMaxCores)
        cores.set(CoreId{static_cast<uint32_t>(*c)});
      if (bool_at(r, "in_interrupt").value_or(false)) ++sleeping;
      threads += array_at(r, "lw_threads").size();
    }
    t.add_row({"reactors", fmt::format("{} on cores {}: {} polling, {} in interrupt mode",
                                       list.size(), cores.empty() ? "-" : cores.to_list(),
                                       list.size() - sleeping, sleeping)});
    t.add_row({"threads", fmt::format("{}", threads)});
  }
  if (history != nullptr) {
    if (const json* last = last_transition(*history)) {
      const auto d = duration_us_of(*last);
      t.add_row({"last switch",
                 fmt::format("#{} {} -> {}: {}, took {}, threads restored {}",
                             dash_or(u64_at(*last, "seq")), dash_or(str_at(*last, "from")),
                             dash_or(str_at(*last, "to")), one_line(transition_result(*last)),
                             d ? format_duration_us(*d) : "-", restored_text(*last))});
    } else {
      t.add_row({"last switch", "none since start"});
    }
    if (auto rounds = u64_at(*history, "rounds_total"))
      t.add_row({"rounds", fmt::format("{} since start", *rounds)});
  }
  const std::string text = t.render();
  return text.substr(text.find('\n') + 1);  // drop the (empty) header row
}

// ---- reactors ----

std::string format_reactors(const json& reactors, const json* before, const json* stats,
                            const FormatOptions& opt, ReactorStatsSamples extra) {
  const json& list = array_at(reactors, "reactors");
  const auto before_by_core = before != nullptr ? index_by(array_at(*before, "reactors"), "lcore")
                                                : std::map<uint64_t, const json*>{};
  const auto stats_by_id = stats != nullptr ? index_by(array_at(*stats, "threads"), "id")
                                            : std::map<uint64_t, const json*>{};
  bool any_freq = false;
  for (const auto& r : list)
    if (member(r, "core_freq") != nullptr) any_freq = true;
  // Reactor's own counters (reactor_get_reactor_stats), when the daemon has them.
  const bool any_overhead = extra.now != nullptr && extra.now->is_object();
  const auto extra_by_core = any_overhead ? index_by(array_at(*extra.now, "reactors"), "lcore")
                                          : std::map<uint64_t, const json*>{};
  const auto extra_before_by_core = any_overhead && extra.before != nullptr
                                        ? index_by(array_at(*extra.before, "reactors"), "lcore")
                                        : std::map<uint64_t, const json*>{};

  std::vector<Table::Column> cols = {{"CORE", Align::Right}, {"MODE", Align::Left}, {"BUSY%", Align::Right}};
  if (any_overhead) cols.push_back({"OVERHEAD%", Align::Right});
  for (auto c : {Table::Column{"THREADS", Align::Right}, Table::Column{"USR s", Align::Right},
                 Table::Column{"SYS s", Align::Right}, Table::Column{"IRQ s", Align::Right}})
    cols.push_back(c);
  if (any_freq) cols.push_back({"MHz", Align::Right});
  cols.push_back({"TID", Align::Right});
  Table t(std::move(cols));
  for (const auto& r : list) {
    const auto core = u64_at(r, "lcore");
    const json* prev = before != nullptr ? lookup(before_by_core, core) : nullptr;
    const auto intr = bool_at(r, "in_interrupt");
    std::vector<std::string> row = {
        dash_or(core),
        intr ? (*intr ? "interrupt" : "poll") : "-",
        format_percent(before != nullptr && prev == nullptr ? std::nullopt : entry_busy(r, prev))};
    if (any_overhead) {
      // Over the same window as BUSY%: a delta needs both samples of this core.
      const json* e = lookup(extra_by_core, core);
      const json* e0 = extra.before != nullptr ? lookup(extra_before_by_core, core) : nullptr;
      const bool delta = before != nullptr || extra.before != nullptr;
      row.push_back(format_percent(e == nullptr || (delta && e0 == nullptr) ? std::nullopt
                                                                            : entry_overhead(*e, e0)));
    }
    row.push_back(fmt::format("{}", array_at(r, "lw_threads").size()));
    row.push_back(ticks_to_s(u64_at(r, "usr"), opt.clock_ticks_per_s));
    row.push_back(ticks_to_s(u64_at(r, "sys"), opt.clock_ticks_per_s));
    row.push_back(ticks_to_s(u64_at(r, "irq"), opt.clock_ticks_per_s));
    if (any_freq) row.push_back(dash_or(u64_at(r, "core_freq")));
    row.push_back(dash_or(u64_at(r, "tid")));
    t.add_row(std::move(row));
  }
  std::string out = fmt::format("reactors: {}; {}\n", list.size(), busy_heading(opt));
  out += t.render();

  const auto tick_rate = u64_at(reactors, "tick_rate");
  // A thread's home core is reactor's extra (SPDK has none): the HOME and
  // PLACED columns appear only when the daemon reports it.
  auto home_for = [&](const json& th) {
    auto home = home_of(th);
    if (!home)
      if (const json* s = lookup(stats_by_id, u64_at(th, "id"))) home = home_of(*s);
    return home;
  };
  bool any_home = false;
  for (const auto& r : list)
    for (const auto& th : array_at(r, "lw_threads"))
      if (home_for(th)) any_home = true;
  std::vector<Table::Column> pcols = {{"THREAD", Align::Left}, {"ID", Align::Right},
                                      {"CORE", Align::Right}};
  if (any_home) {
    pcols.push_back({"HOME", Align::Right});
    pcols.push_back({"PLACED", Align::Left});
  }
  pcols.push_back({"CPUMASK", Align::Left});
  pcols.push_back({"ON CORE s", Align::Right});
  Table p(std::move(pcols));
  for (const auto& r : list) {
    const auto core = u64_at(r, "lcore");
    for (const auto& th : array_at(r, "lw_threads")) {
      const auto home = home_for(th);
      const auto mask = str_at(th, "cpumask");
      std::vector<std::string> row = {dash_or(str_at(th, "name")), dash_or(u64_at(th, "id")),
                                      dash_or(core)};
      if (any_home) {
        row.push_back(dash_or(home));
        row.push_back(home && core ? (*home == *core ? "home" : "away") : "-");
      }
      row.push_back(mask ? mask_to_list(*mask) : "-");
      row.push_back(tick_seconds(u64_at(th, "elapsed"), tick_rate));
      p.add_row(std::move(row));
    }
  }
  out += '\n';
  if (p.rows() == 0) {
    out += "threads: none\n";
  } else {
    out += any_home ? fmt::format("threads: {} (PLACED: at its home core, or moved away by the "
                                  "policy)\n",
                                  p.rows())
                    : fmt::format("threads: {}\n", p.rows());
    out += p.render();
  }
  return out;
}

// ---- threads ----

std::string format_threads(const json& stats, const json* before, const json* reactors,
                           const FormatOptions& opt) {
  std::map<uint64_t, uint64_t> core_of;         // thread id -> lcore
  std::map<uint64_t, const json*> lw_by_id;     // thread id -> reactor listing entry
  if (reactors != nullptr) {
    for (const auto& r : array_at(*reactors, "reactors")) {
      const auto core = u64_at(r, "lcore");
      for (const auto& th : array_at(r, "lw_threads")) {
        const auto id = u64_at(th, "id");
        if (!id) continue;
        if (core) core_of[*id] = *core;
        lw_by_id[*id] = &th;
      }
    }
  }
  const auto before_by_id = before != nullptr ? index_by(array_at(*before, "threads"), "id")
                                              : std::map<uint64_t, const json*>{};
  const json& list = array_at(stats, "threads");
  auto home_for = [&](const json& th) {
    auto home = home_of(th);
    if (!home)
      if (const json* lw = lookup(lw_by_id, u64_at(th, "id"))) home = home_of(*lw);
    return home;
  };
  bool any_home = false;
  for (const auto& th : list)
    if (home_for(th)) any_home = true;
  std::vector<Table::Column> cols = {{"ID", Align::Right}, {"NAME", Align::Left},
                                     {"CORE", Align::Right}};
  if (any_home) cols.push_back({"HOME", Align::Right});
  for (auto c : {Table::Column{"CPUMASK", Align::Left}, Table::Column{"BUSY%", Align::Right},
                 Table::Column{"ACTIVE", Align::Right}, Table::Column{"TIMED", Align::Right},
                 Table::Column{"PAUSED", Align::Right}})
    cols.push_back(std::move(c));
  Table t(std::move(cols));
  for (const auto& th : list) {
    const auto id = u64_at(th, "id");
    std::optional<uint64_t> core;
    if (id)
      if (auto it = core_of.find(*id); it != core_of.end()) core = it->second;
    const json* prev = before != nullptr ? lookup(before_by_id, id) : nullptr;
    const auto mask = str_at(th, "cpumask");
    std::vector<std::string> row = {dash_or(id), dash_or(str_at(th, "name")), dash_or(core)};
    if (any_home) row.push_back(dash_or(home_for(th)));
    row.push_back(mask ? mask_to_list(*mask) : "-");
    row.push_back(format_percent(before != nullptr && prev == nullptr ? std::nullopt
                                                                     : entry_busy(th, prev)));
    row.push_back(dash_or(u64_at(th, "active_pollers_count")));
    row.push_back(dash_or(u64_at(th, "timed_pollers_count")));
    row.push_back(dash_or(u64_at(th, "paused_pollers_count")));
    t.add_row(std::move(row));
  }
  if (t.rows() == 0) return "threads: none\n";
  std::string out = fmt::format("threads: {}; {}\n", t.rows(), busy_heading(opt));
  out += t.render();
  return out;
}

// ---- pollers ----

std::string format_pollers(const json& pollers) {
  const auto tick_rate = u64_at(pollers, "tick_rate");
  Table t({{"THREAD", Align::Left},
           {"TID", Align::Right},
           {"POLLER", Align::Left},
           {"ID", Align::Right},
           {"TYPE", Align::Left},
           {"STATE", Align::Left},
           {"RUNS", Align::Right},
           {"BUSY", Align::Right},
           {"PERIOD", Align::Right}});
  for (const auto& th : array_at(pollers, "threads")) {
    const auto tname = dash_or(str_at(th, "name"));
    const auto tid = dash_or(u64_at(th, "id"));
    for (const auto& [key, type] : {std::pair{"active_pollers", "active"},
                                    std::pair{"timed_pollers", "timed"},
                                    std::pair{"paused_pollers", "paused"}}) {
      for (const auto& p : array_at(th, key)) {
        std::string period = "-";
        if (auto ticks = u64_at(p, "period_ticks"); ticks && tick_rate && *tick_rate != 0)
          period = format_duration_us(static_cast<uint64_t>(
              static_cast<long double>(*ticks) * 1e6L / static_cast<long double>(*tick_rate) + 0.5L));
        t.add_row({tname, tid, dash_or(str_at(p, "name")), dash_or(u64_at(p, "id")), type,
                   dash_or(str_at(p, "state")), dash_or(u64_at(p, "run_count")),
                   dash_or(u64_at(p, "busy_count")), period});
      }
    }
  }
  if (t.rows() == 0) return "pollers: none\n";
  return fmt::format("pollers: {}\n", t.rows()) + t.render();
}

// ---- governor ----

std::string format_governor(const json& governor) {
  const auto name = str_at(governor, "governor_name");
  if (!name)
    return "governor: none active (static, or dynamic without a governor; gscheduler needs "
           "one)\n";
  std::string out = fmt::format("governor: {}", *name);
  if (const json* ms = member(governor, "module_specific"))
    if (auto env = str_at(*ms, "env")) out += fmt::format(" (env {})", *env);
  out = printable(out) + '\n';
  Table t({{"CORE", Align::Right},
           {"CURRENT MHz", Align::Right},
           {"MIN MHz", Align::Right},
           {"MAX MHz", Align::Right},
           {"STEPS", Align::Right}});
  auto mhz = [](std::optional<uint64_t> khz) -> std::string {
    if (!khz || *khz == 0) return "-";
    return *khz % 1000 == 0 ? fmt::format("{}", *khz / 1000)
                            : fmt::format("{:.1f}", static_cast<double>(*khz) / 1000.0);
  };
  for (const auto& c : array_at(governor, "cores")) {
    std::optional<uint64_t> lo;
    std::optional<uint64_t> hi;
    const json& freqs = array_at(c, "available_frequencies");
    for (const auto& f : freqs) {
      if (auto v = as_u64(&f)) {
        lo = lo ? std::min(*lo, *v) : *v;
        hi = hi ? std::max(*hi, *v) : *v;
      }
    }
    t.add_row({dash_or(u64_at(c, "lcore_id")), mhz(u64_at(c, "current_frequency")), mhz(lo),
               mhz(hi), fmt::format("{}", freqs.size())});
  }
  if (t.rows() == 0) return out + "cores: none\n";
  return out + t.render();
}

// ---- history ----

std::string format_history(const json& history, std::size_t max_rounds) {
  const json& transitions = history.is_array() ? history : array_at(history, "transitions");
  std::string out;
  const auto transitions_total = u64_at(history, "transitions_total");
  if (transitions.empty()) {
    out += "transitions: none since start\n";
  } else {
    bool any_time = false;
    for (const auto& e : transitions)
      if (str_any(e, {"time", "at"})) any_time = true;
    std::vector<Table::Column> cols = {{"SEQ", Align::Right}};
    if (any_time) cols.push_back({"TIME UTC", Align::Left});
    for (auto c : {Table::Column{"FROM", Align::Left}, Table::Column{"TO", Align::Left},
                   Table::Column{"RUNNING", Align::Left}, Table::Column{"TOOK", Align::Right},
                   Table::Column{"RESTORED", Align::Left}, Table::Column{"OPTIONS", Align::Left},
                   Table::Column{"RESULT", Align::Left}})
      cols.push_back(std::move(c));
    Table t(std::move(cols));
    for (const auto& e : transitions) {
      const auto d = duration_us_of(e);
      std::vector<std::string> row = {dash_or(u64_at(e, "seq"))};
      if (any_time) row.push_back(time_of_day(str_any(e, {"time", "at"})));
      for (auto&& cell : {dash_or(str_at(e, "from")), dash_or(str_at(e, "to")),
                          dash_or(str_any(e, {"result_policy", "running", "now"})),
                          d ? format_duration_us(*d) : std::string("-"), restored_text(e),
                          options_text(member(e, "options")), one_line(transition_result(e))})
        row.push_back(cell);
      t.add_row(std::move(row));
    }
    if (transitions_total && *transitions_total > t.rows())
      out += fmt::format("transitions: the last {} of {} since start", t.rows(), *transitions_total);
    else
      out += fmt::format("transitions: {}", t.rows());
    out += " (RESTORED: threads the old policy brought home / had to bring home)\n";
    out += t.render();
  }
  if (history.is_array()) return out;

  const json* rounds_v = member(history, "rounds");
  out += '\n';
  if (rounds_v != nullptr && !rounds_v->is_array()) {
    out += fmt::format("rounds: {}\n", dash_or(as_u64(rounds_v)));
    return out;
  }
  const json& rounds = array_at(history, "rounds");
  if (rounds.empty()) {
    out += "rounds: none kept\n";
    return out;
  }
  Table r({{"SEQ", Align::Right},
           {"POLICY", Align::Left},
           {"TOOK", Align::Right},
           {"MOVES", Align::Right},
           {"LANDED", Align::Right},
           {"SKIPPED", Align::Right},
           {"MODES", Align::Right},
           {"FREQ", Align::Right},
           {"PROBLEMS", Align::Left}});
  const std::size_t first = rounds.size() > max_rounds ? rounds.size() - max_rounds : 0;
  for (std::size_t i = first; i < rounds.size(); ++i) {
    const json& e = rounds[i];
    const json* moves = member(e, "moves");
    std::string moves_text = "-";
    if (moves != nullptr && moves->is_array()) moves_text = fmt::format("{}", moves->size());
    else moves_text = dash_or(as_u64(moves));
    std::string problems;
    if (const json* p = member(e, "problems"); p != nullptr && p->is_array()) {
      for (const auto& s : *p) {
        if (!problems.empty()) problems += "; ";
        problems += s.is_string() ? one_line(s.get<std::string>()) : s.dump();
      }
    }
    const auto d = duration_us_of(e);
    r.add_row({dash_or(u64_at(e, "seq")), dash_or(str_at(e, "policy")),
               d ? format_duration_us(*d) : "-", moves_text, dash_or(u64_at(e, "moves_landed")),
               dash_or(u64_at(e, "moves_skipped")), dash_or(u64_at(e, "mode_changes")),
               dash_or(u64_at(e, "frequency_requests")), problems.empty() ? "-" : problems});
  }
  const auto rounds_total = u64_at(history, "rounds_total");
  if (rounds_total && *rounds_total > r.rows())
    out += fmt::format("rounds: the last {} of {} since start\n", r.rows(), *rounds_total);
  else if (first == 0)
    out += fmt::format("rounds: {}\n", rounds.size());
  else
    out += fmt::format("rounds: the last {} of {} kept\n", r.rows(), rounds.size());
  out += r.render();
  return out;
}

// ---- switch ----

std::string format_switch_summary(const json& scheduler, const json* transition) {
  std::string out = fmt::format("switched to {}", dash_or(str_at(scheduler, "scheduler_name")));
  std::vector<std::string> parts;
  if (auto p = u64_at(scheduler, "scheduler_period")) parts.push_back(fmt::format("period {} us", *p));
  for (const char* key : {"load_limit", "core_limit", "core_busy"})
    if (auto v = u64_at(scheduler, key)) parts.push_back(fmt::format("{} {}", key, *v));
  for (const char* key : {"numa_local", "smt_last", "keep_asleep", "main_room"})
    if (auto v = bool_at(scheduler, key)) parts.push_back(fmt::format("{} {}", key, *v ? "on" : "off"));
  if (auto g = str_at(scheduler, "governor_name")) parts.push_back(fmt::format("governor {}", *g));
  if (!parts.empty()) out += fmt::format(" ({})", fmt::join(parts, ", "));
  if (transition != nullptr) {
    const auto d = duration_us_of(*transition);
    out += fmt::format("; transition #{} {} -> {} took {}, threads restored {}",
                       dash_or(u64_at(*transition, "seq")), dash_or(str_at(*transition, "from")),
                       dash_or(str_at(*transition, "to")), d ? format_duration_us(*d) : "-",
                       restored_text(*transition));
  }
  return printable(out) + '\n';
}

}  // namespace reactor::ctl
