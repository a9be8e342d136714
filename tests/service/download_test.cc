// Download: opening a file of a home, reading it from an offset, its checksum, and its one audit line.
#include "service/download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "service/service_fixture.h"
#include "service/user_session.h"
#include "support/temp_dir.h"
#include "support/test_files.h"

namespace ferry::service {
namespace {

using ferry::testing::RandomBytes;
using ferry::testing::UserAttributesWork;
using ferry::testing::WriteFile;
using ferry::testing::Xxh3;

// The bytes this process has read with read(2) and its kind so far ("rchar" in /proc/self/io); none where that cannot
// be read.
std::optional<std::uint64_t> BytesReadByThisProcess() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  return std::nullopt;
}

// Everything a download has still to send, read in `buffer_size` pieces until Read returns 0.
std::string ReadToEnd(Download& download, std::size_t buffer_size = 64 * 1024) {
  std::string received;
  std::vector<char> buffer(buffer_size);
  while (true) {
    auto n = download.Read(buffer);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok() || *n == 0) break;
    received.append(buffer.data(), *n);
  }
  return received;
}

// Gives a FIFO a writer if the call under test has not returned within `limit`, so an open that blocks fails the
// test instead of hanging it.
class FifoWatchdog {
 public:
  FifoWatchdog(std::string path, std::chrono::seconds limit)
      : thread_([this, path = std::move(path), limit] {
          std::unique_lock lock(mutex_);
          if (finished_.wait_for(lock, limit, [this] { return done_; })) return;
          fired_ = true;
          const int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);  // never blocks
          if (fd >= 0) ::close(fd);
        }) {}
  ~FifoWatchdog() { Stop(); }

  // True when it had to give the FIFO a writer.
  bool Stop() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    finished_.notify_all();
    if (thread_.joinable()) thread_.join();
    return fired_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable finished_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;
};

class DownloadTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(AddUser("alice"));
    content_ = RandomBytes(300'000, 21);
    WriteFile(OnDisk("alice", "/f.bin"), content_);
    session_ = LoginOrFail("alice");
    ASSERT_NE(session_, nullptr);
  }

  Result<Download> Open(const std::string& path, std::uint64_t offset = 0,
                        DownloadDigest digest = DownloadDigest::kSent) {
    return session_->OpenDownload(path, offset, transfer::kDefaultChecksum, digest);
  }

  std::string content_;
  std::unique_ptr<UserSession> session_;
};

TEST_F(DownloadTest, ReadingUntilZeroGivesEveryByte) {
  const std::size_t before = AuditCount();
  auto download = Open("/f.bin");
  ASSERT_TRUE(download.ok()) << download.status().ToString();
  EXPECT_EQ(download->size(), content_.size());
  EXPECT_EQ(download->offset(), 0u);
  EXPECT_EQ(AuditCount(), before);  // audited when it ends
  const std::string received = ReadToEnd(*download, 50'000);
  EXPECT_EQ(received, content_);
  const DownloadResult result = download->Finish(received.size());
  EXPECT_EQ(result.size, content_.size());
  EXPECT_EQ(result.checksum, Xxh3(content_));
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "event"), "download");
  EXPECT_EQ(Field(lines[0], "user"), "alice");
  EXPECT_EQ(Field(lines[0], "path"), "/f.bin");
  EXPECT_EQ(Field(lines[0], "result"), "ok");
  EXPECT_EQ(BytesOf(lines[0]), std::optional<std::uint64_t>(content_.size()));
}

TEST_F(DownloadTest, FromAnOffsetSendsTheRestButChecksumsTheWholeFile) {
  constexpr std::uint64_t kOffset = 100'001;
  const std::size_t before = AuditCount();
  auto download = Open("/f.bin", kOffset);
  ASSERT_TRUE(download.ok()) << download.status().ToString();
  EXPECT_FALSE(download->known_checksum().has_value());
  const std::string received = ReadToEnd(*download, 40'000);
  EXPECT_EQ(received, content_.substr(kOffset));
  const DownloadResult result = download->Finish(received.size());
  EXPECT_EQ(result.size, content_.size());
  EXPECT_EQ(result.checksum, Xxh3(content_));
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(BytesOf(lines[0]), std::optional<std::uint64_t>(content_.size() - kOffset));
}

TEST_F(DownloadTest, FromTheEndSendsNothing) {
  auto download = Open("/f.bin", content_.size());
  ASSERT_TRUE(download.ok()) << download.status().ToString();
  EXPECT_EQ(ReadToEnd(*download), "");
  EXPECT_EQ(download->Finish(0).checksum, Xxh3(content_));
}

TEST_F(DownloadTest, OffsetPastTheEndIsInvalid) {
  const std::size_t before = AuditCount();
  EXPECT_EQ(Open("/f.bin", content_.size() + 1).status().code(), ErrorCode::kInvalid);
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "result"), "EINVAL");
}

