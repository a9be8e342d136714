#include "common/host_port.h"

#include <charconv>

#include <fmt/format.h>

namespace ferry {
namespace {

Result<std::uint16_t> ParsePort(std::string_view text, std::string_view whole) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value > 65535) {
    return Status(ErrorCode::kInvalid, fmt::format("bad port in '{}'", whole));
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

Result<HostPort> ParseHostPort(std::string_view text, std::uint16_t default_port) {
  HostPort out;
  out.port = default_port;
  if (text.empty()) return Status(ErrorCode::kInvalid, "empty address");
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return Status(ErrorCode::kInvalid, fmt::format("unclosed '[' in '{}'", text));
    out.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Status(ErrorCode::kInvalid, fmt::format("bad address '{}'", text));
      auto port = ParsePort(rest.substr(1), text);
      if (!port.ok()) return port.status();
      out.port = *port;
    }
  } else {
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      out.host = std::string(text);  // a bare IPv6 literal
    } else if (colon != std::string_view::npos) {
      out.host = std::string(text.substr(0, colon));
      auto port = ParsePort(text.substr(colon + 1), text);
      if (!port.ok()) return port.status();
      out.port = *port;
    } else {
      out.host = std::string(text);
    }
  }
  if (out.host.empty()) return Status(ErrorCode::kInvalid, fmt::format("no host in '{}'", text));
  return out;
}

std::string FormatHostPort(const HostPort& address) {
  if (address.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", address.host, address.port);
  return fmt::format("{}:{}", address.host, address.port);
}

}  // namespace ferry
