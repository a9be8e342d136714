// RawClient: a plain TCP connection that speaks frames byte by byte, for tests of malformed input.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "protocol/frame_decoder.h"

namespace ferry::testing {

class RawClient {
 public:
  // Connects to 127.0.0.1:port (or `host`), from `source` if given (another loopback address, such as 127.0.0.2,
  // to be a second client machine). Fails the test if it cannot.
  explicit RawClient(std::uint16_t port, const std::string& host = "127.0.0.1", const std::string& source = "");
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Sends bytes as they are; false if the connection is gone.
  bool SendRaw(const std::string& bytes);
  bool SendFrame(const protocol::Json& header, const std::string& body = "");
  // The next frame, or nullopt on close, malformed data or the deadline.
  std::optional<protocol::Frame> ReadFrame(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // True if the server closes the connection (EOF or reset) before the deadline; frames before it are skipped.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // Drops the connection with a reset (SO_LINGER 0), as a client that crashed or lost its network mid-transfer can.
  void Reset();

  // hello + login as `user`; true on success.
  bool HelloAndLogin(const std::string& user, const std::string& password);
  // Sends {"op": op, "id": id, ...fields} and returns its reply header (null on failure).
  protocol::Json Call(protocol::Json request);

 private:
  int fd_ = -1;
  protocol::FrameDecoder decoder_;
  std::uint64_t next_id_ = 1000;
};

}  // namespace ferry::testing
