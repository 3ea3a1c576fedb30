// ManualPool: a ReactorPool in Launch::Manual on a ManualClock, driven by the
// caller. The pool's wait function drives every unblocked reactor until the
// awaited condition holds, bounded by a pass count (the manual clock moves
// only when the caller says so, so wall time cannot bound it).

#include "sim/manual_pool.hh"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

namespace reactor::sim {

ManualPool::ManualPool(ManualPoolOptions o) {
  if (o.seed == 0) {
    if (const char* s = std::getenv("REACTOR_SIM_SEED")) o.seed = std::strtoull(s, nullptr, 10);
  }
  seed_ = o.seed;
  rng_.seed(seed_);
  Topology topo = o.topology ? *o.topology : Topology::flat(o.cores);
  PoolOptions po;
  po.cores = o.reactor_cores.empty() ? topo.all() : o.reactor_cores;
  po.topology = topo;
  po.clock = &clock_;
  po.launch = Launch::Manual;
  po.baseline = o.baseline;
  po.isolated = o.isolated;
  po.main_core = o.main_core;
  po.wait = [this, passes = o.wait_passes](const std::function<bool()>& done, std::chrono::nanoseconds) {
    for (size_t i = 0; i < passes; ++i) {
      if (done()) return true;
      poll_all();
    }
    return done();
  };
  auto p = ReactorPool::create(std::move(po));
  if (!p) throw std::runtime_error(p.error().message);
  pool_ = std::move(*p);
}

ManualPool::~ManualPool() {
  if (pool_) pool_->stop();
}

bool ManualPool::poll(CoreId core) {
  Reactor* r = pool_->reactor(core);
  if (r == nullptr) throw std::runtime_error("manual pool: no reactor on that core");
  return r->run_once(clock_.now());
}

bool ManualPool::poll_all() {
  ++passes_;
  order_.clear();
  for (auto& r : pool_->reactors())
    if (!blocked_.test(r->core())) order_.push_back(r.get());
  if (seed_ != 0) std::shuffle(order_.begin(), order_.end(), rng_);
  bool work = false;
  const uint64_t now = clock_.now();
  for (Reactor* r : order_) work |= r->run_once(now);
  return work;
}

size_t ManualPool::poll_until_idle(size_t max_passes) {
  size_t passes = 0;
  // A pass in which nothing did work (no event, message, busy poller) means
  // the system is quiescent at this manual time.
  while (passes < max_passes) {
    ++passes;
    if (!poll_all()) break;
  }
  return passes;
}

ThreadRef ManualPool::spawn(std::string name, CpuSet mask, Closure init) {
  ThreadOptions o;
  o.name = std::move(name);
  o.cpumask = mask;
  // Poll until the thread landed and its init ran (not until the whole
  // system is idle: busy pollers elsewhere would keep it from ever being).
  auto ready = std::make_shared<bool>(false);
  auto t = pool_->spawn(std::move(o), [ready, init = std::move(init)]() mutable {
    if (init) init();
    *ready = true;
  });
  if (!t) throw std::runtime_error("spawn: " + t.error().message);
  for (int i = 0; i < 1000 && !*ready; ++i) poll_all();
  if (!*ready) throw std::runtime_error("spawn: the thread never ran its init");
  return *t;
}

std::vector<ThreadRef> ManualPool::spawn_many(std::vector<ThreadOptions> options) {
  std::vector<ThreadRef> out;
  out.reserve(options.size());
  auto ready = std::make_shared<size_t>(0);
  for (ThreadOptions& o : options) {
    const std::string name = o.name;
    auto t = pool_->spawn(std::move(o), [ready] { ++*ready; });
    if (!t) throw std::runtime_error(fmt::format("spawn of '{}': {}", name, t.error().message));
    out.push_back(std::move(*t));
  }
  for (int i = 0; i < 1000 && *ready < out.size(); ++i) poll_all();
  if (*ready < out.size())
    throw std::runtime_error(fmt::format("spawn: {} of {} threads never ran their init", out.size() - *ready,
                                         out.size()));
  return out;
}

}  // namespace reactor::sim
