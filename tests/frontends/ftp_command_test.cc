// The FTP control connection's text on its own: command lines, replies, addresses, offsets, times and listings; and
// the session's command table.
#include "frontends/ftp/ftp_command.h"

#include <set>
#include <string>
#include <variant>

#include <gtest/gtest.h>

#include "frontends/ftp/ftp_session.h"

namespace ferry::frontends::ftp {
namespace {

TEST(FtpCommandTest, CommandLinesAreSplitOnCrlfOrLfWithTheVerbUpperCased) {
  CommandReader reader;
  reader.Append("user alice\r\nPASS sec");
  auto first = reader.Next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->verb, "USER");
  EXPECT_EQ(first->argument, "alice");
  EXPECT_FALSE(reader.Next());  // the second line has not ended
  reader.Append("ret\nNOOP\r\n");
  auto second = reader.Next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->verb, "PASS");
  EXPECT_EQ(second->argument, "secret");
  EXPECT_EQ(reader.Next()->verb, "NOOP");
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FtpCommandTest, ArgumentsKeepTheirSpacesAndEmptyLinesHaveNoVerb) {
  CommandReader reader;
  reader.Append("STOR  two spaces.txt \r\n   \r\n");
  auto stor = reader.Next();
  EXPECT_EQ(stor->verb, "STOR");
  EXPECT_EQ(stor->argument, " two spaces.txt ");
  EXPECT_EQ(reader.Next()->verb, "");
}

TEST(FtpCommandTest, TelnetInterruptBeforeAborIsDropped) {
  CommandReader reader;
  reader.Append("\xff\xf4\xff\xf2" "ABOR\r\n");
  EXPECT_EQ(reader.Next()->verb, "ABOR");
  reader.Append("STOR a\xff\xff" "b\r\n");
  EXPECT_EQ(reader.Next()->argument, "a\xff" "b");
}

TEST(FtpCommandTest, ALineLongerThanTheLimitIsRefusedWithoutBeingKept) {
  CommandReader reader;
  reader.Append(std::string(kMaxCommandLine + 1, 'a'));
  EXPECT_TRUE(reader.too_long());
  EXPECT_EQ(reader.buffered(), 0u);
  CommandReader ended;
  ended.Append("NOOP\r\n" + std::string(kMaxCommandLine, 'b') + "\r\n");
  EXPECT_EQ(ended.Next()->verb, "NOOP");
  EXPECT_FALSE(ended.Next());
  EXPECT_TRUE(ended.too_long());
}

TEST(FtpCommandTest, RepliesAreOneLineOrMultiLineAndNameBreaksCannotForgeOne) {
  EXPECT_EQ(FormatReply(200, "ok"), "200 ok\r\n");
  EXPECT_EQ(FormatReply(211, "Features:\n UTF8\nEnd"), "211-Features:\r\n UTF8\r\n211 End\r\n");
  // A file name carrying "\r\n226 ..." stays inside the reply: the forged line is indented, the CR dropped.
  EXPECT_EQ(FormatReply(550, "no such file: a\r\n226 done\nmore"), "550-no such file: a\r\n 226 done\r\n550 more\r\n");
  // One line with a bare CR, or with a line end of its own, is still one line.
  EXPECT_EQ(FormatReply(550, "no such file: a\rb"), "550 no such file: ab\r\n");
  EXPECT_EQ(FormatReply(226, "done\n"), "226 done\r\n");
  // AppendReply adds to what is there: replies to pipelined commands go out together.
  std::string out = "200 NOOP ok.\r\n";
  AppendReply(out, 211, "Features:\n UTF8\nEnd");
  AppendReply(out, 421, "bye");
  EXPECT_EQ(out, "200 NOOP ok.\r\n211-Features:\r\n UTF8\r\n211 End\r\n421 bye\r\n");
}

TEST(FtpCommandTest, EveryVerbHasOneEntryWithExactlyOneWayToRunIt) {
  std::set<std::string> verbs;
  for (const FtpSession::CommandEntry& entry : FtpSession::Commands()) {
    EXPECT_TRUE(verbs.insert(std::string(entry.verb)).second) << entry.verb << " twice";
    EXPECT_EQ(UpperCase(entry.verb), entry.verb);
    // A coroutine for what waits, a plain function for what only replies (never both: a variant), and never none.
    EXPECT_TRUE(std::visit([](auto run) { return run != nullptr; }, entry.run)) << entry.verb;
    EXPECT_EQ(FtpSession::FindCommand(entry.verb), &entry) << entry.verb;
    EXPECT_FALSE(entry.help.empty()) << entry.verb;
  }
  EXPECT_GE(verbs.size(), 50u);
  EXPECT_EQ(FtpSession::FindCommand("noop"), nullptr);  // verbs are upper-cased before they are looked up
  EXPECT_EQ(FtpSession::FindCommand("NOOPS"), nullptr);
  EXPECT_EQ(FtpSession::FindCommand(""), nullptr);
  const FtpSession::CommandEntry* noop = FtpSession::FindCommand("NOOP");
  const FtpSession::CommandEntry* retr = FtpSession::FindCommand("RETR");
  ASSERT_NE(noop, nullptr);
  ASSERT_NE(retr, nullptr);
  EXPECT_TRUE(std::holds_alternative<FtpSession::Answer>(noop->run));
  EXPECT_TRUE(std::holds_alternative<FtpSession::Handler>(retr->run));
}

