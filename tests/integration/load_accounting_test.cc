// Load accounting on real reactors, real OS threads and real io_uring: the
// ratios a scheduling policy sees must tell the truth.
//   - an I/O thread that saturates its core with 4 KiB page-cache reads at QD
//     32 reads >= 90 % busy (the kernel copies the data inside io_uring_enter:
//     that syscall is the thread's, not nobody's);
//   - two such threads on one core split it (each 35-65 %, sum 90-100 %);
//   - a timed poller that busy-waits 30 ms every 100 ms reads what its own
//     calls took (30 % on an idle machine, more when preempted inside them) +- 5,
//     alone and next to a saturating I/O thread on the same core;
//   - reactor overhead is reported, small on an idle-ish reactor, and the
//     hosted threads' busy plus overhead never exceeds the core's busy + idle.
// These are ratio checks on accounting, not speed checks: a slow or noisy
// machine changes how much I/O is done, not who it is charged to. Every
// thread under test is pinned to one core (2 vCPUs: the test's own thread
// and the other reactor share the rest), reactors run in Interrupt mode.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <reactor/io.hh>
#include <reactor/pool.hh>

#include "sched/placement.hh"
#include "support/scale.hh"
#include "support/wait.hh"

using namespace reactor;
using namespace std::chrono_literals;

namespace {

constexpr size_t kBlock = 4096;
constexpr uint32_t kQueueDepth = 32;
// 64 MiB: fits the page cache of any test machine, large enough that random
// reads do not all hit the same few pages. Smaller under sanitizers.
const uint64_t kFileBlocks = test::scaled(16384);
// The measurement window. A 30 ms run cut by either end of the window moves
// the spinner's figure by up to 30 ms / window: 2 s keeps that within 1.5 %.
const auto kWindow = std::chrono::milliseconds(1000);
const auto kSpinnerWindow = std::chrono::milliseconds(2000);

struct TempFile {
  TempFile() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/var/tmp") + "/load_acct.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return;
    dir = tmpl;
    path = dir + "/data";
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    // Written first (and so in the page cache): reads are copies inside
    // io_uring_enter, never device waits.
    std::vector<char> buf(1 << 20);
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>(i * 131);
    for (uint64_t off = 0; off < kFileBlocks * kBlock; off += buf.size()) {
      const size_t n = std::min<uint64_t>(buf.size(), kFileBlocks * kBlock - off);
      if (::pwrite(fd, buf.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
        ::close(fd);
        fd = -1;
        return;
      }
    }
  }
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
  std::string dir, path;
  int fd = -1;
};

// Random 4 KiB reads at QD 32, each completion issuing the next, until stopped.
// Lives on its LwThread: created there, driven by its own callbacks.
struct IoLoad {
  int fd = -1;
  IoChannel ch;
  AlignedBuffer buf;
  std::mt19937_64 rng{42};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0}, errors{0};
  std::atomic<bool> started{false};
  std::string problem;

  void start() {
    auto c = IoChannel::create({.queue_depth = kQueueDepth});
    auto b = AlignedBuffer::allocate(kQueueDepth * kBlock);
    if (!c || !b) {
      problem = !c ? c.error().message : b.error().message;
      errors.fetch_add(1);
      started.store(true);
      return;
    }
    ch = std::move(*c);
    buf = std::move(*b);
    for (uint32_t s = 0; s < kQueueDepth; ++s) issue(s);
    started.store(true, std::memory_order_release);
  }

