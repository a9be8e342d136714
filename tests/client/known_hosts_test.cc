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

}  // namespace
}  // namespace ferry::client
