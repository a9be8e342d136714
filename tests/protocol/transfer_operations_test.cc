// put, data, put_close, put_abort, get and its frames: round trips, the server's checks, the client's strict replies.
#include "protocol/transfer_operations.h"

#include <limits>

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

PutRequest Upload() {
  return PutRequest{"docs/a.txt", 12345, 0640, 1763932800, 5, "sha256", true};
}

// ---- put ----

TEST(PutRequest, RoundTrips) {
  ExpectRoundTrip(RequestRoundTrip(Upload()), Upload());
  const PutRequest no_time{"a", 0, 0644, std::nullopt, 0, "xxh3", false};
  ExpectRoundTrip(RequestRoundTrip(no_time), no_time);
}

TEST(PutRequest, EncodesTheDocumentedHeader) {
  EXPECT_EQ(PutRequest({"docs/a.txt", 12345, 420, 1763932800, 0, "xxh3", false}).Encode(),
            Json::parse(R"({"op": "put", "path": "docs/a.txt", "size": 12345, "mode": 420, "mtime": 1763932800,
                            "mtime_nsec": 0, "algo": "xxh3", "resume": false})"));
}

TEST(PutRequest, DefaultsMatchTheProtocol) {
  auto parsed = PutRequest::Parse(Json({{"op", "put"}, {"path", "a"}, {"size", 3}}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, (PutRequest{"a", 3, 0644, std::nullopt, 0, "xxh3", false}));
}

TEST(PutRequest, RequiresSize) {
  const Status status = PutRequest::Parse(Without(Upload().Encode(), "size")).status();
  EXPECT_TRUE(FailsNaming(status, ErrorCode::kProtocol, "size"));
  // The wording is the point: unlike other missing fields, put's says what the field means.
  EXPECT_EQ(status.message(), "put needs 'size', the number of bytes to come");
}

TEST(PutRequest, RejectsSizeAboveTheLimit) {
  const Json header = Upload().Encode();
  EXPECT_TRUE(
      FailsNaming(PutRequest::Parse(With(header, "size", kMaxFileSize + 1)).status(), ErrorCode::kInvalid, "size"));
  EXPECT_EQ(PutRequest::Parse(With(header, "size", kMaxFileSize))->size, static_cast<std::uint64_t>(kMaxFileSize));
}

TEST(PutRequest, RejectsANegativeOrNonIntegerSize) {
  const Json header = Upload().Encode();
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "size", -1)).status(), ErrorCode::kInvalid, "size"));
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "size", "10")).status(), ErrorCode::kProtocol, "size"));
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "size", 1.0)).status(), ErrorCode::kProtocol, "size"));
}

TEST(PutRequest, RejectsModeAboveThePermissionBits) {
  const Json header = Upload().Encode();
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "mode", 010000)).status(), ErrorCode::kInvalid, "mode"));
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "mode", -1)).status(), ErrorCode::kInvalid, "mode"));
  EXPECT_EQ(PutRequest::Parse(With(header, "mode", 07777))->mode, 07777u);
}

TEST(PutRequest, TakesMinusOneAsNoModificationTime) {
  auto parsed = PutRequest::Parse(With(Upload().Encode(), "mtime", -1));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_FALSE(parsed->mtime.has_value());
}

TEST(PutRequest, RejectsModificationTimesOutOfRange) {
  const Json header = Upload().Encode();
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "mtime", -2)).status(), ErrorCode::kInvalid, "mtime"));
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "mtime", kMaxModificationTime + 1)).status(),
                          ErrorCode::kInvalid, "mtime"));
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "mtime_nsec", kMaxNanoseconds + 1)).status(),
                          ErrorCode::kInvalid, "mtime_nsec"));
  EXPECT_TRUE(
      FailsNaming(PutRequest::Parse(With(header, "mtime_nsec", -1)).status(), ErrorCode::kInvalid, "mtime_nsec"));
}

TEST(PutRequest, RejectsFieldsOfTheWrongType) {
  const Json header = Upload().Encode();
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "resume", "yes")).status(), ErrorCode::kProtocol, "resume"));
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "algo", 1)).status(), ErrorCode::kProtocol, "algo"));
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "path", nullptr)).status(), ErrorCode::kProtocol, "path"));
}

TEST(PutRequest, RequiresAGoodPath) {
  const Json header = Upload().Encode();
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(Without(header, "path")).status(), ErrorCode::kProtocol, "path"));
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "path", std::string("a\0b", 3))).status(), ErrorCode::kInvalid,
                          "path"));
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(With(header, "path", std::string(kMaxPathLength + 1, 'a'))).status(),
                          ErrorCode::kNameTooLong, "path"));
}

