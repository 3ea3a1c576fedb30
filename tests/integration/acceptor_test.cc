// Acceptor on real reactors, real io_uring and real sockets: a burst of
// concurrent connects each accepted exactly once; connects made one after the
// other arrive in that order while the listener's thread is moved between
// reactors as fast as moves land; stop with connections pending leaks no fd
// (/proc/self/fd counted); the one-shot fallback (forced through the probe
// hook, and chosen) accepts the same; a socket error is delivered once and
// pauses; bad arguments are refused with a message.
//
// Each client sends its 4-byte id right after connecting; the test reads the
// ids from the accepted fds to check "exactly once" and the order.

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <reactor/acceptor.hh>
#include <reactor/net.hh>
#include <reactor/pool.hh>
#include <reactor/task.hh>

#include "support/real_pool.hh"
#include "support/wait.hh"

using namespace reactor;
using namespace std::chrono_literals;

namespace {

using reactor::test::eventually;
using reactor::test::make_pool;
using reactor::test::spawn_thread;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kScale = 4;
#else
constexpr int kScale = 1;
#endif

int count_open_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n - 1;  // the DIR's own fd
}

// Connects to `addr` and sends `id`; returns the client fd (the caller closes
// it) or -1.
int connect_and_send(const SocketAddress& addr, uint32_t id) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, addr.get(), addr.len) != 0 || ::send(fd, &id, sizeof id, MSG_NOSIGNAL) != sizeof id) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads the 4-byte id a client sent on an accepted fd (blocking), or UINT32_MAX.
uint32_t read_id(int fd) {
  uint32_t id = 0;
  size_t got = 0;
  while (got < sizeof id) {
    ssize_t n = ::recv(fd, reinterpret_cast<char*>(&id) + got, sizeof id - got, 0);
    if (n <= 0) return UINT32_MAX;
    got += static_cast<size_t>(n);
  }
  return id;
}

// What the listener's thread saw, written on that thread, read by the test
// after a message round trip (send() orders it).
struct Seen {
  std::mutex mu;
  std::vector<int> fds;
  std::vector<int> errors;
  std::atomic<int> count{0};
  std::atomic<int> off_thread{0};
};

class AcceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = make_pool();
    ASSERT_TRUE(pool_);
    auto a = parse_host_port("127.0.0.1:0");
    ASSERT_TRUE(a) << a.error().message;
    auto fd = listen_on(*a, 1024);
    ASSERT_TRUE(fd) << fd.error().message;
    lfd_ = *fd;
    auto b = local_address(lfd_);
    ASSERT_TRUE(b) << b.error().message;
    addr_ = *b;
  }
  void TearDown() override {
    if (lfd_ >= 0) ::close(lfd_);
  }

  // Runs `fn` on `t` and waits for it (fn's writes are visible after).
  template <class F>
  void on(ThreadRef& t, F fn) {
    std::atomic<bool> done{false};
    ASSERT_TRUE(t.send([&] {
      fn();
      done = true;
    }));
    ASSERT_TRUE(eventually([&] { return done.load(); }, 30s));
  }

  // Starts a callback acceptor on `t` that records every fd in `seen`.
  void start_recording(ThreadRef& t, std::unique_ptr<Acceptor>& acc, Seen& seen, AcceptorOptions o = {}) {
    LwThread* self = t.get();
    std::string err;
    on(t, [&] {
      auto a = Acceptor::start(
          lfd_,
          [&seen, self](int res) {
            if (current_thread() != self) ++seen.off_thread;
            std::lock_guard lk(seen.mu);
            if (res >= 0) seen.fds.push_back(res);
            else seen.errors.push_back(res);
            ++seen.count;
          },
          o);
      if (a) acc = std::make_unique<Acceptor>(std::move(*a));
      else err = a.error().message;
    });
    ASSERT_TRUE(acc) << err;
  }

  AcceptorStats stop_and_stats(ThreadRef& t, std::unique_ptr<Acceptor>& acc) {
    AcceptorStats s;
    on(t, [&] {
      acc->stop();
      s = acc->stats();
      acc.reset();
    });
    return s;
  }

  // Connects `n` clients from `threads` OS threads at once; returns their fds.
  std::vector<int> burst(int n, int threads) {
    std::vector<std::vector<int>> per(static_cast<size_t>(threads));
    std::vector<std::thread> ts;
    for (int k = 0; k < threads; ++k)
      ts.emplace_back([&, k] {
        for (int i = k; i < n; i += threads) {
          int fd = connect_and_send(addr_, static_cast<uint32_t>(i));
          if (fd >= 0) per[static_cast<size_t>(k)].push_back(fd);
        }
      });
    for (auto& t : ts) t.join();
    std::vector<int> all;
    for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
    return all;
  }

  // Every id 0..n-1 read exactly once from the accepted fds (which it closes).
  static void expect_each_once(const std::vector<int>& accepted, int n) {
    std::set<uint32_t> ids;
    for (int fd : accepted) {
      const uint32_t id = read_id(fd);
      EXPECT_TRUE(ids.insert(id).second) << "id " << id << " accepted twice";
      ::close(fd);
    }
    EXPECT_EQ(ids.size(), static_cast<size_t>(n));
    if (!ids.empty()) {
      EXPECT_EQ(*ids.begin(), 0u);
      EXPECT_EQ(*ids.rbegin(), static_cast<uint32_t>(n - 1));
    }
  }

  void concurrent_burst(AcceptorOptions o, bool expect_multishot);

  std::unique_ptr<ReactorPool> pool_;
  int lfd_ = -1;
  SocketAddress addr_;
};

