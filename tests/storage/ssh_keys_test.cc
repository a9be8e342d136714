#include "storage/ssh_keys.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/subprocess.h"
#include "support/temp_dir.h"

namespace ferry::storage {
namespace {

using ferry::testing::RunProcess;
using ferry::testing::TempDir;

constexpr const char* kSshKeygen = "/usr/bin/ssh-keygen";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A new key made by ssh-keygen; returns the .pub line. `extra` is e.g. {"-b", "3072"}.
std::string MakeKey(const TempDir& dir, const std::string& name, const std::string& type,
                    const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {kSshKeygen, "-q", "-t", type, "-N", "", "-C", "alice@laptop", "-f", dir / name};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const auto result = RunProcess(argv);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return ReadFile(dir / (name + ".pub"));
}

// What `ssh-keygen -lf FILE` prints, without the trailing newline.
std::string KeygenFingerprintLine(const std::string& path) {
  auto result = RunProcess({kSshKeygen, "-lf", path});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  while (!result.out.empty() && result.out.back() == '\n') result.out.pop_back();
  return result.out;
}

TEST(SshKeys, FingerprintsEveryAcceptedTypeAsSshKeygenDoes) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::vector<std::string>>> kinds = {
      {"ed25519", {}}, {"ecdsa", {"-b", "256"}}, {"ecdsa", {"-b", "384"}}, {"ecdsa", {"-b", "521"}},
      {"rsa", {"-b", "2048"}}, {"rsa", {"-b", "3072"}}};
  int n = 0;
  for (const auto& [type, extra] : kinds) {
    const std::string name = "key" + std::to_string(n++);
    const std::string line = MakeKey(dir, name, type, extra);
    auto key = ParseAuthorizedKey(line);
    ASSERT_TRUE(key.ok()) << type << ": " << key.status().ToString();
    EXPECT_EQ(key->FingerprintLine(), KeygenFingerprintLine(dir / (name + ".pub")));
    EXPECT_EQ(key->comment, "alice@laptop");
    EXPECT_TRUE(key->fingerprint.starts_with("SHA256:"));
    EXPECT_EQ(key->fingerprint.size(), 7u + 43u);
  }
}

TEST(SshKeys, RefusesSmallRsaAndUnsupportedKinds) {
  TempDir dir;
  auto small = ParseAuthorizedKey(MakeKey(dir, "small", "rsa", {"-b", "1024"}));
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("at least 2048 bits; this one has 1024"), std::string::npos)
      << small.status().message();

  const std::string ed25519 = MakeKey(dir, "ed", "ed25519");
  const std::string blob = ed25519.substr(ed25519.find(' ') + 1, ed25519.rfind(' ') - ed25519.find(' ') - 1);
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"ssh-dss " + blob, "DSA keys are not accepted"},
      {"sk-ssh-ed25519@openssh.com " + blob, "security-key keys"},
      {"ssh-ed25519-cert-v01@openssh.com " + blob, "certificates"},
      {"from=\"10.0.0.1\",no-pty " + ed25519, "options in front of the key are not supported"},
      {"command=\"/bin/sh\" ssh-ed25519 " + blob, "options in front of the key are not supported"},
      {"ssh-rsa " + blob, "not a ssh-rsa key"},  // the blob says ssh-ed25519
      {"ssh-ed25519 !!notbase64!!", "not valid base64"},
      {"ssh-ed25519", "has no key data"},
      {"hello world", "is not an OpenSSH public key"},
      {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "not a valid ssh-ed25519 key"},  // the type string and no key
  };
  for (const auto& [line, reason] : refused) {
    auto key = ParseAuthorizedKey(line);
    ASSERT_FALSE(key.ok()) << line;
    EXPECT_EQ(key.status().code(), ErrorCode::kInvalid);
    EXPECT_NE(key.status().message().find(reason), std::string::npos) << line << " -> " << key.status().message();
  }
}

TEST(SshKeys, ReadsAuthorizedKeysFilesAndNamesTheBadLine) {
  TempDir dir;
  const std::string a = MakeKey(dir, "a", "ed25519");
  const std::string b = MakeKey(dir, "b", "ecdsa");
  const std::string text = "# my keys\n\n" + a + "   \r\n" + b;
  auto keys = ParseAuthorizedKeys(text);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].type, "ssh-ed25519");
  EXPECT_EQ((*keys)[1].type, "ecdsa-sha2-nistp256");
  EXPECT_EQ((*keys)[0].comment, "alice@laptop");

  auto bad = ParseAuthorizedKeys(a + "ssh-ed25519 AAAA\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().message().starts_with("line 2: ")) << bad.status().message();

  auto empty = ParseAuthorizedKeys("# nothing here\n\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no public key found"), std::string::npos);
}

TEST(SshKeys, NormalizesFingerprints) {
  const std::string base64(43, 'A');
  EXPECT_EQ(*NormalizeFingerprint(base64), "SHA256:" + base64);
  EXPECT_EQ(*NormalizeFingerprint("SHA256:" + base64), "SHA256:" + base64);
  EXPECT_FALSE(NormalizeFingerprint("SHA256:" + base64 + "=").ok());
  EXPECT_FALSE(NormalizeFingerprint("MD5:aa:bb").ok());
  EXPECT_FALSE(NormalizeFingerprint("").ok());
}

TEST(SshKeys, HostKeyIsAnOpenSshEd25519KeyOnlyItsOwnerReads) {
  TempDir dir;
  const std::string path = dir / "host_ed25519_key";
  auto key = CreateHostKey(path, "ferryd");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->type, "ssh-ed25519");

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // ssh-keygen reads the private key (it refuses one that others can read) and derives the same public key.
  auto derived = RunProcess({kSshKeygen, "-y", "-f", path});
  ASSERT_EQ(derived.exit_code, 0) << derived.err;
  EXPECT_TRUE(derived.out.starts_with(key->type + " " + key->blob_base64)) << derived.out;
  EXPECT_EQ(key->FingerprintLine(), KeygenFingerprintLine(path + ".pub"));

  auto again = ReadHostKey(path);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->fingerprint, key->fingerprint);

  auto twice = CreateHostKey(path, "ferryd");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().code(), ErrorCode::kExists);
  EXPECT_EQ(ReadHostKey(path)->fingerprint, key->fingerprint);  // the first key is kept
}

}  // namespace
}  // namespace ferry::storage