TEST_F(DownloadTest, ASecondDownloadKnowsTheChecksum) {
  if (!UserAttributesWork(data_)) GTEST_SKIP() << "no user extended attributes on " << data_;
  {
    auto first = Open("/f.bin");
    ASSERT_TRUE(first.ok());
    EXPECT_FALSE(first->known_checksum().has_value());
    const std::string received = ReadToEnd(*first);
    first->Finish(received.size());
  }
  auto second = Open("/f.bin");
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(second->known_checksum().has_value());
  EXPECT_EQ(*second->known_checksum(), Xxh3(content_));
  // Sent by sendfile(2) on fd(): finished without a Read, the checksum is the known one.
  const DownloadResult result = second->Finish(content_.size());
  EXPECT_EQ(result.size, content_.size());
  EXPECT_EQ(result.checksum, Xxh3(content_));
  // Only for a whole file.
  auto resumed = Open("/f.bin", 10);
  ASSERT_TRUE(resumed.ok());
  EXPECT_FALSE(resumed->known_checksum().has_value());
}

// FTP and SFTP send no checksum: a file whose checksum is remembered is read without hashing, and one whose is not
// is hashed only to remember it.
TEST_F(DownloadTest, WithoutADigestToSendOnlyAnUnrememberedChecksumIsComputed) {
  if (!UserAttributesWork(data_)) GTEST_SKIP() << "no user extended attributes on " << data_;
  {
    auto first = Open("/f.bin", 0, DownloadDigest::kNotSent);
    ASSERT_TRUE(first.ok());
    EXPECT_FALSE(first->known_checksum().has_value());
    EXPECT_EQ(ReadToEnd(*first, 70'000), content_);
    const DownloadResult result = first->Finish(content_.size());
    EXPECT_EQ(result.size, content_.size());
    EXPECT_EQ(result.checksum, Xxh3(content_));
  }
  auto second = Open("/f.bin", 0, DownloadDigest::kNotSent);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->known_checksum(), std::optional<std::string>(Xxh3(content_)));
  EXPECT_EQ(ReadToEnd(*second, 70'000), content_);
  const DownloadResult result = second->Finish(content_.size());
  EXPECT_EQ(result.size, content_.size());
  EXPECT_EQ(result.checksum, "");  // nothing hashed
  // Still remembered, and a download that sends the checksum still gets it.
  auto third = Open("/f.bin");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(ReadToEnd(*third), content_);
  EXPECT_EQ(third->Finish(content_.size()).checksum, Xxh3(content_));
}

TEST_F(DownloadTest, WithoutADigestToSendAResumedDownloadHashesNothing) {
  constexpr std::uint64_t kOffset = 100'001;
  const std::size_t before = AuditCount();
  auto download = Open("/f.bin", kOffset, DownloadDigest::kNotSent);
  ASSERT_TRUE(download.ok()) << download.status().ToString();
  const std::optional<std::uint64_t> read_before = BytesReadByThisProcess();
  EXPECT_EQ(ReadToEnd(*download, 40'000), content_.substr(kOffset));
  const std::optional<std::uint64_t> read_after = BytesReadByThisProcess();
  if (read_before && read_after) {  // the prefix was not read: only what was sent (and nothing else meanwhile)
    EXPECT_GE(*read_after - *read_before, content_.size() - kOffset);
    EXPECT_LT(*read_after - *read_before, content_.size());
  } else {
    GTEST_LOG_(WARNING) << "no rchar in /proc/self/io: whether the prefix was read is not checked";
  }
  const DownloadResult result = download->Finish(content_.size() - kOffset);
  EXPECT_EQ(result.size, content_.size());
  EXPECT_EQ(result.checksum, "");
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(BytesOf(lines[0]), std::optional<std::uint64_t>(content_.size() - kOffset));
  // The whole file's checksum was not remembered from the part read.
  if (UserAttributesWork(data_)) {
    auto whole = Open("/f.bin");
    ASSERT_TRUE(whole.ok());
    EXPECT_FALSE(whole->known_checksum().has_value());
  }
}

TEST_F(DownloadTest, AChangedFileIsNotTakenForItsRememberedChecksum) {
  {
    auto first = Open("/f.bin");
    ASSERT_TRUE(first.ok());
    first->Finish(ReadToEnd(*first).size());
  }
  const std::string changed = RandomBytes(content_.size(), 22);  // same size
  WriteFile(OnDisk("alice", "/f.bin"), changed);
  const timespec later[2] = {{0, UTIME_OMIT}, {::time(nullptr) + 100, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, OnDisk("alice", "/f.bin").c_str(), later, 0), 0);
  auto second = Open("/f.bin");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->known_checksum().has_value());
  EXPECT_EQ(ReadToEnd(*second), changed);
  EXPECT_EQ(second->Finish(changed.size()).checksum, Xxh3(changed));
}

TEST_F(DownloadTest, AFolderIsIsDirectory) {
  ASSERT_EQ(::mkdir(OnDisk("alice", "/d").c_str(), 0755), 0);
  const std::size_t before = AuditCount();
  EXPECT_EQ(Open("/d").status().code(), ErrorCode::kIsDirectory);
  EXPECT_EQ(Open("/").status().code(), ErrorCode::kIsDirectory);
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Field(lines[0], "event"), "download");
  EXPECT_EQ(Field(lines[0], "result"), "EISDIR");
}

TEST_F(DownloadTest, AMissingFileIsNotFoundAndAudited) {
  const std::size_t before = AuditCount();
  EXPECT_EQ(Open("/missing").status().code(), ErrorCode::kNotFound);
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "event"), "download");
  EXPECT_EQ(Field(lines[0], "path"), "/missing");
  EXPECT_EQ(Field(lines[0], "result"), "ENOENT");
}

TEST_F(DownloadTest, DroppedWithoutFinishIsAuditedAsInterrupted) {
  const std::size_t before = AuditCount();
  {
    auto download = Open("/f.bin");
    ASSERT_TRUE(download.ok());
    std::vector<char> buffer(1000);
    auto n = download->Read(buffer);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 1000u);
    // Moving it on does not count as an end.
    Download moved(std::move(download).value());
    EXPECT_EQ(AuditCount(), before);
  }
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "event"), "download");
  EXPECT_EQ(Field(lines[0], "path"), "/f.bin");
  EXPECT_EQ(Field(lines[0], "result"), "EIO");
  EXPECT_EQ(BytesOf(lines[0]), std::optional<std::uint64_t>(1000));
}

