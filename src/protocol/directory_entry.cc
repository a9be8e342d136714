#include "protocol/directory_entry.h"

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

std::string EncodeEntryList(const std::vector<DirectoryEntry>& entries) {
  Json list(Json::value_t::array);
  auto& items = list.get_ref<Json::array_t&>();
  items.reserve(entries.size());
  for (const auto& entry : entries) items.push_back(entry.Encode());
  return DumpJson(list);
}

Result<std::vector<DirectoryEntry>> ParseEntryList(std::string_view body) {
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
