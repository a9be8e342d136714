// A real ferryd driven with raw frames: framing, malformed input, pipelining, and that one bad client never
// disturbs another.
#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "support/raw_client.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

using protocol::Json;

std::string LengthPrefix(std::uint32_t n) {
  return std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                     static_cast<char>(n)};
}

class ProtocolIntegration : public ::testing::Test {
 protected:
  TestServer server_;
};

TEST_F(ProtocolIntegration, HelloNegotiatesVersionAndAnnouncesLimits) {
  ASSERT_TRUE(server_.started());
  RawClient client(server_.port());
  const Json reply = client.Call({{"op", "hello"}, {"versions", {1, 99}}});
  ASSERT_TRUE(reply.value("ok", false)) << reply.dump();
  EXPECT_EQ(reply["version"], 1);
  EXPECT_EQ(reply["limits"]["max_header"], 65536);
}

TEST_F(ProtocolIntegration, NoCommonVersionIsRefusedAndClosed) {
  RawClient client(server_.port());
  const Json reply = client.Call({{"op", "hello"}, {"versions", {7, 8}}});
  EXPECT_FALSE(reply.value("ok", true));
  EXPECT_EQ(reply.value("code", ""), "EPROTO");
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(ProtocolIntegration, RequestBeforeHelloIsRefused) {
  RawClient client(server_.port());
  const Json reply = client.Call({{"op", "ls"}});
  EXPECT_EQ(reply.value("code", ""), "EPROTO");
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(ProtocolIntegration, OperationsBeforeLoginAreRefused) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.Call({{"op", "hello"}, {"versions", {1}}}).value("ok", false));
  EXPECT_EQ(client.Call({{"op", "ls"}}).value("code", ""), "EPERM");
  EXPECT_EQ(client.Call({{"op", "pwd"}}).value("code", ""), "EPERM");
  // The session goes on: a login still works.
  EXPECT_TRUE(client.Call({{"op", "login"}, {"user", "alice"}, {"password", "alice-secret"}}).value("ok", false));
}

TEST_F(ProtocolIntegration, UnknownUserAndWrongPasswordGetTheSameAnswer) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.Call({{"op", "hello"}, {"versions", {1}}}).value("ok", false));
  Json wrong_password = client.Call({{"op", "login"}, {"user", "alice"}, {"password", "nope"}});
  Json unknown_user = client.Call({{"op", "login"}, {"user", "mallory"}, {"password", "nope"}});
  wrong_password.erase("id");
  unknown_user.erase("id");
  EXPECT_EQ(wrong_password, unknown_user);
  EXPECT_EQ(wrong_password.value("code", ""), "EAUTH");
}

TEST_F(ProtocolIntegration, TooManyFailedLoginsCloseTheConnection) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.Call({{"op", "hello"}, {"versions", {1}}}).value("ok", false));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(client.Call({{"op", "login"}, {"user", "alice"}, {"password", "bad"}}).value("code", ""), "EAUTH");
  }
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(ProtocolIntegration, PipelinedRequestsAreAnsweredInOrderWithTheirIds) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  // Many requests in one write, then read all replies.
  std::string batch;
  for (int i = 0; i < 50; ++i) {
    protocol::AppendFrame(batch, Json{{"op", "mkdir"}, {"id", i}, {"path", "d" + std::to_string(i)}});
  }
  for (int i = 50; i < 100; ++i) protocol::AppendFrame(batch, Json{{"op", "pwd"}, {"id", i}});
  ASSERT_TRUE(client.SendRaw(batch));
  for (int i = 0; i < 100; ++i) {
    auto frame = client.ReadFrame();
    ASSERT_TRUE(frame.has_value()) << "reply " << i;
    EXPECT_EQ(frame->header["id"], i);
    EXPECT_TRUE(frame->header.value("ok", false)) << frame->header.dump();
  }
  EXPECT_TRUE(Exists(server_.home("alice") + "/d49"));
}

TEST_F(ProtocolIntegration, FramesSplitIntoSingleBytesStillWork) {
  RawClient client(server_.port());
  const std::string frames = protocol::EncodeFrame({{"op", "hello"}, {"id", 1}, {"versions", {1}}}) +
                             protocol::EncodeFrame({{"op", "noop"}, {"id", 2}});
  for (char c : frames) ASSERT_TRUE(client.SendRaw(std::string(1, c)));
  auto hello = client.ReadFrame();
  auto noop = client.ReadFrame();
  ASSERT_TRUE(hello && noop);
  EXPECT_EQ(hello->header["id"], 1);
  EXPECT_EQ(noop->header["id"], 2);
  EXPECT_TRUE(noop->header.value("ok", false));
}

TEST_F(ProtocolIntegration, BadRequestsGetErrorsAndTheSessionGoesOn) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  EXPECT_EQ(client.Call({{"op", "frobnicate"}}).value("code", ""), "ENOSYS");
  EXPECT_EQ(client.Call({{"op", "mkdir"}}).value("code", ""), "EPROTO");
  EXPECT_EQ(client.Call({{"op", "mkdir"}, {"path", 42}}).value("code", ""), "EPROTO");
  EXPECT_EQ(client.Call({{"op", "rm"}, {"path", "x"}, {"recursive", "yes"}}).value("code", ""), "EPROTO");
  EXPECT_EQ(client.Call({{"op", "mkdir"}, {"path", std::string("a\0b", 3)}}).value("code", ""), "EINVAL");
  EXPECT_EQ(client.Call({{"op", "mkdir"}, {"path", std::string(5000, 'a')}}).value("code", ""), "ENAMETOOLONG");
  EXPECT_EQ(client.Call({{"op", 7}}).value("code", ""), "EPROTO");
  // A request without an id gets an id-less error.
  ASSERT_TRUE(client.SendFrame({{"op", "pwd"}}));
  auto frame = client.ReadFrame();
  ASSERT_TRUE(frame);
  EXPECT_TRUE(frame->header["id"].is_null());
  EXPECT_EQ(frame->header.value("code", ""), "EPROTO");
  // Still serving.
  const Json pwd = client.Call({{"op", "pwd"}});
  EXPECT_EQ(pwd.value("path", ""), "/");
}

