// Fuzzes FrameDecoder with arbitrary byte streams cut at arbitrary points.
//
// Input: 4 bytes of settings, then the stream. The settings pick the limits, the seed of the cut points, and
// whether frames are read whole (Next) or head first with the body streamed (NextHead, TakeBody, and SkipBody for
// bytes "read past" the decoder, as the client does for downloads). Invariants checked:
//   - the frames and the final error do not depend on where the stream was cut (a one-shot decoder agrees);
//   - memory is bounded: after draining, at most one incomplete frame is buffered;
//   - an error is sticky: every later Feed/Next/NextHead leaves it unchanged and yields kError;
//   - every frame re-encodes (EncodeFrame) to bytes that decode to the same frame;
//   - an error is only ever kTooBig or kProtocol.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"

namespace {

using ferry::ErrorCode;
using ferry::protocol::EncodeFrame;
using ferry::protocol::Frame;
using ferry::protocol::FrameDecoder;
using ferry::protocol::FrameLimits;
using ferry::protocol::kLengthPrefixSize;
using State = FrameDecoder::State;

struct Outcome {
  std::vector<Frame> frames;
  ErrorCode error = ErrorCode::kOk;
  bool at_boundary = true;
};

// A small deterministic generator for cut points, so the fuzzer controls them through the seed.
class CutPoints {
 public:
  explicit CutPoints(std::uint32_t seed) : state_(seed * 2654435761u + 1) {
    if (state_ == 0) state_ = 1;  // xorshift would stay at 0
  }
  std::size_t NextPiece(std::size_t max_piece) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    // Mostly tiny pieces (1-8 bytes), sometimes large ones, sometimes empty.
    switch (state_ % 4) {
      case 0: return state_ % 9;
      case 1: return (state_ >> 8) % (max_piece + 1);
      default: return 1 + (state_ >> 4) % 7;
    }
  }

 private:
  std::uint32_t state_;
};

void CheckErrorIsSticky(FrameDecoder& decoder) {
  const ErrorCode code = decoder.error().code();
  const std::string message = decoder.error().message();
  FUZZ_CHECK(code == ErrorCode::kTooBig || code == ErrorCode::kProtocol);
  FUZZ_CHECK(!message.empty());
  decoder.Feed(std::string_view("\0\0\0\x02{}", 6));
  Frame frame;
  std::uint64_t body_len = 0;
  FUZZ_CHECK(decoder.Next(frame) == State::kError);
  FUZZ_CHECK(decoder.NextHead(frame, &body_len) == State::kError);
  FUZZ_CHECK(decoder.error().code() == code);
  FUZZ_CHECK(decoder.error().message() == message);
  FUZZ_CHECK(decoder.buffered() == 0);  // a failed decoder holds no memory
}

// The whole stream at once, frames read whole: the reference the cut runs must agree with.
Outcome DecodeAtOnce(std::string_view stream, const FrameLimits& limits) {
  FrameDecoder decoder(limits);
  decoder.Feed(stream);
  Outcome out;
  while (true) {
    Frame frame;
    const State state = decoder.Next(frame);
    if (state == State::kNeedMore) break;
    if (state == State::kError) {
      out.error = decoder.error().code();
      CheckErrorIsSticky(decoder);
      return out;
    }
    out.frames.push_back(std::move(frame));
  }
  out.at_boundary = decoder.at_frame_boundary();
  return out;
}

