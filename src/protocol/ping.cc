#include "protocol/ping.h"

#include "protocol/messages.h"

namespace ferry::protocol {

std::optional<std::string> PingReplyFor(std::string_view datagram) {
  if (datagram.size() < kMinPingSize || datagram.size() > kMaxPingSize) return std::nullopt;
  if (datagram.substr(0, kPingProbeMagic.size()) != kPingProbeMagic) return std::nullopt;
  std::string reply(datagram);
  reply.replace(0, kPingReplyMagic.size(), kPingReplyMagic);
  reply[kPingReplyMagic.size()] = static_cast<char>(kProtocolVersion);
  return reply;
}

std::optional<std::string_view> PingReplyPayload(std::string_view datagram) {
  if (datagram.size() < kMinPingSize || datagram.size() > kMaxPingSize) return std::nullopt;
  if (datagram.substr(0, kPingReplyMagic.size()) != kPingReplyMagic) return std::nullopt;
  return datagram.substr(kPingReplyMagic.size() + 1);
}

}  // namespace ferry::protocol
