#include "support/harness.hh"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace reactor::test {

Harness::Harness(HarnessOptions o) {
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
  // Bounded waits drive the reactors; "time" is a pass count, since the
  // manual clock only moves when the test says so.
  po.wait = [this, passes = o.wait_passes](const std::function<bool()>& done, std::chrono::nanoseconds) {
    for (size_t i = 0; i < passes; ++i) {
      if (done()) return true;
      poll_all();
    }
    return done();
  };
  auto p = ReactorPool::create(std::move(po));
  if (!p) throw std::runtime_error("harness: " + p.error().message);
  pool_ = std::move(*p);
}

Harness::~Harness() {
  if (pool_) pool_->stop();
}

bool Harness::poll(CoreId core) {
  Reactor* r = pool_->reactor(core);
  if (r == nullptr) throw std::runtime_error("harness: no reactor on that core");
  return r->run_once(clock_.now());
}

bool Harness::poll_all() {
  std::vector<Reactor*> order;
  for (auto& r : pool_->reactors())
    if (!blocked_.test(r->core())) order.push_back(r.get());
  if (seed_ != 0) std::shuffle(order.begin(), order.end(), rng_);
  bool work = false;
  for (Reactor* r : order) work |= r->run_once(clock_.now());
  return work;
}

size_t Harness::poll_until_idle(size_t max_passes) {
  size_t passes = 0;
  // A pass in which nothing did work (no event, message, busy poller) means
  // the system is quiescent at this manual time.
  while (passes < max_passes) {
    ++passes;
    if (!poll_all()) break;
  }
  return passes;
}

ThreadRef Harness::spawn(std::string name, CpuSet mask, Closure init) {
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
  if (!t) throw std::runtime_error("harness spawn: " + t.error().message);
  for (int i = 0; i < 1000 && !*ready; ++i) poll_all();
  if (!*ready) throw std::runtime_error("harness spawn: the thread never ran its init");
  return *t;
}

}  // namespace reactor::test
