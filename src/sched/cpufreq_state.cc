// Crash safety of the DPDK governor (see cpufreq_state.hh).
//
// Order: record (before rte_power_init) -> rte_power controls the cores ->
// rte_power_exit gives them back -> forget. A crash anywhere in between
// leaves the file, and restore_cpufreq_state puts back what was recorded.
// The file is replaced by rename, so a crash while recording leaves either
// the old file or the new one, never half of one.

#include "sched/cpufreq_state.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

namespace reactor::detail {
namespace {

constexpr std::string_view kHeader = "# reactor cpufreq state v1: core governor min_khz max_khz";

std::string cpufreq_file(std::string_view root, uint32_t core, std::string_view name) {
  return fmt::format("{}/cpu{}/cpufreq/{}", root, core, name);
}

Result<std::string> read_word(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!in || !(in >> word)) return make_error(Errc::io, fmt::format("cannot read {}", path));
  return word;
}

Result<void> write_value(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  if (!out) return make_error(Errc::io, fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  out << value << '\n';
  out.flush();
  if (!out) return make_error(Errc::io, fmt::format("cannot write '{}' to {}", value, path));
  return {};
}

bool is_word(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

}  // namespace

Result<std::vector<CoreFreqState>> read_cpufreq_state(const std::string& state_path) {
  std::ifstream in(state_path);
  if (!in) return make_error(Errc::not_found, fmt::format("no cpufreq state file {}", state_path));
  std::vector<CoreFreqState> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    CoreFreqState st;
    std::string extra;
    if (!(ss >> st.core >> st.governor >> st.min_khz >> st.max_khz) || (ss >> extra) || !is_word(st.governor) ||
        st.min_khz.find_first_not_of("0123456789") != std::string::npos ||
        st.max_khz.find_first_not_of("0123456789") != std::string::npos || st.core >= CpuSet::kMaxCores)
      return make_error(Errc::invalid_argument,
                        fmt::format("cpufreq state file {} line {} is not 'core governor min_khz max_khz': '{}'",
                                    state_path, n, line));
    out.push_back(std::move(st));
  }
  return out;
}

Result<void> record_cpufreq_state(const CpuSet& cores, const std::string& state_path, std::string_view root) {
  std::map<uint32_t, CoreFreqState> merged;
  if (auto old = read_cpufreq_state(state_path)) {
    for (auto& st : *old) merged.emplace(st.core, std::move(st));
  } else if (old.error().code != Errc::not_found) {
    return tl::unexpected(old.error());
  }
  for (CoreId core : cores.cores()) {
    if (merged.count(core.value) != 0) continue;  // originals of a run not yet restored
    CoreFreqState st;
    st.core = core.value;
    auto gov = read_word(cpufreq_file(root, core.value, "scaling_governor"));
    auto lo = read_word(cpufreq_file(root, core.value, "scaling_min_freq"));
    auto hi = read_word(cpufreq_file(root, core.value, "scaling_max_freq"));
    if (!gov) return tl::unexpected(gov.error());
    if (!lo) return tl::unexpected(lo.error());
    if (!hi) return tl::unexpected(hi.error());
    st.governor = *gov;
    st.min_khz = *lo;
    st.max_khz = *hi;
    merged.emplace(st.core, std::move(st));
  }
  std::error_code ec;
  const std::filesystem::path path(state_path);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  const std::string tmp = state_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out)
      return make_error(Errc::io, fmt::format("cannot write cpufreq state file {}: {}", tmp, std::strerror(errno)));
    out << kHeader << '\n';
    for (const auto& [core, st] : merged) out << core << ' ' << st.governor << ' ' << st.min_khz << ' ' << st.max_khz << '\n';
    out.flush();
    if (!out) return make_error(Errc::io, fmt::format("cannot write cpufreq state file {}", tmp));
  }
  if (::rename(tmp.c_str(), state_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return make_error(Errc::io, fmt::format("cannot put cpufreq state file {} in place: {}", state_path,
                                            std::strerror(err)));
  }
  return {};
}

Result<void> check_cpufreq_state_path(const std::string& state_path) {
  namespace fs = std::filesystem;
  const fs::path path(state_path);
  if (state_path.empty() || !path.is_absolute())
    return make_error(Errc::invalid_argument, fmt::format("'{}' is not an absolute path", state_path));
  if (!path.has_filename())
    return make_error(Errc::invalid_argument, fmt::format("{} names a directory, not a file", state_path));
  const std::string dir = path.parent_path().string();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(Errc::invalid_argument,
                      fmt::format("directory {} of {} does not exist", dir, state_path));
  if (::stat(state_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return make_error(Errc::invalid_argument, fmt::format("{} is a directory", state_path));
  // access(W_OK) says yes to root on a read-only mount's directories' modes
  // and on /proc: only creating a file tells.
  const std::string probe = fmt::format("{}.probe-{}", state_path, ::getpid());
  const int fd = ::open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(Errc::invalid_argument, fmt::format("directory {} of {} is not writable: {}", dir, state_path,
                                                          std::strerror(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
  return {};
}

Result<std::vector<CoreFreqState>> restore_cpufreq_state(const std::string& state_path, std::string_view root) {
  auto states = read_cpufreq_state(state_path);
  if (!states) {
    if (states.error().code == Errc::not_found) return std::vector<CoreFreqState>{};
    return tl::unexpected(states.error());
  }
  for (const CoreFreqState& st : *states) {
    // The governor first (rte_power left "userspace"), then the limits: max,
    // min, and max again, so that either order of old and new ranges works.
    if (auto r = write_value(cpufreq_file(root, st.core, "scaling_governor"), st.governor); !r)
      return make_error(Errc::io, fmt::format("cannot restore core {} from {}: {}", st.core, state_path,
                                              r.error().message));
    (void)write_value(cpufreq_file(root, st.core, "scaling_max_freq"), st.max_khz);
    if (auto r = write_value(cpufreq_file(root, st.core, "scaling_min_freq"), st.min_khz); !r)
      return make_error(Errc::io, fmt::format("cannot restore core {} from {}: {}", st.core, state_path,
                                              r.error().message));
    if (auto r = write_value(cpufreq_file(root, st.core, "scaling_max_freq"), st.max_khz); !r)
      return make_error(Errc::io, fmt::format("cannot restore core {} from {}: {}", st.core, state_path,
                                              r.error().message));
  }
  forget_cpufreq_state(state_path);
  return states;
}

void forget_cpufreq_state(const std::string& state_path) noexcept { ::unlink(state_path.c_str()); }

}  // namespace reactor::detail