TEST(PutRequest, ReportsThePathBeforeTheSizeAndTheSizeBeforeTheRest) {
  const Json bad_path_and_size = With(Without(Upload().Encode(), "size"), "path", 1);
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(bad_path_and_size).status(), ErrorCode::kProtocol, "path"));
  const Json no_size_bad_mode = With(Without(Upload().Encode(), "size"), "mode", 010000);
  EXPECT_TRUE(FailsNaming(PutRequest::Parse(no_size_bad_mode).status(), ErrorCode::kProtocol, "size"));
}

TEST(PutReply, RoundTrips) {
  for (const PutReply& reply :
       {PutReply{0, std::nullopt, 0}, PutReply{4096, "abcdef", 0}, PutReply{0, std::nullopt, 777}}) {
    ExpectRoundTrip(ReplyRoundTrip(reply), reply);
  }
}

TEST(PutReply, OptionalFieldsAreAbsentWhenUnset) {
  const Json reply = OkReply(5, PutReply{0, std::nullopt, 0});
  EXPECT_EQ(reply, Json({{"id", 5}, {"ok", true}, {"offset", 0}}));
}

TEST(PutReply, RejectsAMissingOffsetAndOptionalFieldsOfTheWrongType) {
  EXPECT_TRUE(FailsNaming(PutReply::Parse(OkReply(5)).status(), ErrorCode::kProtocol, "offset"));
  const Json reply = OkReply(5, PutReply{10, "ab", 0});
  EXPECT_TRUE(FailsNaming(PutReply::Parse(With(reply, "prefix_checksum", 5)).status(), ErrorCode::kProtocol,
                          "prefix_checksum"));
  EXPECT_TRUE(FailsNaming(PutReply::Parse(With(reply, "discarded", "5")).status(), ErrorCode::kProtocol, "discarded"));
}

// ---- data, put_close, put_abort ----

TEST(UploadDataFrame, RoundTripsWithoutAnId) {
  const UploadDataFrame frame{5};
  EXPECT_EQ(frame.Encode(), Json({{"op", "data"}, {"ref", 5}}));
  ExpectRoundTrip(UploadDataFrame::Parse(testing::OverTheWire(frame.Encode())), frame);
}

TEST(UploadDataFrame, TakesEveryRequestId) {
  const UploadDataFrame frame{std::numeric_limits<std::uint64_t>::max()};
  ExpectRoundTrip(UploadDataFrame::Parse(testing::OverTheWire(frame.Encode())), frame);
}

TEST(UploadDataFrame, RejectsAMissingOrNegativeRef) {
  EXPECT_TRUE(FailsNaming(UploadDataFrame::Parse(Json({{"op", "data"}})).status(), ErrorCode::kProtocol, "ref"));
  EXPECT_TRUE(FailsNaming(UploadDataFrame::Parse(Json::parse(R"({"op":"data","ref":-1})")).status(),
                          ErrorCode::kProtocol, "ref"));
  EXPECT_TRUE(
      FailsNaming(UploadDataFrame::Parse(Json({{"op", "data"}, {"ref", "5"}})).status(), ErrorCode::kProtocol, "ref"));
}

TEST(PutCloseRequest, RoundTrips) {
  const PutCloseRequest request{5, "0123abcd"};
  ExpectRoundTrip(RequestRoundTrip(request), request);
}

TEST(PutCloseRequest, RejectsAMissingRefOrChecksum) {
  const Json header = PutCloseRequest{5, "ab"}.Encode();
  EXPECT_TRUE(FailsNaming(PutCloseRequest::Parse(Without(header, "ref")).status(), ErrorCode::kProtocol, "ref"));
  EXPECT_TRUE(
      FailsNaming(PutCloseRequest::Parse(Without(header, "checksum")).status(), ErrorCode::kProtocol, "checksum"));
  EXPECT_TRUE(
      FailsNaming(PutCloseRequest::Parse(With(header, "checksum", 12)).status(), ErrorCode::kProtocol, "checksum"));
  EXPECT_TRUE(FailsNaming(PutCloseRequest::Parse(With(header, "ref", -5)).status(), ErrorCode::kProtocol, "ref"));
}

TEST(PutCloseReply, RoundTrips) {
  ExpectRoundTrip(ReplyRoundTrip(PutCloseReply{12345, "ab"}), PutCloseReply{12345, "ab"});
}

TEST(PutCloseReply, RejectsEachMissingField) {
  const Json reply = OkReply(6, PutCloseReply{1, "ab"});
  for (const char* field : {"size", "checksum"}) {
    EXPECT_TRUE(FailsNaming(PutCloseReply::Parse(Without(reply, field)).status(), ErrorCode::kProtocol, field));
  }
}

TEST(PutAbortRequest, RoundTrips) {
  ExpectRoundTrip(RequestRoundTrip(PutAbortRequest{5}), PutAbortRequest{5});
}

