// DumpJson writes exactly what nlohmann's dump(-1) with replacement of invalid UTF-8 writes, only faster.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "protocol/frame.h"

namespace ferry::protocol {
namespace {

std::string Nlohmann(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

TEST(DumpJson, WritesWhatNlohmannWrites) {
  const Json values[] = {
      Json(),
      Json(true),
      Json(false),
      Json(0),
      Json(-1),
      Json(std::numeric_limits<std::int64_t>::min()),
      Json(std::numeric_limits<std::int64_t>::max()),
      Json(std::numeric_limits<std::uint64_t>::max()),
      Json(1.5),
      Json(-0.0),
      Json(1e308),
      Json(std::nan("")),
      Json(""),
      Json("plain ascii ~ with {braces} [and] :,"),
      Json("quote \" backslash \\ slash /"),
      Json("control \x01 \t \n \r \x1f and DEL \x7f"),
      Json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),  // valid UTF-8
      Json("bad \xff\xfe bytes \xc3 cut \xe2\x82"),       // invalid UTF-8: replaced
      Json(std::string("nul \0 inside", 12)),
      Json::array(),
      Json::object(),
      Json::array({1, "two", nullptr, Json::array({Json::object()}), false}),
      Json{{"id", 7}, {"ok", true}, {"entry", {{"name", "a b"}, {"size", 42}, {"mtime", -5}}}},
      Json{{"z", 1}, {"a", 2}, {"m\xff", Json::array({"\xc3\xa9"})}, {"", ""}},
      Json::binary({1, 2, 3}),
  };
  for (const Json& value : values) {
    EXPECT_EQ(DumpJson(value), Nlohmann(value)) << Nlohmann(value);
  }
}

TEST(DumpJson, AppendsToWhatIsThere) {
  std::string out = "prefix:";
  AppendJson(out, Json{{"ok", true}});
  EXPECT_EQ(out, "prefix:{\"ok\":true}");
}

TEST(DumpJson, FrameHeadersUseItAndKeepTheirLengthPrefix) {
  const std::string frame = EncodeFrame(Json{{"op", "stat"}, {"path", "caf\xc3\xa9"}, {"id", 3}}, "xy");
  const std::string text = R"({"body_len":2,"id":3,"op":"stat","path":"café"})";
  ASSERT_EQ(frame.size(), kLengthPrefixSize + text.size() + 2);
  EXPECT_EQ(frame.substr(0, kLengthPrefixSize), std::string({0, 0, 0, static_cast<char>(text.size())}));
  EXPECT_EQ(frame.substr(kLengthPrefixSize, text.size()), text);
  EXPECT_EQ(frame.substr(kLengthPrefixSize + text.size()), "xy");
}

}  // namespace
}  // namespace ferry::protocol
