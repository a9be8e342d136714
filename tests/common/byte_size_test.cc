#include "common/byte_size.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

std::uint64_t Parsed(std::string_view text) {
  auto value = ParseByteSize(text);
  EXPECT_TRUE(value.ok()) << text << ": " << value.status().ToString();
  return value.ok() ? *value : 0;
}

TEST(ParseByteSize, ReadsPlainByteCounts) {
  EXPECT_EQ(Parsed("0"), 0u);
  EXPECT_EQ(Parsed("1048576"), 1048576u);
  EXPECT_EQ(Parsed("12B"), 12u);
}

TEST(ParseByteSize, ReadsBinaryUnitsInAnyCase) {
  EXPECT_EQ(Parsed("500M"), 500ull << 20);
  EXPECT_EQ(Parsed("2G"), 2ull << 30);
  EXPECT_EQ(Parsed("64k"), 64ull << 10);
  EXPECT_EQ(Parsed("1T"), 1ull << 40);
  EXPECT_EQ(Parsed("3MiB"), 3ull << 20);
  EXPECT_EQ(Parsed("3mb"), 3ull << 20);
  EXPECT_EQ(Parsed("1.5G"), 3ull << 29);
}

TEST(ParseByteSize, RefusesWhatIsNotASize) {
  for (const char* text : {"", "M", "-1", "12X", "1.5", "1e9", "2 G", "0x10", "5GB5"}) {
    auto value = ParseByteSize(text);
    EXPECT_FALSE(value.ok()) << text;
    if (!value.ok()) {
      EXPECT_EQ(value.status().code(), ErrorCode::kInvalid) << text;
    }
  }
}

TEST(ParseByteSize, RefusesSizesAboveTheLimit) {
  EXPECT_FALSE(ParseByteSize("99999999999999999999999").ok());
  EXPECT_FALSE(ParseByteSize("9000P").ok());
  EXPECT_FALSE(ParseByteSize("2K", 2047).ok());
  EXPECT_EQ(*ParseByteSize("2K", 2048), 2048u);
}

TEST(HumanBytes, UsesBinaryUnitsWithOneDecimal) {
  EXPECT_EQ(HumanBytes(980), "980 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(500.0 * 1024 * 1024), "500.0 MiB");
}

TEST(GroupedDigits, GroupsByThousands) {
  EXPECT_EQ(GroupedDigits(0), "0");
  EXPECT_EQ(GroupedDigits(999), "999");
  EXPECT_EQ(GroupedDigits(1000), "1,000");
  EXPECT_EQ(GroupedDigits(1048576), "1,048,576");
}

}  // namespace
}  // namespace ferry
