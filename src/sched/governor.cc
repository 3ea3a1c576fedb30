// GovernorSlot and GovernorLease: at most one holder of the process's
// governor at a time, and whoever held it leaves every core at its baseline.
//
// Invariants:
//   - slot.leased() is true exactly while one non-empty GovernorLease points
//     at the slot; a lease is only created by acquire(), which refuses while
//     leased, and moving a lease transfers (never duplicates) the pointer. So
//     a second concurrent lease cannot exist.
//   - Taking a lease first calls Governor::on_lease() (a governor may take
//     platform state only while leased); its failure refuses the lease.
//   - Ending a lease (release(), destruction, being assigned over) first
//     restores the baseline of every core the governor controls, then calls
//     Governor::on_release() (the DPDK governor gives the cores back to their
//     kernel cpufreq governor), then frees the slot: the next holder never
//     starts from the previous one's frequencies. A restore that fails is logged and the remaining cores are
//     still restored; release() cannot fail (it runs in destructors).
//   - The slot outlives its leases (the Runtime owns both orders of
//     destruction); destroying it while leased is a bug and asserts.
//
// Thread: the control thread only, like the Governor calls themselves.

#include <reactor/governor.hh>

#include <utility>

#include <fmt/format.h>

#include <reactor/log.hh>

namespace reactor {

GovernorLease::GovernorLease(GovernorLease&& other) noexcept
    : slot_(std::exchange(other.slot_, nullptr)) {}

GovernorLease& GovernorLease::operator=(GovernorLease&& other) noexcept {
  if (this != &other) {
    release();
    slot_ = std::exchange(other.slot_, nullptr);
  }
  return *this;
}

GovernorLease::~GovernorLease() { release(); }

Governor& GovernorLease::operator*() const {
  REACTOR_ASSERT(slot_ != nullptr);
  return *slot_->governor_;
}

Governor* GovernorLease::operator->() const {
  REACTOR_ASSERT(slot_ != nullptr);
  return slot_->governor_.get();
}

void GovernorLease::release() noexcept {
  if (slot_ == nullptr) return;
  std::exchange(slot_, nullptr)->on_release();
}

GovernorSlot::~GovernorSlot() {
  // A lease outliving its slot would dangle: the owner got the order wrong.
  REACTOR_ASSERT(!leased_);
}

Result<GovernorLease> GovernorSlot::acquire() {
  if (governor_ == nullptr) {
    return make_error(Errc::unsupported, fmt::format("no governor is available: {}", reason_));
  }
  if (leased_) {
    return make_error(Errc::busy,
                      fmt::format("the governor '{}' is already leased (one policy at a time holds "
                                  "it; the holder must release it first)",
                                  governor_->name()));
  }
  if (auto ok = governor_->on_lease(); !ok) {
    return make_error(ok.error().code, fmt::format("the governor '{}' cannot be leased: {}", governor_->name(),
                                                   ok.error().message));
  }
  leased_ = true;
  return GovernorLease(this);
}

void GovernorSlot::on_release() noexcept {
  REACTOR_ASSERT(leased_ && governor_ != nullptr);
  try {
    for (CoreId core : governor_->cores().cores()) {
      if (auto r = governor_->restore_baseline(core); !r) {
        log(LogLevel::Warn, "governor {}: could not restore the baseline frequency of core {}: {}",
            governor_->name(), core.value, r.error().message);
      }
    }
  } catch (const std::exception& e) {
    // A governor may throw (allocation, a buggy implementation); the slot must still be freed.
    log(LogLevel::Error, "governor lease release: restoring baselines failed: {}", e.what());
  } catch (...) {
    log(LogLevel::Error, "governor lease release: restoring baselines threw a non-standard exception");
  }
  governor_->on_release();
  leased_ = false;
}

}  // namespace reactor
