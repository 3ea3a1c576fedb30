// RpcEngine without sockets: framing, validation (rpc-compat.md §1.3), batches
// (§1.6), dispatch and state gating (§1.7), parse errors (§1.5) and the wire
// format of answers (§1.4). Every test feeds bytes into a session and checks
// the exact bytes that would be written back.

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rpc/engine.hh"
#include "rpc/params.hh"

namespace reactor::rpc {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    add("echo", MethodStates::both, [](const json* p, RpcResponder r) {
      r.result(p == nullptr ? ojson(nullptr) : ojson(*p));
    });
    add("fail", MethodStates::both, [](const json*, RpcResponder r) {
      r.error(error_code::internal_error, "it failed");
    });
    add("async", MethodStates::both,
        [this](const json*, RpcResponder r) { stash.push_back(std::move(r)); });
    add("startup_only", MethodStates::startup_only,
        [](const json*, RpcResponder r) { r.result(true); });
    add("runtime_only", MethodStates::runtime_only,
        [](const json*, RpcResponder r) { r.result(true); });
    add("throws", MethodStates::both,
        [](const json*, RpcResponder) { throw std::runtime_error("boom"); });
    add("forgets", MethodStates::both, [](const json*, RpcResponder) {});
    add("ordered", MethodStates::both, [](const json*, RpcResponder r) {
      ojson o;
      o["zeta"] = 1;
      o["alpha"] = 2;
      r.result(o);
    });
    add("text", MethodStates::both, [](const json* p, RpcResponder r) {
      r.result(ojson(p->at(0).get<std::string>()));
    });
    add("kind", MethodStates::both, [](const json* p, RpcResponder r) {
      const json& n = p->at("n");
      r.result(n.is_number_unsigned() ? "unsigned" : n.is_number_integer() ? "integer" : "float");
    });
    sid = engine.open_session();
  }

  void add(std::string name, MethodStates states, MethodHandler h) {
    ASSERT_TRUE(engine.add_method(std::move(name), MethodSpec{states, std::move(h)}));
  }

  // Everything written back so far (answers delivered first), consumed.
  std::string take(SessionId s) {
    engine.deliver_completions();
    std::string out(engine.pending_output(s));
    engine.consume_output(s, out.size());
    return out;
  }
  std::string take() { return take(sid); }
  std::string send(std::string_view bytes) {
    engine.feed(sid, bytes);
    return take();
  }

  RpcEngine engine;
  SessionId sid{};
  std::vector<RpcResponder> stash;
};

std::string err(std::string_view id, int code, std::string_view message) {
  ojson m(std::string{message});
  return std::string(R"({"jsonrpc":"2.0","id":)") + std::string(id) +
         R"(,"error":{"code":)" + std::to_string(code) + R"(,"message":)" + m.dump() + "}}\n";
}

// Parses one answer line and returns its error code (0 for a result).
int code_of(const std::string& line) {
  const json j = json::parse(line);
  return j.contains("error") ? j["error"]["code"].get<int>() : 0;
}

TEST_F(EngineTest, PrettyPrintedRequestWithoutTrailingNewline) {
  // What rpc.py sends: json.dumps(req, indent=2), no delimiter.
  const std::string req =
      "{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"echo\",\n  \"id\": 1,\n  \"params\": {\n"
      "    \"name\": \"dynamic\",\n    \"period\": 424242\n  }\n}";
  EXPECT_EQ(send(req),
            R"({"jsonrpc":"2.0","id":1,"result":{"name":"dynamic","period":424242}})"
            "\n");
}

TEST_F(EngineTest, RequestSplitByteByByte) {
  const std::string req = R"({"method":"echo","id":"x","params":[1,"}]\"",{"a":[]}]})";
  for (std::size_t i = 0; i + 1 < req.size(); ++i) {
    ASSERT_EQ(send(req.substr(i, 1)), "") << "answered after byte " << i;
  }
  EXPECT_EQ(send(req.substr(req.size() - 1)),
            R"({"jsonrpc":"2.0","id":"x","result":[1,"}]\"",{"a":[]}]})"
            "\n");
}

