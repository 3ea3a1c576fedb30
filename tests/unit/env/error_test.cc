// to_string(Errc): every category has its own stable name.

#include <reactor/error.hh>

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace {

using reactor::Errc;

TEST(ErrcTest, EveryCategoryHasItsName) {
  EXPECT_EQ(to_string(Errc::invalid_argument), "invalid_argument");
  EXPECT_EQ(to_string(Errc::not_found), "not_found");
  EXPECT_EQ(to_string(Errc::exists), "exists");
  EXPECT_EQ(to_string(Errc::full), "full");
  EXPECT_EQ(to_string(Errc::exited), "exited");
  EXPECT_EQ(to_string(Errc::busy), "busy");
  EXPECT_EQ(to_string(Errc::unsupported), "unsupported");
  EXPECT_EQ(to_string(Errc::wrong_thread), "wrong_thread");
  EXPECT_EQ(to_string(Errc::timeout), "timeout");
  EXPECT_EQ(to_string(Errc::io), "io");
  EXPECT_EQ(to_string(Errc::internal), "internal");
}

TEST(ErrcTest, NamesAreDistinct) {
  std::set<std::string> names;
  for (int i = 0; i <= static_cast<int>(Errc::internal); ++i)
    names.emplace(to_string(static_cast<Errc>(i)));
  EXPECT_EQ(names.size(), static_cast<size_t>(Errc::internal) + 1);
}

TEST(ErrcTest, MakeErrorCarriesCodeAndMessage) {
  reactor::Result<int> r = reactor::make_error(Errc::busy, "a switch is in progress");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::busy);
  EXPECT_EQ(r.error().message, "a switch is in progress");
}

}  // namespace
