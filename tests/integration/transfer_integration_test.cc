// Transfers end to end: the real `ferry` client against a real ferryd, checked with sha256sum, md5sum, diff and
// stat. Round trips of awkward sizes, modes and times, `sum`, target folders, atomicity, resume after a killed
// client or server, changed sources and damaged partial files, trees of thousands of files, and the summary line.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/byte_size.h"
#include "protocol/frame.h"
#include "support/partial_upload.h"
#include "support/process_probe.h"
#include "support/raw_client.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"
#include "transfer/checksum.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;
using protocol::Json;
using namespace std::chrono_literals;

constexpr std::uint64_t kMiB = 1024 * 1024;

// ---- local files ----

// Writes `size` bytes from a generator seeded with `seed`: the same seed always gives the same content.
void WriteRandomFile(const std::string& path, std::uint64_t size, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(out) << "cannot write " << path;
  std::string chunk;
  for (std::uint64_t done = 0; done < size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kMiB, size - done));
    chunk.resize((n + 7) / 8 * 8);
    for (std::size_t i = 0; i < chunk.size(); i += 8) {
      const std::uint64_t value = generator();
      std::memcpy(chunk.data() + i, &value, 8);
    }
    out.write(chunk.data(), static_cast<std::streamsize>(n));
    done += n;
  }
  out.close();
  ASSERT_TRUE(out.good()) << "writing " << path;
}

// What `sha256sum` (or `md5sum`) prints for `path`, whole line.
std::string DigestLine(const std::string& tool, const std::string& path) {
  const auto result = RunProcess({tool, path}, {}, "", 120s);
  EXPECT_EQ(result.exit_code, 0) << tool << " " << path << ": " << result.err;
  return result.out;
}

// The hex digest sha256sum prints for `path`.
std::string Sha256(const std::string& path) {
  const std::string line = DigestLine("/usr/bin/sha256sum", path);
  return line.substr(0, line.find(' '));
}

// Sets a file's modification time to `seconds` (whole), as a copy that kept its time would have it.
void SetMtime(const std::string& path, std::int64_t seconds) {
  const struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

struct stat StatOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st;
}

// Byte-for-byte equality, read in chunks so that large files need little memory.
::testing::AssertionResult SameBytes(const std::string& a, const std::string& b) {
  std::ifstream in_a(a, std::ios::binary);
  std::ifstream in_b(b, std::ios::binary);
  if (!in_a) return ::testing::AssertionFailure() << "cannot read " << a;
  if (!in_b) return ::testing::AssertionFailure() << "cannot read " << b;
  std::string chunk_a(kMiB, '\0');
  std::string chunk_b(kMiB, '\0');
  for (std::uint64_t offset = 0;;) {
    in_a.read(chunk_a.data(), static_cast<std::streamsize>(chunk_a.size()));
    in_b.read(chunk_b.data(), static_cast<std::streamsize>(chunk_b.size()));
    const auto got_a = static_cast<std::size_t>(in_a.gcount());
    const auto got_b = static_cast<std::size_t>(in_b.gcount());
    const std::size_t common = std::min(got_a, got_b);
    for (std::size_t i = 0; i < common; ++i) {
      if (chunk_a[i] != chunk_b[i]) {
        return ::testing::AssertionFailure() << a << " and " << b << " differ at byte " << offset + i;
      }
    }
    if (got_a != got_b) {
      return ::testing::AssertionFailure()
             << a << " and " << b << " differ in length (" << FileSize(a) << " vs " << FileSize(b) << ")";
    }
    if (got_a == 0) return ::testing::AssertionSuccess();
    offset += got_a;
  }
}

// sha256sum agrees and the bytes are the same.
void ExpectIdentical(const std::string& original, const std::string& copy) {
  ASSERT_TRUE(Exists(copy)) << copy << " is missing";
  EXPECT_EQ(Sha256(copy), Sha256(original)) << copy << " vs " << original;
  EXPECT_TRUE(SameBytes(original, copy));
}

// Overwrites `bytes` at `offset` of an existing file.
void Overwrite(const std::string& path, std::uint64_t offset, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  EXPECT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

// Inverts one byte of a file in place.
void FlipByte(const std::string& path, std::uint64_t offset) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  char byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, static_cast<off_t>(offset)), 1);
  byte = static_cast<char>(~byte);
  ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
}

void SetTimes(const std::string& path, std::int64_t seconds, long nanoseconds) {
  const timespec times[2] = {{seconds, nanoseconds}, {seconds, nanoseconds}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// How the client's summary line writes a size in mebibytes ("40.0 MiB").
std::string MiBText(std::uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / kMiB);
}

std::size_t LineCount(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// ---- the fixture ----

class TransferIntegration : public ::testing::Test {
 protected:
  ProcessResult Alice(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 60s) {
    return server_.Client("alice", "alice-secret", args, "", timeout);
  }
  std::string Home(const std::string& name = "") const {
    return name.empty() ? server_.home("alice") : server_.home("alice") + "/" + name;
  }
  std::string PartialsDir() const { return server_.root() + "/partials/alice"; }

  // The real client, started without waiting, so that a test can watch it and kill it.
  std::unique_ptr<Subprocess> StartClient(const std::vector<std::string>& args) {
    return server_.StartClient("alice", "alice-secret", args);
  }

  // The server's src/ holds a.txt ("a") and b.txt ("bb"); `get -r src back` copies it into back/src/, a folder of
  // the test's own. Returns back.
  void DownloadTwoFileTree(std::string* back) {
    ASSERT_EQ(::mkdir(Home("src").c_str(), 0755), 0);
    WriteFile(Home("src/a.txt"), "a");
    WriteFile(Home("src/b.txt"), "bb");
    *back = local_ / "back";
    fs::create_directories(*back);
    const auto first = Alice({"get", "-r", "src", *back});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    ASSERT_EQ(ReadFile(*back + "/src/b.txt"), "bb");
  }

  // Starts `put local remote`, waits until the server's partial file holds more than 1 MiB but less than half of
  // `size`, and kills the client. Returns the partial file and its length once the server has let go of it.
  void InterruptUpload(const std::string& local, const std::string& remote, std::uint64_t size, std::string* partial,
                       std::uint64_t* partial_size) {
    auto client = StartClient({"put", local, remote});
    const PartialUpload seen = WaitForPartialUpload(PartialsDir(), kMiB, size / 2, client->pid(), 60s);
    *partial = seen.path;
    ASSERT_TRUE(seen.size > kMiB && seen.size < size / 2)
        << "the upload was not caught in flight (partial at " << seen.size << " bytes): " << client->stderr_so_far();
    client->Signal(SIGKILL);
    const auto killed = client->Wait(20s);
    EXPECT_EQ(killed.exit_code, -1) << "the client was not killed: " << killed.err;
    // The server reads what was already in flight, sees the connection end and unlocks the partial file.
    ASSERT_TRUE(WaitUntil([&] { return !IsLocked(*partial); }, 30s)) << "the server still holds " << *partial;
    *partial_size = FileSize(*partial);
    ASSERT_GT(*partial_size, 0u);
    ASSERT_LT(*partial_size, size);
    EXPECT_FALSE(Exists(Home(remote))) << "a half upload appeared in the home";
  }

  // Starts `get remote local`, waits until the local partial file ".NAME.ferry-part" holds more than 1 MiB but less
  // than half of `size`, and kills the client. Returns the partial file's path and length.
  void InterruptDownload(const std::string& remote, const std::string& local, std::uint64_t size, std::string* partial,
                         std::uint64_t* partial_size) {
    *partial = (fs::path(local).parent_path() / ("." + fs::path(local).filename().string() + ".ferry-part")).string();
    auto client = StartClient({"get", remote, local});
    std::uint64_t seen = 0;
    const bool stopped = WaitUntil(
        [&] {
          seen = FileSize(*partial);
          return (seen > kMiB && seen < size / 2) || HasExited(client->pid());
        },
        60s);
    ASSERT_TRUE(stopped && seen > kMiB && seen < size / 2)
        << "the download was not caught in flight (partial at " << seen << " bytes): " << client->stderr_so_far();
    client->Signal(SIGKILL);
    const auto killed = client->Wait(20s);
    EXPECT_EQ(killed.exit_code, -1) << "the client was not killed: " << killed.err;
    *partial_size = FileSize(*partial);
    ASSERT_GT(*partial_size, 0u);
    ASSERT_LT(*partial_size, size);
    EXPECT_FALSE(Exists(local)) << "a half download appeared under the target's name";
  }

  TestServer server_;
  TempDir local_;
};

// ---- round trips ----

TEST_F(TransferIntegration, RoundTripsOfAwkwardSizes) {
  ASSERT_TRUE(server_.started());
  for (std::uint64_t size : std::vector<std::uint64_t>{0, 1, 4095, 4096, 4097, kMiB + 1}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const std::string name = "file-" + std::to_string(size) + ".bin";
    const std::string original = local_ / name;
    ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, size, size + 17));
    const auto put = Alice({"put", original, name});
    ASSERT_EQ(put.exit_code, 0) << put.err;
    ExpectIdentical(original, Home(name));
    const std::string back = local_ / ("back-" + name);
    const auto get = Alice({"get", name, back});
    ASSERT_EQ(get.exit_code, 0) << get.err;
    ExpectIdentical(original, back);
    EXPECT_EQ(FileSize(back), size);
  }
  EXPECT_THAT(Names(PartialsDir()), ::testing::IsEmpty());
  EXPECT_THAT(Names(local_.path()), ::testing::Not(::testing::Contains(::testing::HasSubstr(".ferry-part"))));
}

