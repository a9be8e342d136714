// SftpServer fed raw SFTP packets on a real user session: framing limits, handles, and the replies' encoding.
#include "frontends/sftp/sftp_server.h"

#include <unistd.h>

#include <climits>
#include <cstdint>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "../service/service_fixture.h"

namespace ferry::frontends::sftp {
namespace {

using ferry::testing::ReadFile;
using ferry::testing::WriteFile;

void PutU32(std::string& out, std::uint32_t v) {
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>(v >> shift));
}
void PutU64(std::string& out, std::uint64_t v) {
  PutU32(out, static_cast<std::uint32_t>(v >> 32));
  PutU32(out, static_cast<std::uint32_t>(v));
}
void PutString(std::string& out, std::string_view s) {
  PutU32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}
// One packet: length, type, then `body` (which starts with the request id, except for INIT).
std::string Packet(std::uint8_t type, const std::string& body) {
  std::string out;
  PutU32(out, static_cast<std::uint32_t>(body.size() + 1));
  out.push_back(static_cast<char>(type));
  return out + body;
}
std::string Init() {
  std::string body;
  PutU32(body, 3);
  return Packet(1, body);
}

struct Reply {
  std::uint8_t type = 0;
  std::uint32_t id = 0;
  std::string rest;  // after the id
};
std::uint32_t U32(std::string_view s, std::size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
// Takes the first reply out of `out`.
Reply Next(std::string& out) {
  Reply reply;
  if (out.size() < 9) return reply;
  const std::uint32_t length = U32(out, 0);
  reply.type = static_cast<std::uint8_t>(out[4]);
  reply.id = U32(out, 5);
  reply.rest = out.substr(9, length - 5);
  out.erase(0, 4 + length);
  return reply;
}
std::uint32_t StatusCode(const Reply& reply) { return U32(reply.rest, 0); }
std::string StatusMessage(const Reply& reply) { return reply.rest.substr(8, U32(reply.rest, 4)); }

class SftpServerTest : public service::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(AddUser("alice"));
    session_ = LoginOrFail("alice");
    ASSERT_NE(session_, nullptr);
    server_ = std::make_unique<SftpServer>(session_.get());
    server_->Append(Init());
    server_->Process();
    ASSERT_EQ(Next(server_->output()).type, 2);  // VERSION
  }
  void TearDown() override {
    server_.reset();
    session_.reset();
  }
  Reply Ask(std::uint8_t type, const std::string& body) {
    server_->Append(Packet(type, body));
    server_->Process();
    return Next(server_->output());
  }
  // OPEN `path` with `flags`; the handle, or "" (and the status in `status`).
  std::string Open(const std::string& path, std::uint32_t flags, std::uint32_t id = 7) {
    std::string body;
    PutU32(body, id);
    PutString(body, path);
    PutU32(body, flags);
    PutU32(body, 0);  // no attributes
    const Reply reply = Ask(3, body);
    if (reply.type != 102) return "";
    return reply.rest.substr(4, U32(reply.rest, 0));
  }

  std::unique_ptr<service::UserSession> session_;
  std::unique_ptr<SftpServer> server_;
};

TEST_F(SftpServerTest, AnswersInitWithVersion3AndTheExtensionsItServes) {
  SftpServer fresh(session_.get());
  fresh.Append(Init());
  fresh.Process();
  std::string& out = fresh.output();
  ASSERT_GE(out.size(), 9u);
  EXPECT_EQ(out[4], 2);
  EXPECT_EQ(U32(out, 5), 3u);
  for (const char* name : {"posix-rename@openssh.com", "statvfs@openssh.com", "fsync@openssh.com",
                           "limits@openssh.com", "lsetstat@openssh.com"}) {
    EXPECT_NE(out.find(name), std::string::npos) << name;
  }
}

