#include "frontends/ftp/ftp_front_end.h"

#include <spdlog/spdlog.h>

#include "frontends/ftp/ftp_command.h"
#include "frontends/ftp/ftp_session.h"

namespace ferry::frontends::ftp {

asio::awaitable<void> FtpFrontEnd::Serve(asio::ip::tcp::socket socket, [[maybe_unused]] std::shared_ptr<void> slot) {
  // The session lives in this coroutine's frame, and so does its connection slot.
  try {
    FtpSession session(env_.implicit_tls ? Transport(std::move(socket), env_.tls) : Transport(std::move(socket)), env_);
    co_await session.Run();
  } catch (const std::exception& error) {
    spdlog::error("ftp session ended by an exception: {}", error.what());
  }
}

void FtpFrontEnd::RefuseBusy(asio::ip::tcp::socket& socket) {
  if (env_.implicit_tls) return;
  const std::string refusal = FormatReply(421, "Too many connections; try again later.");
  asio::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.send(asio::buffer(refusal), 0, ignored);
}

}  // namespace ferry::frontends::ftp
