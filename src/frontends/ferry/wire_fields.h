// What the Ferry front end turns between the service's values and the protocol's messages.
#pragma once

#include "common/status.h"
#include "protocol/directory_entry.h"
#include "protocol/messages.h"
#include "service/paths.h"
#include "transfer/checksum.h"

namespace ferry::frontends::native {

// A file's entry as stat and ls send it.
protocol::DirectoryEntry EntryOf(const service::FileInfo& info);
// The checksum a request names (EINVAL naming the known ones for another name).
Result<transfer::ChecksumAlgorithm> AlgorithmOf(std::string_view name);
// The fields of a reply message, for a handler to return.
template <typename Message>
protocol::Json AsFields(const Message& message) {
  protocol::Json fields(protocol::Json::value_t::object);
  message.AppendTo(fields);
  return fields;
}

}  // namespace ferry::frontends::native
