#include "client/known_hosts.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace ferry::client {
namespace {

using ferry::testing::TempDir;

TEST(KnownHosts, MissingFilePinsNothing) {
  TempDir dir;
  const KnownHosts hosts(dir / "none/known_hosts");
  auto found = hosts.Lookup("127.0.0.1:7021");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST(KnownHosts, AddedFingerprintIsFoundPerHostAndPort) {
  TempDir dir;
  const KnownHosts hosts(dir / "sub/known_hosts");
  ASSERT_TRUE(hosts.Add("127.0.0.1:7021", "SHA256:aa").ok());
  ASSERT_TRUE(hosts.Add("[::1]:7021", "SHA256:bb").ok());
  EXPECT_EQ(hosts.Lookup("127.0.0.1:7021")->value_or(""), "SHA256:aa");
  EXPECT_EQ(hosts.Lookup("[::1]:7021")->value_or(""), "SHA256:bb");
  EXPECT_FALSE(hosts.Lookup("127.0.0.1:7022")->has_value());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "sub/known_hosts").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir / "sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(KnownHosts, IgnoresCommentsAndBlankLines) {
  TempDir dir;
  ferry::testing::WriteFile(dir / "known_hosts", "# comment\n\nhost:1 SHA256:cc\n");
  const KnownHosts hosts(dir / "known_hosts");
  EXPECT_EQ(hosts.Lookup("host:1")->value_or(""), "SHA256:cc");
}

TEST(KnownHosts, ForgetRemovesEveryLineOfTheHostAndKeepsTheRest) {
  TempDir dir;
  const std::string path = dir / "known_hosts";
  ferry::testing::WriteFile(path, "# comment\nhost:1 SHA256:aa\nother:2 SHA256:bb\nhost:1 SHA256:cc\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  const KnownHosts hosts(path);
  EXPECT_EQ(hosts.LineOf("host:1").value(), 2u);
  EXPECT_EQ(hosts.LineOf("other:2").value(), 3u);
  EXPECT_EQ(hosts.LineOf("none:3").value(), 0u);
  EXPECT_EQ(hosts.Forget("host:1").value(), 2u);
  EXPECT_EQ(ferry::testing::ReadFile(path), "# comment\nother:2 SHA256:bb\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(hosts.Forget("host:1").value(), 0u);
  EXPECT_FALSE(ferry::testing::Exists(path + ".new"));
  EXPECT_EQ(KnownHosts(dir / "missing").Forget("host:1").value(), 0u);
}

}  // namespace
}  // namespace ferry::client
