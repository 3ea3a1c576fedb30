// Wake latency from Interrupt mode against the raw kernel path, in one run.
//
//   runtime: a message sent (ThreadRef::send) to a lightweight thread on a
//            reactor that is asleep in io_uring (Interrupt pool, nothing
//            runnable). Latency = from just before send() to the first line
//            of the message's callable (which reads the clock itself).
//   raw:     a receiver thread blocked in io_uring_submit_and_wait on a read
//            of an eventfd (same ring flags and eventfd flags as the reactor's
//            Waker); the sender write()s the eventfd. Latency = from just
//            before write() to just after the receiver's wait returned.
//
// Both use the same pair of cores (sender on --sender-core, default 0;
// reactor / receiver on --reactor-core, default 1) and the pool's clock (the
// invariant TSC when the kernel clocksource is tsc, else CLOCK_MONOTONIC).
// Samples alternate raw, runtime, raw, runtime, ... so both see the same
// machine state (on this VM cross-core costs change from minute to minute).
// Before every send the sender naps --gap-us (plus up to the same again, at
// random) and then checks that the receiving OS thread is really asleep: the
// reactor has published `sleeping` and its OS thread is in state S in
// /proc/self/task/TID/stat; the raw receiver is in state S too. A sample is
// kept only if the reactor woke exactly once for it (its `wakeups` count).
//
// Not a Google Benchmark: it prints one table (p50/p90/p99/max of each side
// and the runtime/raw ratio, target p50 <= 2x raw). Plain main(), < 10 s.
//   wake_bench [--samples N] [--gap-us US] [--sender-core C] [--reactor-core C]

#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <reactor/pool.hh>

using namespace reactor;
using namespace std::chrono_literals;

namespace {

bool pin(unsigned cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  return pthread_setaffinity_np(pthread_self(), sizeof s, &s) == 0;
}

// State letter of one of our OS threads ('S' = sleeping in the kernel).
char task_state(uint64_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%llu/stat", static_cast<unsigned long long>(tid));
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return '?';
  char buf[512];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // the name may contain spaces
  return (p != nullptr && p[1] == ' ') ? p[2] : '?';
}

// Waits (napping) until `asleep()` holds, up to 1 s.
template <class F>
bool wait_asleep(F asleep) {
  for (int i = 0; i < 10000; ++i) {
    if (asleep()) return true;
    std::this_thread::sleep_for(100us);
  }
  return false;
}

// Spins (the sender's core is otherwise idle) until `slot` is non-zero, up to 1 s.
uint64_t wait_stamp(const std::atomic<uint64_t>& slot) {
  const auto limit = std::chrono::steady_clock::now() + 1s;
  uint64_t v;
  int spins = 0;
  while ((v = slot.load(std::memory_order_acquire)) == 0) {
    if (++spins % 1024 == 0 && std::chrono::steady_clock::now() > limit) return 0;
  }
  return v;
}

// The raw reference: an OS thread pinned to `core`, blocked in io_uring on a
// read of an eventfd, stamping the time its wait returned.
class RawReceiver {
 public:
  RawReceiver(unsigned core, const Clock& clock) : clock_(clock) {
    efd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);  // as the reactor's Waker
    th_ = std::thread([this, core] { run(core); });
    while (tid_.load(std::memory_order_acquire) == 0 && !failed_.load()) std::this_thread::sleep_for(100us);
  }
  ~RawReceiver() {
    stop_.store(true, std::memory_order_release);
    uint64_t one = 1;
    if (::write(efd_, &one, sizeof one) < 0) std::perror("eventfd write");
    th_.join();
    ::close(efd_);
  }
  RawReceiver(const RawReceiver&) = delete;
  RawReceiver& operator=(const RawReceiver&) = delete;

  bool ok() const { return !failed_.load(); }
  const char* ring_flags() const { return flags_name_; }
  uint64_t tid() const { return tid_.load(std::memory_order_acquire); }
  // The receiver armed its read and is (about to be) in the kernel.
  bool armed() const { return armed_.load(std::memory_order_acquire); }
  std::atomic<uint64_t>& stamp() { return stamp_; }
  int efd() const { return efd_; }

