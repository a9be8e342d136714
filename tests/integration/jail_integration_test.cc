// Two users on a real server, each confined to their own home: escape attempts through "..", absolute paths and
// planted symlinks are refused, and nothing of the server's layout leaks.
#include <unistd.h>

#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/raw_client.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

using protocol::Json;

class JailIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.started());
    alice_ = server_.home("alice");
    bob_ = server_.home("bob");
    WriteFile(bob_ + "/bob-secret.txt", "bob's data");
    WriteFile(alice_ + "/mine.txt", "alice's data");
    // Planted by someone with shell access to the server: links that point out of alice's home.
    ASSERT_EQ(::symlink("/etc", (alice_ + "/to-etc").c_str()), 0);
    ASSERT_EQ(::symlink("/etc/passwd", (alice_ + "/to-passwd").c_str()), 0);
    ASSERT_EQ(::symlink(bob_.c_str(), (alice_ + "/to-bob-abs").c_str()), 0);
    ASSERT_EQ(::symlink("../bob", (alice_ + "/to-bob-rel").c_str()), 0);
    ASSERT_EQ(::symlink("../../..", (alice_ + "/up").c_str()), 0);
    ASSERT_EQ(::symlink("/proc/self/root", (alice_ + "/proc-root").c_str()), 0);
  }

  ProcessResult Alice(const std::vector<std::string>& args) { return server_.Client("alice", "alice-secret", args); }

  void ExpectBobUntouched() {
    EXPECT_EQ(ReadFile(bob_ + "/bob-secret.txt"), "bob's data");
    EXPECT_FALSE(Exists(bob_ + "/mine.txt"));
    EXPECT_FALSE(Exists(bob_ + "/planted"));
  }

  TestServer server_;
  std::string alice_;
  std::string bob_;
};

// True when `listing` (ls output, one entry a line, or after "FOLDER: " on the first) names an entry `name`.
bool ListsEntry(const std::string& listing, const std::string& name) {
  std::istringstream lines(listing);
  std::string line;
  while (std::getline(lines, line)) {
    const auto colon = line.find(": ");
    if (line == name || (colon != std::string::npos && line.substr(colon + 2) == name)) return true;
  }
  return false;
}

TEST_F(JailIntegration, DotDotChainsStayInTheHome) {
  for (const std::string path : {"..", "../..", "/../../../..", "../bob", "../../", "a/../../.."}) {
    const auto result = Alice({"ls", "-a", path});
    EXPECT_EQ(result.out.find("bob-secret.txt"), std::string::npos) << path;
    EXPECT_EQ(result.out.find("homes"), std::string::npos) << path;
    EXPECT_EQ(result.out.find("ferry.db"), std::string::npos) << path;
  }
  auto root = Alice({"ls", "../../.."});
  EXPECT_EQ(root.exit_code, 0) << root.err;
  EXPECT_NE(root.out.find("mine.txt"), std::string::npos);  // ".." at the home is the home
}

