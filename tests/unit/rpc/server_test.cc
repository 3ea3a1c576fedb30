// RpcServer on a real Unix socket, stepped by the test thread, with raw
// socket clients: socket setup (lock, stale socket, mode), framing over real
// writes, the parse-error close, the connection limit and answers that
// complete in a later poll or after the client left.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rpc/client.hh"
#include "rpc/server.hh"
#include "unit/rpc/rpc_test_util.hh"

namespace reactor::rpc {
namespace {

using json = nlohmann::json;
using test::RawClient;

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path = test::unique_socket_path();
    server = std::make_unique<RpcServer>(path);
    ASSERT_TRUE(server->add_method("echo", MethodSpec{MethodStates::both, [](const json* p, RpcResponder r) {
                                     r.result(p == nullptr ? nlohmann::ordered_json() : nlohmann::ordered_json(*p));
                                   }}));
    ASSERT_TRUE(server->add_method("async", MethodSpec{MethodStates::both, [this](const json*, RpcResponder r) {
                                     stash.push_back(std::move(r));
                                   }}));
    auto r = server->start();
    ASSERT_TRUE(r) << r.error().message;
  }
  void TearDown() override {
    stash.clear();
    server.reset();
    EXPECT_FALSE(exists(path));
    EXPECT_FALSE(exists(path + ".lock"));
  }

  std::string path;
  std::unique_ptr<RpcServer> server;
  std::vector<RpcResponder> stash;
};

TEST_F(ServerTest, SocketAndLockAreMode0600AndStopRemovesThem) {
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  ASSERT_EQ(::lstat((path + ".lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  server->stop();
  EXPECT_FALSE(exists(path));
  EXPECT_FALSE(exists(path + ".lock"));
  server->stop();  // idempotent
  // The same object can start again.
  ASSERT_TRUE(server->start());
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"echo","id":1})"));
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":null})"
                                  "\n");
}

TEST_F(ServerTest, PrettyPrintedRequestLikeRpcPy) {
  RawClient c(path);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.write_all(*server,
                          "{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"echo\",\n  \"id\": 1,\n"
                          "  \"params\": {\n    \"name\": \"dynamic\"\n  }\n}"));
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":{"name":"dynamic"}})"
                                  "\n");
}

TEST_F(ServerTest, RequestSplitAcrossManyWrites) {
  RawClient c(path);
  const std::string req = R"({"method":"echo","id":2,"params":["a b",{"c":[1,2.5]}]})";
  for (std::size_t i = 0; i + 1 < req.size(); ++i) {
    ASSERT_TRUE(c.write_all(*server, req.substr(i, 1)));
    ASSERT_EQ(c.drain(*server, 2), "") << "answered after byte " << i;
  }
  ASSERT_TRUE(c.write_all(*server, req.substr(req.size() - 1)));
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":2,"result":["a b",{"c":[1,2.5]}]})"
                                  "\n");
}

TEST_F(ServerTest, PipelinedRequestsAndBatchInOneWrite) {
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"echo","id":1}{"method":"echo"})"
                                   R"([{"method":"echo","id":2},{"method":"nope"}])"
                                   R"([{"method":"echo"}])"
                                   R"({"method":"echo","id":3})"));
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":null})"
                                  "\n");
  EXPECT_EQ(c.read_line(*server),
            R"([{"jsonrpc":"2.0","id":2,"result":null},{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"Method not found: 'nope'"}}])"
            "\n");
  // The all-notification batch wrote nothing: next comes id 3.
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":3,"result":null})"
                                  "\n");
}

TEST_F(ServerTest, ParseErrorIsAnsweredThenTheConnectionCloses) {
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"echo","id":1} {"method" "echo"})"));
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":null})"
                                  "\n");
  const std::string line = c.read_line(*server);
  ASSERT_FALSE(line.empty());
  const json e = json::parse(line);
  EXPECT_EQ(e["error"]["code"], -32700);
  EXPECT_TRUE(e["id"].is_null());
  EXPECT_TRUE(c.wait_eof(*server));
  EXPECT_EQ(server->connection_count(), 0U);
}

