// The real `ferry` client against a real server: one-shot commands, batch files, piped input, exit codes, and
// trust on first use over TLS.
#include <gmock/gmock.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/audit_lines.h"
#include "support/raw_client.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace fs = std::filesystem;
namespace {

class ClientIntegration : public ::testing::Test {
 protected:
  ProcessResult Alice(const std::vector<std::string>& args, const std::string& input = "") {
    return server_.Client("alice", "alice-secret", args, input);
  }
  TestServer server_;
};

TEST_F(ClientIntegration, FreshSessionStartsAtTheHome) {
  const auto result = Alice({"pwd"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "/\n");
  EXPECT_EQ(Alice({"whoami"}).out, "alice\n");
}

TEST_F(ClientIntegration, FolderCommandsChangeTheHome) {
  ASSERT_EQ(Alice({"mkdir", "-p", "a/b/c"}).exit_code, 0);
  EXPECT_TRUE(Exists(server_.home("alice") + "/a/b/c"));
  EXPECT_EQ(Alice({"mkdir", "-p", "a/b/c"}).exit_code, 0);  // -p: existing is fine
  const auto again = Alice({"mkdir", "a"});
  EXPECT_EQ(again.exit_code, 1) << again.err;
  RawClient raw(server_.port());
  ASSERT_TRUE(raw.HelloAndLogin("alice", "alice-secret"));
  EXPECT_EQ(raw.Call({{"op", "mkdir"}, {"path", "a"}}).value("code", ""), "EEXIST");

  EXPECT_NE(Alice({"rmdir", "a"}).exit_code, 0);  // not empty
  EXPECT_EQ(Alice({"rmdir", "a/b/c"}).exit_code, 0);
  EXPECT_FALSE(Exists(server_.home("alice") + "/a/b/c"));

  WriteFile(server_.home("alice") + "/a/file.txt", "hello");
  EXPECT_EQ(Alice({"mv", "a/file.txt", "a/renamed.txt"}).exit_code, 0);
  EXPECT_EQ(ReadFile(server_.home("alice") + "/a/renamed.txt"), "hello");
  EXPECT_EQ(Alice({"mv", "a/renamed.txt", "a/b"}).exit_code, 0);  // into a folder
  EXPECT_TRUE(Exists(server_.home("alice") + "/a/b/renamed.txt"));

  WriteFile(server_.home("alice") + "/keep.txt", "keep");
  WriteFile(server_.home("alice") + "/other.txt", "other");
  const auto refused = Alice({"mv", "other.txt", "keep.txt"});
  EXPECT_NE(refused.exit_code, 0);  // no silent overwrite
  // The server says the target exists; the client names its own flag that would replace it.
  EXPECT_NE(refused.err.find("target exists"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("use -f"), std::string::npos) << refused.err;
  EXPECT_EQ(ReadFile(server_.home("alice") + "/keep.txt"), "keep");
  EXPECT_EQ(Alice({"mv", "-f", "other.txt", "keep.txt"}).exit_code, 0);
  EXPECT_EQ(ReadFile(server_.home("alice") + "/keep.txt"), "other");

  EXPECT_NE(Alice({"rm", "a"}).exit_code, 0);  // a folder needs -r
  EXPECT_EQ(Alice({"rm", "-r", "a"}).exit_code, 0);
  EXPECT_FALSE(Exists(server_.home("alice") + "/a"));
  EXPECT_NE(Alice({"rm", "missing"}).exit_code, 0);
  EXPECT_EQ(Alice({"rm", "-f", "missing"}).exit_code, 0);
}

TEST_F(ClientIntegration, LsShortAndLong) {
  WriteFile(server_.home("alice") + "/b.txt", "12345");
  WriteFile(server_.home("alice") + "/.hidden", "");
  ASSERT_EQ(Alice({"mkdir", "a-folder"}).exit_code, 0);
  const auto short_listing = Alice({"ls"});
  EXPECT_EQ(short_listing.exit_code, 0) << short_listing.err;
  EXPECT_EQ(short_listing.out, "a-folder\nb.txt\n");
  EXPECT_NE(Alice({"ls", "-a"}).out.find(".hidden"), std::string::npos);

  const auto long_listing = Alice({"ls", "-l"});
  EXPECT_EQ(long_listing.exit_code, 0) << long_listing.err;
  EXPECT_THAT(long_listing.out, ::testing::ContainsRegex("drwx.* a-folder"));
  EXPECT_THAT(long_listing.out, ::testing::ContainsRegex("-rw.* 5 .* b.txt"));

  const auto stat = Alice({"stat", "b.txt"});
  EXPECT_EQ(stat.exit_code, 0) << stat.err;
  EXPECT_NE(stat.out.find("Type: file"), std::string::npos) << stat.out;
  EXPECT_NE(stat.out.find("Size: 5"), std::string::npos);
  EXPECT_NE(Alice({"ls", "nope"}).exit_code, 0);
}

// No raw control byte in `text` but the newlines ending its lines.
::testing::AssertionResult NoRawControlBytes(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte < 0x20 && byte != '\n') || byte == 0x7f) {
      return ::testing::AssertionFailure() << "raw byte " << int(byte) << " at " << i;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST_F(ClientIntegration, LsEscapesControlCharactersInNames) {
  const std::string home = server_.home("alice");
  for (const std::string name : {"a\x1b[31mred", "new\nline", "tab\tname", "del\x7f", "bad\xff", "back\\slash",
                                 "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac"}) {
    WriteFile(home + "/" + name, "x");
  }
  // The escaped forms, in the listing's (byte) order, one per line: valid UTF-8 unchanged. Names travel in UTF-8 JSON,
  // so the server has already turned the byte that is not UTF-8 into U+FFFD (escaping such bytes is a unit test's).
  const std::string expected =
      "a\\033[31mred\nback\\\\slash\nbad\xef\xbf\xbd\ncaf\xc3\xa9\ndel\\177\nnew\\nline\ntab\\tname\n"
      "\xe6\x97\xa5\xe6\x9c\xac\n";
  const auto listing = Alice({"ls"});
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_EQ(listing.out, expected);
  EXPECT_TRUE(NoRawControlBytes(listing.out));

  const auto long_listing = Alice({"ls", "-l"});
  ASSERT_EQ(long_listing.exit_code, 0) << long_listing.err;
  EXPECT_TRUE(NoRawControlBytes(long_listing.out));
  EXPECT_EQ(std::count(long_listing.out.begin(), long_listing.out.end(), '\n'), 8) << long_listing.out;
  for (const std::string shown : {" a\\033[31mred\n", " new\\nline\n", " tab\\tname\n", " del\\177\n",
                                  " bad\xef\xbf\xbd\n", " back\\\\slash\n", " caf\xc3\xa9\n"}) {
    EXPECT_NE(long_listing.out.find(shown), std::string::npos) << shown << " not in:\n" << long_listing.out;
  }

  // A message naming such a file (here the server's refusal to enter it) is escaped too.
  const auto refused = Alice({"cd", "a\x1b[31mred"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(NoRawControlBytes(refused.err));
  EXPECT_NE(refused.err.find("a\\033[31mred"), std::string::npos) << refused.err;
}

TEST_F(ClientIntegration, FailingCommandPrintsOneLineAndExitsNonZero) {
  const auto result = Alice({"cd", "does-not-exist"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_NE(result.err.find("ferry: "), std::string::npos);
  const auto unknown = Alice({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);  // a usage error
  // The wording is the point: the client itself knows no such command, before any request reaches the server.
  EXPECT_NE(unknown.err.find("unknown command"), std::string::npos) << unknown.err;
}

TEST_F(ClientIntegration, WrongPasswordFails) {
  const auto result = server_.Client("alice", "wrong", {"pwd"});
  EXPECT_EQ(result.exit_code, 4) << result.err;  // the login was refused
  const auto unknown = server_.Client("nobody", "wrong", {"pwd"});
  EXPECT_EQ(unknown.exit_code, 4);
  EXPECT_EQ(unknown.err, result.err);
  // What the server answers such a login.
  RawClient raw(server_.port());
  ASSERT_FALSE(raw.Call({{"op", "hello"}, {"versions", {1}}}).is_null());
  EXPECT_EQ(raw.Call({{"op", "login"}, {"user", "alice"}, {"password", "wrong"}}).value("code", ""), "EAUTH");
}

TEST_F(ClientIntegration, BatchFileRunsInOrderAndStopsAtFirstFailure) {
  const std::string batch = server_.client_home() + "/batch.txt";
  WriteFile(batch, "# comment\nmkdir x\ncd x\npwd\n\nmkdir y\ncd nowhere\nmkdir never\n");
  const auto result = Alice({"-b", batch});
  EXPECT_NE(result.exit_code, 0);
  // As sftp -b: each command echoed after the prompt, its output after it; the failure names its line.
  EXPECT_EQ(result.out, "ferry> mkdir x\nferry> cd x\nferry> pwd\n/x\nferry> mkdir y\nferry> cd nowhere\n");
  EXPECT_TRUE(Exists(server_.home("alice") + "/x/y"));
  EXPECT_FALSE(Exists(server_.home("alice") + "/x/never"));
  EXPECT_THAT(result.err, ::testing::StartsWith("ferry: " + batch + ":7: ")) << result.err;
  EXPECT_NE(result.err.find("nowhere"), std::string::npos) << result.err;
  // Piped without -b, commands are not echoed.
  const auto piped = Alice({}, "cd x\npwd\n");
  EXPECT_EQ(piped.out, "/x\n");
}

TEST_F(ClientIntegration, BatchLinesWithDashMayFail) {
  const auto result = Alice({"-b", "-"}, "-cd nowhere\nmkdir z\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(Exists(server_.home("alice") + "/z"));
}

TEST_F(ClientIntegration, PipedCommandsRunLikeABatch) {
  const auto result = Alice({}, "mkdir p\ncd p\npwd\nquit\nmkdir after-quit\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "/p\n");
  EXPECT_FALSE(Exists(server_.home("alice") + "/p/after-quit"));
}

TEST_F(ClientIntegration, QuotedArgumentsKeepSpaces) {
  const auto result = Alice({"-b", "-"}, "mkdir 'with space'\nmkdir \"double \\\"q\\\"\"\nmkdir back\\ slash\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(Exists(server_.home("alice") + "/with space"));
  EXPECT_TRUE(Exists(server_.home("alice") + "/double \"q\""));
  EXPECT_TRUE(Exists(server_.home("alice") + "/back slash"));
}

TEST_F(ClientIntegration, LocalCommandsActOnThisMachine) {
  TempDir local;
  ASSERT_EQ(::mkdir((local / "sub").c_str(), 0755), 0);
  WriteFile(local / "sub/here.txt", "12345");
  WriteFile(local / "sub/.dot", "");
  const auto result = Alice({"-b", "-"}, "lcd " + (local / "sub") + "\nlpwd\nlls\nlls -l\nlls -a\n-lcd /no/such/dir\nlpwd\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const std::string folder = local / "sub";
  EXPECT_NE(result.out.find("ferry> lpwd\n" + folder + "\nferry> lls\nhere.txt\n"), std::string::npos) << result.out;
  EXPECT_THAT(result.out, ::testing::ContainsRegex("-rw.* 5 .* here.txt"));
  EXPECT_NE(result.out.find(".dot"), std::string::npos);
  EXPECT_TRUE(result.out.ends_with(folder + "\n")) << result.out;  // a failed lcd leaves the folder as it was
  EXPECT_NE(result.err.find("/no/such/dir"), std::string::npos) << result.err;
}

TEST_F(ClientIntegration, PlainClientAgainstTlsServerFailsClearly) {
  TestServer tls_server(WithTls());
  ASSERT_TRUE(tls_server.started());
  const auto result = RunProcess({FerryPath(), "--plain", "alice@" + tls_server.address(), "pwd"},
                                 {{"FERRY_PASSWORD", "alice-secret"}, {"HOME", tls_server.client_home()}});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("connect without --plain"), std::string::npos) << result.err;
}

// Usage errors read "ferry: ..." with a pointer to --help and exit 2, before anything is connected to.
TEST_F(ClientIntegration, UnknownOptionsAndMissingTargetsAreUsageErrors) {
  const std::map<std::string, std::string> env = {{"FERRY_PASSWORD", "alice-secret"},
                                                  {"HOME", server_.client_home()}};
  // The value after an unknown option was once taken for the host; 127.0.0.1:9 keeps any such mistake on loopback.
  const auto unknown = RunProcess({FerryPath(), "--plain", "-Z", "127.0.0.1:9", "alice@" + server_.address(), "pwd"},
                                  env);
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_EQ(unknown.err, "ferry: unknown option -Z\nTry 'ferry --help' for more information.\n");
  EXPECT_EQ(unknown.out, "");
  const auto long_unknown = RunProcess({FerryPath(), "--no-such-thing=1", "alice@" + server_.address(), "pwd"}, env);
  EXPECT_EQ(long_unknown.exit_code, 2);
  EXPECT_THAT(long_unknown.err, ::testing::StartsWith("ferry: unknown option --no-such-thing\n"));

  const auto missing = RunProcess({FerryPath()}, env);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, ::testing::StartsWith("ferry: TARGET is required\n"));
  const auto bad_value = RunProcess({FerryPath(), "-P", "70000", "alice@127.0.0.1", "pwd"}, env);
  EXPECT_EQ(bad_value.exit_code, 2);
  EXPECT_THAT(bad_value.err, ::testing::StartsWith("ferry: "));
  const auto bad_target = RunProcess({FerryPath(), "alice@127.0.0.1:99999", "pwd"}, env);
  EXPECT_EQ(bad_target.exit_code, 2);
  EXPECT_THAT(bad_target.err, ::testing::StartsWith("ferry: bad port in"));

  const auto help = RunProcess({FerryPath(), "--help"}, env);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--port"), std::string::npos) << help.out;
  // The forms the program takes: a command, a batch, ping.
  EXPECT_NE(help.out.find("\n  ferry [OPTIONS] TARGET [COMMAND [ARGS...]] "), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("\n  ferry ping [-c COUNT] HOST[:PORT] "), std::string::npos) << help.out;

  const auto ping = RunProcess({FerryPath(), "ping", "--bogus", "127.0.0.1"}, env);
  EXPECT_EQ(ping.exit_code, 2);
  EXPECT_THAT(ping.err, ::testing::StartsWith("ferry ping: "));
  const auto ferryd = RunProcess({FerrydPath(), "user", "add"}, env);
  EXPECT_EQ(ferryd.exit_code, 2);
  EXPECT_THAT(ferryd.err, ::testing::StartsWith("ferryd: "));
  EXPECT_NE(ferryd.err.find("Try 'ferryd --help'"), std::string::npos) << ferryd.err;
}

TEST_F(ClientIntegration, ThePortCanBeGivenWithPAsSftpAndSshTakeIt) {
  const std::map<std::string, std::string> env = {{"FERRY_PASSWORD", "alice-secret"},
                                                  {"HOME", server_.client_home()}};
  const std::string port = std::to_string(server_.port());
  for (const std::string flag : {"-P", "-p", "--port"}) {
    const auto result = RunProcess({FerryPath(), "--plain", flag, port, "alice@127.0.0.1", "whoami"}, env);
    EXPECT_EQ(result.exit_code, 0) << flag << ": " << result.err;
    EXPECT_EQ(result.out, "alice\n") << flag;
  }
  const auto same = RunProcess({FerryPath(), "--plain", "-P" + port, "alice@127.0.0.1:" + port, "whoami"}, env);
  EXPECT_EQ(same.exit_code, 0) << same.err;
  const auto differ = RunProcess({FerryPath(), "--plain", "-P", "9", "alice@127.0.0.1:" + port, "whoami"}, env);
  EXPECT_EQ(differ.exit_code, 2);
  EXPECT_THAT(differ.err, ::testing::StartsWith("ferry: two ports given"));
}

TEST_F(ClientIntegration, TheClientSaysItIsWaitingWhileTheServerSlowsLoginsDown) {
  // Three failures from this address: from here on the server waits (a second and more) before each login.
  for (int i = 0; i < 3; ++i) {
    const auto failed = server_.Client("alice", "wrong-password", {"pwd"});
    ASSERT_NE(failed.exit_code, 0);
    EXPECT_EQ(failed.err.find("waiting for the server"), std::string::npos) << failed.err;
  }
  const auto slowed = Alice({"pwd"});
  EXPECT_EQ(slowed.exit_code, 0) << slowed.err;
  EXPECT_EQ(slowed.out, "/\n");
  EXPECT_NE(slowed.err.find("ferry: waiting for the server to answer the login (it slows logins down after failed "
                            "attempts)"),
            std::string::npos)
      << slowed.err;
}

// Messages read as coreutils and sftp would have them.
TEST_F(ClientIntegration, ListingAndStatOfSeveralPathsReadAsLsAndStatDo) {
  WriteFile(server_.home("alice") + "/a.txt", "a");
  WriteFile(server_.home("alice") + "/b.txt", "bb");
  ASSERT_EQ(::mkdir((server_.home("alice") + "/sub").c_str(), 0755), 0);
  WriteFile(server_.home("alice") + "/sub/x.txt", "x");
  // Files named together, with no headings; then each folder under its own.
  const auto two = Alice({"ls", "a.txt", "b.txt"});
  EXPECT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(two.out, "a.txt\nb.txt\n");
  const auto mixed = Alice({"ls", "sub", "a.txt"});
  EXPECT_EQ(mixed.out, "a.txt\n\nsub:\nx.txt\n");
  const auto one = Alice({"ls", "sub"});
  EXPECT_EQ(one.out, "x.txt\n");

  // Entries apart; a missing one reported and passed over, the command then failing.
  const auto stat = Alice({"stat", "a.txt", "missing.txt", "b.txt"});
  EXPECT_NE(stat.exit_code, 0);
  EXPECT_NE(stat.out.find("  File: a.txt\n"), std::string::npos) << stat.out;
  EXPECT_NE(stat.out.find(" +0000\n\n  File: b.txt\n"), std::string::npos) << stat.out;
  EXPECT_NE(stat.err.find("missing.txt"), std::string::npos) << stat.err;
}

TEST_F(ClientIntegration, HelpLinesUpAndEveryCommandTakesHelp) {
  const auto help = Alice({"help"});
  EXPECT_EQ(help.exit_code, 0);
  std::size_t column = std::string::npos;
  std::istringstream lines(help.out);
  for (std::string line; std::getline(lines, line);) {
    // Where the summary starts: after the run of spaces that ends the usage column.
    const auto gap = line.find("  ", line.find(' ') == 0 ? 1 : 0);
    ASSERT_NE(gap, std::string::npos) << line;
    const auto summary = line.find_first_not_of(' ', gap);
    if (column == std::string::npos) column = summary;
    EXPECT_EQ(summary, column) << "misaligned: " << line;
  }
  const auto put = Alice({"put", "--help"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  EXPECT_THAT(put.out, ::testing::StartsWith("put [OPTION...] LOCAL... [REMOTE]"));
  EXPECT_THAT(put.out, ::testing::HasSubstr("  --delete "));
  EXPECT_THAT(put.out, ::testing::HasSubstr("Examples:\n  put report.pdf docs/\n"));
  EXPECT_EQ(put.err, "");
}

TEST_F(ClientIntegration, ChmodLnDfAndLsOptionsWorkAsCoreutilsDo) {
  const std::string home = server_.home("alice");
  ASSERT_EQ(::mkdir((home + "/docs").c_str(), 0755), 0);
  WriteFile(home + "/small.txt", std::string(10, 's'));
  WriteFile(home + "/medium.txt", std::string(5000, 'm'));
  WriteFile(home + "/large.bin", std::string(2000000, 'l'));
  const auto set_time = [](const std::string& path, std::int64_t seconds) {
    const struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  };
  set_time(home + "/small.txt", 1700000300);  // newest
  set_time(home + "/medium.txt", 1700000100);
  set_time(home + "/large.bin", 1700000200);

  // chmod: octal, symbolic, several entries by pattern; a bad mode changes nothing.
  ASSERT_EQ(Alice({"chmod", "600", "small.txt"}).exit_code, 0);
  EXPECT_EQ(ModeOf(home + "/small.txt"), 0600u);
  const auto symbolic = Alice({"chmod", "go+r,u+x", "small.txt"});
  ASSERT_EQ(symbolic.exit_code, 0) << symbolic.err;
  EXPECT_EQ(ModeOf(home + "/small.txt"), 0744u);
  ASSERT_EQ(Alice({"chmod", "640", "*.txt"}).exit_code, 0);
  EXPECT_EQ(ModeOf(home + "/small.txt"), 0640u);
  EXPECT_EQ(ModeOf(home + "/medium.txt"), 0640u);
  EXPECT_EQ(ModeOf(home + "/large.bin"), 0644u);
  const auto bad = Alice({"chmod", "u+q", "small.txt"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("invalid mode: 'u+q'"), std::string::npos) << bad.err;
  EXPECT_EQ(ModeOf(home + "/small.txt"), 0640u);

  // ln -s: a link inside the home; one that would lead out is refused; a hard link is not made.
  const auto link = Alice({"ln", "-s", "docs", "latest"});
  ASSERT_EQ(link.exit_code, 0) << link.err;
  EXPECT_EQ(fs::read_symlink(home + "/latest").string(), "docs");
  const auto long_link = Alice({"ls", "-l", "latest"});
  EXPECT_THAT(long_link.out, ::testing::EndsWith(" latest -> docs\n"));
  EXPECT_THAT(Alice({"ls", "-l"}).out, ::testing::HasSubstr(" latest -> docs\n"));
  EXPECT_THAT(Alice({"stat", "latest"}).out, ::testing::HasSubstr("  File: latest -> docs\n"));
  const auto out = Alice({"ln", "-s", "../../../elsewhere", "escape"});
  EXPECT_NE(out.exit_code, 0);
  EXPECT_FALSE(fs::is_symlink(home + "/escape"));
  const auto nameless = Alice({"ln", "-s", "/"});
  EXPECT_NE(nameless.exit_code, 0);
  EXPECT_NE(nameless.err.find("has no name of its own"), std::string::npos) << nameless.err;
  ASSERT_EQ(Alice({"ln", "-s", "docs/"}).exit_code, 1);  // named "docs", which exists
  const auto special = Alice({"chmod", "4755", "small.txt"});
  EXPECT_NE(special.exit_code, 0);
  EXPECT_NE(special.err.find("only permission bits"), std::string::npos) << special.err;
  const auto hard = Alice({"ln", "small.txt", "hard"});
  EXPECT_NE(hard.exit_code, 0);
  EXPECT_NE(hard.err.find("only symbolic links"), std::string::npos) << hard.err;

  // ls -S (largest first), -t (newest first), -r, -d, -h.
  EXPECT_EQ(Alice({"ls", "-S", "small.txt", "medium.txt", "large.bin"}).out, "large.bin\nmedium.txt\nsmall.txt\n");
  EXPECT_EQ(Alice({"ls", "-t", "*.txt", "*.bin"}).out, "small.txt\nlarge.bin\nmedium.txt\n");
  EXPECT_EQ(Alice({"ls", "-tr", "*.txt", "*.bin"}).out, "medium.txt\nlarge.bin\nsmall.txt\n");
  EXPECT_EQ(Alice({"ls", "-d", "docs"}).out, "docs\n");
  const auto human = Alice({"ls", "-lh", "medium.txt", "large.bin"});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_THAT(human.out, ::testing::HasSubstr(" 4.9K "));
  EXPECT_THAT(human.out, ::testing::HasSubstr(" 2.0M "));

  // df: the quota as a file system; without a limit, no size.
  const auto unlimited = Alice({"df", "-h"});
  ASSERT_EQ(unlimited.exit_code, 0) << unlimited.err;
  EXPECT_THAT(unlimited.out, ::testing::StartsWith("Filesystem "));
  EXPECT_THAT(unlimited.out, ::testing::HasSubstr(" - "));
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "set-quota", "--root", server_.root(), "alice", "10M"}).exit_code, 0);
  const auto limited = Alice({"df", "-h"});
  ASSERT_EQ(limited.exit_code, 0) << limited.err;
  EXPECT_THAT(limited.out, ::testing::HasSubstr("alice@127.0.0.1"));
  EXPECT_THAT(limited.out, ::testing::HasSubstr(" 10M "));
  EXPECT_THAT(limited.out, ::testing::HasSubstr("% /\n"));
}

// Everything read back from the file at `path` ("" when it cannot be read).
std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_F(ClientIntegration, CpCopiesOnTheServerWithinTheHomeAndTheQuota) {
  const std::string home = server_.home("alice");
  const std::string original = RandomBytes(20 * 1024 * 1024 + 12345, 7);  // more than one step of the server's copy
  WriteFile(home + "/a.bin", original);
  ASSERT_EQ(::chmod((home + "/a.bin").c_str(), 0640), 0);
  const struct timespec old_times[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (home + "/a.bin").c_str(), old_times, 0), 0);
  ASSERT_EQ(::mkdir((home + "/docs").c_str(), 0755), 0);

  // A file to a new name, into a folder, and with -p its time; the mode comes along.
  const auto copy = Alice({"cp", "a.bin", "b.bin"});
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  EXPECT_TRUE(Contents(home + "/b.bin") == original);
  EXPECT_EQ(ModeOf(home + "/b.bin"), 0640u);
  struct stat st {};
  ASSERT_EQ(::stat((home + "/b.bin").c_str(), &st), 0);
  EXPECT_NE(st.st_mtim.tv_sec, 1600000000);
  ASSERT_EQ(Alice({"cp", "-p", "a.bin", "docs/"}).exit_code, 0);
  ASSERT_EQ(::stat((home + "/docs/a.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  EXPECT_TRUE(Contents(home + "/docs/a.bin") == original);

  // -n keeps what is there; without it the file is replaced; a file is not copied onto itself.
  WriteFile(home + "/b.bin", "kept");
  ASSERT_EQ(Alice({"cp", "-n", "a.bin", "b.bin"}).exit_code, 0);
  EXPECT_EQ(Contents(home + "/b.bin"), "kept");
  ASSERT_EQ(Alice({"cp", "a.bin", "b.bin"}).exit_code, 0);
  EXPECT_TRUE(Contents(home + "/b.bin") == original);
  const auto same = Alice({"cp", "a.bin", "."});
  EXPECT_EQ(same.exit_code, 1);
  EXPECT_THAT(same.err, ::testing::HasSubstr("are the same file")) << same.err;
  const auto folder = Alice({"cp", "docs", "docs2"});
  EXPECT_EQ(folder.exit_code, 1);
  EXPECT_THAT(folder.err, ::testing::HasSubstr("-r not given; omitting folder docs")) << folder.err;
  EXPECT_FALSE(fs::exists(home + "/docs2"));

  // A tree, with a link in it copied as a link; several sources by pattern into a folder.
  ASSERT_EQ(::mkdir((home + "/tree").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((home + "/tree/sub").c_str(), 0700), 0);
  WriteFile(home + "/tree/one.txt", "one");
  WriteFile(home + "/tree/sub/two.txt", "two");
  ASSERT_EQ(::symlink("one.txt", (home + "/tree/link").c_str()), 0);
  const auto tree = Alice({"cp", "-r", "tree", "copy"});
  ASSERT_EQ(tree.exit_code, 0) << tree.err;
  EXPECT_EQ(Contents(home + "/copy/one.txt"), "one");
  EXPECT_EQ(Contents(home + "/copy/sub/two.txt"), "two");
  EXPECT_EQ(fs::read_symlink(home + "/copy/link").string(), "one.txt");
  ASSERT_EQ(Alice({"cp", "-r", "tree", "docs"}).exit_code, 0);  // into the folder, under its name
  EXPECT_EQ(Contents(home + "/docs/tree/sub/two.txt"), "two");
  const auto itself = Alice({"cp", "-r", "tree", "tree/sub"});
  EXPECT_EQ(itself.exit_code, 1);
  EXPECT_THAT(itself.err, ::testing::HasSubstr("into itself")) << itself.err;
  EXPECT_FALSE(fs::exists(home + "/tree/sub/tree"));
  ASSERT_EQ(Alice({"cp", "tree/*.txt", "tree/sub/*.txt", "docs"}).exit_code, 0);
  EXPECT_EQ(Contents(home + "/docs/one.txt"), "one");
  EXPECT_EQ(Contents(home + "/docs/two.txt"), "two");
  // Inside a tree a file keeps its name even where a folder has it (never copied into that folder); a tree does not
  // go over a file; a trailing slash names a folder; -n leaves a link that leads nowhere as it is.
  ASSERT_EQ(::mkdir((home + "/dest").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((home + "/dest/tree").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((home + "/dest/tree/one.txt").c_str(), 0755), 0);
  const auto clash = Alice({"cp", "-r", "tree", "dest"});
  EXPECT_EQ(clash.exit_code, 6) << clash.err;
  EXPECT_THAT(clash.err, ::testing::HasSubstr("is a directory")) << clash.err;
  EXPECT_FALSE(fs::exists(home + "/dest/tree/one.txt/one.txt"));
  EXPECT_EQ(Contents(home + "/dest/tree/sub/two.txt"), "two");
  const auto over_file = Alice({"cp", "-r", "tree", "a.bin"});
  EXPECT_EQ(over_file.exit_code, 1);
  EXPECT_THAT(over_file.err, ::testing::HasSubstr("cannot overwrite non-folder")) << over_file.err;
  EXPECT_TRUE(Contents(home + "/a.bin") == original);
  const auto slash = Alice({"cp", "tree/one.txt", "nofolder/"});
  EXPECT_EQ(slash.exit_code, 1);
  EXPECT_THAT(slash.err, ::testing::HasSubstr("not a directory")) << slash.err;
  EXPECT_FALSE(fs::exists(home + "/nofolder"));
  ASSERT_EQ(::symlink("nowhere", (home + "/dangling").c_str()), 0);
  ASSERT_EQ(Alice({"cp", "-n", "tree/one.txt", "dangling"}).exit_code, 0);
  EXPECT_TRUE(fs::is_symlink(home + "/dangling"));
  const auto not_folder = Alice({"cp", "tree/one.txt", "tree/sub/two.txt", "a.bin"});
  EXPECT_EQ(not_folder.exit_code, 1);
  EXPECT_THAT(not_folder.err, ::testing::HasSubstr("is not a folder")) << not_folder.err;

  // Links cannot lead a copy out of the home, either way: a decoy folder of this test's own stands outside.
  TempDir outside;
  WriteFile(outside / "secret.txt", "outside");
  ASSERT_EQ(::symlink(outside.path().c_str(), (home + "/out").c_str()), 0);
  EXPECT_NE(Alice({"cp", "out/secret.txt", "stolen.txt"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(home + "/stolen.txt"));
  EXPECT_NE(Alice({"cp", "tree/one.txt", "out/planted.txt"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(outside / "planted.txt"));
  EXPECT_EQ(Names(outside.path()), std::vector<std::string>{"secret.txt"});

  // A copy that does not fit the quota is refused before a byte, and leaves nothing behind.
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "set-quota", "--root", server_.root(), "alice", "70M"}).exit_code, 0);  // 60 MiB used
  const auto full = Alice({"cp", "a.bin", "c.bin"});
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_THAT(full.err, ::testing::HasSubstr("quota")) << full.err;
  EXPECT_FALSE(fs::exists(home + "/c.bin"));
  EXPECT_TRUE(Names(server_.root() + "/partials/alice").empty());

  // A read-only account copies nothing.
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "set-perm", "--root", server_.root(), "alice", "--read-only"}).exit_code,
            0);
  EXPECT_NE(Alice({"cp", "tree/one.txt", "ro.txt"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(home + "/ro.txt"));

  // One audit line a copy, with where from and where to.
  server_.Stop();
  bool copied = false;
  bool refused = false;
  for (const auto& line : ReadAuditLines(server_.root() + "/audit.log")) {
    EXPECT_FALSE(line.value("event", "") == "upload") << "a copy is not an upload: " << line.dump();
    if (line.value("event", "") != "copy") continue;
    copied = copied || (line.value("path", "") == "/a.bin" && line.value("to", "") == "/b.bin" &&
                        line.value("result", "") == "ok" && line.value("bytes", std::uint64_t{0}) == original.size());
    refused = refused || (line.value("path", "") == "/a.bin" && line.value("to", "") == "/c.bin" &&
                          line.value("result", "") == "EQUOTA");
  }
  EXPECT_TRUE(copied);
  EXPECT_TRUE(refused);
}

TEST_F(ClientIntegration, LocalFoldersAndALocalShellFromTheShellLines) {
  TempDir local;
  const auto batch = Alice({"-b", "-"}, "-\nlmkdir -p " + (local / "a/b") + "\n!echo from-the-shell > '" +
                                            (local / "a/b/said.txt") + "'\n-!exit 3\npwd\n");
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  EXPECT_TRUE(fs::is_directory(local / "a/b"));
  EXPECT_EQ(ReadFile(local / "a/b/said.txt"), "from-the-shell\n");
  EXPECT_NE(batch.err.find("!exit 3: exit status 3"), std::string::npos) << batch.err;
  EXPECT_THAT(batch.out, ::testing::EndsWith("/\n"));
  const auto failing = Alice({"!false"});
  EXPECT_NE(failing.exit_code, 0);
}

TEST_F(ClientIntegration, HostAliasesComeFromTheConfigFileAsSshReadsItsOwn) {
  const std::string home = server_.client_home();
  fs::create_directories(home + "/.ferry");
  const std::string port = std::to_string(server_.port());
  // The first value of each keyword wins: the specific block first, defaults last.
  WriteFile(home + "/.ferry/config", "# backups\nHost backup files.example\n  HostName 127.0.0.1\n  Port " + port +
                                         "\n  User alice\n\nHost !nothing *\n  User bob\n  Port=1\n  Plain yes\n");
  const std::map<std::string, std::string> env = {{"FERRY_PASSWORD", "alice-secret"}, {"HOME", home}};
  const auto whoami = RunProcess({FerryPath(), "backup", "whoami"}, env);
  ASSERT_EQ(whoami.exit_code, 0) << whoami.err;
  EXPECT_EQ(whoami.out, "alice\n");
  // The command line wins over the file.
  const auto bob = RunProcess({FerryPath(), "bob@backup", "whoami"}, {{"FERRY_PASSWORD", "bob-secret"}, {"HOME", home}});
  ASSERT_EQ(bob.exit_code, 0) << bob.err;
  EXPECT_EQ(bob.out, "bob\n");

  // -F names another file; a file given so must exist, and a bad line is named.
  TempDir other;
  WriteFile(other / "config", "Host b2\n  HostName 127.0.0.1\n  Port " + port + "\n  User alice\n  Plain yes\n");
  const auto with_f = RunProcess({FerryPath(), "-F", other / "config", "b2", "pwd"}, env);
  ASSERT_EQ(with_f.exit_code, 0) << with_f.err;
  EXPECT_EQ(with_f.out, "/\n");
  const auto missing = RunProcess({FerryPath(), "-F", other / "absent", "b2", "pwd"}, env);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("absent"), std::string::npos) << missing.err;
  WriteFile(other / "bad", "Host b2\n  Colour blue\n");
  const auto bad = RunProcess({FerryPath(), "-F", other / "bad", "b2", "pwd"}, env);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(other / "bad" + ":2: unknown keyword 'colour'"), std::string::npos) << bad.err;
}

TEST_F(ClientIntegration, ExitStatusesTellFailuresApart) {
  WriteFile(server_.home("alice") + "/a.txt", "a");
  TempDir local;
  EXPECT_EQ(Alice({"get", "a.txt", local / "a.txt"}).exit_code, 0);
  EXPECT_EQ(Alice({"get", "--bogus", "a.txt"}).exit_code, 2);                        // usage
  EXPECT_EQ(Alice({"get", "missing.txt", local / "m.txt"}).exit_code, 1);           // the server's refusal
  EXPECT_EQ(Alice({"get", "a.txt", local / "no/such/folder/a.txt"}).exit_code, 5);  // a local file
  EXPECT_EQ(Alice({"put", local / "absent.txt"}).exit_code, 5);
  const auto partial = Alice({"get", "a.txt", "missing.txt", local.path()});
  EXPECT_EQ(partial.exit_code, 6) << partial.err;                                    // some of several
  EXPECT_EQ(ReadFile(local / "a.txt"), "a");
  EXPECT_EQ(server_.Client("alice", "wrong", {"pwd"}).exit_code, 4);               // the login
  EXPECT_EQ(Alice({"get", "-r", "missing-tree", local.path()}).exit_code, 1);       // a tree that is not there
  EXPECT_EQ(Alice({"-b", "-"}, "-get missing.txt " + (local / "y") + "\n!false\n").exit_code, 5);  // its own
  // In a batch, the failing line's status.
  EXPECT_EQ(Alice({"-b", "-"}, "pwd\nget missing.txt " + (local / "x") + "\n").exit_code, 1);
  server_.Stop();
  EXPECT_EQ(Alice({"pwd"}).exit_code, 3);                                            // no server
}

TEST_F(ClientIntegration, ErrorsNameWhatTheUserNamed) {
  WriteFile(server_.home("alice") + "/a.txt", "a");
  const auto lcd = Alice({"-b", "-"}, "lcd /no/such/folder\n");
  EXPECT_NE(lcd.exit_code, 0);
  EXPECT_EQ(lcd.err, "ferry: stdin:1: no such file or directory: /no/such/folder\n");
  // A download that cannot be written: one line, the file asked for, no summary before it, no partial's name.
  TempDir local;
  const auto get = Alice({"get", "a.txt", local / "missing-folder/a.txt"});
  EXPECT_NE(get.exit_code, 0);
  EXPECT_EQ(get.err, "ferry: no such file or directory: " + (local / "missing-folder/a.txt") + "\n");
}

TEST_F(ClientIntegration, APasswordFileKeepsThePasswordOutOfTheEnvironment) {
  TempDir secrets;
  const std::string file = secrets / "password";
  WriteFile(file, "alice-secret\n");
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  const std::map<std::string, std::string> env = {{"HOME", server_.client_home()}};
  const auto flag = RunProcess({FerryPath(), "--plain", "--password-file", file, "alice@" + server_.address(),
                                "whoami"},
                               env);
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_EQ(flag.out, "alice\n");
  auto with_variable = env;
  with_variable["FERRY_PASSWORD_FILE"] = file;
  const auto variable = RunProcess({FerryPath(), "--plain", "alice@" + server_.address(), "whoami"}, with_variable);
  EXPECT_EQ(variable.exit_code, 0) << variable.err;
  EXPECT_EQ(variable.out, "alice\n");
  // A file others may read is refused before anything is sent, as ssh refuses such a key.
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  const auto open = RunProcess({FerryPath(), "--plain", "--password-file", file, "alice@" + server_.address(),
                                "whoami"},
                               env);
  EXPECT_NE(open.exit_code, 0);
  EXPECT_EQ(open.err, "ferry: " + file + " may be read by others (mode 0644): chmod 600 " + file + "\n");
}

class TlsClientIntegration : public ::testing::Test {
 protected:
  ProcessResult RunClient(const std::vector<std::string>& flags, const std::vector<std::string>& command) {
    std::vector<std::string> argv = {FerryPath()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back("alice@" + server_.address());
    argv.insert(argv.end(), command.begin(), command.end());
    return RunProcess(argv, {{"FERRY_PASSWORD", "alice-secret"}, {"HOME", server_.client_home()}});
  }
  std::string KnownHosts() { return ReadFile(server_.client_home() + "/.ferry/known_hosts"); }

  TestServer server_{WithTls()};
};

TEST_F(TlsClientIntegration, UnknownServerIsRefusedWithoutConfirmation) {
  const auto result = RunClient({}, {"pwd"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("SHA256:"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--accept-new-host"), std::string::npos) << result.err;
  EXPECT_TRUE(KnownHosts().empty());
}

TEST_F(TlsClientIntegration, FirstUseIsPinnedAndThenTrusted) {
  const auto first = RunClient({"--accept-new-host"}, {"pwd"});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "/\n");
  EXPECT_NE(KnownHosts().find(server_.address() + " SHA256:"), std::string::npos) << KnownHosts();
  const auto second = RunClient({}, {"whoami"});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, "alice\n");
}

TEST_F(TlsClientIntegration, ChangedCertificateIsRefusedLoudly) {
  ::mkdir((server_.client_home() + "/.ferry").c_str(), 0700);
  WriteFile(server_.client_home() + "/.ferry/known_hosts",
            server_.address() + " SHA256:" + std::string(64, '0') + "\n");
  const auto result = RunClient({"--accept-new-host"}, {"pwd"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("CHANGED"), std::string::npos) << result.err;
  const std::string path = server_.client_home() + "/.ferry/known_hosts";
  EXPECT_NE(result.err.find("Offending line: " + path + ":1\n"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("ferry --forget-host " + server_.address() + "\n"), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty());

  // As ssh-keygen -R: the pin goes, and the next connection asks again (here: accepts the new certificate).
  const auto forget = RunProcess({FerryPath(), "--forget-host", server_.address()}, {{"HOME", server_.client_home()}});
  EXPECT_EQ(forget.exit_code, 0) << forget.err;
  EXPECT_EQ(forget.out, "Removed " + server_.address() + " from " + path + "\n");
  EXPECT_EQ(KnownHosts(), "");
  const auto again = RunProcess({FerryPath(), "--forget-host", server_.address()}, {{"HOME", server_.client_home()}});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err, "ferry: " + server_.address() + " is not in " + path + "\n");
  const auto accepted = RunClient({"--accept-new-host"}, {"pwd"});
  EXPECT_EQ(accepted.exit_code, 0) << accepted.err;
  EXPECT_EQ(accepted.out, "/\n");
}

TEST_F(TlsClientIntegration, PlainServerRefusesTlsClient) {
  TestServer plain_server;
  const auto result = RunProcess({FerryPath(), "--accept-new-host", "alice@" + plain_server.address(), "pwd"},
                                 {{"FERRY_PASSWORD", "alice-secret"}, {"HOME", plain_server.client_home()}});
  EXPECT_NE(result.exit_code, 0);
  // The wording is the point: no reply ever comes; the client finds out what the server speaks and says so.
  EXPECT_NE(result.err.find("is a Ferry server without TLS (started with --plain): connect with ferry --plain"),
            std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace ferry::testing
