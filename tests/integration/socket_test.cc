// Sockets on io_uring from coroutines on real reactors: an echo server whose
// thread the test moves between reactors as fast as moves land, with clients
// nobody here wrote in the loop (plain blocking POSIX sockets on OS threads),
// over Unix and TCP (IPv4, IPv6 where the host has it). Every byte must come
// back in order; a peer reset is an ordinary result; connect from a task;
// address errors name the problem.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <reactor/io.hh>
#include <reactor/net.hh>
#include <reactor/pool.hh>
#include <reactor/task.hh>

#include "support/real_pool.hh"
#include "support/wait.hh"

using namespace reactor;
using namespace std::chrono_literals;

namespace {

using reactor::test::make_pool;
using reactor::test::spawn_thread;

std::string temp_socket_path() {
  const char* base = std::getenv("TMPDIR");
  std::string dir = std::string(base && *base ? base : "/tmp") + "/socket_test.XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return {};
  return dir + "/echo.sock";
}

struct EchoStats {
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> off_thread{0};
  std::atomic<int> closed{0};
};

Task<void> echo_connection(IoChannel& ch, int fd, EchoStats& st) {
  LwThread* self = current_thread();
  std::vector<std::byte> buf(64 * 1024);
  for (;;) {
    auto n = co_await co_recv(ch, fd, buf.data(), buf.size());
    if (current_thread() != self) ++st.off_thread;
    if (!n) {
      ++st.errors;
      break;
    }
    if (*n == 0) break;
    auto s = co_await co_send_all(ch, fd, buf.data(), *n);
    if (!s) {
      ++st.errors;
      break;
    }
    st.bytes += *n;
  }
  (void)co_await co_close(ch, fd);
  ++st.closed;
}

// Accepts `conns` connections and echoes each in its own task.
Task<void> echo_server(int listen_fd, int conns, EchoStats& st) {
  auto ch = IoChannel::create({.queue_depth = 64});
  if (!ch) throw std::runtime_error(ch.error().message);
  std::vector<Task<void>> sessions;
  for (int i = 0; i < conns; ++i) {
    auto fd = co_await co_accept(*ch, listen_fd);
    if (!fd) throw std::runtime_error(fd.error().message);
    sessions.push_back(echo_connection(*ch, static_cast<int>(*fd), st));
  }
  co_await when_all(std::move(sessions));
}

// A blocking client: a writer thread sends `total` random bytes in random
// chunks while this thread reads the echo back and compares.
bool run_client(const SocketAddress& addr, size_t total, unsigned seed) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, addr.get(), addr.len) != 0) return false;
  std::vector<unsigned char> data(total);
  std::mt19937 rng(seed);
  for (auto& b : data) b = static_cast<unsigned char>(rng());
  std::thread writer([&] {
    std::mt19937 r2(seed + 1);
    size_t off = 0;
    while (off < total) {
      size_t n = std::min<size_t>(total - off, 1 + r2() % 20000);
      ssize_t w = ::send(fd, data.data() + off, n, MSG_NOSIGNAL);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    ::shutdown(fd, SHUT_WR);
  });
  std::vector<unsigned char> back;
  back.reserve(total);
  unsigned char buf[32768];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    back.insert(back.end(), buf, buf + n);
  }
  writer.join();
  ::close(fd);
  return back == data;
}