TEST_F(ServerTest, NestingDeeperThan64IsAParseError) {
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"echo","id":1,"params":)" + std::string(64, '[')));
  const json e = json::parse(c.read_line(*server));
  EXPECT_EQ(e["error"]["code"], -32700);
  EXPECT_EQ(e["error"]["message"], "Parse error: nesting deeper than 64 levels");
  EXPECT_TRUE(c.wait_eof(*server));
}

TEST_F(ServerTest, RequestOver256KiBIsAnsweredThenTheConnectionCloses) {
  RawClient c(path);
  std::string req = R"({"method":"echo","id":1,"params":[""]})";
  req.insert(req.size() - 3, std::string(300 * 1024, 'a'));
  c.write_all(*server, req);  // may fail part-way: the server closes
  EXPECT_EQ(c.read_line(*server),
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: request exceeds 256 KiB"}})"
            "\n");
  EXPECT_TRUE(c.wait_eof(*server));
}

TEST_F(ServerTest, NonAsciiIsEscaped) {
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, "{\"method\":\"echo\",\"id\":\"\xc3\xa9\",\"params\":[\"\xe2\x82\xac\"]}"));
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":"\u00E9","result":["\u20AC"]})"
                                  "\n");
}

TEST_F(ServerTest, AsyncAnswerCompletesInALaterPoll) {
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"async","id":1}{"method":"echo","id":2})"));
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":2,"result":null})"
                                  "\n");
  ASSERT_EQ(stash.size(), 1U);
  EXPECT_EQ(c.drain(*server, 3), "");
  stash[0].result("done");
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":"done"})"
                                  "\n");
}

TEST_F(ServerTest, HalfClosedClientStillGetsItsAnswers) {
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"async","id":1}{"method":"echo","id":2})"));
  c.shutdown_write();
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":2,"result":null})"
                                  "\n");
  ASSERT_EQ(stash.size(), 1U);
  stash[0].result(7);
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":7})"
                                  "\n");
  EXPECT_TRUE(c.wait_eof(*server)) << "closed once everything was answered";
}

TEST_F(ServerTest, AnswerForAClosedConnectionIsDropped) {
  {
    RawClient c(path);
    ASSERT_TRUE(c.write_all(*server, R"({"method":"async","id":1})"));
    for (int i = 0; i < 1000 && stash.empty(); ++i) server->poll(std::chrono::milliseconds(5));
    ASSERT_EQ(stash.size(), 1U);
  }  // the client closes with the request unanswered
  for (int i = 0; i < 1000 && server->connection_count() > 0; ++i)
    server->poll(std::chrono::milliseconds(5));
  EXPECT_EQ(server->connection_count(), 0U);
  stash[0].result("too late");
  server->poll(std::chrono::milliseconds(0));
  server->poll(std::chrono::milliseconds(0));
  // The server keeps serving others.
  RawClient d(path);
  ASSERT_TRUE(d.write_all(*server, R"({"method":"echo","id":5})"));
  EXPECT_EQ(d.read_line(*server), R"({"jsonrpc":"2.0","id":5,"result":null})"
                                  "\n");
}

TEST_F(ServerTest, AnswerAfterStopIsDropped) {
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"async","id":1})"));
  for (int i = 0; i < 1000 && stash.empty(); ++i) server->poll(std::chrono::milliseconds(5));
  ASSERT_EQ(stash.size(), 1U);
  server->stop();
  stash[0].result(1);
  server->poll(std::chrono::milliseconds(0));
  EXPECT_TRUE(c.wait_eof(*server));
}