 private:
  void run(unsigned core) {
    if (!pin(core)) std::fprintf(stderr, "raw receiver: cannot pin to cpu %u\n", core);
    io_uring ring{};
    // Same fallbacks as the reactor's Waker.
    const unsigned candidates[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN, 0};
    const char* names[] = {"SINGLE_ISSUER|DEFER_TASKRUN", "COOP_TASKRUN", "none"};
    int rc = -1;
    for (int i = 0; i < 3 && rc != 0; ++i) {
      rc = io_uring_queue_init(8, &ring, candidates[i]);
      if (rc == 0) flags_name_ = names[i];
    }
    if (rc != 0) {
      std::fprintf(stderr, "raw receiver: io_uring_queue_init: %s\n", std::strerror(-rc));
      failed_.store(true);
      return;
    }
    tid_.store(static_cast<uint64_t>(::syscall(SYS_gettid)), std::memory_order_release);
    uint64_t buf = 0;
    while (!stop_.load(std::memory_order_acquire)) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      if (sqe == nullptr) {  // cannot happen (one SQE per wait), but never dereference null
        failed_.store(true);
        break;
      }
      io_uring_prep_read(sqe, efd_, &buf, sizeof buf, 0);
      armed_.store(true, std::memory_order_release);
      io_uring_submit_and_wait(&ring, 1);
      const uint64_t t1 = clock_.now();
      armed_.store(false, std::memory_order_relaxed);
      io_uring_cqe* cqe = nullptr;
      while (io_uring_peek_cqe(&ring, &cqe) == 0) io_uring_cqe_seen(&ring, cqe);
      stamp_.store(t1, std::memory_order_release);
    }
    io_uring_queue_exit(&ring);
  }

  const Clock& clock_;
  int efd_ = -1;
  std::thread th_;
  const char* flags_name_ = "?";
  std::atomic<uint64_t> tid_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> stop_{false};
  alignas(64) std::atomic<bool> armed_{false};
  alignas(64) std::atomic<uint64_t> stamp_{0};
};

struct Percentiles {
  double p50, p90, p99, max;
  size_t n;
};

Percentiles percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))]; };
  return {at(0.50), at(0.90), at(0.99), v.back(), v.size()};
}

