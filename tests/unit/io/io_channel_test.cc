// IoChannel on the deterministic harness: reactors driven from the test's OS
// thread, real io_uring rings, real files in a temp directory. Completions
// that must arrive at a chosen moment (after a move, during a transit) come
// from a pipe: its read stays in flight until the test writes to the pipe.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <reactor/io.hh>
#include <reactor/pool.hh>

#include "reactor/io_access.hh"
#include "support/harness.hh"

using namespace reactor;
using namespace std::chrono_literals;

namespace {

class IoChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/io_channel_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A pipe whose ends the fixture closes: {read end, write end}.
  std::array<int, 2> make_pipe() {
    int p[2] = {-1, -1};
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0) << std::strerror(errno);
    fds_.push_back(p[0]);
    fds_.push_back(p[1]);
    return {p[0], p[1]};
  }

  int open_file(const std::string& name, int flags = O_RDWR | O_CREAT) {
    int fd = ::open((dir_ + "/" + name).c_str(), flags | O_CLOEXEC, 0600);
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }

  // Polls every reactor until `done` or a wall-clock bound (completions from
  // the kernel's worker threads arrive asynchronously).
  bool poll_until(const std::function<bool()>& done, std::chrono::seconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      h_.poll_all();
    }
    return true;
  }

  // Runs `fn` on `t` (as a message) and polls until it ran.
  void on(const ThreadRef& t, std::function<void()> fn) {
    bool ran = false;
    auto sent = t.send([&] {
      fn();
      ran = true;
    });
    ASSERT_TRUE(sent) << sent.error().message;
    ASSERT_TRUE(poll_until([&] { return ran; }));
  }

  IoChannel make_channel(const ThreadRef& t, IoChannelOptions o = {}) {
    IoChannel ch;
    on(t, [&] {
      auto c = IoChannel::create(o);
      if (!c) throw std::runtime_error(c.error().message);
      ch = std::move(*c);
    });
    return ch;
  }

  test::Harness h_{test::HarnessOptions{.cores = 2}};
  std::string dir_;
  std::vector<int> fds_;
};

std::vector<char> pattern(size_t n, uint32_t seed) {
  std::vector<char> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return v;
}

}  // namespace

TEST(IoCallback, SmallCapturesAreInlineAndLargeOnesWork) {
  int got = 0;
  IoCallback small([&got](int r) { got = r; });
  EXPECT_TRUE(small.is_inline());
  small(7);
  EXPECT_EQ(got, 7);

  char big[256] = {};
  big[0] = 3;
  IoCallback large([&got, big](int r) { got = r + big[0]; });
  EXPECT_FALSE(large.is_inline());
  IoCallback moved(std::move(large));
  EXPECT_FALSE(static_cast<bool>(large));
  moved(1);
  EXPECT_EQ(got, 4);
}

TEST(IoCallback, ResetAndMoveDestroyCapturesOnce) {
  auto token = std::make_shared<int>(1);
  {
    IoCallback a([token](int) {});
    EXPECT_EQ(token.use_count(), 2);
    IoCallback b(std::move(a));
    EXPECT_EQ(token.use_count(), 2);
    IoCallback c;
    c = std::move(b);
    EXPECT_EQ(token.use_count(), 2);
    c.reset();
    EXPECT_EQ(token.use_count(), 1);
  }
  EXPECT_EQ(token.use_count(), 1);
}

TEST(AlignedBufferTest, AlignsRoundsAndRejectsBadAlignment) {
  auto b = AlignedBuffer::allocate(1000, 4096);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % 4096, 0u);
  EXPECT_EQ(b->size(), 4096u);
  EXPECT_EQ(b->data()[100], std::byte{0});
  auto bad = AlignedBuffer::allocate(4096, 3000);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_FALSE(AlignedBuffer::allocate(0, 4096));
}

