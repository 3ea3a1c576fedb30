#pragma once
// Fixed JSON-RPC results shaped like rpc-compat.md §3 (and reactor's
// scheduler_get_history), shared by the formatter and CLI tests.

#include <nlohmann/json.hpp>

namespace reactor::ctl::test {

// framework_get_scheduler, dynamic with its defaults, no governor.
inline nlohmann::json scheduler_dynamic() {
  return nlohmann::json::parse(R"({
    "scheduler_name": "dynamic", "scheduler_period": 1000000, "isolated_core_mask": "0",
    "scheduling_core": 0, "load_limit": 20, "core_limit": 80, "core_busy": 95})");
}

// framework_get_scheduler before framework_start_init (no scheduler yet).
inline nlohmann::json scheduler_startup() {
  return nlohmann::json::parse(
      R"({"scheduler_period": 0, "isolated_core_mask": "c", "scheduling_core": 1})");
}

// framework_get_reactors: two cores; core 0 polls with two threads (one of
// them moved there from core 1), core 1 sleeps. tick_rate 1 GHz, USER_HZ 100.
inline nlohmann::json reactors_sample(uint64_t extra_busy0 = 0, uint64_t extra_idle0 = 0) {
  auto j = nlohmann::json::parse(R"({
    "tick_rate": 1000000000, "pid": 4242,
    "reactors": [
      {"lcore": 0, "numa_id": 0, "tid": 4242, "busy": 250, "idle": 750, "in_interrupt": false,
       "irq": 0, "sys": 12, "usr": 345,
       "lw_threads": [
         {"name": "load50", "id": 2, "cpumask": "3", "elapsed": 2500000000, "home_lcore": 0},
         {"name": "idle0", "id": 3, "cpumask": "3", "elapsed": 1000000000, "home_lcore": 1}]},
      {"lcore": 1, "numa_id": 0, "tid": 4243, "busy": 0, "idle": 0, "in_interrupt": true,
       "irq": 1, "sys": 0, "usr": 0, "lw_threads": []}]})");
  j["reactors"][0]["busy"] = 250 + extra_busy0;
  j["reactors"][0]["idle"] = 750 + extra_idle0;
  return j;
}

// reactor_get_reactor_stats (reactor's own method) for the cores above: core
// 0 spent 50 of its 1000 busy + idle ticks on overhead (5 %).
inline nlohmann::json reactor_stats_sample(uint64_t extra_busy0 = 0, uint64_t extra_idle0 = 0,
                                           uint64_t extra_overhead0 = 0) {
  auto j = nlohmann::json::parse(R"({
    "tick_rate": 1000000000,
    "reactors": [
      {"lcore": 0, "busy": 250, "idle": 750, "sleep": 0, "overhead": 50, "loops": 1000,
       "wakeups": 0, "stalls": 0, "current_thread": 2},
      {"lcore": 1, "busy": 0, "idle": 0, "sleep": 5000, "overhead": 0, "loops": 3,
       "wakeups": 3, "stalls": 0, "current_thread": 0}]})");
  j["reactors"][0]["busy"] = 250 + extra_busy0;
  j["reactors"][0]["idle"] = 750 + extra_idle0;
  j["reactors"][0]["overhead"] = 50 + extra_overhead0;
  return j;
}

// thread_get_stats for the threads above.
inline nlohmann::json stats_sample(uint64_t extra_busy2 = 0, uint64_t extra_idle2 = 0) {
  auto j = nlohmann::json::parse(R"({
    "tick_rate": 1000000000,
    "threads": [
      {"name": "load50", "id": 2, "cpumask": "3", "busy": 500, "idle": 500,
       "active_pollers_count": 0, "timed_pollers_count": 1, "paused_pollers_count": 0},
      {"name": "idle0", "id": 3, "cpumask": "3", "busy": 0, "idle": 0,
       "active_pollers_count": 0, "timed_pollers_count": 0, "paused_pollers_count": 0}]})");
  j["threads"][0]["busy"] = 500 + extra_busy2;
  j["threads"][0]["idle"] = 500 + extra_idle2;
  return j;
}

// thread_get_pollers.
inline nlohmann::json pollers_sample() {
  return nlohmann::json::parse(R"({
    "tick_rate": 1000000000,
    "threads": [
      {"name": "load50", "id": 2,
       "active_pollers": [],
       "timed_pollers": [{"name": "load50", "id": 1, "state": "waiting", "run_count": 120,
                          "busy_count": 118, "period_ticks": 100000000}],
       "paused_pollers": []},
      {"name": "io", "id": 4,
       "active_pollers": [{"name": "io_poll", "id": 1, "state": "running", "run_count": 99999,
                           "busy_count": 7}],
       "timed_pollers": [],
       "paused_pollers": [{"name": "flush", "id": 2, "state": "paused", "run_count": 3,
                           "busy_count": 0, "period_ticks": 500000}]}]})");
}

// framework_get_governor with a governor.
inline nlohmann::json governor_sample() {
  return nlohmann::json::parse(R"({
    "governor_name": "sim_governor", "module_specific": {"env": "simulated"},
    "cores": [
      {"lcore_id": 0, "available_frequencies": [3000000, 2400000, 1800000, 1200000],
       "current_frequency": 2400000},
      {"lcore_id": 1, "available_frequencies": [3000000, 1200500], "current_frequency": 0}]})");
}

// scheduler_get_history: two transitions (one failed) and three rounds.
inline nlohmann::json history_sample() {
  return nlohmann::json::parse(R"({
    "transitions": [
      {"seq": 1, "from": "static", "to": "dynamic", "result_policy": "dynamic",
       "options": "period_us=1000000", "duration_us": 420,
       "restore": {"moves_requested": 0, "moves_done": 0, "moves_skipped": 0,
                   "timed_out": false, "detail": ""},
       "ok": true, "result": "ok"},
      {"seq": 2, "from": "dynamic", "to": "gscheduler", "result_policy": "dynamic",
       "options": "", "duration_us": 1500,
       "restore": {"moves_requested": 2, "moves_done": 1, "moves_skipped": 1,
                   "timed_out": true, "detail": "thread 3 exiting"},
       "ok": false, "result": "gscheduler needs a governor:\nnone configured; dynamic runs"}],
    "rounds": [
      {"seq": 7, "policy": "dynamic", "duration_us": 35, "moves": [], "moves_landed": 0,
       "moves_skipped": 0, "mode_changes": 0, "frequency_requests": 0, "problems": []},
      {"seq": 8, "policy": "dynamic", "duration_us": 80,
       "moves": [{"thread": 3, "to": 0, "reason": "idle"}], "moves_landed": 1,
       "moves_skipped": 0, "mode_changes": 1, "frequency_requests": 0, "problems": []},
      {"seq": 9, "policy": "dynamic", "duration_us": 2500000, "moves": [], "moves_landed": 0,
       "moves_skipped": 1, "mode_changes": 0, "frequency_requests": 2,
       "problems": ["thread 5 in transit", "governor: EBUSY"]}]})");
}

}  // namespace reactor::ctl::test