TEST_F(EngineTest, PipelinedRequestsInOneWrite) {
  EXPECT_EQ(send(R"({"method":"echo","id":1,"params":[1]}  {"method":"echo","id":2}[)"
                 R"({"method":"echo","id":3}])"
                 "\r\n\t "),
            R"({"jsonrpc":"2.0","id":1,"result":[1]})"
            "\n"
            R"({"jsonrpc":"2.0","id":2,"result":null})"
            "\n"
            R"([{"jsonrpc":"2.0","id":3,"result":null}])"
            "\n");
}

TEST_F(EngineTest, JsonrpcMemberIsOptional) {
  EXPECT_EQ(send(R"({"method":"echo","id":7})"), R"({"jsonrpc":"2.0","id":7,"result":null})"
                                                 "\n");
}

TEST_F(EngineTest, ParamsNullIsLikeAbsent) {
  EXPECT_EQ(send(R"({"method":"echo","id":7,"params":null})"),
            R"({"jsonrpc":"2.0","id":7,"result":null})"
            "\n");
}

// ---- §1.3: every -32600 row ----

struct InvalidRow {
  const char* request;
  const char* id;  // echoed id
};

class InvalidRequestTest : public EngineTest, public ::testing::WithParamInterface<InvalidRow> {};

TEST_P(InvalidRequestTest, AnsweredInvalidRequest) {
  const std::string out = send(GetParam().request);
  ASSERT_FALSE(out.empty());
  const json j = json::parse(out);
  EXPECT_EQ(j["error"]["code"], error_code::invalid_request) << out;
  EXPECT_EQ(j["id"].dump(), GetParam().id) << out;
  EXPECT_EQ(j["error"]["message"].get<std::string>().rfind("Invalid request", 0), 0U) << out;
  EXPECT_TRUE(engine.read_space(sid) > 0) << "the connection stays usable";
  EXPECT_EQ(send(R"({"method":"echo","id":9})"), R"({"jsonrpc":"2.0","id":9,"result":null})"
                                                 "\n");
}

INSTANTIATE_TEST_SUITE_P(
    Rows, InvalidRequestTest,
    ::testing::Values(
        // top level not an object or array
        InvalidRow{R"("just a string")", "null"}, InvalidRow{"true", "null"},
        InvalidRow{"null", "null"}, InvalidRow{"42 ", "null"},
        // unknown or duplicated member
        InvalidRow{R"({"method":"echo","id":1,"foo":2})", "null"},
        InvalidRow{R"({"method":"echo","id":1,"id":2})", "null"},
        InvalidRow{R"({"method":"echo","method":"echo","id":1})", "null"},
        // jsonrpc present but not "2.0"
        InvalidRow{R"({"jsonrpc":"1.0","method":"echo","id":1})", "null"},
        InvalidRow{R"({"jsonrpc":2.0,"method":"echo","id":1})", "null"},
        InvalidRow{R"({"jsonrpc":null,"method":"echo","id":1})", "null"},
        // method missing or not a string
        InvalidRow{R"({"id":1})", "null"}, InvalidRow{R"({"method":5,"id":1})", "null"},
        InvalidRow{R"({"method":null,"id":1})", "null"},
        // id present but not a string, number or null
        InvalidRow{R"({"method":"echo","id":[1]})", "null"},
        InvalidRow{R"({"method":"echo","id":{}})", "null"},
        InvalidRow{R"({"method":"echo","id":true})", "null"},
        // params present but not an object, array or null: the id is echoed
        InvalidRow{R"({"method":"echo","id":1,"params":5})", "1"},
        InvalidRow{R"({"method":"echo","id":"s","params":"x"})", R"("s")"},
        InvalidRow{R"({"method":"echo","id":3,"params":true})", "3"},
        InvalidRow{R"({"method":"echo","params":true})", "null"}));

// ---- §1.6 batches ----

TEST_F(EngineTest, EmptyBatchIsOneUnwrappedError) {
  EXPECT_EQ(send("[]"), err("null", error_code::invalid_request, "Invalid request: empty batch"));
}

TEST_F(EngineTest, MixedBatch) {
  const std::string out =
      send(R"([{"method":"echo","id":1},{"method":"echo"},5,{"method":"nope","id":"n"},)"
           R"({"method":"fail","id":2},{"method":"nope"}])");
  const json j = json::parse(out);
  ASSERT_TRUE(j.is_array()) << out;
  ASSERT_EQ(j.size(), 5U) << out;  // the successful notification is omitted
  EXPECT_EQ(j[0], json::parse(R"({"jsonrpc":"2.0","id":1,"result":null})"));
  EXPECT_EQ(j[1]["error"]["code"], error_code::invalid_request);
  EXPECT_TRUE(j[1]["id"].is_null());
  EXPECT_EQ(j[2]["error"]["code"], error_code::method_not_found);
  EXPECT_EQ(j[2]["id"], "n");
  EXPECT_EQ(j[3]["error"]["code"], error_code::internal_error);
  EXPECT_EQ(j[4]["error"]["code"], error_code::method_not_found);  // notification error is sent
  EXPECT_TRUE(j[4]["id"].is_null());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line for the whole batch";
}

