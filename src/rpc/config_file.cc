// Loading a configuration document at start (config_file.hh).
//
// Two passes so that nothing is applied from a document that is wrong
// anywhere a reader can see without running a method:
//   1. parse (nlohmann, with a callback that tracks the path of the value
//      being read so that a duplicate key, which the DOM would silently
//      collapse, is reported where it is), then check the shape: keys,
//      subsystem and method names, the params keys each method takes;
//   2. replay each entry as a JSON-RPC request through RpcEngine, exactly as
//      a client in STARTUP would send it (same decoding, same range checks,
//      same state gating), stopping at the first error.
// Pass 2 can still fail (a value out of range, a main core outside the
// reactor cores); the methods only edit the options framework init will use,
// so the caller exits with nothing started either way.

#include "rpc/config_file.hh"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "rpc/params.hh"

namespace reactor::rpc {
namespace {

using json = nlohmann::json;

// A configuration is a few hundred bytes; a bigger file is a mistake.
constexpr std::size_t kMaxConfigBytes = 1024 * 1024;

struct MethodRule {
  std::string_view subsystem;
  std::string_view method;
  std::vector<std::string_view> keys;  // params keys the method takes
};

const std::vector<MethodRule>& method_rules() {
  static const std::vector<MethodRule> rules = {
      {"framework", "scheduler_set_options", {"scheduling_core", "isolated_core_mask"}},
      {"framework", "reactor_set_options", {"mode"}},
      {"scheduler",
       "framework_set_scheduler",
       {"name", "period", "load_limit", "core_limit", "core_busy", "numa_local", "smt_last", "keep_asleep",
        "main_room", "mappings"}},
  };
  return rules;
}

constexpr std::string_view kSubsystems[] = {"framework", "governor", "scheduler"};

std::string join(const std::vector<std::string_view>& v) {
  std::string out;
  for (std::string_view s : v) out += fmt::format("{}{}", out.empty() ? "" : ", ", s);
  return out;
}

Error bad(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

std::string type_of(const json& v) { return v.type_name(); }

// Line and column (from 1) of byte offset `pos` of `text`.
std::pair<std::size_t, std::size_t> line_col(std::string_view text, std::size_t pos) {
  pos = std::min(pos, text.size());
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < pos; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 2:
// syntax error while parsing value - invalid literal; last read: '...'" ->
// "syntax error while parsing value - invalid literal".
std::string parse_reason(const std::string& what) {
  std::string r = what;
  if (auto col = r.find("column "); col != std::string::npos)
    if (auto colon = r.find(": ", col); colon != std::string::npos) r = r.substr(colon + 2);
  if (auto last = r.find("; last read"); last != std::string::npos) r.erase(last);
  std::replace(r.begin(), r.end(), '\n', ' ');
  return r;
}

// Path of the value being parsed, for duplicate keys.
struct PathTracker {
  struct Frame {
    bool object = false;
    std::set<std::string> keys;
    std::string key;
    long index = -1;
  };
  std::vector<Frame> frames;
  std::optional<std::string> duplicate;  // the path of the first duplicate key

  std::string path() const {
    std::string p;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const Frame& f = frames[i];
      if (f.object) {
        if (!f.key.empty() || i + 1 < frames.size()) p += fmt::format("{}{}", p.empty() ? "" : ".", f.key);
      } else if (f.index >= 0) {
        p += fmt::format("[{}]", f.index);
      }
    }
    return p;
  }
  void element_starts() {
    if (!frames.empty() && !frames.back().object) ++frames.back().index;
  }
  bool on_event(json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        element_starts();
        frames.push_back(Frame{true, {}, {}, -1});
        break;
      case json::parse_event_t::array_start:
        element_starts();
        frames.push_back(Frame{false, {}, {}, -1});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!frames.empty()) frames.pop_back();
        break;
      case json::parse_event_t::key: {
        Frame& f = frames.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second && !duplicate) duplicate = path();
        break;
      }
      case json::parse_event_t::value:
        element_starts();
        break;
    }
    return true;
  }
};

struct Call {
  std::string where;   // "subsystems[2].config[0]"
  std::string method;
  std::optional<json> params;
};