TEST_F(SftpServerTest, APacketBeforeInitOrPastTheLengthLimitEndsTheStream) {
  SftpServer fresh(session_.get());
  std::string body;
  PutU32(body, 1);
  PutString(body, "/");
  fresh.Append(Packet(17, body));  // STAT before INIT
  fresh.Process();
  EXPECT_TRUE(fresh.failed());

  std::string huge;
  PutU32(huge, SftpServer::kMaxPacket + 1);
  server_->Append(huge);
  server_->Process();
  EXPECT_TRUE(server_->failed());
  EXPECT_TRUE(server_->output().empty());
}

TEST_F(SftpServerTest, SplitPacketsAreAnsweredOnceWholeAndPipelinedOnesInOrder) {
  WriteFile(Home("alice") + "/a.txt", "abc");
  std::string stream;
  for (std::uint32_t id : {11u, 12u, 13u}) {
    std::string body;
    PutU32(body, id);
    PutString(body, "/a.txt");
    stream += Packet(17, body);
  }
  server_->Append(stream.substr(0, 5));
  server_->Process();
  EXPECT_TRUE(server_->output().empty());
  server_->Append(stream.substr(5));
  server_->Process();
  for (std::uint32_t id : {11u, 12u, 13u}) {
    const Reply reply = Next(server_->output());
    EXPECT_EQ(reply.type, 105);  // ATTRS
    EXPECT_EQ(reply.id, id);
    EXPECT_EQ(U32(reply.rest, 4), 0u);  // size, high half
    EXPECT_EQ(U32(reply.rest, 8), 3u);
  }
}

TEST_F(SftpServerTest, ReadsAreCappedAndBadHandlesRefused) {
  WriteFile(Home("alice") + "/big.bin", std::string(SftpServer::kMaxReadLength * 2, 'x'));
  const std::string handle = Open("/big.bin", 1);
  ASSERT_EQ(handle, "1");
  std::string read;
  PutU32(read, 21);
  PutString(read, handle);
  PutU64(read, 0);
  PutU32(read, 0xffffffffu);  // 4 GiB asked: the reply holds kMaxReadLength
  Reply reply = Ask(5, read);
  ASSERT_EQ(reply.type, 103);  // DATA
  EXPECT_EQ(U32(reply.rest, 0), SftpServer::kMaxReadLength);

  // Handle "1" is open: nothing that merely reads as 1 (a leading zero, a sign, a number that wraps) reaches it.
  for (const std::string& bad : {std::string("999"), std::string("x"), std::string(""), std::string(64, '1'),
                                 std::string("01"), std::string("+1"), std::string("4294967297"),
                                 std::string("1 ")}) {
    std::string body;
    PutU32(body, 22);
    PutString(body, bad);
    PutU64(body, 0);
    PutU32(body, 10);
    reply = Ask(5, body);
    ASSERT_EQ(reply.type, 101) << bad;
    EXPECT_EQ(StatusCode(reply), 4u);
    EXPECT_EQ(StatusMessage(reply), "invalid handle");
  }
  // A READ past the end says EOF.
  std::string at_end;
  PutU32(at_end, 23);
  PutString(at_end, handle);
  PutU64(at_end, SftpServer::kMaxReadLength * 2);
  PutU32(at_end, 100);
  reply = Ask(5, at_end);
  ASSERT_EQ(reply.type, 101);
  EXPECT_EQ(StatusCode(reply), 1u);
}

TEST_F(SftpServerTest, HandlesAreBounded) {
  WriteFile(Home("alice") + "/f.txt", "f");
  for (std::size_t i = 0; i < SftpServer::kMaxHandles; ++i) ASSERT_FALSE(Open("/f.txt", 1).empty()) << i;
  std::string body;
  PutU32(body, 99);
  PutString(body, "/f.txt");
  PutU32(body, 1);
  PutU32(body, 0);
  const Reply reply = Ask(3, body);
  ASSERT_EQ(reply.type, 101);
  EXPECT_EQ(StatusCode(reply), 4u);
  EXPECT_NE(StatusMessage(reply).find("too many open files"), std::string::npos);
}