TEST_F(EngineTest, BatchOfSuccessfulNotificationsSendsNothing) {
  EXPECT_EQ(send(R"([{"method":"echo"},{"method":"echo","id":null}])"), "");
  EXPECT_EQ(send(R"({"method":"echo","id":1})"), R"({"jsonrpc":"2.0","id":1,"result":null})"
                                                 "\n");
}

TEST_F(EngineTest, BatchWaitsForItsAsynchronousElementAndKeepsCompletionOrder) {
  EXPECT_EQ(send(R"([{"method":"async","id":1},{"method":"echo","id":2}])"), "");
  ASSERT_EQ(stash.size(), 1U);
  stash[0].result("late");
  EXPECT_EQ(take(), R"([{"jsonrpc":"2.0","id":2,"result":null},{"jsonrpc":"2.0","id":1,"result":"late"}])"
                    "\n");
}

// ---- notifications ----

TEST_F(EngineTest, NotificationSuccessSendsNothingButErrorsAreSent) {
  EXPECT_EQ(send(R"({"method":"echo"})"), "");
  EXPECT_EQ(send(R"({"method":"echo","id":null})"), "");
  EXPECT_EQ(send(R"({"method":"fail"})"), err("null", error_code::internal_error, "it failed"));
  EXPECT_EQ(code_of(send(R"({"method":"nope","id":null})")), error_code::method_not_found);
}

// ---- §1.5 parse errors ----

TEST_F(EngineTest, ParseErrorIsAnsweredThenTheSessionCloses) {
  const std::string out = send(R"({"method":"echo","id":1}{"method":})");
  const auto nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  EXPECT_EQ(out.substr(0, nl + 1), R"({"jsonrpc":"2.0","id":1,"result":null})"
                                   "\n");
  const json e = json::parse(out.substr(nl + 1));
  EXPECT_EQ(e["error"]["code"], error_code::parse_error);
  EXPECT_TRUE(e["id"].is_null());
  EXPECT_EQ(e["error"]["message"].get<std::string>().rfind("Parse error: invalid JSON", 0), 0U);
  EXPECT_TRUE(engine.finished(sid));
  EXPECT_EQ(engine.read_space(sid), 0U);
  EXPECT_EQ(send(R"({"method":"echo","id":2})"), "") << "nothing is read after a parse error";
}

TEST_F(EngineTest, GarbageIsRejectedBeforeTheTextCouldEnd) {
  // No closing brace will ever make this valid: answered at once.
  EXPECT_EQ(code_of(send(R"({"method": @)")), error_code::parse_error);
  EXPECT_TRUE(engine.finished(sid));
}

TEST_F(EngineTest, ParseErrorCases) {
  const char* cases[] = {
      "}",                                   // stray closer
      R"({"method":"echo","id":1])",         // mismatched bracket
      "/* comment */ {}",                    // comments are not JSON
      "nul!",                                // bad literal
      "{\"method\":\"echo\",\"id\":1,\"params\":[\"\x01\"]}",  // raw control character
      "{\"method\":\"ec\xff\xfeho\",\"id\":1}",                  // invalid UTF-8
      R"({"method":"echo","id":01})",        // leading zero
      R"({"method":"echo","id":1e400})",     // not representable
  };
  for (const char* c : cases) {
    RpcEngine e;
    const SessionId s = e.open_session();
    e.feed(s, c);
    const std::string out(e.pending_output(s));
    ASSERT_FALSE(out.empty()) << c;
    EXPECT_EQ(code_of(out), error_code::parse_error) << c << " -> " << out;
    EXPECT_FALSE(e.finished(s)) << "the answer is written first";
    e.consume_output(s, out.size());
    EXPECT_TRUE(e.finished(s)) << c;
  }
}

