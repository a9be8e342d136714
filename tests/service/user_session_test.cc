// FileService::Login and the UserSession operations other than transfers: login policy, permissions, quotas on
// names, and the audit line each change writes.
#include "service/user_session.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "service/file_service.h"
#include "service/service_fixture.h"
#include "support/temp_dir.h"
#include "support/test_files.h"

namespace ferry::service {
namespace {

using ferry::testing::Exists;
using ferry::testing::ReadFile;
using ferry::testing::WriteFile;

class UserSessionTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(AddUser("alice"));
  }
};

// ---- Login ----

TEST_F(UserSessionTest, LoginWithTheRightPasswordGivesASessionAndOneLoginLine) {
  auto session = Login("alice");
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ((*session)->user(), "alice");
  const auto lines = AuditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "event"), "login");
  EXPECT_EQ(Field(lines[0], "user"), "alice");
  EXPECT_EQ(Field(lines[0], "address"), kClient.peer);
  EXPECT_EQ(Field(lines[0], "result"), "ok");
}

TEST_F(UserSessionTest, LoginWithAWrongPasswordIsAuthFailed) {
  auto session = Login("alice", "wrong horse");
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), ErrorCode::kAuthFailed);
  const auto lines = AuditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "event"), "login");
  EXPECT_EQ(Field(lines[0], "user"), "alice");
  EXPECT_EQ(Field(lines[0], "result"), "EAUTH");
}

TEST_F(UserSessionTest, LoginAsAnUnknownUserIsAuthFailedLikeAWrongPassword) {
  auto unknown = Login("mallory", kPassword);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), ErrorCode::kAuthFailed);
  auto wrong = Login("alice", "wrong horse");
  ASSERT_FALSE(wrong.ok());
  // The same answer, word for word: it must not tell whether the user exists.
  EXPECT_EQ(unknown.status().message(), wrong.status().message());
  const auto lines = AuditLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Field(lines[0], "event"), "login");
  EXPECT_EQ(Field(lines[0], "user"), "mallory");
  EXPECT_EQ(Field(lines[0], "result"), "EAUTH");
}

TEST_F(UserSessionTest, PasswordLoginsSayTheirMethod) {
  ASSERT_TRUE(Login("alice").ok());
  const auto lines = AuditLines();
  ASSERT_GE(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "method"), "password");
}

TEST_F(UserSessionTest, LoginWithOneOfTheUsersKeysNamesTheKeyInTheAuditLine) {
  ferry::testing::TempDir keys;
  auto key = storage::CreateHostKey(keys / "k", "laptop");
  auto other = storage::CreateHostKey(keys / "other", "mallory");
  ASSERT_TRUE(key.ok() && other.ok());
  ASSERT_TRUE(users_->AddKeys("alice", {*key}).ok());
  EXPECT_TRUE(files_->AcceptsKey("alice", *key));
  EXPECT_FALSE(files_->AcceptsKey("alice", *other));
  EXPECT_FALSE(files_->AcceptsKey("mallory", *key));

  auto session = LoginWithKey("alice", *key);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ((*session)->user(), "alice");
  auto wrong_key = LoginWithKey("alice", *other);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.status().code(), ErrorCode::kAuthFailed);
  auto unknown = LoginWithKey("mallory", *key);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), wrong_key.status().message());

  const auto lines = AuditLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Field(lines[0], "event"), "login");
  EXPECT_EQ(Field(lines[0], "method"), "publickey");
  EXPECT_EQ(Field(lines[0], "key"), key->fingerprint);
  EXPECT_EQ(Field(lines[0], "result"), "ok");
  EXPECT_EQ(Field(lines[1], "key"), other->fingerprint);
  EXPECT_EQ(Field(lines[1], "result"), "EAUTH");
  EXPECT_EQ(Field(lines[2], "user"), "mallory");
  EXPECT_EQ(Field(lines[2], "result"), "EAUTH");

  // A key removed by the administrator logs no one in any more.
  ASSERT_TRUE(users_->RemoveKey("alice", key->fingerprint).ok());
  EXPECT_EQ(LoginWithKey("alice", *key).status().code(), ErrorCode::kAuthFailed);
}

