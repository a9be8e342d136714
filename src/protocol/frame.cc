#include "protocol/frame.h"

#include <cassert>

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
  // File names need not be valid UTF-8; replace bad bytes rather than fail the whole reply.
  const std::string text = header.dump(-1, ' ', false, Json::error_handler_t::replace);
  const auto length = static_cast<std::uint32_t>(text.size());
  const char prefix[kLengthPrefixSize] = {
      static_cast<char>(length >> 24), static_cast<char>(length >> 16), static_cast<char>(length >> 8),
      static_cast<char>(length)};
  out.reserve(out.size() + kLengthPrefixSize + text.size() + body_len);
  out.append(prefix, kLengthPrefixSize);
  out.append(text);
}

std::string EncodeFrame(Json header, std::string_view body) {
  std::string out;
  AppendFrame(out, std::move(header), body);
  return out;
}

}  // namespace ferry::protocol
