// I/O integrity with real reactors on real OS threads: every worker writes a
// known pattern to its own region and reads it back while the test moves the
// workers between reactors as fast as the moves land, and (in a Runtime)
// switches scheduling policies under that load. Every callback must run on
// its worker, every block must read back as written, every switch must
// succeed, and a request submitted before a move must complete on the
// destination core.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <reactor/io.hh>
#include <reactor/pool.hh>
#include <reactor/runtime.hh>

#include "support/real_pool.hh"
#include "support/scale.hh"
#include "support/wait.hh"

using namespace reactor;
using namespace std::chrono_literals;

namespace {

using reactor::test::make_pool;

// A Runtime (control thread, SchedulerManager with 20 ms rounds, simulated
// governor so that global can run anywhere).
std::unique_ptr<Runtime> make_runtime() {
  RuntimeOptions o;
  o.pool = reactor::test::real_pool_options();
  o.governor = GovernorChoice::Sim;
  o.scheduler.options.period_us = 20'000;
  auto rt = Runtime::create(std::move(o));
  EXPECT_TRUE(rt) << rt.error().message;
  return std::move(*rt);
}

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds limit = 30s) {
  return reactor::test::eventually(f, limit);
}

struct TempDir {
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/var/tmp") + "/io_integrity.XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

constexpr size_t kBlock = 4096;

// Block content: (worker, generation, block) stamped over the whole block.
void fill(std::byte* p, uint32_t worker, uint32_t gen, uint32_t block) {
  uint64_t x = (uint64_t{worker} << 48) ^ (uint64_t{gen} << 32) ^ block ^ 0x5bd1e995u;
  for (size_t i = 0; i < kBlock; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(p + i, &x, 8);
  }
}

// One worker: for each generation, write its blocks (depth `qd`), then read
// them all back and verify. Runs entirely in callbacks on its LwThread.
struct Worker {
  uint32_t id = 0;
  int fd = -1;
  uint32_t first_block = 0, blocks = 0, generations = 0, qd = 0;
  AlignedBuffer buf;  // qd blocks
  IoChannel ch;
  LwThread* self = nullptr;
  // Progress (owned by whatever reactor hosts the thread).
  uint32_t gen = 0, next = 0, done_in_phase = 0;
  bool reading = false;
  // Results, published for the test's thread.
  std::atomic<uint64_t> ios{0}, mismatches{0}, io_errors{0}, wrong_thread{0}, forwarded{0};
  std::atomic<bool> finished{false};
  std::string first_problem;

  void start() {
    self = current_thread();
    auto c = IoChannel::create({.queue_depth = qd});
    if (!c) {
      first_problem = c.error().message;
      io_errors.fetch_add(1);
      finished.store(true);
      return;
    }
    ch = std::move(*c);
    for (uint32_t s = 0; s < qd; ++s) issue(s);
  }

  void issue(uint32_t slot) {
    if (next >= blocks) return;
    const uint32_t b = next++;
    std::byte* p = buf.data() + slot * kBlock;
    const uint64_t off = uint64_t{first_block + b} * kBlock;
    auto cb = [this, slot, b](int res) { complete(slot, b, res); };
    Result<void> r;
    if (reading) {
      r = ch.read(fd, p, kBlock, off, cb);
    } else {
      fill(p, id, gen, b);
      r = ch.write(fd, p, kBlock, off, cb);
    }
    if (!r) {
      first_problem = r.error().message;
      io_errors.fetch_add(1);
    }
  }