// Pass 1: the shape.
Result<std::vector<Call>> check_document(const json& doc) {
  if (!doc.is_object())
    return tl::unexpected(bad(fmt::format("the document must be a JSON object {{\"subsystems\": [...]}}, got {}",
                                          type_of(doc))));
  for (const auto& [key, value] : doc.items())
    if (key != "subsystems")
      return tl::unexpected(bad(fmt::format("{}: unknown key at the top level (expected only \"subsystems\")", key)));
  const auto subs = doc.find("subsystems");
  if (subs == doc.end()) return tl::unexpected(bad("subsystems: missing (the document is {\"subsystems\": [...]})"));
  if (!subs->is_array())
    return tl::unexpected(bad(fmt::format("subsystems: must be an array, got {}", type_of(*subs))));
  std::vector<Call> calls;
  for (std::size_t i = 0; i < subs->size(); ++i) {
    const json& s = (*subs)[i];
    const std::string sp = fmt::format("subsystems[{}]", i);
    if (!s.is_object())
      return tl::unexpected(bad(fmt::format("{}: must be an object {{\"subsystem\": ..., \"config\": [...]}}, got {}",
                                            sp, type_of(s))));
    for (const auto& [key, value] : s.items())
      if (key != "subsystem" && key != "config")
        return tl::unexpected(
            bad(fmt::format("{}.{}: unknown key (expected \"subsystem\" and \"config\")", sp, key)));
    const auto name = s.find("subsystem");
    if (name == s.end()) return tl::unexpected(bad(fmt::format("{}.subsystem: missing", sp)));
    if (!name->is_string())
      return tl::unexpected(bad(fmt::format("{}.subsystem: must be a string, got {}", sp, describe_value(*name))));
    const std::string subsystem = name->get<std::string>();
    if (std::find(std::begin(kSubsystems), std::end(kSubsystems), subsystem) == std::end(kSubsystems))
      return tl::unexpected(bad(fmt::format("{}.subsystem: unknown subsystem {} (known: framework, governor, scheduler)",
                                            sp, describe_value(*name))));
    const auto config = s.find("config");
    if (config == s.end() || config->is_null()) continue;
    if (!config->is_array())
      return tl::unexpected(
          bad(fmt::format("{}.config: must be an array or null, got {}", sp, describe_value(*config))));
    std::vector<std::string_view> allowed;
    for (const MethodRule& r : method_rules())
      if (r.subsystem == subsystem) allowed.push_back(r.method);
    for (std::size_t j = 0; j < config->size(); ++j) {
      const json& e = (*config)[j];
      const std::string ep = fmt::format("{}.config[{}]", sp, j);
      if (!e.is_object())
        return tl::unexpected(
            bad(fmt::format("{}: must be an object {{\"method\": ..., \"params\": {{...}}}}, got {}", ep, type_of(e))));
      for (const auto& [key, value] : e.items())
        if (key != "method" && key != "params")
          return tl::unexpected(bad(fmt::format("{}.{}: unknown key (expected \"method\" and \"params\")", ep, key)));
      const auto method = e.find("method");
      if (method == e.end()) return tl::unexpected(bad(fmt::format("{}.method: missing", ep)));
      if (!method->is_string())
        return tl::unexpected(bad(fmt::format("{}.method: must be a string, got {}", ep, describe_value(*method))));
      const std::string m = method->get<std::string>();
      const auto rule = std::find_if(method_rules().begin(), method_rules().end(),
                                     [&](const MethodRule& r) { return r.subsystem == subsystem && r.method == m; });
      if (rule == method_rules().end())
        return tl::unexpected(bad(fmt::format("{}.method: unknown method {} for subsystem '{}' (it takes {})", ep,
                                              describe_value(*method), subsystem,
                                              allowed.empty() ? std::string("no method") : join(allowed))));
      Call call{ep, m, std::nullopt};
      if (const auto params = e.find("params"); params != e.end() && !params->is_null()) {
        if (!params->is_object())
          return tl::unexpected(
              bad(fmt::format("{}.params: must be an object, got {}", ep, describe_value(*params))));
        for (const auto& [key, value] : params->items())
          if (std::find(rule->keys.begin(), rule->keys.end(), key) == rule->keys.end())
            return tl::unexpected(bad(fmt::format("{}.params.{}: unknown key for {} (it takes {})", ep, key, m,
                                                  join(rule->keys))));
        call.params = *params;
      }
      calls.push_back(std::move(call));
    }
  }
  return calls;
}

// Pass 2: one entry through the engine's dispatch.
Result<void> apply(RpcEngine& engine, const Call& call, std::uint64_t id) {
  json req = {{"jsonrpc", "2.0"}, {"id", id}, {"method", call.method}};
  if (call.params) req["params"] = *call.params;
  const SessionId session = engine.open_session();
  engine.feed(session, req.dump());
  engine.deliver_completions();
  const std::string out(engine.pending_output(session));
  engine.close_session(session);
  const auto nl = out.find('\n');
  json reply = json::parse(out.substr(0, nl), nullptr, /*allow_exceptions=*/false);
  if (!reply.is_object())
    return make_error(Errc::internal, fmt::format("{} ({}): no answer before start-up", call.where, call.method));
  if (const auto err = reply.find("error"); err != reply.end()) {
    const std::string message = err->value("message", std::string("error"));
    // Point at the key the method complains about when it names one.
    std::string where = call.where;
    if (call.params)
      for (const auto& [key, value] : call.params->items())
        if (message.find(fmt::format("'{}'", key)) != std::string::npos) {
          where += ".params." + key;
          break;
        }
    std::string flat = message;
    std::replace(flat.begin(), flat.end(), '\n', ' ');
    return make_error(Errc::invalid_argument, fmt::format("{} ({}): {}", where, call.method, flat));
  }
  return {};
}

}  // namespace

Result<std::size_t> load_config_text(RpcEngine& engine, std::string_view text) {
  PathTracker tracker;
  json doc;
  try {
    doc = json::parse(text, [&tracker](int, json::parse_event_t event, json& parsed) {
      return tracker.on_event(event, parsed);
    });
  } catch (const json::parse_error& e) {
    const auto [line, col] = line_col(text, e.byte == 0 ? 0 : e.byte - 1);
    return make_error(Errc::invalid_argument,
                      fmt::format("not valid JSON at line {}, column {}: {}", line, col, parse_reason(e.what())));
  }
  if (tracker.duplicate) return make_error(Errc::invalid_argument, fmt::format("{}: duplicate key", *tracker.duplicate));
  auto calls = check_document(doc);
  if (!calls) return tl::unexpected(calls.error());
  std::uint64_t id = 1;
  for (const Call& c : *calls)
    if (auto ok = apply(engine, c, id++); !ok) return tl::unexpected(ok.error());
  return calls->size();
}

Result<std::size_t> load_config_file(RpcEngine& engine, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::io, fmt::format("cannot open: {}", std::strerror(errno)));
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return make_error(Errc::io, fmt::format("cannot read: {}", std::strerror(e)));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      return make_error(Errc::invalid_argument,
                        fmt::format("larger than {} bytes: not a configuration file", kMaxConfigBytes));
    }
  }
  ::close(fd);
  return load_config_text(engine, text);
}

}  // namespace reactor::rpc