TEST_F(DownloadTest, FailWritesTheOneLine) {
  const std::size_t before = AuditCount();
  {
    auto download = Open("/f.bin");
    ASSERT_TRUE(download.ok());
    download->Fail(Status(ErrorCode::kNoSpace, "client disk full"), 77);
  }
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "result"), "ENOSPC");
  EXPECT_EQ(BytesOf(lines[0]), std::optional<std::uint64_t>(77));
}

TEST_F(DownloadTest, AFifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(OnDisk("alice", "/pipe").c_str(), 0600), 0);
  FifoWatchdog watchdog(OnDisk("alice", "/pipe"), std::chrono::seconds(10));
  const std::size_t before = AuditCount();
  auto download = Open("/pipe");
  EXPECT_FALSE(watchdog.Stop()) << "opening the FIFO blocked until it had a writer";
  ASSERT_FALSE(download.ok());
  EXPECT_EQ(download.status().code(), ErrorCode::kInvalid);
  const auto lines = AuditSince(before);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "result"), "EINVAL");
}

TEST_F(DownloadTest, DownloadingChangesNoUsage) {
  const auto usage = quotas_.Usage("alice");
  {
    auto download = Open("/f.bin");
    ASSERT_TRUE(download.ok());
    download->Finish(ReadToEnd(*download).size());
  }
  EXPECT_EQ(quotas_.Usage("alice").bytes, usage.bytes);
  ExpectUsageMatchesDisk("alice");
}

}  // namespace
}  // namespace ferry::service