TEST_F(IoChannelTest, WritePatternReadBackAndFsync) {
  ThreadRef t = h_.spawn("io");
  int fd = open_file("data");
  ASSERT_GE(fd, 0);
  IoChannel ch = make_channel(t, {.queue_depth = 32});
  constexpr size_t kBlock = 4096, kBlocks = 16;
  auto data = pattern(kBlock * kBlocks, 1);
  int writes_ok = 0, fsync_res = -1;
  on(t, [&] {
    for (size_t i = 0; i < kBlocks; ++i) {
      auto r = ch.write(fd, data.data() + i * kBlock, kBlock, i * kBlock, [&](int res) {
        EXPECT_EQ(res, static_cast<int>(kBlock));
        EXPECT_EQ(current_thread(), t.get());  // callbacks run on the thread
        ++writes_ok;
      });
      ASSERT_TRUE(r) << r.error().message;
    }
    EXPECT_EQ(ch.in_flight(), kBlocks);
  });
  ASSERT_TRUE(poll_until([&] { return writes_ok == static_cast<int>(kBlocks); }));
  on(t, [&] { ASSERT_TRUE(ch.fsync(fd, SyncKind::Full, [&](int res) { fsync_res = res; })); });
  ASSERT_TRUE(poll_until([&] { return fsync_res != -1; }));
  EXPECT_EQ(fsync_res, 0);

  std::vector<char> back(data.size(), 0);
  int reads_ok = 0;
  on(t, [&] {
    for (size_t i = 0; i < kBlocks; ++i)
      ASSERT_TRUE(ch.read(fd, back.data() + i * kBlock, kBlock, i * kBlock, [&](int res) {
        EXPECT_EQ(res, static_cast<int>(kBlock));
        ++reads_ok;
      }));
  });
  ASSERT_TRUE(poll_until([&] { return reads_ok == static_cast<int>(kBlocks); }));
  EXPECT_EQ(back, data);
  auto st = ch.stats();
  EXPECT_EQ(st.submitted, 2 * kBlocks + 1);
  EXPECT_EQ(st.completed, 2 * kBlocks + 1);
  EXPECT_EQ(st.errors, 0u);
  EXPECT_EQ(st.in_flight, 0u);
  // The data really is in the file (not only in our buffers).
  std::vector<char> direct(data.size());
  ASSERT_EQ(::pread(fd, direct.data(), direct.size(), 0), static_cast<ssize_t>(direct.size()));
  EXPECT_EQ(direct, data);
}

TEST_F(IoChannelTest, VectoredWriteAndReadCopyTheIovecArray) {
  ThreadRef t = h_.spawn("io");
  int fd = open_file("vec");
  ASSERT_GE(fd, 0);
  IoChannel ch = make_channel(t);
  // 12 segments: more than the slot's inline iovecs, so the heap array is used.
  constexpr size_t kSeg = 512, kSegs = 12;
  auto data = pattern(kSeg * kSegs, 2);
  std::vector<char> back(data.size(), 0);
  int wres = 0, rres = 0, fres = -1;
  on(t, [&] {
    std::vector<iovec> iov(kSegs);  // dies before the reactor submits: must be copied
    for (size_t i = 0; i < kSegs; ++i) iov[i] = {data.data() + i * kSeg, kSeg};
    ASSERT_TRUE(ch.writev(fd, iov.data(), static_cast<unsigned>(kSegs), 0, [&](int res) { wres = res; }));
  });
  ASSERT_TRUE(poll_until([&] { return wres != 0; }));
  EXPECT_EQ(wres, static_cast<int>(data.size()));
  on(t, [&] {
    iovec iov[3] = {{back.data(), 1000}, {back.data() + 1000, 3000}, {back.data() + 4000, back.size() - 4000}};
    ASSERT_TRUE(ch.readv(fd, iov, 3, 0, [&](int res) { rres = res; }));
    ASSERT_TRUE(ch.fsync(fd, SyncKind::DataOnly, [&](int res) { fres = res; }));
  });
  ASSERT_TRUE(poll_until([&] { return rres != 0 && fres != -1; }));
  EXPECT_EQ(rres, static_cast<int>(data.size()));
  EXPECT_EQ(fres, 0);
  EXPECT_EQ(back, data);
}