void AcceptorTest::concurrent_burst(AcceptorOptions o, bool expect_multishot) {
  ThreadRef t = spawn_thread(*pool_, "acceptor");
  Seen seen;
  std::unique_ptr<Acceptor> acc;
  ASSERT_NO_FATAL_FAILURE(start_recording(t, acc, seen, o));
  const int n = 400 / kScale;
  std::vector<int> clients = burst(n, 8);
  ASSERT_EQ(clients.size(), static_cast<size_t>(n));
  ASSERT_TRUE(eventually([&] { return seen.count.load() >= n; }, 60s)) << seen.count.load() << " of " << n;
  AcceptorStats s = stop_and_stats(t, acc);
  {
    std::lock_guard lk(seen.mu);
    EXPECT_TRUE(seen.errors.empty());
    EXPECT_EQ(seen.fds.size(), static_cast<size_t>(n));
    expect_each_once(seen.fds, n);
  }
  EXPECT_EQ(seen.off_thread.load(), 0);
  EXPECT_EQ(s.accepted, static_cast<uint64_t>(n));
  EXPECT_EQ(s.multishot, expect_multishot);
  EXPECT_EQ(s.fell_back, o.test_fail_multishot_probe);
  if (expect_multishot) {
    EXPECT_LT(s.requests, static_cast<uint64_t>(n) / 4) << "multishot should need far fewer requests than connections";
  } else {
    EXPECT_GE(s.requests, static_cast<uint64_t>(n)) << "one-shot: a request per connection";
  }
  for (int fd : clients) ::close(fd);
}

TEST_F(AcceptorTest, ConcurrentConnectsAreEachAcceptedOnceMultishot) {
  concurrent_burst({}, true);
}

TEST_F(AcceptorTest, ForcedProbeFailureFallsBackToOneShot) {
  AcceptorOptions o;
  o.test_fail_multishot_probe = true;
  concurrent_burst(o, false);
}

TEST_F(AcceptorTest, OneShotModeAcceptsTheSame) {
  AcceptorOptions o;
  o.mode = AcceptMode::OneShot;
  concurrent_burst(o, false);
}

