// Parsing of "HOST:PORT" addresses, with IPv6 literals in brackets ("[::1]:7021").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry {

inline constexpr std::uint16_t kDefaultPort = 7021;

struct HostPort {
  std::string host;  // without brackets
  std::uint16_t port = kDefaultPort;
};

// "host", "host:port", "[v6]", "[v6]:port", and a bare IPv6 literal ("::1", taken as a host). EINVAL on a bad port.
Result<HostPort> ParseHostPort(std::string_view text, std::uint16_t default_port = kDefaultPort);
// The inverse: brackets around IPv6 literals.
std::string FormatHostPort(const HostPort& address);

}  // namespace ferry
