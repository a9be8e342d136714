// stat, ls, mkdir, rmdir, rm, mv, setstat, quota, sum: round trips, the server's checks, the client's strict replies.
#include "protocol/file_operations.h"

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

const std::string kNulPath("a\0b", 3);
const std::string kLongPath(kMaxPathLength + 1, 'a');

DirectoryEntry Docs() {
  return DirectoryEntry{"docs", EntryType::kDirectory, 4096, 0755, 1763932800, 12, 2, ""};
}

// ---- stat ----

TEST(StatRequest, RoundTrips) {
  ExpectRoundTrip(RequestRoundTrip(StatRequest{"docs"}), StatRequest{"docs"});
}

TEST(StatRequest, PathIsOptional) {
  EXPECT_EQ(StatRequest::Parse(Json({{"op", "stat"}}))->path, "");
}

TEST(StatRequest, RejectsBadPaths) {
  EXPECT_TRUE(FailsNaming(StatRequest::Parse(Json({{"path", 5}})).status(), ErrorCode::kProtocol, "path"));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(StatRequest{kNulPath}).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(StatRequest{kLongPath}).status(), ErrorCode::kNameTooLong));
}

TEST(StatReply, RoundTrips) {
  ExpectRoundTrip(ReplyRoundTrip(StatReply{Docs()}), StatReply{Docs()});
}

TEST(StatReply, RejectsAMissingEntryOrAnEntryMissingAField) {
  EXPECT_TRUE(FailsNaming(StatReply::Parse(OkReply(1)).status(), ErrorCode::kProtocol, "entry"));
  EXPECT_TRUE(FailsNaming(StatReply::Parse(With(OkReply(1), "entry", "docs")).status(), ErrorCode::kProtocol, "entry"));
  EXPECT_TRUE(FailsNaming(StatReply::Parse(With(OkReply(1), "entry", Without(Docs().Encode(), "type"))).status(),
                          ErrorCode::kProtocol, "type"));
}

// ---- ls ----

TEST(ListRequest, RoundTrips) {
  ExpectRoundTrip(RequestRoundTrip(ListRequest{"/", ""}), ListRequest{"/", ""});
  ExpectRoundTrip(RequestRoundTrip(ListRequest{"", ""}), ListRequest{"", ""});
  ExpectRoundTrip(RequestRoundTrip(ListRequest{"photos", "2024-*"}), ListRequest{"photos", "2024-*"});
  EXPECT_FALSE((ListRequest{"a", ""}.Encode().contains("match")));
}

TEST(ListRequest, RejectsBadPathsAndPatterns) {
  EXPECT_TRUE(FailsNaming(ListRequest::Parse(Json({{"path", true}})).status(), ErrorCode::kProtocol, "path"));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(ListRequest{kNulPath, ""}).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(ListRequest{kLongPath, ""}).status(), ErrorCode::kNameTooLong));
  EXPECT_TRUE(FailsNaming(ListRequest::Parse(Json({{"match", 5}})).status(), ErrorCode::kProtocol, "match"));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(ListRequest{"", "a/*"}).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(ListRequest{"", std::string(256, '*')}).status(), ErrorCode::kNameTooLong));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(ListRequest{"", kNulPath}).status(), ErrorCode::kInvalid));
}

TEST(SymlinkRequest, RoundTripsAndNeedsBothPaths) {
  ExpectRoundTrip(RequestRoundTrip(SymlinkRequest{"latest", "reports/2026"}),
                  SymlinkRequest{"latest", "reports/2026"});
  EXPECT_TRUE(FailsNaming(SymlinkRequest::Parse(Json({{"path", "a"}})).status(), ErrorCode::kProtocol, "target"));
  EXPECT_TRUE(FailsNaming(SymlinkRequest::Parse(Json({{"target", "a"}})).status(), ErrorCode::kProtocol, "path"));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(SymlinkRequest{"a", kNulPath}).status(), ErrorCode::kInvalid));
}

TEST(CpRequest, RoundTripsAndNeedsBothPaths) {
  ExpectRoundTrip(RequestRoundTrip(CpRequest{"a", "b", true, false}), CpRequest{"a", "b", true, false});
  ExpectRoundTrip(RequestRoundTrip(CpRequest{"a", "dir/", false, true}), CpRequest{"a", "dir/", false, true});
  ExpectRoundTrip(RequestRoundTrip(CpRequest{"a", "b", false, false, true}), CpRequest{"a", "b", false, false, true});
  EXPECT_TRUE(FailsNaming(CpRequest::Parse(Json({{"from", "a"}})).status(), ErrorCode::kProtocol, "to"));
  EXPECT_TRUE(FailsNaming(CpRequest::Parse(Json({{"to", "a"}})).status(), ErrorCode::kProtocol, "from"));
  EXPECT_TRUE(FailsNaming(CpRequest::Parse(Json({{"from", "a"}, {"to", "b"}, {"preserve", "yes"}})).status(),
                          ErrorCode::kProtocol, "preserve"));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(CpRequest{kNulPath, "b"}).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(CpRequest{"a", kLongPath}).status(), ErrorCode::kNameTooLong));
}

