#include "common/escape.h"

#include <string>

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(EscapeControl, LeavesPrintableTextAndValidUtf8Alone) {
  EXPECT_EQ(EscapeControl("alice"), "alice");
  EXPECT_EQ(EscapeControl("café 日本 🚀 ~!@#$%^&*()"), "café 日本 🚀 ~!@#$%^&*()");
  EXPECT_EQ(EscapeControl(""), "");
}

TEST(EscapeControl, EscapesWhatCouldEndALineOrDriveATerminal) {
  EXPECT_EQ(EscapeControl("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeControl("a\r\tb"), "a\\r\\tb");
  EXPECT_EQ(EscapeControl(std::string("nul\0here", 8)), "nul\\x00here");
  EXPECT_EQ(EscapeControl("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(EscapeControl("del\x7f"), "del\\x7f");
  EXPECT_EQ(EscapeControl("back\\slash"), "back\\\\slash");  // so an escape in the text is never mistaken for one
}

TEST(EscapeControl, EscapesC1ControlsAndBytesThatAreNotUtf8) {
  EXPECT_EQ(EscapeControl("\xc2\x9b" "2J"), "\\xc2\\x9b2J");  // U+009B, the one-byte CSI
  EXPECT_EQ(EscapeControl("\x9b" "2J"), "\\x9b2J");
  EXPECT_EQ(EscapeControl("bad\xff\xfe"), "bad\\xff\\xfe");
  EXPECT_EQ(EscapeControl("cut\xe6\x97"), "cut\\xe6\\x97");     // a sequence cut short
  EXPECT_EQ(EscapeControl("\xc0\xaf"), "\\xc0\\xaf");             // overlong '/'
  EXPECT_EQ(EscapeControl("\xed\xa0\x80"), "\\xed\\xa0\\x80");    // a surrogate
}

}  // namespace
}  // namespace ferry