TEST_F(IoChannelTest, KernelErrorsArriveAsNegativeErrno) {
  ThreadRef t = h_.spawn("io");
  IoChannel ch = make_channel(t);
  int ro = open_file("ro", O_RDONLY | O_CREAT);
  ASSERT_GE(ro, 0);
  int closed = ::dup(ro);
  ::close(closed);  // a number that is not an open fd now
  char buf[64];
  int bad_fd = 0, bad_write = 0, past_end = -1;
  on(t, [&] {
    ASSERT_TRUE(ch.read(closed, buf, sizeof buf, 0, [&](int res) { bad_fd = res; }));
    ASSERT_TRUE(ch.write(ro, buf, sizeof buf, 0, [&](int res) { bad_write = res; }));
    ASSERT_TRUE(ch.read(ro, buf, sizeof buf, 1 << 20, [&](int res) { past_end = res; }));
  });
  ASSERT_TRUE(poll_until([&] { return bad_fd != 0 && bad_write != 0 && past_end != -1; }));
  EXPECT_EQ(bad_fd, -EBADF);
  EXPECT_EQ(bad_write, -EBADF);  // written through a read-only descriptor
  EXPECT_EQ(past_end, 0);        // EOF
  EXPECT_EQ(ch.stats().errors, 2u);
}

// TRIM and WRITE_ZEROES of reactor-nbd: fallocate on the ring punches a hole
// (reads back as zeros, size kept) and zeroes a range; kernel errors come back
// as -errno, an empty range is refused at submission.
TEST_F(IoChannelTest, FallocatePunchesAndZeroesOnTheRing) {
  ThreadRef t = h_.spawn("io");
  int fd = open_file("holes");
  ASSERT_GE(fd, 0);
  constexpr size_t kSize = 64 * 1024;
  auto data = pattern(kSize, 7);
  ASSERT_EQ(::pwrite(fd, data.data(), kSize, 0), static_cast<ssize_t>(kSize));
  IoChannel ch = make_channel(t);
  int punch = 1, zero = 1, bad = 1;
  Result<void> empty;
  on(t, [&] {
    ASSERT_TRUE(ch.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8192, 8192, [&](int res) { punch = res; }));
    ASSERT_TRUE(ch.fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 32768, 4096, [&](int res) { zero = res; }));
    ASSERT_TRUE(ch.fallocate(-1, 0, 0, 4096, [&](int res) { bad = res; }));
    empty = ch.fallocate(fd, 0, 0, 0, [](int) {});
  });
  ASSERT_TRUE(poll_until([&] { return punch != 1 && zero != 1 && bad != 1; }));
  EXPECT_EQ(bad, -EBADF);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Errc::invalid_argument);
  if (punch == -EOPNOTSUPP || zero == -EOPNOTSUPP) GTEST_SKIP() << "this file system has no hole punching / zero range";
  ASSERT_EQ(punch, 0);
  ASSERT_EQ(zero, 0);
  std::vector<char> back(kSize);
  ASSERT_EQ(::pread(fd, back.data(), kSize, 0), static_cast<ssize_t>(kSize));
  for (size_t i = 0; i < kSize; ++i) {
    const bool zeroed = (i >= 8192 && i < 16384) || (i >= 32768 && i < 36864);
    ASSERT_EQ(back[i], zeroed ? 0 : data[i]) << "byte " << i;
  }
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kSize));
}

TEST_F(IoChannelTest, SubmissionErrorsAreResults) {
  ThreadRef t = h_.spawn("io");
  ThreadRef other = h_.spawn("other");
  int fd = open_file("e");
  ASSERT_GE(fd, 0);
  IoChannel ch = make_channel(t, {.queue_depth = 2});
  char buf[16];
  // Off any thread, and from a thread that does not own the channel.
  auto off = ch.read(fd, buf, sizeof buf, 0, [](int) {});
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, Errc::wrong_thread);
  on(other, [&] {
    auto r = ch.read(fd, buf, sizeof buf, 0, [](int) {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::wrong_thread);
    EXPECT_NE(r.error().message.find("'io'"), std::string::npos) << r.error().message;
  });
  EXPECT_FALSE(IoChannel::create());  // not on a thread
  EXPECT_EQ(IoChannel::create().error().code, Errc::wrong_thread);
  int done = 0;
  on(t, [&] {
    EXPECT_EQ(IoChannel::create({.queue_depth = 0}).error().code, Errc::invalid_argument);
    EXPECT_EQ(ch.read(fd, buf, sizeof buf, 0, nullptr).error().code, Errc::invalid_argument);
    EXPECT_EQ(ch.readv(fd, nullptr, 0, 0, [](int) {}).error().code, Errc::invalid_argument);
    EXPECT_EQ(ch.read(fd, buf, size_t{1} << 31, 0, [](int) {}).error().code, Errc::invalid_argument);
    ASSERT_TRUE(ch.read(fd, buf, sizeof buf, 0, [&](int) { ++done; }));
    ASSERT_TRUE(ch.read(fd, buf, sizeof buf, 0, [&](int) { ++done; }));
    auto full = ch.read(fd, buf, sizeof buf, 0, [&](int) { ++done; });
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().code, Errc::full);
    EXPECT_EQ(ch.available(), 0u);
  });
  ASSERT_TRUE(poll_until([&] { return done == 2; }));
  // A completion frees its slot: the channel accepts again.
  on(t, [&] { ASSERT_TRUE(ch.read(fd, buf, sizeof buf, 0, [&](int) { ++done; })); });
  ASSERT_TRUE(poll_until([&] { return done == 3; }));
  EXPECT_EQ(ch.stats().submitted, 3u);
}

