// write_file_atomically on a real filesystem: the new content replaces the
// directory entry (a hard link to the old file keeps the old bytes, which an
// in-place rewrite would not), the mode of the replaced file is kept, and a
// failure leaves the old file and no temporary file behind.

#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tools/atomic_file.hh"

namespace reactor::tools {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.emplace_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

struct AtomicFile : ::testing::Test {
  std::string dir;
  void SetUp() override {
    char tmpl[] = "/tmp/atomic-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override {
    for (const std::string& e : entries(dir)) ::unlink((dir + "/" + e).c_str());
    ::chmod(dir.c_str(), 0700);
    ::rmdir(dir.c_str());
  }
};

TEST_F(AtomicFile, CreatesANewFile) {
  const std::string path = dir + "/cfg.json";
  ASSERT_TRUE(write_file_atomically(path, "{}\n"));
  EXPECT_EQ(slurp(path), "{}\n");
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644U);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"cfg.json"});  // no temporary left
}

TEST_F(AtomicFile, ReplacesTheDirectoryEntryAndKeepsTheMode) {
  const std::string path = dir + "/cfg.json";
  const std::string link = dir + "/old.json";
  { std::ofstream(path) << "old content\n"; }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::link(path.c_str(), link.c_str()), 0);
  ASSERT_TRUE(write_file_atomically(path, "new\n"));
  EXPECT_EQ(slurp(path), "new\n");
  EXPECT_EQ(slurp(link), "old content\n");  // a rewrite in place would have changed it
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  EXPECT_EQ(st.st_nlink, 1U);
}

TEST_F(AtomicFile, AFailureLeavesTheOldFileAndNoTemporary) {
  const std::string path = dir + "/cfg.json";
  { std::ofstream(path) << "old content\n"; }
  // A directory where the temporary cannot be created (root ignores modes,
  // so the failing case is a missing directory plus, for others, a read-only one).
  auto r = write_file_atomically(dir + "/missing/cfg.json", "x");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cannot create a temporary file in " + dir + "/missing"), std::string::npos)
      << r.error().message;
  // Renaming over a directory fails after the temporary was written: it is removed.
  ASSERT_EQ(::mkdir((dir + "/sub").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir + "/sub/cfg.json").c_str(), 0700), 0);
  r = write_file_atomically(dir + "/sub/cfg.json", "x");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("is a directory"), std::string::npos) << r.error().message;
  EXPECT_EQ(entries(dir + "/sub"), std::vector<std::string>{"cfg.json"});
  ::rmdir((dir + "/sub/cfg.json").c_str());
  ::rmdir((dir + "/sub").c_str());
  EXPECT_EQ(slurp(path), "old content\n");
  EXPECT_EQ(entries(dir), std::vector<std::string>{"cfg.json"});
}

}  // namespace
}  // namespace reactor::tools