  void complete(uint32_t slot, uint32_t b, int res) {
    ios.fetch_add(1, std::memory_order_relaxed);
    if (current_thread() != self) wrong_thread.fetch_add(1);
    if (res != static_cast<int>(kBlock)) {
      if (first_problem.empty()) first_problem = "res " + std::to_string(res);
      io_errors.fetch_add(1);
    } else if (reading) {
      alignas(64) std::byte want[kBlock];
      fill(want, id, gen, b);
      if (std::memcmp(want, buf.data() + slot * kBlock, kBlock) != 0) {
        if (first_problem.empty()) first_problem = "block " + std::to_string(b) + " differs";
        mismatches.fetch_add(1);
      }
    }
    if (++done_in_phase == blocks) {
      // Phase over: writes -> read back the same generation; reads -> next generation.
      done_in_phase = 0;
      next = 0;
      if (reading) ++gen;
      reading = !reading;
      if (gen == generations) {
        forwarded.store(ch.stats().forwarded);
        finished.store(true, std::memory_order_release);
        return;
      }
      for (uint32_t s = 0; s < qd; ++s) issue(s);
      return;
    }
    issue(slot);
  }
};

enum class Churn { Moves, MovesAndSwitches };

void run_integrity(bool direct, Churn churn) {
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string file = dir.path + "/data";
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (direct ? O_DIRECT : 0), 0600);
  if (fd < 0 && direct && errno == EINVAL) GTEST_SKIP() << "O_DIRECT unsupported in " << dir.path;
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::unique_ptr<Runtime> rt;
  std::unique_ptr<ReactorPool> own_pool;
  if (churn == Churn::MovesAndSwitches) {
    rt = make_runtime();
    ASSERT_TRUE(rt);
  } else {
    own_pool = make_pool();
    ASSERT_TRUE(own_pool);
  }
  ReactorPool* pool = rt ? &rt->pool() : own_pool.get();
  if (pool->cores().count() < 2) {
    ::close(fd);
    GTEST_SKIP() << "needs two cores";
  }
  const auto cores = pool->cores().cores();
  constexpr uint32_t kWorkers = 4, kBlocksEach = 256, kQd = 8;
  const uint32_t generations = static_cast<uint32_t>(test::scaled(80));
  std::vector<std::unique_ptr<Worker>> ws;
  for (uint32_t i = 0; i < kWorkers; ++i) {
    auto w = std::make_unique<Worker>();
    w->id = i;
    w->fd = fd;
    w->first_block = i * kBlocksEach;
    w->blocks = kBlocksEach;
    w->generations = generations;
    w->qd = kQd;
    auto b = AlignedBuffer::allocate(kQd * kBlock);
    ASSERT_TRUE(b);
    w->buf = std::move(*b);
    ws.push_back(std::move(w));
  }
  std::vector<ThreadRef> refs;
  for (auto& w : ws) {
    ThreadOptions o;
    o.name = "integrity_" + std::to_string(w->id);
    o.home = cores[w->id % 2];
    Worker* wp = w.get();
    auto t = pool->spawn(std::move(o), [wp] { wp->start(); });
    ASSERT_TRUE(t) << t.error().message;
    refs.push_back(*t);
  }
  // Mover: keep every worker moving between the two cores until all finished;
  // with a Runtime, also switch policy every few moves (static -> dynamic ->
  // global -> static ...): each switch restores placement under the I/O load.
  std::mt19937 rng(42);
  uint64_t landed = 0, switches = 0, moves_tried = 0;
  const char* const policies[] = {"dynamic", "gscheduler", "static"};
  auto all_done = [&] {
    for (auto& w : ws)
      if (!w->finished.load(std::memory_order_acquire)) return false;
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!all_done() && std::chrono::steady_clock::now() < deadline) {
    if (rt && ++moves_tried % 8 == 0) {
      auto r = rt->scheduler()->switch_to(policies[switches % 3], PolicyOptionsUpdate{});
      ASSERT_TRUE(r) << "switch to " << policies[switches % 3] << ": " << r.error().message;
      ++switches;
    }
    ThreadRef& t = refs[rng() % refs.size()];
    const CoreId to = t->current_core() == cores[0] ? cores[1] : cores[0];
    auto tk = pool->move(t.id(), to);
    if (!tk) continue;  // exited (finished workers stay alive; should not happen)
    MoveTicket ticket = *tk;
    ASSERT_TRUE(eventually([&] { return ticket->done(); }, 20s)) << "move never acknowledged";
    if (ticket->result.load() == MoveResult::Landed) ++landed;
    std::this_thread::sleep_for(200us);
  }
  ASSERT_TRUE(all_done()) << "workers did not finish in 60 s";
  uint64_t ios = 0, forwarded = 0;
  for (auto& w : ws) {
    SCOPED_TRACE("worker " + std::to_string(w->id) + ": " + w->first_problem);
    EXPECT_EQ(w->mismatches.load(), 0u);
    EXPECT_EQ(w->io_errors.load(), 0u);
    EXPECT_EQ(w->wrong_thread.load(), 0u);
    ios += w->ios.load();
    forwarded += w->forwarded.load();
  }
  EXPECT_EQ(ios, uint64_t{kWorkers} * kBlocksEach * 2 * generations);
  EXPECT_GT(landed, 0u);
  if (rt) {
    EXPECT_GE(switches, 3u) << "the workers finished before every policy ran once";
  }
  ::testing::Test::RecordProperty("moves_landed", static_cast<int>(landed));
  ::testing::Test::RecordProperty("forwarded_completions", static_cast<int>(forwarded));
  std::printf("%s: %llu I/Os verified, %llu moves landed, %llu policy switches, %llu completions forwarded\n",
              direct ? "O_DIRECT" : "page cache", static_cast<unsigned long long>(ios),
              static_cast<unsigned long long>(landed), static_cast<unsigned long long>(switches),
              static_cast<unsigned long long>(forwarded));
  for (auto& t : refs) (void)t.send([] { current_thread()->exit(); });
  if (rt) rt->stop();
  else pool->stop();
  ws.clear();  // channels are idle: safe off-thread once the pool stopped
  ::close(fd);
}

}  // namespace

