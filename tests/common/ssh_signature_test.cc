// SSH signatures made from OpenSSH key files (ssh-keygen's), and by a real ssh-agent, checked both ways.
#include "common/ssh_signature.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/ssh_agent.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"

namespace ferry::ssh {
namespace {

using ferry::testing::RunProcess;
using ferry::testing::SshAgent;
using ferry::testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class SshSignature : public ::testing::Test {
 protected:
  // Makes key `name` of `type` (and `bits`) with `passphrase`; returns the private key file's text.
  std::string Keygen(const std::string& name, const std::string& type, const std::string& bits = "",
                     const std::string& passphrase = "") {
    std::vector<std::string> argv = {"/usr/bin/ssh-keygen", "-q", "-t", type, "-N", passphrase, "-C", name, "-f",
                                     dir_ / name};
    if (!bits.empty()) argv.insert(argv.end(), {"-b", bits});
    const auto result = RunProcess(argv);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return Slurp(dir_ / name);
  }
  // The public key blob ssh-keygen wrote beside the key.
  std::string PublicBlob(const std::string& name) {
    std::istringstream line(Slurp(dir_ / (name + ".pub")));
    std::string type, base64;
    line >> type >> base64;
    auto blob = FromBase64(base64);
    EXPECT_TRUE(blob.ok());
    return blob.ok() ? *blob : "";
  }

  TempDir dir_;
};

TEST_F(SshSignature, EveryKeyTypeSignsAndVerifiesAndAnythingChangedFails) {
  const std::string data = "ferry-login-publickey-v1 challenge and binding";
  for (const auto& [type, bits] : std::vector<std::pair<std::string, std::string>>{
           {"ed25519", ""}, {"ecdsa", "256"}, {"ecdsa", "384"}, {"ecdsa", "521"}, {"rsa", "2048"}}) {
    SCOPED_TRACE(type + bits);
    const std::string name = "k_" + type + bits;
    auto key = ParsePrivateKey(Keygen(name, type, bits));
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(key->public_blob(), PublicBlob(name));
    auto signature = key->Sign(data);
    ASSERT_TRUE(signature.ok()) << signature.status().ToString();
    EXPECT_TRUE(Verify(key->public_blob(), data, *signature).ok());
    EXPECT_EQ(Verify(key->public_blob(), data + "!", *signature).code(), ErrorCode::kAuthFailed);
    std::string flipped = *signature;
    flipped[flipped.size() - 3] ^= 0x01;
    EXPECT_FALSE(Verify(key->public_blob(), data, flipped).ok());
    EXPECT_FALSE(Verify(key->public_blob(), data, signature->substr(0, signature->size() - 1)).ok());
  }
  // Another key's signature does not pass for this one.
  auto first = ParsePrivateKey(Slurp(dir_ / "k_ed25519"));
  auto other = ParsePrivateKey(Keygen("other", "ed25519"));
  ASSERT_TRUE(first.ok() && other.ok());
  EXPECT_EQ(Verify(first->public_blob(), data, *other->Sign(data)).code(), ErrorCode::kAuthFailed);
  // An RSA signature that claims SHA-1 ("ssh-rsa") is refused.
  auto rsa = ParsePrivateKey(Slurp(dir_ / "k_rsa2048"));
  ASSERT_TRUE(rsa.ok());
  std::string sha1_claim = *rsa->Sign(data);
  sha1_claim.replace(4, 12, "ssh-rsa\0\0\0\0\0", 12);
  EXPECT_FALSE(Verify(rsa->public_blob(), data, sha1_claim).ok());
}

TEST_F(SshSignature, AnEncryptedKeyIsReadOnlyForItsPublicPart) {
  const std::string text = Keygen("locked", "ed25519", "", "passphrase");
  auto key = ParsePrivateKey(text);
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.status().message(), ::testing::HasSubstr("ssh-agent"));
  auto info = InspectPrivateKey(text);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->encrypted);
  EXPECT_EQ(info->public_blob, PublicBlob("locked"));
  EXPECT_FALSE(ParsePrivateKey("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n").ok());
  EXPECT_FALSE(ParsePrivateKey("not a key").ok());
}

TEST_F(SshSignature, AnAgentsSignaturesVerifyAndEqualTheFilesWhereDeterministic) {
  SshAgent agent(dir_.path());
  ASSERT_TRUE(agent.started()) << "ssh-agent did not start";
  const std::string& socket = agent.socket();
  const std::string data = "bound to one TLS session";
  for (const auto& [type, bits] : std::vector<std::pair<std::string, std::string>>{
           {"ed25519", ""}, {"ecdsa", "256"}, {"rsa", "2048"}}) {
    SCOPED_TRACE(type);
    const std::string name = "a_" + type;
    auto key = ParsePrivateKey(Keygen(name, type, bits));
    ASSERT_TRUE(key.ok());
    // Not yet in the agent.
    EXPECT_EQ(AgentSign(socket, key->public_blob(), data).status().code(), ErrorCode::kNotFound);
    const auto added = RunProcess({"/usr/bin/ssh-add", "-q", dir_ / name}, {{"SSH_AUTH_SOCK", socket}});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    auto signed_by_agent = AgentSign(socket, key->public_blob(), data);
    ASSERT_TRUE(signed_by_agent.ok()) << signed_by_agent.status().ToString();
    EXPECT_TRUE(Verify(key->public_blob(), data, *signed_by_agent).ok());
    // Ed25519 and RSA PKCS#1 v1.5 signatures are deterministic: the agent's and ours are the same bytes.
    if (type != "ecdsa") {
      EXPECT_EQ(*signed_by_agent, *key->Sign(data));
    }
  }
  EXPECT_FALSE(AgentSign(dir_ / "no-agent.sock", "x", data).ok());
}

}  // namespace
}  // namespace ferry::ssh
