// The entry object of stat and ls: one encoder, one parser.
#include "protocol/directory_entry.h"

#include <gtest/gtest.h>

#include <limits>

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

// Entries the direct reader takes (strings of printable ASCII without escapes) with every number at its edges.
std::vector<DirectoryEntry> PlainEdgeEntries() {
  return {Notes(),
          DirectoryEntry{"docs", EntryType::kDirectory, 4096, 07777, 0, 999999999, 3, ""},
          DirectoryEntry{"link", EntryType::kLink, 7, 0777, -86400, 0, 1, "../docs"},
          DirectoryEntry{"fifo", EntryType::kOther, 0, 0, std::numeric_limits<std::int64_t>::min() + 1, 0, 1, ""},
          DirectoryEntry{"big", EntryType::kFile, std::numeric_limits<std::uint64_t>::max(), 0644,
                         std::numeric_limits<std::int64_t>::max(), 0, std::numeric_limits<std::uint64_t>::max(), ""},
          DirectoryEntry{"a b ~!#$%&'()*+,-.:;<=>?@[]^_`{|}", EntryType::kFile, 10, 0600, 9, 9, 2, ""}};
}

// Entries at the edges of what the wire carries: the plain ones above, a name that needs escapes, and text that is
// not plain ASCII.
std::vector<DirectoryEntry> EdgeEntries() {
  auto entries = PlainEdgeEntries();
  entries.push_back(DirectoryEntry{"say \"hi\"\\ \t.txt", EntryType::kFile, 1, 0600, 1, 1, 1, ""});
  entries.push_back(DirectoryEntry{"ü.txt", EntryType::kLink, 1, 0600, 1, 1, 1, "→ docs"});
  return entries;
}

TEST(EntryList, IsWrittenAsEachEncodedEntryWouldBe) {
  Json list = Json::array();
  for (const auto& entry : EdgeEntries()) list.push_back(entry.Encode());
  EXPECT_EQ(EncodeEntryList(EdgeEntries()), DumpJson(list));
}

TEST(EntryList, TheDirectReaderTakesWhatTheServerWritesAndLeavesTheRest) {
  const auto read = ReadCanonicalEntryList(EncodeEntryList(PlainEdgeEntries()));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, PlainEdgeEntries());
  EXPECT_EQ(ReadCanonicalEntryList("[]"), std::vector<DirectoryEntry>{});
  // Names that need escapes or are not ASCII go to the general parser, and come out the same.
  EXPECT_FALSE(ReadCanonicalEntryList(EncodeEntryList(EdgeEntries())).has_value());
  EXPECT_EQ(*ParseEntryList(EncodeEntryList(EdgeEntries())), EdgeEntries());
}

TEST(EntryList, WhatTheDirectReaderTakesTheJsonParserReadsTheSame) {
  // For every body, well formed or not: when the direct reader takes it, the general parser must read the same
  // entries from it; and ParseEntryList (the reader, else the parser) answers as the parser does.
  const auto agree = [](const std::string& body) {
    const auto direct = ReadCanonicalEntryList(body);
    const auto general = ParseEntryListAsJson(body);
    if (direct && !general.ok()) {
      return ::testing::AssertionFailure() << "only the direct reader accepts " << body << ": "
                                           << general.status().ToString();
    }
    if (direct && *direct != *general) return ::testing::AssertionFailure() << "entries differ for " << body;
    const auto parsed = ParseEntryList(body);
    if (parsed.ok() != general.ok() || (parsed.ok() && *parsed != *general) ||
        (!parsed.ok() && parsed.status().ToString() != general.status().ToString())) {
      return ::testing::AssertionFailure() << "ParseEntryList differs for " << body;
    }
    return ::testing::AssertionSuccess();
  };
  const std::string canonical = EncodeEntryList(PlainEdgeEntries());
  std::vector<std::string> bodies = {
      canonical, "[]", "[ ]", " []", "[]x", "[],", "[{}]", EncodeEntryList(EdgeEntries()),
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420, "mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mtime":1,"mode":420,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":0420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":4096,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":-0,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":-9223372036854775808,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":9223372036854775808,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":1.5,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":1e3,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":1000000000,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":18446744073709551616,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":-1,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a\u0041","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"target":5,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"target":"","type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"socket"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file","extra":1}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"},])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1}])",
  };
  // Every prefix of a body the reader takes, and every byte of it replaced by characters that matter to either.
  for (std::size_t length = 0; length < canonical.size(); ++length) bodies.push_back(canonical.substr(0, length));
  for (std::size_t at = 0; at < canonical.size(); ++at) {
    for (const char c : std::string_view("0159-+.e\"\\ ,:}]{[x\x01\x7f\xc3", 22)) {
      std::string mutated = canonical;
      mutated[at] = c;
      bodies.push_back(mutated);
    }
  }
  std::size_t taken = 0;
  for (const std::string& body : bodies) {
    EXPECT_TRUE(agree(body));
    taken += ReadCanonicalEntryList(body).has_value() ? 1 : 0;
  }
  // Many of the mutated bodies are still ones the reader takes (another digit, another name character).
  EXPECT_GT(taken, canonical.size());
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
