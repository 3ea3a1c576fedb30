// RpcEngine: sessions, framing, validation and dispatch (rpc-compat.md §1).
//
// Per session, bytes flow: feed() -> receive buffer (at most 256 KiB) ->
// FrameScanner finds the end of the next JSON text -> parse_request_text()
// (limits, duplicate keys, id text) -> validate (§1.3) -> dispatch (§1.7) ->
// answers, in completion order, appended to the output queue, each followed
// by one '\n'. Batches (§1.6) collect their elements' answers and append one
// array when the last element is answered; answers to successful
// notifications are empty and omitted, so a batch of notifications writes
// nothing.
//
// Answers travel as Completion records through the CompletionSink, named by
// (session id, batch id). deliver_completions() runs after every handler call
// so that answers given inline and errors produced by the engine itself come
// out in the order they were produced; answers given later (another poll,
// another thread) follow as they are delivered. Nothing holds a pointer to a
// session across a handler call: a session that closed is simply not found
// and its late answers are dropped.
//
// Deviations from SPDK, on purpose (documented in rpc-compat.md):
//   - a parse error is answered (-32700, id null) before the session closes,
//     and so is a request that does not fit in 256 KiB;
//   - messages name the problem ("Invalid request: unknown member 'foo'");
//     they start with the standard text ("Invalid request") except the
//     state-gating messages, which are SPDK's verbatim;
//   - at EOF, requests already received are still served and answered
//     before the session finishes (SPDK drops their answers), and an
//     incomplete last request is answered -32700 ("request ended before it
//     was complete") instead of being dropped silently;
//   - a session stops reading while 1 MiB of answers wait to be written or
//     1024 requests are unanswered (backpressure; SPDK has no bound).
// Known differences that come from parsing with nlohmann::json:
//   - a number beyond the double range (1e400) is a parse error, even as an
//     id (SPDK keeps number tokens as text);
//   - duplicate keys are detected in the request object and in its params
//     object, not deeper (no method decodes nested objects).

#include "rpc/engine.hh"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "rpc/completion.hh"
#include "rpc/json_codec.hh"
#include "rpc/params.hh"

namespace reactor::rpc {
namespace {

using json = nlohmann::json;

constexpr std::string_view kNotInitialized =
    "Method may only be called after framework is initialized using framework_start_init RPC.";
constexpr std::string_view kAlreadyInitialized =
    "Method may only be called before framework is initialized. Use --wait-for-rpc command line "
    "parameter and then issue this RPC before the framework_start_init RPC.";

// Names from the wire may be long or odd: quote them short and printable.
std::string quoted_name(std::string_view name) {
  constexpr std::size_t kMax = 64;
  std::string s = name.size() > kMax ? std::string(name.substr(0, kMax)) + "..." : std::string(name);
  return "'" + s + "'";
}

bool callable(MethodStates states, AppState state) {
  switch (states) {
    case MethodStates::both: return true;
    case MethodStates::startup_only: return state == AppState::startup;
    case MethodStates::runtime_only: return state == AppState::runtime;
  }
  return false;
}

// A precise message for a byte FrameScanner refused: let nlohmann's lexer say
// what is wrong with the text up to and including that byte.
std::string invalid_text_message(std::string_view text, std::size_t at) {
  auto r = parse_request_text(text.substr(0, at + 1));
  if (!r && r.error().find("end of input") == std::string::npos) return r.error();
  const auto c = static_cast<unsigned char>(text[at]);
  return c >= 0x20 && c < 0x7f
             ? fmt::format("invalid JSON: unexpected character '{}' at byte {}", text[at], at + 1)
             : fmt::format("invalid JSON: unexpected byte 0x{:02X} at byte {}", c, at + 1);
}

}  // namespace

RpcEngine::RpcEngine(SessionLimits limits)
    : limits_(limits), sink_(std::make_shared<detail::CompletionSink>()) {
  register_builtins();
}

RpcEngine::~RpcEngine() { sink_->close(); }

void RpcEngine::register_builtins() {
  // rpc_get_methods (rpc-compat.md §3.2): optional strict object.
  MethodSpec spec;
  spec.states = MethodStates::both;
  spec.handler = [this](const json* params, RpcResponder r) {
    std::optional<bool> current;
    std::optional<bool> include_aliases;
    auto ok = decode_object(params,
                            {field("current", current), field("include_aliases", include_aliases)},
                            Decoding::strict, Presence::optional);
    if (!ok) {
      r.error(error_code::invalid_params, ok.error().message);
      return;
    }
    nlohmann::ordered_json names = nlohmann::ordered_json::array();
    for (std::string& n : method_names(current.value_or(false), include_aliases.value_or(false)))
      names.push_back(std::move(n));
    r.result(std::move(names));
  };
  [[maybe_unused]] auto r = add_method("rpc_get_methods", std::move(spec));
}

Result<void> RpcEngine::add_method(std::string name, MethodSpec spec) {
  if (name.empty()) return make_error(Errc::invalid_argument, "RPC method name is empty");
  if (!spec.handler)
    return make_error(Errc::invalid_argument, fmt::format("RPC method '{}' has no handler", name));
  if (methods_.count(name) != 0)
    return make_error(Errc::exists, fmt::format("RPC method '{}' is already registered", name));
  order_.push_back(name);
  methods_.emplace(std::move(name), Method{std::move(spec), {}});
  return {};
}

Result<void> RpcEngine::add_alias(std::string alias, std::string target) {
  const auto it = methods_.find(target);
  if (it == methods_.end() || !it->second.alias_of.empty())
    return make_error(Errc::not_found,
                      fmt::format("cannot alias '{}' to '{}': no such method", alias, target));
  if (alias.empty()) return make_error(Errc::invalid_argument, "RPC alias name is empty");
  if (methods_.count(alias) != 0)
    return make_error(Errc::exists, fmt::format("RPC method '{}' is already registered", alias));
  Method m{it->second.spec, std::move(target)};
  order_.push_back(alias);
  methods_.emplace(std::move(alias), std::move(m));
  return {};
}

std::vector<std::string> RpcEngine::method_names(bool current_only, bool include_aliases) const {
  std::vector<std::string> out;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    const Method& m = methods_.at(*it);
    if (!m.alias_of.empty() && !include_aliases) continue;
    if (current_only && !callable(m.spec.states, state_)) continue;
    out.push_back(*it);
  }
  return out;
}