TEST_F(UserSessionTest, TheHomeFoldersPermissionsCannotBeChanged) {
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  ASSERT_EQ(::mkdir((Home("alice") + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(".", (Home("alice") + "/self").c_str()), 0);
  for (const char* home : {"/", "", ".", "/sub/..", "/self"}) {
    const Status refused = session->SetAttributes(home, 0, std::nullopt);
    EXPECT_EQ(refused.code(), ErrorCode::kNotPermitted) << home;
    EXPECT_EQ(refused.message(), "the permissions of your home folder cannot be changed");
  }
  EXPECT_EQ(ferry::testing::ModeOf(Home("alice")), 0700u);
  EXPECT_TRUE(session->SetAttributes("/", std::nullopt, timespec{1000000000, 0}).ok());
  EXPECT_TRUE(session->SetAttributes("/sub", 0700, std::nullopt).ok());
  EXPECT_EQ(ferry::testing::ModeOf(Home("alice") + "/sub"), 0700u);
}

TEST_F(UserSessionTest, LoginPastTheUserSessionLimitIsBusyUntilASessionEnds) {
  ConnectionLimiter one_each(100, 1);
  FileServiceOptions options = Options();
  options.user_sessions = &one_each;
  FileService files(options);
  auto first = Login("alice", kPassword, &files);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = Login("alice", kPassword, &files);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kBusy);
  first.value().reset();  // frees the slot
  auto third = Login("alice", kPassword, &files);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

// FileService::Login promises an audit line "either way"; a refusal for too many sessions is a failed login too.
TEST_F(UserSessionTest, LoginRefusedForTooManySessionsIsAudited) {
  ConnectionLimiter one_each(100, 1);
  FileServiceOptions options = Options();
  options.user_sessions = &one_each;
  FileService files(options);
  auto first = Login("alice", kPassword, &files);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::size_t before = AuditCount();
  auto second = Login("alice", kPassword, &files);
  ASSERT_FALSE(second.ok());
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 1u) << "a login refused with EBUSY wrote no audit line";
  EXPECT_EQ(Field(lines[0], "event"), "login");
  EXPECT_EQ(Field(lines[0], "user"), "alice");
  EXPECT_EQ(Field(lines[0], "result"), "EBUSY");
}

// The same promise for a home that cannot be opened (EIO).
TEST_F(UserSessionTest, LoginWithoutAHomeIsIoAndAudited) {
  ASSERT_TRUE(users_->Add("bob", kPassword, kFastHash).ok());  // no home folder made
  auto session = Login("bob");
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), ErrorCode::kIo);
  const auto lines = AuditLines();
  ASSERT_EQ(lines.size(), 1u) << "a login refused with EIO wrote no audit line";
  EXPECT_EQ(Field(lines[0], "event"), "login");
  EXPECT_EQ(Field(lines[0], "user"), "bob");
  EXPECT_EQ(Field(lines[0], "result"), "EIO");
}

TEST_F(UserSessionTest, EndingTheSessionWritesOneLogoutLine) {
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  const std::size_t before = AuditCount();
  session.reset();
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "event"), "logout");
  EXPECT_EQ(Field(lines[0], "user"), "alice");
  EXPECT_EQ(Field(lines[0], "result"), "ok");
}

TEST_F(UserSessionTest, FirstLoginMeasuresWhatTheHomeHolds) {
  ASSERT_EQ(::mkdir(OnDisk("alice", "/docs").c_str(), 0755), 0);
  WriteFile(OnDisk("alice", "/docs/a.txt"), std::string(1234, 'a'));
  WriteFile(OnDisk("alice", "/b.txt"), std::string(66, 'b'));
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  const auto usage = quotas_.Usage("alice");
  EXPECT_EQ(usage.bytes, 1300u);
  EXPECT_EQ(usage.entries, 3u);
  ExpectUsageMatchesDisk("alice");
}

// ---- Permissions ----