TEST_F(ServerTest, SixtyFifthConnectionWaitsWhileAllSixtyFourAreServing) {
  constexpr std::size_t kClients = kMaxConnections + 1;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (std::size_t i = 0; i < kMaxConnections; ++i) {
    clients.push_back(std::make_unique<RawClient>(path));
    ASSERT_TRUE(clients.back()->ok()) << i;
    ASSERT_TRUE(clients.back()->write_all(*server, fmt::format(R"({{"method":"async","id":{}}})", i)));
  }
  for (int round = 0; round < 1000 && stash.size() < kMaxConnections; ++round)
    server->poll(std::chrono::milliseconds(5));
  ASSERT_EQ(stash.size(), kMaxConnections) << "every connection has a request being served";
  clients.push_back(std::make_unique<RawClient>(path));
  RawClient& last = *clients.back();
  ASSERT_TRUE(last.ok());  // queued in the backlog
  ASSERT_TRUE(last.write_all(*server, R"({"method":"echo","id":64})"));
  EXPECT_EQ(last.drain(*server, 20), "") << "no connection may be closed for it: all are serving";
  EXPECT_EQ(server->connection_count(), kMaxConnections);
  EXPECT_EQ(server->evicted_count(), 0U);

  stash[0].result(0);
  EXPECT_EQ(clients[0]->read_line(*server), R"({"jsonrpc":"2.0","id":0,"result":0})"
                                            "\n");
  clients[0]->close();
  EXPECT_EQ(last.read_line(*server), R"({"jsonrpc":"2.0","id":64,"result":null})"
                                     "\n");
  EXPECT_EQ(server->connection_count(), kMaxConnections);
  EXPECT_EQ(clients.size(), kClients);
}

// Issue: 64 silent connections locked every other client out. Now the one
// idle longest makes room, and the newcomer is served at once.
TEST_F(ServerTest, FullServerClosesTheIdlestConnectionForANewClient) {
  std::vector<std::unique_ptr<RawClient>> silent;
  for (std::size_t i = 0; i < kMaxConnections; ++i) {
    silent.push_back(std::make_unique<RawClient>(path));
    ASSERT_TRUE(silent.back()->ok()) << i;
    for (int round = 0; round < 1000 && server->connection_count() <= i; ++round)
      server->poll(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(server->connection_count(), kMaxConnections);
  RawClient newcomer(path);
  ASSERT_TRUE(newcomer.write_all(*server, R"({"method":"echo","id":7})"));
  EXPECT_EQ(newcomer.read_line(*server), R"({"jsonrpc":"2.0","id":7,"result":null})"
                                         "\n");
  EXPECT_EQ(server->evicted_count(), 1U);
  EXPECT_EQ(server->connection_count(), kMaxConnections);
  EXPECT_TRUE(silent.front()->wait_eof(*server, 10)) << "the oldest idle connection was closed";
  for (std::size_t i = 1; i < kMaxConnections; ++i) {
    silent[i]->read_available();
    EXPECT_FALSE(silent[i]->eof()) << "only one connection is closed, not " << i;
  }
}

TEST_F(ServerTest, IdleConnectionIsClosedAfterTheIdleTimeout) {
  server->set_timeouts(ConnectionTimeouts{std::chrono::milliseconds(50), std::chrono::hours(1)});
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"echo","id":1})"));
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":null})"
                                  "\n");
  EXPECT_TRUE(c.wait_eof(*server));
  EXPECT_EQ(server->idle_closed_count(), 1U);
  EXPECT_EQ(server->connection_count(), 0U);
}

TEST_F(ServerTest, ConnectionServingARequestIsNeverIdle) {
  server->set_timeouts(ConnectionTimeouts{std::chrono::milliseconds(1), std::chrono::milliseconds(1)});
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"async","id":1})"));
  for (int i = 0; i < 1000 && stash.empty(); ++i) server->poll(std::chrono::milliseconds(1));
  ASSERT_EQ(stash.size(), 1U);
  EXPECT_EQ(c.drain(*server, 50), "");
  EXPECT_FALSE(c.eof()) << "a request in flight keeps the connection open";
  stash[0].result(3);
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":3})"
                                  "\n");
  EXPECT_EQ(server->idle_closed_count(), 0U);
}

TEST_F(ServerTest, IncompleteRequestIsAnsweredAndClosedAfterTheReadTimeout) {
  server->set_timeouts(ConnectionTimeouts{std::chrono::hours(1), std::chrono::milliseconds(100)});
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"echo","id":1} {"method":"ec)"));
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":null})"
                                  "\n");
  const json e = json::parse(c.read_line(*server));
  EXPECT_EQ(e["error"]["code"], -32700);
  EXPECT_EQ(e["error"]["message"], "Parse error: request not completed within 0.1 s");
  EXPECT_TRUE(c.wait_eof(*server));
  EXPECT_EQ(server->read_timeout_count(), 1U);
}

