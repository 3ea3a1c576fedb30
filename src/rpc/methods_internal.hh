#pragma once
/// Helpers shared by the method implementations (methods*.cc). Not a public
/// interface: pure functions, any thread.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <reactor/cpuset.hh>
#include <reactor/error.hh>
#include <reactor/policy.hh>

#include "rpc/method.hh"

namespace reactor::rpc::methods_detail {

using ojson = nlohmann::ordered_json;

/// For methods without parameters: answers -32602 `message` (SPDK's text for
/// that method) and returns false when params are present and not null.
bool require_no_params(const nlohmann::json* params, RpcResponder& r, std::string_view message);

/// Error message from a decoder error: SPDK's generic text `prefix` ("Invalid
/// parameters") followed by what exactly is wrong. The decoders' own
/// "invalid parameters: " lead is dropped so it is not said twice.
std::string with_detail(std::string_view prefix, const Error& e);

/// The dynamic policy's options as framework_get_scheduler and save_config
/// print them: SPDK's load_limit, core_limit, core_busy, then our
/// numa_local, smt_last, keep_asleep, main_room (booleans).
void add_dynamic_options(ojson& out, const DynamicOptions& d);

/// A thread's mask as SPDK prints it: (mask AND reactor cores) in hex.
inline std::string thread_mask_hex(const CpuSet& mask, const CpuSet& cores) {
  return (mask & cores).to_hex();
}

}  // namespace reactor::rpc::methods_detail
