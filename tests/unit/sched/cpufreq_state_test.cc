// Governor crash safety (cpufreq_state.hh) against a fake
// /sys/devices/system/cpu tree: record the originals, let "rte_power" change
// them, crash (the file stays), restore them at the next start.

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "sched/cpufreq_state.hh"

namespace reactor {
namespace {

namespace fs = std::filesystem;

class CpufreqState : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / fmt::format("reactor-cpufreq-{}-{}", ::getpid(), counter_++);
    fs::create_directories(root_);
    state_ = (root_ / "run" / "governor.state").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void set(uint32_t core, const char* name, const std::string& value) {
    const fs::path dir = root_ / fmt::format("cpu{}", core) / "cpufreq";
    fs::create_directories(dir);
    std::ofstream(dir / name) << value << "\n";
  }
  std::string get(uint32_t core, const char* name) {
    std::ifstream in(root_ / fmt::format("cpu{}", core) / "cpufreq" / name);
    std::string v;
    in >> v;
    return v;
  }
  void core(uint32_t c, const std::string& gov, const std::string& lo, const std::string& hi) {
    set(c, "scaling_governor", gov);
    set(c, "scaling_min_freq", lo);
    set(c, "scaling_max_freq", hi);
  }
  std::string sys() const { return root_.string(); }

  fs::path root_;
  std::string state_;
  static inline int counter_ = 0;
};

TEST_F(CpufreqState, RecordedOriginalsAreRestoredAfterACrash) {
  core(0, "schedutil", "800000", "3600000");
  core(1, "ondemand", "1200000", "3000000");
  ASSERT_TRUE(detail::record_cpufreq_state(CpuSet{0, 1}, state_, sys()));
  // What rte_power does while a policy holds the governor; then the daemon
  // is killed: nothing gives the cores back.
  core(0, "userspace", "800000", "1200000");
  core(1, "userspace", "2000000", "2000000");
  auto restored = detail::restore_cpufreq_state(state_, sys());
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(restored->size(), 2U);
  EXPECT_EQ(get(0, "scaling_governor"), "schedutil");
  EXPECT_EQ(get(0, "scaling_min_freq"), "800000");
  EXPECT_EQ(get(0, "scaling_max_freq"), "3600000");
  EXPECT_EQ(get(1, "scaling_governor"), "ondemand");
  EXPECT_EQ(get(1, "scaling_min_freq"), "1200000");
  EXPECT_EQ(get(1, "scaling_max_freq"), "3000000");
  EXPECT_FALSE(fs::exists(state_)) << "a restored state is removed";
  auto again = detail::restore_cpufreq_state(state_, sys());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty()) << "nothing left to restore";
}

TEST_F(CpufreqState, ASecondRecordKeepsTheOriginalsOfAnUnrestoredRun) {
  core(0, "schedutil", "800000", "3600000");
  ASSERT_TRUE(detail::record_cpufreq_state(CpuSet{0}, state_, sys()));
  core(0, "userspace", "1000000", "1000000");  // left by the crashed run
  core(1, "powersave", "900000", "2000000");
  ASSERT_TRUE(detail::record_cpufreq_state(CpuSet{0, 1}, state_, sys()));
  auto st = detail::read_cpufreq_state(state_);
  ASSERT_TRUE(st) << st.error().message;
  ASSERT_EQ(st->size(), 2U);
  EXPECT_EQ((*st)[0].governor, "schedutil") << "not the userspace governor the crash left";
  EXPECT_EQ((*st)[1].governor, "powersave");
}

TEST_F(CpufreqState, CleanReleaseForgetsTheState) {
  core(0, "schedutil", "800000", "3600000");
  ASSERT_TRUE(detail::record_cpufreq_state(CpuSet{0}, state_, sys()));
  EXPECT_TRUE(fs::exists(state_));
  detail::forget_cpufreq_state(state_);
  EXPECT_FALSE(fs::exists(state_));
}

TEST_F(CpufreqState, MissingSysfsAndBadFilesAreErrorsThatChangeNothing) {
  auto r = detail::record_cpufreq_state(CpuSet{3}, state_, sys());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, fmt::format("cannot read {}/cpu3/cpufreq/scaling_governor", sys()));
  EXPECT_FALSE(fs::exists(state_));

  fs::create_directories(fs::path(state_).parent_path());
  std::ofstream(state_) << "# reactor cpufreq state v1\n0 schedutil 800000\n";
  core(0, "userspace", "1", "2");
  auto bad = detail::restore_cpufreq_state(state_, sys());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            fmt::format("cpufreq state file {} line 2 is not 'core governor min_khz max_khz': '0 schedutil 800000'",
                        state_));
  EXPECT_EQ(get(0, "scaling_governor"), "userspace") << "nothing written";
  EXPECT_TRUE(fs::exists(state_)) << "kept for another try";

  std::ofstream(state_) << "0 schedutil 800000 3600000\n";
  auto no_core = detail::restore_cpufreq_state(state_, (root_ / "elsewhere").string());
  ASSERT_FALSE(no_core);
  EXPECT_NE(no_core.error().message.find("cannot restore core 0 from " + state_), std::string::npos)
      << no_core.error().message;
  EXPECT_TRUE(fs::exists(state_));
}

// reactord --cpufreq-state: a path is checked before anything starts, and a
// checked path is where record and restore work (the fake sysfs as above).
TEST_F(CpufreqState, StatePathIsCheckedAndThenUsed) {
  const fs::path run = root_ / "run";
  auto expect_error = [](const std::string& path, const std::string& says) {
    auto r = detail::check_cpufreq_state_path(path);
    ASSERT_FALSE(r) << path;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_EQ(r.error().message.rfind(says, 0), 0U) << r.error().message;
  };
  expect_error("", "'' is not an absolute path");
  expect_error("run/governor.state", "'run/governor.state' is not an absolute path");
  expect_error(state_, fmt::format("directory {} of {} does not exist", run.string(), state_));
  fs::create_directories(run);
  expect_error(run.string(), fmt::format("{} is a directory", run.string()));
  expect_error(run.string() + "/", fmt::format("{}/ names a directory, not a file", run.string()));
  expect_error("/proc/governor.state", "directory /proc of /proc/governor.state is not writable: ");
  if (::geteuid() != 0) {  // root writes anywhere the mode forbids
    fs::permissions(run, fs::perms::owner_read | fs::perms::owner_exec);
    expect_error(state_, fmt::format("directory {} of {} is not writable: ", run.string(), state_));
    fs::permissions(run, fs::perms::owner_all);
  }

  ASSERT_TRUE(detail::check_cpufreq_state_path(state_));
  EXPECT_TRUE(fs::is_empty(run)) << "the writability probe was left behind";
  core(0, "schedutil", "800000", "3600000");
  ASSERT_TRUE(detail::record_cpufreq_state(CpuSet{0}, state_, sys()));
  set(0, "scaling_governor", "userspace");
  ASSERT_TRUE(detail::check_cpufreq_state_path(state_)) << "an existing state file is a valid path";
  auto restored = detail::restore_cpufreq_state(state_, sys());
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(get(0, "scaling_governor"), "schedutil");
  EXPECT_FALSE(fs::exists(state_));
}

}  // namespace
}  // namespace reactor