TEST_F(IoChannelTest, CallbackMayResubmitAtFullQueueDepth) {
  ThreadRef t = h_.spawn("io");
  int fd = open_file("r");
  ASSERT_GE(fd, 0);
  auto data = pattern(4096, 3);
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 0), 4096);
  constexpr uint32_t kDepth = 4;
  IoChannel ch = make_channel(t, {.queue_depth = kDepth});
  int completed = 0;
  char buf[kDepth][512];
  std::function<void(uint32_t)> issue = [&](uint32_t slot) {
    auto r = ch.read(fd, buf[slot], 512, slot * 512, [&, slot](int res) {
      EXPECT_EQ(res, 512);
      if (++completed + static_cast<int>(kDepth) <= 200) issue(slot);  // the queue is full but for this one
    });
    ASSERT_TRUE(r) << r.error().message;
  };
  on(t, [&] {
    for (uint32_t s = 0; s < kDepth; ++s) issue(s);
  });
  ASSERT_TRUE(poll_until([&] { return completed == 200; }));
  EXPECT_EQ(ch.in_flight(), 0u);
}

TEST_F(IoChannelTest, DeeperThanTheRingFlushesEarly) {
  ThreadRef t = h_.spawn("io");
  int fd = open_file("deep");
  ASSERT_GE(fd, 0);
  auto data = pattern(4096, 4);
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 0), 4096);
  constexpr int kN = 700;  // the reactor's ring holds 256 submissions
  IoChannel ch = make_channel(t, {.queue_depth = kN});
  std::vector<char> bufs(kN * 8);
  int ok = 0;
  on(t, [&] {
    for (int i = 0; i < kN; ++i) {
      auto r = ch.read(fd, &bufs[static_cast<size_t>(i) * 8], 8, static_cast<uint64_t>(i % 512) * 8, [&, i](int res) {
        if (res == 8 && std::memcmp(&bufs[static_cast<size_t>(i) * 8], &data[static_cast<size_t>(i % 512) * 8], 8) == 0)
          ++ok;
      });
      ASSERT_TRUE(r) << i << ": " << r.error().message;
    }
  });
  ASSERT_TRUE(poll_until([&] { return static_cast<int>(ch.stats().completed) == kN; }));
  EXPECT_EQ(ok, kN);
}

// The completion arrives after the thread moved: the callback runs on the
// thread's new core, with the right data.
TEST_F(IoChannelTest, InFlightReadSurvivesAMove) {
  const auto p = make_pipe();
  ThreadRef t = h_.spawn("mover", CpuSet{0, 1});
  ASSERT_EQ(t->current_core().value, 0u);
  IoChannel ch = make_channel(t);
  char buf[16] = {};
  int res = 0;
  uint32_t core_at_callback = 99;
  uint64_t stamp = 0;
  on(t, [&] {
    ASSERT_TRUE(ch.read(p[0], buf, sizeof buf, 0, [&](int r) {
      res = r;
      core_at_callback = current_thread()->current_core().value;
      stamp = ch.completion_time();
    }));
  });
  h_.poll_until_idle();  // submitted; the pipe is empty, so it stays in flight
  EXPECT_EQ(ch.in_flight(), 1u);
  auto tk = h_.pool().move(t.id(), CoreId{1});
  ASSERT_TRUE(tk);
  ASSERT_TRUE(poll_until([&] { return (*tk)->done(); }));
  ASSERT_EQ((*tk)->result.load(), MoveResult::Landed);
  h_.clock().advance(2'000'000);
  const uint64_t before_delivery = h_.clock().now();
  ASSERT_EQ(::write(p[1], "hello, moved io!", 16), 16);
  ASSERT_TRUE(poll_until([&] { return res != 0; }));
  EXPECT_EQ(stamp, before_delivery) << "a forwarded completion reads the clock when it is delivered";
  EXPECT_EQ(res, 16);
  EXPECT_EQ(core_at_callback, 1u);
  EXPECT_EQ(std::string(buf, 16), "hello, moved io!");
  EXPECT_EQ(ch.stats().forwarded, 1u);
}