TEST_F(ServerTest, IncompleteRequestThenEofIsAParseError) {
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"echo","id":1}{"method":"echo","id":)"));
  c.shutdown_write();
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":null})"
                                  "\n");
  const json e = json::parse(c.read_line(*server));
  EXPECT_EQ(e["id"], nullptr);
  EXPECT_EQ(e["error"]["code"], -32700);
  EXPECT_EQ(e["error"]["message"], "Parse error: request ended before it was complete");
  EXPECT_TRUE(c.wait_eof(*server));
}

TEST_F(ServerTest, SlowReaderGetsEverythingAndNeverBlocksTheServer) {
  // 40 answers of 100 KiB each: more than the socket buffers and more than the
  // 1 MiB at which the session stops reading. The client writes without
  // reading first; the server must keep polling (partial writes, EAGAIN) and
  // resume reading once the client drains its answers.
  RawClient c(path);
  const std::string blob(100 * 1024, 'b');
  std::string requests;
  constexpr int kRequests = 40;
  for (int i = 0; i < kRequests; ++i)
    requests += fmt::format(R"({{"method":"echo","id":{},"params":["{}"]}})", i, blob);
  std::string_view to_send = requests;
  for (int i = 0; i < 200 && !to_send.empty(); ++i) {  // write only: the client does not read
    const ssize_t n = ::send(c.fd(), to_send.data(), to_send.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) to_send.remove_prefix(static_cast<std::size_t>(n));
    server->poll(std::chrono::milliseconds(1));
  }
  EXPECT_FALSE(to_send.empty()) << "the server stopped reading a client that does not read";
  std::string got;
  int lines = 0;
  for (int i = 0; i < 20000 && lines < kRequests; ++i) {
    if (!to_send.empty()) {
      const ssize_t n = ::send(c.fd(), to_send.data(), to_send.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) to_send.remove_prefix(static_cast<std::size_t>(n));
    }
    server->poll(std::chrono::milliseconds(1));
    got += c.drain(*server, 0);
    lines = static_cast<int>(std::count(got.begin(), got.end(), '\n'));
  }
  ASSERT_EQ(lines, kRequests);
  std::size_t pos = 0;
  for (int i = 0; i < kRequests; ++i) {
    const std::size_t nl = got.find('\n', pos);
    EXPECT_EQ(got.substr(pos, nl - pos),
              fmt::format(R"({{"jsonrpc":"2.0","id":{},"result":["{}"]}})", i, blob));
    pos = nl + 1;
  }
}

TEST_F(ServerTest, WakeAndAnswersInterruptAWaitingPoll) {
  // Each poll below would wait an hour if nothing woke it: a broken wake
  // shows as a test timeout.
  server->wake();
  server->poll(std::chrono::hours(1));
  RawClient c(path);
  ASSERT_TRUE(c.write_all(*server, R"({"method":"async","id":1})"));
  for (int i = 0; i < 1000 && stash.empty(); ++i) server->poll(std::chrono::milliseconds(5));
  ASSERT_EQ(stash.size(), 1U);
  stash[0].result(1);  // writes the server's eventfd
  server->poll(std::chrono::hours(1));
  EXPECT_EQ(c.read_line(*server), R"({"jsonrpc":"2.0","id":1,"result":1})"
                                  "\n");
}

TEST_F(ServerTest, HandlerMayStopTheServer) {
  ASSERT_TRUE(server->add_method("kill", MethodSpec{MethodStates::both, [this](const json*, RpcResponder r) {
                                   r.result(true);
                                   server->stop();
                                 }}));
  RawClient a(path);
  RawClient b(path);
  ASSERT_TRUE(b.write_all(*server, R"({"method":"echo","id":1})"));
  ASSERT_TRUE(a.write_all(*server, R"({"method":"kill","id":1}{"method":"echo","id":2})"));
  for (int i = 0; i < 1000 && server->running(); ++i) server->poll(std::chrono::milliseconds(5));
  EXPECT_FALSE(server->running());
  EXPECT_TRUE(a.wait_eof(*server));
  EXPECT_TRUE(b.wait_eof(*server));
  EXPECT_FALSE(exists(path));
}

