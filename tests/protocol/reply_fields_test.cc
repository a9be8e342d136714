// Strict reading of replies, the first-error collector, and RequestFields' range and id getters.
#include "protocol/reply_fields.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "message_test_util.h"

namespace ferry::protocol {
namespace {

using testing::FailsNaming;
using testing::FailsWith;

TEST(ReplyFields, MissingRequiredFieldIsAProtocolErrorNamingIt) {
  const Json reply = {{"id", 1}, {"ok", true}};
  const ReplyFields fields(reply);
  EXPECT_TRUE(FailsNaming(fields.Unsigned("size").status(), ErrorCode::kProtocol, "size"));
  EXPECT_TRUE(FailsNaming(fields.String("checksum").status(), ErrorCode::kProtocol, "checksum"));
  EXPECT_TRUE(FailsNaming(fields.Bool("more").status(), ErrorCode::kProtocol, "more"));
  EXPECT_TRUE(FailsNaming(fields.Integer("mtime").status(), ErrorCode::kProtocol, "mtime"));
  EXPECT_TRUE(FailsNaming(fields.Object("entry").status(), ErrorCode::kProtocol, "entry"));
  EXPECT_TRUE(FailsNaming(fields.NullableUnsigned("max_bytes").status(), ErrorCode::kProtocol, "max_bytes"));
}

TEST(ReplyFields, WrongTypeIsAProtocolErrorNamingTheField) {
  const Json reply = {{"s", 5}, {"b", "true"}, {"i", "12"}, {"f", 1.5}, {"o", {1, 2}}, {"n", nullptr}};
  const ReplyFields fields(reply);
  EXPECT_TRUE(FailsNaming(fields.String("s").status(), ErrorCode::kProtocol, "s"));
  EXPECT_TRUE(FailsNaming(fields.OptionalString("s").status(), ErrorCode::kProtocol, "s"));
  EXPECT_TRUE(FailsNaming(fields.Bool("b").status(), ErrorCode::kProtocol, "b"));
  EXPECT_TRUE(FailsNaming(fields.OptionalBool("b", false).status(), ErrorCode::kProtocol, "b"));
  EXPECT_TRUE(FailsNaming(fields.Integer("i").status(), ErrorCode::kProtocol, "i"));
  EXPECT_TRUE(FailsNaming(fields.Unsigned("f").status(), ErrorCode::kProtocol, "f"));
  EXPECT_TRUE(FailsNaming(fields.OptionalUnsigned("i").status(), ErrorCode::kProtocol, "i"));
  EXPECT_TRUE(FailsNaming(fields.Object("o").status(), ErrorCode::kProtocol, "o"));
  EXPECT_TRUE(FailsNaming(fields.Unsigned("n").status(), ErrorCode::kProtocol, "n"));
  EXPECT_TRUE(FailsNaming(fields.NullableUnsigned("b").status(), ErrorCode::kProtocol, "b"));
}

TEST(ReplyFields, UnsignedTakesNonNegativeIntegersUpToTheMaximum) {
  const Json reply = Json::parse(R"({"zero":0,"big":18446744073709551615,"neg":-1,"mode":4095,"over":4096})");
  const ReplyFields fields(reply);
  EXPECT_EQ(*fields.Unsigned("zero"), 0u);
  EXPECT_EQ(*fields.Unsigned("big"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_TRUE(FailsWith(fields.Unsigned("neg").status(), ErrorCode::kProtocol));
  EXPECT_EQ(*fields.Unsigned("mode", 07777), 07777u);
  EXPECT_TRUE(FailsNaming(fields.Unsigned("over", 07777).status(), ErrorCode::kProtocol, "over"));
}

TEST(ReplyFields, UnsignedAcceptsPositiveNumbersBuiltAsSigned) {
  const Json reply = {{"size", std::int64_t{12}}};
  EXPECT_EQ(*ReplyFields(reply).Unsigned("size"), 12u);
}

TEST(ReplyFields, IntegerChecksItsRange) {
  const Json reply = Json::parse(R"({"past":-100,"huge":18446744073709551615,"five":5})");
  const ReplyFields fields(reply);
  EXPECT_EQ(*fields.Integer("past"), -100);
  EXPECT_TRUE(FailsWith(fields.Integer("huge").status(), ErrorCode::kProtocol));
  EXPECT_EQ(*fields.Integer("five", 0, 5), 5);
  EXPECT_TRUE(FailsWith(fields.Integer("five", 0, 4).status(), ErrorCode::kProtocol));
  EXPECT_TRUE(FailsWith(fields.Integer("past", 0, 10).status(), ErrorCode::kProtocol));
}

TEST(ReplyFields, OptionalFieldsMayBeMissing) {
  const Json reply = Json::object();
  const ReplyFields fields(reply);
  EXPECT_FALSE(fields.OptionalString("prefix_checksum")->has_value());
  EXPECT_FALSE(fields.OptionalUnsigned("discarded")->has_value());
  EXPECT_TRUE(*fields.OptionalBool("file", true));
}

TEST(ReplyFields, NullableUnsignedNeedsTheKeyButTakesNull) {
  const Json reply = {{"none", nullptr}, {"some", 10}};
  const ReplyFields fields(reply);
  EXPECT_FALSE(fields.NullableUnsigned("none")->has_value());
  EXPECT_EQ(fields.NullableUnsigned("some")->value(), 10u);
}

// The message says what lacks the field: a server reply unless the reader is told otherwise.
TEST(ReplyFields, NamesWhatItReads) {
  const Json entry = Json::object();
  EXPECT_EQ(ReplyFields(entry).Unsigned("size").status().message(), "server reply lacks field 'size'");
  EXPECT_EQ(ReplyFields(entry, "directory entry").String("name").status().message(),
            "directory entry lacks field 'name'");
}

TEST(ReplyFields, ANonObjectHasNoFields) {
  const Json array = Json::array({1, 2});
  EXPECT_TRUE(FailsNaming(ReplyFields(array).String("name").status(), ErrorCode::kProtocol, "name"));
}

TEST(MoreFollows, RequiresABoolean) {
  EXPECT_TRUE(*MoreFollows({{"more", true}}));
  EXPECT_FALSE(*MoreFollows({{"more", false}}));
  EXPECT_TRUE(FailsNaming(MoreFollows(Json::object()).status(), ErrorCode::kProtocol, "more"));
  EXPECT_TRUE(FailsNaming(MoreFollows({{"more", 1}}).status(), ErrorCode::kProtocol, "more"));
}

TEST(ExpectMore, RefusesTheOtherValue) {
  EXPECT_TRUE(ExpectMore({{"more", true}}, true).ok());
  EXPECT_TRUE(FailsNaming(ExpectMore({{"more", true}}, false), ErrorCode::kProtocol, "more"));
  EXPECT_TRUE(FailsNaming(ExpectMore(Json::object(), false), ErrorCode::kProtocol, "more"));
}

TEST(FirstError, KeepsTheFirstFailureAndStopsStoring) {
  FirstError error;
  int a = 0;
  int b = 0;
  int c = 0;
  error.Take(Result<int>(1), a);
  error.Take(Result<int>(Status(ErrorCode::kInvalid, "first")), b);
  error.Take(Result<int>(Status(ErrorCode::kProtocol, "second")), c);
  error.Take(Result<int>(3), c);
  EXPECT_EQ(a, 1);
  EXPECT_EQ(c, 0);
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), ErrorCode::kInvalid);
  EXPECT_EQ(error.status().message(), "first");
}

TEST(OkReplyWithFields, AppendsTheReplysFieldsAfterIdAndOk) {
  const Json reply = OkReply(9, PutCloseReply{12, "abc"});
  EXPECT_EQ(reply, Json({{"id", 9}, {"ok", true}, {"size", 12}, {"checksum", "abc"}}));
}

TEST(RequestFields, OptionalIntegerChecksTheRangeAndFallsBack) {
  const Json header = Json::parse(R"({"low":-2,"mid":5,"high":11,"text":"5"})");
  const RequestFields fields(header);
  EXPECT_EQ(*fields.OptionalInteger("missing", -1, 0, 10), -1);
  EXPECT_EQ(*fields.OptionalInteger("mid", -1, 0, 10), 5);
  const Status high = fields.OptionalInteger("high", -1, 0, 10).status();
  EXPECT_TRUE(FailsNaming(high, ErrorCode::kInvalid, "high"));
  EXPECT_EQ(high.message(), "field 'high' must be between 0 and 10");
  EXPECT_TRUE(FailsNaming(fields.OptionalInteger("low", 0, -1, 10).status(), ErrorCode::kInvalid, "low"));
  EXPECT_TRUE(FailsNaming(fields.OptionalInteger("text", 0, 0, 10).status(), ErrorCode::kProtocol, "text"));
}

TEST(RequestFields, UnsignedTakesTheWholeRangeOfRequestIds) {
  const Json header = Json::parse(R"({"ref":18446744073709551615,"zero":0,"neg":-1,"text":"1"})");
  const RequestFields fields(header);
  EXPECT_EQ(*fields.Unsigned("ref"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(*fields.Unsigned("zero"), 0u);
  EXPECT_TRUE(FailsNaming(fields.Unsigned("neg").status(), ErrorCode::kProtocol, "neg"));
  EXPECT_TRUE(FailsNaming(fields.Unsigned("text").status(), ErrorCode::kProtocol, "text"));
  EXPECT_TRUE(FailsNaming(fields.Unsigned("missing").status(), ErrorCode::kProtocol, "missing"));
}

TEST(RequestHeader, HoldsTheOperationAndReference) {
  EXPECT_EQ(RequestHeader("pwd"), Json({{"op", "pwd"}}));
  EXPECT_EQ(RequestHeader("data", 5), Json({{"op", "data"}, {"ref", 5}}));
}

}  // namespace
}  // namespace ferry::protocol