TEST(CpReply, RoundTripsAndRejectsEachMissingField) {
  const CpReply reply{"/docs/a.txt", 4096};
  ExpectRoundTrip(ReplyRoundTrip(reply), reply);
  const Json json = OkReply(1, reply);
  for (const char* field : {"path", "size"}) {
    EXPECT_TRUE(FailsNaming(CpReply::Parse(Without(json, field)).status(), ErrorCode::kProtocol, field));
  }
}

TEST(ListReply, RoundTripsWithItsBody) {
  for (const ListReply& reply :
       {ListReply{true, false, {Docs(), Docs()}}, ListReply{false, false, {}},
        ListReply{false, true, {DirectoryEntry{"a.txt", EntryType::kFile, 1, 0600, 5, 0, 1, ""}}}}) {
    const Json header = testing::OverTheWire(OkReply(3, reply));
    ExpectRoundTrip(ListReply::Parse(header, reply.EncodeBody()), reply);
  }
}

TEST(ListReply, FileIsOnTheWireOnlyWhenTrue) {
  EXPECT_FALSE(OkReply(1, ListReply{false, false, {}}).contains("file"));
  EXPECT_EQ(OkReply(1, ListReply{false, true, {}})["file"], true);
}

TEST(ListReply, RejectsAMissingMoreOrAMalformedBody) {
  const ListReply reply{false, false, {Docs()}};
  EXPECT_TRUE(FailsNaming(ListReply::Parse(OkReply(1), reply.EncodeBody()).status(), ErrorCode::kProtocol, "more"));
  EXPECT_TRUE(FailsWith(ListReply::Parse(OkReply(1, reply), "{}").status(), ErrorCode::kProtocol));
  EXPECT_TRUE(
      FailsNaming(ListReply::Parse(OkReply(1, reply), "[" + Without(Docs().Encode(), "size").dump() + "]").status(),
                  ErrorCode::kProtocol, "size"));
}

// ---- mkdir, rmdir, rm, mv ----

TEST(MkdirRequest, RoundTrips) {
  ExpectRoundTrip(RequestRoundTrip(MkdirRequest{"a/b", true}), MkdirRequest{"a/b", true});
  ExpectRoundTrip(RequestRoundTrip(MkdirRequest{"a", false}), MkdirRequest{"a", false});
}

TEST(MkdirRequest, RejectsAMissingPathAndANonBooleanParents) {
  const Json header = MkdirRequest{"a", false}.Encode();
  EXPECT_TRUE(FailsNaming(MkdirRequest::Parse(Without(header, "path")).status(), ErrorCode::kProtocol, "path"));
  EXPECT_TRUE(
      FailsNaming(MkdirRequest::Parse(With(header, "parents", "yes")).status(), ErrorCode::kProtocol, "parents"));
  EXPECT_FALSE(MkdirRequest::Parse(Without(header, "parents"))->parents);
}

TEST(MkdirRequest, RejectsBadPaths) {
  EXPECT_TRUE(FailsWith(RequestRoundTrip(MkdirRequest{kNulPath, false}).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(MkdirRequest{kLongPath, false}).status(), ErrorCode::kNameTooLong));
}

TEST(RmdirRequest, RoundTrips) {
  ExpectRoundTrip(RequestRoundTrip(RmdirRequest{"old"}), RmdirRequest{"old"});
}

TEST(RmdirRequest, RejectsAMissingOrBadPath) {
  EXPECT_TRUE(FailsNaming(RmdirRequest::Parse(Json({{"op", "rmdir"}})).status(), ErrorCode::kProtocol, "path"));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(RmdirRequest{kNulPath}).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(RmdirRequest{kLongPath}).status(), ErrorCode::kNameTooLong));
}

TEST(RmRequest, RoundTrips) {
  ExpectRoundTrip(RequestRoundTrip(RmRequest{"tree", true}), RmRequest{"tree", true});
  ExpectRoundTrip(RequestRoundTrip(RmRequest{"file", false}), RmRequest{"file", false});
}

