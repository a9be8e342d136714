// FrameDecoder and EncodeFrame: frames survive any split of the byte stream, and hostile lengths, shapes and
// encodings are refused as soon as the bytes stating them arrive.
#include "protocol/frame_decoder.h"

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/frame.h"

namespace ferry::protocol {

// Readable states in failure messages.
void PrintTo(FrameDecoder::State state, std::ostream* out) {
  switch (state) {
    case FrameDecoder::State::kFrame:
      *out << "kFrame";
      return;
    case FrameDecoder::State::kNeedMore:
      *out << "kNeedMore";
      return;
    case FrameDecoder::State::kError:
      *out << "kError";
      return;
  }
  *out << "State(" << static_cast<int>(state) << ")";
}

namespace {

using State = FrameDecoder::State;

// The 4-byte big-endian length prefix of a header of `length` bytes.
std::string LengthPrefix(std::uint32_t length) {
  return {static_cast<char>(length >> 24), static_cast<char>(length >> 16), static_cast<char>(length >> 8),
          static_cast<char>(length)};
}

// A frame built by hand, for headers EncodeFrame would never produce.
std::string RawFrame(std::string_view header_text, std::string_view body = {}) {
  std::string out = LengthPrefix(static_cast<std::uint32_t>(header_text.size()));
  out.append(header_text);
  out.append(body);
  return out;
}

struct ExpectedFrame {
  Json header;  // exactly as it must come out, body_len included
  std::string body;
};

// A stream exercising the awkward cases: no body, an explicit 0-length body, binary bytes, unicode, the smallest
// possible header and a body larger than most chunks.
struct SampleStream {
  std::string bytes;
  std::vector<ExpectedFrame> frames;
};

SampleStream MakeSampleStream() {
  SampleStream stream;
  auto add = [&](const Json& header, const std::string& body) {
    stream.bytes += EncodeFrame(header, body);
    Json expected = header;
    if (!body.empty()) expected["body_len"] = body.size();
    stream.frames.push_back({expected, body});
  };
  add({{"op", "hello"}, {"id", 1}, {"version", 1}}, "");
  std::string binary = std::string("\0\xff\x00\xfe\r\n\x80", 7);
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  add({{"op", "put"}, {"id", 2}, {"path", "/data.bin"}}, binary);
  // A 0-length body stated explicitly: EncodeFrame never writes this, but a peer may.
  stream.bytes += RawFrame(R"({"op":"put","id":3,"body_len":0})");
  stream.frames.push_back({{{"op", "put"}, {"id", 3}, {"body_len", 0}}, ""});
  add({{"op", "ls"}, {"id", 4}, {"path", "/Grüße/日本語/🚀 \"quoted\" \\ tab\t.txt"}}, "héllo wörld");
  stream.bytes += RawFrame("{}");
  stream.frames.push_back({Json::object(), ""});
  std::string large(3000, '\0');
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>((i * 131) % 251);
  add({{"op", "put"}, {"id", 5}, {"nested", {{"a", {1, 2, {{"b", nullptr}}}}}}}, large);
  add({{"op", "bye"}, {"id", 6}}, "\xff");
  return stream;
}

// Takes every complete frame out of the decoder. The decoder must not fail.
void Drain(FrameDecoder& decoder, std::vector<Frame>& out) {
  while (true) {
    Frame frame;
    const State state = decoder.Next(frame);
    ASSERT_NE(state, State::kError) << decoder.error().ToString();
    if (state == State::kNeedMore) return;
    out.push_back(std::move(frame));
  }
}

// Feeds `bytes` cut before each offset in `cuts` (ascending), draining after each piece as a connection would.
std::vector<Frame> DecodePieces(std::string_view bytes, const std::vector<std::size_t>& cuts) {
  FrameDecoder decoder;
  std::vector<Frame> frames;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : bytes.size();
    decoder.Feed(bytes.substr(start, end - start));
    Drain(decoder, frames);
    start = end;
  }
  EXPECT_TRUE(decoder.at_frame_boundary());
  EXPECT_EQ(decoder.buffered(), 0U);
  return frames;
}

::testing::AssertionResult SameFrames(const std::vector<Frame>& actual, const std::vector<ExpectedFrame>& expected) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure() << actual.size() << " frames instead of " << expected.size();
  }
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (actual[i].header != expected[i].header) {
      return ::testing::AssertionFailure()
             << "frame " << i << " header " << actual[i].header.dump() << " instead of " << expected[i].header.dump();
    }
    if (actual[i].body != expected[i].body) {
      return ::testing::AssertionFailure() << "frame " << i << " body of " << actual[i].body.size()
                                           << " bytes differs from the expected " << expected[i].body.size();
    }
  }
  return ::testing::AssertionSuccess();
}

