// load_config_text against a real ControlPlane in STARTUP (no Runtime is
// built): a good document edits the options framework init will use; every
// kind of bad document is refused with one line naming where the problem is,
// and a document refused by its checks (pass 1) changes nothing at all.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <reactor/runtime.hh>

#include "rpc/config_file.hh"
#include "rpc/engine.hh"
#include "rpc/methods.hh"

namespace reactor::rpc {
namespace {

ControlPlaneOptions four_cores() {
  ControlPlaneOptions o;
  o.runtime.pool.cores = *CpuSet::parse("0-3");
  o.runtime.pool.main_core = CoreId{0};
  o.runtime.governor = GovernorChoice::Sim;
  o.scheduler_chosen = true;
  return o;
}

struct Loader : ::testing::Test {
  ControlPlane plane{four_cores()};
  RpcEngine engine;
  void SetUp() override { ASSERT_TRUE(plane.register_methods(engine)); }
  std::string error_of(const std::string& text) {
    auto r = load_config_text(engine, text);
    if (r) return "(applied)";
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    return r.error().message;
  }
};

constexpr const char* kGood = R"({
  "subsystems": [
    {"subsystem": "framework", "config": [
      {"method": "scheduler_set_options", "params": {"scheduling_core": 1, "isolated_core_mask": "8"}},
      {"method": "reactor_set_options", "params": {"mode": "interrupt"}}]},
    {"subsystem": "governor", "config": null},
    {"subsystem": "scheduler", "config": [
      {"method": "framework_set_scheduler",
       "params": {"name": "dynamic", "period": 250000, "load_limit": 12, "core_limit": 70, "core_busy": 90}}]}
  ]
})";

TEST_F(Loader, AppliesEveryMethodToThePendingOptions) {
  auto r = load_config_text(engine, kGood);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, 3U);
  const RuntimeOptions& o = plane.options();
  EXPECT_EQ(o.pool.main_core, CoreId{1});
  EXPECT_EQ(o.pool.isolated, *CpuSet::parse("0x8"));
  EXPECT_EQ(o.pool.baseline, ReactorMode::Interrupt);
  EXPECT_EQ(o.scheduler.initial, PolicyKind::Dynamic);
  EXPECT_EQ(o.scheduler.options.period_us, 250000U);
  EXPECT_EQ(o.scheduler.options.dynamic.load_limit, 12U);
  EXPECT_EQ(o.scheduler.options.dynamic.core_limit, 70U);
  EXPECT_EQ(o.scheduler.options.dynamic.core_busy, 90U);
  EXPECT_FALSE(plane.initialized());  // nothing was started
}

TEST_F(Loader, PlacementOptionsOfTheDynamicPolicyAreLoaded) {
  auto r = load_config_text(engine, R"({"subsystems": [{"subsystem": "scheduler", "config": [
      {"method": "framework_set_scheduler",
       "params": {"name": "dynamic", "numa_local": true, "smt_last": false, "keep_asleep": true}}]}]})");
  ASSERT_TRUE(r) << r.error().message;
  const DynamicOptions& d = plane.options().scheduler.options.dynamic;
  EXPECT_TRUE(d.numa_local);
  EXPECT_FALSE(d.smt_last);
  EXPECT_TRUE(d.keep_asleep);
  EXPECT_EQ(d.load_limit, 20U);  // absent: the default
}

TEST_F(Loader, APlacementOptionThatIsNotABooleanIsRefusedNamingIt) {
  std::string e = error_of(R"({"subsystems": [{"subsystem": "scheduler", "config": [
      {"method": "framework_set_scheduler", "params": {"name": "dynamic", "smt_last": 1}}]}]})");
  EXPECT_NE(e.find("subsystems[0].config[0].params.smt_last (framework_set_scheduler): Invalid parameters: "
                   "'smt_last' must be true or false, got 1"),
            std::string::npos)
      << e;
  e = error_of(R"({"subsystems": [{"subsystem": "scheduler", "config": [
      {"method": "framework_set_scheduler", "params": {"name": "static", "keep_asleep": false}}]}]})");
  EXPECT_NE(e.find("subsystems[0].config[0] (framework_set_scheduler): static does not take keep_asleep (a "
                   "dynamic option); static takes mappings"),
            std::string::npos)
      << e;
  EXPECT_FALSE(plane.options().scheduler.options.dynamic.keep_asleep);
  EXPECT_FALSE(plane.options().scheduler.options.dynamic.smt_last);
}

TEST_F(Loader, EmptyAndNullConfigsAreAccepted) {
  auto r = load_config_text(engine, R"({"subsystems": [{"subsystem": "governor", "config": []},
                                                       {"subsystem": "scheduler", "config": null}]})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, 0U);
}

TEST_F(Loader, NotJsonNamesLineAndColumn) {
  const std::string e = error_of("{\n  \"subsystems\": [\n    {\"subsystem\": framework}\n  ]\n}\n");
  EXPECT_NE(e.find("not valid JSON at line 3, column 20"), std::string::npos) << e;
}

