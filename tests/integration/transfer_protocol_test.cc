// The upload protocol spoken with raw frames against a real ferryd: pipelined put/data/put_close, declared sizes,
// checksums, resume offsets, busy targets and protocol violations.
#include <sys/stat.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "support/raw_client.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"
#include "support/upload_frames.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;
using protocol::Json;

class TransferProtocol : public ::testing::Test {
 protected:
  // A put with a mode and a modification time as well.
  static Json Put(const std::string& path, std::uint64_t size, bool resume = false) {
    Json put = PutHeader(path, size, resume);
    put["mode"] = 420;
    put["mtime"] = 1600000000;
    return put;
  }
  std::string Home(const std::string& name) const { return server_.home("alice") + "/" + name; }
  std::string PartialsDir() const { return server_.root() + "/partials/alice"; }

  TestServer server_;
};

TEST_F(TransferProtocol, AWholeUploadInOneWrite) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  const std::string content = "pipelined small file";
  std::string batch;
  protocol::AppendFrame(batch, Json{{"op", "put"}, {"id", 50}, {"path", "p.txt"}, {"size", content.size()}});
  protocol::AppendFrame(batch, DataHeader(50), content);
  protocol::AppendFrame(batch, Json{{"op", "put_close"}, {"id", 51}, {"ref", 50}, {"checksum", Xxh3(content)}});
  ASSERT_TRUE(client.SendRaw(batch));
  auto opened = client.ReadFrame();
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->header["id"], 50);
  EXPECT_TRUE(opened->header.value("ok", false)) << opened->header.dump();
  EXPECT_EQ(opened->header.value("offset", -1), 0);
  auto closed = client.ReadFrame();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->header["id"], 51);
  EXPECT_TRUE(closed->header.value("ok", false)) << closed->header.dump();
  EXPECT_EQ(closed->header.value("size", 0), static_cast<int>(content.size()));
  EXPECT_EQ(closed->header.value("checksum", ""), Xxh3(content));
  EXPECT_EQ(ReadFile(Home("p.txt")), content);
}

TEST_F(TransferProtocol, MoreDataThanDeclaredFailsAtClose) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  const Json opened = client.Call(Put("ten.bin", 10));
  ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
  EXPECT_EQ(opened.value("offset", -1), 0);
  const auto ref = opened["id"].get<std::uint64_t>();
  const std::string twenty(20, 'x');
  ASSERT_TRUE(client.SendFrame(DataHeader(ref), twenty));
  const Json closed = client.Call(PutCloseHeader(ref, Xxh3(twenty)));
  EXPECT_FALSE(closed.value("ok", true)) << closed.dump();
  EXPECT_EQ(closed.value("code", ""), "EINVAL") << closed.dump();
  EXPECT_FALSE(Exists(Home("ten.bin")));
  EXPECT_TRUE(client.Call({{"op", "noop"}}).value("ok", false));  // the session goes on
}

TEST_F(TransferProtocol, WrongChecksumFailsAndDiscardsThePartial) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  const Json opened = client.Call(Put("bad.bin", 5));
  ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
  const auto ref = opened["id"].get<std::uint64_t>();
  ASSERT_TRUE(client.SendFrame(DataHeader(ref), "hello"));
  const Json closed = client.Call(PutCloseHeader(ref, std::string(32, '0')));
  EXPECT_FALSE(closed.value("ok", true)) << closed.dump();
  EXPECT_EQ(closed.value("code", ""), "EIO") << closed.dump();
  EXPECT_FALSE(Exists(Home("bad.bin")));
  EXPECT_THAT(Names(PartialsDir()), ::testing::IsEmpty());
}

TEST_F(TransferProtocol, ShortUploadIsKeptAndResumes) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  const std::string content = RandomBytes(100, 8);
  const Json opened = client.Call(Put("short.bin", 100));
  ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
  auto ref = opened["id"].get<std::uint64_t>();
  ASSERT_TRUE(client.SendFrame(DataHeader(ref), content.substr(0, 40)));
  const Json early = client.Call(PutCloseHeader(ref, Xxh3(content)));
  EXPECT_EQ(early.value("code", ""), "EINVAL") << early.dump();
  EXPECT_FALSE(Exists(Home("short.bin")));
  const std::string partial = OnlyFileIn(PartialsDir());
  ASSERT_FALSE(partial.empty());
  EXPECT_EQ(ReadFile(partial), content.substr(0, 40));

  const Json resumed = client.Call(Put("short.bin", 100, true));
  ASSERT_TRUE(resumed.value("ok", false)) << resumed.dump();
  EXPECT_EQ(resumed.value("offset", -1), 40);
  EXPECT_EQ(resumed.value("prefix_checksum", ""), Xxh3(content.substr(0, 40)));
  ref = resumed["id"].get<std::uint64_t>();
  ASSERT_TRUE(client.SendFrame(DataHeader(ref), content.substr(40)));
  const Json closed = client.Call(PutCloseHeader(ref, Xxh3(content)));
  ASSERT_TRUE(closed.value("ok", false)) << closed.dump();
  EXPECT_EQ(closed.value("size", 0), 100);
  EXPECT_EQ(ReadFile(Home("short.bin")), content);
  EXPECT_THAT(Names(PartialsDir()), ::testing::IsEmpty());
}

