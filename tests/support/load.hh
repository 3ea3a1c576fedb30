#pragma once
// Synthetic load for the deterministic harness: a poller that "takes" a fixed
// number of manual-clock ticks per call and reports busy on `busy_pct` out of
// every 100 calls, so a thread's measured busy % is exactly busy_pct.

#include <atomic>
#include <cstdint>
#include <memory>

#include <reactor/clock.hh>
#include <reactor/thread.hh>

namespace reactor::test {

struct LoadKnob {
  std::atomic<uint32_t> busy_pct{0};
};

/// Registers the load poller on the current thread (call inside a message).
inline void register_load(ManualClock& clock, std::shared_ptr<LoadKnob> knob, uint64_t ticks_per_call = 100) {
  auto n = std::make_shared<uint64_t>(0);
  (void)current_thread()->register_poller("load", [&clock, knob, n, ticks_per_call] {
    clock.advance(ticks_per_call);
    uint64_t i = (*n)++ % 100;
    return i < knob->busy_pct.load(std::memory_order_relaxed) ? PollStatus::Busy : PollStatus::Idle;
  });
}

}  // namespace reactor::test