TEST_F(UserSessionTest, ReadOnlyUserIsRefusedEveryChangeWithOneEpermLineEach) {
  ASSERT_EQ(::mkdir(OnDisk("alice", "/dir").c_str(), 0755), 0);
  WriteFile(OnDisk("alice", "/a.txt"), "content of a");
  ASSERT_TRUE(users_->SetPermissions("alice", true, std::nullopt).ok());
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  const auto names_before = ferry::testing::Names(Home("alice"));
  const auto usage_before = quotas_.Usage("alice");
  const timespec epoch{0, 0};

  struct Attempt {
    const char* event;
    const char* path;
    std::function<Status()> call;
  };
  const std::vector<Attempt> attempts = {
      {"mkdir", "/new", [&] { return session->MakeDirectory("/new", false); }},
      {"delete", "/a.txt", [&] { return session->Remove("/a.txt", false); }},
      {"delete", "/dir", [&] { return session->RemoveDirectory("/dir"); }},
      {"rename", "/a.txt", [&] { return session->Rename("/a.txt", "/b.txt", true); }},
      {"setattr", "/a.txt", [&] { return session->SetAttributes("/a.txt", 0600, epoch); }},
      {"upload", "/up.bin", [&] {
         UploadOptions options;
         options.size = 10;
         return session->BeginUpload("/up.bin", options).status();
       }},
  };
  for (const auto& attempt : attempts) {
    SCOPED_TRACE(attempt.event);
    const std::size_t before = AuditCount();
    EXPECT_EQ(attempt.call().code(), ErrorCode::kNotPermitted);
    const auto lines = AuditSince(before);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(Field(lines[0], "event"), attempt.event);
    EXPECT_EQ(Field(lines[0], "path"), attempt.path);
    EXPECT_EQ(Field(lines[0], "result"), "EPERM");
  }
  // Nothing changed on disk, nor in the ledger.
  EXPECT_EQ(ferry::testing::Names(Home("alice")), names_before);
  EXPECT_EQ(ReadFile(OnDisk("alice", "/a.txt")), "content of a");
  struct stat st {};
  ASSERT_EQ(::stat(OnDisk("alice", "/a.txt").c_str(), &st), 0);
  EXPECT_NE(st.st_mode & 0777, 0600u);
  EXPECT_NE(st.st_mtim.tv_sec, 0);
  EXPECT_TRUE(PartialNames("alice").empty());
  EXPECT_EQ(quotas_.Usage("alice").bytes, usage_before.bytes);
  EXPECT_EQ(quotas_.Usage("alice").entries, usage_before.entries);
  ExpectUsageMatchesDisk("alice");
}

TEST_F(UserSessionTest, ReadOnlyUserMayStillRead) {
  WriteFile(OnDisk("alice", "/a.txt"), "content of a");
  ASSERT_TRUE(users_->SetPermissions("alice", true, std::nullopt).ok());
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(session->Stat("/a.txt").ok());
  EXPECT_TRUE(session->OpenDirectory("/").ok());
  EXPECT_TRUE(session->Checksum("/a.txt", transfer::kDefaultChecksum, std::nullopt).ok());
  auto download = session->OpenDownload("/a.txt", 0, transfer::kDefaultChecksum, DownloadDigest::kSent);
  EXPECT_TRUE(download.ok()) << download.status().ToString();
}

TEST_F(UserSessionTest, PermissionChangeReachesAnOpenSession) {
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  // Let the store cache alice's permissions, so the change below has to get past its cache.
  ASSERT_NO_FATAL_FAILURE(SettleUserDatabase());
  EXPECT_TRUE(session->CheckWritable().ok());
  EXPECT_TRUE(session->CheckWritable().ok());
  EXPECT_TRUE(session->MakeDirectory("/first", false).ok());

  ASSERT_TRUE(users_->SetPermissions("alice", true, std::nullopt).ok());
  EXPECT_EQ(session->CheckWritable().code(), ErrorCode::kNotPermitted);
  EXPECT_EQ(session->MakeDirectory("/second", false).code(), ErrorCode::kNotPermitted);
  EXPECT_FALSE(Exists(OnDisk("alice", "/second")));

  ASSERT_NO_FATAL_FAILURE(SettleUserDatabase());
  EXPECT_EQ(session->CheckWritable().code(), ErrorCode::kNotPermitted);  // now from the cache
  ASSERT_TRUE(users_->SetPermissions("alice", false, std::nullopt).ok());
  EXPECT_TRUE(session->MakeDirectory("/third", false).ok());
  EXPECT_TRUE(Exists(OnDisk("alice", "/third")));
}