TEST_F(TransferProtocol, DataForNoOpenUploadClosesTheConnection) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(client.SendFrame(DataHeader(77), "stray bytes"));
  auto reply = client.ReadFrame();
  ASSERT_TRUE(reply);
  EXPECT_TRUE(reply->header["id"].is_null()) << reply->header.dump();
  EXPECT_FALSE(reply->header.value("ok", true));
  EXPECT_EQ(reply->header.value("code", ""), "EPROTO");
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(TransferProtocol, GetOfAMissingFileIsENOENT) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  const Json reply = client.Call({{"op", "get"}, {"path", "missing.bin"}});
  EXPECT_FALSE(reply.value("ok", true)) << reply.dump();
  EXPECT_EQ(reply.value("code", ""), "ENOENT") << reply.dump();
  EXPECT_TRUE(client.Call({{"op", "noop"}}).value("ok", false));
}

// A FIFO in a home (a program run with exec can make one) is not a file: get and sum refuse it at once instead of
// waiting in open(2) for a writer, which would stall every session on the same event loop.
TEST_F(TransferProtocol, GetAndSumOfAFifoAreRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(Home("pipe").c_str(), 0600), 0);
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  const Json sum = client.Call({{"op", "sum"}, {"path", "pipe"}});
  ASSERT_TRUE(sum.is_object()) << "no reply: the server is stuck opening the FIFO";
  EXPECT_EQ(sum.value("code", ""), "EINVAL") << sum.dump();
  const Json get = client.Call({{"op", "get"}, {"path", "pipe"}});
  ASSERT_TRUE(get.is_object()) << "no reply: the server is stuck opening the FIFO";
  EXPECT_EQ(get.value("code", ""), "EINVAL") << get.dump();
  EXPECT_TRUE(client.Call({{"op", "noop"}}).value("ok", false));
}

TEST_F(TransferProtocol, PutOntoAFolderIsEISDIR) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(client.Call({{"op", "mkdir"}, {"path", "folder"}}).value("ok", false));
  const Json reply = client.Call(Put("folder", 3));
  EXPECT_EQ(reply.value("code", ""), "EISDIR") << reply.dump();
  EXPECT_TRUE(fs::is_directory(Home("folder")));
}

TEST_F(TransferProtocol, SecondUploadOfTheSameFileIsBusy) {
  RawClient first(server_.port());
  ASSERT_TRUE(first.HelloAndLogin("alice", "alice-secret"));
  RawClient second(server_.port());
  ASSERT_TRUE(second.HelloAndLogin("alice", "alice-secret"));
  const Json opened = first.Call(Put("busy.bin", 100));
  ASSERT_TRUE(opened.value("ok", false)) << opened.dump();

  const Json busy = second.Call(Put("busy.bin", 100));
  EXPECT_EQ(busy.value("code", ""), "EBUSY") << busy.dump();
  // Another spelling of the same file is the same file.
  const Json alias = second.Call(Put("./busy.bin", 100));
  EXPECT_EQ(alias.value("code", ""), "EBUSY") << alias.dump();
  // The failed put's data is dropped and its put_close repeats the error.
  const auto ref = busy["id"].get<std::uint64_t>();
  ASSERT_TRUE(second.SendFrame(DataHeader(ref), std::string(100, 'b')));
  EXPECT_EQ(second.Call(PutCloseHeader(ref, Xxh3(std::string(100, 'b')))).value("code", ""), "EBUSY");

  // Once the first upload is abandoned the file is free.
  EXPECT_TRUE(first.Call({{"op", "put_abort"}, {"ref", opened["id"]}}).value("ok", false));
  const Json again = second.Call(Put("busy.bin", 3));
  ASSERT_TRUE(again.value("ok", false)) << again.dump();
  const auto again_ref = again["id"].get<std::uint64_t>();
  ASSERT_TRUE(second.SendFrame(DataHeader(again_ref), "abc"));
  EXPECT_TRUE(second.Call(PutCloseHeader(again_ref, Xxh3("abc"))).value("ok", false));
  EXPECT_EQ(ReadFile(Home("busy.bin")), "abc");
}

}  // namespace
}  // namespace ferry::testing
