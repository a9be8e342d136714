#include "frontends/ferry/ferry_front_end.h"

#include <spdlog/spdlog.h>

#include "frontends/ferry/session.h"
#include "protocol/messages.h"

namespace ferry::frontends::native {

asio::awaitable<void> FerryFrontEnd::Serve(asio::ip::tcp::socket socket, [[maybe_unused]] std::shared_ptr<void> slot) {
  // The session lives in this coroutine's frame, and so does its connection slot.
  try {
    Session session(env_.tls != nullptr ? Transport(std::move(socket), env_.tls) : Transport(std::move(socket)),
                    env_);
    co_await session.Run();
  } catch (const std::exception& error) {
    // asio reports some failures (e.g. allocation) by throwing; one session's failure never stops the server.
    spdlog::error("session ended by an exception: {}", error.what());
  }
}

void FerryFrontEnd::RefuseBusy(asio::ip::tcp::socket& socket) {
  if (env_.tls != nullptr) return;
  const std::string refusal = protocol::EncodeFrame(
      protocol::ErrorReply(nullptr, Status(ErrorCode::kBusy, "too many connections; try again later")));
  asio::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.send(asio::buffer(refusal), 0, ignored);
}

}  // namespace ferry::frontends::native