std::string nested(std::size_t depth) {
  // depth counts every open container, the request object included.
  return R"({"method":"echo","id":1,"params":)" + std::string(depth - 1, '[') +
         std::string(depth - 1, ']') + "}";
}

TEST_F(EngineTest, DepthSixtyFourIsAcceptedSixtyFiveIsAParseError) {
  EXPECT_EQ(code_of(send(nested(64))), 0);
  const std::string out = send(nested(65));
  EXPECT_EQ(code_of(out), error_code::parse_error);
  EXPECT_NE(out.find("nesting deeper than 64 levels"), std::string::npos) << out;
  EXPECT_TRUE(engine.finished(sid));
}

std::string with_tokens(std::size_t tokens) {
  // {"method":"echo","id":1,"params":[0,...]}: 9 tokens plus one per element.
  std::string s = R"({"method":"echo","id":1,"params":[)";
  for (std::size_t i = 0; i + 9 < tokens; ++i) s += i == 0 ? "0" : ",0";
  return s + "]}";
}

TEST_F(EngineTest, TokenLimitIs8192) {
  EXPECT_EQ(code_of(send(with_tokens(8192))), 0);
  const std::string out = send(with_tokens(8193));
  EXPECT_EQ(code_of(out), error_code::parse_error);
  EXPECT_NE(out.find("more than 8192 JSON tokens"), std::string::npos) << out;
}

TEST_F(EngineTest, RequestOfExactly256KiBIsServed) {
  std::string req = R"({"method":"echo","id":1,"params":[""]})";
  req.insert(req.size() - 3, std::string(kMaxRequestBytes - req.size(), 'a'));
  ASSERT_EQ(req.size(), kMaxRequestBytes);
  const std::string out = send(req);
  EXPECT_EQ(code_of(out), 0);
}

TEST_F(EngineTest, RequestOver256KiBIsAnsweredAndTheSessionCloses) {
  std::string req = R"({"method":"echo","id":1,"params":[""]})";
  req.insert(req.size() - 3, std::string(300 * 1024, 'a'));
  std::size_t fed = 0;
  while (fed < req.size() && engine.read_space(sid) > 0) {
    const std::size_t n = std::min<std::size_t>(engine.read_space(sid), 10000);
    engine.feed(sid, std::string_view(req).substr(fed, n));
    fed += n;
  }
  EXPECT_LT(fed, req.size());
  EXPECT_EQ(take(), err("null", error_code::parse_error, "Parse error: request exceeds 256 KiB"));
  EXPECT_TRUE(engine.finished(sid));
}

TEST_F(EngineTest, WhitespaceBetweenRequestsNeverFillsTheBuffer) {
  for (int i = 0; i < 100; ++i) engine.feed(sid, std::string(10000, ' '));
  EXPECT_EQ(engine.read_space(sid), kMaxRequestBytes);
  EXPECT_EQ(send(R"({"method":"echo","id":1})"), R"({"jsonrpc":"2.0","id":1,"result":null})"
                                                 "\n");
}

// ---- §1.7 dispatch ----

TEST_F(EngineTest, UnknownMethod) {
  EXPECT_EQ(send(R"({"method":"nope","id":5})"),
            err("5", error_code::method_not_found, "Method not found: 'nope'"));
}

TEST_F(EngineTest, StateGatingMessagesAreSpdks) {
  engine.set_state(AppState::startup);
  EXPECT_EQ(send(R"({"method":"runtime_only","id":1})"),
            err("1", error_code::invalid_state,
                "Method may only be called after framework is initialized using "
                "framework_start_init RPC."));
  EXPECT_EQ(code_of(send(R"({"method":"startup_only","id":2})")), 0);
  engine.set_state(AppState::runtime);
  EXPECT_EQ(send(R"({"method":"startup_only","id":3})"),
            err("3", error_code::invalid_state,
                "Method may only be called before framework is initialized. Use --wait-for-rpc "
                "command line parameter and then issue this RPC before the framework_start_init "
                "RPC."));
  EXPECT_EQ(code_of(send(R"({"method":"runtime_only","id":4})")), 0);
}

TEST_F(EngineTest, DuplicateParamsKeyIsInvalidParams) {
  EXPECT_EQ(send(R"({"method":"echo","id":1,"params":{"a":1,"b":2,"a":3}})"),
            err("1", error_code::invalid_params, "invalid parameters: duplicate key 'a'"));
  // Duplicates deeper inside params are not the decoder's concern.
  EXPECT_EQ(code_of(send(R"({"method":"echo","id":2,"params":{"a":{"x":1,"x":2}}})")), 0);
}

