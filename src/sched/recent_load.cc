#include "sched/recent_load.hh"

#include <algorithm>
#include <cmath>

namespace reactor::detail {

void RecentLoad::fill(LoadSnapshot& s) {
  next_.clear();
  next_.reserve(s.threads.size());
  size_t li = 0;
  for (ThreadLoad& t : s.threads) {
    Entry e;
    e.id = t.id.value;
    while (li < last_.size() && last_[li].id < e.id) ++li;  // exited since
    if (li < last_.size() && last_[li].id == e.id) e = last_[li];
    const uint64_t ticks = t.busy + t.idle;
    const float share = ticks > 0 ? static_cast<float>(static_cast<double>(t.busy) / static_cast<double>(ticks)) : 0.f;
    e.share[e.next] = share;
    e.next = static_cast<uint32_t>((e.next + 1) % kRounds);
    const float peak = *std::max_element(e.share.begin(), e.share.end());
    const auto scaled = static_cast<uint64_t>(std::llround(static_cast<double>(peak) * static_cast<double>(ticks)));
    t.recent_busy = std::max(t.busy, std::min(scaled, ticks));
    next_.push_back(e);
  }
  last_.swap(next_);
}

}  // namespace reactor::detail
