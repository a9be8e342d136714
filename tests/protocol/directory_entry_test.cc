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

// Entries at the edges of what the wire carries: the largest and most negative values, a link, a name that needs
// escapes, text that is not plain ASCII.
std::vector<DirectoryEntry> EdgeEntries() {
  return {Notes(),
          DirectoryEntry{"docs", EntryType::kDirectory, 4096, 07777, 0, 999999999, 3, ""},
          DirectoryEntry{"link", EntryType::kLink, 7, 0777, -86400, 0, 1, "../docs"},
          DirectoryEntry{"fifo", EntryType::kOther, 0, 0, std::numeric_limits<std::int64_t>::min() + 1, 0, 1, ""},
          DirectoryEntry{"big", EntryType::kFile, std::numeric_limits<std::uint64_t>::max(), 0644,
                         std::numeric_limits<std::int64_t>::max(), 0, std::numeric_limits<std::uint64_t>::max(), ""},
          DirectoryEntry{"say \"hi\"\\ \t.txt", EntryType::kFile, 1, 0600, 1, 1, 1, ""},
          DirectoryEntry{"ü.txt", EntryType::kLink, 1, 0600, 1, 1, 1, "→ docs"}};
}

TEST(EntryList, IsWrittenAsEachEncodedEntryWouldBe) {
  Json list = Json::array();
  for (const auto& entry : EdgeEntries()) list.push_back(entry.Encode());
  EXPECT_EQ(EncodeEntryList(EdgeEntries()), DumpJson(list));
}

TEST(EntryList, TheDirectReaderAnswersAsTheJsonParserDoes) {
  // ParseEntryList reads the text EncodeEntryList writes itself and leaves anything else to ParseEntryListAsJson:
  // for every body, well formed or not, the two must give the same entries or the same error.
  const auto agree = [](const std::string& body) {
    const auto direct = ParseEntryList(body);
    const auto general = ParseEntryListAsJson(body);
    if (direct.ok() != general.ok()) return ::testing::AssertionFailure() << "only one accepts " << body;
    if (direct.ok() && *direct != *general) return ::testing::AssertionFailure() << "entries differ for " << body;
    if (!direct.ok() && direct.status().ToString() != general.status().ToString()) {
      return ::testing::AssertionFailure() << direct.status().ToString() << " vs " << general.status().ToString();
    }
    return ::testing::AssertionSuccess();
  };
  const std::string canonical = EncodeEntryList(EdgeEntries());
  ASSERT_TRUE(ParseEntryList(canonical).ok());
  EXPECT_EQ(*ParseEntryList(canonical), EdgeEntries());
  std::vector<std::string> bodies = {
      canonical, "[]", "[ ]", " []", "[]x", "[],", "[{}]",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420, "mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mtime":1,"mode":420,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":0420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":4096,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":-0,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":-9223372036854775808,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":9223372036854775808,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":1.5,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":1000000000,"name":"a","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":18446744073709551616,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":-1,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a\u0041","nlink":1,"size":1,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"target":5,"type":"file"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"socket"}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file","extra":1}])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1,"type":"file"},])",
      R"([{"mode":420,"mtime":1,"mtime_nsec":0,"name":"a","nlink":1,"size":1}])",
  };
  // Every prefix of the canonical body, and every byte of it replaced by characters that matter to either parser.
  for (std::size_t length = 0; length < canonical.size(); ++length) bodies.push_back(canonical.substr(0, length));
  for (std::size_t at = 0; at < canonical.size(); ++at) {
    for (const char c : std::string_view("0-9\"\\ ,}]{[x\x01\xc3", 15)) {
      std::string mutated = canonical;
      mutated[at] = c;
      bodies.push_back(mutated);
    }
  }
  for (const std::string& body : bodies) EXPECT_TRUE(agree(body));
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