TEST_F(EngineTest, IntegralFloatsReachHandlersAsIntegers) {
  EXPECT_EQ(send(R"({"method":"kind","id":1,"params":{"n":1.0}})"),
            R"({"jsonrpc":"2.0","id":1,"result":"unsigned"})"
            "\n");
  EXPECT_EQ(send(R"({"method":"kind","id":1,"params":{"n":1e3}})"),
            R"({"jsonrpc":"2.0","id":1,"result":"unsigned"})"
            "\n");
  EXPECT_EQ(send(R"({"method":"kind","id":1,"params":{"n":-2.0}})"),
            R"({"jsonrpc":"2.0","id":1,"result":"integer"})"
            "\n");
  EXPECT_EQ(send(R"({"method":"kind","id":1,"params":{"n":1.5}})"),
            R"({"jsonrpc":"2.0","id":1,"result":"float"})"
            "\n");
}

// ---- §1.4 wire format ----

TEST_F(EngineTest, IdsAreEchoedVerbatim) {
  EXPECT_EQ(send(R"({"method":"echo","id":1.50})"), R"({"jsonrpc":"2.0","id":1.50,"result":null})"
                                                    "\n");
  EXPECT_EQ(send(R"({"method":"echo","id":-0})"), R"({"jsonrpc":"2.0","id":-0,"result":null})"
                                                  "\n");
  EXPECT_EQ(send(R"({"method":"echo","id":1E+2})"), R"({"jsonrpc":"2.0","id":1E+2,"result":null})"
                                                    "\n");
  EXPECT_EQ(send(R"({"method":"echo","id":123456789012345678901234567890})"),
            R"({"jsonrpc":"2.0","id":123456789012345678901234567890,"result":null})"
            "\n");
  EXPECT_EQ(send(R"({"id" : 18446744073709551615 , "method":"echo"})"),
            R"({"jsonrpc":"2.0","id":18446744073709551615,"result":null})"
            "\n");
  EXPECT_EQ(send(R"({"method":"echo","id":"a\"b\\c\u00e9\/d"})"),
            R"({"jsonrpc":"2.0","id":"a\"b\\c\u00E9/d","result":null})"
            "\n");
  // Batch elements keep their own id text.
  EXPECT_EQ(send(R"([{"method":"echo","id":2.0},{"method":"echo","id":3.00}])"),
            R"([{"jsonrpc":"2.0","id":2.0,"result":null},{"jsonrpc":"2.0","id":3.00,"result":null}])"
            "\n");
}

TEST_F(EngineTest, AnswersArePureAsciiWithUpperCaseEscapes) {
  const std::string out =
      send("{\"method\":\"text\",\"id\":1,\"params\":[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/"
           "\\u001f\\n\"]}");
  EXPECT_EQ(out,
            R"({"jsonrpc":"2.0","id":1,"result":"\u00E9\u20AC\uD83D\uDE00/\u001F\n"})"
            "\n");
  for (char c : out) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
}

TEST_F(EngineTest, OrderedResultKeepsMemberOrder) {
  EXPECT_EQ(send(R"({"method":"ordered","id":1})"),
            R"({"jsonrpc":"2.0","id":1,"result":{"zeta":1,"alpha":2}})"
            "\n");
}

// ---- asynchronous answers ----

TEST_F(EngineTest, AsyncAnswerComesLaterInCompletionOrder) {
  EXPECT_EQ(send(R"({"method":"async","id":1}{"method":"echo","id":2})"),
            R"({"jsonrpc":"2.0","id":2,"result":null})"
            "\n");
  ASSERT_EQ(stash.size(), 1U);
  EXPECT_TRUE(stash[0].pending());
  EXPECT_EQ(stash[0].method(), "async");
  stash[0].result(42);
  EXPECT_FALSE(stash[0].pending());
  EXPECT_EQ(take(), R"({"jsonrpc":"2.0","id":1,"result":42})"
                    "\n");
  stash[0].result(43);  // a second answer is ignored
  EXPECT_EQ(take(), "");
}

TEST_F(EngineTest, AsyncNotificationSendsNothing) {
  EXPECT_EQ(send(R"({"method":"async"})"), "");
  ASSERT_EQ(stash.size(), 1U);
  EXPECT_TRUE(stash[0].is_notification());
  stash[0].result(1);
  EXPECT_EQ(take(), "");
}