TEST_F(SftpServerTest, AWriteIsPublishedAtCloseAndPathsStayInTheHome) {
  const std::string handle = Open("/../../new.txt", 0x2 | 0x8 | 0x10);  // WRITE CREAT TRUNC
  ASSERT_FALSE(handle.empty());
  std::string write;
  PutU32(write, 31);
  PutString(write, handle);
  PutU64(write, 0);
  PutString(write, "hello");
  Reply reply = Ask(6, write);
  ASSERT_EQ(reply.type, 101);
  EXPECT_EQ(StatusCode(reply), 0u);
  EXPECT_FALSE(ferry::testing::Exists(Home("alice") + "/new.txt"));  // not before it is closed
  std::string close;
  PutU32(close, 32);
  PutString(close, handle);
  reply = Ask(4, close);
  EXPECT_EQ(StatusCode(reply), 0u);
  EXPECT_EQ(ReadFile(Home("alice") + "/new.txt"), "hello");  // "/../../" stayed at the home

  // A WRITE longer than the limit breaks the request, not the stream.
  const std::string again = Open("/other.txt", 0x2 | 0x8 | 0x10);
  std::string long_write;
  PutU32(long_write, 33);
  PutString(long_write, again);
  PutU64(long_write, 0);
  PutString(long_write, std::string(SftpServer::kMaxWriteLength + 1, 'y'));
  reply = Ask(6, long_write);
  ASSERT_EQ(reply.type, 101);
  EXPECT_EQ(StatusCode(reply), 5u);  // BAD_MESSAGE
  EXPECT_FALSE(server_->failed());
}

TEST_F(SftpServerTest, SymlinksStayInsideTheHomeAndReadlinkReadsThem) {
  WriteFile(Home("alice") + "/f.txt", "target");
  ASSERT_EQ(::mkdir((Home("alice") + "/d").c_str(), 0755), 0);
  const auto symlink = [&](const std::string& target, const std::string& link) {
    std::string body;
    PutU32(body, 40);
    PutString(body, target);  // OpenSSH's order: the target first
    PutString(body, link);
    return Ask(20, body);
  };
  const auto link_text = [&](const std::string& path) {
    char text[PATH_MAX] = {};
    return ::readlink((Home("alice") + path).c_str(), text, sizeof text - 1) > 0 ? std::string(text) : std::string();
  };
  // Absolute targets are paths of the home; every link is kept relative to its folder.
  Reply reply = symlink("/f.txt", "/d/abs");
  ASSERT_EQ(reply.type, 101);
  EXPECT_EQ(StatusCode(reply), 0u) << StatusMessage(reply);
  EXPECT_EQ(link_text("/d/abs"), "../f.txt");
  reply = symlink("../d/./../f.txt", "d/rel");
  EXPECT_EQ(StatusCode(reply), 0u) << StatusMessage(reply);
  EXPECT_EQ(link_text("/d/rel"), "../f.txt");
  reply = symlink("/d", "/top");
  EXPECT_EQ(StatusCode(reply), 0u) << StatusMessage(reply);
  EXPECT_EQ(link_text("/top"), "d");
  // Out of the home, however put: refused, nothing made.
  for (const char* target : {"../../outside", "/../outside", "d/../../../x"}) {
    reply = symlink(target, "/d/bad");
    EXPECT_EQ(reply.type, 101);
    EXPECT_EQ(StatusCode(reply), 3u) << target;  // PERMISSION_DENIED
    EXPECT_NE(StatusMessage(reply).find("leads out of your home"), std::string::npos) << StatusMessage(reply);
  }
  EXPECT_EQ(link_text("/d/bad"), "");
  // A link's path is a home path like any other: "../../x" stops at the top.
  reply = symlink("f.txt", "../../top2");
  EXPECT_EQ(StatusCode(reply), 0u) << StatusMessage(reply);
  EXPECT_EQ(link_text("/top2"), "f.txt");

  std::string body;
  PutU32(body, 41);
  PutString(body, "/d/abs");
  reply = Ask(19, body);  // READLINK
  ASSERT_EQ(reply.type, 104) << StatusMessage(reply);
  EXPECT_EQ(U32(reply.rest, 0), 1u);
  EXPECT_EQ(reply.rest.substr(8, U32(reply.rest, 4)), "../f.txt");
  body.clear();
  PutU32(body, 42);
  PutString(body, "/f.txt");
  reply = Ask(19, body);
  ASSERT_EQ(reply.type, 101);
  EXPECT_NE(StatusCode(reply), 0u);  // not a link

  // STAT follows a link to a file (inside the home); LSTAT does not.
  body.clear();
  PutU32(body, 43);
  PutString(body, "/d/abs");
  reply = Ask(17, body);  // STAT
  ASSERT_EQ(reply.type, 105);
  ASSERT_NE(U32(reply.rest, 0) & 0x1, 0u);  // the size comes first
  EXPECT_EQ(U32(reply.rest, 8), 6u);        // the file's ("target")
  reply = Ask(7, body);                     // LSTAT
  ASSERT_EQ(reply.type, 105);
  EXPECT_EQ(U32(reply.rest, 8), 8u);        // the link's own ("../f.txt")

  // hardlink@openssh.com is refused.
  body.clear();
  PutU32(body, 44);
  PutString(body, "hardlink@openssh.com");
  PutString(body, "/f.txt");
  PutString(body, "/hard");
  reply = Ask(200, body);
  ASSERT_EQ(reply.type, 101);
  EXPECT_EQ(StatusCode(reply), 8u);  // OP_UNSUPPORTED
  EXPECT_FALSE(::access((Home("alice") + "/hard").c_str(), F_OK) == 0);
}