TEST(ServerSetup, SecondServerOnTheSamePathFailsWithoutDisturbingTheFirst) {
  const std::string path = test::unique_socket_path();
  RpcServer first(path);
  ASSERT_TRUE(first.start());
  RpcServer second(path);
  const auto r = second.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exists);
  EXPECT_EQ(r.error().message,
            fmt::format("RPC socket path {} in use (lock {}.lock held by another process)", path, path));
  EXPECT_TRUE(exists(path));
  EXPECT_TRUE(exists(path + ".lock"));
  RawClient c(path);
  ASSERT_TRUE(c.write_all(first, R"({"method":"rpc_get_methods","id":1})"));
  EXPECT_EQ(c.read_line(first), R"({"jsonrpc":"2.0","id":1,"result":["rpc_get_methods"]})"
                                "\n");
}

TEST(ServerSetup, StaleSocketIsReplaced) {
  const std::string path = test::unique_socket_path();
  {
    // A socket file left behind by a process that died without cleaning up.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  ASSERT_TRUE(exists(path));
  RpcServer server(path);
  const auto r = server.start();
  ASSERT_TRUE(r) << r.error().message;
  RawClient c(path);
  ASSERT_TRUE(c.write_all(server, R"({"method":"rpc_get_methods","id":1})"));
  EXPECT_FALSE(c.read_line(server).empty());
}

TEST(ServerSetup, NonSocketFileIsNotReplaced) {
  const std::string path = test::unique_socket_path();
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  RpcServer server(path);
  const auto r = server.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exists);
  EXPECT_NE(r.error().message.find("is not a socket"), std::string::npos) << r.error().message;
  EXPECT_TRUE(exists(path));
  EXPECT_FALSE(exists(path + ".lock"));
  ::unlink(path.c_str());
}

