// Status, Result<T> and the one place errno becomes an ErrorCode.
#include "common/status.h"

#include <cerrno>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace ferry {
namespace {

// Every code, in declaration order.
constexpr ErrorCode kAllCodes[] = {
    ErrorCode::kOk,           ErrorCode::kNotFound,    ErrorCode::kAccessDenied, ErrorCode::kExists,
    ErrorCode::kNotDirectory, ErrorCode::kIsDirectory, ErrorCode::kNotEmpty,     ErrorCode::kAuthFailed,
    ErrorCode::kProtocol,     ErrorCode::kTooBig,      ErrorCode::kNotPermitted, ErrorCode::kInvalid,
    ErrorCode::kNotSupported, ErrorCode::kNameTooLong, ErrorCode::kTooManyLinks, ErrorCode::kNoSpace,
    ErrorCode::kBusy,         ErrorCode::kCrossDevice, ErrorCode::kQuota,        ErrorCode::kShuttingDown,
    ErrorCode::kIo,
};

TEST(ErrorCode, NameRoundTripsForEveryCode) {
  std::set<std::string> names;
  for (const ErrorCode code : kAllCodes) {
    const std::string_view name = ErrorCodeName(code);
    EXPECT_FALSE(name.empty());
    const auto back = ErrorCodeFromName(name);
    ASSERT_TRUE(back.has_value()) << name;
    EXPECT_EQ(*back, code) << name;
    names.emplace(name);
  }
  EXPECT_EQ(names.size(), std::size(kAllCodes)) << "wire names must be distinct";
}

TEST(ErrorCode, WireNamesAreTheDocumentedSymbols) {
  EXPECT_EQ(ErrorCodeName(ErrorCode::kOk), "OK");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kNotFound), "ENOENT");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kAuthFailed), "EAUTH");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kProtocol), "EPROTO");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kTooBig), "ETOOBIG");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kQuota), "EQUOTA");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kIo), "EIO");
}

TEST(ErrorCode, UnknownNamesAreNotDecoded) {
  EXPECT_FALSE(ErrorCodeFromName("").has_value());
  EXPECT_FALSE(ErrorCodeFromName("EWHATEVER").has_value());
  EXPECT_FALSE(ErrorCodeFromName("enoent").has_value());
  EXPECT_FALSE(ErrorCodeFromName("ENOENT ").has_value());
}

TEST(ErrorCode, MapsErrnoValues) {
  EXPECT_EQ(ErrorCodeFromErrno(0), ErrorCode::kOk);
  EXPECT_EQ(ErrorCodeFromErrno(ENOENT), ErrorCode::kNotFound);
  EXPECT_EQ(ErrorCodeFromErrno(EACCES), ErrorCode::kAccessDenied);
  EXPECT_EQ(ErrorCodeFromErrno(EEXIST), ErrorCode::kExists);
  EXPECT_EQ(ErrorCodeFromErrno(ENOTDIR), ErrorCode::kNotDirectory);
  EXPECT_EQ(ErrorCodeFromErrno(EISDIR), ErrorCode::kIsDirectory);
  EXPECT_EQ(ErrorCodeFromErrno(ENOTEMPTY), ErrorCode::kNotEmpty);
  EXPECT_EQ(ErrorCodeFromErrno(EPERM), ErrorCode::kNotPermitted);
  EXPECT_EQ(ErrorCodeFromErrno(EINVAL), ErrorCode::kInvalid);
  EXPECT_EQ(ErrorCodeFromErrno(ENAMETOOLONG), ErrorCode::kNameTooLong);
  EXPECT_EQ(ErrorCodeFromErrno(ELOOP), ErrorCode::kTooManyLinks);
  EXPECT_EQ(ErrorCodeFromErrno(ENOSPC), ErrorCode::kNoSpace);
  EXPECT_EQ(ErrorCodeFromErrno(EDQUOT), ErrorCode::kQuota);
  EXPECT_EQ(ErrorCodeFromErrno(EBUSY), ErrorCode::kBusy);
  EXPECT_EQ(ErrorCodeFromErrno(EXDEV), ErrorCode::kCrossDevice);
}

TEST(ErrorCode, UnknownErrnoBecomesIo) {
  EXPECT_EQ(ErrorCodeFromErrno(EIO), ErrorCode::kIo);
  EXPECT_EQ(ErrorCodeFromErrno(ECONNRESET), ErrorCode::kIo);
  EXPECT_EQ(ErrorCodeFromErrno(ETIMEDOUT), ErrorCode::kIo);
  EXPECT_EQ(ErrorCodeFromErrno(123456), ErrorCode::kIo);
  EXPECT_EQ(ErrorCodeFromErrno(-1), ErrorCode::kIo);
}

TEST(Status, DefaultIsOk) {
  const Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.code(), ErrorCode::kOk);
  EXPECT_EQ(status.code_name(), "OK");
  EXPECT_EQ(status.ToString(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(Status, FromErrnoKeepsCodeAndNamesWhat) {
  const Status status = Status::FromErrno(ENOENT, "mkdir /a/b");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ErrorCode::kNotFound);
  EXPECT_NE(status.message().find("mkdir /a/b"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("no such file or directory"), std::string::npos) << status.message();
  EXPECT_EQ(status.ToString().rfind("ENOENT: ", 0), 0U) << status.ToString();
}

TEST(Status, FromErrnoWithoutWhatIsJustTheReason) {
  const Status status = Status::FromErrno(EDQUOT, "");
  EXPECT_EQ(status.code(), ErrorCode::kQuota);
  EXPECT_FALSE(status.message().empty());
  EXPECT_EQ(status.message().find(": "), std::string::npos) << status.message();
}

TEST(Status, ToStringJoinsCodeAndMessage) {
  EXPECT_EQ(Status(ErrorCode::kExists, "target exists: /x").ToString(), "EEXIST: target exists: /x");
}

TEST(Result, HoldsAValue) {
  Result<std::string> result(std::string("hello"));
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(static_cast<bool>(result));
  EXPECT_TRUE(result.status().ok());
  EXPECT_EQ(*result, "hello");
  EXPECT_EQ(result->size(), 5U);
  result.value() += "!";
  EXPECT_EQ(result.value(), "hello!");
  const std::string moved = std::move(result).value();
  EXPECT_EQ(moved, "hello!");
}

TEST(Result, HoldsAStatus) {
  const Result<int> result(Status(ErrorCode::kNotFound, "nope"));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(static_cast<bool>(result));
  EXPECT_EQ(result.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(result.status().message(), "nope");
}

TEST(Result, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> result(std::make_unique<int>(7));
  ASSERT_TRUE(result.ok());
  std::unique_ptr<int> owned = std::move(result).value();
  ASSERT_NE(owned, nullptr);
  EXPECT_EQ(*owned, 7);
}

}  // namespace
}  // namespace ferry
