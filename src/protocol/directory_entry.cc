#include "protocol/directory_entry.h"

#include <charconv>
#include <limits>
#include <optional>

#include "protocol/messages.h"
#include "protocol/reply_fields.h"

namespace ferry::protocol {

std::string_view EntryTypeName(EntryType type) {
  switch (type) {
    case EntryType::kFile:
      return "file";
    case EntryType::kDirectory:
      return "dir";
    case EntryType::kLink:
      return "link";
    case EntryType::kOther:
      break;
  }
  return "other";
}

EntryType EntryTypeFromName(std::string_view name) {
  for (const EntryType type : {EntryType::kFile, EntryType::kDirectory, EntryType::kLink}) {
    if (EntryTypeName(type) == name) return type;
  }
  return EntryType::kOther;
}

Result<DirectoryEntry> DirectoryEntry::Parse(const Json& entry) {
  if (!entry.is_object()) return Status(ErrorCode::kProtocol, "a directory entry from the server is not an object");
  const ReplyFields fields(entry, "directory entry");
  DirectoryEntry parsed;
  std::string type;
  FirstError error;
  error.Take(fields.String("name"), parsed.name);
  error.Take(fields.String("type"), type);
  error.Take(fields.Unsigned("size"), parsed.size);
  error.Take(fields.Unsigned("mode", kMaxModeBits), parsed.mode);
  error.Take(fields.Integer("mtime"), parsed.mtime);
  error.Take(fields.Unsigned("mtime_nsec", kMaxNanoseconds), parsed.mtime_nsec);
  error.Take(fields.Unsigned("nlink"), parsed.nlink);
  std::optional<std::string> target;
  error.Take(fields.OptionalString("target"), target);
  if (!error.ok()) return error.status();
  parsed.target = target.value_or("");
  parsed.type = EntryTypeFromName(type);
  return parsed;
}

Json DirectoryEntry::Encode() const {
  Json entry(Json::value_t::object);
  auto& fields = FieldsOf(entry);
  fields.emplace("name", name);
  fields.emplace("type", EntryTypeName(type));
  fields.emplace("size", size);
  fields.emplace("mode", mode);
  fields.emplace("mtime", mtime);
  fields.emplace("mtime_nsec", mtime_nsec);
  fields.emplace("nlink", nlink);
  if (!target.empty()) fields.emplace("target", target);
  return entry;
}

namespace {

void AppendEntry(std::string& out, const DirectoryEntry& entry) {
  // The text AppendJson writes for Encode()'s object (its keys in the order of the map that holds them), written
  // without building that object: a listing of 10,000 files is 10,000 of them.
  out.append(R"({"mode":)");
  AppendJsonInteger(out, std::uint64_t{entry.mode});
  out.append(R"(,"mtime":)");
  AppendJsonInteger(out, entry.mtime);
  out.append(R"(,"mtime_nsec":)");
  AppendJsonInteger(out, std::uint64_t{entry.mtime_nsec});
  out.append(R"(,"name":)");
  AppendJsonString(out, entry.name);
  out.append(R"(,"nlink":)");
  AppendJsonInteger(out, entry.nlink);
  out.append(R"(,"size":)");
  AppendJsonInteger(out, entry.size);
  if (!entry.target.empty()) {
    out.append(R"(,"target":)");
    AppendJsonString(out, entry.target);
  }
  out.append(R"(,"type":)");
  AppendJsonString(out, EntryTypeName(entry.type));
  out.push_back('}');
}

}  // namespace

std::string EncodeEntryList(const std::vector<DirectoryEntry>& entries) {
  std::string out;
  out.reserve(entries.size() * 112 + 2);
  out.push_back('[');
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendEntry(out, entries[i]);
  }
  out.push_back(']');
  return out;
}

namespace {

// Reads the listing text EncodeEntryList writes, and nothing else: its keys in its order, no spaces, decimal
// integers without leading zeros, strings of printable ASCII without escapes. Anything it does not expect (another
// spelling of the same JSON, a name that needs escapes, a value out of range, a malformed body) makes it give up and
// leave the body to the general parser, so it decides nothing the general parser would decide otherwise.
class CanonicalListReader {
 public:
  explicit CanonicalListReader(std::string_view text) : text_(text) {}

