// Helpers for the message struct tests: send a struct through the wire form and back, and edit headers.
#pragma once

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "protocol/operations.h"

namespace ferry::protocol::testing {

// What the other side receives: the header serialized and parsed again (non-negative numbers come back unsigned).
inline Json OverTheWire(const Json& header) {
  return Json::parse(DumpJson(header));
}

// A request as the server receives it: encoded, given an id by the connection, sent.
template <typename Request>
Result<Request> RequestRoundTrip(const Request& request) {
  Json header = request.Encode();
  header["id"] = 7;
  return Request::Parse(OverTheWire(header));
}

// A reply as the client receives it: the fields appended to an ok reply, sent.
template <typename Reply>
Result<Reply> ReplyRoundTrip(const Reply& reply) {
  return Reply::Parse(OverTheWire(OkReply(7, reply)));
}

// Checks that a round trip gave back `original`.
template <typename T>
void ExpectRoundTrip(const Result<T>& parsed, const T& original) {
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, original);
}

// A copy of `header` without `key`, or with `key` set to `value`.
inline Json Without(Json header, std::string_view key) {
  header.erase(std::string(key));
  return header;
}
inline Json With(Json header, std::string_view key, Json value) {
  header[std::string(key)] = std::move(value);
  return header;
}

// True when `status` failed with `code`.
inline ::testing::AssertionResult FailsWith(const Status& status, ErrorCode code) {
  if (status.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << (status.ok() ? "success" : status.ToString()) << " instead of "
                                       << ErrorCodeName(code);
}

// True when `status` failed with `code` and its message names `field`.
inline ::testing::AssertionResult FailsNaming(const Status& status, ErrorCode code, std::string_view field) {
  if (auto result = FailsWith(status, code); !result) return result;
  if (status.message().find(field) == std::string::npos) {
    return ::testing::AssertionFailure() << "message does not name '" << field << "': " << status.message();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace ferry::protocol::testing
