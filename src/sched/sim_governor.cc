// SimGovernor: a frequency ladder per core, held as an index into one shared
// ladder (0 = top). The baseline is the middle of the ladder, not its top, as
// a kernel governor leaves an idle-ish core: so a test can tell "restored to
// baseline" from "left at maximum". Every request, including those that change
// nothing (step up at the top, step down at the bottom), is recorded with the
// frequency before and after, because what tests care about is what the
// policy or the lease *asked* for. The record is bounded (oldest dropped) so a
// long run with the simulated governor does not grow without limit.
//
// One mutex guards all state: the control thread steps while tests read
// requests() from their own thread, and no call here is on a hot path.

#include <reactor/sim_governor.hh>

#include <algorithm>
#include <functional>

#include <fmt/format.h>

namespace reactor {
namespace {

// Default ladder bounds (kHz): 3.0 GHz to 1.0 GHz in 100 MHz steps.
constexpr uint32_t kDefaultTopKhz = 3'000'000;
constexpr uint32_t kDefaultBottomKhz = 1'000'000;
constexpr uint32_t kDefaultStepKhz = 100'000;

std::vector<uint32_t> normalise_ladder(std::vector<uint32_t> ladder) {
  std::erase(ladder, 0u);
  std::sort(ladder.begin(), ladder.end(), std::greater<>());
  ladder.erase(std::unique(ladder.begin(), ladder.end()), ladder.end());
  if (ladder.empty()) return SimGovernor::default_ladder();
  return ladder;
}

size_t level_slots(const CpuSet& cores) {
  const auto list = cores.cores();
  return list.empty() ? 0 : list.back().value + 1;
}

}  // namespace

std::string_view frequency_action_name(FrequencyAction action) noexcept {
  switch (action) {
    case FrequencyAction::Min: return "min";
    case FrequencyAction::Max: return "max";
    case FrequencyAction::StepUp: return "step_up";
    case FrequencyAction::StepDown: return "step_down";
    case FrequencyAction::Baseline: return "baseline";
  }
  return "unknown";
}

std::vector<uint32_t> SimGovernor::default_ladder() {
  std::vector<uint32_t> ladder;
  for (uint32_t khz = kDefaultTopKhz; khz >= kDefaultBottomKhz; khz -= kDefaultStepKhz) {
    ladder.push_back(khz);
  }
  return ladder;
}

SimGovernor::SimGovernor(const CpuSet& cores, std::vector<uint32_t> ladder_khz)
    : cores_(cores),
      ladder_(normalise_ladder(std::move(ladder_khz))),
      baseline_level_(ladder_.size() / 2),
      level_(level_slots(cores), baseline_level_) {}

std::string SimGovernor::name() const { return "sim_governor"; }

std::string SimGovernor::environment() const { return "sim"; }

GovernorCapabilities SimGovernor::capabilities() const {
  return GovernorCapabilities{.per_core = true, .turbo = false};
}

CpuSet SimGovernor::cores() const { return cores_; }

std::vector<uint32_t> SimGovernor::available_frequencies(CoreId core) const {
  if (!cores_.test(core)) return {};
  return ladder_;
}

uint32_t SimGovernor::current_frequency(CoreId core) const {
  if (!cores_.test(core)) return 0;
  std::lock_guard lock(mu_);
  return ladder_[level_[core.value]];
}

uint32_t SimGovernor::baseline_frequency(CoreId core) const {
  if (!cores_.test(core)) return 0;
  return ladder_[baseline_level_];
}

Result<void> SimGovernor::step_up(CoreId core) { return apply(core, FrequencyAction::StepUp); }
Result<void> SimGovernor::step_down(CoreId core) { return apply(core, FrequencyAction::StepDown); }
Result<void> SimGovernor::set_max(CoreId core) { return apply(core, FrequencyAction::Max); }
Result<void> SimGovernor::set_min(CoreId core) { return apply(core, FrequencyAction::Min); }
Result<void> SimGovernor::restore_baseline(CoreId core) { return apply(core, FrequencyAction::Baseline); }

Result<void> SimGovernor::apply(CoreId core, FrequencyAction action) {
  if (!cores_.test(core)) {
    return make_error(Errc::invalid_argument,
                      fmt::format("core {} is not governed by sim_governor (governed cores: {})",
                                  core.value, cores_.empty() ? "none" : cores_.to_list()));
  }
  const size_t bottom = ladder_.size() - 1;
  std::lock_guard lock(mu_);
  size_t& level = level_[core.value];
  const uint32_t before = ladder_[level];
  switch (action) {
    case FrequencyAction::StepUp: level = level == 0 ? 0 : level - 1; break;
    case FrequencyAction::StepDown: level = level == bottom ? bottom : level + 1; break;
    case FrequencyAction::Max: level = 0; break;
    case FrequencyAction::Min: level = bottom; break;
    case FrequencyAction::Baseline: level = baseline_level_; break;
  }
  if (requests_.size() == kMaxRecordedRequests) requests_.pop_front();
  requests_.push_back(Request{core, action, before, ladder_[level]});
  ++total_requests_;
  return {};
}

std::vector<SimGovernor::Request> SimGovernor::requests() const {
  std::lock_guard lock(mu_);
  return {requests_.begin(), requests_.end()};
}

uint64_t SimGovernor::total_requests() const {
  std::lock_guard lock(mu_);
  return total_requests_;
}

void SimGovernor::clear_requests() {
  std::lock_guard lock(mu_);
  requests_.clear();
  total_requests_ = 0;
}

std::unique_ptr<Governor> make_sim_governor(const CpuSet& cores, std::vector<uint32_t> ladder_khz) {
  return std::make_unique<SimGovernor>(cores, std::move(ladder_khz));
}

}  // namespace reactor
