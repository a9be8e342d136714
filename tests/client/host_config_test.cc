#include "client/host_config.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace ferry::client {
namespace {

using ferry::testing::TempDir;

TEST(HostConfig, TheFirstValueOfEachKeywordFromTheBlocksThatMatchWins) {
  TempDir dir;
  const std::string path = dir / "config";
  ferry::testing::WriteFile(path,
                            "User everyone\n"
                            "Host web*  !web-old\n"
                            "  HostName=files.example.org\n"
                            "  Port 2021\n"
                            "  IdentityFile ~/.ssh/id_web\n"
                            "Host *\n"
                            "  User fallback\n"
                            "  Port 7021\n"
                            "  PLAIN no\n"
                            "  AcceptNewHost yes\n");
  auto web = LookupHostConfig(path, "web1", true);
  ASSERT_TRUE(web.ok()) << web.status().message();
  EXPECT_EQ(web->host_name, "files.example.org");
  EXPECT_EQ(web->port, 2021);
  EXPECT_EQ(web->user, "everyone");
  ASSERT_TRUE(web->identity_file.has_value());
  EXPECT_TRUE(web->identity_file->ends_with("/.ssh/id_web"));
  EXPECT_NE(web->identity_file->front(), '~');
  EXPECT_EQ(web->plain, false);
  EXPECT_EQ(web->accept_new_host, true);
  auto old = LookupHostConfig(path, "web-old", true);
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->host_name.has_value());
  EXPECT_EQ(old->port, 7021);
}

TEST(HostConfig, AMissingDefaultFileIsEmptyAndBadLinesAreNamed) {
  TempDir dir;
  auto none = LookupHostConfig(dir / "absent", "x", false);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->port.has_value());
  EXPECT_EQ(LookupHostConfig(dir / "absent", "x", true).status().code(), ErrorCode::kNotFound);
  for (const char* text : {"Port 0\n", "Port 70000\n", "Plain maybe\n", "Colour blue\n", "Match host x\n",
                           "HostName\n", "User a b\n"}) {
    ferry::testing::WriteFile(dir / "bad", std::string("# first\n") + text);
    const auto result = LookupHostConfig(dir / "bad", "x", true);
    EXPECT_EQ(result.status().code(), ErrorCode::kInvalid) << text;
    EXPECT_NE(result.status().message().find("bad:2: "), std::string::npos) << result.status().message();
  }
}

}  // namespace
}  // namespace ferry::client