// Binds a plain socket at `path` (no listen: connecting to it is refused,
// like a socket left by a process that died). Returns the fd or -1.
int bind_at(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

ino_t inode_of(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST(ServerSetup, ModeIsSetWithoutFollowingASymlinkSwappedInAfterBind) {
  // Someone who can write the socket's directory replaces the fresh socket by
  // a symlink to a file of theirs choosing between bind and the mode change.
  const std::string path = test::unique_socket_path();
  const std::string victim = path + ".victim";
  const int vfd = ::open(victim.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(vfd, 0);
  ASSERT_EQ(::fchmod(vfd, 0644), 0);
  ::close(vfd);
  RpcServer server(path);
  server.set_after_bind_hook_for_testing([&] {
    ::unlink(path.c_str());
    ASSERT_EQ(::symlink(victim.c_str(), path.c_str()), 0);
  });
  const auto r = server.start();
  struct stat st {};
  ASSERT_EQ(::stat(victim.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644U) << "the symlink's target was chmodded";
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exists);
  EXPECT_EQ(r.error().message,
            fmt::format("RPC socket path {} was replaced right after bind (not the socket we bound); "
                        "refusing it",
                        path));
  EXPECT_FALSE(exists(path + ".lock"));
  ::unlink(path.c_str());
  ::unlink(victim.c_str());
}

TEST(ServerSetup, SocketIsMode0600EvenUnderAPermissiveUmask) {
  const std::string path = test::unique_socket_path();
  const mode_t old = ::umask(0);
  RpcServer server(path);
  const auto r = server.start();
  ::umask(old);
  ASSERT_TRUE(r) << r.error().message;
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  ASSERT_EQ(::lstat((path + ".lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
}

TEST(ServerSetup, DanglingSymlinkLockIsRefusedAndNothingIsCreatedAtItsTarget) {
  const std::string path = test::unique_socket_path();
  const std::string target = path + ".target";
  ASSERT_EQ(::symlink(target.c_str(), (path + ".lock").c_str()), 0);
  RpcServer server(path);
  const auto r = server.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exists);
  EXPECT_EQ(r.error().message,
            fmt::format("RPC lock file {}.lock is a symbolic link; refusing to follow it", path));
  EXPECT_FALSE(exists(target));
  EXPECT_FALSE(exists(path));
  EXPECT_TRUE(exists(path + ".lock"));  // not ours to remove
  ::unlink((path + ".lock").c_str());
  ::unlink(target.c_str());
}

TEST(ServerSetup, NonRegularLockIsRefused) {
  const std::string path = test::unique_socket_path();
  ASSERT_EQ(::mkfifo((path + ".lock").c_str(), 0600), 0);
  RpcServer server(path);
  const auto r = server.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exists);
  EXPECT_EQ(r.error().message, fmt::format("RPC lock file {}.lock is not a regular file; refusing it", path));
  EXPECT_FALSE(exists(path));
  EXPECT_TRUE(exists(path + ".lock"));
  ::unlink((path + ".lock").c_str());
}

TEST(ServerSetup, LockOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown a file to uid 65534";
  const std::string path = test::unique_socket_path();
  const int fd = ::open((path + ".lock").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fchown(fd, 65534, 65534), 0);
  ::close(fd);
  RpcServer server(path);
  const auto r = server.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exists);
  EXPECT_EQ(r.error().message,
            fmt::format("RPC lock file {}.lock is owned by uid 65534, not by us (uid 0); refusing it", path));
  EXPECT_FALSE(exists(path));
  EXPECT_TRUE(exists(path + ".lock"));
  ::unlink((path + ".lock").c_str());
}

TEST(ServerSetup, LiveListenerIsInUseEvenWhenItsLockFileWasDeleted) {
  const std::string path = test::unique_socket_path();
  RpcServer first(path);
  ASSERT_TRUE(first.start());
  const ino_t ino = inode_of(path);
  ASSERT_EQ(::unlink((path + ".lock").c_str()), 0);
  RpcServer second(path);
  const auto r = second.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exists);
  EXPECT_EQ(r.error().message, fmt::format("RPC socket path {} in use (a server is listening on it)", path));
  EXPECT_EQ(inode_of(path), ino) << "the live socket was replaced";
  EXPECT_FALSE(exists(path + ".lock"));  // second removed the lock it had created
  RawClient c(path);
  ASSERT_TRUE(c.write_all(first, R"({"method":"rpc_get_methods","id":1})"));
  EXPECT_EQ(c.read_line(first), R"({"jsonrpc":"2.0","id":1,"result":["rpc_get_methods"]})"
                                "\n");
}

TEST(ServerSetup, StopLeavesAReplacedSocketAndLockAlone) {
  const std::string path = test::unique_socket_path();
  RpcServer server(path);
  ASSERT_TRUE(server.start());
  // Someone removed both and put their own in place (a second daemon, say).
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::unlink((path + ".lock").c_str()), 0);
  const int other = bind_at(path);
  ASSERT_GE(other, 0);
  const int lfd = ::open((path + ".lock").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(lfd, 0);
  ::close(lfd);
  const ino_t sock_ino = inode_of(path);
  const ino_t lock_ino = inode_of(path + ".lock");
  server.stop();
  EXPECT_EQ(inode_of(path), sock_ino);
  EXPECT_EQ(inode_of(path + ".lock"), lock_ino);
  ::close(other);
  ::unlink(path.c_str());
  ::unlink((path + ".lock").c_str());
}

// A child that becomes uid/gid 65534 ('nobody') and then connects (SO_PEERCRED
// records the credentials at connect time), sends a request and waits up to
// 5 s for a reply. Exit 0: got a reply, 1: the server closed without one,
// 2: could not drop privileges, 3: could not connect. The parent steps the
// server until the child is done.
int peer_of_uid_65534_exchanges(RpcServer& server, const std::string& path) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) ::_exit(3);
    const std::string req = R"({"jsonrpc":"2.0","method":"rpc_get_methods","id":1})";
    [[maybe_unused]] const ssize_t w = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) ::_exit(4);
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ::_exit(n > 0 ? 0 : 1);
  }
  int status = 0;
  for (int i = 0; i < 2000; ++i) {
    server.poll(std::chrono::milliseconds(5));
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

TEST(ServerPeers, ClientOfAnotherUidIsClosedWithoutAReply) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as uid 65534";
  const std::string path = test::unique_socket_path();
  RpcServer server(path);
  ASSERT_TRUE(server.start());
  // Widen the mode so that the file permission does not stop the client
  // first: the peer check is what must refuse it.
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  EXPECT_EQ(peer_of_uid_65534_exchanges(server, path), 1)
      << "0: answered, 2: no privilege drop, 3: no connect, 4/-1: no close";
  EXPECT_EQ(server.refused_count(), 1U);
  EXPECT_EQ(server.connection_count(), 0U);
  // Its own uid (root here) is still served.
  RawClient c(path);
  ASSERT_TRUE(c.write_all(server, R"({"method":"rpc_get_methods","id":1})"));
  EXPECT_FALSE(c.read_line(server).empty());
}

