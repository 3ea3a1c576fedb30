// The bad-input table against a running reactord: every row is one request
// with its exact error (code and message), followed by a check that the
// daemon still answers and that nothing changed (scheduler, options, period,
// transition count, threads and their pollers). The daemon runs with
// --governor none so that gscheduler must be refused.

#include <gtest/gtest.h>

#include <reactor/cpuset.hh>

#include "reactord_daemon.hh"

using namespace reactor;
using namespace reactor::test;
using ojson = nlohmann::ordered_json;

namespace {

constexpr const char* kAlreadyInitialized =
    "Method may only be called before framework is initialized. Use --wait-for-rpc command line parameter and then "
    "issue this RPC before the framework_start_init RPC.";

struct Row {
  std::string method;
  std::string params;  // raw JSON text; empty: no "params" member
  int code;
  std::string message;
};

class ReactordErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(std::vector<std::string>{"-m", two_cores(), "--mode", "interrupt", "--governor",
                                                                "none", "--log-level", "error"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->stderr_text();
    client_ = daemon_->client();
  }

  // Everything an erroneous request must leave alone.
  std::string state() {
    json s;
    s["scheduler"] = call_ok(client_, "framework_get_scheduler");
    s["transitions"] = call_ok(client_, "scheduler_get_history")["transitions_total"];
    json threads = json::array();
    const json pollers_reply = call_ok(client_, "thread_get_pollers");
    for (const auto& t : pollers_reply["threads"]) {
      json pollers = json::array();
      for (const auto& p : t["timed_pollers"]) pollers.push_back(p["id"]);
      threads.push_back(json{{"id", t["id"]}, {"name", t["name"]}, {"timed", pollers}});
    }
    s["threads"] = threads;
    return s.dump();
  }

  void run_table(const std::vector<Row>& rows) {
    RawConnection c(daemon_->socket());
    ASSERT_TRUE(c.ok());
    const std::string before = state();
    int id = 100;
    for (const Row& row : rows) {
      ++id;
      std::string req = fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"{}")", id, row.method);
      if (!row.params.empty()) req += fmt::format(R"(,"params":{})", row.params);
      req += "}";
      ASSERT_TRUE(c.send(req)) << req;
      auto line = c.read_line();
      ASSERT_TRUE(line) << "no reply to " << req << "\n" << daemon_->stderr_text();
      ojson expected;
      expected["jsonrpc"] = "2.0";
      expected["id"] = id;
      expected["error"] = ojson{{"code", row.code}, {"message", row.message}};
      EXPECT_EQ(*line, expected.dump()) << "request: " << req;
      EXPECT_EQ(state(), before) << "state changed after " << req;
    }
  }

  std::unique_ptr<Daemon> daemon_;
  rpc::RpcClient client_;
};