struct MalformedCase {
  const char* name;
  std::string bytes;
  const char* code;
};

void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.name; }

class MalformedStream : public ProtocolIntegration, public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(MalformedStream, IsRefusedWhileAnotherClientKeepsWorking) {
  RawClient good(server_.port());
  ASSERT_TRUE(good.HelloAndLogin("bob", "bob-secret"));

  RawClient bad(server_.port());
  ASSERT_TRUE(bad.SendRaw(GetParam().bytes));
  auto reply = bad.ReadFrame();
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(reply->header["id"].is_null());
  EXPECT_EQ(reply->header.value("code", ""), GetParam().code);
  EXPECT_TRUE(bad.WaitClosed());

  EXPECT_EQ(good.Call({{"op", "whoami"}}).value("user", ""), "bob");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedStream,
    ::testing::Values(MalformedCase{"OversizedHeaderLength", LengthPrefix(0xFFFFFFFF), "ETOOBIG"},
                      MalformedCase{"HeaderJustOverLimit", LengthPrefix(65537) + std::string(100, '{'), "ETOOBIG"},
                      MalformedCase{"EmptyHeader", LengthPrefix(0), "EPROTO"},
                      MalformedCase{"NotJson", LengthPrefix(9) + "not json!", "EPROTO"},
                      MalformedCase{"JsonArray", LengthPrefix(7) + "[1,2,3]", "EPROTO"},
                      MalformedCase{"NegativeBodyLength", LengthPrefix(15) + "{\"body_len\":-1}", "EPROTO"},
                      MalformedCase{"HugeBodyLength", LengthPrefix(25) + "{\"body_len\":999999999999}", "ETOOBIG"},
                      MalformedCase{"InvalidUtf8", LengthPrefix(9) + "{\"a\":\"\xff\"}", "EPROTO"},
                      MalformedCase{"DeepNesting",
                                    LengthPrefix(5 + 200 + 200 + 1) + "{\"a\":" + std::string(200, '[') +
                                        std::string(200, ']') + "}",
                                    "EPROTO"}),
    [](const ::testing::TestParamInfo<MalformedCase>& param_info) { return std::string(param_info.param.name); });

TEST_F(ProtocolIntegration, TruncatedBodyThenDisconnectLeavesServerServing) {
  {
    RawClient bad(server_.port());
    ASSERT_TRUE(bad.SendRaw(LengthPrefix(16) + "{\"body_len\":100}" + "only a little"));
  }  // closes mid-body
  RawClient good(server_.port());
  EXPECT_TRUE(good.HelloAndLogin("alice", "alice-secret"));
}

TEST_F(ProtocolIntegration, ServesIpv6Loopback) {
  TestServerOptions options;
  options.listen_host = "::1";
  TestServer server6(options);
  ASSERT_TRUE(server6.started());
  RawClient client(server6.port(), "::1");
  EXPECT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
}

TEST_F(ProtocolIntegration, LargeListingArrivesInSeveralFrames) {
  RawClient client(server_.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  for (int i = 0; i < 2500; ++i) WriteFile(server_.home("alice") + "/f" + std::to_string(i), "");
  ASSERT_TRUE(client.SendFrame({{"op", "ls"}, {"id", 5}, {"path", "/"}}));
  std::size_t entries = 0;
  int frames = 0;
  while (true) {
    auto frame = client.ReadFrame();
    ASSERT_TRUE(frame);
    ASSERT_TRUE(frame->header.value("ok", false));
    ++frames;
    entries += Json::parse(frame->body).size();
    if (!frame->header.value("more", false)) break;
  }
  EXPECT_EQ(entries, 2500u);
  EXPECT_GE(frames, 3);
}

TEST_F(ProtocolIntegration, ServesManyClientsAtOnce) {
  constexpr int kClients = 60;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RawClient>(server_.port()));
    // Every client's hello and login go out before any answer is read: the server handles them concurrently.
    ASSERT_TRUE(clients.back()->SendFrame({{"op", "hello"}, {"id", 1}, {"versions", {1}}}));
    ASSERT_TRUE(clients.back()->SendFrame({{"op", "login"}, {"id", 2}, {"user", i % 2 == 0 ? "alice" : "bob"},
                                           {"password", i % 2 == 0 ? "alice-secret" : "bob-secret"}}));
  }
  for (int i = 0; i < kClients; ++i) {
    auto hello = clients[i]->ReadFrame();
    auto login = clients[i]->ReadFrame();
    ASSERT_TRUE(hello && login) << "client " << i;
    ASSERT_TRUE(login->header.value("ok", false)) << login->header.dump();
  }
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(clients[i]->Call({{"op", "mkdir"}, {"path", "c" + std::to_string(i)}}).value("ok", false));
  }
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(Exists(server_.home(i % 2 == 0 ? "alice" : "bob") + "/c" + std::to_string(i)));
    EXPECT_FALSE(Exists(server_.home(i % 2 == 0 ? "bob" : "alice") + "/c" + std::to_string(i)));
  }
}

TEST_F(ProtocolIntegration, SigtermStopsTheServerCleanly) {
  ASSERT_TRUE(server_.started());
  const auto result = server_.Stop();
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

}  // namespace
}  // namespace ferry::testing