TEST_F(TransferIntegration, RoundTripOf200MiB) {
  const std::uint64_t size = 200 * kMiB;
  const std::string original = local_ / "large.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, size, 200));
  const auto put = Alice({"put", original, "large.bin"}, 120s);
  ASSERT_EQ(put.exit_code, 0) << put.err;
  ExpectIdentical(original, Home("large.bin"));
  const auto get = Alice({"get", "large.bin", local_ / "large-back.bin"}, 120s);
  ASSERT_EQ(get.exit_code, 0) << get.err;
  ExpectIdentical(original, local_ / "large-back.bin");
}

TEST_F(TransferIntegration, ModeAndModificationTimeTravelBothWays) {
  const std::string up = local_ / "up.txt";
  WriteFile(up, "uploaded with its mode and time");
  ASSERT_EQ(::chmod(up.c_str(), 0640), 0);
  SetTimes(up, 1600000000, 123456789);
  const std::string script = local_ / "script.sh";
  WriteFile(script, "#!/bin/sh\n");
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  SetTimes(script, 1500000000, 0);
  ASSERT_EQ(Alice({"put", up}).exit_code, 0);
  ASSERT_EQ(Alice({"put", script}).exit_code, 0);

  struct stat remote = StatOf(Home("up.txt"));
  EXPECT_EQ(remote.st_mode & 07777, 0640u);
  EXPECT_EQ(remote.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(remote.st_mtim.tv_nsec, 123456789);
  remote = StatOf(Home("script.sh"));
  EXPECT_EQ(remote.st_mode & 07777, 0755u);
  EXPECT_EQ(remote.st_mtim.tv_sec, 1500000000);

  const std::string down = Home("down.txt");
  WriteFile(down, "downloaded with its mode and time");
  ASSERT_EQ(::chmod(down.c_str(), 0604), 0);
  SetTimes(down, 1400000000, 987654321);
  const auto get = Alice({"get", "down.txt", local_ / "down.txt"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  const struct stat local = StatOf(local_ / "down.txt");
  EXPECT_EQ(local.st_mode & 07777, 0604u);
  EXPECT_EQ(local.st_mtim.tv_sec, 1400000000);
  EXPECT_EQ(local.st_mtim.tv_nsec, 987654321);
}

TEST_F(TransferIntegration, SetuidBitsDoNotTravel) {
  const std::string file = local_ / "suid";
  WriteFile(file, "x");
  ASSERT_EQ(::chmod(file.c_str(), 04755), 0);
  ASSERT_EQ(Alice({"put", file}).exit_code, 0);
  EXPECT_EQ(StatOf(Home("suid")).st_mode & 07777, 0755u);
}

// ---- sum ----

TEST_F(TransferIntegration, SumPrintsWhatSha256sumAndMd5sumPrint) {
  const std::string original = local_ / "s.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, 100000, 5));
  SetTimes(original, 1600000000, 0);
  ASSERT_EQ(Alice({"mkdir", "sub"}).exit_code, 0);
  ASSERT_EQ(Alice({"put", original, "sub/s.bin"}).exit_code, 0);
  WriteFile(Home("other.txt"), "other");

  auto with_name = [](const std::string& line, const std::string& name) {
    return line.substr(0, line.find(' ')) + "  " + name + "\n";
  };
  const auto sha = Alice({"sum", "--algo", "sha256", "sub/s.bin"});
  EXPECT_EQ(sha.exit_code, 0) << sha.err;
  EXPECT_EQ(sha.out, with_name(DigestLine("/usr/bin/sha256sum", Home("sub/s.bin")), "sub/s.bin"));
  const auto md5 = Alice({"sum", "--algo", "md5", "sub/s.bin", "other.txt"});
  EXPECT_EQ(md5.exit_code, 0) << md5.err;
  EXPECT_EQ(md5.out, with_name(DigestLine("/usr/bin/md5sum", Home("sub/s.bin")), "sub/s.bin") +
                         with_name(DigestLine("/usr/bin/md5sum", Home("other.txt")), "other.txt"));
  // sha256sum's own check mode accepts the output, run beside the server's copies.
  const auto check = RunProcess({"/bin/sh", "-c", "cd \"$1\" && /usr/bin/sha256sum -c -", "sh", Home()}, {}, sha.out);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  const auto xxh3 = Alice({"sum", "sub/s.bin"});
  EXPECT_EQ(xxh3.exit_code, 0) << xxh3.err;
  EXPECT_THAT(xxh3.out, ::testing::MatchesRegex("[0-9a-f]{32}  sub/s\\.bin\n"));
  EXPECT_EQ(xxh3.out, Xxh3(ReadFile(original)) + "  sub/s.bin\n");
}

TEST_F(TransferIntegration, SumSeesAFileChangedOnTheServer) {
  const std::string original = local_ / "c.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, 5000, 6));
  SetTimes(original, 1600000000, 0);
  ASSERT_EQ(Alice({"put", original}).exit_code, 0);
  ASSERT_EQ(Alice({"sum", "c.bin"}).out, Xxh3(ReadFile(original)) + "  c.bin\n");
  // Same size, new content: the remembered digest must not be used.
  const std::string changed = RandomBytes(5000, 7);
  WriteFile(Home("c.bin"), changed);
  EXPECT_EQ(Alice({"sum", "c.bin"}).out, Xxh3(changed) + "  c.bin\n");
  const auto copy = Alice({"get", "c.bin", local_ / "c-back.bin"});
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  EXPECT_EQ(ReadFile(local_ / "c-back.bin"), changed);
}

TEST_F(TransferIntegration, SumOfAMissingFileFails) {
  const auto result = Alice({"sum", "nope.bin"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("nope.bin"), std::string::npos) << result.err;
}

// ---- where files land ----

TEST_F(TransferIntegration, PutIntoAnExistingRemoteFolder) {
  ASSERT_EQ(Alice({"mkdir", "dir"}).exit_code, 0);
  WriteFile(local_ / "a.txt", "aaa");
  WriteFile(local_ / "b.txt", "bbb");
  WriteFile(local_ / "c.txt", "ccc");
  const auto into = Alice({"put", local_ / "a.txt", "dir"});
  ASSERT_EQ(into.exit_code, 0) << into.err;
  EXPECT_EQ(ReadFile(Home("dir/a.txt")), "aaa");
  const auto slash = Alice({"put", local_ / "b.txt", "dir/"});
  ASSERT_EQ(slash.exit_code, 0) << slash.err;
  EXPECT_EQ(ReadFile(Home("dir/b.txt")), "bbb");
  const auto renamed = Alice({"put", local_ / "c.txt", "dir/renamed.txt"});
  ASSERT_EQ(renamed.exit_code, 0) << renamed.err;
  EXPECT_EQ(ReadFile(Home("dir/renamed.txt")), "ccc");
  const auto plain = Alice({"put", local_ / "c.txt"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(ReadFile(Home("c.txt")), "ccc");
  EXPECT_THAT(Names(Home("dir")), ::testing::ElementsAre("a.txt", "b.txt", "renamed.txt"));
}

TEST_F(TransferIntegration, GetIntoALocalFolder) {
  ASSERT_EQ(Alice({"mkdir", "dir"}).exit_code, 0);
  WriteFile(Home("dir/remote.txt"), "remote content");
  ASSERT_EQ(::mkdir((local_ / "into").c_str(), 0755), 0);
  const auto result = Alice({"get", "dir/remote.txt", local_ / "into"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(local_ / "into/remote.txt"), "remote content");
  EXPECT_THAT(Names(local_ / "into"), ::testing::ElementsAre("remote.txt"));
}

// A local write that fails in the middle of a download (a full disk: /dev/full) is reported, and the rest of the
// stream is read so that the session goes on: the next download on the same connection arrives intact.
TEST_F(TransferIntegration, ALocalWriteFailureMidDownloadLeavesTheSessionUsable) {
  const std::string data = RandomBytes(9 * 1024 * 1024, 31);
  WriteFile(Home("big.bin"), data);
  const std::string copy = local_ / "copy.bin";
  const auto result = server_.Client("alice", "alice-secret", {}, "-get big.bin /dev/full\nget big.bin " + copy + "\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, ::testing::HasSubstr("/dev/full"));
  EXPECT_TRUE(ReadFile(copy) == data);
}

TEST_F(TransferIntegration, PutReplacesAnExistingRemoteFileWithoutTruncatingIt) {
  WriteFile(Home("over.txt"), "the old content, longer than the new one");
  const int old_fd = ::open(Home("over.txt").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(old_fd, 0);
  WriteFile(local_ / "over.txt", "new");
  const auto result = Alice({"put", local_ / "over.txt"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(Home("over.txt")), "new");
  // Replaced by a rename: whoever had the old file open still reads all of the old content.
  char buffer[64] = {};
  const ssize_t n = ::pread(old_fd, buffer, sizeof buffer, 0);
  ::close(old_fd);
  EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(std::max<ssize_t>(n, 0))),
            "the old content, longer than the new one");
}

TEST_F(TransferIntegration, GetReplacesAnExistingLocalFile) {
  WriteFile(Home("r.txt"), "fresh");
  WriteFile(local_ / "r.txt", "stale and longer");
  const auto result = Alice({"get", "r.txt", local_ / "r.txt"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(local_ / "r.txt"), "fresh");
}

TEST_F(TransferIntegration, GetOfARemoteFolderNeedsRecursive) {
  ASSERT_EQ(Alice({"mkdir", "-p", "folder/inner"}).exit_code, 0);
  WriteFile(Home("folder/f.txt"), "f");
  const auto result = Alice({"get", "folder", local_ / "folder"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(LineCount(result.err), 1u) << result.err;
  EXPECT_NE(result.err.find("folder"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("-r"), std::string::npos) << result.err;
  EXPECT_FALSE(Exists(local_ / "folder"));
  // And the mirror image.
  ASSERT_EQ(::mkdir((local_ / "local-folder").c_str(), 0755), 0);
  const auto put = Alice({"put", local_ / "local-folder"});
  EXPECT_NE(put.exit_code, 0);
  EXPECT_NE(put.err.find("-r"), std::string::npos) << put.err;
  EXPECT_FALSE(Exists(Home("local-folder")));
}

TEST_F(TransferIntegration, PutNeverReplacesARemoteFolder) {
  // `put x dir` where dir/x is itself a folder: the server must refuse, not replace the folder.
  ASSERT_EQ(Alice({"mkdir", "-p", "dir/x"}).exit_code, 0);
  WriteFile(local_ / "x", "file named like the folder");
  const auto result = Alice({"put", local_ / "x", "dir"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(fs::is_directory(Home("dir/x")));
}

// ---- atomicity ----

TEST_F(TransferIntegration, AnUploadNeverShowsAPartialFileInTheHome) {
  const std::uint64_t size = 160 * kMiB;
  const std::string original = local_ / "big.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, size, 160));
  WriteFile(Home("existing.txt"), "already here");
  auto client = StartClient({"put", original, "big.bin"});
  std::uint64_t largest_partial = 0;
  int bad_sightings = 0;
  std::string first_bad;
  const bool finished = WaitUntil(
      [&] {
        for (const auto& name : Names(Home())) {
          const bool complete = name == "existing.txt" || (name == "big.bin" && FileSize(Home("big.bin")) == size);
          if (!complete && bad_sightings++ == 0)
            first_bad = name + " (" + std::to_string(FileSize(Home(name))) + " bytes)";
        }
        const std::string partial = OnlyFileIn(PartialsDir());
        if (!partial.empty()) largest_partial = std::max(largest_partial, FileSize(partial));
        return HasExited(client->pid());
      },
      90s);
  const auto result = client->Wait(30s);
  ASSERT_TRUE(finished) << "the upload did not finish";
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(bad_sightings, 0) << "the home showed " << first_bad;
  EXPECT_GT(largest_partial, 0u) << "the partial file was never seen in " << PartialsDir();
  EXPECT_LT(largest_partial, size + 1);
  ExpectIdentical(original, Home("big.bin"));
  EXPECT_THAT(Names(Home()), ::testing::ElementsAre("big.bin", "existing.txt"));
  EXPECT_THAT(Names(PartialsDir()), ::testing::IsEmpty());
}

// ---- resume ----

TEST_F(TransferIntegration, ResumesAnUploadAfterTheClientIsKilled) {
  const std::uint64_t size = 300 * kMiB;
  const std::string original = local_ / "big.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, size, 300));
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptUpload(original, "big.bin", size, &partial, &partial_size));

  const auto resumed = Alice({"put", "-c", original, "big.bin"}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(LineCount(resumed.err), 1u) << resumed.err;
  EXPECT_THAT(resumed.err, ::testing::StartsWith("uploaded big.bin: "));
  EXPECT_NE(resumed.err.find("resumed after " + MiBText(partial_size)), std::string::npos)
      << "partial was " << partial_size << " bytes: " << resumed.err;
  ExpectIdentical(original, Home("big.bin"));
  EXPECT_THAT(Names(PartialsDir()), ::testing::IsEmpty());
}

TEST_F(TransferIntegration, ResumesADownloadAfterTheClientIsKilled) {
  const std::uint64_t size = 300 * kMiB;
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("big.bin"), size, 301));
  const std::string target = local_ / "big.bin";
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptDownload("big.bin", target, size, &partial, &partial_size));
  EXPECT_EQ(partial, local_ / ".big.bin.ferry-part");

  const auto resumed = Alice({"get", "-c", "big.bin", target}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(LineCount(resumed.err), 1u) << resumed.err;
  EXPECT_THAT(resumed.err, ::testing::StartsWith("downloaded big.bin: "));
  EXPECT_NE(resumed.err.find("resumed after " + MiBText(partial_size)), std::string::npos)
      << "partial was " << partial_size << " bytes: " << resumed.err;
  ExpectIdentical(Home("big.bin"), target);
  EXPECT_FALSE(Exists(partial));
}

TEST_F(TransferIntegration, ResumesAnUploadAfterTheServerIsKilled) {
  const std::uint64_t size = 200 * kMiB;
  const std::string original = local_ / "big.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, size, 302));
  auto client = StartClient({"put", original, "big.bin"});
  const PartialUpload seen = WaitForPartialUpload(PartialsDir(), kMiB, size / 2, client->pid(), 60s);
  ASSERT_TRUE(seen.size > kMiB && seen.size < size / 2) << "upload not caught in flight at " << seen.size << " bytes";
  server_.Kill();
  // The client cannot reconnect to a dead server: it gives up with an error.
  const auto failed = client->Wait(60s);
  EXPECT_FALSE(failed.timed_out);
  EXPECT_NE(failed.exit_code, 0) << failed.err;
  EXPECT_FALSE(Exists(Home("big.bin")));
  const std::string partial = OnlyFileIn(PartialsDir());
  ASSERT_FALSE(partial.empty());
  const std::uint64_t partial_size = FileSize(partial);
  ASSERT_GT(partial_size, 0u);

  server_.Restart();
  ASSERT_TRUE(server_.started());
  const auto resumed = Alice({"put", "-c", original, "big.bin"}, 120s);  // the new port
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resumed after " + MiBText(partial_size)), std::string::npos)
      << "partial was " << partial_size << " bytes: " << resumed.err;
  ExpectIdentical(original, Home("big.bin"));
  EXPECT_THAT(Names(PartialsDir()), ::testing::IsEmpty());
}

TEST_F(TransferIntegration, ChangedSourceRestartsTheUploadFromZero) {
  const std::uint64_t size = 160 * kMiB;
  const std::string original = local_ / "big.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, size, 303));
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptUpload(original, "big.bin", size, &partial, &partial_size));
  Overwrite(original, 0, "CHANGED AT THE START");

  const auto resumed = Alice({"put", "-c", original, "big.bin"}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("source changed"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("starting again from zero"), std::string::npos) << resumed.err;
  EXPECT_EQ(resumed.err.find("resumed after"), std::string::npos) << resumed.err;
  ExpectIdentical(original, Home("big.bin"));
  EXPECT_EQ(ReadFile(Home("big.bin")).substr(0, 20), "CHANGED AT THE START");
}

TEST_F(TransferIntegration, ChangedSourceRestartsTheDownloadFromZero) {
  const std::uint64_t size = 160 * kMiB;
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("big.bin"), size, 304));
  const std::string target = local_ / "big.bin";
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptDownload("big.bin", target, size, &partial, &partial_size));
  Overwrite(Home("big.bin"), 0, "CHANGED AT THE START");

  const auto resumed = Alice({"get", "-c", "big.bin", target}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("source changed"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("starting again from zero"), std::string::npos) << resumed.err;
  EXPECT_EQ(resumed.err.find("resumed after"), std::string::npos) << resumed.err;
  ExpectIdentical(Home("big.bin"), target);
  EXPECT_FALSE(Exists(partial));
}

TEST_F(TransferIntegration, DamagedServerPartialIsNotAppendedTo) {
  const std::uint64_t size = 160 * kMiB;
  const std::string original = local_ / "big.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, size, 305));
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptUpload(original, "big.bin", size, &partial, &partial_size));
  FlipByte(partial, partial_size / 2);

  const auto resumed = Alice({"put", "-c", original, "big.bin"}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("starting again from zero"), std::string::npos) << resumed.err;
  EXPECT_EQ(resumed.err.find("resumed after"), std::string::npos) << resumed.err;
  ExpectIdentical(original, Home("big.bin"));
}

TEST_F(TransferIntegration, DamagedLocalPartialIsNotAppendedTo) {
  const std::uint64_t size = 160 * kMiB;
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("big.bin"), size, 306));
  const std::string target = local_ / "big.bin";
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptDownload("big.bin", target, size, &partial, &partial_size));
  FlipByte(partial, partial_size / 2);

  const auto resumed = Alice({"get", "-c", "big.bin", target}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("starting again from zero"), std::string::npos) << resumed.err;
  EXPECT_EQ(resumed.err.find("resumed after"), std::string::npos) << resumed.err;
  ExpectIdentical(Home("big.bin"), target);
}

// A partial cut short (a crash before the page cache reached the disk, or a disk that lost its tail) still starts
// with the right bytes: the resume goes on from where it now ends.
TEST_F(TransferIntegration, TruncatedServerPartialIsResumedFromWhereItEnds) {
  const std::uint64_t size = 96 * kMiB;
  const std::string original = local_ / "big.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, size, 307));
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptUpload(original, "big.bin", size, &partial, &partial_size));
  const std::uint64_t cut = partial_size / 2 + 1;  // not on a chunk boundary
  ASSERT_EQ(::truncate(partial.c_str(), static_cast<off_t>(cut)), 0);

  const auto resumed = Alice({"put", "-c", original, "big.bin"}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resumed after " + HumanBytes(static_cast<double>(cut))), std::string::npos)
      << cut << ": " << resumed.err;
  ExpectIdentical(original, Home("big.bin"));
}

TEST_F(TransferIntegration, TruncatedLocalPartialIsResumedFromWhereItEnds) {
  const std::uint64_t size = 96 * kMiB;
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("big.bin"), size, 308));
  const std::string target = local_ / "big.bin";
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptDownload("big.bin", target, size, &partial, &partial_size));
  const std::uint64_t cut = partial_size / 2 + 1;
  ASSERT_EQ(::truncate(partial.c_str(), static_cast<off_t>(cut)), 0);

  const auto resumed = Alice({"get", "-c", "big.bin", target}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resumed after " + HumanBytes(static_cast<double>(cut))), std::string::npos)
      << cut << ": " << resumed.err;
  ExpectIdentical(Home("big.bin"), target);
}

// Damage in the very last byte of a partial is caught like damage anywhere else.
TEST_F(TransferIntegration, ServerPartialDamagedInItsLastByteIsNotAppendedTo) {
  const std::uint64_t size = 96 * kMiB;
  const std::string original = local_ / "big.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, size, 309));
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptUpload(original, "big.bin", size, &partial, &partial_size));
  FlipByte(partial, partial_size - 1);

  const auto resumed = Alice({"put", "-c", original, "big.bin"}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("starting again from zero"), std::string::npos) << resumed.err;
  EXPECT_EQ(resumed.err.find("resumed after"), std::string::npos) << resumed.err;
  ExpectIdentical(original, Home("big.bin"));
}

// A partial longer than the source now is (the source was cut since) cannot be a prefix of it: start again. (The
// server sees that from the size the client declares and empties the partial itself, so the client has no warning to
// give; the local side below is checked by the client, which warns.)
TEST_F(TransferIntegration, ServerPartialLongerThanTheSourceRestartsFromZero) {
  const std::uint64_t size = 96 * kMiB;
  const std::string original = local_ / "big.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, size, 310));
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptUpload(original, "big.bin", size, &partial, &partial_size));
  ASSERT_EQ(::truncate(original.c_str(), static_cast<off_t>(partial_size / 2)), 0);

  const auto resumed = Alice({"put", "-c", original, "big.bin"}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(resumed.err.find("resumed after"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("the interrupted upload on the server (" + MiBText(partial_size) +
                             ") is longer than the file now; starting again from zero"),
            std::string::npos)
      << resumed.err;
  EXPECT_NE(resumed.err.find("uploaded big.bin: " + MiBText(partial_size / 2)), std::string::npos) << resumed.err;
  ExpectIdentical(original, Home("big.bin"));
  EXPECT_EQ(FileSize(Home("big.bin")), partial_size / 2);
}

TEST_F(TransferIntegration, LocalPartialLongerThanTheSourceRestartsFromZero) {
  const std::uint64_t size = 96 * kMiB;
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("big.bin"), size, 311));
  const std::string target = local_ / "big.bin";
  std::string partial;
  std::uint64_t partial_size = 0;
  ASSERT_NO_FATAL_FAILURE(InterruptDownload("big.bin", target, size, &partial, &partial_size));
  ASSERT_EQ(::truncate(Home("big.bin").c_str(), static_cast<off_t>(partial_size / 2)), 0);

  const auto resumed = Alice({"get", "-c", "big.bin", target}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("starting again from zero"), std::string::npos) << resumed.err;
  ExpectIdentical(Home("big.bin"), target);
  EXPECT_EQ(FileSize(target), partial_size / 2);
  EXPECT_FALSE(Exists(partial));
}

TEST_F(TransferIntegration, ResumeWithNothingToResumeIsAPlainTransfer) {
  WriteFile(local_ / "fresh.txt", "nothing was interrupted");
  const auto put = Alice({"put", "-c", local_ / "fresh.txt"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(ReadFile(Home("fresh.txt")), "nothing was interrupted");
  const auto get = Alice({"get", "-c", "fresh.txt", local_ / "fresh-back.txt"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(ReadFile(local_ / "fresh-back.txt"), "nothing was interrupted");
  EXPECT_EQ(put.err.find("resumed"), std::string::npos) << put.err;
  EXPECT_EQ(get.err.find("resumed"), std::string::npos) << get.err;
}

// ---- trees ----

TEST_F(TransferIntegration, TreeOfThousandsOfFilesRoundTrips) {
  const std::string tree = local_ / "tree";
  std::vector<std::string> files;
  std::mt19937 sizes(99);
  for (int top = 0; top < 10; ++top) {
    for (int sub = 0; sub < 10; ++sub) {
      const std::string folder = fmt::format("{}/d{}/s{}", tree, top, sub);
      fs::create_directories(folder);
      for (int i = 0; i < 30; ++i) {
        const std::string path = fmt::format("{}/f{}.dat", folder, i);
        const std::size_t size = i % 10 == 0 ? 0 : sizes() % 6000;
        WriteFile(path, RandomBytes(size, files.size()));
        files.push_back(path);
      }
    }
  }
  fs::create_directories(tree + "/empty");
  fs::create_directories(tree + "/d3/empty-inside");
  fs::create_directories(tree + "/deep/er/still");
  fs::create_directories(tree + "/big");
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(tree + "/big/three.bin", 3 * kMiB, 3));
  files.push_back(tree + "/big/three.bin");
  WriteFile(tree + "/top level.txt", "a name with a space");
  files.push_back(tree + "/top level.txt");
  for (std::size_t i = 0; i < files.size(); ++i) {
    SetTimes(files[i], 1500000000 + static_cast<std::int64_t>(i), static_cast<long>(i * 1000));
  }
  ASSERT_EQ(files.size(), 3002u);

  const auto put = Alice({"put", "-r", tree, "tree"}, 120s);
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(LineCount(put.err), 1u) << put.err;
  EXPECT_THAT(put.err, ::testing::StartsWith("uploaded 3002 of 3002 files, "));
  const auto remote_diff = RunProcess({"/usr/bin/diff", "-r", tree, Home("tree")});
  EXPECT_EQ(remote_diff.exit_code, 0) << remote_diff.out.substr(0, 2000) << remote_diff.err;
  // Again: its 116 folders are listed while the tree is scanned, more than are ever in flight at once; every file
  // is found unchanged and none is sent.
  const ino_t first_inode = StatOf(Home("tree/d0/s0/f1.dat")).st_ino;
  const auto repeat = Alice({"put", "-r", tree, "/"}, 120s);
  ASSERT_EQ(repeat.exit_code, 0) << repeat.err;
  EXPECT_NE(repeat.err.find("3002 of 3002 files were unchanged"), std::string::npos) << repeat.err;
  EXPECT_EQ(StatOf(Home("tree/d0/s0/f1.dat")).st_ino, first_inode);

  const std::string back = local_ / "back";
  const auto get = Alice({"get", "-r", "tree", back}, 120s);
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(LineCount(get.err), 1u) << get.err;
  EXPECT_THAT(get.err, ::testing::StartsWith("downloaded 3002 of 3002 files, "));
  const auto local_diff = RunProcess({"/usr/bin/diff", "-r", tree, back});
  EXPECT_EQ(local_diff.exit_code, 0) << local_diff.out.substr(0, 2000) << local_diff.err;

  int wrong_times = 0;
  for (const auto& file : files) {
    const std::string relative = fs::relative(file, tree).string();
    const struct stat original = StatOf(file);
    for (const std::string& copy : {Home("tree/" + relative), back + "/" + relative}) {
      const struct stat st = StatOf(copy);
      if (st.st_mtim.tv_sec != original.st_mtim.tv_sec || st.st_mtim.tv_nsec != original.st_mtim.tv_nsec) {
        if (wrong_times++ < 5) ADD_FAILURE() << copy << ": mtime " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
      }
    }
  }
  EXPECT_EQ(wrong_times, 0);
  EXPECT_THAT(Names(PartialsDir()), ::testing::IsEmpty());
}

TEST_F(TransferIntegration, PutRecursiveSkipsSymbolicLinksAndSaysSo) {
  // The links lead to a decoy file and a decoy folder of the test's own.
  const std::string decoy = local_ / "decoy";
  fs::create_directories(decoy + "/inside");
  WriteFile(decoy + "/file", "decoy");
  WriteFile(decoy + "/inside/deep", "decoy");
  const std::string tree = local_ / "links";
  fs::create_directories(tree + "/sub");
  WriteFile(tree + "/a.txt", "a");
  WriteFile(tree + "/sub/b.txt", "b");
  fs::create_symlink(decoy + "/file", tree + "/to-file");
  fs::create_symlink(decoy, tree + "/sub/to-folder");
  fs::create_symlink("nowhere", tree + "/dangling");

  const auto put = Alice({"put", "-r", tree, "links"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  for (const char* link : {"/to-file", "/sub/to-folder", "/dangling"}) {
    EXPECT_NE(put.err.find(tree + link + ": symbolic link skipped"), std::string::npos) << link << "\n" << put.err;
  }
  EXPECT_THAT(put.err, ::testing::HasSubstr("uploaded 2 of 2 files, "));
  EXPECT_EQ(ReadFile(Home("links/a.txt")), "a");
  EXPECT_EQ(ReadFile(Home("links/sub/b.txt")), "b");
  EXPECT_THAT(Names(Home("links")), ::testing::UnorderedElementsAre("a.txt", "sub"));
  EXPECT_THAT(Names(Home("links/sub")), ::testing::UnorderedElementsAre("b.txt"));
}

TEST_F(TransferIntegration, FolderModesAndTimesTravelWithRecursive) {
  const std::string tree = local_ / "ft";
  fs::create_directories(tree + "/inner");
  fs::create_directories(tree + "/empty");
  WriteFile(tree + "/inner/file.txt", "inside");
  ASSERT_EQ(::chmod((tree + "/inner").c_str(), 0750), 0);
  ASSERT_EQ(::chmod((tree + "/empty").c_str(), 0700), 0);
  SetTimes(tree + "/inner", 1400000000, 5);
  SetTimes(tree + "/empty", 1400000100, 0);
  SetTimes(tree, 1400000200, 0);
  ASSERT_EQ(Alice({"put", "-r", tree, "ft"}).exit_code, 0);
  ASSERT_EQ(Alice({"get", "-r", "ft", local_ / "ft-back"}).exit_code, 0);
  for (const std::string name : {"", "/inner", "/empty"}) {
    const struct stat original = StatOf(tree + name);
    for (const std::string& copy : {Home("ft") + name, local_ / "ft-back" + name}) {
      const struct stat st = StatOf(copy);
      EXPECT_EQ(st.st_mode & 07777, original.st_mode & 07777) << copy;
      EXPECT_EQ(st.st_mtim.tv_sec, original.st_mtim.tv_sec) << copy;
    }
  }
}

TEST_F(TransferIntegration, TreeWrittenOnTheServerDownloads) {
  // Files the server never hashed: no remembered checksum, so every get reads and hashes the file.
  fs::create_directories(Home("made/here/deep"));
  fs::create_directories(Home("made/empty"));
  for (int i = 0; i < 200; ++i) WriteFile(Home(fmt::format("made/here/f{}", i)), RandomBytes(i * 97, i));
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("made/here/deep/two.bin"), 2 * kMiB + 5, 2));
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("made/one.bin"), kMiB, 1));
  const auto get = Alice({"get", "-r", "made", local_ / "made"}, 120s);
  ASSERT_EQ(get.exit_code, 0) << get.err;
  const auto diff = RunProcess({"/usr/bin/diff", "-r", Home("made"), local_ / "made"});
  EXPECT_EQ(diff.exit_code, 0) << diff.out.substr(0, 2000) << diff.err;
}

TEST_F(TransferIntegration, TreesWithResumeOnAndNothingToResume) {
  const std::string tree = local_ / "rt";
  fs::create_directories(tree + "/a/b");
  for (int i = 0; i < 40; ++i) WriteFile(fmt::format("{}/a/f{}", tree, i), RandomBytes(i * 31, i));
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(tree + "/a/b/big.bin", 3 * kMiB, 4));
  const auto put = Alice({"put", "-r", "-c", tree, "rt"}, 120s);
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(RunProcess({"/usr/bin/diff", "-r", tree, Home("rt")}).exit_code, 0);
  const auto get = Alice({"get", "-r", "-c", "rt", local_ / "rt-back"}, 120s);
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(RunProcess({"/usr/bin/diff", "-r", tree, local_ / "rt-back"}).exit_code, 0);
}

TEST_F(TransferIntegration, OtherAlgorithmsRoundTrip) {
  const std::string original = local_ / "algo.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, 3 * kMiB + 7, 9));
  const auto put = Alice({"put", "--algo", "sha256", original});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  ExpectIdentical(original, Home("algo.bin"));
  const auto get = Alice({"get", "--algo=md5", "algo.bin", local_ / "algo-back.bin"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  ExpectIdentical(original, local_ / "algo-back.bin");
  const auto bad = Alice({"put", "--algo", "crc32", original});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("crc32"), std::string::npos) << bad.err;
}

TEST_F(TransferIntegration, GetIntoAFifoWritesStraightIntoIt) {
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("piped.bin"), 3 * kMiB + 1, 12));
  const std::string fifo = local_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The reader writes to a file, not to a pipe of ours that nobody drains while the client runs.
  Subprocess reader({"/bin/sh", "-c", "exec /bin/cat \"$1\" > \"$2\"", "sh", fifo, local_ / "from-fifo"});
  reader.CloseStdin();
  const auto get = Alice({"get", "piped.bin", fifo});
  const auto read = reader.Wait(30s);
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(read.exit_code, 0) << read.err;
  EXPECT_TRUE(SameBytes(Home("piped.bin"), local_ / "from-fifo"));
  struct stat st = StatOf(fifo);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  EXPECT_FALSE(Exists(local_ / ".fifo.ferry-part"));
}

// A symlink as the local target is written through, as cp and curl -o do: the link stays, its target gets the file,
// and the partial is made beside the target. (Each link points at a decoy of the test's own folder.)
TEST_F(TransferIntegration, GetThroughASymlinkWritesItsTargetAndKeepsTheLink) {
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("linked.bin"), 2 * kMiB + 5, 21));
  fs::create_directories(local_ / "real");
  WriteFile(local_ / "real/old.bin", "old content");
  fs::create_symlink("real/old.bin", local_ / "to-old");
  const auto over = Alice({"get", "linked.bin", local_ / "to-old"});
  ASSERT_EQ(over.exit_code, 0) << over.err;
  EXPECT_TRUE(fs::is_symlink(local_ / "to-old")) << "the link was replaced";
  EXPECT_EQ(fs::read_symlink(local_ / "to-old"), "real/old.bin");
  EXPECT_TRUE(SameBytes(Home("linked.bin"), local_ / "real/old.bin"));
  EXPECT_EQ(Names(local_ / "real"), std::vector<std::string>{"old.bin"});

  // A chain of links to a name that does not exist yet: the file is made at the end of the chain.
  fs::create_symlink("real/new.bin", local_ / "second");
  fs::create_symlink(local_ / "second", local_ / "first");
  const auto fresh = Alice({"get", "linked.bin", local_ / "first"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_TRUE(fs::is_symlink(local_ / "first"));
  EXPECT_TRUE(fs::is_symlink(local_ / "second"));
  EXPECT_TRUE(SameBytes(Home("linked.bin"), local_ / "real/new.bin"));

  // Resume goes through the link too: the partial is looked for beside the target.
  const auto resumed = Alice({"get", "-c", "linked.bin", local_ / "to-old"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(fs::is_symlink(local_ / "to-old"));
  EXPECT_TRUE(SameBytes(Home("linked.bin"), local_ / "real/old.bin"));

  // A loop of links is an error that changes nothing.
  fs::create_symlink("loop-b", local_ / "loop-a");
  fs::create_symlink("loop-a", local_ / "loop-b");
  const auto loop = Alice({"get", "linked.bin", local_ / "loop-a"});
  EXPECT_NE(loop.exit_code, 0);
  EXPECT_NE(loop.err.find("symbolic links"), std::string::npos) << loop.err;
  EXPECT_TRUE(fs::is_symlink(local_ / "loop-a"));
  EXPECT_TRUE(fs::is_symlink(local_ / "loop-b"));
}

TEST_F(TransferIntegration, GetToDashOrThroughALinkToStdoutPrintsTheFile) {
  const std::string data = RandomBytes(700 * 1024 + 3, 22);
  WriteFile(Home("printed.bin"), data);
  const auto dash = Alice({"get", "printed.bin", "-"});
  ASSERT_EQ(dash.exit_code, 0) << dash.err;
  EXPECT_TRUE(dash.out == data) << "stdout held " << dash.out.size() << " bytes";
  EXPECT_THAT(dash.err, ::testing::StartsWith("downloaded printed.bin: "));

  // /dev/stdout is a link to /proc/self/fd/1: a decoy link of the test's own to the same place stands in for it, so
  // a client that replaced the link could only replace the decoy.
  fs::create_symlink("/proc/self/fd/1", local_ / "stdout-link");
  const auto linked = Alice({"get", "-q", "printed.bin", local_ / "stdout-link"});
  ASSERT_EQ(linked.exit_code, 0) << linked.err;
  EXPECT_TRUE(linked.out == data) << "stdout held " << linked.out.size() << " bytes";
  EXPECT_TRUE(fs::is_symlink(local_ / "stdout-link")) << "the link was replaced";
  EXPECT_EQ(fs::read_symlink(local_ / "stdout-link"), "/proc/self/fd/1");
  EXPECT_EQ(Names(local_.path()), std::vector<std::string>{"stdout-link"});

  const auto resumed = Alice({"get", "-c", "printed.bin", "-"});
  EXPECT_NE(resumed.exit_code, 0);
  EXPECT_NE(resumed.err.find("cannot resume into -"), std::string::npos) << resumed.err;
}

TEST_F(TransferIntegration, GetIntoATreeWritesThroughLinksInIt) {
  fs::create_directories(Home("tree"));
  WriteFile(Home("tree/a.txt"), "new a");
  WriteFile(Home("tree/b.txt"), "new b");
  fs::create_directories(local_ / "dest/tree");
  fs::create_directories(local_ / "elsewhere");
  WriteFile(local_ / "elsewhere/a-target.txt", "old a");
  SetMtime(local_ / "elsewhere/a-target.txt", 1600000000);  // a stale copy (same size: its time tells it apart)
  fs::create_symlink(local_ / "elsewhere/a-target.txt", local_ / "dest/tree/a.txt");
  const auto get = Alice({"get", "-r", "tree", local_ / "dest"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_TRUE(fs::is_symlink(local_ / "dest/tree/a.txt"));
  EXPECT_EQ(ReadFile(local_ / "elsewhere/a-target.txt"), "new a");
  EXPECT_EQ(ReadFile(local_ / "dest/tree/b.txt"), "new b");
}

TEST_F(TransferIntegration, PutContinueSkipsAFileAlreadyCompleteOnTheServer) {
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(local_ / "done.bin", 3 * kMiB + 7, 31));
  ASSERT_EQ(Alice({"put", local_ / "done.bin"}).exit_code, 0);
  const ino_t first = StatOf(Home("done.bin")).st_ino;
  const auto again = Alice({"put", "-c", local_ / "done.bin"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("already complete on the server (same checksum); nothing was sent"), std::string::npos)
      << again.err;
  EXPECT_EQ(StatOf(Home("done.bin")).st_ino, first) << "the file was sent again";
  // The same size with other bytes is not complete: sent.
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(local_ / "done.bin", 3 * kMiB + 7, 32));
  const auto changed = Alice({"put", "-c", local_ / "done.bin"});
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_EQ(changed.err.find("already complete"), std::string::npos) << changed.err;
  EXPECT_TRUE(SameBytes(local_ / "done.bin", Home("done.bin")));

  // A tree: the files already there are counted, not sent.
  fs::create_directories(local_ / "up");
  WriteFile(local_ / "up/one.txt", "one");
  WriteFile(local_ / "up/two.txt", "two");
  ASSERT_EQ(Alice({"put", "-r", local_ / "up"}).exit_code, 0);
  WriteFile(local_ / "up/three.txt", "three");
  const auto tree = Alice({"put", "-r", "-c", local_ / "up"});
  ASSERT_EQ(tree.exit_code, 0) << tree.err;
  EXPECT_NE(tree.err.find("2 of 3 files were already complete on the server"), std::string::npos) << tree.err;
  EXPECT_EQ(ReadFile(Home("up/three.txt")), "three");
}

TEST_F(TransferIntegration, GetRecursiveContinueGoesOnInTheFolderAnInterruptedGetMade) {
  fs::create_directories(Home("tree/sub"));
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("tree/a.bin"), kMiB, 41));
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("tree/b.bin"), 2 * kMiB + 3, 42));
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(Home("tree/sub/c.bin"), 5000, 43));
  const std::string dest = local_ / "dest";
  ASSERT_EQ(Alice({"get", "-r", "tree", dest}).exit_code, 0);  // dest did not exist: dest is the copy
  ASSERT_TRUE(SameBytes(Home("tree/b.bin"), dest + "/b.bin"));
  // What an interruption leaves: a.bin done, b.bin half written to its partial, sub/c.bin not begun.
  const std::string b = ReadFile(dest + "/b.bin");
  fs::remove(dest + "/b.bin");
  WriteFile(dest + "/.b.bin.ferry-part", b.substr(0, kMiB));
  fs::remove(dest + "/sub/c.bin");
  const ino_t a_before = StatOf(dest + "/a.bin").st_ino;

  const auto resumed = Alice({"get", "-r", "-c", "tree", dest});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_FALSE(Exists(dest + "/tree")) << "the download started over inside the destination";
  EXPECT_TRUE(SameBytes(Home("tree/a.bin"), dest + "/a.bin"));
  EXPECT_TRUE(SameBytes(Home("tree/b.bin"), dest + "/b.bin"));
  EXPECT_TRUE(SameBytes(Home("tree/sub/c.bin"), dest + "/sub/c.bin"));
  EXPECT_FALSE(Exists(dest + "/.b.bin.ferry-part"));
  EXPECT_EQ(StatOf(dest + "/a.bin").st_ino, a_before) << "a complete file was downloaded again";
  EXPECT_EQ(resumed.err.find("starting again"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("1 of 3 files were already complete"), std::string::npos) << resumed.err;

  // A folder that holds anything else is not such a copy: the tree goes into it, as cp -r and sftp do.
  const std::string other = local_ / "other";
  fs::create_directories(other);
  WriteFile(other + "/mine.txt", "mine");
  ASSERT_EQ(Alice({"get", "-r", "-c", "tree", other}).exit_code, 0);
  EXPECT_TRUE(SameBytes(Home("tree/a.bin"), other + "/tree/a.bin"));
  EXPECT_FALSE(Exists(other + "/a.bin"));
}