// Feeds `bytes` in one piece and returns the first non-kNeedMore state (or kNeedMore if none).
State FeedAndNext(FrameDecoder& decoder, std::string_view bytes) {
  decoder.Feed(bytes);
  Frame frame;
  return decoder.Next(frame);
}

// Feeds a single hand-made header and expects the decoder to fail with `code`.
void ExpectHeaderRejected(std::string_view header_text, ErrorCode code, const FrameLimits& limits = {}) {
  FrameDecoder decoder(limits);
  EXPECT_EQ(FeedAndNext(decoder, RawFrame(header_text)), State::kError) << header_text;
  EXPECT_EQ(decoder.error().code(), code) << header_text << ": " << decoder.error().ToString();
}

TEST(FrameDecoder, DecodesAStreamFedAllAtOnce) {
  const SampleStream stream = MakeSampleStream();
  EXPECT_TRUE(SameFrames(DecodePieces(stream.bytes, {}), stream.frames));
}

TEST(FrameDecoder, DecodesAStreamSplitAtEveryCutPoint) {
  const SampleStream stream = MakeSampleStream();
  for (std::size_t cut = 0; cut <= stream.bytes.size(); ++cut) {
    ASSERT_TRUE(SameFrames(DecodePieces(stream.bytes, {cut}), stream.frames)) << "cut at " << cut;
  }
}

TEST(FrameDecoder, DecodesAStreamFedOneByteAtATime) {
  const SampleStream stream = MakeSampleStream();
  std::vector<std::size_t> cuts(stream.bytes.size() - 1);
  for (std::size_t i = 0; i < cuts.size(); ++i) cuts[i] = i + 1;
  EXPECT_TRUE(SameFrames(DecodePieces(stream.bytes, cuts), stream.frames));
}

TEST(FrameDecoder, DecodesAStreamFedInRandomChunks) {
  const SampleStream stream = MakeSampleStream();
  for (const unsigned seed : {1U, 2U, 7U, 42U, 1234U, 99991U}) {
    for (const std::size_t max_chunk : {std::size_t{8}, std::size_t{100}, stream.bytes.size()}) {
      std::mt19937 random(seed);
      std::uniform_int_distribution<std::size_t> chunk(1, max_chunk);
      std::vector<std::size_t> cuts;
      // Each step advances by at least one byte, so the loop ends within bytes.size() steps.
      for (std::size_t at = chunk(random); at < stream.bytes.size(); at += chunk(random)) cuts.push_back(at);
      ASSERT_TRUE(SameFrames(DecodePieces(stream.bytes, cuts), stream.frames))
          << "seed " << seed << ", chunks up to " << max_chunk;
    }
  }
}

