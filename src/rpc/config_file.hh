#pragma once
/// Loading a configuration document (the shape save_config answers, see
/// methods.hh) into a control plane that has not started yet: what
/// `reactord --config FILE` does before it serves anything.
///
/// All or nothing: the whole document is checked first (JSON syntax with its
/// line and column, duplicate keys, the shape, unknown keys, subsystem and
/// method names, the keys of each method's params), then every entry is
/// applied in order through the engine's real dispatch, as a client's request
/// in STARTUP would be. The methods edit only the options the Runtime will be
/// built from, so a document that fails part way has built nothing: the
/// caller exits and nothing ran. Every error is one line naming where the
/// problem is, e.g.
///   subsystems[2].config[0].params.load_limit: Invalid parameters: 'load_limit' must be an integer 0-100, got 250
///
/// Entries a document may hold (the others are refused by name):
///   framework: scheduler_set_options, reactor_set_options
///   scheduler: framework_set_scheduler
///   governor:  none (its "config" is null or [])
/// Threading: the thread that steps `engine` (before the server serves).

#include <string>
#include <string_view>

#include <reactor/error.hh>

#include "rpc/engine.hh"

namespace reactor::rpc {

/// Checks `text` and applies its entries through `engine`, which must be in
/// STARTUP with the ControlPlane's methods registered. Returns how many
/// methods were applied. Errors (Errc::invalid_argument): the first problem,
/// one line, located as above.
Result<std::size_t> load_config_text(RpcEngine& engine, std::string_view text);

/// Reads `path` (at most 1 MiB) and calls load_config_text(). Errors: the
/// file cannot be read (Errc::io, with the reason), or load_config_text's.
Result<std::size_t> load_config_file(RpcEngine& engine, const std::string& path);

}  // namespace reactor::rpc
