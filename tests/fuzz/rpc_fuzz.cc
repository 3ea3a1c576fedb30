// libFuzzer target: bytes -> RpcEngine session (framing, parse, validation,
// dispatch, batches, answers), no sockets. The same entry points the server
// uses: feed(), end_of_input(), deliver_completions(), pending_output().
//
// Input layout: byte 0 selects how the rest is delivered
//   bits 0-1: chunking (all at once, 1 byte, 7 bytes, sizes taken from the
//             input itself), bit 2: application state STARTUP, bit 3: EOF
//             after the last chunk, bit 4: answer held requests in reverse.
// Oracles (abort on violation, so libFuzzer reports a crash):
//   - every byte written is ASCII and the output is a sequence of lines, each
//     a JSON object (or a non-empty array of objects) with "jsonrpc":"2.0",
//     an "id" and exactly one of "result"/"error";
//   - nothing is written after a -32700 answer and the session then reports
//     finished() once its output is consumed;
//   - every held (asynchronous) request is answered once released.
// Memory errors and undefined behaviour are caught by ASan/UBSan.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rpc/engine.hh"
#include "rpc/params.hh"

namespace {

using reactor::rpc::AppState;
using reactor::rpc::Decoding;
using reactor::rpc::MethodSpec;
using reactor::rpc::MethodStates;
using reactor::rpc::Presence;
using reactor::rpc::RpcEngine;
using reactor::rpc::RpcResponder;
using reactor::rpc::SessionId;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

[[noreturn]] void violation(const char* what, std::string_view detail) {
  std::fprintf(stderr, "rpc_fuzz: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void check_reply_object(const json& r, std::string_view line) {
  if (!r.is_object()) violation("reply is not an object", line);
  if (r.size() != 3 || r.value("jsonrpc", "") != "2.0" || !r.contains("id"))
    violation("reply members", line);
  const bool has_result = r.contains("result");
  const bool has_error = r.contains("error");
  if (has_result == has_error) violation("reply needs exactly one of result/error", line);
  if (has_error) {
    const json& e = r["error"];
    if (!e.is_object() || e.size() != 2 || !e["code"].is_number_integer() ||
        !e["message"].is_string())
      violation("error object", line);
  }
}

class Harness {
 public:
  explicit Harness(bool startup) {
    auto add = [&](const char* name, MethodStates states, reactor::rpc::MethodHandler h) {
      if (!engine_.add_method(name, MethodSpec{states, std::move(h)})) violation("add_method", name);
    };
    add("echo", MethodStates::both, [](const json* p, RpcResponder r) {
      r.result(p == nullptr ? ojson() : ojson(*p));
    });
    add("hold", MethodStates::both,
        [this](const json*, RpcResponder r) { held_.push_back(std::move(r)); });
    add("fail", MethodStates::both,
        [](const json*, RpcResponder r) { r.error(-32603, "failed \xc3\xa9"); });
    add("throws", MethodStates::both,
        [](const json*, RpcResponder) { throw std::runtime_error("thrown"); });
    add("forgets", MethodStates::both, [](const json*, RpcResponder) {});
    add("no_params", MethodStates::startup_only, [](const json* p, RpcResponder r) {
      if (auto ok = reactor::rpc::decode_no_params(p); !ok)
        r.error(-32602, ok.error().message);
      else
        r.result(true);
    });
    add("sched", MethodStates::runtime_only, [](const json* p, RpcResponder r) {
      std::optional<std::string> name;
      std::optional<std::uint64_t> period;
      std::optional<std::uint8_t> load;
      std::optional<std::uint32_t> core;
      std::optional<bool> flag;
      auto ok = reactor::rpc::decode_object(
          p,
          {reactor::rpc::field("name", name, Presence::required),
           reactor::rpc::field("period", period), reactor::rpc::field("load_limit", load),
           reactor::rpc::field("core", core), reactor::rpc::field("flag", flag)},
          Decoding::relaxed);
      if (!ok) {
        r.error(-32602, ok.error().message);
        return;
      }
      ojson out;
      out["name"] = *name;
      out["period"] = period.value_or(0);
      out["load_limit"] = load.value_or(0);
      r.result(out);
    });
    engine_.set_state(startup ? AppState::startup : AppState::runtime);
    sid_ = engine_.open_session();
  }

  void feed(std::string_view bytes) {
    std::size_t space = engine_.read_space(sid_);
    engine_.feed(sid_, bytes.substr(0, space));
    drain();
  }

  void release_one(bool newest_first) {
    if (held_.empty()) return;
    const std::size_t i = newest_first ? held_.size() - 1 : 0;
    RpcResponder r = std::move(held_[i]);
    held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
    if (i % 2 == 0)
      r.result(ojson::array({1, "x"}));
    else
      r.error(-1, "held");
    if (r.pending()) violation("answered responder still pending", r.method());
    drain();
  }

  void finish(bool eof, bool newest_first) {
    while (!held_.empty()) release_one(newest_first);
    if (eof) engine_.end_of_input(sid_);
    drain();
    if (eof && !engine_.finished(sid_)) violation("not finished after EOF", "");
    if (saw_parse_error_ && !engine_.finished(sid_))
      violation("not finished after a parse error", "");
  }

 private:
  void drain() {
    engine_.deliver_completions();
    engine_.pump(sid_);
    const std::string out(engine_.pending_output(sid_));
    engine_.consume_output(sid_, out.size());
    check(out);
  }

  void check(std::string_view out) {
    for (char c : out)
      if (static_cast<unsigned char>(c) >= 0x80) violation("non-ASCII output", out);
    if (!out.empty() && saw_parse_error_) violation("output after a parse error", out);
    while (!out.empty()) {
      const auto nl = out.find('\n');
      if (nl == std::string_view::npos) violation("reply without newline", out);
      const std::string_view line = out.substr(0, nl);
      out.remove_prefix(nl + 1);
      json v;
      try {
        v = json::parse(line);
      } catch (const json::exception&) {
        violation("reply is not JSON", line);
      }
      if (v.is_array()) {
        if (v.empty()) violation("empty batch reply", line);
        for (const json& r : v) check_reply_object(r, line);
      } else {
        check_reply_object(v, line);
        if (v.contains("error") && v["error"]["code"] == -32700) {
          if (!out.empty()) violation("bytes after a parse error", out);
          saw_parse_error_ = true;
        }
      }
    }
  }

  RpcEngine engine_;
  SessionId sid_{};
  std::vector<RpcResponder> held_;
  bool saw_parse_error_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  Harness h((control & 4) != 0);
  const bool newest_first = (control & 16) != 0;
  std::size_t step = 0;
  while (!rest.empty()) {
    std::size_t n = rest.size();
    switch (control & 3) {
      case 0: break;
      case 1: n = 1; break;
      case 2: n = 7; break;
      default: n = 1 + static_cast<unsigned char>(rest[0]) % 64; break;
    }
    n = std::min(n, rest.size());
    h.feed(rest.substr(0, n));
    rest.remove_prefix(n);
    if (++step % 3 == 0) h.release_one(newest_first);
  }
  h.finish((control & 8) != 0, newest_first);
  return 0;
}