TEST_F(EngineTest, AnswerForAClosedSessionIsDropped) {
  EXPECT_EQ(send(R"({"method":"async","id":1})"), "");
  const SessionId other = engine.open_session();
  engine.close_session(sid);
  ASSERT_EQ(stash.size(), 1U);
  stash[0].result("nobody listens");
  EXPECT_EQ(engine.deliver_completions(), 1U);
  EXPECT_EQ(engine.pending_output(sid), "");
  EXPECT_EQ(engine.pending_output(other), "");
  engine.feed(other, R"({"method":"echo","id":1})");
  EXPECT_EQ(take(other), R"({"jsonrpc":"2.0","id":1,"result":null})"
                         "\n");
}

TEST_F(EngineTest, ResponderOutlivingTheEngineIsHarmless) {
  RpcResponder kept;
  {
    RpcEngine e;
    ASSERT_TRUE(e.add_method("keep", MethodSpec{MethodStates::both,
                                                [&](const json*, RpcResponder r) { kept = std::move(r); }}));
    const SessionId s = e.open_session();
    e.feed(s, R"({"method":"keep","id":1})");
    EXPECT_TRUE(kept.pending());
  }
  kept.result(1);  // the engine is gone: dropped
  EXPECT_FALSE(kept.pending());
}

TEST_F(EngineTest, ThrowingHandlerIsAnsweredInternalError) {
  EXPECT_EQ(send(R"({"method":"throws","id":1})"),
            err("1", error_code::internal_error, "Internal error: method 'throws' failed: boom"));
}

TEST_F(EngineTest, HandlerThatForgetsToAnswerIsAnsweredInternalError) {
  EXPECT_EQ(send(R"({"method":"forgets","id":1})"),
            err("1", error_code::internal_error,
                "Internal error: method 'forgets' returned without replying"));
}

TEST_F(EngineTest, StashedResponderDestroyedUnansweredAnswersInternalError) {
  EXPECT_EQ(send(R"({"method":"async","id":1})"), "");
  stash.clear();
  EXPECT_EQ(take(), err("1", error_code::internal_error,
                        "Internal error: method 'async' dropped the request without replying"));
}

// ---- end of input and backpressure ----

TEST_F(EngineTest, EndOfInputServesWhatArrivedAndAnswersAnIncompleteTail) {
  engine.feed(sid, R"({"method":"async","id":1} {"method":"echo","id":2} {"method":)");
  EXPECT_TRUE(engine.request_started(sid));
  EXPECT_TRUE(engine.serving(sid)) << "request 1 is in flight";
  engine.end_of_input(sid);
  EXPECT_EQ(engine.read_space(sid), 0U);
  EXPECT_FALSE(engine.request_started(sid));
  EXPECT_EQ(take(), R"({"jsonrpc":"2.0","id":2,"result":null})"
                    "\n" +
                        err("null", error_code::parse_error, "Parse error: request ended before it was complete"));
  EXPECT_FALSE(engine.finished(sid)) << "request 1 is still being served";
  stash[0].result(1);
  EXPECT_EQ(take(), R"({"jsonrpc":"2.0","id":1,"result":1})"
                    "\n");
  EXPECT_TRUE(engine.finished(sid));
}

TEST_F(EngineTest, EndOfInputAfterWhitespaceOnlyAnswersNothing) {
  engine.feed(sid, "{\"method\":\"echo\",\"id\":1}  \n\t ");
  EXPECT_FALSE(engine.request_started(sid)) << "whitespace does not start a request";
  engine.end_of_input(sid);
  EXPECT_EQ(take(), R"({"jsonrpc":"2.0","id":1,"result":null})"
                    "\n");
  EXPECT_TRUE(engine.finished(sid));
}

TEST_F(EngineTest, AbandonedRequestIsAnsweredAndFinishesTheSession) {
  engine.feed(sid, R"({"method":"echo","id":1} {"meth)");
  EXPECT_TRUE(engine.request_started(sid));
  engine.abandon_request(sid, "request not completed within 10 s");
  EXPECT_EQ(take(), R"({"jsonrpc":"2.0","id":1,"result":null})"
                    "\n" +
                        err("null", error_code::parse_error, "Parse error: request not completed within 10 s"));
  EXPECT_FALSE(engine.request_started(sid));
  EXPECT_TRUE(engine.finished(sid));
}