TEST(RmRequest, RejectsAMissingPathAndANonBooleanRecursive) {
  const Json header = RmRequest{"a", false}.Encode();
  EXPECT_TRUE(FailsNaming(RmRequest::Parse(Without(header, "path")).status(), ErrorCode::kProtocol, "path"));
  EXPECT_TRUE(FailsNaming(RmRequest::Parse(With(header, "recursive", 1)).status(), ErrorCode::kProtocol, "recursive"));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(RmRequest{kNulPath, false}).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(RmRequest{kLongPath, false}).status(), ErrorCode::kNameTooLong));
}

TEST(MvRequest, RoundTrips) {
  ExpectRoundTrip(RequestRoundTrip(MvRequest{"a", "b", true}), MvRequest{"a", "b", true});
  ExpectRoundTrip(RequestRoundTrip(MvRequest{"a", "dir/", false}), MvRequest{"a", "dir/", false});
}

TEST(MvRequest, RequiresFromAndTo) {
  const Json header = MvRequest{"a", "b", false}.Encode();
  EXPECT_TRUE(FailsNaming(MvRequest::Parse(Without(header, "from")).status(), ErrorCode::kProtocol, "from"));
  EXPECT_TRUE(FailsNaming(MvRequest::Parse(Without(header, "to")).status(), ErrorCode::kProtocol, "to"));
  EXPECT_TRUE(
      FailsNaming(MvRequest::Parse(With(header, "overwrite", "no")).status(), ErrorCode::kProtocol, "overwrite"));
}

TEST(MvRequest, ChecksBothPaths) {
  EXPECT_TRUE(FailsNaming(RequestRoundTrip(MvRequest{"a", kNulPath, false}).status(), ErrorCode::kInvalid, "to"));
  EXPECT_TRUE(
      FailsNaming(RequestRoundTrip(MvRequest{kLongPath, "b", false}).status(), ErrorCode::kNameTooLong, "from"));
}

// ---- setstat ----

TEST(SetStatRequest, RoundTrips) {
  const SetStatRequest everything{"docs", 0750, 1763932800, 999999999};
  ExpectRoundTrip(RequestRoundTrip(everything), everything);
  const SetStatRequest nothing{"docs", std::nullopt, std::nullopt, 0};
  ExpectRoundTrip(RequestRoundTrip(nothing), nothing);
  EXPECT_FALSE(nothing.Encode().contains("mode"));
  EXPECT_FALSE(nothing.Encode().contains("mtime"));
}

TEST(SetStatRequest, TakesTheWholeRanges) {
  const SetStatRequest limits{"", kMaxModeBits, kMaxModificationTime, kMaxNanoseconds};
  ExpectRoundTrip(RequestRoundTrip(limits), limits);
  const SetStatRequest zeros{"", 0, 0, 0};
  ExpectRoundTrip(RequestRoundTrip(zeros), zeros);
}

TEST(SetStatRequest, RejectsValuesOutOfRange) {
  const Json header = SetStatRequest{"docs", 0644, 5, 0}.Encode();
  EXPECT_TRUE(FailsNaming(SetStatRequest::Parse(With(header, "mode", 010000)).status(), ErrorCode::kInvalid, "mode"));
  EXPECT_TRUE(FailsNaming(SetStatRequest::Parse(With(header, "mode", -1)).status(), ErrorCode::kInvalid, "mode"));
  EXPECT_TRUE(FailsNaming(SetStatRequest::Parse(With(header, "mtime", -1)).status(), ErrorCode::kInvalid, "mtime"));
  EXPECT_TRUE(FailsNaming(SetStatRequest::Parse(With(header, "mtime", kMaxModificationTime + 1)).status(),
                          ErrorCode::kInvalid, "mtime"));
  EXPECT_TRUE(FailsNaming(SetStatRequest::Parse(With(header, "mtime_nsec", kMaxNanoseconds + 1)).status(),
                          ErrorCode::kInvalid, "mtime_nsec"));
}

