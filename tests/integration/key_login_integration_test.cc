// `ferry -i`: logins with OpenSSH keys over the Ferry protocol, from a key file and through a real ssh-agent, and the
// binding of each signature to its own connection (raw frames).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/ssh_signature.h"
#include "protocol/session_operations.h"
#include "support/audit_lines.h"
#include "support/raw_client.h"
#include "support/ssh_agent.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;

class KeyLogin : public ::testing::Test {
 protected:
  explicit KeyLogin(bool tls = true) : server_(tls ? WithTls() : TestServerOptions{}) {}

  ProcessResult Keygen(const std::string& name, const std::string& type = "ed25519", const std::string& passphrase = "") {
    std::vector<std::string> argv = {"/usr/bin/ssh-keygen", "-q", "-t", type, "-N", passphrase, "-C", name, "-f",
                                     keys_ / name};
    if (type == "rsa") argv.insert(argv.end(), {"-b", "2048"});
    return RunProcess(argv);
  }
  ProcessResult AddKey(const std::string& user, const std::string& name) {
    return RunProcess({FerrydPath(), "user", "key", "add", "--root", server_.root(), user, keys_ / (name + ".pub")});
  }
  // `ferry -i FILE alice@server ARGS...`, no password given, with `agent` as SSH_AUTH_SOCK ("" for none).
  ProcessResult Ferry(const std::string& key_file, const std::vector<std::string>& args, const std::string& agent = "",
                      const std::string& user = "alice") {
    std::vector<std::string> flags = {"-i", key_file};
    std::vector<std::string> argv = {FerryPath(), "--accept-new-host"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(user + "@" + server_.address());
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, {{"HOME", server_.client_home()}, {"SSH_AUTH_SOCK", agent}, {"FERRY_PASSWORD", ""}});
  }

  TempDir keys_;
  TestServer server_;
};

TEST_F(KeyLogin, EachKeyTypeLogsInFromItsFileAndIsAudited) {
  WriteFile(server_.home("alice") + "/hello.txt", "hi");
  for (const std::string type : {"ed25519", "ecdsa", "rsa"}) {
    SCOPED_TRACE(type);
    ASSERT_EQ(Keygen(type, type).exit_code, 0);
    ASSERT_EQ(AddKey("alice", type).exit_code, 0);
    const auto result = Ferry(keys_ / type, {"ls"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_THAT(result.out, HasSubstr("hello.txt"));
  }
  int key_logins = 0;
  for (const auto& line : ReadAuditLines(server_.root() + "/audit.log")) {
    if (line["event"] == "login" && line["method"] == "publickey" && line["protocol"] == "ferry" &&
        line["result"] == "ok" && line["key"].get<std::string>().starts_with("SHA256:")) {
      ++key_logins;
    }
  }
  EXPECT_EQ(key_logins, 3);
}

TEST_F(KeyLogin, AWrongAnotherUsersOrRemovedKeyIsRefused) {
  ASSERT_EQ(Keygen("mine").exit_code, 0);
  ASSERT_EQ(Keygen("bobs").exit_code, 0);
  ASSERT_EQ(Keygen("stranger").exit_code, 0);
  ASSERT_EQ(AddKey("alice", "mine").exit_code, 0);
  ASSERT_EQ(AddKey("bob", "bobs").exit_code, 0);
  for (const std::string name : {"stranger", "bobs"}) {
    const auto result = Ferry(keys_ / name, {"ls"});
    EXPECT_NE(result.exit_code, 0) << name;
    EXPECT_THAT(result.err, HasSubstr("login incorrect")) << name;
  }
  ASSERT_EQ(Ferry(keys_ / "mine", {"ls"}).exit_code, 0);
  const auto listed = RunProcess({FerrydPath(), "user", "key", "list", "--root", server_.root(), "alice"});
  const std::string fingerprint = listed.out.substr(listed.out.find("SHA256:"), 50);
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "key", "del", "--root", server_.root(), "alice", fingerprint}).exit_code,
            0);
  const auto removed = Ferry(keys_ / "mine", {"ls"});
  EXPECT_NE(removed.exit_code, 0);
  EXPECT_THAT(removed.err, HasSubstr("login incorrect"));
}