TEST(EngineLimits, OutputBackpressurePausesReading) {
  SessionLimits limits;
  limits.output_high_water = 100;
  RpcEngine e(limits);
  const SessionId s = e.open_session();
  std::string reqs;
  for (int i = 0; i < 10; ++i) reqs += R"({"method":"rpc_get_methods","id":1})";
  e.feed(s, reqs);
  EXPECT_EQ(e.read_space(s), 0U) << "paused with answers unwritten";
  std::size_t answers = 0;
  for (int round = 0; round < 20 && answers < 10; ++round) {
    const std::string out(e.pending_output(s));
    for (char c : out) answers += c == '\n';
    e.consume_output(s, out.size());
    e.pump(s);
  }
  EXPECT_EQ(answers, 10U);
  EXPECT_GT(e.read_space(s), 0U);
}

TEST(EngineLimits, InFlightLimitPausesReading) {
  SessionLimits limits;
  limits.max_in_flight = 2;
  RpcEngine e(limits);
  std::vector<RpcResponder> held;
  ASSERT_TRUE(e.add_method("hold", MethodSpec{MethodStates::both, [&](const json*, RpcResponder r) {
                                                held.push_back(std::move(r));
                                              }}));
  const SessionId s = e.open_session();
  e.feed(s, R"({"method":"hold","id":1}{"method":"hold","id":2}{"method":"hold","id":3})");
  EXPECT_EQ(held.size(), 2U);
  EXPECT_EQ(e.read_space(s), 0U);
  held[0].result(1);
  e.deliver_completions();
  e.pump(s);
  EXPECT_EQ(held.size(), 3U);
}

// ---- rpc_get_methods ----

TEST_F(EngineTest, RpcGetMethods) {
  auto names = [&](std::string_view req) {
    const json j = json::parse(send(req));
    EXPECT_TRUE(j.contains("result")) << j.dump();
    return j.value("result", json::array());
  };
  const json all = names(R"({"method":"rpc_get_methods","id":1})");
  EXPECT_EQ(all.front(), "kind") << "most recently registered first";
  EXPECT_EQ(all.back(), "rpc_get_methods");
  EXPECT_NE(std::find(all.begin(), all.end(), "startup_only"), all.end());

  // What rpc.py always sends.
  const json same = names(R"({"method":"rpc_get_methods","id":1,"params":{"current":false,"include_aliases":false}})");
  EXPECT_EQ(same, all);
  const json current = names(R"({"method":"rpc_get_methods","id":1,"params":{"current":true}})");
  EXPECT_EQ(std::find(current.begin(), current.end(), "startup_only"), current.end());
  EXPECT_NE(std::find(current.begin(), current.end(), "runtime_only"), current.end());

  ASSERT_TRUE(engine.add_alias("echo_alias", "echo"));
  EXPECT_EQ(names(R"({"method":"rpc_get_methods","id":1})"), all);
  const json with_aliases =
      names(R"({"method":"rpc_get_methods","id":1,"params":{"include_aliases":true}})");
  EXPECT_EQ(with_aliases.front(), "echo_alias");
  EXPECT_EQ(code_of(send(R"({"method":"echo_alias","id":1})")), 0);

  EXPECT_EQ(send(R"({"method":"rpc_get_methods","id":1,"params":{"current":1}})"),
            err("1", error_code::invalid_params,
                "invalid parameters: 'current' must be true or false, got 1"));
  EXPECT_EQ(code_of(send(R"({"method":"rpc_get_methods","id":1,"params":[]})")),
            error_code::invalid_params);
  EXPECT_EQ(code_of(send(R"({"method":"rpc_get_methods","id":1,"params":{"x":true}})")),
            error_code::invalid_params);
}

TEST(EngineRegistry, RegistrationErrors) {
  RpcEngine e;
  EXPECT_EQ(e.add_method("rpc_get_methods", MethodSpec{MethodStates::both, [](const json*, RpcResponder) {}})
                .error()
                .code,
            Errc::exists);
  EXPECT_EQ(e.add_method("x", MethodSpec{}).error().code, Errc::invalid_argument);
  EXPECT_EQ(e.add_alias("y", "missing").error().code, Errc::not_found);
}

}  // namespace
}  // namespace reactor::rpc
