#include "protocol/frame_decoder.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace ferry::protocol {

namespace {

// The deepest nesting of arrays and objects in JSON text, the outermost container counting as 1. Brackets inside
// strings do not count. A linear scan, so that a hostile header is refused before the parser sees it.
int NestingDepth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

Result<Json> ParseHeader(std::string_view text, const FrameLimits& limits, std::uint64_t* body_len) {
  if (NestingDepth(text) > limits.max_depth) {
    return Status(ErrorCode::kProtocol, fmt::format("frame header nests deeper than {}", limits.max_depth));
  }
  Json header = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return Status(ErrorCode::kProtocol, "frame header is not valid JSON");
  if (!header.is_object()) return Status(ErrorCode::kProtocol, "frame header is not a JSON object");
  *body_len = 0;
  const auto it = header.find(kBodyLengthKey);
  if (it != header.end()) {
    if (!it->is_number_unsigned()) {
      return Status(ErrorCode::kProtocol, "frame header field body_len is not a non-negative integer");
    }
    const std::uint64_t declared = it->get<std::uint64_t>();
    if (declared > 0 && limits.max_body == 0) {
      return Status(ErrorCode::kTooBig,
                    fmt::format("no request before login carries a body (this one declares {} bytes)", declared));
    }
    if (declared > limits.max_body) {
      return Status(ErrorCode::kTooBig,
                    fmt::format("frame body of {} bytes exceeds the limit of {}", declared, limits.max_body));
    }
    *body_len = declared;
  }
  return header;
}

FrameDecoder::FrameDecoder(FrameLimits limits) : limits_(limits) {}

void FrameDecoder::set_limits(FrameLimits limits) {
  limits_ = limits;
  // A buffer grown for the old limits goes back, so what was read before holds no memory after.
  if (buffered() == 0) {
    buffer_.clear();
    buffer_.shrink_to_fit();
    consumed_ = 0;
  }
}

void FrameDecoder::Feed(std::string_view bytes) {
  if (!error_.ok()) return;
  Compact();
  buffer_.append(bytes);
}

void FrameDecoder::Compact() {
  // Drop returned bytes once they dominate the buffer, keeping the amortised cost linear.
  if (consumed_ > 0 && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
}

FrameDecoder::State FrameDecoder::Fail(ErrorCode code, std::string message) {
  error_ = Status(code, std::move(message));
  buffer_.clear();
  buffer_.shrink_to_fit();
  consumed_ = 0;
  pending_header_.reset();
  streaming_body_ = 0;
  return State::kError;
}

FrameDecoder::State FrameDecoder::Next(Frame& frame) {
  if (!error_.ok()) return State::kError;
  if (streaming_body_ > 0) return Fail(ErrorCode::kProtocol, "a streamed frame body was not consumed");
  if (State head = ParsePendingHeader(); head != State::kFrame) return head;
  if (buffered() < pending_body_len_) return State::kNeedMore;
  frame.header = std::move(*pending_header_);
  pending_header_.reset();
  frame.body.assign(buffer_, consumed_, pending_body_len_);
  consumed_ += pending_body_len_;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return State::kFrame;
}

FrameDecoder::State FrameDecoder::NextHead(Frame& frame, std::uint64_t* body_len) {
  if (!error_.ok()) return State::kError;
  if (streaming_body_ > 0) return Fail(ErrorCode::kProtocol, "a streamed frame body was not consumed");
  if (State head = ParsePendingHeader(); head != State::kFrame) return head;
  frame.header = std::move(*pending_header_);
  frame.body.clear();
  pending_header_.reset();
  *body_len = pending_body_len_;
  streaming_body_ = pending_body_len_;
  return State::kFrame;
}

std::string_view FrameDecoder::TakeBody(std::size_t max) {
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>({max, streaming_body_, buffered()}));
  const std::string_view bytes(buffer_.data() + consumed_, n);
  consumed_ += n;
  streaming_body_ -= n;
  return bytes;
}

void FrameDecoder::SkipBody(std::uint64_t n) { streaming_body_ -= std::min(n, streaming_body_); }

FrameDecoder::State FrameDecoder::ParsePendingHeader() {
  if (!pending_header_) {
    if (buffered() < kLengthPrefixSize) return State::kNeedMore;
    const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + consumed_);
    const std::uint32_t header_len = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                                     (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    if (header_len > limits_.max_header) {
      return Fail(ErrorCode::kTooBig,
                  fmt::format("frame header of {} bytes exceeds the limit of {}", header_len, limits_.max_header));
    }
    if (header_len < 2) return Fail(ErrorCode::kProtocol, "frame header is too short to be a JSON object");
    if (buffered() < kLengthPrefixSize + header_len) return State::kNeedMore;
    std::uint64_t body_len = 0;
    auto header = ParseHeader(std::string_view(buffer_).substr(consumed_ + kLengthPrefixSize, header_len),
                              limits_, &body_len);
    if (!header.ok()) return Fail(header.status().code(), header.status().message());
    consumed_ += kLengthPrefixSize + header_len;
    pending_header_ = std::move(header).value();
    pending_body_len_ = body_len;
  }
  return State::kFrame;
}

}  // namespace ferry::protocol
