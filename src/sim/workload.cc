// Generated workloads (see workload.hh for what each kind is). The generator
// is mt19937_64, whose output the standard fixes; uniform() maps its top 53
// bits to [0, 1), so the demand is the same with every standard library.

#include "sim/workload.hh"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

namespace reactor::sim {
namespace {

constexpr double kNoise = 0.1;          // +- uniform noise per round
constexpr double kBurstFlip = 0.2;      // per-second on<->off probability (bursty)
constexpr double kZipfExponent = 1.1;   // skewed
constexpr double kSpreadMax = 1.5;      // an active thread's mean is 0.5 .. 1.5 x the average
constexpr double kNight = 0.1;          // diurnal minimum, fraction of the peak
constexpr double kPi = 3.14159265358979323846;

}  // namespace

Result<WorkloadKind> parse_workload_kind(std::string_view name) {
  if (name == "steady") return WorkloadKind::Steady;
  if (name == "bursty") return WorkloadKind::Bursty;
  if (name == "diurnal") return WorkloadKind::Diurnal;
  if (name == "skewed") return WorkloadKind::Skewed;
  return make_error(Errc::invalid_argument,
                    fmt::format("unknown workload '{}' (known: steady, bursty, diurnal, skewed)", name));
}

std::string_view workload_name(WorkloadKind kind) noexcept {
  switch (kind) {
    case WorkloadKind::Steady: return "steady";
    case WorkloadKind::Bursty: return "bursty";
    case WorkloadKind::Diurnal: return "diurnal";
    case WorkloadKind::Skewed: return "skewed";
  }
  return "?";
}

uint32_t active_threads(const WorkloadOptions& o) {
  if (o.kind == WorkloadKind::Skewed) return o.threads;
  const double total = o.load * o.cores;
  // Enough threads that the busiest one's peak (spread, and twice its share
  // while a burst is on) stays within kMaxThreadShare of a core.
  const double peak = kSpreadMax * (o.kind == WorkloadKind::Bursty ? 2.0 : 1.0);
  const auto needed = static_cast<uint64_t>(std::ceil(total * peak / kMaxThreadShare - 1e-9));
  const auto asked = std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(o.active * o.threads)));
  return static_cast<uint32_t>(std::max(asked, needed));
}

Result<void> validate(const WorkloadOptions& o) {
  if (o.threads < 1) return make_error(Errc::invalid_argument, "--threads must be at least 1");
  if (o.cores < 1) return make_error(Errc::invalid_argument, "--cores must be at least 1");
  if (!(o.load > 0) || !std::isfinite(o.load) || o.load > 10)
    return make_error(Errc::invalid_argument, fmt::format("--load {} is out of range (0 < load <= 10)", o.load));
  if (!(o.active > 0) || o.active > 1)
    return make_error(Errc::invalid_argument, fmt::format("--active {} is out of range (0 < active <= 1)", o.active));
  if (!(o.idle_share >= 0) || o.idle_share > 1)
    return make_error(Errc::invalid_argument,
                      fmt::format("--idle-share {} is out of range (0 <= idle-share <= 1)", o.idle_share));
  if (o.kind == WorkloadKind::Skewed ? o.load * o.cores > kMaxThreadShare * o.threads
                                     : active_threads(o) > o.threads)
    return make_error(Errc::invalid_argument,
                      fmt::format("--threads {} cannot carry --load {} of {} cores: {} needs at least {} threads "
                                  "(no thread asks for more than {} of a core)",
                                  o.threads, o.load, o.cores, workload_name(o.kind),
                                  o.kind == WorkloadKind::Skewed
                                      ? static_cast<uint32_t>(std::ceil(o.load * o.cores / kMaxThreadShare))
                                      : active_threads(o),
                                  kMaxThreadShare));
  if (!(o.duration_s > 0) || !std::isfinite(o.duration_s))
    return make_error(Errc::invalid_argument, fmt::format("--duration {} must be positive", o.duration_s));
  return {};
}

double Workload::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

