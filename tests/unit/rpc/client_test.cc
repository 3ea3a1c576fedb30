// RpcClient against a real RpcServer stepped by its own thread (as the
// runtime's control thread does), plus answers given from other threads.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "rpc/client.hh"
#include "rpc/server.hh"
#include "unit/rpc/rpc_test_util.hh"

namespace reactor::rpc {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path = test::unique_socket_path();
    server = std::make_unique<RpcServer>(path);
    add("echo", [](const json* p, RpcResponder r) {
      r.result(p == nullptr ? nlohmann::ordered_json() : nlohmann::ordered_json(*p));
    });
    add("bad_params", [](const json*, RpcResponder r) {
      r.error(error_code::invalid_params, "invalid parameters: 'x' must be an integer 0-255, got \"y\"");
    });
    // Answered from a worker thread, as a method that visits reactors would.
    add("from_thread", [this](const json* p, RpcResponder r) {
      const int v = p->at(0).get<int>();
      std::lock_guard lk(mu);
      workers.emplace_back([v, r = std::move(r)]() mutable { r.result(v * 2); });
    });
    add("never", [this](const json*, RpcResponder r) {
      std::lock_guard lk(mu);
      held.push_back(std::move(r));
    });
    auto r = server->start();
    ASSERT_TRUE(r) << r.error().message;
    control = std::thread([this] {
      while (!stop.load()) server->poll(50ms);
    });
  }
  void TearDown() override {
    stop.store(true);
    server->wake();
    control.join();
    std::lock_guard lk(mu);
    for (auto& t : workers) t.join();
    held.clear();
    server.reset();
  }
  void add(std::string name, MethodHandler h) {
    ASSERT_TRUE(server->add_method(std::move(name), MethodSpec{MethodStates::both, std::move(h)}));
  }
  RpcClient connected() {
    RpcClient c;
    auto r = c.connect(path, 5s);
    EXPECT_TRUE(r) << r.error().message;
    return c;
  }

  std::string path;
  std::unique_ptr<RpcServer> server;
  std::thread control;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::thread> workers;
  std::vector<RpcResponder> held;
};

TEST_F(ClientTest, CallsAndResults) {
  RpcClient c = connected();
  auto r = c.call("echo", json{{"a", 1}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, json::parse(R"({"a":1})"));
  auto none = c.call("echo");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->is_null());
  auto methods = c.call("rpc_get_methods", json{{"current", false}, {"include_aliases", false}});
  ASSERT_TRUE(methods);
  EXPECT_EQ(methods->size(), 5U);
}

TEST_F(ClientTest, ServerErrorsCarryTheRpcCode) {
  RpcClient c = connected();
  auto r = c.call("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rpc_code, -32601);
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_EQ(r.error().message, "Method not found: 'nope'");
  auto p = c.call("bad_params", json::object());
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().rpc_code, -32602);
  EXPECT_EQ(p.error().code, Errc::invalid_argument);
  EXPECT_TRUE(c.connected()) << "an error answer leaves the connection usable";
  EXPECT_TRUE(c.call("echo"));
}

TEST_F(ClientTest, AnswerFromAnotherThread) {
  RpcClient c = connected();
  for (int i = 0; i < 20; ++i) {
    auto r = c.call("from_thread", json::array({i}));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, 2 * i);
  }
}

TEST_F(ClientTest, TimeoutClosesTheConnection) {
  RpcClient c = connected();
  auto r = c.call("never", std::nullopt, 100ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::timeout);
  EXPECT_FALSE(r.error().rpc_code.has_value());
  EXPECT_FALSE(c.connected());
}

TEST_F(ClientTest, ManyClientsInParallel) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RpcClient c;
      if (!c.connect(path, 5s)) return;
      for (int i = 0; i < kCalls; ++i) {
        auto r = c.call("echo", json::array({t, i}));
        if (r && *r == json::array({t, i})) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kCalls);
}

TEST_F(ClientTest, ServerStoppingMidCallIsATransportError) {
  RpcClient c = connected();
  std::thread closer([this] {
    // Once the call is being served, stop stepping the server and stop it.
    for (;;) {
      {
        std::lock_guard lk(mu);
        if (!held.empty()) break;
      }
      std::this_thread::yield();
    }
    stop.store(true);
    server->wake();
    control.join();
    server->stop();
  });
  auto r = c.call("never", std::nullopt, 30s);
  closer.join();
  control = std::thread([] {});  // TearDown joins it
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::io) << r.error().message;
  EXPECT_FALSE(r.error().rpc_code.has_value());
}


// A listener whose credentials are uid/gid 65534: the socket is bound here,
// then a child drops to 65534 and calls listen() (a client's SO_PEERCRED
// names who called listen) and waits to be killed; the backlog accepts
// connections without accept().
class ForeignListener {
 public:
  explicit ForeignListener(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return;
    int ready[2];
    if (::pipe(ready) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
      if (::listen(fd_, 16) != 0) ::_exit(3);
      [[maybe_unused]] const ssize_t w = ::write(ready[1], "x", 1);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char c = 0;
    ok_ = ::read(ready[0], &c, 1) == 1;
    ::close(ready[0]);
  }
  ~ForeignListener() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool ok() const { return ok_; }

 private:
  std::string path_;
  int fd_ = -1;
  pid_t pid_ = -1;
  bool ok_ = false;
};

TEST(ClientPeer, ServerOfAnotherUidIsRefusedUnlessTrusted) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as uid 65534";
  const std::string path = test::unique_socket_path();
  ForeignListener server(path);
  ASSERT_TRUE(server.ok());
  RpcClient c;
  const auto r = c.connect(path, 1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::io);
  EXPECT_EQ(r.error().message,
            fmt::format("refusing the server at {}: it runs as uid 65534, not as us (uid 0) or root "
                        "(pass --trust-uid 65534 if you trust it)",
                        path));
  EXPECT_FALSE(c.connected());
  RpcClient trusting;
  trusting.trust_uid(65534);
  const auto t = trusting.connect(path, 1s);
  EXPECT_TRUE(t) << t.error().message;
}

}  // namespace
}  // namespace reactor::rpc