// ---- sessions ----

RpcEngine::Session* RpcEngine::find(SessionId id) {
  const auto it = sessions_.find(static_cast<std::uint64_t>(id));
  return it == sessions_.end() ? nullptr : &it->second;
}

const RpcEngine::Session* RpcEngine::find(SessionId id) const {
  const auto it = sessions_.find(static_cast<std::uint64_t>(id));
  return it == sessions_.end() ? nullptr : &it->second;
}

SessionId RpcEngine::open_session() {
  const std::uint64_t id = next_session_++;
  sessions_.emplace(id, Session{});
  return SessionId{id};
}

void RpcEngine::close_session(SessionId id) { sessions_.erase(static_cast<std::uint64_t>(id)); }

bool RpcEngine::has_session(SessionId id) const { return find(id) != nullptr; }

bool RpcEngine::paused(const Session& s) const {
  return s.out.size() - s.out_head >= limits_.output_high_water ||
         s.in_flight >= limits_.max_in_flight;
}

std::size_t RpcEngine::read_space(SessionId id) const {
  const Session* s = find(id);
  if (s == nullptr || s->closing || s->eof || paused(*s)) return 0;
  const std::size_t buffered = s->in.size() - s->in_head;
  return buffered >= limits_.max_request_bytes ? 0 : limits_.max_request_bytes - buffered;
}

void RpcEngine::feed(SessionId id, std::string_view bytes) {
  Session* s = find(id);
  if (s == nullptr || s->closing || s->eof) return;
  if (s->in_head > 0) {
    s->in.erase(0, s->in_head);
    s->in_head = 0;
  }
  const std::size_t room =
      s->in.size() >= limits_.max_request_bytes ? 0 : limits_.max_request_bytes - s->in.size();
  s->in.append(bytes.substr(0, std::min(room, bytes.size())));
  process(id);
}

void RpcEngine::end_of_input(SessionId id) {
  Session* s = find(id);
  if (s == nullptr || s->eof) return;
  s->eof = true;
  process(id);
}

void RpcEngine::pump(SessionId id) { process(id); }

