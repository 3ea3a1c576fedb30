// Policy names and the static policy's `mappings` syntax (schedulers/common).

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <reactor/load_snapshot.hh>
#include <reactor/policy.hh>

namespace reactor {
namespace {

TEST(PolicyName, CanonicalNamesAreSpdkNames) {
  EXPECT_EQ(policy_name(PolicyKind::Static), "static");
  EXPECT_EQ(policy_name(PolicyKind::Dynamic), "dynamic");
  EXPECT_EQ(policy_name(PolicyKind::Global), "gscheduler");
}

TEST(PolicyName, ParsesEveryNameAndTheGlobalAlias) {
  EXPECT_EQ(parse_policy_name("static").value(), PolicyKind::Static);
  EXPECT_EQ(parse_policy_name("dynamic").value(), PolicyKind::Dynamic);
  EXPECT_EQ(parse_policy_name("gscheduler").value(), PolicyKind::Global);
  EXPECT_EQ(parse_policy_name("global").value(), PolicyKind::Global);
  for (PolicyKind k : {PolicyKind::Static, PolicyKind::Dynamic, PolicyKind::Global})
    EXPECT_EQ(parse_policy_name(policy_name(k)).value(), k);
}

TEST(PolicyName, UnknownNameListsTheKnownOnes) {
  for (const char* bad : {"foo", "", "Static", "dynamic ", "gsched"}) {
    auto r = parse_policy_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::not_found);
    EXPECT_EQ(r.error().message,
              std::string("unknown scheduler '") + bad + "'; known: static, dynamic, gscheduler");
  }
}

TEST(ParseMappings, ParsesPairsInOrder) {
  auto r = parse_mappings("7:3,1:0, 12 : 5 ");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].thread, ThreadId{7});
  EXPECT_EQ((*r)[0].core, CoreId{3});
  EXPECT_EQ((*r)[1].thread, ThreadId{1});
  EXPECT_EQ((*r)[1].core, CoreId{0});
  EXPECT_EQ((*r)[2].thread, ThreadId{12});
  EXPECT_EQ((*r)[2].core, CoreId{5});
}

TEST(ParseMappings, SinglePairAndLargestValues) {
  auto r = parse_mappings("18446744073709551615:1023");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].thread.value, UINT64_MAX);
  EXPECT_EQ((*r)[0].core.value, 1023u);
}

struct BadMapping {
  const char* text;
  const char* message;
};

TEST(ParseMappings, ErrorsNameTheBadPair) {
  const std::vector<BadMapping> cases = {
      {"", "mappings is empty: expected '<thread_id>:<core>[,<thread_id>:<core>...]'"},
      {"   ", "mappings is empty: expected '<thread_id>:<core>[,<thread_id>:<core>...]'"},
      {"7-3", "mapping '7-3': expected '<thread_id>:<core>'"},
      {"1:2,7", "mapping '7': expected '<thread_id>:<core>'"},
      {"7:3:1", "mapping '7:3:1': expected '<thread_id>:<core>'"},
      {"x:3", "mapping 'x:3': thread id 'x' is not a decimal number"},
      {"-7:3", "mapping '-7:3': thread id '-7' is not a decimal number"},
      {"+7:3", "mapping '+7:3': thread id '+7' is not a decimal number"},
      {"0x7:3", "mapping '0x7:3': thread id '0x7' is not a decimal number"},
      {":3", "mapping ':3': thread id '' is not a decimal number"},
      {"0:3", "mapping '0:3': thread id 0 is not valid (ids start at 1)"},
      {"18446744073709551616:1", "mapping '18446744073709551616:1': thread id '18446744073709551616' is out of range"},
      {"7:y", "mapping '7:y': core 'y' is not a decimal number"},
      {"7:", "mapping '7:': core '' is not a decimal number"},
      {"7:-1", "mapping '7:-1': core '-1' is not a decimal number"},
      {"7:1024", "mapping '7:1024': core 1024 is out of range (max 1023)"},
      {"7:99999999999999999999999", "mapping '7:99999999999999999999999': core 99999999999999999999999 is out of range (max 1023)"},
      {"1:2,,3:4", "mappings '1:2,,3:4': empty pair (expected '<thread_id>:<core>[,<thread_id>:<core>...]')"},
      {"1:2,", "mappings '1:2,': empty pair (expected '<thread_id>:<core>[,<thread_id>:<core>...]')"},
      {",1:2", "mappings ',1:2': empty pair (expected '<thread_id>:<core>[,<thread_id>:<core>...]')"},
      {"7:3,8:1,7:4", "mapping '7:4': thread 7 is already mapped by '7:3'"},
  };
  for (const BadMapping& c : cases) {
    auto r = parse_mappings(c.text);
    ASSERT_FALSE(r) << "accepted '" << c.text << "'";
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << c.text;
    EXPECT_EQ(r.error().message, c.message) << c.text;
  }
}

TEST(LoadSnapshot, FindCoreByIdIncludingSparseAndUnsortedIds) {
  LoadSnapshot s;
  for (uint32_t id : {1u, 4u, 9u}) {
    CoreLoad c;
    c.id = CoreId{id};
    s.cores.push_back(c);
  }
  ASSERT_NE(s.find_core(CoreId{4}), nullptr);
  EXPECT_EQ(s.find_core(CoreId{4})->id, CoreId{4});
  EXPECT_EQ(s.find_core(CoreId{9})->id, CoreId{9});
  EXPECT_EQ(s.find_core(CoreId{0}), nullptr);
  EXPECT_EQ(s.find_core(CoreId{5}), nullptr);
  EXPECT_EQ(s.find_core(CoreId{10}), nullptr);

  // A hand-built snapshot out of order is still searched correctly.
  std::swap(s.cores[0], s.cores[2]);
  EXPECT_EQ(s.find_core(CoreId{1})->id, CoreId{1});
  EXPECT_EQ(s.find_core(CoreId{9})->id, CoreId{9});
  EXPECT_EQ(s.find_core(CoreId{2}), nullptr);

  EXPECT_EQ(LoadSnapshot{}.find_core(CoreId{0}), nullptr);
}

}  // namespace
}  // namespace reactor