// One client thread connects 0, 1, 2, ... one after the other (each connect
// returns once the connection is queued on the listener), so the kernel
// accepts them in that order; the test moves the listener's thread between
// the reactors all along. The ids must come out 0..n-1 in order, each once,
// on the listener's thread.
TEST_F(AcceptorTest, OrderAndExactlyOnceWhileTheListenerMoves) {
  ThreadRef t = spawn_thread(*pool_, "acceptor");
  Seen seen;
  std::unique_ptr<Acceptor> acc;
  ASSERT_NO_FATAL_FAILURE(start_recording(t, acc, seen));
  const int n = 1500 / kScale;
  std::vector<CoreId> cores = pool_->cores().cores();
  std::atomic<bool> clients_done{false};
  std::atomic<size_t> moves{0};
  std::vector<int> clients;
  std::thread client([&] {
    for (int i = 0; i < n; ++i) {
      int fd = connect_and_send(addr_, static_cast<uint32_t>(i));
      if (fd >= 0) clients.push_back(fd);
      // Every 16 connects, let a move land first (bounded wait), so that the
      // burst spans many moves however slow the build (sanitizers) is.
      if (i % 16 == 15 && cores.size() > 1) {
        const size_t m = moves.load();
        const auto end = std::chrono::steady_clock::now() + 1s;
        while (moves.load() == m && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(50us);
      }
    }
    clients_done = true;
  });
  while (!clients_done.load() || seen.count.load() < n) {
    if (cores.size() < 2) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    auto ticket = pool_->move(t.id(), cores[moves.load() % cores.size()]);
    if (!ticket) break;
    MoveTicket tk = *ticket;
    pool_->wait_for([&] { return tk->done(); }, 5s);
    ++moves;
    std::this_thread::sleep_for(300us);
    if (moves.load() > 200000) break;  // the eventually below reports it
  }
  client.join();
  ASSERT_EQ(clients.size(), static_cast<size_t>(n));
  ASSERT_TRUE(eventually([&] { return seen.count.load() >= n; }, 60s)) << seen.count.load() << " of " << n;
  AcceptorStats s = stop_and_stats(t, acc);
  std::lock_guard lk(seen.mu);
  EXPECT_TRUE(seen.errors.empty());
  ASSERT_EQ(seen.fds.size(), static_cast<size_t>(n));
  std::vector<uint32_t> ids;
  for (int fd : seen.fds) {
    ids.push_back(read_id(fd));
    ::close(fd);
  }
  for (int i = 0; i < n; ++i) ASSERT_EQ(ids[static_cast<size_t>(i)], static_cast<uint32_t>(i)) << "at " << i;
  EXPECT_EQ(seen.off_thread.load(), 0);
  EXPECT_TRUE(s.multishot);
  if (cores.size() > 1) {
    EXPECT_GT(moves.load(), static_cast<size_t>(n / 16 / 2)) << "the listener was not moved during the burst";
    EXPECT_GT(s.migrations, 0u) << "no request followed the thread (moves " << moves.load() << ")";
  }
  for (int fd : clients) ::close(fd);
}

// next() mode with nobody taking the connections: they queue; stop() closes
// the queued ones, and what the kernel accepts after stop is closed too. Once
// the thread has exited (it cannot while the request is in flight) and every
// socket is closed, the process holds exactly the fds it held before.
TEST_F(AcceptorTest, StopWithPendingConnectionsLeaksNoFd) {
  for (AcceptMode mode : {AcceptMode::Auto, AcceptMode::OneShot}) {
    SCOPED_TRACE(mode == AcceptMode::Auto ? "auto" : "one-shot");
    const int before = count_open_fds();
    ThreadRef t = spawn_thread(*pool_, "acceptor");
    std::unique_ptr<Acceptor> acc;
    std::string err;
    AcceptorOptions o;
    o.mode = mode;
    o.max_queued = 1024;
    on(t, [&] {
      auto a = Acceptor::start(lfd_, o);
      if (a) acc = std::make_unique<Acceptor>(std::move(*a));
      else err = a.error().message;
    });
    ASSERT_TRUE(acc) << err;
    const int n = 64;
    std::vector<int> clients = burst(n, 4);
    ASSERT_EQ(clients.size(), static_cast<size_t>(n));
    // Connects keep coming while the acceptor stops.
    std::atomic<bool> more_done{false};
    std::vector<int> more;
    std::thread late([&] {
      more = burst(n, 2);
      more_done = true;
    });
    AcceptorStats s;
    on(t, [&] {
      acc->stop();
      s = acc->stats();
      acc.reset();
    });
    late.join();
    // Let the thread exit: it retires only after the request's last CQE.
    ASSERT_TRUE(t.send([] { current_thread()->exit(); }));
    ASSERT_TRUE(eventually([&] { return t->state() == ThreadState::Exited; }, 30s));
    if (mode == AcceptMode::Auto) {
      EXPECT_GT(s.accepted, 0u) << "nothing was accepted before stop";
    }
    EXPECT_EQ(s.closed_after_stop, s.accepted) << "every queued connection is closed by stop";
    for (int fd : clients) ::close(fd);
    for (int fd : more) ::close(fd);
    // Connections still in the listener's backlog: drain them (the acceptor
    // is gone, nothing else takes them).
    const int fl = ::fcntl(lfd_, F_GETFL);
    ::fcntl(lfd_, F_SETFL, fl | O_NONBLOCK);
    for (;;) {
      int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) break;
      ::close(fd);
    }
    ::fcntl(lfd_, F_SETFL, fl);
    EXPECT_EQ(count_open_fds(), before);
  }
}

