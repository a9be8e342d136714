// The entry object of stat and ls: one encoder, one parser.
#include "protocol/directory_entry.h"

#include <gtest/gtest.h>

#include "message_test_util.h"

namespace ferry::protocol {
namespace {

using testing::FailsNaming;
using testing::FailsWith;
using testing::OverTheWire;
using testing::With;
using testing::Without;

DirectoryEntry Notes() {
  return DirectoryEntry{"notes.txt", EntryType::kFile, 1234, 0644, 1763932800, 5, 1, ""};
}

TEST(DirectoryEntry, EncodesTheDocumentedObject) {
  EXPECT_EQ(Notes().Encode(), Json::parse(R"({"name": "notes.txt", "type": "file", "size": 1234, "mode": 420,
                                              "mtime": 1763932800, "mtime_nsec": 5, "nlink": 1})"));
}

TEST(DirectoryEntry, RoundTripsThroughTheWire) {
  for (const DirectoryEntry& entry :
       {Notes(), DirectoryEntry{"docs", EntryType::kDirectory, 4096, 07755, 0, 999999999, 3, ""},
        DirectoryEntry{"link", EntryType::kLink, 7, 0777, -86400, 0, 1, "../docs"},
        DirectoryEntry{"fifo", EntryType::kOther, 0, 0, 1, 0, 1, ""}, DirectoryEntry{"ü\xef\xbf\xbd", {}, 0, 0, 0, 0, 0, ""}}) {
    auto parsed = DirectoryEntry::Parse(OverTheWire(entry.Encode()));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, entry) << entry.name;
  }
}

TEST(DirectoryEntry, RejectsEachMissingField) {
  const Json entry = Notes().Encode();
  for (const char* field : {"name", "type", "size", "mode", "mtime", "mtime_nsec", "nlink"}) {
    const Status status = DirectoryEntry::Parse(Without(entry, field)).status();
    EXPECT_TRUE(FailsNaming(status, ErrorCode::kProtocol, field));
  }
  EXPECT_EQ(DirectoryEntry::Parse(Without(entry, "size")).status().message(), "directory entry lacks field 'size'");
}

TEST(DirectoryEntry, RejectsFieldsOfTheWrongType) {
  const Json entry = Notes().Encode();
  EXPECT_TRUE(FailsNaming(DirectoryEntry::Parse(With(entry, "name", 5)).status(), ErrorCode::kProtocol, "name"));
  EXPECT_TRUE(FailsNaming(DirectoryEntry::Parse(With(entry, "type", 1)).status(), ErrorCode::kProtocol, "type"));
  EXPECT_TRUE(FailsNaming(DirectoryEntry::Parse(With(entry, "size", "1")).status(), ErrorCode::kProtocol, "size"));
  EXPECT_TRUE(FailsNaming(DirectoryEntry::Parse(With(entry, "size", -1)).status(), ErrorCode::kProtocol, "size"));
  EXPECT_TRUE(FailsNaming(DirectoryEntry::Parse(With(entry, "mtime", 1.5)).status(), ErrorCode::kProtocol, "mtime"));
  EXPECT_TRUE(
      FailsNaming(DirectoryEntry::Parse(With(entry, "nlink", nullptr)).status(), ErrorCode::kProtocol, "nlink"));
}

TEST(DirectoryEntry, RejectsModeAndNanosecondsOutOfRange) {
  const Json entry = Notes().Encode();
  EXPECT_TRUE(FailsNaming(DirectoryEntry::Parse(With(entry, "mode", 010000)).status(), ErrorCode::kProtocol, "mode"));
  EXPECT_TRUE(FailsNaming(DirectoryEntry::Parse(With(entry, "mtime_nsec", 1000000000)).status(), ErrorCode::kProtocol,
                          "mtime_nsec"));
}

TEST(DirectoryEntry, ALinksTargetIsSentOnlyForALinkAndMustBeAString) {
  EXPECT_FALSE(Notes().Encode().contains("target"));
  const DirectoryEntry link{"latest", EntryType::kLink, 4, 0777, 1, 0, 1, "docs"};
  EXPECT_EQ(link.Encode()["target"], "docs");
  EXPECT_TRUE(FailsNaming(DirectoryEntry::Parse(With(Notes().Encode(), "target", 5)).status(), ErrorCode::kProtocol,
                          "target"));
}

TEST(DirectoryEntry, RejectsWhatIsNotAnObject) {
  EXPECT_TRUE(FailsWith(DirectoryEntry::Parse(Json::array()).status(), ErrorCode::kProtocol));
  EXPECT_TRUE(FailsWith(DirectoryEntry::Parse("notes.txt").status(), ErrorCode::kProtocol));
}

TEST(DirectoryEntry, UnknownTypeNamesAreOther) {
  auto parsed = DirectoryEntry::Parse(With(Notes().Encode(), "type", "socket"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->type, EntryType::kOther);
}

TEST(EntryType, NamesRoundTrip) {
  for (const EntryType type : {EntryType::kFile, EntryType::kDirectory, EntryType::kLink, EntryType::kOther}) {
    EXPECT_EQ(EntryTypeFromName(EntryTypeName(type)), type);
  }
  EXPECT_EQ(EntryTypeName(EntryType::kDirectory), "dir");
}

TEST(EntryList, RoundTripsAsABody) {
  const std::vector<DirectoryEntry> entries = {Notes(), DirectoryEntry{"a", EntryType::kDirectory, 0, 0755, 2, 0, 2, ""}};
  auto parsed = ParseEntryList(EncodeEntryList(entries));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, entries);
  EXPECT_EQ(EncodeEntryList({}), "[]");
  EXPECT_TRUE(ParseEntryList("[]")->empty());
}

TEST(EntryList, RejectsABodyThatIsNotAnArray) {
  for (const char* body : {"", "{}", "[", "\"x\"", "null"}) {
    EXPECT_TRUE(FailsWith(ParseEntryList(body).status(), ErrorCode::kProtocol)) << body;
  }
}

TEST(EntryList, RejectsAMalformedEntry) {
  const std::string body = "[" + Notes().Encode().dump() + "," + Without(Notes().Encode(), "nlink").dump() + "]";
  EXPECT_TRUE(FailsNaming(ParseEntryList(body).status(), ErrorCode::kProtocol, "nlink"));
  EXPECT_TRUE(FailsWith(ParseEntryList("[1]").status(), ErrorCode::kProtocol));
}

}  // namespace
}  // namespace ferry::protocol
