// The default socket path (root vs. XDG_RUNTIME_DIR) and the private
// directory check reactord applies to /run/reactor.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "rpc/socket_path.hh"

namespace reactor::rpc {
namespace {

TEST(DefaultSocketPath, RootUsesRunReactor) {
  EXPECT_EQ(default_socket_path(0, nullptr).value(), "/run/reactor/reactor.sock");
  EXPECT_EQ(default_socket_path(0, "/run/user/0").value(), "/run/reactor/reactor.sock");
}

TEST(DefaultSocketPath, OthersUseXdgRuntimeDir) {
  EXPECT_EQ(default_socket_path(1000, "/run/user/1000").value(), "/run/user/1000/reactor.sock");
  EXPECT_EQ(default_socket_path(1000, "/run/user/1000/").value(), "/run/user/1000/reactor.sock");
  for (const char* unset : {static_cast<const char*>(nullptr), ""}) {
    const auto r = default_socket_path(1000, unset);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_EQ(r.error().message, "no default RPC socket for uid 1000: XDG_RUNTIME_DIR is not set");
  }
  EXPECT_FALSE(default_socket_path(1000, "relative/dir"));
}

class PrivateDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rr-dir-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base = tmpl;
  }
  void TearDown() override {
    ::rmdir(dir().c_str());
    ::unlink(dir().c_str());
    ::rmdir(base.c_str());
  }
  std::string dir() const { return base + "/reactor"; }
  std::string base;
};

TEST_F(PrivateDir, MissingIsCreatedWithoutGroupOrOtherWrite) {
  ASSERT_TRUE(ensure_private_dir(dir()));
  struct stat st {};
  ASSERT_EQ(::lstat(dir().c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0022, 0U);
  EXPECT_EQ(st.st_mode & 0700, 0700U);
  EXPECT_TRUE(ensure_private_dir(dir())) << "an existing private directory is fine";
}

TEST_F(PrivateDir, SymlinkOrFileIsRefused) {
  ASSERT_EQ(::symlink(base.c_str(), dir().c_str()), 0);
  auto r = ensure_private_dir(dir());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            fmt::format("RPC socket directory {} exists and is not a directory; refusing it", dir()));
  ASSERT_EQ(::unlink(dir().c_str()), 0);
  const int fd = ::open(dir().c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_FALSE(ensure_private_dir(dir()));
}

TEST_F(PrivateDir, WritableByOthersIsRefused) {
  ASSERT_EQ(::mkdir(dir().c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir().c_str(), 01777), 0);
  const auto r = ensure_private_dir(dir());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exists);
  EXPECT_EQ(r.error().message,
            fmt::format("RPC socket directory {} is writable by group or others (mode 1777); refusing it "
                        "(chmod go-w {})",
                        dir(), dir()));
}

TEST_F(PrivateDir, SomeoneElsesIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown a directory to uid 65534";
  ASSERT_EQ(::mkdir(dir().c_str(), 0750), 0);
  ASSERT_EQ(::chown(dir().c_str(), 65534, 65534), 0);
  const auto r = ensure_private_dir(dir());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            fmt::format("RPC socket directory {} is owned by uid 65534, not by us (uid 0); refusing it", dir()));
}

}  // namespace
}  // namespace reactor::rpc
