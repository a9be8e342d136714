// Quotas against a real ferryd: limits set with the admin CLI, uploads refused before any byte, reservations shared by
// sessions of one user, usage after a crash, file counts, space given back, and the client's quota command.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "support/raw_client.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"
#include "support/upload_frames.h"

namespace ferry::testing {
namespace {

using protocol::Json;
using ::testing::HasSubstr;

class QuotaIntegration : public ::testing::Test {
 protected:
  // ferryd user set-quota; fails the test if it fails.
  void SetQuota(const std::string& user, const std::string& size, const std::string& max_files = "") {
    std::vector<std::string> argv = {FerrydPath(), "user", "set-quota", "--root", server_.root(), user, size};
    if (!max_files.empty()) {
      argv.push_back("--max-files");
      argv.push_back(max_files);
    }
    const auto result = RunProcess(argv);
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }

  std::string PartialsDir() const { return server_.root() + "/partials/alice"; }

  TestServer server_;
};

TEST_F(QuotaIntegration, AnUploadOverTheQuotaIsRefusedBeforeAnyByteIsWritten) {
  SetQuota("alice", "100K");
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  const Json refused = client.Call(PutHeader("big.bin", 200 * 1024));
  EXPECT_FALSE(refused.value("ok", true)) << refused.dump();
  EXPECT_EQ(refused.value("code", ""), "EQUOTA") << refused.dump();
  EXPECT_TRUE(Names(PartialsDir()).empty());
  EXPECT_FALSE(Exists(server_.home("alice") + "/big.bin"));

  // The real client says why and leaves nothing behind either.
  TempDir local;
  WriteFile(local / "big.bin", RandomBytes(200 * 1024, 1));
  const auto put = server_.Client("alice", "alice-secret", {"put", local / "big.bin"});
  EXPECT_NE(put.exit_code, 0);
  EXPECT_THAT(put.err, HasSubstr("quota")) << put.err;
  EXPECT_FALSE(Exists(server_.home("alice") + "/big.bin"));
  EXPECT_TRUE(Names(PartialsDir()).empty());

  // Within the quota it works, and the session goes on.
  EXPECT_TRUE(Upload(client, "small.bin", RandomBytes(60 * 1024, 2)).value("ok", false));
  const Json quota = client.Call({{"op", "quota"}});
  EXPECT_EQ(quota.value("bytes", 0), 60 * 1024) << quota.dump();
  EXPECT_EQ(quota.value("max_bytes", 0), 100 * 1024) << quota.dump();
  EXPECT_EQ(quota.value("files", 0), 1) << quota.dump();
  EXPECT_TRUE(quota["max_files"].is_null()) << quota.dump();
}

TEST_F(QuotaIntegration, TwoSessionsOfOneUserCannotPassTheQuotaTogether) {
  SetQuota("alice", "1M");
  RawClient first(server_.port());
  RawClient second(server_.port());
  ASSERT_TRUE(first.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(second.HelloAndLogin("alice", "alice-secret"));
  const std::string content = RandomBytes(600 * 1024, 3);
  // Both declare 600 KiB before either writes a byte: the first reserves the room, the second finds it taken.
  const Json opened = first.Call(PutHeader("one.bin", content.size()));
  ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
  const Json refused = second.Call(PutHeader("two.bin", content.size()));
  EXPECT_EQ(refused.value("code", ""), "EQUOTA") << refused.dump();
  const Json reserved = second.Call({{"op", "quota"}});
  EXPECT_EQ(reserved.value("bytes_reserved", 0), 600 * 1024) << reserved.dump();

  const auto ref = opened["id"].get<std::uint64_t>();
  ASSERT_TRUE(first.SendFrame(DataHeader(ref), content));
  EXPECT_TRUE(first.Call(PutCloseHeader(ref, Xxh3(content))).value("ok", false));
  EXPECT_EQ(second.Call(PutHeader("two.bin", content.size())).value("code", ""), "EQUOTA");
  EXPECT_TRUE(Upload(second, "three.bin", RandomBytes(300 * 1024, 4)).value("ok", false));

  const Json quota = first.Call({{"op", "quota"}});
  EXPECT_EQ(quota.value("bytes", 0), 900 * 1024) << quota.dump();
  EXPECT_EQ(quota.value("bytes_reserved", -1), 0) << quota.dump();
  EXPECT_FALSE(Exists(server_.home("alice") + "/two.bin"));
}

TEST_F(QuotaIntegration, AReservationEndsWithItsSession) {
  SetQuota("alice", "1M");
  {
    RawClient quitter(server_.port());
    ASSERT_TRUE(quitter.HelloAndLogin("alice", "alice-secret"));
    const Json opened = quitter.Call(PutHeader("held.bin", 900 * 1024));
    ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
    ASSERT_TRUE(quitter.SendFrame(DataHeader(opened["id"].get<std::uint64_t>()), std::string(100 * 1024, 'h')));
    ASSERT_TRUE(quitter.Call({{"op", "noop"}}).value("ok", false));  // the data was handled
  }  // disconnects mid-upload: the partial stays for a resume, the unused room is given back
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  Json quota;
  for (int attempt = 0; attempt < 500; ++attempt) {  // the server notices the disconnect asynchronously
    quota = client.Call({{"op", "quota"}});
    if (quota.value("bytes_reserved", -1) == 0) break;
    client.Call({{"op", "noop"}});
  }
  EXPECT_EQ(quota.value("bytes_reserved", -1), 0) << quota.dump();
  EXPECT_EQ(quota.value("bytes", 0), 100 * 1024) << quota.dump();  // the partial still takes its space
  EXPECT_TRUE(Upload(client, "fits.bin", RandomBytes(800 * 1024, 5)).value("ok", false));
}

TEST_F(QuotaIntegration, UsageIsRightAfterTheServerIsKilledAndRestarted) {
  SetQuota("alice", "10M", "100");
  TempDir local;
  const std::string a = RandomBytes(300 * 1024, 6);
  const std::string b = RandomBytes(5000, 7);
  WriteFile(local / "a.bin", a);
  WriteFile(local / "b.bin", b);
  ASSERT_EQ(server_.Client("alice", "alice-secret", {"mkdir", "docs"}).exit_code, 0);
  ASSERT_EQ(server_.Client("alice", "alice-secret", {"put", local / "a.bin", "docs/a.bin"}).exit_code, 0);
  ASSERT_EQ(server_.Client("alice", "alice-secret", {"put", local / "b.bin"}).exit_code, 0);

  // An upload cut off by the crash: 200 KiB of 2 MiB written.
  const std::string big = RandomBytes(2 * 1024 * 1024, 8);
  WriteFile(local / "big.bin", big);
  {
    RawClient client(server_.port());
    ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
    const Json opened = client.Call(PutHeader("big.bin", big.size()));
    ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
    ASSERT_TRUE(client.SendFrame(DataHeader(opened["id"].get<std::uint64_t>()), big.substr(0, 200 * 1024)));
    ASSERT_TRUE(client.Call({{"op", "noop"}}).value("ok", false));
    server_.Kill();
  }
  server_.Restart();

  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  Json quota = client.Call({{"op", "quota"}});
  EXPECT_EQ(quota.value("bytes", 0), 300 * 1024 + 5000 + 200 * 1024) << quota.dump();
  EXPECT_EQ(quota.value("files", 0), 3) << quota.dump();  // docs, docs/a.bin, b.bin
  EXPECT_EQ(quota.value("bytes_reserved", -1), 0) << quota.dump();

  // The resume completes it; usage follows.
  const auto resumed = server_.Client("alice", "alice-secret", {"put", "-c", local / "big.bin"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(ReadFile(server_.home("alice") + "/big.bin"), big);
  quota = client.Call({{"op", "quota"}});
  EXPECT_EQ(quota.value("bytes", 0), 300 * 1024 + 5000 + 2 * 1024 * 1024) << quota.dump();
  EXPECT_EQ(quota.value("files", 0), 4) << quota.dump();
}

TEST_F(QuotaIntegration, TheFileCountLimitsUploadsAndFolders) {
  SetQuota("alice", "none", "3");
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(client.Call({{"op", "mkdir"}, {"path", "a"}}).value("ok", false));
  ASSERT_TRUE(Upload(client, "a/one.txt", "one").value("ok", false));
  ASSERT_TRUE(Upload(client, "two.txt", "two").value("ok", false));
  EXPECT_EQ(client.Call({{"op", "mkdir"}, {"path", "b"}}).value("code", ""), "EQUOTA");
  EXPECT_EQ(client.Call(PutHeader("three.txt", 5)).value("code", ""), "EQUOTA");
  // Replacing a file adds no name; mkdir -p of what exists needs no room; an existing name is still EEXIST.
  EXPECT_TRUE(Upload(client, "two.txt", "two again").value("ok", false));
  EXPECT_TRUE(client.Call({{"op", "mkdir"}, {"path", "a"}, {"parents", true}}).value("ok", false));
  EXPECT_EQ(client.Call({{"op", "mkdir"}, {"path", "a"}}).value("code", ""), "EEXIST");
  EXPECT_FALSE(Exists(server_.home("alice") + "/b"));

  ASSERT_TRUE(client.Call({{"op", "rm"}, {"path", "a"}, {"recursive", true}}).value("ok", false));
  EXPECT_EQ(client.Call({{"op", "quota"}}).value("files", 0), 1);
  // Room for two more: mkdir -p x/y/z creates x and y, then stops.
  const Json deep = client.Call({{"op", "mkdir"}, {"path", "x/y/z"}, {"parents", true}});
  EXPECT_EQ(deep.value("code", ""), "EQUOTA") << deep.dump();
  EXPECT_TRUE(Exists(server_.home("alice") + "/x/y"));
  EXPECT_FALSE(Exists(server_.home("alice") + "/x/y/z"));
  EXPECT_EQ(client.Call({{"op", "quota"}}).value("files", 0), 3);
}

TEST_F(QuotaIntegration, RemovingAndReplacingGiveSpaceBack) {
  SetQuota("alice", "1M");
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(Upload(client, "first.bin", RandomBytes(600 * 1024, 9)).value("ok", false));
  EXPECT_EQ(client.Call(PutHeader("second.bin", 600 * 1024)).value("code", ""), "EQUOTA");
  ASSERT_TRUE(client.Call({{"op", "rm"}, {"path", "first.bin"}}).value("ok", false));
  EXPECT_EQ(client.Call({{"op", "quota"}}).value("bytes", -1), 0);
  ASSERT_TRUE(Upload(client, "second.bin", RandomBytes(600 * 1024, 10)).value("ok", false));

  // mv -f over another file frees the file it replaces; a plain rename changes nothing.
  ASSERT_TRUE(Upload(client, "small.bin", RandomBytes(1000, 11)).value("ok", false));
  ASSERT_TRUE(client.Call({{"op", "mv"}, {"from", "small.bin"}, {"to", "renamed.bin"}}).value("ok", false));
  EXPECT_EQ(client.Call({{"op", "quota"}}).value("bytes", 0), 600 * 1024 + 1000);
  ASSERT_TRUE(
      client.Call({{"op", "mv"}, {"from", "renamed.bin"}, {"to", "second.bin"}, {"overwrite", true}}).value("ok", false));
  const Json quota = client.Call({{"op", "quota"}});
  EXPECT_EQ(quota.value("bytes", 0), 1000) << quota.dump();
  EXPECT_EQ(quota.value("files", 0), 1) << quota.dump();
}

TEST_F(QuotaIntegration, DataBeyondTheDeclaredSizeStopsTheUploadAndReleasesItsSpace) {
  SetQuota("alice", "1M");
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  const Json opened = client.Call(PutHeader("grows.bin", 1000));
  ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
  const auto ref = opened["id"].get<std::uint64_t>();
  ASSERT_TRUE(client.SendFrame(DataHeader(ref), std::string(800, 'g')));
  ASSERT_TRUE(client.SendFrame(DataHeader(ref), std::string(800, 'g')));
  EXPECT_EQ(client.Call(PutCloseHeader(ref, Xxh3(std::string(1600, 'g')))).value("code", ""), "EINVAL");
  EXPECT_TRUE(Names(PartialsDir()).empty());
  const Json quota = client.Call({{"op", "quota"}});
  EXPECT_EQ(quota.value("bytes", -1), 0) << quota.dump();
  EXPECT_EQ(quota.value("bytes_reserved", -1), 0) << quota.dump();
}

TEST_F(QuotaIntegration, AChangedQuotaAppliesToOpenSessions) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(Upload(client, "before.bin", RandomBytes(10 * 1024, 12)).value("ok", false));
  SetQuota("alice", "12K");
  EXPECT_EQ(client.Call(PutHeader("after.bin", 4 * 1024)).value("code", ""), "EQUOTA");
  EXPECT_TRUE(Upload(client, "after.bin", RandomBytes(2 * 1024, 13)).value("ok", false));
  SetQuota("alice", "none");
  EXPECT_TRUE(Upload(client, "later.bin", RandomBytes(64 * 1024, 14)).value("ok", false));
  // Other users are not affected by alice's quota.
  SetQuota("alice", "1K");
  RawClient bob(server_.port());
  ASSERT_TRUE(bob.HelloAndLogin("bob", "bob-secret"));
  EXPECT_TRUE(Upload(bob, "free.bin", RandomBytes(64 * 1024, 15)).value("ok", false));
}

TEST_F(QuotaIntegration, TheClientShowsUsageAndLimits) {
  SetQuota("alice", "1M", "10");
  TempDir local;
  WriteFile(local / "k.bin", std::string(1024, 'k'));
  ASSERT_EQ(server_.Client("alice", "alice-secret", {"put", local / "k.bin"}).exit_code, 0);
  const auto shown = server_.Client("alice", "alice-secret", {"quota"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("space: 1.0 KiB used of 1.0 MiB (1,024 of 1,048,576 bytes, 0.1%), 1023.0 KiB free\n"));
  EXPECT_THAT(shown.out, HasSubstr("files: 1 of 10"));
  const auto unlimited = server_.Client("bob", "bob-secret", {"quota"});
  ASSERT_EQ(unlimited.exit_code, 0) << unlimited.err;
  EXPECT_THAT(unlimited.out, HasSubstr("space: 0 B used (0 bytes), no limit"));
  EXPECT_THAT(unlimited.out, HasSubstr("files: 0 (files, folders and links), no limit"));
}

TEST_F(QuotaIntegration, TheAdminSetsQuotasAtAddOrLater) {
  const auto add = RunProcess({FerrydPath(), "user", "add", "--root", server_.root(), "--password-stdin", "--quota",
                               "2G", "--max-files", "500", "carol"},
                              {}, "carol-secret\n");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_THAT(RunProcess({FerrydPath(), "user", "list", "--root", server_.root()}).out,
              ::testing::ContainsRegex("carol +read-write +no-exec +2.0 GiB +500\n"));
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "set-quota", "--root", server_.root(), "carol", "none"}).exit_code, 0);
  EXPECT_THAT(RunProcess({FerrydPath(), "user", "list", "--root", server_.root()}).out,
              ::testing::ContainsRegex("carol +read-write +no-exec +none +500\n"));
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "set-quota", "--root", server_.root(), "carol", "--max-files", "none"})
                .exit_code,
            0);
  EXPECT_THAT(RunProcess({FerrydPath(), "user", "list", "--root", server_.root()}).out,
              ::testing::ContainsRegex("carol +read-write +no-exec +none +none\n"));

  const auto bad = RunProcess({FerrydPath(), "user", "set-quota", "--root", server_.root(), "carol", "12X"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("12X"));
  const auto unknown = RunProcess({FerrydPath(), "user", "set-quota", "--root", server_.root(), "nobody", "1G"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err, HasSubstr("nobody"));
  const auto nothing = RunProcess({FerrydPath(), "user", "set-quota", "--root", server_.root(), "carol"});
  EXPECT_NE(nothing.exit_code, 0);
}

}  // namespace
}  // namespace ferry::testing
