// hello, login, pwd, whoami, cd, quit, noop: round trips, the server's checks, the client's strict replies.
#include "protocol/session_operations.h"

#include <gtest/gtest.h>

#include "message_test_util.h"

namespace ferry::protocol {
namespace {

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
  const HelloReply reply{1, "ferryd 0.1.0", 65536, 4194304};
  ExpectRoundTrip(ReplyRoundTrip(reply), reply);
  EXPECT_EQ(OkReply(0, reply), Json::parse(R"({"id": 0, "ok": true, "version": 1, "server": "ferryd 0.1.0",
                                               "limits": {"max_header": 65536, "max_body": 4194304}})"));
}

TEST(HelloReply, RejectsEachMissingField) {
  const Json reply = OkReply(0, HelloReply{1, "ferryd", 65536, 4194304});
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
  const LoginRequest request{"alice", "correct horse"};
  ExpectRoundTrip(RequestRoundTrip(request), request);
}

TEST(LoginRequest, RejectsAMissingUserOrPassword) {
  const Json header = LoginRequest{"alice", "pw"}.Encode();
  EXPECT_TRUE(FailsNaming(LoginRequest::Parse(Without(header, "user")).status(), ErrorCode::kProtocol, "user"));
  EXPECT_TRUE(FailsNaming(LoginRequest::Parse(Without(header, "password")).status(), ErrorCode::kProtocol, "password"));
}

TEST(LoginRequest, RejectsFieldsThatAreNotStrings) {
  const Json header = LoginRequest{"alice", "pw"}.Encode();
  EXPECT_TRUE(FailsNaming(LoginRequest::Parse(With(header, "user", 1)).status(), ErrorCode::kProtocol, "user"));
  EXPECT_TRUE(
      FailsNaming(LoginRequest::Parse(With(header, "password", nullptr)).status(), ErrorCode::kProtocol, "password"));
}

TEST(LoginRequest, RejectsAUserNameOrPasswordAboveTheLimit) {
  const std::string longest_name(kMaxUserNameLength, 'u');
  const std::string longest_password(kMaxPasswordLength, 'p');
  EXPECT_TRUE(RequestRoundTrip(LoginRequest{longest_name, longest_password}).ok());
  EXPECT_TRUE(FailsWith(RequestRoundTrip(LoginRequest{longest_name + "u", "pw"}).status(), ErrorCode::kTooBig));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(LoginRequest{"alice", longest_password + "p"}).status(), ErrorCode::kTooBig));
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