TEST(PutAbortRequest, RejectsAMissingRef) {
  EXPECT_TRUE(FailsNaming(PutAbortRequest::Parse(Json({{"op", "put_abort"}})).status(), ErrorCode::kProtocol, "ref"));
}

// ---- get ----

TEST(GetRequest, RoundTrips) {
  const GetRequest request{"docs/a.txt", 4096, "md5"};
  ExpectRoundTrip(RequestRoundTrip(request), request);
}

TEST(GetRequest, DefaultsToTheWholeFileAndTheDefaultChecksum) {
  auto parsed = GetRequest::Parse(Json({{"op", "get"}, {"path", "a"}}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, (GetRequest{"a", 0, "xxh3"}));
}

TEST(GetRequest, RejectsAnOffsetOutOfRange) {
  const Json header = GetRequest{"a", 0, "xxh3"}.Encode();
  EXPECT_TRUE(FailsNaming(GetRequest::Parse(With(header, "offset", -1)).status(), ErrorCode::kInvalid, "offset"));
  EXPECT_TRUE(
      FailsNaming(GetRequest::Parse(With(header, "offset", kMaxFileSize + 1)).status(), ErrorCode::kInvalid, "offset"));
  EXPECT_TRUE(FailsNaming(GetRequest::Parse(With(header, "offset", "0")).status(), ErrorCode::kProtocol, "offset"));
}

TEST(GetRequest, RejectsBadPathsAndAlgorithms) {
  const Json header = GetRequest{"a", 0, "xxh3"}.Encode();
  EXPECT_TRUE(FailsNaming(GetRequest::Parse(With(header, "algo", false)).status(), ErrorCode::kProtocol, "algo"));
  EXPECT_TRUE(
      FailsNaming(GetRequest::Parse(With(header, "path", std::string("\0", 1))).status(), ErrorCode::kInvalid, "path"));
  EXPECT_TRUE(FailsNaming(GetRequest::Parse(With(header, "path", std::string(kMaxPathLength + 1, '/'))).status(),
                          ErrorCode::kNameTooLong, "path"));
}

TEST(GetHeadReply, RoundTrips) {
  const GetHeadReply head{12345, 0644, 1763932800, 999, 100};
  ExpectRoundTrip(ReplyRoundTrip(head), head);
  EXPECT_EQ(OkReply(9, head)["more"], true);
}

TEST(GetHeadReply, RejectsEachMissingField) {
  const Json reply = OkReply(9, GetHeadReply{1, 0644, 2, 3, 0});
  for (const char* field : {"more", "size", "mode", "mtime", "mtime_nsec", "offset"}) {
    EXPECT_TRUE(FailsNaming(GetHeadReply::Parse(Without(reply, field)).status(), ErrorCode::kProtocol, field));
  }
}

TEST(GetHeadReply, RequiresMoreToFollow) {
  EXPECT_TRUE(FailsNaming(GetHeadReply::Parse(With(OkReply(9, GetHeadReply{}), "more", false)).status(),
                          ErrorCode::kProtocol, "more"));
}

TEST(GetDataReply, RoundTrips) {
  EXPECT_EQ(OkReply(9, GetDataReply{}), Json({{"id", 9}, {"ok", true}, {"more", true}}));
  EXPECT_TRUE(ReplyRoundTrip(GetDataReply{}).ok());
}

TEST(GetDataReply, RequiresMoreToFollow) {
  EXPECT_TRUE(FailsNaming(GetDataReply::Parse(OkReply(9)).status(), ErrorCode::kProtocol, "more"));
  EXPECT_TRUE(FailsWith(GetDataReply::Parse(With(OkReply(9), "more", false)).status(), ErrorCode::kProtocol));
}

TEST(GetTailReply, RoundTrips) {
  const GetTailReply tail{12345, "0123abcd"};
  ExpectRoundTrip(ReplyRoundTrip(tail), tail);
  EXPECT_EQ(OkReply(9, tail)["more"], false);
}

TEST(GetTailReply, RejectsEachMissingField) {
  const Json reply = OkReply(9, GetTailReply{1, "ab"});
  for (const char* field : {"more", "size", "checksum"}) {
    EXPECT_TRUE(FailsNaming(GetTailReply::Parse(Without(reply, field)).status(), ErrorCode::kProtocol, field));
  }
}

TEST(GetTailReply, RequiresTheStreamToEnd) {
  EXPECT_TRUE(FailsNaming(GetTailReply::Parse(With(OkReply(9, GetTailReply{1, "ab"}), "more", true)).status(),
                          ErrorCode::kProtocol, "more"));
}

}  // namespace
}  // namespace ferry::protocol