// Feeds the stream in pieces and drains after each one, reading frames whole or streaming their bodies.
Outcome DecodeInPieces(std::string_view stream, const FrameLimits& limits, std::uint32_t seed, bool streaming) {
  FrameDecoder decoder(limits);
  CutPoints cuts(seed);
  Outcome out;
  const std::uint64_t max_frame = kLengthPrefixSize + limits.max_header + limits.max_body;
  Frame current;                    // the frame whose body is being streamed
  std::uint64_t body_left = 0;      // streaming: body bytes still to come
  bool in_body = false;
  std::size_t pos = 0;
  while (true) {
    // Drain everything the decoder can give.
    while (true) {
      if (streaming && in_body) {
        const std::string_view piece = decoder.TakeBody(1 + (seed % 4096));
        current.body.append(piece);
        body_left -= piece.size();
        FUZZ_CHECK(decoder.body_remaining() == body_left);
        if (body_left == 0) {
          in_body = false;
          out.frames.push_back(std::move(current));
          current = Frame();
          continue;
        }
        if (!piece.empty()) continue;
        break;
      }
      Frame frame;
      std::uint64_t body_len = 0;
      const State state = streaming ? decoder.NextHead(frame, &body_len) : decoder.Next(frame);
      if (state == State::kNeedMore) break;
      if (state == State::kError) {
        out.error = decoder.error().code();
        CheckErrorIsSticky(decoder);
        return out;
      }
      if (streaming) {
        FUZZ_CHECK(frame.body.empty());
        FUZZ_CHECK(body_len <= limits.max_body);
        FUZZ_CHECK(decoder.body_remaining() == body_len);
        if (body_len == 0) {
          out.frames.push_back(std::move(frame));
        } else {
          current = std::move(frame);
          body_left = body_len;
          in_body = true;
        }
      } else {
        out.frames.push_back(std::move(frame));
      }
    }
    // Drained: what is left is less than one frame.
    FUZZ_CHECK(decoder.buffered() < max_frame);
    if (pos == stream.size()) break;
    std::size_t n = std::min(cuts.NextPiece(2 * max_frame), stream.size() - pos);
    if (streaming && in_body && decoder.buffered() == 0 && (seed & 0x100) != 0) {
      // Read part of the body past the decoder, as a download does straight from the socket.
      n = static_cast<std::size_t>(std::min<std::uint64_t>(n, body_left));
      current.body.append(stream.substr(pos, n));
      decoder.SkipBody(n);
      body_left -= n;
      FUZZ_CHECK(decoder.body_remaining() == body_left);
      if (body_left == 0) {
        in_body = false;
        out.frames.push_back(std::move(current));
        current = Frame();
      }
    } else {
      decoder.Feed(stream.substr(pos, n));
    }
    pos += n;
  }
  out.at_boundary = decoder.at_frame_boundary() && !in_body;
  return out;
}

void CheckReencodes(const Frame& frame, const FrameLimits& limits) {
  FUZZ_CHECK(frame.header.is_object());
  const std::string bytes = EncodeFrame(frame.header, frame.body);
  // Re-encoding may lengthen the header ("1e5" becomes "100000.0"), so decode it without the header limit.
  FrameLimits roomy = limits;
  roomy.max_header = UINT32_MAX;
  FrameDecoder decoder(roomy);
  decoder.Feed(bytes);
  Frame again;
  FUZZ_CHECK(decoder.Next(again) == State::kFrame);
  FUZZ_CHECK(decoder.at_frame_boundary());
  FUZZ_CHECK(again.body == frame.body);
  // EncodeFrame owns body_len: it is dropped for an empty body and set to the body's size otherwise.
  auto expected = frame.header;
  expected.erase("body_len");
  auto got = again.header;
  got.erase("body_len");
  FUZZ_CHECK(got == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  FrameLimits limits;
  // Small limits reach the limit checks often; the defaults keep the real configuration covered.
  static constexpr std::uint32_t kHeaderLimits[] = {2, 16, 64, 1024, 64 * 1024};
  static constexpr std::uint64_t kBodyLimits[] = {0, 1, 17, 4096, 4 * 1024 * 1024};
  limits.max_header = kHeaderLimits[data[0] % 5];
  limits.max_body = kBodyLimits[(data[0] / 5) % 5];
  limits.max_depth = 1 + data[1] % 20;
  const std::uint32_t seed = data[2] | (std::uint32_t{data[3]} << 8);
  const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

  const Outcome reference = DecodeAtOnce(stream, limits);
  for (const Frame& frame : reference.frames) {
    FUZZ_CHECK(frame.body.size() <= limits.max_body);
    CheckReencodes(frame, limits);
  }
  for (const bool streaming : {false, true}) {
    const Outcome cut = DecodeInPieces(stream, limits, seed, streaming);
    FUZZ_CHECK(cut.error == reference.error);
    FUZZ_CHECK(cut.frames.size() == reference.frames.size());
    for (std::size_t i = 0; i < cut.frames.size(); ++i) {
      FUZZ_CHECK(cut.frames[i].header == reference.frames[i].header);
      FUZZ_CHECK(cut.frames[i].body == reference.frames[i].body);
    }
    if (reference.error == ErrorCode::kOk) FUZZ_CHECK(cut.at_boundary == reference.at_boundary);
  }
  return 0;
}
