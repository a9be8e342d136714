// FrontEnd: one protocol the server speaks. A listener hands each accepted connection to its front end, so the
// server itself names no protocol.
#pragma once

#include <memory>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace ferry::frontends {

class FrontEnd {
 public:
  virtual ~FrontEnd() = default;

  // For logs: "ferry", "ftp", "sftp".
  virtual std::string_view name() const = 0;
  // Serves one accepted connection until it ends, on the socket's executor. `slot` is the connection's place under the
  // server's connection limits, held until it ends. Never throws.
  virtual asio::awaitable<void> Serve(asio::ip::tcp::socket socket, std::shared_ptr<void> slot) = 0;
  // Tells a connection refused for load why, in this protocol's words, without waiting (best effort); the listener
  // closes it afterwards.
  virtual void RefuseBusy(asio::ip::tcp::socket& socket) = 0;
};

}  // namespace ferry::frontends