TEST_F(UserSessionTest, RemovedAccountMayNotChangeAnything) {
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  ASSERT_TRUE(users_->Remove("alice").ok());
  const std::size_t before = AuditCount();
  EXPECT_EQ(session->MakeDirectory("/new", false).code(), ErrorCode::kNotPermitted);
  UploadOptions options;
  options.size = 3;
  EXPECT_EQ(session->BeginUpload("/up.bin", options).status().code(), ErrorCode::kNotPermitted);
  EXPECT_EQ(AuditCount(), before + 2);
  EXPECT_FALSE(Exists(OnDisk("alice", "/new")));
  EXPECT_TRUE(PartialNames("alice").empty());
}

// ---- Quota on names and sizes ----

TEST_F(UserSessionTest, MakeDirectoryPastMaxFilesIsQuota) {
  ASSERT_TRUE(users_->SetQuota("alice", std::nullopt, std::optional<std::uint64_t>(2)).ok());
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(session->MakeDirectory("/a", false).ok());
  EXPECT_TRUE(session->MakeDirectory("/b", false).ok());
  const std::size_t before = AuditCount();
  EXPECT_EQ(session->MakeDirectory("/c", false).code(), ErrorCode::kQuota);
  EXPECT_EQ(session->MakeDirectory("/c", true).code(), ErrorCode::kQuota);
  EXPECT_FALSE(Exists(OnDisk("alice", "/c")));
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Field(lines[0], "event"), "mkdir");
  EXPECT_EQ(Field(lines[0], "path"), "/c");
  EXPECT_EQ(Field(lines[0], "result"), "EQUOTA");
  // A name that exists needs no room.
  EXPECT_EQ(session->MakeDirectory("/a", false).code(), ErrorCode::kExists);
  EXPECT_TRUE(session->MakeDirectory("/a", true).ok());
  EXPECT_EQ(quotas_.Usage("alice").entries, 2u);
  ExpectUsageMatchesDisk("alice");
}

TEST_F(UserSessionTest, MakeDirectoryWithParentsCountsEveryFolderItCreates) {
  ASSERT_TRUE(users_->SetQuota("alice", std::nullopt, std::optional<std::uint64_t>(4)).ok());
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  const std::size_t before = AuditCount();
  EXPECT_TRUE(session->MakeDirectory("/a/b/c", true).ok());
  EXPECT_EQ(AuditCount(), before + 1);
  EXPECT_EQ(quotas_.Usage("alice").entries, 3u);
  ExpectUsageMatchesDisk("alice");
  // One entry left: /a/b/c/d fits, /a/b/c/d/e does not.
  EXPECT_EQ(session->MakeDirectory("/a/b/c/d/e", true).code(), ErrorCode::kQuota);
  EXPECT_TRUE(Exists(OnDisk("alice", "/a/b/c/d")));
  EXPECT_FALSE(Exists(OnDisk("alice", "/a/b/c/d/e")));
  EXPECT_EQ(quotas_.Usage("alice").entries, 4u);
  ExpectUsageMatchesDisk("alice");
  // At the limit, mkdir -p of folders that all exist still succeeds.
  EXPECT_TRUE(session->MakeDirectory("/a/b", true).ok());
  ExpectUsageMatchesDisk("alice");
}

