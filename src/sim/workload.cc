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
constexpr double kMaxShare = 0.95;      // a thread never asks for more than this of a core (skewed)
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
    double h = 0;
    for (uint32_t k = 1; k <= n; ++k) h += 1.0 / std::pow(k, kZipfExponent);
    for (uint32_t t = 0; t < n; ++t) {
      share_[t] = std::min(kMaxShare, total / h / std::pow(rank[t], kZipfExponent));
      active_[t] = 1;
    }
    return;
  }
  // The active threads: every 1/active-th thread, at least one.
  const uint32_t n_active = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(o.active * n)));
  const double mean_active = total / n_active;
  const double mean_idle = o.idle_share;
  for (uint32_t i = 0; i < n_active; ++i) active_[static_cast<size_t>(uint64_t(i) * n / n_active)] = 1;
  for (uint32_t t = 0; t < n; ++t) {
    const double spread = 0.5 + uniform();  // 0.5 .. 1.5 x the mean
    share_[t] = std::min(1.0, (active_[t] ? mean_active : mean_idle) * spread);
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
      s = on_[t] ? std::min(1.0, 2 * s) : 0.0;
    }
    const double noise = 1 + kNoise * (2 * uniform() - 1);
    out[t] = std::max(0.0, s * shape * noise * period_us);
  }
}

}  // namespace reactor::sim