TEST(SetStatRequest, RejectsFieldsOfTheWrongType) {
  const Json header = SetStatRequest{"docs", 0644, 5, 0}.Encode();
  EXPECT_TRUE(FailsNaming(SetStatRequest::Parse(With(header, "mode", "0644")).status(), ErrorCode::kProtocol, "mode"));
  EXPECT_TRUE(FailsNaming(SetStatRequest::Parse(With(header, "mtime", 1.5)).status(), ErrorCode::kProtocol, "mtime"));
  EXPECT_TRUE(FailsNaming(SetStatRequest::Parse(With(header, "path", 1)).status(), ErrorCode::kProtocol, "path"));
  EXPECT_TRUE(
      FailsWith(RequestRoundTrip(SetStatRequest{kNulPath, 0644, std::nullopt, 0}).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(
      FailsWith(RequestRoundTrip(SetStatRequest{kLongPath, 0644, std::nullopt, 0}).status(), ErrorCode::kNameTooLong));
}

// ---- quota ----

TEST(QuotaRequest, RoundTrips) {
  EXPECT_EQ(QuotaRequest{}.Encode(), Json({{"op", "quota"}}));
  EXPECT_TRUE(RequestRoundTrip(QuotaRequest{}).ok());
}

TEST(QuotaReply, RoundTripsWithAndWithoutLimits) {
  const QuotaReply limited{100, 20, 1000, 3, 1, 10};
  ExpectRoundTrip(ReplyRoundTrip(limited), limited);
  const QuotaReply unlimited{100, 0, std::nullopt, 3, 0, std::nullopt};
  ExpectRoundTrip(ReplyRoundTrip(unlimited), unlimited);
  EXPECT_TRUE(OkReply(1, unlimited)["max_bytes"].is_null());
}

TEST(QuotaReply, RejectsEachMissingField) {
  const Json reply = OkReply(1, QuotaReply{100, 20, std::nullopt, 3, 1, 10});
  for (const char* field : {"bytes", "bytes_reserved", "max_bytes", "files", "files_reserved", "max_files"}) {
    EXPECT_TRUE(FailsNaming(QuotaReply::Parse(Without(reply, field)).status(), ErrorCode::kProtocol, field));
  }
}

TEST(QuotaReply, RejectsALimitThatIsNeitherNullNorANumber) {
  const Json reply = OkReply(1, QuotaReply{});
  EXPECT_TRUE(
      FailsNaming(QuotaReply::Parse(With(reply, "max_bytes", "none")).status(), ErrorCode::kProtocol, "max_bytes"));
  EXPECT_TRUE(FailsNaming(QuotaReply::Parse(With(reply, "files", -1)).status(), ErrorCode::kProtocol, "files"));
}

// ---- sum ----

TEST(SumRequest, RoundTrips) {
  const SumRequest whole{"a.iso", "sha256", std::nullopt};
  ExpectRoundTrip(RequestRoundTrip(whole), whole);
  const SumRequest prefix{"a.iso", "xxh3", 4096};
  ExpectRoundTrip(RequestRoundTrip(prefix), prefix);
  EXPECT_FALSE(whole.Encode().contains("length"));
}

TEST(SumRequest, DefaultsToTheDefaultChecksumOfTheWholeFile) {
  auto parsed = SumRequest::Parse(Json({{"op", "sum"}, {"path", "a"}}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->algo, "xxh3");
  EXPECT_FALSE(parsed->length.has_value());
}

TEST(SumRequest, RejectsALengthOutOfRange) {
  const Json header = SumRequest{"a", "xxh3", std::nullopt}.Encode();
  EXPECT_TRUE(FailsNaming(SumRequest::Parse(With(header, "length", -1)).status(), ErrorCode::kInvalid, "length"));
  EXPECT_TRUE(
      FailsNaming(SumRequest::Parse(With(header, "length", kMaxFileSize + 1)).status(), ErrorCode::kInvalid, "length"));
  EXPECT_EQ(SumRequest::Parse(With(header, "length", kMaxFileSize))->length, static_cast<std::uint64_t>(kMaxFileSize));
}

TEST(SumRequest, RejectsFieldsOfTheWrongType) {
  const Json header = SumRequest{"a", "xxh3", std::nullopt}.Encode();
  EXPECT_TRUE(FailsNaming(SumRequest::Parse(With(header, "algo", 3)).status(), ErrorCode::kProtocol, "algo"));
  EXPECT_TRUE(FailsNaming(SumRequest::Parse(With(header, "length", "10")).status(), ErrorCode::kProtocol, "length"));
  EXPECT_TRUE(FailsWith(RequestRoundTrip(SumRequest{kNulPath, "xxh3", std::nullopt}).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(
      FailsWith(RequestRoundTrip(SumRequest{kLongPath, "xxh3", std::nullopt}).status(), ErrorCode::kNameTooLong));
}

TEST(SumReply, RoundTrips) {
  const SumReply reply{"0123456789abcdef0123456789abcdef", "xxh3", 12345};
  ExpectRoundTrip(ReplyRoundTrip(reply), reply);
}

TEST(SumReply, RejectsEachMissingField) {
  const Json reply = OkReply(1, SumReply{"ab", "md5", 1});
  for (const char* field : {"checksum", "algo", "size"}) {
    EXPECT_TRUE(FailsNaming(SumReply::Parse(Without(reply, field)).status(), ErrorCode::kProtocol, field));
  }
}

}  // namespace
}  // namespace ferry::protocol