TEST_F(ReactordErrors, BadInputTable) {
  const std::string cores = two_cores();
  const std::string reactor_list = CpuSet::parse_list(cores)->to_list();
  const uint32_t c0 = static_cast<uint32_t>(std::stoul(cores));
  const bool two = cores.find(',') != std::string::npos;
  const uint32_t c1 = two ? static_cast<uint32_t>(std::stoul(cores.substr(cores.find(',') + 1))) : c0;

  // A load thread pinned to the first core, and dynamic with non-default
  // options: the refused requests below must leave all of it as it is.
  const json created = call_ok(client_, "scheduler_thread_create",
                               json{{"active", 10}, {"name", "pinned"}, {"cpu_mask", fmt::format("[{}]", c0)}});
  ASSERT_TRUE(created.is_number_unsigned());
  const uint64_t tid = created.get<uint64_t>();
  call_ok(client_, "framework_set_scheduler", json{{"name", "dynamic"}, {"period", 300000}, {"core_limit", 70}});

  // Type errors name what the method accepts, not the range of the type.
  const std::string kPeriod = "0 (keep the current one) or 10000-31536000000000 microseconds (10 ms to one year)";
  const std::string kThreadId = "a thread id (an integer from 1, as scheduler_thread_create returned)";
  std::vector<Row> rows = {
      // unknown method; parameters where none are taken (SPDK's texts)
      {"nope", "", -32601, "Method not found: 'nope'"},
      {"spdk_get_version", "{}", -32602, "spdk_get_version method requires no parameters"},
      {"framework_get_scheduler", "[]", -32602, "'rpc_get_scheduler' requires no arguments"},
      {"framework_get_reactors", R"({"a":1})", -32602, "`framework_get_reactors` requires no arguments"},
      {"reactor_get_reactor_stats", R"({"a":1})", -32602, "'reactor_get_reactor_stats' requires no arguments"},
      {"framework_get_governor", "{}", -32602, "'rpc_get_governor' requires no arguments"},
      {"thread_get_stats", "{}", -32602, "'thread_get_stats' requires no arguments"},
      {"thread_get_pollers", "{}", -32602, "'thread_get_pollers' requires no arguments"},
      {"framework_get_subsystems", "{}", -32602, "'framework_get_subsystems' requires no arguments"},
      {"scheduler_get_history", "{}", -32602, "'scheduler_get_history' requires no arguments"},
      {"rpc_get_methods", R"({"current":1})", -32602, "invalid parameters: 'current' must be true or false, got 1"},
      {"rpc_get_methods", R"({"verbose":true})", -32602,
       "invalid parameters: unknown key 'verbose' (known: current, include_aliases)"},
      // framework_set_scheduler: decoding (relaxed, but typed)
      {"framework_set_scheduler", "", -32602,
       "Invalid parameters: expected an object with name, period, mappings, got none"},
      {"framework_set_scheduler", "[]", -32602, "Invalid parameters: expected an object, got []"},
      {"framework_set_scheduler", R"({"period":5})", -32602, "Invalid parameters: missing required key 'name'"},
      {"framework_set_scheduler", R"({"name":5})", -32602, "Invalid parameters: 'name' must be a string, got 5"},
      {"framework_set_scheduler", R"({"name":null})", -32602, "Invalid parameters: 'name' must be a string, got null"},
      {"framework_set_scheduler", R"({"name":"dynamic","period":"5"})", -32602,
       "Invalid parameters: 'period' must be " + kPeriod + R"(, got "5")"},
      {"framework_set_scheduler", R"({"name":"dynamic","period":-1})", -32602,
       "Invalid parameters: 'period' must be " + kPeriod + ", got -1"},
      {"framework_set_scheduler", R"({"name":"dynamic","period":1.5})", -32602,
       "Invalid parameters: 'period' must be " + kPeriod + ", got 1.5"},
      {"framework_set_scheduler", R"({"name":"dynamic","period":31536000000001})", -32602,
       "Invalid parameters: 'period' must be 0 (keep the current one) or 10000-31536000000000 microseconds "
       "(10 ms to one year), got 31536000000001"},
      // SPDK accepts 1 us and then burns a CPU running rounds: refused below 10 ms
      {"framework_set_scheduler", R"({"name":"dynamic","period":100})", -32602,
       "Invalid parameters: 'period' must be 0 (keep the current one) or 10000-31536000000000 microseconds "
       "(10 ms to one year), got 100"},
      {"framework_set_scheduler", R"({"name":"dynamic","name":"static"})", -32602,
       "invalid parameters: duplicate key 'name'"},
      // percentages over 100
      {"framework_set_scheduler", R"({"name":"dynamic","load_limit":101})", -32602,
       "Invalid parameters: 'load_limit' must be an integer 0-100, got 101"},
      {"framework_set_scheduler", R"({"name":"dynamic","core_limit":255})", -32602,
       "Invalid parameters: 'core_limit' must be an integer 0-100, got 255"},
      {"framework_set_scheduler", R"({"name":"dynamic","core_busy":"95"})", -32602,
       R"(Invalid parameters: 'core_busy' must be an integer 0-100, got "95")"},
      {"framework_set_scheduler", R"({"name":"static","mappings":7})", -32602,
       "Invalid parameters: 'mappings' must be a string, got 7"},
      // unknown scheduler; gscheduler without a governor
      {"framework_set_scheduler", R"({"name":"foo"})", -32603,
       "unknown scheduler 'foo'; known: static, dynamic, gscheduler"},
      {"framework_set_scheduler", R"({"name":"Static"})", -32603,
       "unknown scheduler 'Static'; known: static, dynamic, gscheduler"},
      {"framework_set_scheduler", R"({"name":"gscheduler"})", -32603,
       "gscheduler needs a governor: disabled (--governor none)"},
      {"framework_set_scheduler", R"({"name":"global","period":100000})", -32603,
       "gscheduler needs a governor: disabled (--governor none)"},
      // options the target does not take
      {"framework_set_scheduler", R"({"name":"static","load_limit":10})", -32603,
       "static does not take load_limit (a dynamic option); static takes mappings"},
      {"framework_set_scheduler", R"({"name":"dynamic","mappings":"1:0"})", -32603,
       "dynamic does not take mappings (a static option); dynamic takes load_limit, core_limit, core_busy, "
       "numa_local, smt_last, keep_asleep and main_room"},
      // the placement options (our extension): booleans, dynamic only
      {"framework_set_scheduler", R"({"name":"dynamic","numa_local":1})", -32602,
       "Invalid parameters: 'numa_local' must be true or false, got 1"},
      {"framework_set_scheduler", R"({"name":"dynamic","smt_last":"true"})", -32602,
       R"(Invalid parameters: 'smt_last' must be true or false, got "true")"},
      {"framework_set_scheduler", R"({"name":"dynamic","keep_asleep":null})", -32602,
       "Invalid parameters: 'keep_asleep' must be true or false, got null"},
      {"framework_set_scheduler", R"({"name":"static","numa_local":false})", -32603,
       "static does not take numa_local (a dynamic option); static takes mappings"},
      {"framework_set_scheduler", R"({"name":"static","keep_asleep":true})", -32603,
       "static does not take keep_asleep (a dynamic option); static takes mappings"},
      // malformed mappings
      {"framework_set_scheduler", R"({"name":"static","mappings":"1-2"})", -32603,
       "mapping '1-2': expected '<thread_id>:<core>'"},
      {"framework_set_scheduler", R"({"name":"static","mappings":"x:1"})", -32603,
       "mapping 'x:1': thread id 'x' is not a decimal number"},
      {"framework_set_scheduler", R"({"name":"static","mappings":"1:"})", -32603,
       "mapping '1:': core '' is not a decimal number"},
      {"framework_set_scheduler", R"({"name":"static","mappings":""})", -32603,
       "mappings is empty: expected '<thread_id>:<core>[,<thread_id>:<core>...]'"},
      {"framework_set_scheduler", R"({"name":"static","mappings":"0:0"})", -32603,
       "mapping '0:0': thread id 0 is not valid (ids start at 1)"},
      {"framework_set_scheduler", fmt::format(R"({{"name":"static","mappings":"{0}:5000"}})", tid), -32603,
       fmt::format("mapping '{}:5000': core 5000 is out of range (max 1023)", tid)},
      {"framework_set_scheduler", fmt::format(R"({{"name":"static","mappings":"{0}:{1},{0}:{1}"}})", tid, c0), -32603,
       fmt::format("mapping '{0}:{1}': thread {0} is already mapped by '{0}:{1}'", tid, c0)},
      // invalid mappings: no such thread, core not a reactor, core outside the thread's mask
      {"framework_set_scheduler", fmt::format(R"({{"name":"static","mappings":"999999:{}"}})", c0), -32603,
       fmt::format("mapping '999999:{}': thread 999999 does not exist", c0)},
      {"framework_set_scheduler", fmt::format(R"({{"name":"static","mappings":"{}:1000"}})", tid), -32603,
       fmt::format("mapping '{}:1000': core 1000 is not a reactor (reactors: {})", tid, reactor_list)},
      // scheduler_thread_create: strict decoding, range, masks
      {"scheduler_thread_create", "", -32602,
       "Invalid parameters provided: expected an object with active, name, cpu_mask, got none"},
      {"scheduler_thread_create", "{}", -32602, "Invalid parameters provided: missing required key 'active'"},
      {"scheduler_thread_create", R"({"active":null})", -32602,
       "Invalid parameters provided: 'active' must be a percentage 0-100, got null"},
      {"scheduler_thread_create", R"({"active":"10"})", -32602,
       R"(Invalid parameters provided: 'active' must be a percentage 0-100, got "10")"},
      {"scheduler_thread_create", R"({"active":10,"bogus":1})", -32602,
       "Invalid parameters provided: unknown key 'bogus' (known: active, name, cpu_mask)"},
      {"scheduler_thread_create", R"({"active":10,"name":7})", -32602,
       "Invalid parameters provided: 'name' must be a string, got 7"},
      // names are bounded (SPDK's 128 bytes): 300 threads with 250 KiB names made every listing fail
      {"scheduler_thread_create", R"({"active":10,"name":")" + std::string(129, 'n') + R"("})", -32602,
       "Invalid parameters provided: 'name' is 129 bytes, at most 128"},
      {"scheduler_thread_create", R"({"active":101})", -22,
       "Invalid argument: 'active' must be a percentage 0-100, got 101"},
      {"scheduler_thread_create", R"({"active":4294967396})", -22,
       "Invalid argument: 'active' must be a percentage 0-100, got 4294967396"},
      {"scheduler_thread_create", R"({"active":10,"cpu_mask":"zz"})", -22,
       "Invalid argument: cpu_mask: " + CpuSet::parse("zz").error().message},
      {"scheduler_thread_create", R"({"active":10,"cpu_mask":"5-2"})", -22,
       "Invalid argument: cpu_mask: " + CpuSet::parse("5-2").error().message},
      {"scheduler_thread_create", R"({"active":10,"cpu_mask":"0"})", -22,
       "Invalid argument: cpu_mask '0' names no core"},
      {"scheduler_thread_create", R"({"active":10,"cpu_mask":"[1000]"})", -22,
       "Invalid argument: cpu_mask '[1000]' (cores [1000]) is not inside the reactor cores [" + reactor_list + "]"},
      // a thread id that does not exist (or is not a load thread)
      {"scheduler_thread_set_active", R"({"thread_id":999999,"active":10})", -2,
       "No such file or directory: no load thread with id 999999 (only threads made by scheduler_thread_create can be "
       "changed)"},
      {"scheduler_thread_set_active", R"({"thread_id":0,"active":10})", -2,
       "No such file or directory: no load thread with id 0 (only threads made by scheduler_thread_create can be "
       "changed)"},
      {"scheduler_thread_set_active", fmt::format(R"({{"thread_id":{}}})", tid), -32602,
       "Invalid parameters provided: missing required key 'active'"},
      {"scheduler_thread_set_active", fmt::format(R"({{"thread_id":{},"active":101}})", tid), -22,
       "Invalid argument: 'active' must be a percentage 0-100, got 101"},
      {"scheduler_thread_set_active", fmt::format(R"({{"thread_id":"{}","active":1}})", tid), -32602,
       "Invalid parameters provided: 'thread_id' must be " + kThreadId + fmt::format(R"(, got "{}")", tid)},
      {"scheduler_thread_set_active", fmt::format(R"({{"thread_id":{},"active":1,"x":1}})", tid), -32602,
       "Invalid parameters provided: unknown key 'x' (known: thread_id, active)"},
      {"scheduler_thread_delete", R"({"thread_id":999999})", -2,
       "No such file or directory: no load thread with id 999999 (only threads made by scheduler_thread_create can be "
       "deleted)"},
      {"scheduler_thread_delete", "{}", -32602, "Invalid parameters provided: missing required key 'thread_id'"},
      {"scheduler_thread_delete", R"({"thread_id":-1})", -32602,
       "Invalid parameters provided: 'thread_id' must be " + kThreadId + ", got -1"},
      // STARTUP-only methods at RUNTIME
      {"scheduler_set_options", R"({"scheduling_core":0})", -1, kAlreadyInitialized},
      {"framework_start_init", "", -1, kAlreadyInitialized},
      {"reactor_set_options", R"({"mode":"interrupt"})", -1, kAlreadyInitialized},
      // configuration methods
      {"save_config", "{}", -32602, "'save_config' requires no arguments"},
      {"framework_get_config", "", -32602, "Invalid parameters: expected an object with name, got none"},
      {"framework_get_config", R"({"name":"bdev"})", -32602,
       "Subsystem 'bdev' not found (subsystems: framework, governor, scheduler)"},
      {"framework_get_config", R"({"name":"scheduler","x":1})", -32602,
       "Invalid parameters: unknown key 'x' (known: name)"},
  };
  if (two) {
    rows.push_back({"framework_set_scheduler", fmt::format(R"({{"name":"static","mappings":"{}:{}"}})", tid, c1),
                    -32603,
                    fmt::format("mapping '{0}:{1}': core {1} is not in thread {0}'s cpumask ({2})", tid, c1, c0)});
  }
  run_table(rows);

  // The daemon still serves, and the state is what it was.
  json s = call_ok(client_, "framework_get_scheduler");
  EXPECT_EQ(s["scheduler_name"], "dynamic");
  EXPECT_EQ(s["scheduler_period"], 300000);
  EXPECT_EQ(s["core_limit"], 70);
  EXPECT_EQ(call_ok(client_, "scheduler_thread_delete", json{{"thread_id", tid}}), true);
  auto st = daemon_->stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << daemon_->stderr_text();
}