TEST_F(TransferIntegration, SeveralSourcesGoIntoAFolderAndSftpsAliasesWork) {
  WriteFile(local_ / "one.txt", "one");
  WriteFile(local_ / "two.txt", "two");
  ASSERT_EQ(::mkdir(Home("in").c_str(), 0755), 0);
  const auto put = Alice({"put", local_ / "one.txt", local_ / "two.txt", "in"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(ReadFile(Home("in/one.txt")), "one");
  EXPECT_EQ(ReadFile(Home("in/two.txt")), "two");
  fs::create_directories(local_ / "back");
  const auto get = Alice({"get", "in/one.txt", "in/two.txt", local_ / "back"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(ReadFile(local_ / "back/one.txt"), "one");
  EXPECT_EQ(ReadFile(local_ / "back/two.txt"), "two");
  // Into something that is not a folder: refused before anything moves.
  const auto not_folder = Alice({"get", "in/one.txt", "in/two.txt", local_ / "back/one.txt"});
  EXPECT_NE(not_folder.exit_code, 0);
  EXPECT_NE(not_folder.err.find("not a folder"), std::string::npos) << not_folder.err;
  // A missing source is reported; the others still go, and the command fails.
  fs::create_directories(local_ / "partly");
  const auto partly = Alice({"get", "in/one.txt", "in/missing.txt", "in/two.txt", local_ / "partly"});
  EXPECT_NE(partly.exit_code, 0);
  EXPECT_NE(partly.err.find("missing.txt"), std::string::npos) << partly.err;
  EXPECT_NE(partly.err.find("1 of 3 could not be downloaded"), std::string::npos) << partly.err;
  EXPECT_EQ(ReadFile(local_ / "partly/two.txt"), "two");
  // mput and mget, in the current folders (batch lines run in order: lcd, then mget).
  fs::create_directories(local_ / "m");
  const auto mget = server_.Client("alice", "alice-secret", {"-b", "-"},
                                   "lcd " + (local_ / "m") + "\ncd in\nmget one.txt two.txt\n");
  ASSERT_EQ(mget.exit_code, 0) << mget.err;
  EXPECT_EQ(ReadFile(local_ / "m/one.txt"), "one");
  EXPECT_EQ(ReadFile(local_ / "m/two.txt"), "two");
  const auto mput =
      server_.Client("alice", "alice-secret", {"-b", "-"}, "lcd " + local_.path() + "\nmput one.txt two.txt\n");
  ASSERT_EQ(mput.exit_code, 0) << mput.err;
  EXPECT_EQ(ReadFile(Home("one.txt")), "one");
  EXPECT_EQ(ReadFile(Home("two.txt")), "two");
  // reput and reget are put -c and get -c: a complete file is not sent again.
  const ino_t before = StatOf(Home("one.txt")).st_ino;
  const auto reput = Alice({"reput", local_ / "one.txt", "one.txt"});
  ASSERT_EQ(reput.exit_code, 0) << reput.err;
  EXPECT_NE(reput.err.find("already complete"), std::string::npos) << reput.err;
  EXPECT_EQ(StatOf(Home("one.txt")).st_ino, before);
  const auto reget = Alice({"reget", "two.txt", local_ / "m/two.txt"});
  EXPECT_EQ(reget.exit_code, 0) << reget.err;
}

TEST_F(TransferIntegration, RemotePatternsAreMatchedByTheServerAndLocalOnesByTheClient) {
  for (const char* folder : {"photos", "photos/2023-12", "photos/2024-01", "photos/2024-02", "up"}) {
    ASSERT_EQ(::mkdir(Home(folder).c_str(), 0755), 0);
  }
  WriteFile(Home("photos/2023-12/c.jpg"), "c");
  WriteFile(Home("photos/2024-01/a.jpg"), "a");
  WriteFile(Home("photos/2024-02/b.jpg"), "b");
  WriteFile(Home("notes1.txt"), "n1");
  WriteFile(Home("notes2.txt"), "n2");
  WriteFile(Home(".hidden.txt"), "h");
  WriteFile(Home("star*.dat"), "literal");
  WriteFile(Home("starX.dat"), "x");

  // One pattern for several files: into the folder named last; a leading dot is not matched by *.
  fs::create_directories(local_ / "g");
  const auto get = Alice({"get", "*.txt", local_ / "g"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(ReadFile(local_ / "g/notes1.txt"), "n1");
  EXPECT_EQ(ReadFile(local_ / "g/notes2.txt"), "n2");
  EXPECT_FALSE(Exists(local_ / "g/.hidden.txt"));
  // Trees, and patterns in a folder's part of the path.
  fs::create_directories(local_ / "t");
  const auto tree = Alice({"get", "-r", "photos/2024-*", local_ / "t"});
  ASSERT_EQ(tree.exit_code, 0) << tree.err;
  EXPECT_EQ(ReadFile(local_ / "t/2024-01/a.jpg"), "a");
  EXPECT_EQ(ReadFile(local_ / "t/2024-02/b.jpg"), "b");
  EXPECT_FALSE(Exists(local_ / "t/2023-12"));
  const auto middle = Alice({"get", "/photos/*/b.jpg", local_ / "b.jpg"});
  ASSERT_EQ(middle.exit_code, 0) << middle.err;
  EXPECT_EQ(ReadFile(local_ / "b.jpg"), "b");
  // A backslash makes a glob character plain; a pattern that matches nothing stands for itself, as in a shell.
  const auto literal = Alice({"get", "star\\*.dat", local_ / "star.out"});
  ASSERT_EQ(literal.exit_code, 0) << literal.err;
  EXPECT_EQ(ReadFile(local_ / "star.out"), "literal");
  const auto none = Alice({"get", "nothing*.bin", local_ / "none.out"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("nothing*.bin"), std::string::npos) << none.err;
  EXPECT_FALSE(Exists(local_ / "none.out"));

  // ls, stat, sum and rm take patterns too.
  // A pattern inside a link to a folder is matched in the folder it leads to.
  fs::create_directory_symlink("photos/2024-01", Home("latest"));
  const auto through_link = Alice({"ls", "latest/*.jpg"});
  ASSERT_EQ(through_link.exit_code, 0) << through_link.err;
  EXPECT_EQ(through_link.out, "latest/a.jpg\n");

  const auto listed = Alice({"ls", "star*"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out, "star*.dat\nstarX.dat\n");
  const auto sums = Alice({"sum", "notes?.txt"});
  ASSERT_EQ(sums.exit_code, 0) << sums.err;
  EXPECT_NE(sums.out.find("  notes1.txt\n"), std::string::npos) << sums.out;
  EXPECT_NE(sums.out.find("  notes2.txt\n"), std::string::npos) << sums.out;
  const auto removed = Alice({"rm", "notes[12].txt"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_FALSE(Exists(Home("notes1.txt")));
  EXPECT_FALSE(Exists(Home("notes2.txt")));
  EXPECT_TRUE(Exists(Home(".hidden.txt")));

  // Local patterns and ~ (the client's HOME) in the shell's own lines.
  WriteFile(local_ / "one.log", "1");
  WriteFile(local_ / "two.log", "2");
  WriteFile(local_ / "keep.txt", "k");
  const auto put = server_.Client("alice", "alice-secret", {"-b", "-"},
                                  "lcd " + local_.path() + "\nput *.log up\nget up/one.log ~/one.copy\n");
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(ReadFile(Home("up/one.log")), "1");
  EXPECT_EQ(ReadFile(Home("up/two.log")), "2");
  EXPECT_FALSE(Exists(Home("up/keep.txt")));
  EXPECT_EQ(ReadFile(server_.client_home() + "/one.copy"), "1");
}

TEST_F(TransferIntegration, PutRecursiveSynchronisesATreeAndDeletesOnlyWhatItIsAsked) {
  const std::string src = local_ / "src";
  fs::create_directories(src + "/sub");
  WriteFile(src + "/a.txt", "aaaa");
  WriteFile(src + "/b.txt", "bb");
  WriteFile(src + "/sub/c.txt", "c");
  const auto first = Alice({"put", "-r", src, "/"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.err.find("unchanged"), std::string::npos) << first.err;
  const ino_t a_inode = StatOf(Home("src/a.txt")).st_ino;

  // Nothing changed: nothing is sent (an upload would publish a new file under the name).
  const auto again = Alice({"put", "-r", src, "/"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("3 of 3 files were unchanged (same size and modification time) and were not sent"),
            std::string::npos) << again.err;
  EXPECT_EQ(StatOf(Home("src/a.txt")).st_ino, a_inode);
  // Folders carry the local folders' modes and times, however little a sync changed in them.
  const auto same_folders = [&] {
    for (const char* folder : {"", "/sub"}) {
      const struct stat local = StatOf(src + folder);
      const struct stat remote = StatOf(Home(std::string("src") + folder));
      EXPECT_EQ(remote.st_mode & 07777, local.st_mode & 07777) << folder;
      EXPECT_EQ(remote.st_mtim.tv_sec, local.st_mtim.tv_sec) << folder;
      EXPECT_EQ(remote.st_mtim.tv_nsec, local.st_mtim.tv_nsec) << folder;
    }
  };
  same_folders();
  ASSERT_EQ(::chmod((src + "/sub").c_str(), 0700), 0);  // only a folder's mode changes: it is set again
  ASSERT_EQ(Alice({"put", "-r", src, "/"}).exit_code, 0);
  same_folders();

  // a.txt changes but keeps its size and time (only --checksum sees it); b.txt grows; d.txt is new; sub/c.txt goes;
  // the server has a file the tree never had.
  const std::int64_t a_mtime = StatOf(src + "/a.txt").st_mtim.tv_sec;
  WriteFile(src + "/a.txt", "AAAA");
  SetMtime(src + "/a.txt", a_mtime);
  WriteFile(src + "/b.txt", "bbbbbb");
  WriteFile(src + "/d.txt", "d");
  fs::remove(src + "/sub/c.txt");
  WriteFile(Home("src/extra.txt"), "only on the server");

  const auto dry = Alice({"put", "-r", "-n", "--delete", src, "/"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would upload /src/b.txt\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would upload /src/d.txt\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would delete /src/extra.txt\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would delete /src/sub/c.txt\n"), std::string::npos) << dry.out;
  EXPECT_EQ(dry.out.find("/src/a.txt"), std::string::npos) << dry.out;
  EXPECT_NE(dry.err.find("nothing was changed"), std::string::npos) << dry.err;
  EXPECT_EQ(ReadFile(Home("src/b.txt")), "bb");
  EXPECT_FALSE(Exists(Home("src/d.txt")));
  EXPECT_TRUE(Exists(Home("src/extra.txt")));
  EXPECT_TRUE(Exists(Home("src/sub/c.txt")));

  // Without --delete nothing is removed.
  const auto sync = Alice({"put", "-r", src, "/"});
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_EQ(ReadFile(Home("src/b.txt")), "bbbbbb");
  EXPECT_EQ(ReadFile(Home("src/d.txt")), "d");
  EXPECT_EQ(ReadFile(Home("src/a.txt")), "aaaa");
  EXPECT_TRUE(Exists(Home("src/extra.txt")));
  EXPECT_TRUE(Exists(Home("src/sub/c.txt")));
  same_folders();

  const auto deleting = Alice({"put", "-r", "--checksum", "--delete", src, "/"});
  ASSERT_EQ(deleting.exit_code, 0) << deleting.err;
  EXPECT_EQ(ReadFile(Home("src/a.txt")), "AAAA");
  EXPECT_FALSE(Exists(Home("src/extra.txt")));
  EXPECT_FALSE(Exists(Home("src/sub/c.txt")));
  EXPECT_TRUE(Exists(Home("src/sub")));
  EXPECT_NE(deleting.err.find("2 removed from the server (--delete)"), std::string::npos) << deleting.err;
  same_folders();

  const auto not_a_tree = Alice({"put", "--delete", src + "/a.txt", "/"});
  EXPECT_NE(not_a_tree.exit_code, 0);
  EXPECT_NE(not_a_tree.err.find("use -r"), std::string::npos) << not_a_tree.err;
}

TEST_F(TransferIntegration, GetRecursiveSynchronisesATreeAndDeleteRemovesLinksNotWhatTheyLeadTo) {
  std::string back;
  ASSERT_NO_FATAL_FAILURE(DownloadTwoFileTree(&back));
  const ino_t a_inode = StatOf(back + "/src/a.txt").st_ino;

  const auto again = Alice({"get", "-r", "src", back});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("2 of 2 files were unchanged (same size and modification time) and were kept"),
            std::string::npos) << again.err;
  EXPECT_EQ(StatOf(back + "/src/a.txt").st_ino, a_inode);

  // The server's b.txt changes; the local copy has a file and a link to a folder of the test's own that the server
  // does not.
  WriteFile(Home("src/b.txt"), "bbbb");
  WriteFile(back + "/src/old.txt", "old");
  const std::string decoy = local_ / "decoy";
  fs::create_directories(decoy);
  WriteFile(decoy + "/keep.txt", "keep");
  fs::create_directory_symlink(decoy, back + "/src/link");

  const auto dry = Alice({"get", "-r", "--dry-run", "--delete", "src", back});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would download src/b.txt\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would delete " + back + "/src/old.txt\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would delete " + back + "/src/link\n"), std::string::npos) << dry.out;
  EXPECT_EQ(ReadFile(back + "/src/b.txt"), "bb");
  EXPECT_TRUE(Exists(back + "/src/old.txt"));

  // Below the top, a link to a folder the server also has: nothing behind it is removed.
  ASSERT_EQ(::mkdir(Home("src/linked").c_str(), 0755), 0);
  WriteFile(Home("src/linked/server.txt"), "s");
  const std::string decoy2 = local_ / "decoy2";
  fs::create_directories(decoy2);
  WriteFile(decoy2 + "/precious.txt", "precious");
  fs::create_directory_symlink(decoy2, back + "/src/linked");

  const auto sync = Alice({"get", "-r", "--delete", "src", back});
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_EQ(ReadFile(decoy2 + "/precious.txt"), "precious");
  EXPECT_NE(sync.err.find("nothing is removed behind it"), std::string::npos) << sync.err;
  EXPECT_EQ(ReadFile(back + "/src/b.txt"), "bbbb");
  EXPECT_EQ(StatOf(back + "/src/a.txt").st_ino, a_inode);
  EXPECT_FALSE(Exists(back + "/src/old.txt"));
  EXPECT_FALSE(fs::is_symlink(back + "/src/link"));
  EXPECT_EQ(ReadFile(decoy + "/keep.txt"), "keep");

  // A source with no name of its own cannot go into a folder: "src/.." joined to back would be back's parent.
  WriteFile(local_ / "beside-back.txt", "stays");
  for (const char* nameless : {"..", ".", "src/..", "/"}) {
    const auto refused = Alice({"get", "-r", "--delete", nameless, back});
    EXPECT_NE(refused.exit_code, 0) << nameless;
    EXPECT_NE(refused.err.find("has no name of its own"), std::string::npos) << nameless << ": " << refused.err;
  }
  EXPECT_EQ(ReadFile(local_ / "beside-back.txt"), "stays");
  const auto put_nameless = Alice({"put", "-r", "--delete", local_ / "back/..", "/"});
  EXPECT_NE(put_nameless.exit_code, 0);
  EXPECT_NE(put_nameless.err.find("has no name of its own"), std::string::npos) << put_nameless.err;
}

// A folder get -r makes holds nothing, so its files are not looked for locally; a destination such as new/.. has a
// part made by the get and still names a folder that was there, whose files are compared and whose links are
// followed as anywhere else.
TEST_F(TransferIntegration, GetRecursiveThroughANewFolderAndUpTreatsTheFolderAsTheOneThatWasThere) {
  std::string back;
  ASSERT_NO_FATAL_FAILURE(DownloadTwoFileTree(&back));
  const ino_t a_inode = StatOf(back + "/src/a.txt").st_ino;
  // The server gains c.txt; locally its name is a link to a file of the test's own, which the download writes.
  WriteFile(Home("src/c.txt"), "ccc");
  const std::string decoy = local_ / "decoy.txt";
  WriteFile(decoy, "older");  // another size: not taken for the same file
  fs::create_symlink(decoy, back + "/src/c.txt");

  const auto again = Alice({"get", "-r", "src", back + "/src/new/.."});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("2 of 3 files were unchanged (same size and modification time) and were kept"),
            std::string::npos) << again.err;
  EXPECT_EQ(StatOf(back + "/src/a.txt").st_ino, a_inode);
  EXPECT_TRUE(fs::is_symlink(back + "/src/c.txt"));
  EXPECT_EQ(ReadFile(decoy), "ccc");
}

// A rate limit is what it promises only if the transfer takes at least the time its bytes need at that rate: a
// lower bound, which a slow machine cannot break.
TEST_F(TransferIntegration, LimitRateKeepsTransfersUnderTheRate) {
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(local_ / "r.bin", kMiB, 41));
  auto start = std::chrono::steady_clock::now();
  const auto put = Alice({"put", "--limit-rate", "512K", local_ / "r.bin"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_TRUE(SameBytes(local_ / "r.bin", Home("r.bin")));

  start = std::chrono::steady_clock::now();
  const auto get = server_.ClientWithFlags({"--limit-rate=1M"}, "alice", "alice-secret",
                                           {"get", "r.bin", local_ / "back.bin"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(750));
  EXPECT_TRUE(SameBytes(local_ / "r.bin", local_ / "back.bin"));

  EXPECT_EQ(Alice({"put", "--limit-rate", "fast", local_ / "r.bin"}).exit_code, 2);
  EXPECT_EQ(server_.ClientWithFlags({"--limit-rate", "0"}, "alice", "alice-secret", {"pwd"}).exit_code, 2);
}

// ---- what the client prints ----

TEST_F(TransferIntegration, QuietPutPrintsNothingAndOtherwiseOneSummaryLine) {
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(local_ / "one.bin", 2 * kMiB, 1));
  const auto quiet = Alice({"put", "-q", local_ / "one.bin"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(quiet.out, "");

  const auto loud = Alice({"put", local_ / "one.bin"});
  EXPECT_EQ(loud.exit_code, 0) << loud.err;
  EXPECT_EQ(LineCount(loud.err), 1u) << loud.err;
  EXPECT_THAT(loud.err, ::testing::MatchesRegex("uploaded one\\.bin: 2\\.0 MiB in [0-9.]+ s \\(.*/s\\)\n"));
  EXPECT_EQ(loud.out, "");

  const auto get = Alice({"get", "one.bin", local_ / "one-back.bin"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(LineCount(get.err), 1u) << get.err;
  EXPECT_THAT(get.err, ::testing::StartsWith("downloaded one.bin: 2.0 MiB in "));
  const auto quiet_get = Alice({"get", "-q", "one.bin", local_ / "one-quiet.bin"});
  EXPECT_EQ(quiet_get.exit_code, 0);
  EXPECT_EQ(quiet_get.err, "");
  // `ferry -q` silences every transfer of the run.
  const auto global = server_.ClientWithFlags({"-q"}, "alice", "alice-secret", {"put", local_ / "one.bin", "two.bin"});
  EXPECT_EQ(global.exit_code, 0) << global.err;
  EXPECT_EQ(global.err, "");
  EXPECT_TRUE(SameBytes(local_ / "one.bin", Home("two.bin")));
}

// ---- over TLS ----

class TlsTransferIntegration : public ::testing::Test {
 protected:
  TestServer server_{WithTls()};
  TempDir local_;
};

TEST_F(TlsTransferIntegration, RoundTripOverTls) {
  ASSERT_TRUE(server_.started());
  const std::string original = local_ / "secret.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(original, 20 * kMiB + 3, 443));
  const auto put = server_.Client("alice", "alice-secret", {"put", original}, "", 120s);
  ASSERT_EQ(put.exit_code, 0) << put.err;
  ExpectIdentical(original, server_.home("alice") + "/secret.bin");
  const auto get = server_.Client("alice", "alice-secret", {"get", "secret.bin", local_ / "back.bin"}, "", 120s);
  ASSERT_EQ(get.exit_code, 0) << get.err;
  ExpectIdentical(original, local_ / "back.bin");
  const auto sum = server_.Client("alice", "alice-secret", {"sum", "--algo", "sha256", "secret.bin"});
  EXPECT_EQ(sum.out, Sha256(original) + "  secret.bin\n");
}

// Over TLS, the small files of a get -r go out many to a write; sizes around the 1 MiB chunk and empty files arrive
// whole. Downloading the same tree again leaves the server's files untouched: the checksum the first download
// remembered (an extended attribute) is not written again, which would change each file's ctime.
TEST_F(TlsTransferIntegration, TreeOfSmallAndChunkSizedFilesAndARepeatChangesNothingOnTheServer) {
  ASSERT_TRUE(server_.started());
  const std::string tree = server_.home("alice") + "/mixed";
  fs::create_directories(tree + "/small");
  for (int i = 0; i < 300; ++i) WriteFile(fmt::format("{}/small/f{:03}", tree, i), RandomBytes(i * 13, i));
  WriteFile(tree + "/empty", "");
  for (const std::uint64_t size : {kMiB - 1, kMiB, kMiB + 1, 2 * kMiB}) {
    ASSERT_NO_FATAL_FAILURE(WriteRandomFile(fmt::format("{}/sized-{}", tree, size), size, size % 251));
  }
  const auto first = server_.Client("alice", "alice-secret", {"get", "-r", "mixed", local_ / "one"}, "", 120s);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(RunProcess({"/usr/bin/diff", "-r", tree, local_ / "one"}).exit_code, 0);

  std::map<std::string, std::int64_t> ctimes;
  for (const auto& entry : fs::recursive_directory_iterator(tree)) {
    struct stat st {};
    ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
    ctimes[entry.path()] = std::int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  }
  const auto again = server_.Client("alice", "alice-secret", {"get", "-r", "mixed", local_ / "two"}, "", 120s);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(RunProcess({"/usr/bin/diff", "-r", tree, local_ / "two"}).exit_code, 0);
  for (const auto& [path, ctime] : ctimes) {
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(std::int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec, ctime) << path << " was changed";
  }
}

// ---- the upload protocol with raw frames ----

}  // namespace
}  // namespace ferry::testing