// The completion is reaped while the thread is in transit away from the
// reactor that reaped it: it must not run there, but where the thread lands.
TEST_F(IoChannelTest, CompletionReapedDuringTransitRunsWhereTheThreadLands) {
  const auto p = make_pipe();
  ThreadRef t = h_.spawn("transit", CpuSet{0, 1});
  IoChannel ch = make_channel(t);
  char buf[4] = {};
  int res = 0;
  uint32_t core_at_callback = 99;
  bool in_transit_at_callback = true;
  on(t, [&] {
    ASSERT_TRUE(ch.read(p[0], buf, sizeof buf, 0, [&](int r) {
      res = r;
      core_at_callback = current_thread()->current_core().value;
      in_transit_at_callback = current_thread()->stats().in_transit;
    }));
  });
  h_.poll_until_idle();
  ASSERT_TRUE(h_.pool().move(t.id(), CoreId{1}));
  ASSERT_EQ(::write(p[1], "data", 4), 4);
  // Core 0 alone: it handles the move (thread in transit, arrival queued on
  // core 1) and then reaps the completion in the same pass.
  for (int i = 0; i < 20 && res == 0; ++i) {
    h_.poll(CoreId{0});
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(res, 0) << "the callback ran on the reactor the thread was leaving";
  EXPECT_TRUE(t->stats().in_transit);
  ASSERT_TRUE(poll_until([&] { return res != 0; }));
  EXPECT_EQ(res, 4);
  EXPECT_EQ(core_at_callback, 1u);
  EXPECT_FALSE(in_transit_at_callback);
  EXPECT_EQ(std::string(buf, 4), "data");
}

// Completions are delivered in the order the reactors reaped them, also
// across a move away and back: a completion forwarded to the thread while it
// was away is still queued to it when it returns, and one reaped after the
// return must wait behind it (a stream socket's receives would otherwise be
// handed over out of order).
TEST_F(IoChannelTest, CompletionsStayInOrderWhenTheThreadMovesAwayAndBack) {
  const auto p = make_pipe();
  const auto q = make_pipe();
  ThreadRef t = h_.spawn("away_and_back", CpuSet{0, 1});
  ASSERT_EQ(t->current_core().value, 0u);
  IoChannel ch = make_channel(t);
  char a[1] = {}, b[1] = {};
  std::vector<char> order;
  on(t, [&] {
    ASSERT_TRUE(ch.read(p[0], a, 1, 0, [&](int r) {
      EXPECT_EQ(r, 1);
      order.push_back('p');
    }));
    ASSERT_TRUE(ch.read(q[0], b, 1, 0, [&](int r) {
      EXPECT_EQ(r, 1);
      order.push_back('q');
    }));
  });
  h_.poll_until_idle();  // both submitted on core 0's ring; both pipes empty
  ASSERT_EQ(ch.in_flight(), 2u);
  auto away = h_.pool().move(t.id(), CoreId{1});
  ASSERT_TRUE(away);
  ASSERT_TRUE(poll_until([&] { return (*away)->done(); }));
  ASSERT_EQ(t->current_core().value, 1u);
  // p completes; core 0 reaps it and forwards it to the thread on core 1,
  // which does not run before it is sent back.
  ASSERT_EQ(::write(p[1], "1", 1), 1);
  for (int i = 0; i < 50 && ch.stats().forwarded == 0; ++i) {
    h_.poll(CoreId{0});
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(order.empty());
  auto back = h_.pool().move(t.id(), CoreId{0});
  ASSERT_TRUE(back);
  h_.poll(CoreId{1});  // the move is handled before threads run: the thread leaves with p still queued
  ASSERT_TRUE(order.empty());
  // q completes; core 0 takes the thread in, then reaps q in the same pass.
  ASSERT_EQ(::write(q[1], "2", 1), 1);
  for (int i = 0; i < 200 && order.size() < 2; ++i) {
    h_.poll(CoreId{0});
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE((*back)->done());
  EXPECT_EQ(std::string(order.begin(), order.end()), "pq");
  EXPECT_EQ(t->current_core().value, 0u);
}

TEST_F(IoChannelTest, DirectCompletionTimeIsChargedToTheThread) {
  const auto p = make_pipe();
  ThreadRef t = h_.spawn("busy");
  IoChannel ch = make_channel(t);
  char buf[1];
  bool ran = false;
  on(t, [&] {
    ASSERT_TRUE(ch.read(p[0], buf, 1, 0, [&](int) {
      h_.clock().advance(5'000'000);  // the callback "works" for 5 ms of manual time
      ran = true;
    }));
  });
  h_.poll_until_idle();
  const uint64_t busy_before = t->stats().busy;
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  ASSERT_TRUE(poll_until([&] { return ran; }));
  EXPECT_GE(t->stats().busy - busy_before, 5'000'000u);
}

// Completions reaped in one batch share the batch's clock read: a callback
// that spends time does not move the completion time of the next one, and
// the whole run of callbacks is still charged to the thread.
TEST_F(IoChannelTest, CompletionTimeIsTheBatchClockRead) {
  int p[2], q[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(q, O_CLOEXEC), 0);
  fds_.insert(fds_.end(), {p[0], p[1], q[0], q[1]});
  ThreadRef t = h_.spawn("stamps");
  IoChannel ch = make_channel(t);
  EXPECT_EQ(ch.completion_time(), 0u);
  char a[1], b[1];
  std::vector<uint64_t> seen;
  uint64_t submitted_at = 0;
  on(t, [&] {
    submitted_at = h_.clock().now();
    auto cb = [&](int r) {
      EXPECT_EQ(r, 1);
      seen.push_back(ch.completion_time());
      h_.clock().advance(5'000'000);  // each callback "works" for 5 ms of manual time
    };
    ASSERT_TRUE(ch.read(p[0], a, 1, 0, cb));
    ASSERT_TRUE(ch.read(q[0], b, 1, 0, cb));
  });
  h_.poll_until_idle();
  ASSERT_EQ(ch.in_flight(), 2u);
  h_.clock().advance(1'000'000);
  const uint64_t before_reap = h_.clock().now();
  const uint64_t busy_before = t->stats().busy;
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  ASSERT_EQ(::write(q[1], "y", 1), 1);
  ASSERT_TRUE(poll_until([&] { return seen.size() == 2; }));
  EXPECT_GE(seen[0], before_reap);
  EXPECT_GT(seen[0], submitted_at);
  EXPECT_EQ(seen[1], seen[0]) << "the second completion of the batch read a later clock";
  EXPECT_GE(t->stats().busy - busy_before, 10'000'000u) << "the run of callbacks was not charged to the thread";
}

// The sleep decision and the pass with I/O in flight (issue 13): the ring
// flags completions the kernel holds as deferred task work, so a pass with a
// read in flight and nothing completed makes no syscall (a polling reactor
// used to enter the kernel on every pass), and a completion waiting in the
// kernel keeps the reactor awake (it used to go to sleep, whose
// io_uring_enter then found the completion: a sleep and a wake-up counted for
// nothing, the completion work charged as sleep).
TEST_F(IoChannelTest, PassWithIoInFlightEntersTheKernelOnlyForCompletions) {
  const auto p = make_pipe();
  ThreadRef t = h_.spawn("waits");
  IoChannel ch = make_channel(t);
  Reactor& r = *h_.pool().reactor(t->current_core());
  if (!detail::IoAccess::reports_pending(r)) GTEST_SKIP() << "this kernel's io_uring has no TASKRUN_FLAG";
  char buf[1];
  bool ran = false;
  on(t, [&] { ASSERT_TRUE(ch.read(p[0], buf, 1, 0, [&](int res) { ran = res == 1; })); });
  h_.poll_until_idle();
  ASSERT_EQ(ch.in_flight(), 1u);
  const uint64_t enters = detail::IoAccess::reap_enters(r);
  for (int i = 0; i < 100; ++i) h_.poll(t->current_core());
  EXPECT_EQ(detail::IoAccess::reap_enters(r), enters) << "passes with nothing completed entered the kernel";
  EXPECT_FALSE(r.has_work(h_.clock().now()));
  // The pipe write completes the read as task work the kernel holds until the
  // reactor enters: it is work (no sleep), and the next pass collects it.
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  EXPECT_TRUE(r.has_work(h_.clock().now())) << "a completion held by the kernel let the reactor go to sleep";
  h_.poll(t->current_core());
  EXPECT_TRUE(ran);
  EXPECT_EQ(detail::IoAccess::reap_enters(r), enters + 1);
  EXPECT_EQ(ch.in_flight(), 0u);
}

TEST_F(IoChannelTest, DestroyedChannelStillDeliversInFlightCompletions) {
  const auto p = make_pipe();
  ThreadRef t = h_.spawn("orphan");
  auto ch = std::make_unique<IoChannel>(make_channel(t));
  char buf[2];
  int res = 0;
  on(t, [&] {
    ASSERT_TRUE(ch->read(p[0], buf, 2, 0, [&](int r) { res = r; }));
    ch.reset();  // on-thread, with the read in flight
  });
  ASSERT_EQ(::write(p[1], "ok", 2), 2);
  ASSERT_TRUE(poll_until([&] { return res != 0; }));
  EXPECT_EQ(res, 2);  // ASan checks the state was freed after the last delivery
}

TEST_F(IoChannelTest, ExitingThreadWaitsForItsIoAndRefusesNewIo) {
  const auto p = make_pipe();
  bool exited = false;
  ThreadOptions o;
  o.name = "leaving";
  o.on_exit = [&] { exited = true; };
  auto sp = h_.pool().spawn(std::move(o));
  ASSERT_TRUE(sp);
  ThreadRef t = *sp;
  h_.poll_until_idle();
  IoChannel ch = make_channel(t);
  char buf[1];
  int res = 0;
  Errc after_exit = Errc::internal;
  on(t, [&] {
    ASSERT_TRUE(ch.read(p[0], buf, 1, 0, [&](int r) { res = r; }));
    current_thread()->exit();
    after_exit = ch.read(p[0], buf, 1, 0, [](int) {}).error().code;
  });
  EXPECT_EQ(after_exit, Errc::exited);
  h_.poll_until_idle();
  EXPECT_FALSE(exited) << "retired with a read in flight";
  ASSERT_EQ(::write(p[1], "z", 1), 1);
  ASSERT_TRUE(poll_until([&] { return exited; }));
  EXPECT_EQ(res, 1);
}

TEST_F(IoChannelTest, ThrowingCallbackIsContained) {
  ThreadRef t = h_.spawn("thrower");
  int fd = open_file("x");
  ASSERT_GE(fd, 0);
  IoChannel ch = make_channel(t);
  char buf[8];
  int after = 0;
  on(t, [&] {
    ASSERT_TRUE(ch.read(fd, buf, 8, 0, [](int) { throw std::runtime_error("boom"); }));
    ASSERT_TRUE(ch.read(fd, buf, 8, 0, [&](int) { ++after; }));
  });
  ASSERT_TRUE(poll_until([&] { return after == 1; }));
  EXPECT_EQ(ch.stats().completed, 2u);
}

TEST_F(IoChannelTest, DirectIoWithAlignedBuffers) {
  ThreadRef t = h_.spawn("direct");
  int fd = open_file("odirect", O_RDWR | O_CREAT | O_DIRECT);
  if (fd < 0 && errno == EINVAL) GTEST_SKIP() << "O_DIRECT unsupported on " << dir_;
  ASSERT_GE(fd, 0) << std::strerror(errno);
  auto wbuf = AlignedBuffer::allocate(8192);
  auto rbuf = AlignedBuffer::allocate(8192);
  ASSERT_TRUE(wbuf && rbuf);
  auto data = pattern(8192, 5);
  std::memcpy(wbuf->data(), data.data(), 8192);
  IoChannel ch = make_channel(t);
  int w = 0, r = 0, misaligned = 0;
  on(t, [&] { ASSERT_TRUE(ch.write(fd, wbuf->data(), 8192, 0, [&](int res) { w = res; })); });
  ASSERT_TRUE(poll_until([&] { return w != 0; }));
  ASSERT_EQ(w, 8192);
  on(t, [&] {
    ASSERT_TRUE(ch.read(fd, rbuf->data(), 8192, 0, [&](int res) { r = res; }));
    ASSERT_TRUE(ch.read(fd, rbuf->data() + 1, 4096, 0, [&](int res) { misaligned = res; }));
  });
  ASSERT_TRUE(poll_until([&] { return r != 0 && misaligned != 0; }));
  EXPECT_EQ(r, 8192);
  EXPECT_EQ(std::memcmp(rbuf->data(), data.data(), 8192), 0);
  EXPECT_EQ(misaligned, -EINVAL);
}

TEST_F(IoChannelTest, RegisteredFilesAndBuffersAreUsedOnEveryCore) {
  int fd = open_file("fixed");
  ASSERT_GE(fd, 0);
  auto data = pattern(8192, 6);
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 0), 8192);
  auto arena = AlignedBuffer::allocate(16384);
  ASSERT_TRUE(arena);
  auto reg = IoRegistry::create(h_.pool(), {fd}, {iovec{arena->data(), arena->size()}});
  ASSERT_TRUE(reg) << reg.error().message;
  ASSERT_TRUE((*reg)->files_on(CoreId{0}) && (*reg)->files_on(CoreId{1})) << (*reg)->status();
  ASSERT_TRUE((*reg)->buffers_on(CoreId{0}) && (*reg)->buffers_on(CoreId{1})) << (*reg)->status();
  EXPECT_EQ((*reg)->file_index(fd), 0);
  EXPECT_EQ((*reg)->file_index(fd + 1000), -1);
  EXPECT_EQ((*reg)->buffer_index(arena->data() + 4096, 4096), 0);
  EXPECT_EQ((*reg)->buffer_index(arena->data() + 16000, 4096), -1);  // runs past the end

  ThreadRef t = h_.spawn("fixed", CpuSet{0, 1});
  IoChannel ch = make_channel(t, {.registry = reg->get()});
  int r0 = 0, r1 = 0;
  char plain[100];
  int rp = 0;
  on(t, [&] {
    ASSERT_TRUE(ch.read(fd, arena->data(), 4096, 0, [&](int res) { r0 = res; }));
    ASSERT_TRUE(ch.read(fd, plain, 100, 0, [&](int res) { rp = res; }));  // not a registered buffer
  });
  ASSERT_TRUE(poll_until([&] { return r0 != 0 && rp != 0; }));
  auto tk = h_.pool().move(t.id(), CoreId{1});
  ASSERT_TRUE(tk);
  ASSERT_TRUE(poll_until([&] { return (*tk)->done(); }));
  on(t, [&] { ASSERT_TRUE(ch.read(fd, arena->data() + 4096, 4096, 4096, [&](int res) { r1 = res; })); });
  ASSERT_TRUE(poll_until([&] { return r1 != 0; }));
  EXPECT_EQ(r0, 4096);
  EXPECT_EQ(r1, 4096);
  EXPECT_EQ(rp, 100);
  EXPECT_EQ(std::memcmp(arena->data(), data.data(), 8192), 0);
  EXPECT_EQ(std::memcmp(plain, data.data(), 100), 0);
  auto st = ch.stats();
  EXPECT_EQ(st.fixed_file, 3u);
  EXPECT_EQ(st.fixed_buf, 2u);
  EXPECT_NE((*reg)->status().find("2/2"), std::string::npos) << (*reg)->status();

  // A second registry on the same rings is refused there, not an error.
  auto second = IoRegistry::create(h_.pool(), {fd}, {});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE((*second)->files_on(CoreId{0}));
  EXPECT_NE((*second)->status().find("refused"), std::string::npos) << (*second)->status();
  second->reset();
  reg->reset();  // unregisters on both rings: a new registry succeeds
  auto third = IoRegistry::create(h_.pool(), {fd}, {});
  ASSERT_TRUE(third);
  EXPECT_TRUE((*third)->files_on(CoreId{0}));
}