// Coroutine side: a task takes n connections with co_await next(); a next()
// waiting when stop() comes is resumed with Errc::cancelled.
TEST_F(AcceptorTest, NextAwaitsEachConnectionAndStopCancelsTheWaiter) {
  ThreadRef t = spawn_thread(*pool_, "acceptor");
  const int n = 100 / kScale;
  std::vector<int> got;
  std::atomic<bool> took_all{false};
  std::string last_error;
  Errc last_code = Errc::internal;
  std::unique_ptr<Acceptor> acc;
  auto server = [&]() -> Task<void> {
    auto a = Acceptor::start(lfd_);
    if (!a) {
      last_error = a.error().message;
      co_return;
    }
    acc = std::make_unique<Acceptor>(std::move(*a));
    for (int i = 0; i < n; ++i) {
      auto fd = co_await acc->next();
      if (!fd) {
        last_error = fd.error().message;
        co_return;
      }
      got.push_back(*fd);
    }
    took_all = true;
    auto r = co_await acc->next();  // stopped while waiting
    if (!r) {
      last_code = r.error().code;
      last_error = r.error().message;
    }
  };
  auto h = spawn(t, server());
  ASSERT_TRUE(h);
  std::vector<int> clients = burst(n, 4);
  ASSERT_TRUE(eventually([&] { return took_all.load(); }, 60s)) << last_error;
  on(t, [&] { acc->stop(); });
  ASSERT_TRUE(eventually([&] { return h->done(); }, 30s));
  EXPECT_EQ(last_code, Errc::cancelled) << last_error;
  EXPECT_NE(last_error.find("stopped"), std::string::npos) << last_error;
  expect_each_once(got, n);
  on(t, [&] { acc.reset(); });
  for (int fd : clients) ::close(fd);
}

// A socket that does not listen: the multishot probe's -EINVAL makes the
// acceptor try one-shot, whose -EINVAL is the socket's error: delivered once,
// then nothing until resume().
TEST_F(AcceptorTest, ASocketErrorIsDeliveredOnceAndPauses) {
  auto a = parse_host_port("127.0.0.1:0");
  ASSERT_TRUE(a);
  auto s = stream_socket(*a);
  ASSERT_TRUE(s) << s.error().message;
  ThreadRef t = spawn_thread(*pool_, "acceptor");
  Seen seen;
  std::unique_ptr<Acceptor> acc;
  std::string err;
  on(t, [&] {
    auto r = Acceptor::start(*s, [&seen](int res) {
      std::lock_guard lk(seen.mu);
      if (res >= 0) seen.fds.push_back(res);
      else seen.errors.push_back(res);
      ++seen.count;
    });
    if (r) acc = std::make_unique<Acceptor>(std::move(*r));
    else err = r.error().message;
  });
  ASSERT_TRUE(acc) << err;
  ASSERT_TRUE(eventually([&] { return seen.count.load() >= 1; }, 30s));
  AcceptorStats st;
  on(t, [&] { st = acc->stats(); });
  // A round trip later, still one: paused, not spinning.
  on(t, [] {});
  EXPECT_EQ(seen.count.load(), 1);
  {
    std::lock_guard lk(seen.mu);
    ASSERT_EQ(seen.errors.size(), 1u);
    EXPECT_EQ(seen.errors[0], -EINVAL);
  }
  EXPECT_EQ(st.errors, 1u);
  on(t, [&] { acc->resume(); });
  ASSERT_TRUE(eventually([&] { return seen.count.load() >= 2; }, 30s));
  (void)stop_and_stats(t, acc);
  ::close(*s);
}

TEST_F(AcceptorTest, BadArgumentsAreRefusedWithAMessage) {
  auto off = Acceptor::start(lfd_);
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, Errc::wrong_thread);
  ThreadRef t = spawn_thread(*pool_, "acceptor");
  Result<Acceptor> bad_fd = make_error(Errc::internal, "not run");
  Result<Acceptor> bad_queue = make_error(Errc::internal, "not run");
  on(t, [&] {
    bad_fd = Acceptor::start(-1);
    AcceptorOptions o;
    o.max_queued = 0;
    bad_queue = Acceptor::start(lfd_, o);
  });
  ASSERT_FALSE(bad_fd);
  EXPECT_EQ(bad_fd.error().code, Errc::invalid_argument);
  EXPECT_NE(bad_fd.error().message.find("fd -1"), std::string::npos) << bad_fd.error().message;
  ASSERT_FALSE(bad_queue);
  EXPECT_NE(bad_queue.error().message.find("max_queued 0"), std::string::npos) << bad_queue.error().message;
}

}  // namespace