// Real reactors and one listening socket: listen() binds it (TCP loopback
// with an ephemeral port by default, or a Unix socket in a fresh temporary
// directory) and records the address it got; TearDown closes it and removes
// the Unix socket and its directory.
class SocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = make_pool();
    ASSERT_TRUE(pool_);
  }
  void TearDown() override {
    if (lfd_ >= 0) ::close(lfd_);
    if (!unix_path_.empty()) {
      ::unlink(unix_path_.c_str());
      ::rmdir(unix_path_.substr(0, unix_path_.rfind('/')).c_str());
    }
  }
  // Call as ASSERT_NO_FATAL_FAILURE(listen(...)).
  void listen(const SocketAddress& where) {
    auto fd = listen_on(where);
    ASSERT_TRUE(fd) << fd.error().message;
    lfd_ = *fd;
    auto b = local_address(lfd_);
    ASSERT_TRUE(b) << b.error().message;
    bound_ = *b;
  }
  void listen_tcp(const std::string& host_port = "127.0.0.1:0") {
    auto a = parse_host_port(host_port);
    ASSERT_TRUE(a) << a.error().message;
    listen(*a);
  }
  void listen_unix() {
    unix_path_ = temp_socket_path();
    ASSERT_FALSE(unix_path_.empty());
    auto a = unix_address(unix_path_);
    ASSERT_TRUE(a) << a.error().message;
    listen(*a);
  }

  // An echo server on the listening socket whose thread the test moves
  // between reactors as fast as the moves land, with three blocking clients.
  void echo_under_moves();

  std::unique_ptr<ReactorPool> pool_;
  int lfd_ = -1;
  SocketAddress bound_;
  std::string unix_path_;
};

void SocketTest::echo_under_moves() {
  ThreadRef t = spawn_thread(*pool_, "echo");
  EchoStats st;
  constexpr int kConns = 3;
  auto h = spawn(t, echo_server(lfd_, kConns, st));
  ASSERT_TRUE(h);
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kConns; ++i)
    clients.emplace_back([&, i] {
      if (run_client(bound_, 2 << 20, 1234u + static_cast<unsigned>(i))) ++good;
    });
  std::vector<CoreId> cores = pool_->cores().cores();
  size_t moves = 0;
  while (!h->done()) {
    auto ticket = pool_->move(t.id(), cores[moves % cores.size()]);
    if (!ticket) break;
    MoveTicket tk = *ticket;
    pool_->wait_for([&] { return tk->done(); }, 5s);
    ++moves;
    std::this_thread::sleep_for(200us);
  }
  for (auto& c : clients) c.join();
  ASSERT_TRUE(reactor::test::eventually([&] { return h->done(); }, 60s));
  EXPECT_FALSE(h->failed());
  EXPECT_EQ(good.load(), kConns);
  EXPECT_EQ(st.bytes.load(), uint64_t{kConns} * (2 << 20));
  EXPECT_EQ(st.errors.load(), 0u);
  EXPECT_EQ(st.off_thread.load(), 0u);
  EXPECT_EQ(st.closed.load(), kConns);
  if (cores.size() > 1) {
    EXPECT_GT(moves, 2u) << "the thread was not moved mid-stream";
  }
}

TEST_F(SocketTest, UnixEchoSurvivesMovesMidStream) {
  ASSERT_NO_FATAL_FAILURE(listen_unix());
  echo_under_moves();
}

TEST_F(SocketTest, TcpEchoSurvivesMovesMidStream) {
  ASSERT_NO_FATAL_FAILURE(listen_tcp());
  echo_under_moves();
}

TEST_F(SocketTest, Tcp6EchoWhereTheHostHasIpv6) {
  auto a = parse_host_port("[::1]:0");
  ASSERT_TRUE(a) << a.error().message;
  auto probe = listen_on(*a);
  if (!probe) GTEST_SKIP() << "no IPv6 loopback here: " << probe.error().message;
  ::close(*probe);
  ASSERT_NO_FATAL_FAILURE(listen(*a));
  echo_under_moves();
}