  std::optional<std::vector<DirectoryEntry>> Read() {
    std::vector<DirectoryEntry> entries;
    if (!Take("[")) return std::nullopt;
    if (Take("]")) return AtEnd() ? std::optional(std::move(entries)) : std::nullopt;
    entries.reserve(text_.size() / 110 + 1);
    do {
      DirectoryEntry entry;
      std::uint64_t mode = 0;
      std::uint64_t nsec = 0;
      std::string_view type;
      if (!Take(R"({"mode":)") || !TakeUnsigned(mode) || mode > static_cast<std::uint64_t>(kMaxModeBits) || !Take(R"(,"mtime":)") ||
          !TakeInteger(entry.mtime) || !Take(R"(,"mtime_nsec":)") || !TakeUnsigned(nsec) || nsec > static_cast<std::uint64_t>(kMaxNanoseconds) ||
          !Take(R"(,"name":)") || !TakeString(entry.name) || !Take(R"(,"nlink":)") || !TakeUnsigned(entry.nlink) ||
          !Take(R"(,"size":)") || !TakeUnsigned(entry.size)) {
        return std::nullopt;
      }
      if (Take(R"(,"target":)") && !TakeString(entry.target)) return std::nullopt;
      if (!Take(R"(,"type":)") || !TakeString(type) || !Take("}")) return std::nullopt;
      entry.mode = static_cast<std::uint32_t>(mode);
      entry.mtime_nsec = static_cast<std::uint32_t>(nsec);
      entry.type = EntryTypeFromName(type);
      entries.push_back(std::move(entry));
    } while (Take(","));
    if (!Take("]") || !AtEnd()) return std::nullopt;
    return entries;
  }

 private:
  bool AtEnd() const { return text_.empty(); }
  bool Take(std::string_view expected) {
    if (!text_.starts_with(expected)) return false;
    text_.remove_prefix(expected.size());
    return true;
  }
  // Digits, not starting with 0 unless the number is 0, that fit.
  bool TakeUnsigned(std::uint64_t& value) {
    std::size_t digits = 0;
    while (digits < text_.size() && text_[digits] >= '0' && text_[digits] <= '9') ++digits;
    if (digits == 0 || (digits > 1 && text_[0] == '0')) return false;
    const auto [end, error] = std::from_chars(text_.data(), text_.data() + digits, value);
    if (error != std::errc() || end != text_.data() + digits) return false;
    text_.remove_prefix(digits);
    return true;
  }
  bool TakeInteger(std::int64_t& value) {
    const bool negative = Take("-");
    std::uint64_t magnitude = 0;
    if (!TakeUnsigned(magnitude)) return false;
    if (negative) {
      // -0 and the one magnitude past int64's range are left to the general parser.
      if (magnitude == 0 || magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return false;
      }
      value = -static_cast<std::int64_t>(magnitude);
    } else {
      if (magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
      value = static_cast<std::int64_t>(magnitude);
    }
    return true;
  }
  template <typename Text>
  bool TakeString(Text& value) {
    if (!Take("\"")) return false;
    std::size_t length = 0;
    while (length < text_.size() && text_[length] != '"') {
      const auto byte = static_cast<unsigned char>(text_[length]);
      if (byte < 0x20 || byte > 0x7e || byte == '\\') return false;
      ++length;
    }
    if (length == text_.size()) return false;
    value = Text(text_.substr(0, length));
    text_.remove_prefix(length + 1);
    return true;
  }

  std::string_view text_;
};

}  // namespace

std::optional<std::vector<DirectoryEntry>> ReadCanonicalEntryList(std::string_view body) {
  return CanonicalListReader(body).Read();
}

Result<std::vector<DirectoryEntry>> ParseEntryList(std::string_view body) {
  if (auto entries = ReadCanonicalEntryList(body)) return std::move(*entries);
  return ParseEntryListAsJson(body);
}

Result<std::vector<DirectoryEntry>> ParseEntryListAsJson(std::string_view body) {
  const Json list = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!list.is_array()) return Status(ErrorCode::kProtocol, "malformed listing from the server");
  std::vector<DirectoryEntry> entries;
  entries.reserve(list.size());
  for (const auto& item : list) {
    auto entry = DirectoryEntry::Parse(item);
    if (!entry.ok()) return entry.status();
    entries.push_back(std::move(entry).value());
  }
  return entries;
}

}  // namespace ferry::protocol