TEST(ServerPeers, AllowedUidAndGidAreServed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as uid 65534";
  for (const bool by_gid : {false, true}) {
    const std::string path = test::unique_socket_path();
    RpcServer server(path);
    if (by_gid) server.allow_gid(65534);
    else server.allow_uid(65534);
    ASSERT_TRUE(server.start());
    ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
    EXPECT_EQ(peer_of_uid_65534_exchanges(server, path), 0) << (by_gid ? "by gid" : "by uid");
    EXPECT_EQ(server.refused_count(), 0U);
  }
}

TEST(ServerSetup, DirectoryWritableByOthersWithoutStickyBitIsWarnedAbout) {
  char tmpl[] = "/tmp/rr-wd-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/s.sock";
  for (const mode_t mode : {mode_t{0777}, mode_t{01777}, mode_t{0700}}) {
    ASSERT_EQ(::chmod(dir.c_str(), mode), 0);
    RpcServer server(path);
    ::testing::internal::CaptureStderr();
    const auto r = server.start();
    std::fflush(stderr);
    const std::string err = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(r) << r.error().message;
    const bool warned = err.find(fmt::format("rpc: directory {} of RPC socket {} is writable by others without "
                                             "the sticky bit",
                                             dir, path)) != std::string::npos;
    EXPECT_EQ(warned, mode == 0777) << std::oct << mode << ": " << err;
  }
  ::rmdir(dir.c_str());
}

TEST(ServerSetup, PathLimits) {
  RpcServer too_long("/tmp/" + std::string(103, 'x'));  // 108 bytes
  const auto r = too_long.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find("at most 107 bytes"), std::string::npos) << r.error().message;
  RpcServer empty("");
  EXPECT_EQ(empty.start().error().code, Errc::invalid_argument);
  RpcServer no_dir("/tmp/rr-no-such-dir/x.sock");
  const auto nd = no_dir.start();
  ASSERT_FALSE(nd);
  EXPECT_EQ(nd.error().code, Errc::io);
}

TEST(ServerSetup, PollBeforeStartReturnsAndWakeIsSeen) {
  RpcServer server(test::unique_socket_path());
  server.poll(std::chrono::milliseconds(0));
  server.wake();
  pollfd p{server.wakeup_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1);
  server.poll(std::chrono::hours(1));  // returns at once: woken
}

TEST(ClientErrors, MissingSocket) {
  RpcClient c;
  const auto r = c.connect("/tmp/rr-missing.sock", std::chrono::milliseconds(100));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_EQ(r.error().message,
            "cannot connect to /tmp/rr-missing.sock: no such file (is reactord running?)");
  const auto call = c.call("x");
  ASSERT_FALSE(call);
  EXPECT_FALSE(call.error().rpc_code.has_value());
}

TEST(ClientErrors, PermissionDenied) {
  const std::string path = test::unique_socket_path();
  RpcServer server(path);
  ASSERT_TRUE(server.start());
  if (::geteuid() != 0) {
    // As the owner, take our own write permission away.
    ASSERT_EQ(::chmod(path.c_str(), 0), 0);
    RpcClient c;
    const auto r = c.connect(path, std::chrono::milliseconds(100));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("permission denied"), std::string::npos) << r.error().message;
    return;
  }
  // As root (who bypasses file modes), connect from a child running as nobody.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    RpcClient c;
    const auto r = c.connect(path, std::chrono::milliseconds(100));
    const bool ok = !r && r.error().message ==
                              "cannot connect to " + path +
                                  ": permission denied (the socket is mode 0600: run as its owner)";
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "exit 1: wrong error, exit 2: could not drop privileges";
}

}  // namespace
}  // namespace reactor::rpc