TEST_F(SocketTest, APeerResetIsAnOrdinaryResult) {
  ASSERT_NO_FATAL_FAILURE(listen_tcp());
  ThreadRef t = spawn_thread(*pool_, "reset");
  std::atomic<bool> accepted{false}, peer_gone{false};
  std::atomic<int> code{-1};
  std::string message;
  auto server = [&]() -> Task<void> {
    auto ch = IoChannel::create({});
    if (!ch) co_return;
    auto fd = co_await co_accept(*ch, lfd_);
    if (!fd) co_return;
    accepted = true;
    while (!peer_gone) (void)co_await sleep_for(1ms);
    std::vector<std::byte> buf(65536);
    // Writing into a reset connection: EPIPE or ECONNRESET, never SIGPIPE.
    for (int i = 0; i < 100; ++i) {
      auto r = co_await co_send(*ch, static_cast<int>(*fd), buf.data(), buf.size());
      if (!r) {
        code = static_cast<int>(r.error().code);
        message = r.error().message;
        break;
      }
    }
    (void)co_await co_close(*ch, static_cast<int>(*fd));
  };
  auto h = spawn(t, server());
  ASSERT_TRUE(h);
  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(c, bound_.get(), bound_.len), 0);
  ASSERT_TRUE(reactor::test::eventually([&] { return accepted.load(); }));
  linger lg{1, 0};  // close with RST
  ::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(c);
  peer_gone = true;
  ASSERT_TRUE(reactor::test::eventually([&] { return h->done(); }));
  EXPECT_EQ(code.load(), static_cast<int>(Errc::io));
  EXPECT_TRUE(message.find("Connection reset") != std::string::npos || message.find("Broken pipe") != std::string::npos)
      << message;
}

TEST_F(SocketTest, ConnectSendAllAndRecvExactFromATask) {
  ASSERT_NO_FATAL_FAILURE(listen_tcp());
  // The peer: a plain thread that answers each 1 MiB with its bytes reversed.
  std::thread peer([&] {
    int c = ::accept(lfd_, nullptr, nullptr);
    if (c < 0) return;
    std::vector<unsigned char> buf(1 << 20);
    size_t got = 0;
    while (got < buf.size()) {
      ssize_t n = ::recv(c, buf.data() + got, buf.size() - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    std::reverse(buf.begin(), buf.end());
    size_t off = 0;
    while (off < buf.size()) {
      ssize_t n = ::send(c, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(c);
  });
  ThreadRef t = spawn_thread(*pool_, "client");
  std::atomic<bool> ok{false};
  std::string err;
  auto client = [&]() -> Task<void> {
    auto ch = IoChannel::create({});
    if (!ch) co_return;
    auto fd = stream_socket(bound_);
    if (!fd) co_return;
    auto c = co_await co_connect(*ch, *fd, bound_.get(), bound_.len);
    std::vector<unsigned char> out(1 << 20), in(1 << 20);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(i * 31 + 7);
    auto s = c ? co_await co_send_all(*ch, *fd, out.data(), out.size()) : Result<void>(tl::unexpected(c.error()));
    auto r = s ? co_await co_recv_exact(*ch, *fd, in.data(), in.size()) : s;
    std::reverse(in.begin(), in.end());
    ok = r.has_value() && in == out;
    if (!r) err = r.error().message;
    // One more byte: the peer closed, which recv_exact names.
    unsigned char extra;
    auto e = co_await co_recv_exact(*ch, *fd, &extra, 1);
    if (e || e.error().message.find("connection closed after 0 of 1 bytes") == std::string::npos) ok = false;
    (void)co_await co_close(*ch, *fd);
  };
  auto h = spawn(t, client());
  ASSERT_TRUE(h);
  ASSERT_TRUE(reactor::test::eventually([&] { return h->done(); }));
  peer.join();
  EXPECT_TRUE(ok.load()) << err;
}

TEST_F(SocketTest, AddressErrorsNameTheProblem) {
  auto no_port = parse_host_port("localhost");
  ASSERT_FALSE(no_port);
  EXPECT_NE(no_port.error().message.find("no port"), std::string::npos);
  auto big = parse_host_port("127.0.0.1:70000");
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("0-65535"), std::string::npos);
  auto host = parse_host_port("no-such-host.invalid:80");
  ASSERT_FALSE(host);
  EXPECT_NE(host.error().message.find("no-such-host.invalid"), std::string::npos);
  auto longp = unix_address(std::string(200, 'x'));
  ASSERT_FALSE(longp);
  EXPECT_NE(longp.error().message.find("at most"), std::string::npos);
  // A port in use names the address.
  ASSERT_NO_FATAL_FAILURE(listen_tcp());
  auto l2 = listen_on(bound_);
  ASSERT_FALSE(l2);
  EXPECT_EQ(l2.error().code, Errc::exists);
  EXPECT_NE(l2.error().message.find(bound_.to_string()), std::string::npos);
}

}  // namespace