TEST_F(KeyLogin, AnAgentSignsForAKeyProtectedByAPassphrase) {
  ASSERT_EQ(Keygen("locked", "ed25519", "open sesame").exit_code, 0);
  ASSERT_EQ(AddKey("alice", "locked").exit_code, 0);
  // Without an agent: a clear refusal before any login.
  auto result = Ferry(keys_ / "locked", {"ls"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, HasSubstr("protected by a passphrase"));
  EXPECT_THAT(result.err, HasSubstr("ssh-add"));

  SshAgent agent(keys_.path());
  ASSERT_TRUE(agent.started()) << "ssh-agent did not start";
  const std::string& socket = agent.socket();
  const std::string askpass = keys_ / "askpass.sh";
  WriteFile(askpass, "#!/bin/sh\necho 'open sesame'\n");
  ASSERT_EQ(::chmod(askpass.c_str(), 0700), 0);
  const auto added = RunProcess({"/usr/bin/ssh-add", keys_ / "locked"},
                                {{"SSH_AUTH_SOCK", socket}, {"SSH_ASKPASS", askpass}, {"SSH_ASKPASS_REQUIRE", "force"},
                                 {"DISPLAY", ":0"}});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  result = Ferry(keys_ / "locked", {"pwd"}, socket);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "/\n");
  // The .pub alone names the key the agent holds.
  result = Ferry(keys_ / "locked.pub", {"pwd"}, socket);
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

// Over a plain connection, so raw frames can carry a signature; TLS adds the session's exporter value to what is signed.
class KeyLoginPlain : public KeyLogin {
 protected:
  KeyLoginPlain() : KeyLogin(false) {}
};

TEST_F(KeyLoginPlain, ASignatureIsGoodForItsOwnConnectionOnly) {
  ASSERT_EQ(Keygen("k").exit_code, 0);
  ASSERT_EQ(AddKey("alice", "k").exit_code, 0);
  auto key = ssh::ParsePrivateKey(ReadFile(keys_ / "k"));
  ASSERT_TRUE(key.ok());
  const std::string key_text = "ssh-ed25519 " + ssh::Base64(key->public_blob());
  const auto hello = [](RawClient& client) {
    const auto reply = client.Call({{"op", "hello"}, {"versions", {1}}});
    auto challenge = ssh::FromBase64(reply.value("challenge", ""));
    EXPECT_TRUE(challenge.ok() && challenge->size() == 32) << reply.dump();
    return challenge.ok() ? *challenge : std::string();
  };
  const auto login = [&](RawClient& client, const std::string& signature, const std::string& user = "alice") {
    return client.Call({{"op", "login"}, {"user", user}, {"key", key_text}, {"signature", ssh::Base64(signature)}});
  };
  RawClient first(server_.port());
  const std::string challenge = hello(first);
  const std::string signature = *key->Sign(protocol::KeyLoginData(challenge, "", "alice", key->public_blob()));
  // Replayed on another connection (another challenge): refused, as a wrong key is.
  RawClient second(server_.port());
  const std::string other_challenge = hello(second);
  EXPECT_NE(other_challenge, challenge);
  auto reply = login(second, signature);
  EXPECT_EQ(reply.value("code", ""), "EAUTH") << reply.dump();
  // Signed for alice, presented for bob (who does not have the key either way): refused.
  RawClient third(server_.port());
  const std::string third_challenge = hello(third);
  reply = login(third, *key->Sign(protocol::KeyLoginData(third_challenge, "", "alice", key->public_blob())), "bob");
  EXPECT_EQ(reply.value("code", ""), "EAUTH") << reply.dump();
  // A key login with a password too is malformed.
  reply = third.Call({{"op", "login"}, {"user", "alice"}, {"password", "x"}, {"key", key_text}, {"signature", "AA=="}});
  EXPECT_EQ(reply.value("code", ""), "EINVAL") << reply.dump();
  // On its own connection it logs in.
  reply = login(first, signature);
  EXPECT_TRUE(reply.value("ok", false)) << reply.dump();
}

}  // namespace
}  // namespace ferry::testing