TEST_F(SftpServerTest, LsetstatChangesALinksTimeButHasNoPermissionsToChange) {
  WriteFile(Home("alice") + "/f.txt", "target");
  ASSERT_EQ(::symlink("f.txt", (Home("alice") + "/l").c_str()), 0);
  const auto lsetstat = [&](const std::string& path, std::uint32_t flags, std::uint32_t value) {
    std::string body;
    PutU32(body, 50);
    PutString(body, "lsetstat@openssh.com");
    PutString(body, path);
    PutU32(body, flags);
    if (flags == 0x4) PutU32(body, value);  // permissions
    if (flags == 0x8) {                     // access and modification time
      PutU32(body, value);
      PutU32(body, value);
    }
    return Ask(200, body);
  };
  Reply reply = lsetstat("/l", 0x8, 1000000000);
  ASSERT_EQ(reply.type, 101);
  EXPECT_EQ(StatusCode(reply), 0u) << StatusMessage(reply);
  struct stat link {}, target {};
  ASSERT_EQ(::lstat((Home("alice") + "/l").c_str(), &link), 0);
  ASSERT_EQ(::stat((Home("alice") + "/f.txt").c_str(), &target), 0);
  EXPECT_EQ(link.st_mtime, 1000000000);
  EXPECT_NE(target.st_mtime, 1000000000);
  reply = lsetstat("/l", 0x4, 0600);
  EXPECT_EQ(StatusCode(reply), 8u) << StatusMessage(reply);  // OP_UNSUPPORTED
  // A file that is not a link: as SETSTAT.
  reply = lsetstat("/f.txt", 0x4, 0600);
  EXPECT_EQ(StatusCode(reply), 0u) << StatusMessage(reply);
  ASSERT_EQ(::stat((Home("alice") + "/f.txt").c_str(), &target), 0);
  EXPECT_EQ(target.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace ferry::frontends::sftp
