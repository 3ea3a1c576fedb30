// ReactorPool: reactors of a core set plus the thread registry.
//
// Start: validate options, build one Reactor per core, then (OsThreads) start
// one OS thread per reactor: name it reactor_<core>, pin it (hwloc, strict),
// create its io_uring, loop { run_once(now); sleep_if_idle(max_sleep) }, one
// clock read per hosted thread per pass; each pass starts at the previous
// pass's (or sleep's) last clock read, so load is charged against wall time.
//
// Stop (idempotent; the destructor calls it):
//   1. stopping = true; wake every reactor: each asks its threads to exit
//      (threads in transit are asked when they land);
//   2. wait (bounded) until the registry is empty; name the stragglers;
//   3. stopped = true; wake every reactor; join the OS threads.
// Threads still hosted after step 3 are released with their reactor.

#include <reactor/pool.hh>

#include <pthread.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <atomic>
#include <set>

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <reactor/log.hh>

#include "reactor/event_queue.hh"
#include "env/cycles.hh"
#include "reactor/waker.hh"
#include "thread/send_guard.hh"

namespace reactor {
namespace {

bool napping_wait(const std::function<bool()>& done, std::chrono::nanoseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto nap = std::chrono::microseconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(nap);
    nap = std::min<std::chrono::microseconds>(nap * 2, std::chrono::microseconds(1000));
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<ReactorPool>> ReactorPool::create(PoolOptions o) {
  // Before any thread exists to send to (send_guard.hh).
  detail::init_send_guard();
  Topology topo;
  if (o.topology) {
    topo = *o.topology;
  } else {
    auto t = Topology::discover();
    if (!t) return tl::unexpected(t.error());
    topo = std::move(*t);
  }
  if (o.cores.empty()) return make_error(Errc::invalid_argument, "the reactor core set is empty");
  if (!o.cores.is_subset_of(topo.all())) {
    CpuSet missing = o.cores;
    for (CoreId c : topo.all().cores()) missing.reset(c);
    return make_error(Errc::invalid_argument,
                      fmt::format("cores {} are not available on this machine (available: {})", missing.to_list(),
                                  topo.all().to_list()));
  }
  if (!o.isolated.is_subset_of(o.cores))
    return make_error(Errc::invalid_argument,
                      fmt::format("isolated cores {} are not all reactor cores ({})", o.isolated.to_list(),
                                  o.cores.to_list()));
  CoreId main = o.main_core.value_or(o.cores.first());
  if (!o.cores.test(main))
    return make_error(Errc::invalid_argument,
                      fmt::format("main core {} is not in the core set {}", main.value, o.cores.to_list()));
  if (o.isolated.test(main))
    return make_error(Errc::invalid_argument, fmt::format("main core {} cannot be isolated", main.value));
  if (o.launch != Launch::Manual && topo.is_synthetic())
    return make_error(Errc::invalid_argument,
                      "a synthetic topology cannot host real reactor threads (binding would do nothing): use "
                      "Launch::Manual");
  o.main_core = main;
  // EAL lcores: find the worker lcore bound to each reactor core up front, so
  // a missing one is an error before anything starts.
  std::vector<int> lcore_of;  // per reactor, -1: use a std::thread
  if (o.launch == Launch::EalLcores) {
    if (rte_lcore_count() == 0)
      return make_error(Errc::invalid_argument, "Launch::EalLcores needs DPDK's EAL initialised first (rte_eal_init)");
    for (CoreId c : o.cores.cores()) {
      int found = -1;
      if (rte_lcore_to_cpu_id(static_cast<int>(rte_get_main_lcore())) != static_cast<int>(c.value)) {
        unsigned lc;
        RTE_LCORE_FOREACH_WORKER(lc) {
          if (rte_lcore_to_cpu_id(static_cast<int>(lc)) == static_cast<int>(c.value)) found = static_cast<int>(lc);
        }
        if (found < 0)
          return make_error(Errc::invalid_argument,
                            fmt::format("core {} has no EAL worker lcore (start EAL with -l including it)", c.value));
      }
      lcore_of.push_back(found);
    }
  }
  auto pool = std::make_unique<ReactorPool>(Token{}, std::move(o), std::move(topo));
  // Out of descriptors (RLIMIT_NOFILE): a reactor without its eventfd could
  // never be woken. Refuse before any thread starts.
  for (const auto& r : pool->reactors_)
    if (r->waker_->efd < 0)
      return make_error(Errc::io, fmt::format("cannot create the eventfd of reactor {}: {}", r->core().value,
                                              std::strerror(r->waker_->efd_errno())));
  if (pool->launch_ == Launch::OsThreads || pool->launch_ == Launch::EalLcores) {
    for (size_t i = 0; i < pool->reactors_.size(); ++i) {
      Reactor* rp = pool->reactors_[i].get();
      if (!lcore_of.empty() && lcore_of[i] >= 0) {
        auto tramp = [](void* arg) -> int {
          auto* pr = static_cast<std::pair<ReactorPool*, Reactor*>*>(arg);
          auto [p, r] = *pr;
          delete pr;
          p->run_reactor(*r);
          // Our own release: EAL's lcore hand-shake is invisible to TSan.
          p->eal_running_.fetch_sub(1, std::memory_order_acq_rel);
          return 0;
        };
        auto* arg = new std::pair<ReactorPool*, Reactor*>(pool.get(), rp);
        pool->eal_running_.fetch_add(1, std::memory_order_acq_rel);
        if (rte_eal_remote_launch(tramp, arg, static_cast<unsigned>(lcore_of[i])) != 0) {
          pool->eal_running_.fetch_sub(1, std::memory_order_acq_rel);
          delete arg;
          pool->stop(std::chrono::milliseconds(0));
          return make_error(Errc::busy, fmt::format("EAL lcore {} is busy", lcore_of[i]));
        }
        pool->eal_lcores_.push_back(static_cast<unsigned>(lcore_of[i]));
        continue;
      }
      pool->os_threads_.emplace_back([p = pool.get(), rp] { p->run_reactor(*rp); });
    }
    // Wait until every reactor is up (tid published) so stats are complete.
    pool->wait_for(
        [p = pool.get()] {
          return std::all_of(p->reactors_.begin(), p->reactors_.end(),
                             [](const auto& r) { return r->stats().tid != 0; });
        },
        std::chrono::seconds(10));
  }
  return pool;
}

ReactorPool::ReactorPool(Token, PoolOptions&& o, Topology topology)
    : topology_(std::move(topology)),
      cores_(o.cores),
      isolated_(o.isolated),
      main_core_(*o.main_core),
      baseline_(o.baseline),
      launch_(o.launch),
      stall_threshold_(o.stall_threshold),
      max_sleep_(o.max_sleep),
      wait_bound_(o.wait_bound),
      wait_(std::move(o.wait)) {
  if (o.clock != nullptr) {
    clock_ = o.clock;
  } else {
    owned_clock_ = std::make_unique<SystemClock>();
    clock_ = owned_clock_.get();
  }
  if (!wait_) wait_ = napping_wait;
  uint32_t max_core = 0;
  for (CoreId c : cores_.cores()) max_core = std::max(max_core, c.value);
  by_core_.assign(max_core + 1, nullptr);
  uint64_t stall_ticks = clock_->us_to_ticks(static_cast<uint64_t>(stall_threshold_.count()));
  for (CoreId c : cores_.cores()) {
    reactors_.push_back(std::make_unique<Reactor>(Reactor::Token{}, c, *this, *clock_, baseline_, stall_ticks));
    by_core_[c.value] = reactors_.back().get();
  }
}

ReactorPool::~ReactorPool() { stop(); }

void ReactorPool::run_reactor(Reactor& r) {
  std::string name = fmt::format("reactor_{}", r.core().value);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  if (auto b = topology_.bind_current_thread(r.core()); !b)
    log(LogLevel::Error, "{}: cannot pin to core {}: {}", name, r.core().value, b.error().message);
  r.init_waiter();
  // Cycle-timed passes (reactor.cc) where a clock read costs more than the
  // cycle counter: the clock is CLOCK_MONOTONIC (a vDSO call, 70-90 ns under
  // kvm-clock) and the CPU's counter runs at a constant rate.
  if (const auto* sc = dynamic_cast<const SystemClock*>(clock_); sc != nullptr && !sc->uses_tsc())
    r.waker_->cycle_passes = detail::cycle_counter_usable();
  const uint64_t max_sleep_ns = static_cast<uint64_t>(std::chrono::nanoseconds(max_sleep_).count());
  uint64_t now = clock_->now();
  while (!stopped_.load(std::memory_order_acquire)) {
    r.run_once(now);
    // A pass (and a sleep) ends with a clock read: the next pass starts there.
    (void)r.sleep_if_idle(max_sleep_ns);
    now = r.pass_end();
  }
  // Land whatever is still queued (arrivals) so no thread is lost in an event.
  r.run_once(clock_->now());
  // The ring outlives this OS thread (the pool destroys it): its fd
  // registration belongs to this thread, so drop it here.
  r.waker_->release_ring_fd();
}

bool ReactorPool::on_reactor_thread() const noexcept {
  const uint64_t me = static_cast<uint64_t>(::syscall(SYS_gettid));
  return std::any_of(reactors_.begin(), reactors_.end(), [me](const auto& r) { return r->stats().tid == me; });
}

bool ReactorPool::wait_for(const std::function<bool()>& done, std::chrono::nanoseconds timeout) const {
  return wait_(done, timeout);
}

uint64_t ReactorPool::reactor_cpu_ns(CoreId core) const noexcept {
  Reactor* r = reactor(core);
  if (r == nullptr || launch_ == Launch::Manual) return 0;
  const uint64_t tid = r->stats().tid;
  if (tid == 0) return 0;
  // Linux's per-thread CPU clock id for a tid (what pthread_getcpuclockid
  // computes for a pthread); works for EAL lcore threads as well.
  const clockid_t cid = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
  timespec ts{};
  if (clock_gettime(cid, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t ReactorPool::asleep_since(const ThreadStats& stats, uint64_t now) const noexcept {
  // The thread's counters were read first, the reactor's state now: a reader
  // that saw them grown by the sleep sees it ended (Reactor::sleep_if_idle).
  std::atomic_thread_fence(std::memory_order_acquire);
  if (stats.in_transit) return 0;
  const Reactor* r = reactor(stats.core);
  return r != nullptr ? r->stats().asleep_at(now) : 0;
}

Reactor* ReactorPool::reactor(CoreId core) const noexcept {
  return core.value < by_core_.size() ? by_core_[core.value] : nullptr;
}

Result<ThreadRef> ReactorPool::spawn(ThreadOptions o, Closure init) {
  if (stopping_.load(std::memory_order_acquire))
    return make_error(Errc::exited, "the reactor pool is stopping: no new threads");
  CpuSet mask = o.cpumask.empty() ? cores_ : o.cpumask;
  if (!mask.is_subset_of(cores_)) {
    return make_error(Errc::invalid_argument,
                      fmt::format("thread '{}': cpumask {} is not inside the reactor cores {}", o.name,
                                  mask.to_list(), cores_.to_list()));
  }
  if (o.name.size() > kMaxNameBytes)
    return make_error(Errc::invalid_argument, fmt::format("thread name of {} bytes: at most {} bytes",
                                                          o.name.size(), kMaxNameBytes));
  if (o.ring_size < 64 || o.ring_size > (1u << 20) || (o.ring_size & (o.ring_size - 1)) != 0)
    return make_error(Errc::invalid_argument,
                      fmt::format("thread '{}': ring_size {} must be a power of two in 64..1048576", o.name,
                                  o.ring_size));
  std::shared_ptr<LwThread> t;
  {
    std::lock_guard lk(mu_);
    CoreId home;
    if (o.home) {
      if (!mask.test(*o.home))
        return make_error(Errc::invalid_argument,
                          fmt::format("thread '{}': home core {} is not in its cpumask {}", o.name, o.home->value,
                                      mask.to_list()));
      home = *o.home;
    } else {
      // One cursor cycling through the pool's cores in ascending order; the
      // next core inside the thread's mask becomes its home.
      auto all = cores_.cores();
      for (size_t k = 0; k < all.size(); ++k) {
        CoreId c = all[(rr_cursor_ + k) % all.size()];
        if (mask.test(c)) {
          home = c;
          rr_cursor_ = static_cast<uint32_t>((rr_cursor_ + k + 1) % all.size());
          break;
        }
      }
    }
    ThreadId id{next_thread_id_++};
    std::string name = o.name.empty() ? fmt::format("thread_{}", id.value) : std::move(o.name);
    t = std::make_shared<LwThread>(LwThread::Token{}, id, std::move(name), mask, home, o.ring_size,
                                   std::move(o.on_exit), *clock_);
    t->reactor_.store(reactor(home), std::memory_order_release);
    live_.emplace(id, t);
  }
  ThreadRef ref(t);
  if (init) {
    auto sent = ref.send(std::move(init));
    REACTOR_ASSERT(sent.has_value());  // a fresh ring is empty and running
  }
  auto ev = std::make_unique<detail::ReactorEvent>(detail::ReactorEvent::Kind::Arrive);
  ev->thread = std::move(t);
  reactor(ref->home_core())->post(std::move(ev));
  return ref;
}

Result<MoveTicket> ReactorPool::move(ThreadId id, CoreId to, const char* cause) {
  std::shared_ptr<LwThread> t;
  {
    std::lock_guard lk(mu_);
    auto it = live_.find(id);
    if (it == live_.end()) return make_error(Errc::not_found, fmt::format("no thread with id {}", id.value));
    t = it->second;
  }
  if (reactor(to) == nullptr)
    return make_error(Errc::invalid_argument,
                      fmt::format("core {} has no reactor (reactor cores: {})", to.value, cores_.to_list()));
  if (!t->cpumask().test(to))
    return make_error(Errc::invalid_argument,
                      fmt::format("core {} is outside thread {}'s cpumask {}", to.value, id.value,
                                  t->cpumask().to_list()));
  auto ack = std::make_shared<MoveAck>();
  Reactor* host = t->reactor_.load(std::memory_order_acquire);
  auto ev = std::make_unique<detail::ReactorEvent>(detail::ReactorEvent::Kind::Move);
  ev->thread = std::move(t);
  ev->to = to;
  ev->cause = cause;
  ev->ack = ack;
  host->post(std::move(ev));
  return ack;
}

Result<void> ReactorPool::set_home(ThreadId id, CoreId home) {
  std::lock_guard lk(mu_);
  auto it = live_.find(id);
  if (it == live_.end()) return make_error(Errc::not_found, fmt::format("no thread with id {}", id.value));
  if (reactor(home) == nullptr)
    return make_error(Errc::invalid_argument, fmt::format("core {} has no reactor", home.value));
  if (!it->second->cpumask().test(home))
    return make_error(Errc::invalid_argument, fmt::format("core {} is outside thread {}'s cpumask {}", home.value,
                                                          id.value, it->second->cpumask().to_list()));
  it->second->home_.store(home.value, std::memory_order_release);
  return {};
}

Result<void> ReactorPool::set_homes(const std::vector<std::pair<ThreadId, CoreId>>& homes) {
  std::lock_guard lk(mu_);
  std::vector<LwThread*> found;
  for (const auto& [id, home] : homes) {
    auto it = live_.find(id);
    if (it == live_.end() || it->second->state() != ThreadState::Running)
      return make_error(Errc::not_found, fmt::format("thread {} does not exist (it exited?)", id.value));
    if (reactor(home) == nullptr)
      return make_error(Errc::invalid_argument, fmt::format("core {} has no reactor", home.value));
    if (!it->second->cpumask().test(home))
      return make_error(Errc::invalid_argument, fmt::format("core {} is outside thread {}'s cpumask {}", home.value,
                                                            id.value, it->second->cpumask().to_list()));
    found.push_back(it->second.get());
  }
  for (size_t i = 0; i < homes.size(); ++i) found[i]->home_.store(homes[i].second.value, std::memory_order_release);
  return {};
}

Result<void> ReactorPool::set_mode(CoreId core, ReactorMode mode) {
  Reactor* r = reactor(core);
  if (r == nullptr) return make_error(Errc::invalid_argument, fmt::format("core {} has no reactor", core.value));
  r->mode_.store(mode, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  r->waker_->wake();  // a sleeper re-reads its mode (Poll: stays awake)
  return {};
}

void ReactorPool::for_each_thread(std::function<void(LwThread&)> fn, std::function<void()> done) {
  auto list = threads();
  if (list.empty()) {
    if (done) done();
    return;
  }
  struct Shared {
    std::function<void(LwThread&)> fn;
    std::function<void()> done;
    std::atomic<size_t> left;
  };
  auto sh = std::make_shared<Shared>();
  sh->fn = std::move(fn);
  sh->done = std::move(done);
  sh->left.store(list.size());
  auto finish_one = [sh] {
    if (sh->left.fetch_sub(1, std::memory_order_acq_rel) == 1 && sh->done) sh->done();
  };
  for (auto& ref : list) {
    auto r = ref.send([sh, finish_one] {
      if (LwThread* t = current_thread()) sh->fn(*t);
      finish_one();
    });
    if (!r) finish_one();  // exited meanwhile: nothing to visit
  }
}

ThreadRef ReactorPool::find(ThreadId id) const {
  std::lock_guard lk(mu_);
  auto it = live_.find(id);
  return it == live_.end() ? ThreadRef{} : ThreadRef(it->second);
}

std::vector<ThreadRef> ReactorPool::threads() const {
  std::lock_guard lk(mu_);
  std::vector<ThreadRef> out;
  out.reserve(live_.size());
  for (auto& [id, t] : live_) out.emplace_back(t);
  return out;
}

void ReactorPool::on_thread_exited(ThreadId id) noexcept {
  std::lock_guard lk(mu_);
  live_.erase(id);
}

StopReport ReactorPool::stop(std::chrono::milliseconds timeout) {
  StopReport rep;
  if (stopped_.load(std::memory_order_acquire)) return rep;
  size_t before = 0;
  {
    std::lock_guard lk(mu_);
    before = live_.size();
  }
  stopping_.store(true, std::memory_order_seq_cst);
  for (auto& r : reactors_) r->waker_->wake();
  wait_for(
      [this] {
        std::lock_guard lk(mu_);
        return live_.empty();
      },
      timeout);
  {
    std::lock_guard lk(mu_);
    for (auto& [id, t] : live_)
      rep.stragglers.push_back(fmt::format("{} (id {}) on core {}", t->name(), id.value, t->current_core().value));
    rep.exited = static_cast<uint32_t>(before - live_.size());
  }
  for (auto& s : rep.stragglers) log(LogLevel::Warn, "stop: thread {} did not exit in time", s);
  stopped_.store(true, std::memory_order_seq_cst);
  for (auto& r : reactors_) r->waker_->wake();
  for (auto& th : os_threads_)
    if (th.joinable()) th.join();
  for (unsigned lc : eal_lcores_) rte_eal_wait_lcore(lc);
  while (eal_running_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  eal_lcores_.clear();
  return rep;
}

}  // namespace reactor