void RpcEngine::process(SessionId id) {
  bool need_more = false;
  for (;;) {
    Session* s = find(id);
    if (s == nullptr || s->closing) return;
    if (paused(*s)) break;
    if (s->scanner.fresh())
      while (s->in_head < s->in.size() && is_json_space(s->in[s->in_head])) ++s->in_head;
    const std::string_view view(s->in.data() + s->in_head, s->in.size() - s->in_head);
    const ScanResult r = s->scanner.scan(view);
    if (r.status == ScanStatus::need_more) {
      need_more = true;
      break;
    }
    if (r.status == ScanStatus::too_deep) {
      fail_session(*s, fmt::format("nesting deeper than {} levels", kMaxDepth));
      return;
    }
    if (r.status == ScanStatus::invalid) {
      fail_session(*s, invalid_text_message(view, r.error_at));
      return;
    }
    // `in` is not touched until the next feed(), so the view stays valid
    // while the request is handled.
    s->in_head += r.end;
    s->scanner.reset();
    handle_text(id, view.substr(0, r.end));
  }
  Session* s = find(id);
  if (s == nullptr || s->closing) return;
  const std::size_t buffered = s->in.size() - s->in_head;
  if (need_more && buffered >= limits_.max_request_bytes) {
    fail_session(*s, fmt::format("request exceeds {} KiB", limits_.max_request_bytes / 1024));
    return;
  }
  if (need_more && s->eof && buffered > 0) {
    // An incomplete request can never complete now. Answered, not dropped,
    // so that the client learns why it got nothing; answers to the requests
    // before it still go out, and the session finishes once they have.
    append_output(*s, detail::error_text("null", error_code::parse_error,
                                         "Parse error: request ended before it was complete"));
    s->in.clear();
    s->in_head = 0;
    s->scanner.reset();
  }
  if (s->in_head == s->in.size()) {
    s->in.clear();
    s->in_head = 0;
  }
}

bool RpcEngine::request_started(SessionId id) const {
  const Session* s = find(id);
  if (s == nullptr || s->closing || s->eof || paused(*s)) return false;
  return s->in_head < s->in.size();
}

bool RpcEngine::serving(SessionId id) const {
  const Session* s = find(id);
  return s != nullptr && s->in_flight > 0;
}

void RpcEngine::abandon_request(SessionId id, std::string message) {
  Session* s = find(id);
  if (s == nullptr || s->closing) return;
  fail_session(*s, std::move(message));
}

void RpcEngine::fail_session(Session& s, std::string message) {
  append_output(s, detail::error_text("null", error_code::parse_error, "Parse error: " + message));
  s.closing = true;
  s.in.clear();
  s.in_head = 0;
  s.scanner.reset();
  s.batches.clear();
}

void RpcEngine::append_output(Session& s, std::string_view text) {
  s.out.append(text);
  s.out.push_back('\n');
}

void RpcEngine::handle_text(SessionId id, std::string_view text) {
  auto parsed = parse_request_text(text, ParseLimits{kMaxDepth, kMaxTokens});
  Session* s = find(id);
  if (s == nullptr) return;
  if (!parsed) {
    fail_session(*s, parsed.error());
    return;
  }
  const json& v = parsed->value;
  const auto sid = static_cast<std::uint64_t>(id);
  ++s->in_flight;
  if (!v.is_array()) {
    handle_request(id, 0, v, parsed->meta(0));
    return;
  }
  if (v.empty()) {
    finish(sid, 0,
           detail::error_text("null", error_code::invalid_request, "Invalid request: empty batch"));
    return;
  }
  const std::uint64_t batch = next_batch_++;
  s->batches[batch].remaining = v.size();
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (find(id) == nullptr) return;
    handle_request(id, batch, v[i], parsed->meta(i));
  }
}

