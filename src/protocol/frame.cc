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
      AppendJsonInteger(out, value.get<std::uint64_t>());
      return;
    case Json::value_t::number_integer:
      AppendJsonInteger(out, value.get<std::int64_t>());
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
