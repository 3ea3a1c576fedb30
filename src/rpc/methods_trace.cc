// scheduler_get_load (reactor's own, not SPDK): everything `reactorctl record`
// samples, in one read on the control thread.
//
// One consistent read: the reply is built in one handler call on the control
// thread, which is also the thread that runs scheduling rounds, from
// published figures only (ReactorStats atomics, LwThread::stats(), the
// manager's published rounds): no reactor is messaged or woken, and the
// rounds are copied under the manager's publication lock, which a round holds
// only to publish (never across its waits), so the read never waits behind a
// round or a switch.
//
// Exact rounds: the first call makes the manager keep, from its next round
// on, the LoadSnapshot each round balanced (moved into the round record,
// bounded by the history, 64 rounds by default). A round listed here carries
// exactly the load its policy saw, so replaying it through the same policy
// gives the same moves. A daemon nobody records keeps no snapshot.
//
//   params (optional): {"since_round": u64}: list the kept rounds after that seq
//   result:
//   {"tick_rate": u64, "now": u64 (clock tick of this read),
//    "process": {"name": s, "pid": i64},
//    "topology": {"cores": [{"id", "package", "numa_node", "smt_siblings": [u32]}]},
//    "reactor_cores": [u32], "isolated": [u32], "main_core": u32, "baseline": "poll"|"interrupt",
//    "scheduler": {"policy", "period_us", "load_limit", "core_limit", "core_busy"},
//    "cores": [{"id", "busy", "idle", "sleep", "overhead", "loops", "stalls", "mode",
//               "sleeping", "threads", "freq_khz": u64|null}],            cumulative ticks
//    "threads": [{"id", "name", "core", "home", "cpumask": [u32], "busy", "idle"}], cumulative
//    "rounds_total": u64, "rounds_missed": u64,
//    "rounds": [{"seq", "policy", "at_tick", "ticks", "moves": [{"thread","from","to","reason"}],
//                "moves_landed", "moves_skipped",
//                "load": {"cores": [{"id","busy","idle","overhead","mode","threads","stalled"}],
//                         "threads": [{"id","name","core","home","cpumask","busy","idle",
//                                      "rounds_since_move"}]}}]}
// rounds_missed: rounds after since_round that are not listed (dropped from
// the bounded history, or run before the first call, without their load).

#include <unistd.h>

#include <cerrno>
#include <unordered_map>

#include <fmt/format.h>

#include "rpc/methods.hh"
#include "rpc/methods_internal.hh"
#include "rpc/params.hh"

