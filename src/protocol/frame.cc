#include "protocol/frame.h"

#include <cassert>
#include <charconv>
#include <iterator>

namespace ferry::protocol {

void AppendFrame(std::string& out, Json header, std::string_view body) {
  AppendFrameHeader(out, std::move(header), body.size());
  out.append(body);
}

void AppendFrameHeader(std::string& out, Json header, std::uint64_t body_len) {
  assert(header.is_object());
  if (body_len == 0) {
    header.erase(std::string(kBodyLengthKey));
  } else {
    header[std::string(kBodyLengthKey)] = body_len;
  }
  // The header goes straight after a placeholder for its length, which is filled in once the text is written.
  const std::size_t start = out.size();
  out.append(kLengthPrefixSize, '\0');
  AppendJson(out, header);
  const auto length = static_cast<std::uint32_t>(out.size() - start - kLengthPrefixSize);
  out[start] = static_cast<char>(length >> 24);
  out[start + 1] = static_cast<char>(length >> 16);
  out[start + 2] = static_cast<char>(length >> 8);
  out[start + 3] = static_cast<char>(length);
  out.reserve(out.size() + body_len);
}

namespace {

// True for text nlohmann writes as it is: printable ASCII other than the quote and the backslash.
bool IsPlainAscii(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  if (IsPlainAscii(text)) {
    out.push_back('"');
    out.append(text);
    out.push_back('"');
    return;
  }
  // Escapes, UTF-8 and its validation (file names need not be valid UTF-8: bad bytes are replaced rather than fail
  // the whole reply) are nlohmann's.
  out.append(Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace));
}

namespace {

template <typename Integer>
void AppendInteger(std::string& out, Integer value) {
  char digits[24];
  const auto [end, error] = std::to_chars(std::begin(digits), std::end(digits), value);
  out.append(digits, static_cast<std::size_t>(end - digits));
}

}  // namespace

void AppendJsonInteger(std::string& out, std::uint64_t value) { AppendInteger(out, value); }
void AppendJsonInteger(std::string& out, std::int64_t value) { AppendInteger(out, value); }

void AppendJson(std::string& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : value.get_ref<const Json::object_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, key);
        out.push_back(':');
        AppendJson(out, item);
      }
      out.push_back('}');
      return;
    }
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : value.get_ref<const Json::array_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(out, item);
      }
      out.push_back(']');
      return;
    }
    case Json::value_t::string:
      AppendJsonString(out, value.get_ref<const std::string&>());
      return;
    case Json::value_t::number_unsigned:
      AppendInteger(out, value.get<std::uint64_t>());
      return;
    case Json::value_t::number_integer:
      AppendInteger(out, value.get<std::int64_t>());
      return;
    case Json::value_t::boolean:
      out.append(value.get<bool>() ? "true" : "false");
      return;
    case Json::value_t::null:
      out.append("null");
      return;
    default:  // floating point, binary, discarded
      out.append(value.dump(-1, ' ', false, Json::error_handler_t::replace));
      return;
  }
}

std::string DumpJson(const Json& value) {
  std::string out;
  AppendJson(out, value);
  return out;
}

std::string EncodeFrame(Json header, std::string_view body) {
  std::string out;
  AppendFrame(out, std::move(header), body);
  return out;
}

}  // namespace ferry::protocol