  void issue(uint32_t slot) {
    if (stop.load(std::memory_order_relaxed)) return;
    const uint64_t off = (rng() % kFileBlocks) * kBlock;
    auto r = ch.read(fd, buf.data() + slot * kBlock, kBlock, off, [this, slot](int res) {
      if (res != static_cast<int>(kBlock)) errors.fetch_add(1, std::memory_order_relaxed);
      done.store(done.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      issue(slot);
    });
    if (!r) {
      if (problem.empty()) problem = r.error().message;
      errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
};

// A timed poller that busy-waits `spin` every `period` and reports busy.
// `own` adds up, on the reactor's clock, the ticks its calls took from entry
// to return: what the reactor should charge to the spinner. That is 30 ms a
// call on an idle machine; on a saturated one the reactor is also preempted
// inside the call (before the spin starts, or after it ends but before the
// poller returns), and that stolen time is the call's too (load is measured
// against wall time).
void register_spinner(std::chrono::milliseconds spin, std::chrono::milliseconds period, const Clock& clock,
                      std::shared_ptr<std::atomic<uint64_t>> own) {
  (void)current_thread()->register_poller(
      "spin",
      [spin, &clock, own] {
        const uint64_t t0 = clock.now();
        const auto until = std::chrono::steady_clock::now() + spin;
        while (std::chrono::steady_clock::now() < until) {
        }
        own->fetch_add(clock.now() - t0, std::memory_order_relaxed);
        return PollStatus::Busy;
      },
      period);
}

class LoadAccounting : public ::testing::Test {
 protected:
  void SetUp() override {
    auto topo = Topology::discover();
    ASSERT_TRUE(topo) << topo.error().message;
    PoolOptions o;
    o.topology = *topo;
    auto cores = topo->all().cores();
    for (size_t i = 0; i < cores.size() && i < 2; ++i) o.cores.set(cores[i]);
    // The core under test: the last one (the test's thread tends to run on the
    // first); its neighbour, if any, stays idle and asleep.
    core_ = cores[std::min<size_t>(cores.size(), 2) - 1];
    o.baseline = ReactorMode::Interrupt;
    o.max_sleep = 60s;  // a lost wake-up shows as a timeout, not a delay
    auto p = ReactorPool::create(std::move(o));
    ASSERT_TRUE(p) << p.error().message;
    pool_ = std::move(*p);
    ASSERT_GE(file_.fd, 0) << "cannot write the test file in " << file_.dir << ": " << std::strerror(errno);
  }

  void TearDown() override {
    for (auto& l : loads_) l->stop.store(true);
    if (pool_) pool_->stop();
  }

  ThreadRef spawn_pinned(std::string name, Closure init) {
    ThreadOptions o;
    o.name = std::move(name);
    o.cpumask = CpuSet{core_.value};
    auto t = pool_->spawn(std::move(o), std::move(init));
    EXPECT_TRUE(t) << t.error().message;
    return t ? *t : ThreadRef{};
  }

  // An I/O thread on the core under test, running once its QD 32 is in flight.
  ThreadRef spawn_io(std::string name) {
    auto load = std::make_shared<IoLoad>();
    load->fd = file_.fd;
    loads_.push_back(load);
    ThreadRef t = spawn_pinned(std::move(name), [load] { load->start(); });
    EXPECT_TRUE(test::eventually([&] { return load->started.load() && load->done.load() > 0; }))
        << "the I/O thread never completed a read";
    EXPECT_EQ(load->errors.load(), 0u) << load->problem;
    return t;
  }

  // The spinner's own count of its calls' ticks (see register_spinner).
  ThreadRef spawn_spinner(std::string name) {
    return spawn_pinned(std::move(name), [&clock = pool_->clock(), own = spinner_ticks_] {
      register_spinner(30ms, 100ms, clock, own);
    });
  }

  struct Sample {
    std::vector<ThreadStats> threads;
    ReactorStats core;
    uint64_t spinner_ticks = 0;
  };
  Sample sample(const std::vector<ThreadRef>& ts, bool core_last) {
    Sample s;
    // Counters are published thread first, reactor second at the end of each
    // pass: reading the reactor last (first) keeps its deltas on the safe side.
    if (!core_last) s.core = pool_->reactor(core_)->stats();
    s.spinner_ticks = spinner_ticks_->load();
    for (auto& t : ts) s.threads.push_back(t->stats());
    if (core_last) s.core = pool_->reactor(core_)->stats();
    return s;
  }

  // Busy % of each thread (and the core's stats deltas) over one window.
  struct Window {
    std::vector<double> busy_pct;
    uint64_t thread_busy_sum = 0;
    double spinner_own_pct = 0;  // the spinner's own count, % of the window's busy + idle
    ReactorStats delta;  // busy, idle, sleep, overhead deltas of the core
  };
  Window measure(const std::vector<ThreadRef>& ts, std::chrono::milliseconds window = kWindow) {
    std::this_thread::sleep_for(200ms);  // settle after spawning
    Sample a = sample(ts, false);
    std::this_thread::sleep_for(window);
    Sample b = sample(ts, true);
    Window w;
    for (size_t i = 0; i < ts.size(); ++i) {
      const uint64_t busy = b.threads[i].busy - a.threads[i].busy;
      const uint64_t idle = b.threads[i].idle - a.threads[i].idle;
      w.thread_busy_sum += busy;
      w.busy_pct.push_back(pct(busy, busy + idle));
    }
    w.delta.busy = b.core.busy - a.core.busy;
    w.delta.idle = b.core.idle - a.core.idle;
    w.delta.sleep = b.core.sleep - a.core.sleep;
    w.delta.overhead = b.core.overhead - a.core.overhead;
    w.spinner_own_pct = pct(b.spinner_ticks - a.spinner_ticks, w.delta.busy + w.delta.idle + w.delta.sleep);
    if (b.spinner_ticks != a.spinner_ticks) std::printf("  spinner's own calls: %.1f %% of wall\n", w.spinner_own_pct);
    for (size_t i = 0; i < ts.size(); ++i) std::printf("  %s: %.1f %% busy\n", ts[i]->name().c_str(), w.busy_pct[i]);
    const uint64_t wall = w.delta.busy + w.delta.idle + w.delta.sleep;
    std::printf("  core %u: busy %.1f %%, idle %.1f %%, sleep %.1f %%, overhead %.3f %% of wall\n", core_.value,
                pct(w.delta.busy, wall), pct(w.delta.idle, wall), pct(w.delta.sleep, wall),
                pct(w.delta.overhead, wall));
    return w;
  }

  static double pct(uint64_t part, uint64_t whole) {
    return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  }

  // The hosted threads' busy plus overhead fits in the core's busy + idle
  // (1 % slack: the two reads are not one atomic snapshot).
  static void expect_fits(const Window& w) {
    const uint64_t core = w.delta.busy + w.delta.idle;
    EXPECT_LE(static_cast<double>(w.thread_busy_sum + w.delta.overhead), static_cast<double>(core) * 1.01)
        << "threads " << w.thread_busy_sum << " + overhead " << w.delta.overhead << " > core busy+idle " << core;
  }

  TempFile file_;
  CoreId core_;
  std::unique_ptr<ReactorPool> pool_;
  std::vector<std::shared_ptr<IoLoad>> loads_;
  std::shared_ptr<std::atomic<uint64_t>> spinner_ticks_ = std::make_shared<std::atomic<uint64_t>>(0);
};

TEST_F(LoadAccounting, SaturatingIoThreadReadsBusy) {
  ThreadRef t = spawn_io("io");
  Window w = measure({t});
  EXPECT_GE(w.busy_pct[0], 90.0) << "an I/O thread that saturates its core must not look idle";
  expect_fits(w);
}

TEST_F(LoadAccounting, TwoSaturatingIoThreadsSplitTheirCore) {
  ThreadRef a = spawn_io("io_a");
  ThreadRef b = spawn_io("io_b");
  Window w = measure({a, b});
  EXPECT_GE(w.busy_pct[0], 35.0);
  EXPECT_LE(w.busy_pct[0], 65.0);
  EXPECT_GE(w.busy_pct[1], 35.0);
  EXPECT_LE(w.busy_pct[1], 65.0);
  const double sum = w.busy_pct[0] + w.busy_pct[1];
  EXPECT_GE(sum, 90.0);
  EXPECT_LE(sum, 100.0 + 1e-6);
  expect_fits(w);
}

// The spinner's figure is checked against its own count of its calls' ticks,
// not against a fixed 30 %: on a saturated machine (CI, other builds) the
// reactor is preempted inside the spinner's calls, and the 30 % spinner then
// truly held its core 40-50 % of the wall time (measured: 43 % and 50 %
// with two busy loops on the 2 vCPUs). The two figures come from different
// places (the reactor's pass accounting, the poller's own clock reads), so a
// spinner charged to its neighbour, to nobody, twice, or against the wrong
// window still fails; the 5-point margin is one 30 ms call cut by either end
// of the 2 s window plus the dispatch around the call. On an idle machine the
// spinner's own figure is the 30 % it was built for (checked loosely: that
// is the workload, not the accounting under test).
TEST_F(LoadAccounting, TimedSpinnerReadsItsDutyCycleAlone) {
  ThreadRef t = spawn_spinner("spinner");
  Window w = measure({t}, kSpinnerWindow);
  EXPECT_GE(w.spinner_own_pct, 25.0) << "the spinner ran less than its 30 ms every 100 ms";
  EXPECT_NEAR(w.busy_pct[0], w.spinner_own_pct, 5.0);
  expect_fits(w);
}

TEST_F(LoadAccounting, TimedSpinnerReadsItsDutyCycleNextToIo) {
  ThreadRef io = spawn_io("io");
  ThreadRef t = spawn_spinner("spinner");
  Window w = measure({t, io}, kSpinnerWindow);
  EXPECT_GE(w.spinner_own_pct, 25.0) << "the spinner ran less than its 30 ms every 100 ms";
  EXPECT_NEAR(w.busy_pct[0], w.spinner_own_pct, 5.0);
  // The I/O thread gets the rest of the core (not a speed check: just that
  // the spinner's time is not charged to it, nor the I/O to nobody).
  EXPECT_GE(w.busy_pct[1], 100.0 - w.spinner_own_pct - 10.0);
  EXPECT_GE(w.busy_pct[0] + w.busy_pct[1], 90.0);
  EXPECT_LE(w.busy_pct[0] + w.busy_pct[1], 100.0 + 1e-6);
  expect_fits(w);
}

TEST_F(LoadAccounting, OverheadIsReportedAndSmallOnAnIdleishReactor) {
  // A light thread: a 1 ms timed poller and a stream of messages, plus moves
  // onto its own core (events: the reactor's own work).
  std::atomic<uint64_t> ran{0};
  ThreadRef t = spawn_pinned("light", [&ran] {
    (void)current_thread()->register_poller(
        "tick",
        [&ran] {
          ran.fetch_add(1, std::memory_order_relaxed);
          return PollStatus::Busy;
        },
        1ms);
  });
  ASSERT_TRUE(test::eventually([&] { return ran.load() > 0; }));
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop.load()) {
      (void)t.send([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
      (void)pool_->move(t.id(), core_);
      std::this_thread::sleep_for(2ms);
    }
  });
  detail::PoolPlacement placement(*pool_);  // the scheduler's view of the pool
  (void)placement.snapshot();  // baseline of the per-round deltas
  Window w = measure({t});
  const LoadSnapshot snap = placement.snapshot();
  stop.store(true);
  churn.join();
  // The policy's view: the round's overhead delta, part of the core's busy.
  const CoreLoad* cl = snap.find_core(core_);
  ASSERT_NE(cl, nullptr);
  EXPECT_GT(cl->overhead, 0u) << "the moves are events: the reactor's own work";
  EXPECT_LE(cl->overhead, cl->busy);
  const uint64_t wall = w.delta.busy + w.delta.idle + w.delta.sleep;
  ASSERT_GT(wall, 0u);
  EXPECT_LT(pct(w.delta.overhead, wall), 2.0) << "overhead " << w.delta.overhead << " of " << wall;
  EXPECT_LE(w.delta.overhead, w.delta.busy) << "overhead is part of busy passes";
  EXPECT_LT(w.busy_pct[0], 20.0);
  expect_fits(w);
}

}  // namespace

namespace {

// A thread that worked once and then slept with its reactor all round is
// idle for the scheduler (and for thread_get_stats): the sleep in progress
// counts before the reactor wakes and adds it. Without that, the round saw
// the thread 80-100 % busy, moved it to the main core and woke that core.
TEST_F(LoadAccounting, SleepInProgressCountsAsIdleBeforeTheReactorWakes) {
  ThreadRef t = spawn_pinned("once", {});
  ASSERT_TRUE(test::eventually([&] { return t->current_core() == core_ && !t->stats().in_transit; }));
  detail::PoolPlacement placement(*pool_);
  (void)placement.snapshot();  // baseline
  std::atomic<bool> ran{false};
  std::atomic<uint64_t> took{0};  // the message's own ticks, entry to return (see register_spinner)
  ASSERT_TRUE(t.send([&ran, &took, &clock = pool_->clock()] {
    const uint64_t t0 = clock.now();
    const auto until = std::chrono::steady_clock::now() + 5ms;
    while (std::chrono::steady_clock::now() < until) {
    }
    took.store(clock.now() - t0);
    ran.store(true);
  }));
  ASSERT_TRUE(test::eventually([&] { return ran.load(); }));
  // max_sleep is 60 s and nothing is due: the reactor sleeps from here on.
  ASSERT_TRUE(test::eventually([&] { return pool_->reactor(core_)->stats().sleeping; }));
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(pool_->reactor(core_)->stats().sleeping) << "the reactor must still be asleep for this test";
  const LoadSnapshot snap = placement.snapshot();
  const ThreadLoad* tl = nullptr;
  for (const ThreadLoad& x : snap.threads)
    if (x.id == t.id()) tl = &x;
  ASSERT_NE(tl, nullptr);
  // Busy is the message (5 ms on an idle machine; on a saturated one the
  // reactor is also preempted inside it, 35-47 ms measured with two busy
  // loops on 2 vCPUs, so a fixed "< 10 % busy" failed there); the 300 ms
  // the reactor has been asleep since is idle. Without the sleep in progress
  // idle would be the few ticks before the sleep began.
  const Clock& clock = pool_->clock();
  const uint64_t slack = clock.us_to_ticks(10'000);  // the pass around the message
  EXPECT_GE(tl->busy, clock.us_to_ticks(4000)) << "the 5 ms message is busy";
  EXPECT_LE(tl->busy, took.load() + slack) << "busy " << tl->busy << ", the message took " << took.load();
  // Most of the 300 ms: on a saturated machine the thread's busy + idle
  // trails the core's by up to ~20 ms (measured: the core's idle passed 290 ms
  // while the thread's read 282-289 ms).
  EXPECT_GE(tl->idle, clock.us_to_ticks(250'000)) << "busy " << tl->busy << " idle " << tl->idle;
  const CoreLoad* cl = snap.find_core(core_);
  ASSERT_NE(cl, nullptr);
  EXPECT_LE(cl->busy, took.load() + slack) << "core busy " << cl->busy << ", the message took " << took.load();
  EXPECT_GE(cl->idle, clock.us_to_ticks(290'000)) << "the core slept most of the round";
  EXPECT_FALSE(cl->stalled) << "asleep is not stuck";
  // The next round, after the reactor woke and added the real sleep, is not
  // thrown off by the estimate: still idle, never negative.
  ASSERT_TRUE(t.send([] {}));
  ASSERT_TRUE(test::eventually([&] { return !t->stats().in_transit; }));
  std::this_thread::sleep_for(50ms);
  const LoadSnapshot next = placement.snapshot();
  for (const ThreadLoad& x : next.threads) {
    if (x.id == t.id()) {
      // Most of the 50 ms asleep again (an empty message in between): idle.
      EXPECT_GE(x.idle, clock.us_to_ticks(25'000)) << "busy " << x.busy << " idle " << x.idle;
      EXPECT_LT(x.busy, x.idle) << "busy " << x.busy << " idle " << x.idle;
    }
  }
}

}  // namespace