namespace reactor::rpc {

using json = nlohmann::json;
using methods_detail::ojson;
using methods_detail::with_detail;

namespace {

constexpr std::string_view kInvalidParams = "Invalid parameters";

std::vector<uint32_t> ids(const CpuSet& s) {
  std::vector<uint32_t> out;
  for (CoreId c : s.cores()) out.push_back(c.value);
  return out;
}

std::string_view mode_name(ReactorMode m) { return m == ReactorMode::Poll ? "poll" : "interrupt"; }

}  // namespace

void ControlPlane::get_load(const json* params, RpcResponder r) {
  std::optional<uint64_t> since;
  auto ok = decode_object(params, {field("since_round", since)}, Decoding::strict, Presence::optional);
  if (!ok) return r.error(error_code::invalid_params, with_detail(kInvalidParams, ok.error()));
  ReactorPool& pool = runtime_->pool();
  SchedulerManager* m = runtime_->scheduler();
  if (m != nullptr) m->keep_round_loads();
  const SchedulerStatus st = m != nullptr ? m->status() : SchedulerStatus{};
  if (since && *since > st.rounds)
    return r.error(error_code::invalid_params,
                   fmt::format("{}: 'since_round' is {}, after the last round {} (did the process restart?)",
                               kInvalidParams, *since, st.rounds));
  const uint64_t now = pool.clock().now();
  const CpuSet& cores = pool.cores();

  ojson out;
  out["tick_rate"] = pool.clock().tick_rate();
  out["now"] = now;
  out["process"] = ojson{{"name", program_invocation_short_name}, {"pid", static_cast<int64_t>(::getpid())}};
  ojson topo = ojson::array();
  for (const CpuInfo& ci : pool.topology().cpus())
    topo.push_back(ojson{{"id", ci.id.value}, {"package", ci.package}, {"numa_node", ci.numa_node},
                         {"smt_siblings", ids(ci.smt_siblings)}});
  out["topology"] = ojson{{"cores", std::move(topo)}};
  out["reactor_cores"] = ids(cores);
  out["isolated"] = ids(pool.isolated());
  out["main_core"] = pool.main_core().value;
  out["baseline"] = mode_name(pool.baseline());
  out["scheduler"] = ojson{{"policy", policy_name(st.policy)},
                           {"period_us", st.period_us},
                           {"load_limit", st.options.dynamic.load_limit},
                           {"core_limit", st.options.dynamic.core_limit},
                           {"core_busy", st.options.dynamic.core_busy}};

  // Frequencies only while a policy holds the governor (as framework_get_governor).
  const Governor* gov = runtime_->governor().peek();
  if (st.governor_name.empty()) gov = nullptr;
  ojson cj = ojson::array();
  for (const auto& reactor : pool.reactors()) {
    const ReactorStats s = reactor->stats();
    ojson freq = nullptr;
    if (gov != nullptr)
      if (uint32_t f = gov->current_frequency(s.core); f != 0) freq = f;
    cj.push_back(ojson{{"id", s.core.value}, {"busy", s.busy}, {"idle", s.idle},
                       {"sleep", s.sleep + s.asleep_at(now)}, {"overhead", s.overhead}, {"loops", s.loops},
                       {"stalls", s.stalls}, {"mode", mode_name(s.mode)}, {"sleeping", s.sleeping},
                       {"threads", s.thread_count}, {"freq_khz", std::move(freq)}});
  }
  out["cores"] = std::move(cj);

  std::unordered_map<uint64_t, std::string> names;
  ojson tj = ojson::array();
  for (const ThreadRef& t : pool.threads()) {
    const ThreadStats s = t->stats();
    if (s.state != ThreadState::Running) continue;
    names.emplace(s.id.value, s.name);
    tj.push_back(ojson{{"id", s.id.value}, {"name", s.name}, {"core", s.core.value}, {"home", s.home.value},
                       {"cpumask", ids(s.cpumask & cores)}, {"busy", s.busy},
                       // As the scheduler counts it: idle since its reactor fell asleep.
                       {"idle", s.idle + pool.asleep_since(s, now)}});
  }
  out["threads"] = std::move(tj);

  ojson rounds = ojson::array();
  uint64_t listed = 0;
  if (since && m != nullptr) {
    for (const RoundRecord& rr : m->rounds_since(*since)) {
      if (!rr.load) continue;
      ojson lc = ojson::array();
      for (const CoreLoad& c : rr.load->cores)
        lc.push_back(ojson{{"id", c.id.value}, {"busy", c.busy}, {"idle", c.idle}, {"overhead", c.overhead},
                           {"mode", c.in_interrupt ? "interrupt" : "poll"}, {"threads", c.thread_count},
                           {"stalled", c.stalled}});
      ojson lt = ojson::array();
      for (const ThreadLoad& t : rr.load->threads) {
        auto it = names.find(t.id.value);
        std::string name;
        if (it != names.end()) {
          name = it->second;
        } else if (ThreadRef ref = pool.find(t.id)) {
          name = ref->name();  // exited since: still known while a reference lives
        }
        lt.push_back(ojson{{"id", t.id.value}, {"name", std::move(name)}, {"core", t.core.value},
                           {"home", t.home.value}, {"cpumask", ids(t.cpumask)}, {"busy", t.busy},
                           {"idle", t.idle}, {"rounds_since_move", t.rounds_since_move}});
      }
      ojson moves = ojson::array();
      for (const ThreadMove& mv : rr.moves)
        moves.push_back(ojson{{"thread", mv.thread.value}, {"from", mv.from.value}, {"to", mv.to.value},
                              {"reason", mv.reason}});
      rounds.push_back(ojson{{"seq", rr.seq},
                             {"policy", policy_name(rr.policy)},
                             {"at_tick", rr.at_tick},
                             {"ticks", rr.ticks},
                             {"moves", std::move(moves)},
                             {"moves_landed", rr.moves_landed},
                             {"moves_skipped", rr.moves_skipped},
                             {"load", ojson{{"cores", std::move(lc)}, {"threads", std::move(lt)}}}});
      ++listed;
    }
  }
  out["rounds_total"] = st.rounds;
  out["rounds_missed"] = since ? st.rounds - *since - std::min(listed, st.rounds - *since) : 0;
  out["rounds"] = std::move(rounds);
  r.result(std::move(out));
}

}  // namespace reactor::rpc