TEST_F(Loader, EachBadDocumentNamesItsProblem) {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {R"([])", "the document must be a JSON object"},
      {R"({"subsystems": [], "extra": 1})", "extra: unknown key at the top level"},
      {R"({})", "subsystems: missing"},
      {R"({"subsystems": {}})", "subsystems: must be an array, got object"},
      {R"({"subsystems": [{"subsystem": "bdev", "config": []}]})",
       "subsystems[0].subsystem: unknown subsystem \"bdev\""},
      {R"({"subsystems": [{"subsystem": "scheduler", "config": [], "x": 1}]})",
       "subsystems[0].x: unknown key"},
      {R"({"subsystems": [{"subsystem": "scheduler", "config": 5}]})",
       "subsystems[0].config: must be an array or null, got 5"},
      {R"({"subsystems": [{"subsystem": "scheduler", "config": [{"method": "bdev_malloc_create"}]}]})",
       "subsystems[0].config[0].method: unknown method \"bdev_malloc_create\" for subsystem 'scheduler'"},
      {R"({"subsystems": [{"subsystem": "framework", "config": [{"method": "framework_set_scheduler"}]}]})",
       "subsystems[0].config[0].method: unknown method \"framework_set_scheduler\" for subsystem 'framework'"},
      {R"({"subsystems": [{"subsystem": "scheduler", "config": [{"params": {}}]}]})",
       "subsystems[0].config[0].method: missing"},
      {R"({"subsystems": [{"subsystem": "scheduler", "config": [
           {"method": "framework_set_scheduler", "params": {"name": "dynamic", "load_limt": 5}}]}]})",
       "subsystems[0].config[0].params.load_limt: unknown key for framework_set_scheduler"},
      {R"({"subsystems": [{"subsystem": "scheduler", "config": [
           {"method": "framework_set_scheduler", "params": {"name": "dynamic", "period": "fast"}}]}]})",
       "subsystems[0].config[0].params.period (framework_set_scheduler): Invalid parameters: 'period'"},
      {R"({"subsystems": [{"subsystem": "scheduler", "config": [
           {"method": "framework_set_scheduler", "params": {"name": "dynamic", "core_limit": 250}}]}]})",
       "subsystems[0].config[0].params.core_limit (framework_set_scheduler): Invalid parameters: 'core_limit' "
       "must be an integer 0-100, got 250"},
      {R"({"subsystems": [{"subsystem": "scheduler", "config": [
           {"method": "framework_set_scheduler", "params": {"name": "fastest"}}]}]})",
       "subsystems[0].config[0] (framework_set_scheduler): unknown scheduler 'fastest'"},
      {R"({"subsystems": [{"subsystem": "framework", "config": [
           {"method": "reactor_set_options", "params": {"mode": "sleepy"}}]}]})",
       "subsystems[0].config[0].params.mode (reactor_set_options): Invalid parameters: 'mode' must be \"poll\" "
       "or \"interrupt\", got \"sleepy\""},
      {R"({"subsystems": [{"subsystem": "framework", "config": [
           {"method": "scheduler_set_options", "params": {"scheduling_core": 9}}]}]})",
       "subsystems[0].config[0] (scheduler_set_options): Invalid scheduling core. (core 9 is not a reactor core"},
      {R"({"subsystems": [{"subsystem": "scheduler", "config": [
           {"method": "framework_set_scheduler", "params": {"name": "dynamic", "period": 1, "period": 2}}]}]})",
       "subsystems[0].config[0].params.period: duplicate key"},
  };
  for (const Case& c : cases) {
    const std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.expected), std::string::npos) << "document: " << c.text << "\nerror: " << e;
  }
}

TEST_F(Loader, ARefusedDocumentChangesNothing) {
  // Good entries first, an unknown key further down: pass 1 refuses the whole
  // document before any entry runs.
  const std::string bad = R"({"subsystems": [
    {"subsystem": "framework", "config": [{"method": "reactor_set_options", "params": {"mode": "interrupt"}}]},
    {"subsystem": "scheduler", "config": [
      {"method": "framework_set_scheduler", "params": {"name": "dynamic", "colour": "red"}}]}]})";
  EXPECT_NE(error_of(bad).find("params.colour: unknown key"), std::string::npos);
  EXPECT_EQ(plane.options().pool.baseline, ReactorMode::Poll);
  EXPECT_EQ(plane.options().scheduler.initial, PolicyKind::Static);
}

TEST(LoadConfigFile, UnreadableFileIsNamed) {
  ControlPlane plane{four_cores()};
  RpcEngine engine;
  ASSERT_TRUE(plane.register_methods(engine));
  auto r = load_config_file(engine, "/nonexistent/reactord.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "cannot open: No such file or directory");
}

}  // namespace
}  // namespace reactor::rpc
