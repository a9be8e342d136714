// The UDP ping datagrams: a probe "FRY?" + 1 byte + payload, answered by "FRY!" + the protocol version + the same
// payload. A reply is exactly as long as its probe, so the service can never amplify traffic, and it tells nothing
// but the protocol version.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::protocol {

inline constexpr std::string_view kPingProbeMagic = "FRY?";
inline constexpr std::string_view kPingReplyMagic = "FRY!";
inline constexpr std::size_t kMinPingSize = 8;
inline constexpr std::size_t kMaxPingSize = 1024;

// The reply to `datagram`, or nullopt if it is not a well-formed probe (such datagrams get no answer).
std::optional<std::string> PingReplyFor(std::string_view datagram);

// The payload of a reply (what followed the magic and version in its probe), or nullopt if `datagram` is not one.
std::optional<std::string_view> PingReplyPayload(std::string_view datagram);

}  // namespace ferry::protocol
