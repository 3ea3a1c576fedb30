#pragma once
// One registered poller. Owned by its LwThread; run only by the hosting
// reactor's OS thread. Counters and state are atomics so pollers() can read
// them from any thread while holding the thread's poller-list mutex.

#include <atomic>
#include <cstdint>
#include <string>

#include <reactor/thread.hh>

namespace reactor::detail {

struct PollerSlot {
  std::string name;
  PollerId id;
  PollerFn fn;
  uint64_t period_ticks = 0;  // 0: active poller
  uint64_t period_us = 0;
  uint64_t next_run = 0;      // timed pollers: tick of the next run
  std::atomic<PollerState> state{PollerState::Waiting};
  std::atomic<uint64_t> run_count{0};
  std::atomic<uint64_t> busy_count{0};
};

}  // namespace reactor::detail
