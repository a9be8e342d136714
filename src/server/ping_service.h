// PingService: answers UDP probes (ferry ping) on the server's listening port, a fixed number per second per source
// address. Replies are never larger than their probes and carry only the protocol version (protocol/ping.h).
// Runs on one event loop; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "common/status.h"

namespace ferry::server {

// A token bucket per source address: `rate` per second, bursts of twice that. Memory is bounded: at most
// `max_addresses` are tracked, and when that many are, new addresses are refused until old buckets refill.
class PingRateLimiter {
 public:
  explicit PingRateLimiter(unsigned rate, std::size_t max_addresses = 4096)
      : rate_(rate), max_addresses_(max_addresses) {}
  bool Allow(const std::string& address, std::chrono::steady_clock::time_point now);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point updated;
  };
  unsigned rate_;
  std::size_t max_addresses_;
  std::unordered_map<std::string, Bucket> buckets_;
};

class PingService {
 public:
  PingService(asio::io_context& loop, unsigned replies_per_second);
  // Binds the UDP socket to `endpoint` (the TCP listener's address and port).
  Status Open(const asio::ip::udp::endpoint& endpoint);
  // Answers probes until Close().
  asio::awaitable<void> Serve();
  void Close();

 private:
  asio::ip::udp::socket socket_;
  PingRateLimiter limiter_;
};

}  // namespace ferry::server
