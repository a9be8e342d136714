// hello, login, pwd, whoami, cd, quit, noop: round trips, the server's checks, the client's strict replies.
#include "protocol/session_operations.h"

#include <gtest/gtest.h>

#include "message_test_util.h"

namespace ferry::protocol {
namespace {

LoginRequest PasswordLogin(std::string user, std::string password) {
  LoginRequest request;
  request.user = std::move(user);
  request.password = std::move(password);
  return request;
}
LoginRequest KeyLogin(std::string user, std::string key, std::string signature) {
  LoginRequest request;
  request.user = std::move(user);
  request.key = std::move(key);
  request.signature = std::move(signature);
  return request;
}
HelloReply Hello(int version, std::string server, std::uint32_t max_header, std::uint64_t max_body,
                 std::string challenge = "") {
  HelloReply reply;
  reply.version = version;
  reply.server = std::move(server);
  reply.max_header = max_header;
  reply.max_body = max_body;
  reply.challenge = std::move(challenge);
  return reply;
}

using testing::ExpectRoundTrip;
using testing::FailsNaming;
using testing::FailsWith;
using testing::ReplyRoundTrip;
using testing::RequestRoundTrip;
using testing::With;
using testing::Without;

// ---- hello ----

TEST(HelloRequest, RoundTrips) {
  const HelloRequest request{{1, 2}, "ferry 0.1.0"};
  ExpectRoundTrip(RequestRoundTrip(request), request);
  const HelloRequest anonymous{{1}, ""};
  EXPECT_FALSE(anonymous.Encode().contains("client"));
  ExpectRoundTrip(RequestRoundTrip(anonymous), anonymous);
}

TEST(HelloRequest, EncodesTheDocumentedHeader) {
  EXPECT_EQ(HelloRequest({{1}, "ferry 0.1.0"}).Encode(),
            Json({{"op", "hello"}, {"versions", {1}}, {"client", "ferry 0.1.0"}}));
}

TEST(HelloRequest, RequiresAnArrayOfVersions) {
  const Json header = HelloRequest{{1}, ""}.Encode();
  EXPECT_TRUE(FailsNaming(HelloRequest::Parse(Without(header, "versions")).status(), ErrorCode::kProtocol, "versions"));
  EXPECT_TRUE(FailsNaming(HelloRequest::Parse(With(header, "versions", 1)).status(), ErrorCode::kProtocol, "versions"));
}

TEST(HelloRequest, IgnoresVersionsThatAreNotIntegersAndAClientThatIsNoString) {
  auto parsed = HelloRequest::Parse(Json::parse(R"({"op":"hello","versions":["1",1.5,null,3,1],"client":7})"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->versions, (std::vector<std::int64_t>{3, 1}));
  EXPECT_EQ(parsed->client, "");
}

TEST(HelloRequest, CommonVersionIsTheHighestBothSpeak) {
  EXPECT_EQ(*HelloRequest({{0, 1, 99}, ""}).CommonVersion(), kProtocolVersion);
}

TEST(HelloRequest, NoCommonVersionIsAProtocolError) {
  EXPECT_TRUE(FailsWith(HelloRequest({{}, ""}).CommonVersion().status(), ErrorCode::kProtocol));
  EXPECT_TRUE(FailsWith(HelloRequest({{0, 99, -1}, ""}).CommonVersion().status(), ErrorCode::kProtocol));
}

TEST(HelloReply, RoundTrips) {
  const HelloReply with_challenge{1, "ferryd 0.1.0", 65536, 4194304, "Y2hhbGxlbmdl"};
  ExpectRoundTrip(ReplyRoundTrip(with_challenge), with_challenge);
  const HelloReply reply = Hello(1, "ferryd 0.1.0", 65536, 4194304);
  ExpectRoundTrip(ReplyRoundTrip(reply), reply);
  EXPECT_EQ(OkReply(0, reply), Json::parse(R"({"id": 0, "ok": true, "version": 1, "server": "ferryd 0.1.0",
                                               "limits": {"max_header": 65536, "max_body": 4194304}})"));
}

TEST(HelloReply, RejectsEachMissingField) {
  const Json reply = OkReply(0, Hello(1, "ferryd", 65536, 4194304));
  for (const char* field : {"version", "server", "limits"}) {
    EXPECT_TRUE(FailsNaming(HelloReply::Parse(Without(reply, field)).status(), ErrorCode::kProtocol, field));
  }
  for (const char* field : {"max_header", "max_body"}) {
    Json without = reply;
    without["limits"].erase(field);
    EXPECT_TRUE(FailsNaming(HelloReply::Parse(without).status(), ErrorCode::kProtocol, field));
  }
  EXPECT_TRUE(FailsNaming(HelloReply::Parse(With(reply, "limits", 5)).status(), ErrorCode::kProtocol, "limits"));
}

// ---- login ----

TEST(LoginRequest, RoundTrips) {
  const LoginRequest request = PasswordLogin("alice", "correct horse");
  ExpectRoundTrip(RequestRoundTrip(request), request);
  const LoginRequest with_key = KeyLogin("alice", "ssh-ed25519 AAAA", "c2ln");
  ExpectRoundTrip(RequestRoundTrip(with_key), with_key);
}

TEST(LoginRequest, AKeyLoginHasASignatureAndNoPassword) {
  const Json header = KeyLogin("alice", "ssh-ed25519 AAAA", "c2ln").Encode();
  EXPECT_FALSE(header.contains("password"));
  EXPECT_TRUE(FailsNaming(LoginRequest::Parse(Without(header, "signature")).status(), ErrorCode::kProtocol,
                          "signature"));
  EXPECT_TRUE(FailsWith(LoginRequest::Parse(With(header, "password", "pw")).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(FailsWith(LoginRequest::Parse(With(header, "key", "")).status(), ErrorCode::kInvalid));
  const std::string too_long(kMaxKeyFieldLength + 1, 'A');
  EXPECT_TRUE(FailsWith(LoginRequest::Parse(With(header, "key", too_long)).status(), ErrorCode::kTooBig));
  EXPECT_TRUE(FailsWith(LoginRequest::Parse(With(header, "signature", too_long)).status(), ErrorCode::kTooBig));
}

TEST(KeyLoginData, IsEachPartAsAnSshStringInOrder) {
  const std::string data = KeyLoginData("C", "TLS", "alice", "B");
  std::string expected;
  for (const std::string part : {"ferry-key-login-v1", "C", "TLS", "alice", "B"}) {
    expected += std::string(3, '\0') + static_cast<char>(part.size()) + part;
  }
  EXPECT_EQ(data, expected);
  EXPECT_NE(KeyLoginData("C", "", "alice", "B"), data);
}

TEST(LoginRequest, RejectsAMissingUserOrPassword) {
  const Json header = PasswordLogin("alice", "pw").Encode();
  EXPECT_TRUE(FailsNaming(LoginRequest::Parse(Without(header, "user")).status(), ErrorCode::kProtocol, "user"));
  EXPECT_TRUE(FailsNaming(LoginRequest::Parse(Without(header, "password")).status(), ErrorCode::kProtocol, "password"));
}

TEST(LoginRequest, RejectsFieldsThatAreNotStrings) {
  const Json header = PasswordLogin("alice", "pw").Encode();
  EXPECT_TRUE(FailsNaming(LoginRequest::Parse(With(header, "user", 1)).status(), ErrorCode::kProtocol, "user"));
  EXPECT_TRUE(
      FailsNaming(LoginRequest::Parse(With(header, "password", nullptr)).status(), ErrorCode::kProtocol, "password"));
}

TEST(LoginRequest, RejectsAUserNameOrPasswordAboveTheLimit) {
  const std::string longest_name(kMaxUserNameLength, 'u');
  const std::string longest_password(kMaxPasswordLength, 'p');
  EXPECT_TRUE(RequestRoundTrip(PasswordLogin(longest_name, longest_password)).ok());
  EXPECT_TRUE(FailsWith(RequestRoundTrip(PasswordLogin(longest_name + "u", "pw")).status(), ErrorCode::kTooBig));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(PasswordLogin("alice", longest_password + "p")).status(), ErrorCode::kTooBig));
}

TEST(LoginReply, RoundTrips) {
  ExpectRoundTrip(ReplyRoundTrip(LoginReply{"alice", "/"}), LoginReply{"alice", "/"});
}

TEST(LoginReply, RejectsEachMissingField) {
  const Json reply = OkReply(1, LoginReply{"alice", "/"});
  for (const char* field : {"user", "cwd"}) {
    EXPECT_TRUE(FailsNaming(LoginReply::Parse(Without(reply, field)).status(), ErrorCode::kProtocol, field));
  }
}

// ---- pwd, whoami, cd ----

TEST(PwdReply, RoundTrips) {
  ExpectRoundTrip(ReplyRoundTrip(PwdReply{"/docs"}), PwdReply{"/docs"});
}

TEST(PwdReply, RejectsAMissingPath) {
  EXPECT_TRUE(FailsNaming(PwdReply::Parse(OkReply(1)).status(), ErrorCode::kProtocol, "path"));
}

TEST(WhoamiReply, RoundTrips) {
  ExpectRoundTrip(ReplyRoundTrip(WhoamiReply{"alice"}), WhoamiReply{"alice"});
}

TEST(WhoamiReply, RejectsAMissingOrNonStringUser) {
  EXPECT_TRUE(FailsNaming(WhoamiReply::Parse(OkReply(1)).status(), ErrorCode::kProtocol, "user"));
  EXPECT_TRUE(FailsNaming(WhoamiReply::Parse(With(OkReply(1), "user", 3)).status(), ErrorCode::kProtocol, "user"));
}

TEST(CdRequest, RoundTrips) {
  ExpectRoundTrip(RequestRoundTrip(CdRequest{"/docs/a b"}), CdRequest{"/docs/a b"});
  ExpectRoundTrip(RequestRoundTrip(CdRequest{""}), CdRequest{""});
}

TEST(CdRequest, PathIsOptional) {
  auto parsed = CdRequest::Parse(Json({{"op", "cd"}, {"id", 1}}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->path, "");
}

TEST(CdRequest, RejectsAPathThatIsNotAString) {
  EXPECT_TRUE(FailsNaming(CdRequest::Parse(Json({{"path", 1}})).status(), ErrorCode::kProtocol, "path"));
}

TEST(CdRequest, RejectsANulByteInThePath) {
  EXPECT_TRUE(FailsNaming(RequestRoundTrip(CdRequest{std::string("/a\0b", 4)}).status(), ErrorCode::kInvalid, "path"));
}

TEST(CdRequest, RejectsAPathAboveTheMaximumLength) {
  EXPECT_TRUE(RequestRoundTrip(CdRequest{std::string(kMaxPathLength, 'a')}).ok());
  EXPECT_TRUE(FailsNaming(RequestRoundTrip(CdRequest{std::string(kMaxPathLength + 1, 'a')}).status(),
                          ErrorCode::kNameTooLong, "path"));
}

TEST(CdReply, RoundTrips) {
  ExpectRoundTrip(ReplyRoundTrip(CdReply{"/real/docs"}), CdReply{"/real/docs"});
}

TEST(CdReply, RejectsAMissingPath) {
  EXPECT_TRUE(FailsNaming(CdReply::Parse(OkReply(1)).status(), ErrorCode::kProtocol, "path"));
}

// ---- requests without fields ----

TEST(FieldlessRequests, EncodeOnlyTheirOperationAndRoundTrip) {
  EXPECT_EQ(PwdRequest{}.Encode(), Json({{"op", "pwd"}}));
  EXPECT_EQ(WhoamiRequest{}.Encode(), Json({{"op", "whoami"}}));
  EXPECT_EQ(QuitRequest{}.Encode(), Json({{"op", "quit"}}));
  EXPECT_EQ(NoopRequest{}.Encode(), Json({{"op", "noop"}}));
  EXPECT_TRUE(RequestRoundTrip(PwdRequest{}).ok());
  EXPECT_TRUE(RequestRoundTrip(WhoamiRequest{}).ok());
  EXPECT_TRUE(RequestRoundTrip(QuitRequest{}).ok());
  EXPECT_TRUE(RequestRoundTrip(NoopRequest{}).ok());
}

}  // namespace
}  // namespace ferry::protocol
