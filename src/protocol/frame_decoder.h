// FrameDecoder: turns a byte stream, cut at arbitrary points, into frames.
//
// Bytes go in with Feed() in whatever pieces the transport delivers; Next() yields each complete frame once.
// Limits are checked as soon as the bytes that state them arrive, before anything is allocated for them, so a
// hostile length costs nothing. After an error the decoder stays failed: the stream cannot be resynchronised.
// Not thread-safe; one decoder belongs to one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "protocol/frame.h"

namespace ferry::protocol {

class FrameDecoder {
 public:
  explicit FrameDecoder(FrameLimits limits = {});

  // Limits for the frames whose headers are not parsed yet (a session raises them at login).
  void set_limits(FrameLimits limits);

  // Appends received bytes. Memory stays bounded if the caller drains Next() before feeding more: the buffer then
  // never holds more than one incomplete frame plus the last piece fed.
  void Feed(std::string_view bytes);

  enum class State { kFrame, kNeedMore, kError };
  // Extracts the next complete frame into `frame`. kNeedMore: no complete frame buffered yet. kError: the
  // stream is malformed (error() says how, with kTooBig or kProtocol); every later call returns kError too.
  State Next(Frame& frame);

  // Streaming bodies, for large data frames that should not be gathered in memory: NextHead() yields a frame's
  // header alone (body left empty) as soon as it is complete and sets *body_len. Until the body has been consumed,
  // by TakeBody() for bytes already buffered and SkipBody() for bytes the caller read past the decoder, Next() and
  // NextHead() return kError. REQUIRES: the caller consumes exactly *body_len bytes.
  State NextHead(Frame& frame, std::uint64_t* body_len);
  // Up to `max` buffered bytes of the body being streamed (empty when none are buffered). Valid until Feed().
  std::string_view TakeBody(std::size_t max);
  // Records `n` bytes of the body as consumed elsewhere. REQUIRES: n <= body_remaining() and nothing buffered.
  void SkipBody(std::uint64_t n);
  // Bytes of the streamed body still to come.
  std::uint64_t body_remaining() const { return streaming_body_; }

  const Status& error() const { return error_; }
  // Bytes buffered and not yet returned as frames.
  std::size_t buffered() const { return buffer_.size() - consumed_; }
  // True when no partial frame is buffered (a clean place for the stream to end).
  bool at_frame_boundary() const { return buffered() == 0 && !pending_header_ && streaming_body_ == 0; }

 private:
  State Fail(ErrorCode code, std::string message);
  // Parses the header of the next frame into pending_header_ if it is not there yet: kFrame once it is.
  State ParsePendingHeader();
  void Compact();

  FrameLimits limits_;
  std::string buffer_;
  std::size_t consumed_ = 0;  // bytes at the front of buffer_ already returned
  // Set once the header of the frame being assembled has been parsed; the body is still to come.
  std::optional<Json> pending_header_;
  std::uint64_t pending_body_len_ = 0;
  // Bytes left of a body handed out by NextHead().
  std::uint64_t streaming_body_ = 0;
  Status error_;
};

// Parses one header: a JSON object within the limits, whose body length (if any) is a non-negative integer
// within limits.max_body. On success returns the header and sets *body_len.
Result<Json> ParseHeader(std::string_view text, const FrameLimits& limits, std::uint64_t* body_len);

}  // namespace ferry::protocol