void usage() {
  std::fprintf(stderr, "usage: wake_bench [--samples N] [--gap-us US] [--sender-core C] [--reactor-core C]\n");
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 3000;
  int gap_us = 300;
  unsigned sender_core = 0, reactor_core = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> long {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return std::strtol(argv[++i], nullptr, 10);
    };
    if (a == "--samples") samples = static_cast<int>(next());
    else if (a == "--gap-us") gap_us = static_cast<int>(next());
    else if (a == "--sender-core") sender_core = static_cast<unsigned>(next());
    else if (a == "--reactor-core") reactor_core = static_cast<unsigned>(next());
    else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (samples < 10 || gap_us < 50 || sender_core == reactor_core) {
    std::fprintf(stderr, "wake_bench: need --samples >= 10, --gap-us >= 50, two different cores\n");
    return 2;
  }
  if (std::thread::hardware_concurrency() < 2) {
    std::printf("wake latency: not measured here (needs 2 CPUs)\n");
    return 0;
  }

  PoolOptions o;
  o.cores = CpuSet{reactor_core};
  o.baseline = ReactorMode::Interrupt;
  o.max_sleep = 10s;  // no timeout wake-ups during the run
  auto created = ReactorPool::create(std::move(o));
  if (!created) {
    std::fprintf(stderr, "wake_bench: pool on cpu %u: %s\n", reactor_core, created.error().message.c_str());
    return 1;
  }
  auto pool = std::move(*created);
  const Clock& clock = pool->clock();
  Reactor& r = *pool->reactor(CoreId{reactor_core});
  ThreadRef sink = *pool->spawn(ThreadOptions{.name = "wake_sink", .cpumask = CpuSet{reactor_core}});

  // The pool validated its core against our affinity; now the sender pins.
  if (!pin(sender_core)) {
    std::fprintf(stderr, "wake_bench: cannot pin the sender to cpu %u\n", sender_core);
    return 1;
  }
  RawReceiver raw(reactor_core, clock);
  if (!raw.ok()) return 1;

  // The message captures one pointer (the common `[ctx] {...}` shape: it
  // travels inside the ring slot, no message object).
  struct Stamp {
    const Clock* clock;
    alignas(64) std::atomic<uint64_t> at{0};
  };
  static Stamp stamp_slot{&clock};
  Stamp* rs = &stamp_slot;
  std::atomic<uint64_t>& runtime_stamp = stamp_slot.at;
  const uint64_t reactor_tid = r.stats().tid;

  std::vector<double> raw_ns, rt_ns;
  raw_ns.reserve(static_cast<size_t>(samples));
  rt_ns.reserve(static_cast<size_t>(samples));
  int rt_rejected = 0, not_asleep = 0, lost = 0;
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> jitter(0, gap_us);
  auto gap = [&] { std::this_thread::sleep_for(std::chrono::microseconds(gap_us + jitter(rng))); };

  const auto t_start = std::chrono::steady_clock::now();
  // Warm-up: the first wake-ups fault in pages and the message pool.
  for (int i = 0; i < 20; ++i) {
    runtime_stamp.store(0);
    (void)sink.send([rs] { rs->at.store(1, std::memory_order_release); });
    (void)wait_stamp(runtime_stamp);
    gap();
  }

  for (int i = 0; i < samples; ++i) {
    // Raw: receiver blocked in io_uring on the eventfd read.
    raw.stamp().store(0, std::memory_order_relaxed);
    gap();
    if (!wait_asleep([&] { return raw.armed() && task_state(raw.tid()) == 'S'; })) {
      ++not_asleep;
    } else {
      const uint64_t t0 = clock.now();
      uint64_t one = 1;
      if (::write(raw.efd(), &one, sizeof one) != sizeof one) {
        std::perror("eventfd write");
        return 1;
      }
      const uint64_t t1 = wait_stamp(raw.stamp());
      if (t1 == 0) ++lost;
      else raw_ns.push_back(static_cast<double>(clock.ticks_to_ns(t1 > t0 ? t1 - t0 : 0)));
    }

    // Runtime: message to a thread on the sleeping reactor.
    runtime_stamp.store(0, std::memory_order_relaxed);
    gap();
    if (!wait_asleep([&] { return r.stats().sleeping && task_state(reactor_tid) == 'S'; })) {
      ++not_asleep;
      continue;
    }
    const uint64_t wakeups_before = r.stats().wakeups;
    const uint64_t t0 = clock.now();
    auto sent = sink.send([rs] { rs->at.store(rs->clock->now(), std::memory_order_release); });
    if (!sent) {
      std::fprintf(stderr, "wake_bench: send failed: %s\n", sent.error().message.c_str());
      return 1;
    }
    const uint64_t t1 = wait_stamp(runtime_stamp);
    if (t1 == 0) {
      ++lost;
      continue;
    }
    // Keep the sample only if this send is what woke the reactor (once).
    if (r.stats().wakeups != wakeups_before + 1) {
      ++rt_rejected;
      continue;
    }
    rt_ns.push_back(static_cast<double>(clock.ticks_to_ns(t1 > t0 ? t1 - t0 : 0)));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  if (raw_ns.empty() || rt_ns.empty()) {
    std::fprintf(stderr, "wake_bench: no samples (not asleep %d, lost %d, rejected %d)\n", not_asleep, lost,
                 rt_rejected);
    return 1;
  }
  const Percentiles pr = percentiles(raw_ns), pt = percentiles(rt_ns);
  const auto* sys = dynamic_cast<const SystemClock*>(&clock);
  const bool tsc = sys != nullptr && sys->uses_tsc();
  fmt::print("wake latency: sender cpu {} -> sleeping receiver on cpu {}, {} samples each, gap {}-{} us, clock {}, "
             "raw ring flags {}, {:.1f} s\n",
             sender_core, reactor_core, samples, gap_us, 2 * gap_us, tsc ? "tsc" : "monotonic", raw.ring_flags(),
             secs);
  fmt::print("{:<58} {:>9} {:>9} {:>9} {:>9} {:>6}\n", "", "p50 us", "p90 us", "p99 us", "max us", "n");
  auto row = [](const char* name, const Percentiles& p) {
    fmt::print("{:<58} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>6}\n", name, p.p50 / 1e3, p.p90 / 1e3, p.p99 / 1e3,
               p.max / 1e3, p.n);
  };
  row("raw: eventfd write -> io_uring_submit_and_wait returns", pr);
  row("runtime: ThreadRef::send -> message runs (Interrupt)", pt);
  fmt::print("{:<58} {:>8.2f}x {:>8.2f}x {:>8.2f}x\n", "ratio runtime / raw (target p50 <= 2x)", pt.p50 / pr.p50,
             pt.p90 / pr.p90, pt.p99 / pr.p99);
  fmt::print("p50 target {}; skipped: not asleep {}, lost {}, runtime woken by something else {}\n",
             pt.p50 <= 2 * pr.p50 ? "met" : "NOT met", not_asleep, lost, rt_rejected);

  auto report = pool->stop(1s);
  if (!report.stragglers.empty()) std::fprintf(stderr, "wake_bench: %zu stragglers at stop\n", report.stragglers.size());
  return 0;
}
