// Parameter decoding (rpc-compat.md §1.8), exact number folding, the wire
// serializer and the frame scanner, each on its own.

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "rpc/framing.hh"
#include "rpc/json_codec.hh"
#include "rpc/params.hh"

namespace reactor::rpc {
namespace {

using json = nlohmann::json;

// Parses like the server does (integral floats become integers).
json wire(std::string_view text) {
  auto r = parse_request_text(text);
  EXPECT_TRUE(r.has_value()) << text;
  return r ? r->value : json();
}

std::string message_of(const Result<void>& r) { return r ? std::string() : r.error().message; }

// ---- integers ----

struct IntRow {
  const char* text;
  std::uint64_t max;
  bool ok;
  std::uint64_t value;
};

class UnsignedTest : public ::testing::TestWithParam<IntRow> {};

TEST_P(UnsignedTest, Decodes) {
  const IntRow& row = GetParam();
  const auto r = decode_unsigned(wire(row.text), "n", row.max);
  EXPECT_EQ(r.has_value(), row.ok) << row.text;
  if (r && row.ok) {
    EXPECT_EQ(*r, row.value) << row.text;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, UnsignedTest,
    ::testing::Values(IntRow{"0", 255, true, 0}, IntRow{"255", 255, true, 255},
                      IntRow{"256", 255, false, 0}, IntRow{"-1", 255, false, 0},
                      IntRow{"1.0", 255, true, 1}, IntRow{"1e3", 4294967295, true, 1000},
                      IntRow{"1E+2", 255, true, 100}, IntRow{"2.50e1", 255, true, 25},
                      IntRow{"1.5", 255, false, 0}, IntRow{"1e-1", 255, false, 0},
                      IntRow{"0.0", 255, true, 0}, IntRow{"-0", 255, true, 0},
                      IntRow{"-1.0", 255, false, 0}, IntRow{"\"5\"", 255, false, 0},
                      IntRow{"true", 255, false, 0}, IntRow{"null", 255, false, 0},
                      IntRow{"[]", 255, false, 0}, IntRow{"4294967295", 4294967295, true, 4294967295},
                      IntRow{"4294967296", 4294967295, false, 0},
                      IntRow{"18446744073709551615", UINT64_MAX, true, UINT64_MAX},
                      IntRow{"18446744073709551615.0", UINT64_MAX, true, UINT64_MAX},
                      IntRow{"1844674407370955161.5e1", UINT64_MAX, true, UINT64_MAX},
                      IntRow{"18446744073709551616", UINT64_MAX, false, 0},
                      IntRow{"1e19", UINT64_MAX, true, 10000000000000000000ULL},
                      IntRow{"1e20", UINT64_MAX, false, 0},
                      IntRow{"9007199254740993", UINT64_MAX, true, 9007199254740993ULL}));

TEST(Params, UnsignedMessageNamesKeyRangeAndValue) {
  EXPECT_EQ(decode_unsigned(json("x"), "load_limit", 255).error().message,
            R"(invalid parameters: 'load_limit' must be an integer 0-255, got "x")");
  EXPECT_EQ(decode_unsigned(json(std::string(100, 'y')), "s", 255).error().message,
            "invalid parameters: 's' must be an integer 0-255, got \"" + std::string(39, 'y') +
                "...");
}

TEST(Params, ValuesBuiltInCode) {
  EXPECT_EQ(*decode_unsigned(json(5), "n", 255), 5U);  // signed integer type
  EXPECT_EQ(*decode_unsigned(json(5.0), "n", 255), 5U);
  EXPECT_FALSE(decode_unsigned(json(5.5), "n", 255));
  EXPECT_FALSE(decode_unsigned(json(-5), "n", 255));
}

// ---- bool, string ----

TEST(Params, BoolAndString) {
  EXPECT_TRUE(*decode_bool(json(true), "b"));
  EXPECT_FALSE(decode_bool(json(1), "b"));
  EXPECT_FALSE(decode_bool(json("true"), "b"));
  EXPECT_EQ(*decode_string(json("abc"), "s"), "abc");
  EXPECT_FALSE(decode_string(json(5), "s"));
  EXPECT_EQ(decode_string(wire(R"("a\u0000b")"), "s").error().message,
            "invalid parameters: 's' must not contain a NUL character");
}

// ---- objects ----

struct SchedParams {
  std::optional<std::string> name;
  std::optional<std::uint64_t> period;
  std::optional<std::uint8_t> load_limit;
  std::optional<std::uint32_t> core;
  std::optional<bool> flag;
};

Result<void> decode_sched(const json* p, SchedParams& o, Decoding mode,
                          Presence object = Presence::required) {
  return decode_object(p,
                       {field("name", o.name, Presence::required), field("period", o.period),
                        field("load_limit", o.load_limit), field("core", o.core),
                        field("flag", o.flag)},
                       mode, object);
}

TEST(Params, StrictObject) {
  SchedParams o;
  const json p = wire(R"({"name":"dynamic","period":1e6,"load_limit":20,"core":1,"flag":false})");
  ASSERT_TRUE(decode_sched(&p, o, Decoding::strict));
  EXPECT_EQ(o.name, "dynamic");
  EXPECT_EQ(o.period, 1000000U);
  EXPECT_EQ(o.load_limit, 20);
  EXPECT_EQ(o.core, 1U);
  EXPECT_EQ(o.flag, false);

  SchedParams only_name;
  const json q = wire(R"({"name":"static"})");
  ASSERT_TRUE(decode_sched(&q, only_name, Decoding::strict));
  EXPECT_FALSE(only_name.period.has_value()) << "absent keys stay absent";
}

TEST(Params, StrictRejectsUnknownRelaxedIgnores) {
  SchedParams o;
  const json p = wire(R"({"name":"x","mappings":"1:2"})");
  EXPECT_EQ(message_of(decode_sched(&p, o, Decoding::strict)),
            "invalid parameters: unknown key 'mappings' (known: name, period, load_limit, core, "
            "flag)");
  EXPECT_TRUE(decode_sched(&p, o, Decoding::relaxed));
}

TEST(Params, MissingWrongTypeNullAndNotAnObject) {
  SchedParams o;
  const json missing = wire(R"({"period":1})");
  EXPECT_EQ(message_of(decode_sched(&missing, o, Decoding::relaxed)),
            "invalid parameters: missing required key 'name'");
  const json wrong = wire(R"({"name":"x","load_limit":"x"})");
  EXPECT_EQ(message_of(decode_sched(&wrong, o, Decoding::relaxed)),
            R"(invalid parameters: 'load_limit' must be an integer 0-255, got "x")");
  const json null_value = wire(R"({"name":"x","period":null})");
  EXPECT_EQ(message_of(decode_sched(&null_value, o, Decoding::relaxed)),
            "invalid parameters: 'period' must be an integer 0-18446744073709551615, got null");
  const json array = wire("[1]");
  EXPECT_EQ(message_of(decode_sched(&array, o, Decoding::relaxed)),
            "invalid parameters: expected an object, got [1]");
  EXPECT_EQ(message_of(decode_sched(nullptr, o, Decoding::relaxed)),
            "invalid parameters: expected an object with name, period, load_limit, core, flag, "
            "got none");
}

// Issue: "must be an integer 0-18446744073709551615" for a key whose real
// limits are a percentage or a thread id.
TEST(Params, WrongTypeNamesWhatTheMethodAccepts) {
  std::optional<std::uint64_t> active;
  const json text = wire(R"({"active":"10"})");
  EXPECT_EQ(message_of(decode_object(&text, {field("active", active, Presence::required, "a percentage 0-100")},
                                     Decoding::strict)),
            R"(invalid parameters: 'active' must be a percentage 0-100, got "10")");
  const json negative = wire(R"({"active":-1})");
  EXPECT_EQ(message_of(decode_object(&negative, {field("active", active, Presence::required, "a percentage 0-100")},
                                     Decoding::strict)),
            "invalid parameters: 'active' must be a percentage 0-100, got -1");
  EXPECT_EQ(decode_unsigned(json(1.5), "x", 9, "one of 0-9").error().message,
            "invalid parameters: 'x' must be one of 0-9, got 1.5");
  EXPECT_EQ(decode_unsigned(json(10), "x", 9, "one of 0-9").error().message,
            "invalid parameters: 'x' must be one of 0-9, got 10");
  EXPECT_EQ(*decode_unsigned(json(9), "x", 9, "one of 0-9"), 9U);
}

TEST(Params, OptionalObject) {
  std::optional<bool> current;
  EXPECT_TRUE(decode_object(nullptr, {field("current", current)}, Decoding::strict,
                            Presence::optional));
  EXPECT_FALSE(current.has_value());
  const json empty = json::object();
  EXPECT_TRUE(decode_object(&empty, {field("current", current)}, Decoding::strict,
                            Presence::optional));
  const json arr = json::array();
  EXPECT_FALSE(decode_object(&arr, {field("current", current)}, Decoding::strict,
                             Presence::optional));
}

TEST(Params, NoParams) {
  EXPECT_TRUE(decode_no_params(nullptr));
  const json null_value;
  EXPECT_TRUE(decode_no_params(&null_value));
  const json obj = json::object();
  const json arr = json::array();
  EXPECT_EQ(message_of(decode_no_params(&obj)),
            "invalid parameters: this method takes no parameters, got {}");
  EXPECT_FALSE(decode_no_params(&arr));
}

// ---- exact number folding ----

TEST(ClassifyNumber, Folding) {
  auto c = [](std::string_view t) { return classify_number(t); };
  EXPECT_EQ(c("0").cls, NumberClass::integer);
  EXPECT_EQ(c("1.000").magnitude, 1U);
  EXPECT_EQ(c("12.5e1").magnitude, 125U);
  EXPECT_EQ(c("12.5e-1").cls, NumberClass::fraction);
  EXPECT_EQ(c("0.0001e4").magnitude, 1U);
  EXPECT_EQ(c("100e-2").magnitude, 1U);
  EXPECT_EQ(c("-7").magnitude, 7U);
  EXPECT_TRUE(c("-7").negative);
  EXPECT_EQ(c("1e999999999999").cls, NumberClass::too_large);
  EXPECT_EQ(c("1e-999999999999").cls, NumberClass::fraction);
  EXPECT_EQ(c("0e999999999999").cls, NumberClass::integer);
  EXPECT_EQ(c("18446744073709551616").cls, NumberClass::too_large);
  EXPECT_EQ(c("abc").cls, NumberClass::malformed);
  EXPECT_EQ(c("1.").cls, NumberClass::malformed);
  EXPECT_EQ(c("1e").cls, NumberClass::malformed);
  EXPECT_EQ(c("").cls, NumberClass::malformed);
}

// ---- serializer ----

TEST(Wire, AsciiUpperCaseEscapesSlashUnescaped) {
  EXPECT_EQ(to_wire(json("\xc3\xa9/\x7f\x01")), R"("\u00E9/\u007F\u0001")");
  EXPECT_EQ(to_wire(json(R"(\u00ab)")), R"("\\u00ab")") << "an escaped backslash is not an escape";
  EXPECT_EQ(to_wire(json("bad\xff")), R"("bad\uFFFD")") << "invalid UTF-8 does not throw";
}

// ---- frame scanner ----

ScanResult scan_all(std::string_view text, std::size_t depth = 64) {
  FrameScanner s(depth);
  return s.scan(text);
}

TEST(FrameScanner, FindsTheEndOfOneText) {
  EXPECT_EQ(scan_all(R"({"a":"}"} {)").end, 9U);
  EXPECT_EQ(scan_all(R"(["\"]",1]x)").end, 9U);
  EXPECT_EQ(scan_all("123 ").end, 3U);
  EXPECT_EQ(scan_all("123").status, ScanStatus::need_more) << "a bare number needs a terminator";
  EXPECT_EQ(scan_all("true").end, 4U);
  EXPECT_EQ(scan_all("tru").status, ScanStatus::need_more);
  EXPECT_EQ(scan_all("trux").status, ScanStatus::invalid);
  EXPECT_EQ(scan_all(R"("a\\")").end, 5U);
  EXPECT_EQ(scan_all("{]").status, ScanStatus::invalid);
  EXPECT_EQ(scan_all("[[[", 2).status, ScanStatus::too_deep);
  EXPECT_EQ(scan_all("[[]]", 2).status, ScanStatus::complete);
  EXPECT_EQ(scan_all("{\"a\":\x01").status, ScanStatus::invalid);
}

TEST(FrameScanner, ResumesWhereItStopped) {
  const std::string text = R"({"k":["v\"}",{"x":[true,null,-1.5e3]}]})";
  FrameScanner s(64);
  for (std::size_t n = 1; n < text.size(); ++n)
    ASSERT_EQ(s.scan(std::string_view(text).substr(0, n)).status, ScanStatus::need_more) << n;
  const ScanResult r = s.scan(text);
  EXPECT_EQ(r.status, ScanStatus::complete);
  EXPECT_EQ(r.end, text.size());
}

}  // namespace
}  // namespace reactor::rpc
