#include "client/command_line.h"

#include <gtest/gtest.h>

#include "client/commands.h"

namespace ferry::client {
namespace {

std::vector<std::string> Words(std::string_view line) {
  auto words = SplitWords(line);
  EXPECT_TRUE(words.ok()) << words.status().ToString();
  return words.ok() ? *words : std::vector<std::string>{};
}

TEST(SplitWords, SeparatesOnWhitespace) {
  EXPECT_EQ(Words("  ls   -l\t/a  "), (std::vector<std::string>{"ls", "-l", "/a"}));
  EXPECT_TRUE(Words("   ").empty());
}

TEST(SplitWords, HonoursQuotesAndEscapes) {
  EXPECT_EQ(Words("mkdir 'a b' \"c d\" e\\ f"), (std::vector<std::string>{"mkdir", "a b", "c d", "e f"}));
  EXPECT_EQ(Words("x 'it''s' \"say \\\"hi\\\"\""), (std::vector<std::string>{"x", "its", "say \"hi\""}));
  EXPECT_EQ(Words("x ''"), (std::vector<std::string>{"x", ""}));
  EXPECT_EQ(Words("a'b'c"), (std::vector<std::string>{"abc"}));
}

TEST(SplitWords, RejectsUnclosedQuotes) {
  EXPECT_FALSE(SplitWords("ls 'open").ok());
  EXPECT_FALSE(SplitWords("ls \"open").ok());
  EXPECT_FALSE(SplitWords("ls trailing\\").ok());
}

TEST(QuoteWord, RoundTripsThroughSplitWords) {
  for (const std::string word : {"plain", "with space", "quo'te", "dq\"x", "back\\slash", ""}) {
    const auto words = Words("cmd " + QuoteWord(word));
    ASSERT_EQ(words.size(), 2u) << word;
    EXPECT_EQ(words[1], word);
  }
}

TEST(ParseTarget, AcceptsUserHostAndPort) {
  auto target = ParseTarget("alice@example.org:9000");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->user, "alice");
  EXPECT_EQ(target->address.host, "example.org");
  EXPECT_EQ(target->address.port, 9000);

  target = ParseTarget("127.0.0.1");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->user, "");
  EXPECT_EQ(target->address.port, kDefaultPort);

  target = ParseTarget("bob@[::1]:7022");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->address.host, "::1");
  EXPECT_EQ(target->address.port, 7022);
  EXPECT_EQ(FormatHostPort(target->address), "[::1]:7022");
}

TEST(ParseTarget, RejectsBadInput) {
  EXPECT_FALSE(ParseTarget("@host").ok());
  EXPECT_FALSE(ParseTarget("alice@host:port").ok());
  EXPECT_FALSE(ParseTarget("alice@host:70000").ok());
  EXPECT_FALSE(ParseTarget("alice@[::1").ok());
  EXPECT_FALSE(ParseTarget("").ok());
}

TEST(FormatMode, MatchesLs) {
  EXPECT_EQ(FormatMode("dir", 0755), "drwxr-xr-x");
  EXPECT_EQ(FormatMode("file", 0640), "-rw-r-----");
  EXPECT_EQ(FormatMode("link", 0777), "lrwxrwxrwx");
  EXPECT_EQ(FormatMode("file", 04755), "-rwsr-xr-x");
  EXPECT_EQ(FormatMode("dir", 01777), "drwxrwxrwt");
}

TEST(FormatLongEntry, ShowsModeLinksSizeAndName) {
  const protocol::DirectoryEntry entry{"notes.txt", protocol::EntryType::kFile, 1234, 0644, 1000, 0, 1, ""};
  const std::string line = FormatLongEntry(entry, 2000);
  EXPECT_TRUE(line.starts_with("-rw-r--r--")) << line;
  EXPECT_NE(line.find(" 1234 "), std::string::npos) << line;
  EXPECT_TRUE(line.ends_with(" notes.txt")) << line;
}

TEST(FormatQuota, ShowsUseAgainstLimitsOrNoLimit) {
  const std::string limited = FormatQuota(protocol::QuotaReply{1024, 0, 2048, 3, 0, 10});
  EXPECT_NE(limited.find("50.0%"), std::string::npos) << limited;
  EXPECT_NE(limited.find("files: 3 of 10"), std::string::npos) << limited;
  const std::string unlimited = FormatQuota(protocol::QuotaReply{1024, 512, std::nullopt, 3, 1, std::nullopt});
  EXPECT_NE(unlimited.find("space: "), std::string::npos) << unlimited;
  EXPECT_NE(unlimited.find("held for uploads in progress"), std::string::npos) << unlimited;
  EXPECT_NE(unlimited.find("files: 3 (files, folders and links), no limit"), std::string::npos) << unlimited;
}

TEST(AllCommands, ListsEveryShellCommand) {
  std::vector<std::string> names;
  for (const auto& command : AllCommands()) names.emplace_back(command.name);
  for (const std::string expected : {"help", "pwd", "cd", "ls", "stat", "mkdir", "rmdir", "rm", "mv", "whoami", "lcd",
                                     "lpwd", "lls", "quit"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

}  // namespace
}  // namespace ferry::client