Workload::Workload(const WorkloadOptions& o) : o_(o), rng_(o.seed) {
  const uint32_t n = o.threads;
  share_.assign(n, 0.0);
  active_.assign(n, 0);
  on_.assign(n, 0);
  const double total = o.load * o.cores;
  if (o.kind == WorkloadKind::Skewed) {
    std::vector<uint32_t> rank(n);
    std::iota(rank.begin(), rank.end(), 1u);
    for (uint32_t i = n; i > 1; --i) std::swap(rank[i - 1], rank[static_cast<uint32_t>(uniform() * i)]);
    // Water-filling: share(k) = min(cap, c / k^1.1), c such that the shares
    // add up to the total (validate() made sure the cap allows it). The sum
    // grows with c, so bisect.
    std::vector<double> w(n);
    for (uint32_t k = 1; k <= n; ++k) w[k - 1] = 1.0 / std::pow(k, kZipfExponent);
    auto sum_at = [&](double c) {
      double s = 0;
      for (double x : w) s += std::min(kMaxThreadShare, c * x);
      return s;
    };
    double lo = 0, hi = total;  // c = total gives rank 1 (weight 1) the whole total
    while (sum_at(hi) < total && hi < 1e300) hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) (sum_at((lo + hi) / 2) < total ? lo : hi) = (lo + hi) / 2;
    for (uint32_t t = 0; t < n; ++t) {
      share_[t] = std::min(kMaxThreadShare, hi * w[rank[t] - 1]);
      active_[t] = 1;
    }
    return;
  }
  // The active threads, chosen at random and spread like a daemon's I/O
  // threads: thread t's home under round-robin placement is core t mod
  // cores, so the threads fall into `cores` classes, and each class gets
  // as many active threads as any other, +-1 (which classes get the extra
  // one, and which members, is random). Picking at a fixed stride instead
  // put them all on the few cores the stride and the core count share a
  // factor with (stride 20 on 128 cores: multiples of 4, twice their
  // capacity while the rest idled).
  const uint32_t n_active = active_threads(o);
  const uint32_t n_classes = std::min(o.cores, n);
  std::vector<std::vector<uint32_t>> members(n_classes);
  for (uint32_t t = 0; t < n; ++t) members[t % n_classes].push_back(t);
  for (auto& m : members)
    for (size_t i = m.size(); i > 1; --i) std::swap(m[i - 1], m[static_cast<size_t>(uniform() * static_cast<double>(i))]);
  std::vector<uint32_t> order(n_classes);
  std::iota(order.begin(), order.end(), 0u);
  for (uint32_t i = n_classes; i > 1; --i) std::swap(order[i - 1], order[static_cast<uint32_t>(uniform() * i)]);
  uint32_t chosen = 0;
  for (size_t level = 0; chosen < n_active; ++level)
    for (uint32_t c : order) {
      if (chosen == n_active) break;
      if (level < members[c].size()) {
        active_[members[c][level]] = 1;
        ++chosen;
      }
    }
  const double mean_active = total / n_active;
  const double mean_idle = o.idle_share;
  for (uint32_t t = 0; t < n; ++t) {
    const double spread = 0.5 + uniform();  // 0.5 .. 1.5 x the mean
    share_[t] = std::min(kMaxThreadShare, (active_[t] ? mean_active : mean_idle) * spread);
    on_[t] = uniform() < 0.5;
  }
}

void Workload::demand(double t_s, double period_s, std::vector<double>& out) {
  out.resize(share_.size());
  const double period_us = period_s * 1e6;
  double shape = 1.0;
  if (o_.kind == WorkloadKind::Diurnal) {
    const double mid = t_s + period_s / 2;
    shape = kNight + (1 - kNight) * (1 - std::cos(2 * kPi * mid / o_.duration_s)) / 2;
  }
  // Per-round flip probability of a per-second rate.
  const double flip = 1 - std::pow(1 - kBurstFlip, period_s);
  for (size_t t = 0; t < share_.size(); ++t) {
    double s = share_[t];
    if (o_.kind == WorkloadKind::Bursty && active_[t]) {
      if (uniform() < flip) on_[t] ^= 1;
      s = on_[t] ? std::min(kMaxThreadShare, 2 * s) : 0.0;
    }
    const double noise = 1 + kNoise * (2 * uniform() - 1);
    out[t] = std::max(0.0, s * shape * noise * period_us);
  }
}

}  // namespace reactor::sim