TEST(FrameDecoder, YieldsNothingUntilAFrameIsComplete) {
  FrameDecoder decoder;
  Frame frame;
  EXPECT_EQ(decoder.Next(frame), State::kNeedMore);
  EXPECT_TRUE(decoder.at_frame_boundary());
  decoder.Feed(LengthPrefix(2).substr(0, 3));
  EXPECT_EQ(decoder.Next(frame), State::kNeedMore);
  EXPECT_FALSE(decoder.at_frame_boundary());
  decoder.Feed(LengthPrefix(2).substr(3));
  decoder.Feed("{");
  EXPECT_EQ(decoder.Next(frame), State::kNeedMore);
  decoder.Feed("}");
  ASSERT_EQ(decoder.Next(frame), State::kFrame);
  EXPECT_EQ(frame.header, Json::object());
  EXPECT_TRUE(frame.body.empty());
  EXPECT_EQ(decoder.Next(frame), State::kNeedMore);
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(FrameDecoder, ShortBodyWaitsForTheRest) {
  const std::string body = "0123456789";
  const std::string bytes = EncodeFrame({{"op", "put"}}, body);
  const std::size_t header_end = bytes.size() - body.size();
  FrameDecoder decoder;
  Frame frame;
  decoder.Feed(std::string_view(bytes).substr(0, header_end + 4));
  EXPECT_EQ(decoder.Next(frame), State::kNeedMore);
  EXPECT_EQ(decoder.Next(frame), State::kNeedMore);  // asking again changes nothing
  EXPECT_FALSE(decoder.at_frame_boundary());
  EXPECT_EQ(decoder.buffered(), 4U);
  decoder.Feed(std::string_view(bytes).substr(header_end + 4));
  ASSERT_EQ(decoder.Next(frame), State::kFrame);
  EXPECT_EQ(frame.body, body);
  EXPECT_EQ(frame.header["body_len"], body.size());
  EXPECT_TRUE(decoder.at_frame_boundary());
}

// A stream that ends right after a header whose body never came did not end cleanly.
TEST(FrameDecoder, HeaderWithoutItsBodyIsNotAFrameBoundary) {
  const std::string body = "0123456789";
  const std::string bytes = EncodeFrame({{"op", "put"}}, body);
  FrameDecoder decoder;
  Frame frame;
  decoder.Feed(std::string_view(bytes).substr(0, bytes.size() - body.size()));
  EXPECT_EQ(decoder.Next(frame), State::kNeedMore);
  EXPECT_FALSE(decoder.at_frame_boundary()) << "the header of an unfinished frame has been consumed";
  decoder.Feed(body);
  ASSERT_EQ(decoder.Next(frame), State::kFrame);
  EXPECT_EQ(frame.body, body);
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(FrameDecoder, BuffersNoMoreThanWasFedForALargeBody) {
  constexpr std::uint64_t kMaxBody = 1024 * 1024;
  FrameLimits limits;
  limits.max_body = kMaxBody;
  FrameDecoder decoder(limits);
  Frame frame;
  decoder.Feed(RawFrame(R"({"op":"put","body_len":1048576})"));
  EXPECT_EQ(decoder.Next(frame), State::kNeedMore);
  std::size_t fed = 0;
  const std::string piece(4096, 'x');
  while (fed + piece.size() < kMaxBody / 4) {
    decoder.Feed(piece);
    fed += piece.size();
    ASSERT_EQ(decoder.Next(frame), State::kNeedMore);
    ASSERT_LE(decoder.buffered(), fed);
  }
  decoder.Feed(std::string(kMaxBody - fed, 'y'));
  ASSERT_EQ(decoder.Next(frame), State::kFrame);
  EXPECT_EQ(frame.body.size(), kMaxBody);
  EXPECT_EQ(decoder.buffered(), 0U);
}

TEST(FrameDecoder, RejectsOversizedHeaderBeforeBuffering) {
  FrameLimits limits;
  limits.max_header = 1024;
  for (const std::uint32_t length : {1025U, 64U * 1024U * 1024U, 0xFFFFFFFFU}) {
    FrameDecoder decoder(limits);
    EXPECT_EQ(FeedAndNext(decoder, LengthPrefix(length)), State::kError) << length;
    EXPECT_EQ(decoder.error().code(), ErrorCode::kTooBig) << decoder.error().ToString();
    EXPECT_LE(decoder.buffered(), kLengthPrefixSize);
  }
}

TEST(FrameDecoder, AcceptsAHeaderOfExactlyTheLimit) {
  FrameLimits limits;
  limits.max_header = 100;
  const std::string prefix = R"({"pad":")";
  const std::string header = prefix + std::string(100 - prefix.size() - 2, 'p') + "\"}";
  ASSERT_EQ(header.size(), 100U);
  FrameDecoder decoder(limits);
  EXPECT_EQ(FeedAndNext(decoder, RawFrame(header)), State::kFrame);
  FrameDecoder over(limits);
  EXPECT_EQ(FeedAndNext(over, RawFrame(header.substr(0, 9) + "p" + header.substr(9))), State::kError);
  EXPECT_EQ(over.error().code(), ErrorCode::kTooBig);
}

TEST(FrameDecoder, RejectsHeadersTooShortToBeAnObject) {
  for (const std::uint32_t length : {0U, 1U}) {
    FrameDecoder decoder;
    EXPECT_EQ(FeedAndNext(decoder, LengthPrefix(length)), State::kError) << length;
    EXPECT_EQ(decoder.error().code(), ErrorCode::kProtocol) << decoder.error().ToString();
  }
}

TEST(FrameDecoder, RejectsHeadersThatAreNotJson) {
  for (const std::string_view text :
       std::initializer_list<std::string_view>{"{not json}", R"({"a":1)", R"({"a":1}x)", R"({"a":1}{})", R"({'a':1})",
                                               "{\"a\":01}", "  ", std::string_view("\0\0", 2)}) {
    ExpectHeaderRejected(text, ErrorCode::kProtocol);
  }
}

TEST(FrameDecoder, RejectsJsonHeadersThatAreNotObjects) {
  for (const std::string_view text : {"[1,2]", "[]", R"("string")", "42", "-1.5", "null", "true"}) {
    ExpectHeaderRejected(text, ErrorCode::kProtocol);
  }
}

TEST(FrameDecoder, RejectsBodyLengthsThatAreNotNonNegativeIntegers) {
  for (const std::string_view text :
       {R"({"body_len":-1})", R"({"body_len":1.5})", R"({"body_len":1e3})", R"({"body_len":"10"})",
        R"({"body_len":true})", R"({"body_len":null})", R"({"body_len":[10]})", R"({"body_len":1e30})"}) {
    ExpectHeaderRejected(text, ErrorCode::kProtocol);
  }
}

TEST(FrameDecoder, RejectsOversizedBodyBeforeItArrives) {
  FrameLimits limits;
  limits.max_body = 1000;
  for (const std::string_view text :
       {R"({"body_len":1001})", R"({"body_len":4294967296})", R"({"body_len":18446744073709551615})"}) {
    FrameDecoder decoder(limits);
    // Only the header is fed: the declared size alone must be enough to refuse.
    EXPECT_EQ(FeedAndNext(decoder, RawFrame(text)), State::kError) << text;
    EXPECT_EQ(decoder.error().code(), ErrorCode::kTooBig) << text << ": " << decoder.error().ToString();
    EXPECT_EQ(decoder.buffered(), 0U);
  }
  FrameDecoder at_limit(limits);
  EXPECT_EQ(FeedAndNext(at_limit, RawFrame(R"({"body_len":1000})")), State::kNeedMore);
  EXPECT_TRUE(at_limit.error().ok());
}

// `levels` nested arrays and objects, the header object included; the innermost holds a value or is empty.
std::string Nested(int levels, bool innermost_empty) {
  std::string text = R"({"a":)";
  for (int i = 1; i < levels; ++i) text += '[';
  if (!innermost_empty || levels == 1) text += "1";
  for (int i = 1; i < levels; ++i) text += ']';
  return text + "}";
}

TEST(FrameDecoder, RejectsNestingDeeperThanTheLimit) {
  FrameLimits limits;
  limits.max_depth = 4;
  for (const int levels : {6, 7, 50, 20000}) {
    ExpectHeaderRejected(Nested(levels, true), ErrorCode::kProtocol, limits);
    ExpectHeaderRejected(Nested(levels, false), ErrorCode::kProtocol, limits);
  }
  // Deep nesting must not recurse: a header full of brackets fails cleanly with the default limits.
  ExpectHeaderRejected(std::string(60000, '['), ErrorCode::kProtocol);
  ExpectHeaderRejected("{\"a\":" + std::string(30000, '[') + std::string(30000, ']') + "}", ErrorCode::kProtocol);
}

TEST(FrameDecoder, AcceptsNestingUpToTheLimit) {
  FrameLimits limits;
  limits.max_depth = 4;
  for (const int levels : {1, 2, 4}) {
    for (const bool empty : {true, false}) {
      FrameDecoder decoder(limits);
      EXPECT_EQ(FeedAndNext(decoder, RawFrame(Nested(levels, empty))), State::kFrame)
          << Nested(levels, empty) << ": " << decoder.error().ToString();
    }
  }
  FrameDecoder objects(limits);
  EXPECT_EQ(FeedAndNext(objects, RawFrame(R"({"a":[{"b":{"c":1}}]})")), State::kFrame) << objects.error().ToString();
}

// The limit is on containers, so an empty innermost container counts as much as one holding a value.
TEST(FrameDecoder, NestingLimitDoesNotDependOnTheInnermostContainerBeingEmpty) {
  FrameLimits limits;
  limits.max_depth = 4;
  for (int levels = 1; levels <= 8; ++levels) {
    FrameDecoder empty(limits);
    FrameDecoder holding_value(limits);
    EXPECT_EQ(FeedAndNext(empty, RawFrame(Nested(levels, true))),
              FeedAndNext(holding_value, RawFrame(Nested(levels, false))))
        << Nested(levels, true) << " vs " << Nested(levels, false);
  }
}

TEST(FrameDecoder, RejectsInvalidUtf8InHeader) {
  for (const std::string_view text : {
           "{\"path\":\"\xff\xfe\"}",      // bytes never valid in UTF-8
           "{\"path\":\"\xc0\xaf\"}",      // overlong '/'
           "{\"path\":\"\xe6\x97\"}",      // truncated sequence
           "{\"path\":\"\xed\xa0\x80\"}",  // encoded surrogate
           "{\"path\":\"\\ud800\"}",       // lone surrogate escape
           "{\"\xff\":1}",                 // in a key
       }) {
    ExpectHeaderRejected(text, ErrorCode::kProtocol);
  }
}

TEST(FrameDecoder, StaysFailedAfterAnError) {
  FrameDecoder decoder;
  const std::string valid = EncodeFrame({{"op", "hello"}});
  decoder.Feed(valid);
  decoder.Feed(RawFrame("[1]"));
  decoder.Feed(valid);
  Frame frame;
  ASSERT_EQ(decoder.Next(frame), State::kFrame);
  ASSERT_EQ(decoder.Next(frame), State::kError);
  const Status first_error = decoder.error();
  EXPECT_EQ(first_error.code(), ErrorCode::kProtocol);
  for (int i = 0; i < 3; ++i) {
    decoder.Feed(valid);
    EXPECT_EQ(decoder.Next(frame), State::kError);
    EXPECT_EQ(decoder.error().code(), first_error.code());
    EXPECT_EQ(decoder.error().message(), first_error.message());
    EXPECT_EQ(decoder.buffered(), 0U);
  }
}

TEST(FrameDecoder, ParseHeaderReportsTheBodyLength) {
  std::uint64_t body_len = 99;
  auto header = ParseHeader(R"({"op":"ls"})", FrameLimits{}, &body_len);
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(body_len, 0U);
  header = ParseHeader(R"({"op":"put","body_len":12})", FrameLimits{}, &body_len);
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(body_len, 12U);
  EXPECT_EQ((*header)["op"], "put");
}

TEST(EncodeFrame, WritesABigEndianLengthPrefix) {
  const Json header = {{"pad", std::string(300, 'p')}};
  const std::string bytes = EncodeFrame(header, "body");
  ASSERT_GE(bytes.size(), kLengthPrefixSize);
  const std::size_t header_len = bytes.size() - kLengthPrefixSize - 4;
  EXPECT_EQ(bytes.substr(0, kLengthPrefixSize), LengthPrefix(static_cast<std::uint32_t>(header_len)));
  EXPECT_EQ(bytes.substr(bytes.size() - 4), "body");
  const Json written = Json::parse(bytes.substr(kLengthPrefixSize, header_len));
  EXPECT_EQ(written["body_len"], 4);
  EXPECT_EQ(written["pad"], header["pad"]);
}

TEST(EncodeFrame, RemovesAStaleBodyLengthWhenTheBodyIsEmpty) {
  const std::string bytes = EncodeFrame({{"op", "ls"}, {"body_len", 99}});
  const Json written = Json::parse(bytes.substr(kLengthPrefixSize));
  EXPECT_FALSE(written.contains("body_len")) << written.dump();
  EXPECT_EQ(written["op"], "ls");
  FrameDecoder decoder;
  Frame frame;
  decoder.Feed(bytes);
  ASSERT_EQ(decoder.Next(frame), State::kFrame);
  EXPECT_TRUE(frame.body.empty());
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(EncodeFrame, SetsTheBodyLengthWhenThereIsABody) {
  FrameDecoder decoder;
  Frame frame;
  decoder.Feed(EncodeFrame({{"op", "put"}, {"body_len", 99}}, std::string_view("a\0b", 3)));
  ASSERT_EQ(decoder.Next(frame), State::kFrame);
  EXPECT_EQ(frame.header["body_len"], 3);
  EXPECT_EQ(frame.body, std::string("a\0b", 3));
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(EncodeFrame, ReplacesInvalidUtf8SoTheFrameStaysDecodable) {
  FrameDecoder decoder;
  Frame frame;
  decoder.Feed(EncodeFrame({{"name", "bad\xff\xfename"}}));
  ASSERT_EQ(decoder.Next(frame), State::kFrame) << decoder.error().ToString();
  const std::string name = frame.header["name"];
  EXPECT_EQ(name.rfind("bad", 0), 0U);
  EXPECT_NE(name.find("name"), std::string::npos);
}

TEST(AppendFrame, BatchesFramesIntoOneBuffer) {
  std::string out = "already here";
  AppendFrame(out, {{"id", 1}});
  AppendFrame(out, {{"id", 2}}, "two");
  AppendFrame(out, {{"id", 3}, {"body_len", 5}});
  const std::string expected =
      "already here" + EncodeFrame({{"id", 1}}) + EncodeFrame({{"id", 2}}, "two") + EncodeFrame({{"id", 3}});
  EXPECT_EQ(out, expected);

  FrameDecoder decoder;
  decoder.Feed(std::string_view(out).substr(std::string_view("already here").size()));
  std::vector<Frame> frames;
  Drain(decoder, frames);
  const std::vector<ExpectedFrame> want = {{{{"id", 1}}, ""}, {{{"id", 2}, {"body_len", 3}}, "two"}, {{{"id", 3}}, ""}};
  EXPECT_TRUE(SameFrames(frames, want));
}

}  // namespace
}  // namespace ferry::protocol

namespace ferry::protocol {
namespace {

// Streams bodies with NextHead/TakeBody/SkipBody, as the client does for downloads: some body bytes come through the
// decoder's buffer, the rest "straight from the socket" (skipped), and the frames after it decode as usual.
TEST(FrameDecoderStreaming, BodiesStreamInPiecesAndTheNextFrameFollows) {
  const std::string body(100000, 'b');
  const std::string first = EncodeFrame(Json{{"op", "data"}, {"n", 1}}, body);
  const std::string stream = first + EncodeFrame(Json{{"op", "tail"}});
  const std::size_t header_end = first.size() - body.size();
  for (const std::size_t fed_first : {header_end, header_end + 5000, stream.size()}) {
    FrameDecoder decoder;
    Frame frame;
    std::uint64_t body_len = 0;
    decoder.Feed(std::string_view(stream).substr(0, 3));
    EXPECT_EQ(decoder.NextHead(frame, &body_len), FrameDecoder::State::kNeedMore);
    decoder.Feed(std::string_view(stream).substr(3, fed_first - 3));
    ASSERT_EQ(decoder.NextHead(frame, &body_len), FrameDecoder::State::kFrame);
    EXPECT_EQ(frame.header.value("n", 0), 1);
    EXPECT_TRUE(frame.body.empty());
    ASSERT_EQ(body_len, body.size());
    // What was buffered comes from the decoder...
    std::string got(decoder.TakeBody(decoder.body_remaining()));
    EXPECT_EQ(got.size(), std::min(fed_first - header_end, body.size()));
    // ...and the rest as if read from the socket past it.
    const std::size_t rest = decoder.body_remaining();
    EXPECT_EQ(rest, body.size() - got.size());
    got += stream.substr(header_end + got.size(), rest);
    decoder.SkipBody(rest);
    EXPECT_EQ(got, body);
    EXPECT_EQ(decoder.body_remaining(), 0u);
    const std::size_t fed = std::max(fed_first, first.size());
    if (fed < stream.size()) decoder.Feed(std::string_view(stream).substr(fed));
    ASSERT_EQ(decoder.Next(frame), FrameDecoder::State::kFrame);
    EXPECT_EQ(frame.header.value("op", ""), "tail");
    EXPECT_TRUE(decoder.at_frame_boundary());
  }
}

TEST(FrameDecoderStreaming, TakingAnotherFrameBeforeTheBodyIsConsumedIsAnError) {
  FrameDecoder decoder;
  decoder.Feed(EncodeFrame(Json{{"op", "data"}}, "12345") + EncodeFrame(Json{{"op", "next"}}));
  Frame frame;
  std::uint64_t body_len = 0;
  ASSERT_EQ(decoder.NextHead(frame, &body_len), FrameDecoder::State::kFrame);
  EXPECT_EQ(decoder.TakeBody(2), "12");
  EXPECT_FALSE(decoder.at_frame_boundary());
  EXPECT_EQ(decoder.Next(frame), FrameDecoder::State::kError);
}

TEST(FrameDecoderStreaming, AFrameWithoutABodyNeedsNothingMore) {
  FrameDecoder decoder;
  decoder.Feed(EncodeFrame(Json{{"op", "tail"}, {"more", false}}));
  Frame frame;
  std::uint64_t body_len = 7;
  ASSERT_EQ(decoder.NextHead(frame, &body_len), FrameDecoder::State::kFrame);
  EXPECT_EQ(body_len, 0u);
  EXPECT_EQ(decoder.body_remaining(), 0u);
  EXPECT_TRUE(decoder.TakeBody(100).empty());
  EXPECT_TRUE(decoder.at_frame_boundary());
}

}  // namespace
}  // namespace ferry::protocol
