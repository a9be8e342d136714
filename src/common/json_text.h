// Pieces of compact JSON text written directly, for writers of long regular texts (a listing, an audit line) that
// skip building a nlohmann::json: each is exactly what nlohmann's dump(-1) writes for the same value, with invalid
// UTF-8 replaced by U+FFFD.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry {

// A string, quoted and escaped. Printable ASCII is copied as it is; anything else goes through nlohmann's own code.
void AppendJsonString(std::string& out, std::string_view text);
void AppendJsonInteger(std::string& out, std::uint64_t value);
void AppendJsonInteger(std::string& out, std::int64_t value);

}  // namespace ferry
