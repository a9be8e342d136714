// Streaming checksums: known digests, pieces versus one shot, digests taken mid-stream, algorithm names, and
// checksums of (prefixes of) files.
#include "transfer/checksum.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "protocol/messages.h"
#include "support/temp_dir.h"
#include "support/test_files.h"

namespace ferry::transfer {
namespace {

using ferry::testing::RandomBytes;
using ferry::testing::TempDir;
using ferry::testing::WriteFile;

constexpr ChecksumAlgorithm kAll[] = {ChecksumAlgorithm::kXxh3, ChecksumAlgorithm::kSha256, ChecksumAlgorithm::kMd5};

std::string Digest(ChecksumAlgorithm algorithm, std::string_view bytes) {
  Checksum checksum(algorithm);
  checksum.Update(bytes);
  return checksum.HexDigest();
}

// XXH3-128 through libxxhash's one-shot API, in canonical (big-endian) hex: an independent reference.
std::string OneShotXxh3(std::string_view bytes) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(bytes.data(), bytes.size()));
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : canonical.digest) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xF];
  }
  return hex;
}

std::string AlgorithmName(const ::testing::TestParamInfo<ChecksumAlgorithm>& info) {
  return std::string(ChecksumName(info.param));
}

TEST(Checksum, KnownDigestsOfEmptyInput) {
  EXPECT_EQ(Digest(ChecksumAlgorithm::kXxh3, ""), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(Digest(ChecksumAlgorithm::kSha256, ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Digest(ChecksumAlgorithm::kMd5, ""), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(Checksum, KnownDigestsOfAbc) {
  EXPECT_EQ(Digest(ChecksumAlgorithm::kSha256, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Digest(ChecksumAlgorithm::kMd5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Digest(ChecksumAlgorithm::kXxh3, "abc"), OneShotXxh3("abc"));
}

TEST(Checksum, Xxh3MatchesTheOneShotCanonicalForm) {
  for (std::size_t size : {0u, 1u, 16u, 17u, 128u, 129u, 240u, 241u, 1024u, 100000u}) {
    const std::string bytes = RandomBytes(size, size + 1);
    EXPECT_EQ(Digest(ChecksumAlgorithm::kXxh3, bytes), OneShotXxh3(bytes)) << "size " << size;
  }
}

TEST(Checksum, DigestsAreLowerCaseHexOfTheRightLength) {
  const std::map<ChecksumAlgorithm, std::size_t> lengths = {
      {ChecksumAlgorithm::kXxh3, 32}, {ChecksumAlgorithm::kSha256, 64}, {ChecksumAlgorithm::kMd5, 32}};
  for (auto algorithm : kAll) {
    const std::string hex = Digest(algorithm, "some bytes");
    EXPECT_EQ(hex.size(), lengths.at(algorithm)) << ChecksumName(algorithm);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
  }
}

class ChecksumStreaming : public ::testing::TestWithParam<ChecksumAlgorithm> {};

TEST_P(ChecksumStreaming, PiecesEqualOneShot) {
  const std::string bytes = RandomBytes(300000, 42);
  const std::string expected = Digest(GetParam(), bytes);
  // Irregular pieces, empty ones included.
  std::mt19937 sizes(7);
  Checksum streamed(GetParam());
  for (std::size_t offset = 0; offset < bytes.size();) {
    const std::size_t piece = std::min<std::size_t>(sizes() % 5000, bytes.size() - offset);
    streamed.Update(std::string_view(bytes).substr(offset, piece));
    offset += piece;
  }
  EXPECT_EQ(streamed.HexDigest(), expected);

  Checksum byte_by_byte(GetParam());
  for (char c : bytes.substr(0, 1000)) byte_by_byte.Update(std::string_view(&c, 1));
  EXPECT_EQ(byte_by_byte.HexDigest(), Digest(GetParam(), bytes.substr(0, 1000)));
}

TEST_P(ChecksumStreaming, DigestMidStreamDoesNotDisturbUpdating) {
  Checksum checksum(GetParam());
  EXPECT_EQ(checksum.HexDigest(), Digest(GetParam(), ""));
  checksum.Update("a");
  EXPECT_EQ(checksum.HexDigest(), Digest(GetParam(), "a"));
  EXPECT_EQ(checksum.HexDigest(), Digest(GetParam(), "a"));  // asking twice changes nothing
  checksum.Update("bc");
  EXPECT_EQ(checksum.HexDigest(), Digest(GetParam(), "abc"));

  const std::string bytes = RandomBytes(50000, 3);
  Checksum long_stream(GetParam());
  for (std::size_t offset = 0; offset < bytes.size(); offset += 7000) {
    long_stream.Update(std::string_view(bytes).substr(offset, 7000));
    const std::size_t done = std::min(offset + 7000, bytes.size());
    EXPECT_EQ(long_stream.HexDigest(), Digest(GetParam(), bytes.substr(0, done))) << "after " << done;
  }
}

TEST_P(ChecksumStreaming, MovedChecksumKeepsItsState) {
  Checksum first(GetParam());
  first.Update("ab");
  Checksum second(std::move(first));
  second.Update("c");
  EXPECT_EQ(second.HexDigest(), Digest(GetParam(), "abc"));
  EXPECT_EQ(second.algorithm(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, ChecksumStreaming, ::testing::ValuesIn(kAll), AlgorithmName);

TEST(ChecksumName, ParsesTheThreeNames) {
  for (auto algorithm : kAll) {
    auto parsed = ParseChecksumName(ChecksumName(algorithm));
    ASSERT_TRUE(parsed.ok()) << ChecksumName(algorithm);
    EXPECT_EQ(*parsed, algorithm);
  }
  EXPECT_EQ(ChecksumName(ChecksumAlgorithm::kXxh3), "xxh3");
  EXPECT_EQ(ChecksumName(ChecksumAlgorithm::kSha256), "sha256");
  EXPECT_EQ(ChecksumName(ChecksumAlgorithm::kMd5), "md5");
  EXPECT_EQ(kDefaultChecksum, ChecksumAlgorithm::kXxh3);
}

TEST(ChecksumName, TheDefaultIsTheOneTheProtocolNames) {
  // The protocol layer keeps checksum names as strings, with its own copy of the default's name.
  EXPECT_EQ(ChecksumName(kDefaultChecksum), protocol::kDefaultChecksumName);
}

TEST(ChecksumName, RejectsOtherNames) {
  for (const char* name : {"", "sha1", "SHA256", "Md5", "xxh64", "xxh128", "sha256 ", " md5", "crc32"}) {
    auto parsed = ParseChecksumName(name);
    ASSERT_FALSE(parsed.ok()) << "'" << name << "'";
    EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalid) << "'" << name << "'";
    EXPECT_NE(parsed.status().message().find("xxh3"), std::string::npos) << parsed.status().message();
  }
}

class ChecksumOfFileTest : public ::testing::Test {
 protected:
  UniqueFd Open(const std::string& content) {
    const std::string path = dir_ / ("file" + std::to_string(files_++));
    WriteFile(path, content);
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }
  TempDir dir_;
  int files_ = 0;
};

TEST_F(ChecksumOfFileTest, WholeFile) {
  for (auto algorithm : kAll) {
    UniqueFd fd = Open("abcdef");
    ASSERT_TRUE(fd.valid());
    auto digest = ChecksumOfFile(fd.get(), algorithm);
    ASSERT_TRUE(digest.ok()) << digest.status().message();
    EXPECT_EQ(*digest, Digest(algorithm, "abcdef")) << ChecksumName(algorithm);
  }
  UniqueFd empty = Open("");
  auto digest = ChecksumOfFile(empty.get(), ChecksumAlgorithm::kSha256);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(ChecksumOfFileTest, Prefix) {
  UniqueFd fd = Open("abcdef");
  ASSERT_TRUE(fd.valid());
  auto abc = ChecksumOfFile(fd.get(), ChecksumAlgorithm::kSha256, 3);
  ASSERT_TRUE(abc.ok()) << abc.status().message();
  EXPECT_EQ(*abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto none = ChecksumOfFile(fd.get(), ChecksumAlgorithm::kMd5, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, "d41d8cd98f00b204e9800998ecf8427e");
  auto all = ChecksumOfFile(fd.get(), ChecksumAlgorithm::kXxh3, 6);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, Digest(ChecksumAlgorithm::kXxh3, "abcdef"));
}

TEST_F(ChecksumOfFileTest, LargerThanOneReadBuffer) {
  const std::string bytes = RandomBytes(3 * 1024 * 1024 + 5, 11);
  UniqueFd fd = Open(bytes);
  ASSERT_TRUE(fd.valid());
  for (auto algorithm : kAll) {
    auto whole = ChecksumOfFile(fd.get(), algorithm);
    ASSERT_TRUE(whole.ok());
    EXPECT_EQ(*whole, Digest(algorithm, bytes)) << ChecksumName(algorithm);
    const long long prefix = 2 * 1024 * 1024 + 1;
    auto part = ChecksumOfFile(fd.get(), algorithm, prefix);
    ASSERT_TRUE(part.ok());
    EXPECT_EQ(*part, Digest(algorithm, bytes.substr(0, static_cast<std::size_t>(prefix)))) << ChecksumName(algorithm);
  }
}

TEST_F(ChecksumOfFileTest, LengthPastTheEndIsAnError) {
  UniqueFd fd = Open("abcdef");
  ASSERT_TRUE(fd.valid());
  auto digest = ChecksumOfFile(fd.get(), ChecksumAlgorithm::kXxh3, 7);
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().code(), ErrorCode::kInvalid);
  UniqueFd empty = Open("");
  EXPECT_FALSE(ChecksumOfFile(empty.get(), ChecksumAlgorithm::kSha256, 1).ok());
}

TEST_F(ChecksumOfFileTest, UnreadableDescriptorIsAnError) {
  const std::string path = dir_ / "write-only";
  WriteFile(path, "abc");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  EXPECT_FALSE(ChecksumOfFile(fd.get(), ChecksumAlgorithm::kSha256).ok());
}

}  // namespace
}  // namespace ferry::transfer
