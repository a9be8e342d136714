// Request field access, request ids, and the shape of replies in both directions.
#include "protocol/messages.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "message_test_util.h"

namespace ferry::protocol {
namespace {

using testing::FailsNaming;

TEST(RequestFields, StringReturnsThePresentValue) {
  const Json header = {{"op", "ls"}, {"name", ""}};
  const RequestFields fields(header);
  auto op = fields.String("op");
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  EXPECT_EQ(*op, "ls");
  auto empty = fields.String("name");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
  EXPECT_EQ(&fields.header(), &header);
}

TEST(RequestFields, MissingRequiredFieldIsAProtocolErrorNamingIt) {
  const Json header = {{"op", "ls"}};
  const RequestFields fields(header);
  EXPECT_TRUE(FailsNaming(fields.String("user").status(), ErrorCode::kProtocol, "user"));
  EXPECT_TRUE(FailsNaming(fields.Path("path").status(), ErrorCode::kProtocol, "path"));
  EXPECT_TRUE(FailsNaming(fields.Integer("offset").status(), ErrorCode::kProtocol, "offset"));
}

TEST(RequestFields, WrongTypeIsAProtocolErrorNamingTheField) {
  const Json header = {{"s", 5},   {"p", {1, 2}},  {"b", "yes"},     {"i", "12"},
                       {"f", 1.5}, {"n", nullptr}, {"o", {{"k", 1}}}};
  const RequestFields fields(header);
  EXPECT_TRUE(FailsNaming(fields.String("s").status(), ErrorCode::kProtocol, "s"));
  EXPECT_TRUE(FailsNaming(fields.String("n").status(), ErrorCode::kProtocol, "n"));
  EXPECT_TRUE(FailsNaming(fields.OptionalString("o", "x").status(), ErrorCode::kProtocol, "o"));
  EXPECT_TRUE(FailsNaming(fields.Path("p").status(), ErrorCode::kProtocol, "p"));
  EXPECT_TRUE(FailsNaming(fields.OptionalPath("s", "/").status(), ErrorCode::kProtocol, "s"));
  EXPECT_TRUE(FailsNaming(fields.OptionalBool("b", false).status(), ErrorCode::kProtocol, "b"));
  EXPECT_TRUE(FailsNaming(fields.OptionalBool("i", true).status(), ErrorCode::kProtocol, "i"));
  EXPECT_TRUE(FailsNaming(fields.Integer("i").status(), ErrorCode::kProtocol, "i"));
  EXPECT_TRUE(FailsNaming(fields.Integer("f").status(), ErrorCode::kProtocol, "f"));
  EXPECT_TRUE(FailsNaming(fields.Integer("b").status(), ErrorCode::kProtocol, "b"));
}

TEST(RequestFields, OptionalStringFallsBackOnlyWhenMissing) {
  const Json header = {{"mode", "binary"}};
  const RequestFields fields(header);
  EXPECT_EQ(*fields.OptionalString("mode", "text"), "binary");
  EXPECT_EQ(*fields.OptionalString("other", "text"), "text");
}

TEST(RequestFields, PathRejectsNulBytes) {
  const Json header = {{"path", std::string("/a\0/etc/passwd", 14)}, {"dest", std::string("\0", 1)}};
  const RequestFields fields(header);
  EXPECT_TRUE(FailsNaming(fields.Path("path").status(), ErrorCode::kInvalid, "path"));
  EXPECT_TRUE(FailsNaming(fields.OptionalPath("dest", "/").status(), ErrorCode::kInvalid, "dest"));
}

TEST(RequestFields, PathRejectsMoreThanTheMaximumLength) {
  const Json header = {{"ok", std::string(kMaxPathLength, 'a')}, {"long", std::string(kMaxPathLength + 1, 'a')}};
  const RequestFields fields(header);
  auto at_limit = fields.Path("ok");
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_EQ(at_limit->size(), kMaxPathLength);
  EXPECT_TRUE(FailsNaming(fields.Path("long").status(), ErrorCode::kNameTooLong, "long"));
  EXPECT_TRUE(FailsNaming(fields.OptionalPath("long", "/").status(), ErrorCode::kNameTooLong, "long"));
}

TEST(RequestFields, PathAcceptsOrdinaryPathsAsGiven) {
  const Json header = {{"path", "../a/./b//ü"}, {"empty", ""}};
  const RequestFields fields(header);
  EXPECT_EQ(*fields.Path("path"), "../a/./b//ü");
  EXPECT_EQ(*fields.Path("empty"), "");
  EXPECT_EQ(*fields.OptionalPath("missing", "/home"), "/home");
}

TEST(RequestFields, OptionalBoolDefaultsWhenMissing) {
  const Json header = {{"yes", true}, {"no", false}};
  const RequestFields fields(header);
  EXPECT_TRUE(*fields.OptionalBool("yes", false));
  EXPECT_FALSE(*fields.OptionalBool("no", true));
  EXPECT_TRUE(*fields.OptionalBool("missing", true));
  EXPECT_FALSE(*fields.OptionalBool("missing", false));
}

TEST(RequestFields, IntegerCoversTheSignedRange) {
  const Json header = {{"zero", 0},
                       {"neg", -5},
                       {"min", std::numeric_limits<std::int64_t>::min()},
                       {"max", std::numeric_limits<std::int64_t>::max()},
                       {"over", std::uint64_t{1} << 63},
                       {"huge", std::numeric_limits<std::uint64_t>::max()}};
  const RequestFields fields(header);
  EXPECT_EQ(*fields.Integer("zero"), 0);
  EXPECT_EQ(*fields.Integer("neg"), -5);
  EXPECT_EQ(*fields.Integer("min"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(*fields.Integer("max"), std::numeric_limits<std::int64_t>::max());
  EXPECT_TRUE(FailsNaming(fields.Integer("over").status(), ErrorCode::kProtocol, "over"));
  EXPECT_TRUE(FailsNaming(fields.Integer("huge").status(), ErrorCode::kProtocol, "huge"));
}

TEST(RequestFields, IntegerParsedFromTheWire) {
  const Json header = Json::parse(R"({"a":9223372036854775807,"b":9223372036854775808,"c":1e2,"d":-0})");
  const RequestFields fields(header);
  EXPECT_EQ(*fields.Integer("a"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(fields.Integer("b").status().code(), ErrorCode::kProtocol);
  EXPECT_EQ(fields.Integer("c").status().code(), ErrorCode::kProtocol);
  EXPECT_EQ(*fields.Integer("d"), 0);
}

TEST(RequestId, EchoesNonNegativeIntegerIds) {
  // Request headers always come from the wire, where non-negative numbers parse as unsigned.
  EXPECT_EQ(RequestId(Json::parse(R"({"id":0})")), Json(0));
  EXPECT_EQ(RequestId(Json::parse(R"({"op":"ls","id":42})")), Json(42));
  EXPECT_EQ(RequestId(Json::parse(R"({"id":18446744073709551615})")), Json(std::numeric_limits<std::uint64_t>::max()));
}

TEST(RequestId, IsNullForInvalidIds) {
  EXPECT_TRUE(RequestId({{"op", "ls"}}).is_null());
  EXPECT_TRUE(RequestId({{"id", -1}}).is_null());
  EXPECT_TRUE(RequestId(Json::parse(R"({"id":-7})")).is_null());
  EXPECT_TRUE(RequestId({{"id", "7"}}).is_null());
  EXPECT_TRUE(RequestId({{"id", 1.5}}).is_null());
  EXPECT_TRUE(RequestId({{"id", nullptr}}).is_null());
  EXPECT_TRUE(RequestId({{"id", true}}).is_null());
  EXPECT_TRUE(RequestId({{"id", {1, 2}}}).is_null());
}

TEST(Replies, OkReplyHasIdAndOk) {
  EXPECT_EQ(OkReply(7), Json({{"id", 7}, {"ok", true}}));
  const Json null_id = OkReply(nullptr);
  EXPECT_TRUE(null_id.contains("id"));
  EXPECT_TRUE(null_id["id"].is_null());
  EXPECT_EQ(null_id["ok"], true);
  EXPECT_TRUE(StatusOfReply(OkReply(1)).ok());
}

TEST(Replies, ErrorReplyCarriesCodeAndMessage) {
  const Json reply = ErrorReply(9, Status(ErrorCode::kNotFound, "no such file or directory: /a"));
  EXPECT_EQ(reply, Json({{"id", 9}, {"ok", false}, {"code", "ENOENT"}, {"message", "no such file or directory: /a"}}));
}

TEST(Replies, ErrorReplyRoundTripsThroughStatusOfReply) {
  for (const ErrorCode code : {ErrorCode::kNotFound, ErrorCode::kExists, ErrorCode::kQuota, ErrorCode::kProtocol,
                               ErrorCode::kTooBig, ErrorCode::kIo}) {
    const Status original(code, "details");
    const Status decoded = StatusOfReply(ErrorReply(1, original));
    EXPECT_EQ(decoded.code(), code);
    EXPECT_EQ(decoded.message(), "details");
  }
}

TEST(StatusOfReply, UnknownCodeBecomesIoKeepingTheName) {
  const Status status = StatusOfReply({{"id", 1}, {"ok", false}, {"code", "EFUTURE"}, {"message", "later"}});
  EXPECT_EQ(status.code(), ErrorCode::kIo);
  EXPECT_NE(status.message().find("EFUTURE"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("later"), std::string::npos) << status.message();
}

TEST(StatusOfReply, ErrorReplyClaimingOkIsNotSuccess) {
  const Status status = StatusOfReply({{"ok", false}, {"code", "OK"}, {"message", "?"}});
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ErrorCode::kIo);
}

TEST(StatusOfReply, MissingMessageIsTolerated) {
  const Status status = StatusOfReply({{"ok", false}, {"code", "EEXIST"}});
  EXPECT_EQ(status.code(), ErrorCode::kExists);
  EXPECT_EQ(status.message(), "");
}

TEST(StatusOfReply, MalformedRepliesAreProtocolErrors) {
  for (const Json& reply :
       {Json::object(), Json({{"id", 1}}), Json({{"ok", "true"}}), Json({{"ok", 1}}), Json({{"ok", false}}),
        Json({{"ok", false}, {"code", 2}}), Json({{"ok", false}, {"code", nullptr}, {"message", "x"}})}) {
    EXPECT_EQ(StatusOfReply(reply).code(), ErrorCode::kProtocol) << reply.dump();
  }
}

}  // namespace
}  // namespace ferry::protocol
