#pragma once
// One registered poller. Owned by its LwThread; run only by the hosting
// reactor's OS thread. Counters and state are atomics so pollers() can read
// them from any thread while holding the thread's poller-list mutex.

#include <atomic>
#include <cstdint>
#include <string>

#include <reactor/thread.hh>

namespace reactor::detail {

// What a call touches comes first (fn, state, the counts, next_run): one
// cache line per call. The state stays Waiting while the poller runs (the
// thread's running_ names the running one); only pause/resume/unregister and
// exit change it, all on the hosting reactor's OS thread.
struct PollerSlot {
  PollerFn fn;
  std::atomic<PollerState> state{PollerState::Waiting};
  std::atomic<uint64_t> run_count{0};
  std::atomic<uint64_t> busy_count{0};
  uint64_t next_run = 0;      // timed pollers: tick of the next run
  uint64_t period_ticks = 0;  // 0: active poller
  uint64_t period_us = 0;
  PollerId id;
  std::string name;
};

}  // namespace reactor::detail