void RpcEngine::handle_request(SessionId id, std::uint64_t batch, const json& req,
                               const RequestMeta& meta) {
  const auto sid = static_cast<std::uint64_t>(id);
  auto reject = [&](std::string_view id_text, int code, std::string_view message) {
    finish(sid, batch, detail::error_text(id_text, code, message));
  };
  constexpr std::string_view kNull = "null";

  // §1.3, in SPDK's order: the request object, then jsonrpc, method, id (all
  // answered with id null), then params (answered with the request's id).
  if (!req.is_object())
    return reject(kNull, error_code::invalid_request,
                  fmt::format("Invalid request: a request must be an object, got {}",
                              describe_value(req)));
  if (!meta.duplicate_member.empty())
    return reject(kNull, error_code::invalid_request,
                  fmt::format("Invalid request: duplicate member {}",
                              quoted_name(meta.duplicate_member)));
  for (const auto& item : req.items()) {
    const std::string& k = item.key();
    if (k != "jsonrpc" && k != "method" && k != "params" && k != "id")
      return reject(kNull, error_code::invalid_request,
                    fmt::format("Invalid request: unknown member {} (allowed: jsonrpc, method, "
                                "params, id)",
                                quoted_name(k)));
  }
  if (const auto it = req.find("jsonrpc");
      it != req.end() && !(it->is_string() && it->get_ref<const std::string&>() == "2.0"))
    return reject(kNull, error_code::invalid_request,
                  R"(Invalid request: 'jsonrpc' must be "2.0")");
  const auto method_it = req.find("method");
  if (method_it == req.end())
    return reject(kNull, error_code::invalid_request, "Invalid request: missing 'method'");
  if (!method_it->is_string())
    return reject(kNull, error_code::invalid_request,
                  "Invalid request: 'method' must be a string");
  const auto id_it = req.find("id");
  if (id_it != req.end() && !id_it->is_string() && !id_it->is_number() && !id_it->is_null())
    return reject(kNull, error_code::invalid_request,
                  "Invalid request: 'id' must be a string, a number or null");

  const bool notification = id_it == req.end() || id_it->is_null();
  std::string id_text = "null";
  if (!notification) {
    id_text = id_it->is_number() && !meta.id_number_text.empty() ? meta.id_number_text
                                                                   : to_wire(*id_it);
  }
  const auto params_it = req.find("params");
  if (params_it != req.end() && !params_it->is_object() && !params_it->is_array() &&
      !params_it->is_null())
    return reject(id_text, error_code::invalid_request,
                  "Invalid request: 'params' must be an object or an array");

  // §1.7 dispatch.
  const std::string& name = method_it->get_ref<const std::string&>();
  const auto m = methods_.find(name);
  if (m == methods_.end())
    return reject(id_text, error_code::method_not_found,
                  fmt::format("Method not found: {}", quoted_name(name)));
  const MethodSpec& spec = m->second.spec;
  if (!callable(spec.states, state_))
    return reject(id_text, error_code::invalid_state,
                  state_ == AppState::startup ? kNotInitialized : kAlreadyInitialized);
  const json* params =
      params_it == req.end() || params_it->is_null() ? nullptr : &*params_it;
  if (params != nullptr && params->is_object() && !meta.duplicate_param.empty())
    return reject(id_text, error_code::invalid_params,
                  fmt::format("invalid parameters: duplicate key {}",
                              quoted_name(meta.duplicate_param)));

  auto call = std::make_shared<detail::CallState>();
  call->sink = sink_;
  call->session = sid;
  call->batch = batch;
  call->id_text = std::move(id_text);
  call->notification = notification;
  call->method = name;
  // The handler lives in a map node that stays put even if the handler
  // registers methods; copy it anyway so that it may replace itself.
  const MethodHandler handler = spec.handler;
  std::string failure;
  bool threw = false;
  try {
    handler(params, RpcResponder(call));
  } catch (const std::exception& e) {
    threw = true;
    failure = e.what();
  } catch (...) {
    threw = true;
    failure = "unknown exception";
  }
  call->handler_returned(threw ? &failure : nullptr);
  deliver_completions();
}

void RpcEngine::finish(std::uint64_t session, std::uint64_t batch, std::string text) {
  Session* s = find(SessionId{session});
  if (s == nullptr || s->closing) return;  // the connection is gone: drop
  if (batch == 0) {
    if (s->in_flight > 0) --s->in_flight;
    if (!text.empty()) append_output(*s, text);
    return;
  }
  const auto it = s->batches.find(batch);
  if (it == s->batches.end()) return;
  Batch& b = it->second;
  if (!text.empty()) b.parts.push_back(std::move(text));
  if (--b.remaining > 0) return;
  if (s->in_flight > 0) --s->in_flight;
  if (!b.parts.empty()) {
    std::string all = "[";
    for (std::size_t i = 0; i < b.parts.size(); ++i) {
      if (i > 0) all.push_back(',');
      all += b.parts[i];
    }
    all.push_back(']');
    append_output(*s, all);
  }
  s->batches.erase(it);
}

std::size_t RpcEngine::deliver_completions() {
  std::vector<detail::Completion> done = sink_->take();
  for (detail::Completion& c : done) finish(c.session, c.batch, std::move(c.text));
  return done.size();
}

bool RpcEngine::completions_pending() const { return !sink_->empty(); }

void RpcEngine::set_wake_fd(int fd) { sink_->set_wake_fd(fd); }

std::string_view RpcEngine::pending_output(SessionId id) const {
  const Session* s = find(id);
  if (s == nullptr) return {};
  return std::string_view(s->out).substr(s->out_head);
}

void RpcEngine::consume_output(SessionId id, std::size_t n) {
  Session* s = find(id);
  if (s == nullptr) return;
  s->out_head = std::min(s->out.size(), s->out_head + n);
  if (s->out_head == s->out.size()) {
    s->out.clear();
    s->out_head = 0;
  } else if (s->out_head >= 64 * 1024 && s->out_head * 2 >= s->out.size()) {
    s->out.erase(0, s->out_head);
    s->out_head = 0;
  }
}

bool RpcEngine::finished(SessionId id) const {
  const Session* s = find(id);
  if (s == nullptr) return true;
  const bool flushed = s->out_head == s->out.size();
  if (s->closing) return flushed;
  return s->eof && flushed && s->in_flight == 0 && s->in_head == s->in.size();
}

}  // namespace reactor::rpc