// Transport-level garbage (covered in depth by tests/unit/rpc) must not
// disturb the daemon either: each bad connection is answered -32700 and
// closed, the others keep being served.
TEST_F(ReactordErrors, TransportErrorsLeaveTheDaemonServing) {
  const std::string before = state();
  auto expect_parse_error_then_close = [&](const std::string& bytes, const std::string& what) {
    RawConnection c(daemon_->socket());
    ASSERT_TRUE(c.ok());
    c.send(bytes);  // may fail half-way: the server closes as soon as it knows
    auto line = c.read_line();
    ASSERT_TRUE(line) << what;
    const ojson reply = ojson::parse(*line);
    EXPECT_EQ(reply["id"], nullptr) << what;
    EXPECT_EQ(reply["error"]["code"], -32700) << what;
    EXPECT_EQ(reply["error"]["message"].get<std::string>().rfind("Parse error", 0), 0U) << *line;
    EXPECT_FALSE(c.read_line(5s)) << what << ": connection not closed";
  };
  expect_parse_error_then_close(R"({"jsonrpc":"2.0","id":1,"method":"spdk_get_version",})", "invalid JSON");
  expect_parse_error_then_close(std::string(65, '[') + std::string(65, ']'), "deep nesting");
  expect_parse_error_then_close(R"({"jsonrpc":"2.0","id":1,"method":")" + std::string(300 * 1024, 'a') + R"("})",
                                "a request over 256 KiB");
  {
    // A truncated request followed by EOF gets no answer and no crash.
    RawConnection c(daemon_->socket());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send(R"({"jsonrpc":"2.0","id":1,"method":"framework_get_sch)"));
  }
  EXPECT_EQ(state(), before);
}

}  // namespace
