#include "client/terminal_text.h"

#include <string>

#include <gtest/gtest.h>

namespace ferry::client {
namespace {

using namespace std::string_literals;

TEST(EscapeForTerminal, PrintableTextIsUnchanged) {
  EXPECT_EQ(EscapeForTerminal("report 2024.pdf"), "report 2024.pdf");
  EXPECT_EQ(EscapeForTerminal("café"), "café");
  EXPECT_EQ(EscapeForTerminal("日本"), "日本");
  EXPECT_EQ(EscapeForTerminal("emoji \xf0\x9f\x98\x80"), "emoji \xf0\x9f\x98\x80");
  EXPECT_EQ(EscapeForTerminal(""), "");
}

TEST(EscapeForTerminal, ControlCharactersGetCEscapes) {
  EXPECT_EQ(EscapeForTerminal("new\nline"), "new\\nline");
  EXPECT_EQ(EscapeForTerminal("tab\tname"), "tab\\tname");
  EXPECT_EQ(EscapeForTerminal("\a\b\v\f\r"), "\\a\\b\\v\\f\\r");
}

TEST(EscapeForTerminal, EscapeSequencesAndOtherControlsBecomeOctal) {
  EXPECT_EQ(EscapeForTerminal("a\x1b[31mred"), "a\\033[31mred");
  EXPECT_EQ(EscapeForTerminal("del\x7f"), "del\\177");
  EXPECT_EQ(EscapeForTerminal("nul"s + '\0' + "x"), "nul\\000x");
  EXPECT_EQ(EscapeForTerminal("\x01\x1f"), "\\001\\037");
  // C1 controls (here CSI, U+009B) are valid UTF-8 but do not print either.
  EXPECT_EQ(EscapeForTerminal("a\xc2\x9b"
                              "2J"),
            "a\\302\\2332J");
  // Bidirectional overrides and line separators could disguise a name.
  EXPECT_EQ(EscapeForTerminal("x\xe2\x80\xaey"), "x\\342\\200\\256y");
  EXPECT_EQ(EscapeForTerminal("x\xe2\x80\xa8y"), "x\\342\\200\\250y");
}

TEST(EscapeForTerminal, ABackslashIsDoubledSoEscapesAreUnambiguous) {
  EXPECT_EQ(EscapeForTerminal("a\\nb"), "a\\\\nb");
  EXPECT_NE(EscapeForTerminal("a\\nb"), EscapeForTerminal("a\nb"));
}

TEST(EscapeForTerminal, InvalidUtf8BytesBecomeOctal) {
  EXPECT_EQ(EscapeForTerminal("bad\xff"), "bad\\377");
  EXPECT_EQ(EscapeForTerminal("\x80x"), "\\200x");                           // a stray continuation byte
  EXPECT_EQ(EscapeForTerminal("caf\xc3"), "caf\\303");                       // truncated at the end
  EXPECT_EQ(EscapeForTerminal("\xc3(x"), "\\303(x");                         // truncated before ASCII
  EXPECT_EQ(EscapeForTerminal("\xc0\xaf"), "\\300\\257");                    // overlong "/"
  EXPECT_EQ(EscapeForTerminal("\xed\xa0\x80"), "\\355\\240\\200");           // a UTF-16 surrogate
  EXPECT_EQ(EscapeForTerminal("\xf4\x90\x80\x80"), "\\364\\220\\200\\200");  // past U+10FFFF
  EXPECT_EQ(EscapeForTerminal("\xe6\x97\xa5\xff\xe6\x9c\xac"), "日\\377本");
}

TEST(EscapeForTerminal, TheResultHasNoControlBytes) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  for (const char c : EscapeForTerminal(all)) {
    const auto byte = static_cast<unsigned char>(c);
    EXPECT_TRUE(byte >= 0x20 && byte < 0x7f) << "byte " << int(byte);
  }
}

}  // namespace
}  // namespace ferry::client

// ---- ls -h sizes and chmod modes (client/commands.h) ----

#include "client/commands.h"

namespace ferry::client {
namespace {

TEST(ShortSize, PrintsSizesAsLsDashHDoes) {
  EXPECT_EQ(ShortSize(0), "0");
  EXPECT_EQ(ShortSize(1023), "1023");
  EXPECT_EQ(ShortSize(1024), "1.0K");
  EXPECT_EQ(ShortSize(5000), "4.9K");
  EXPECT_EQ(ShortSize(10 * 1024), "10K");
  EXPECT_EQ(ShortSize(10 * 1024 + 1), "11K");
  EXPECT_EQ(ShortSize(2000000), "2.0M");
  EXPECT_EQ(ShortSize(1024ull * 1024 * 1024 - 1), "1.0G");
  EXPECT_EQ(ShortSize(5ull * 1024 * 1024 * 1024 * 1024), "5.0T");
}

TEST(ParseChmodMode, TakesOctalAndSymbolicModesAsChmodDoes) {
  EXPECT_EQ(*ParseChmodMode("600", 0644, false), 0600u);
  EXPECT_EQ(*ParseChmodMode("0755", 0, false), 0755u);
  EXPECT_EQ(*ParseChmodMode("u+x", 0644, false), 0744u);
  EXPECT_EQ(*ParseChmodMode("go-r", 0644, false), 0600u);
  EXPECT_EQ(*ParseChmodMode("a=r", 0755, false), 0444u);
  EXPECT_EQ(*ParseChmodMode("+x", 0644, false), 0755u);
  EXPECT_EQ(*ParseChmodMode("u=rwx,g=rx,o=", 0, false), 0750u);
  EXPECT_EQ(*ParseChmodMode("a+X", 0644, true), 0755u);   // X: folders
  EXPECT_EQ(*ParseChmodMode("a+X", 0644, false), 0644u);  // and files executable by someone
  EXPECT_EQ(*ParseChmodMode("a+X", 0744, false), 0755u);
  // Only permission bits: the server keeps no setuid, setgid or sticky bit.
  for (const char* special : {"4755", "1777", "u+s", "+t", "u+xs"}) {
    EXPECT_EQ(ParseChmodMode(special, 0644, false).status().code(), ErrorCode::kInvalid) << special;
  }
  for (const char* bad : {"", "9", "12345", "u", "u+q", "x+r", "u+x,", "+x;"}) {
    EXPECT_EQ(ParseChmodMode(bad, 0644, false).status().code(), ErrorCode::kInvalid) << bad;
  }
}

}  // namespace
}  // namespace ferry::client