TEST_F(UserSessionTest, UsageIsExactAfterRemove) {
  ASSERT_EQ(::mkdir(OnDisk("alice", "/tree").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(OnDisk("alice", "/tree/sub").c_str(), 0755), 0);
  WriteFile(OnDisk("alice", "/tree/sub/x"), std::string(700, 'x'));
  WriteFile(OnDisk("alice", "/tree/y"), std::string(300, 'y'));
  WriteFile(OnDisk("alice", "/z"), std::string(55, 'z'));
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(quotas_.Usage("alice").bytes, 1055u);
  EXPECT_EQ(quotas_.Usage("alice").entries, 5u);

  EXPECT_TRUE(session->Remove("/z", false).ok());
  EXPECT_EQ(quotas_.Usage("alice").bytes, 1000u);
  EXPECT_EQ(quotas_.Usage("alice").entries, 4u);
  ExpectUsageMatchesDisk("alice");

  EXPECT_EQ(session->Remove("/tree", false).code(), ErrorCode::kIsDirectory);
  EXPECT_TRUE(session->Remove("/tree", true).ok());
  EXPECT_EQ(quotas_.Usage("alice").bytes, 0u);
  EXPECT_EQ(quotas_.Usage("alice").entries, 0u);
  ExpectUsageMatchesDisk("alice");
}

// A tree deeper than any fixed limit (600 levels, each holding 4 KiB) is counted whole at the first login, so the
// quota holds, and rm -r removes it whole.
TEST_F(UserSessionTest, UsageCountsAndRemovalRemovesATreeOfAnyDepth) {
  constexpr int kLevels = 600;
  ASSERT_TRUE(users_->SetQuota("alice", std::optional<std::uint64_t>(1024 * 1024), std::nullopt).ok());
  {
    ASSERT_EQ(::mkdir(OnDisk("alice", "/deep").c_str(), 0755), 0);
    UniqueFd level(::open(OnDisk("alice", "/deep").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const std::string block(4096, 'd');
    for (int i = 0; i < kLevels; ++i) {
      ASSERT_EQ(::mkdirat(level.get(), "d", 0755), 0);
      UniqueFd next(::openat(level.get(), "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      UniqueFd file(::openat(next.get(), "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      ASSERT_EQ(::write(file.get(), block.data(), block.size()), 4096);
      level = std::move(next);
    }
  }
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(quotas_.Usage("alice").bytes, std::uint64_t{kLevels} * 4096);
  EXPECT_EQ(quotas_.Usage("alice").entries, std::uint64_t{kLevels} * 2 + 1);
  // 2.4 MiB stored against 1 MiB: nothing more fits.
  UploadOptions options;
  options.size = 1;
  EXPECT_EQ(session->BeginUpload("/more", options).status().code(), ErrorCode::kQuota);

  const Status removed = session->Remove("/deep", true);
  ASSERT_TRUE(removed.ok()) << removed.ToString();
  EXPECT_FALSE(Exists(OnDisk("alice", "/deep")));
  EXPECT_EQ(quotas_.Usage("alice").bytes, 0u);
  EXPECT_EQ(quotas_.Usage("alice").entries, 0u);
  ExpectUsageMatchesDisk("alice");
}

TEST_F(UserSessionTest, UsageIsExactAfterRenameOverAnExistingFile) {
  WriteFile(OnDisk("alice", "/a"), std::string(100, 'a'));
  WriteFile(OnDisk("alice", "/b"), std::string(300, 'b'));
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(session->Rename("/a", "/b", false).code(), ErrorCode::kExists);
  EXPECT_EQ(quotas_.Usage("alice").bytes, 400u);
  EXPECT_TRUE(session->Rename("/a", "/b", true).ok());
  EXPECT_EQ(ReadFile(OnDisk("alice", "/b")), std::string(100, 'a'));
  EXPECT_EQ(quotas_.Usage("alice").bytes, 100u);
  EXPECT_EQ(quotas_.Usage("alice").entries, 1u);
  ExpectUsageMatchesDisk("alice");
  // Onto itself: nothing is given back.
  EXPECT_TRUE(session->Rename("/b", "/b", true).ok());
  EXPECT_EQ(quotas_.Usage("alice").bytes, 100u);
  ExpectUsageMatchesDisk("alice");
}

TEST_F(UserSessionTest, QuotaReportsUsageAndLimits) {
  WriteFile(OnDisk("alice", "/a"), std::string(10, 'a'));
  ASSERT_TRUE(users_->SetQuota("alice", std::optional<std::uint64_t>(1000), std::optional<std::uint64_t>(7)).ok());
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  auto report = session->Quota();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->usage.bytes, 10u);
  EXPECT_EQ(report->usage.entries, 1u);
  EXPECT_EQ(report->limits.max_bytes, std::optional<std::uint64_t>(1000));
  EXPECT_EQ(report->limits.max_files, std::optional<std::uint64_t>(7));
  // A change of quota reaches the open session.
  const std::optional<std::optional<std::uint64_t>> no_limit(std::in_place);
  ASSERT_TRUE(users_->SetQuota("alice", no_limit, std::nullopt).ok());
  report = session->Quota();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->limits.max_bytes.has_value());
}

// ---- Audit ----

TEST_F(UserSessionTest, EachChangeWritesExactlyOneLine) {
  WriteFile(OnDisk("alice", "/f"), "12345");
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  const timespec when{1'600'000'000, 0};
  struct Change {
    const char* event;
    const char* path;
    const char* result;
    std::function<Status()> call;
  };
  const std::vector<Change> changes = {
      {"mkdir", "/d", "ok", [&] { return session->MakeDirectory("/d", false); }},
      {"mkdir", "/d", "EEXIST", [&] { return session->MakeDirectory("/d", false); }},
      {"setattr", "/f", "ok", [&] { return session->SetAttributes("/f", 0600, when); }},
      {"rename", "/f", "ok", [&] { return session->Rename("/f", "/d/g", false); }},
      {"delete", "/d/g", "ok", [&] { return session->Remove("/d/g", false); }},
      {"delete", "/d/g", "ENOENT", [&] { return session->Remove("/d/g", false); }},
      {"delete", "/d", "ok", [&] { return session->RemoveDirectory("/d"); }},
      {"delete", "/d", "ENOENT", [&] { return session->RemoveDirectory("/d"); }},
  };
  for (const auto& change : changes) {
    SCOPED_TRACE(std::string(change.event) + " " + change.path + " " + change.result);
    const std::size_t before = AuditCount();
    change.call();
    const auto lines = AuditSince(before);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(Field(lines[0], "event"), change.event);
    EXPECT_EQ(Field(lines[0], "user"), "alice");
    EXPECT_EQ(Field(lines[0], "path"), change.path);
    EXPECT_EQ(Field(lines[0], "result"), change.result);
  }
  const auto lines = AuditLines();
  const auto rename = std::find_if(lines.begin(), lines.end(), [](const auto& l) { return Field(l, "event") == "rename"; });
  ASSERT_NE(rename, lines.end());
  EXPECT_EQ(Field(*rename, "to"), "/d/g");
}

TEST_F(UserSessionTest, ReadingWritesNoLine) {
  ASSERT_EQ(::mkdir(OnDisk("alice", "/d").c_str(), 0755), 0);
  WriteFile(OnDisk("alice", "/d/f"), "12345");
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  const std::size_t before = AuditCount();
  EXPECT_TRUE(session->Stat("/d/f").ok());
  EXPECT_EQ(session->Stat("/missing").status().code(), ErrorCode::kNotFound);
  auto lister = session->OpenDirectory("/d");
  ASSERT_TRUE(lister.ok());
  auto batch = lister->Next(100);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->size(), 1u);
  EXPECT_EQ(session->OpenDirectory("/d/f").status().code(), ErrorCode::kNotDirectory);
  EXPECT_TRUE(session->ResolveDirectory("/d").ok());
  EXPECT_TRUE(session->Quota().ok());
  auto sum = session->Checksum("/d/f", transfer::kDefaultChecksum, std::nullopt);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->checksum, ferry::testing::Xxh3("12345"));
  EXPECT_EQ(sum->size, 5u);
  EXPECT_TRUE(session->CheckWritable().ok());
  EXPECT_EQ(AuditCount(), before);
}

TEST_F(UserSessionTest, ChecksumOfAPrefixAndOfWhatIsNoRegularFile) {
  ASSERT_EQ(::mkdir(OnDisk("alice", "/d").c_str(), 0755), 0);
  WriteFile(OnDisk("alice", "/f"), "0123456789");
  ASSERT_EQ(::mkfifo(OnDisk("alice", "/pipe").c_str(), 0600), 0);
  auto session = LoginOrFail("alice");
  ASSERT_NE(session, nullptr);
  auto prefix = session->Checksum("/f", transfer::kDefaultChecksum, 4);
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(prefix->checksum, ferry::testing::Xxh3("0123"));
  EXPECT_EQ(prefix->size, 4u);
  EXPECT_EQ(session->Checksum("/f", transfer::kDefaultChecksum, 11).status().code(), ErrorCode::kInvalid);
  EXPECT_EQ(session->Checksum("/d", transfer::kDefaultChecksum, std::nullopt).status().code(),
            ErrorCode::kIsDirectory);
  // Opened without blocking for a writer.
  EXPECT_EQ(session->Checksum("/pipe", transfer::kDefaultChecksum, std::nullopt).status().code(),
            ErrorCode::kInvalid);
}

}  // namespace
}  // namespace ferry::service