TEST_F(JailIntegration, CdUpwardsStopsAtTheHome) {
  const auto result = server_.Client("alice", "alice-secret", {}, "cd ../../..\npwd\ncd /../..\npwd\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "/\n/\n");
}

TEST_F(JailIntegration, AbsolutePathsAreRootedAtTheHome) {
  const auto result = Alice({"stat", "/mine.txt"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("Size: 12"), std::string::npos) << result.out;
  const auto etc = Alice({"ls", "/etc"});
  EXPECT_NE(etc.exit_code, 0);
  EXPECT_EQ(etc.out.find("passwd"), std::string::npos);
}

TEST_F(JailIntegration, SymlinksOutOfTheHomeLeadNowhere) {
  for (const std::string path : {"to-etc", "to-etc/", "to-bob-abs", "to-bob-abs/", "to-bob-rel/", "up/", "up/etc",
                                 "proc-root/", "proc-root/etc"}) {
    // "up/" lists the home itself ("../../.." stops there), whose own link "to-passwd" is no sign of /etc: what
    // must not appear is an entry of /etc or of bob's home.
    const auto result = Alice({"ls", "-a", path});
    EXPECT_FALSE(ListsEntry(result.out, "passwd")) << path << ": " << result.out;
    EXPECT_EQ(result.out.find("bob-secret"), std::string::npos) << path << ": " << result.out;
    EXPECT_FALSE(ListsEntry(result.out, "hostname")) << path << ": " << result.out;
  }
  EXPECT_NE(Alice({"stat", "to-etc/passwd"}).exit_code, 0);
  EXPECT_NE(Alice({"stat", "to-bob-abs/bob-secret.txt"}).exit_code, 0);
  EXPECT_NE(Alice({"stat", "to-bob-rel/bob-secret.txt"}).exit_code, 0);
  EXPECT_NE(Alice({"cd", "to-bob-abs"}).exit_code, 0);
  // The link itself is visible as a link.
  const auto link = Alice({"stat", "to-passwd"});
  EXPECT_EQ(link.exit_code, 0) << link.err;
  EXPECT_NE(link.out.find("Type: link"), std::string::npos);
}

TEST_F(JailIntegration, WritesThroughPlantedSymlinksNeverReachAnotherHome) {
  Alice({"mkdir", "to-bob-abs/planted"});
  Alice({"mkdir", "-p", "to-bob-rel/planted/deeper"});
  Alice({"mv", "mine.txt", "to-bob-abs/mine.txt"});
  Alice({"mv", "mine.txt", "to-bob-rel/"});
  Alice({"rm", "to-bob-abs/bob-secret.txt"});
  Alice({"rm", "-r", "to-bob-rel/"});
  Alice({"rm", "-r", "to-bob-abs/"});
  Alice({"rmdir", "to-bob-abs"});
  ExpectBobUntouched();
  EXPECT_TRUE(Exists("/etc/passwd"));
}

TEST_F(JailIntegration, RemovingALinkRemovesOnlyTheLink) {
  const auto result = Alice({"rm", "to-bob-abs"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(Exists(alice_ + "/to-bob-abs"));
  ExpectBobUntouched();
  // A folder holding a link to bob's home: rm -r removes the folder and the link, not bob's files.
  ASSERT_EQ(::mkdir((alice_ + "/box").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(bob_.c_str(), (alice_ + "/box/bob").c_str()), 0);
  const auto tree = Alice({"rm", "-r", "box"});
  EXPECT_EQ(tree.exit_code, 0) << tree.err;
  EXPECT_FALSE(Exists(alice_ + "/box"));
  ExpectBobUntouched();
}

TEST_F(JailIntegration, UsersSeeOnlyTheirOwnFiles) {
  const auto bob = server_.Client("bob", "bob-secret", {"ls"});
  EXPECT_EQ(bob.exit_code, 0) << bob.err;
  EXPECT_EQ(bob.out, "bob-secret.txt\n");
  const auto alice = Alice({"ls"});
  EXPECT_EQ(alice.out.find("bob-secret"), std::string::npos);
  EXPECT_NE(alice.out.find("mine.txt"), std::string::npos);
}

TEST_F(JailIntegration, ErrorsNeverRevealServerPaths) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  for (const Json& request : {Json{{"op", "ls"}, {"path", "/nope"}}, Json{{"op", "cd"}, {"path", "to-bob-abs"}},
                              Json{{"op", "stat"}, {"path", "up/etc/passwd"}},
                              Json{{"op", "mkdir"}, {"path", "to-bob-rel/x"}},
                              Json{{"op", "rm"}, {"path", "/"}, {"recursive", true}},
                              Json{{"op", "mv"}, {"from", "mine.txt"}, {"to", "to-bob-abs/x"}}}) {
    const Json reply = client.Call(request);
    EXPECT_FALSE(reply.value("ok", true)) << request.dump();
    EXPECT_EQ(reply.dump().find(server_.root()), std::string::npos) << reply.dump();
  }
  EXPECT_EQ(client.Call({{"op", "pwd"}}).value("path", ""), "/");
  ExpectBobUntouched();
}

TEST_F(JailIntegration, HomeItselfCannotBeRemoved) {
  for (const std::string path : {"/", ".", "..", "/.."}) {
    const auto result = Alice({"rm", "-r", path});
    EXPECT_NE(result.exit_code, 0) << path;
  }
  EXPECT_TRUE(Exists(alice_ + "/mine.txt"));
}

}  // namespace
}  // namespace ferry::testing