TEST(IoIntegrity, PatternSurvivesMovesPageCache) { run_integrity(false, Churn::Moves); }

TEST(IoIntegrity, PatternSurvivesMovesDirect) { run_integrity(true, Churn::Moves); }

TEST(IoIntegrity, PatternSurvivesMovesAndPolicySwitchesPageCache) {
  run_integrity(false, Churn::MovesAndSwitches);
}

TEST(IoIntegrity, PatternSurvivesMovesAndPolicySwitchesDirect) { run_integrity(true, Churn::MovesAndSwitches); }

// Submit on core A, move to core B, then let the request complete: the
// callback runs on B's reactor OS thread (pinned to B) with the right data.
TEST(IoIntegrity, CallbackRunsOnTheNewCoreAfterAMove) {
  auto pool = make_pool();
  if (pool->cores().count() < 2) GTEST_SKIP() << "needs two cores";
  const auto cores = pool->cores().cores();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  struct State {
    IoChannel ch;
    char buf[32] = {};
    std::atomic<int> res{0};
    std::atomic<int> cpu{-1};
    std::atomic<uint32_t> core{99};
    std::atomic<bool> submitted{false};
  };
  auto st = std::make_shared<State>();
  ThreadOptions o;
  o.name = "hopper";
  o.home = cores[0];
  const int rfd = p[0];
  auto t = pool->spawn(std::move(o), [st, rfd] {
    auto c = IoChannel::create();
    ASSERT_TRUE(c) << c.error().message;
    st->ch = std::move(*c);
    auto r = st->ch.read(rfd, st->buf, sizeof st->buf, 0, [st](int res) {
      st->cpu.store(sched_getcpu());
      st->core.store(current_thread()->current_core().value);
      st->res.store(res);
    });
    ASSERT_TRUE(r) << r.error().message;
    st->submitted.store(true);
  });
  ASSERT_TRUE(t);
  ASSERT_TRUE(eventually([&] { return st->submitted.load(); }));
  auto tk = pool->move(t->id(), cores[1]);
  ASSERT_TRUE(tk);
  ASSERT_TRUE(eventually([&] { return (*tk)->done(); }));
  ASSERT_EQ((*tk)->result.load(), MoveResult::Landed) << (*tk)->skip_reason;
  const char msg[] = "submitted on A, completed on B";
  ASSERT_EQ(::write(p[1], msg, sizeof msg), static_cast<ssize_t>(sizeof msg));
  ASSERT_TRUE(eventually([&] { return st->res.load() != 0; }));
  EXPECT_EQ(st->res.load(), static_cast<int>(sizeof msg));
  EXPECT_STREQ(st->buf, msg);
  EXPECT_EQ(st->core.load(), cores[1].value);
  EXPECT_EQ(st->cpu.load(), static_cast<int>(cores[1].value));  // the reactor thread is pinned there
  (void)t->send([] { current_thread()->exit(); });
  pool->stop();
  ::close(p[0]);
  ::close(p[1]);
}
