#include "server/ping_service.h"

#include <algorithm>
#include <array>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "protocol/ping.h"

namespace ferry::server {

bool PingRateLimiter::Allow(const std::string& address, std::chrono::steady_clock::time_point now) {
  const double burst = 2.0 * rate_;
  const auto refill = [&](Bucket& bucket) {
    const double seconds = std::chrono::duration<double>(now - bucket.updated).count();
    bucket.tokens = std::min(burst, bucket.tokens + seconds * rate_);
    bucket.updated = now;
  };
  auto it = buckets_.find(address);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_addresses_) {
      // Forget addresses whose buckets are full again: they are as good as new.
      for (auto entry = buckets_.begin(); entry != buckets_.end();) {
        refill(entry->second);
        entry = entry->second.tokens >= burst ? buckets_.erase(entry) : std::next(entry);
      }
      if (buckets_.size() >= max_addresses_) return false;
    }
    it = buckets_.emplace(address, Bucket{burst, now}).first;
  }
  refill(it->second);
  if (it->second.tokens < 1.0) return false;
  it->second.tokens -= 1.0;
  return true;
}

PingService::PingService(asio::io_context& loop, unsigned replies_per_second)
    : socket_(loop), limiter_(replies_per_second) {}

Status PingService::Open(const asio::ip::udp::endpoint& endpoint) {
  asio::error_code error;
  socket_.open(endpoint.protocol(), error);
  if (!error) socket_.bind(endpoint, error);
  if (error) return Status(ErrorCode::kIo, "UDP ping port: " + error.message());
  return Status::Ok();
}

asio::awaitable<void> PingService::Serve() {
  std::array<char, protocol::kMaxPingSize + 1> datagram{};
  asio::ip::udp::endpoint sender;
  while (socket_.is_open()) {
    auto [error, n] = co_await socket_.async_receive_from(asio::buffer(datagram), sender,
                                                          asio::experimental::as_tuple(asio::use_awaitable));
    if (error) {
      if (error == asio::error::operation_aborted || !socket_.is_open()) co_return;
      continue;  // e.g. an ICMP error for an earlier reply
    }
    auto reply = protocol::PingReplyFor(std::string_view(datagram.data(), n));
    if (!reply) continue;
    if (!limiter_.Allow(sender.address().to_string(), std::chrono::steady_clock::now())) continue;
    asio::error_code ignored;
    socket_.send_to(asio::buffer(*reply), sender, 0, ignored);  // UDP: a full buffer drops the reply, never blocks
  }
}

void PingService::Close() {
  asio::error_code ignored;
  socket_.close(ignored);
}

}  // namespace ferry::server
