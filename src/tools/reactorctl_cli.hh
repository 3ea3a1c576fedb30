#pragma once
// reactorctl's command line (not API): argument parsing, the JSON-RPC calls
// of each subcommand and the exit status, as a function of argv and two
// streams so that tests run it in-process against a stub server.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <reactor/error.hh>

namespace reactor::ctl {

/// Exit statuses of reactorctl.
inline constexpr int kExitOk = 0;
/// Daemon not running, permission denied, timeout, an RPC error, a reply of
/// an unexpected shape.
inline constexpr int kExitFailure = 1;
/// Bad command line (CLI11's message or a value rejected locally); nothing
/// was sent.
inline constexpr int kExitUsage = 2;
/// `switch` got no answer within --timeout: the request was sent and the
/// daemon may still apply it (a switch is never abandoned half way: it
/// completes, or fails and restores the previous policy). Check with
/// `reactorctl status`.
inline constexpr int kExitSwitchTimedOut = 3;

/// A `reactorctl switch` request as typed.
struct SwitchRequest {
  std::string policy;                   ///< static | dynamic | global | gscheduler
  std::optional<uint64_t> period_us;
  std::optional<int64_t> load_limit;    ///< percent, 0..100
  std::optional<int64_t> core_limit;    ///< percent, 0..100
  std::optional<int64_t> core_busy;     ///< percent, 0..100
  /// Dynamic placement options as typed: "on"/"off" or "true"/"false".
  std::optional<std::string> numa_local;
  std::optional<std::string> smt_last;
  std::optional<std::string> keep_asleep;
  std::optional<std::string> main_room;
  std::optional<std::string> mappings;  ///< "<thread>:<core>[,...]", static only
};

/// framework_set_scheduler params for `req`: {"name": canonical name
/// ("global" is sent as "gscheduler"), "period"?, "load_limit"?,
/// "core_limit"?, "core_busy"?, "numa_local"?, "smt_last"?, "keep_asleep"?, "main_room"?
/// (JSON booleans), "mappings"?}, only the options given.
/// Errors (invalid_argument, the message names the option and the rule):
/// unknown policy, a percentage outside 0..100, a placement option that is
/// not on/off/true/false, dynamic options for another policy, mappings for a
/// policy other than static or malformed mappings.
/// The daemon validates again; this only catches typos before sending.
Result<nlohmann::json> switch_params(const SwitchRequest& req);

/// Runs reactorctl: parses `argv` (argv[0] is the program name), talks to
/// the daemon, writes the result to `out` and, on failure, exactly one line
/// "reactorctl: ..." to `err`. Returns kExitOk, kExitFailure, kExitUsage or kExitSwitchTimedOut.
/// Reads REACTOR_SOCKET from the environment. Any thread; no global state.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace reactor::ctl