TEST(FtpCommandTest, UpperCaseChangesOnlyAsciiLetters) {
  EXPECT_EQ(UpperCase("noOp retr-1"), "NOOP RETR-1");
  EXPECT_EQ(UpperCase("\xc3\xa9t\xe9"), "\xc3\xa9T\xe9");  // bytes of other characters pass unchanged
}

TEST(FtpCommandTest, PathsAreQuotedWithQuotesDoubled) {
  EXPECT_EQ(QuotePath("/a \"b\""), "\"/a \"\"b\"\"\"");
  EXPECT_EQ(QuotePath("/x\ny"), std::string("\"/x\0y\"", 6));
}

TEST(FtpCommandTest, PortAndEprtArgumentsParseAndBadOnesAreRefused) {
  auto port = ParsePortArgument("127,0,0,1,195,80");
  ASSERT_TRUE(port.ok());
  EXPECT_EQ(port->address, "127.0.0.1");
  EXPECT_EQ(port->port, 195 * 256 + 80);
  EXPECT_FALSE(ParsePortArgument("127,0,0,1,195").ok());
  EXPECT_FALSE(ParsePortArgument("127,0,0,1,195,80,1").ok());
  EXPECT_FALSE(ParsePortArgument("256,0,0,1,1,1").ok());
  EXPECT_FALSE(ParsePortArgument("a,b,c,d,e,f").ok());
  auto v4 = ParseEprtArgument("|1|127.0.0.1|6000|");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->port, 6000);
  auto v6 = ParseEprtArgument("!2!::1!6001!");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->address, "::1");
  EXPECT_EQ(ParseEprtArgument("|3|x|1|").status().code(), ErrorCode::kNotSupported);
  EXPECT_FALSE(ParseEprtArgument("|1|::1|6000|").ok());
  EXPECT_FALSE(ParseEprtArgument("|1|127.0.0.1|0|").ok());
  EXPECT_FALSE(ParseEprtArgument("|1|127.0.0.1|70000|").ok());
}

TEST(FtpCommandTest, PassiveRepliesSayTheAddressAndPort) {
  EXPECT_EQ(FormatPasvReply("10.0.0.5", 50001), "Entering Passive Mode (10,0,0,5,195,81).");
  EXPECT_EQ(FormatEpsvReply(50001), "Entering Extended Passive Mode (|||50001|).");
}

TEST(FtpCommandTest, RestAndTypeArguments) {
  EXPECT_EQ(*ParseRestOffset("1024"), 1024u);
  EXPECT_FALSE(ParseRestOffset("-1").ok());
  EXPECT_FALSE(ParseRestOffset("12a").ok());
  EXPECT_FALSE(ParseRestOffset("99999999999999999999").ok());
  EXPECT_TRUE(*ParseTypeIsAscii("a"));
  EXPECT_TRUE(*ParseTypeIsAscii("A N"));
  EXPECT_FALSE(*ParseTypeIsAscii("I"));
  EXPECT_FALSE(*ParseTypeIsAscii("L 8"));
  EXPECT_FALSE(ParseTypeIsAscii("E").ok());
}

TEST(FtpCommandTest, TimesAreUtcYyyymmddhhmmss) {
  EXPECT_EQ(FormatTimeVal(0), "19700101000000");
  EXPECT_EQ(FormatTimeVal(1700000000), "20231114221320");
  EXPECT_EQ(*ParseTimeVal("20231114221320"), 1700000000);
  EXPECT_EQ(*ParseTimeVal("20231114221320.123"), 1700000000);
  EXPECT_FALSE(ParseTimeVal("2023111422132").ok());
  EXPECT_FALSE(ParseTimeVal("20231314221320").ok());
  EXPECT_FALSE(ParseTimeVal("2023111422132x").ok());
}

TEST(FtpCommandTest, ListLinesLookLikeLsAndFactsLikeRfc3659) {
  storage::FileInfo file;
  file.name = "report.pdf";
  file.type = storage::FileType::kFile;
  file.size = 12345;
  file.mode = 0640;
  file.mtime = 1700000000;
  file.nlink = 1;
  EXPECT_EQ(FormatListLine(file, "alice", 1700000000 + 60),
            "-rw-r-----   1 alice alice        12345 Nov 14 22:13 report.pdf\r\n");
  // A year-old entry shows its year.
  EXPECT_EQ(FormatListLine(file, "alice", 1700000000 + 400 * 86400),
            "-rw-r-----   1 alice alice        12345 Nov 14  2023 report.pdf\r\n");
  EXPECT_EQ(FormatFacts(file, "file", true, "report.pdf"),
            "type=file;size=12345;modify=20231114221320;perm=adfrw;UNIX.mode=0640; report.pdf");
  file.device = 0x801;
  file.inode = 0x1f2e;
  EXPECT_EQ(FormatFacts(file, FactType(file), true, "report.pdf"),
            "type=file;size=12345;modify=20231114221320;perm=adfrw;unique=801g1f2e;UNIX.mode=0640; report.pdf");
  file.inode = 0;
  storage::FileInfo folder = file;
  folder.type = storage::FileType::kDirectory;
  folder.mode = 0755;
  EXPECT_EQ(FactType(folder), "dir");
  EXPECT_EQ(FormatFacts(folder, "dir", false, "docs"), "type=dir;modify=20231114221320;perm=le;UNIX.mode=0755; docs");
  // A name with a line break cannot end the line early.
  file.name = "a\r\nb";
  EXPECT_EQ(FormatListLine(file, "alice", 1700000000).find("\r\nb"), std::string::npos);
}

}  // namespace
}  // namespace ferry::frontends::ftp
