#include "common/status.h"

#include <cerrno>
#include <cstring>

#include <array>

namespace ferry {
namespace {

struct CodeName {
  ErrorCode code;
  std::string_view name;
};

constexpr std::array kCodeNames = {
    CodeName{ErrorCode::kOk, "OK"},
    CodeName{ErrorCode::kNotFound, "ENOENT"},
    CodeName{ErrorCode::kAccessDenied, "EACCES"},
    CodeName{ErrorCode::kExists, "EEXIST"},
    CodeName{ErrorCode::kNotDirectory, "ENOTDIR"},
    CodeName{ErrorCode::kIsDirectory, "EISDIR"},
    CodeName{ErrorCode::kNotEmpty, "ENOTEMPTY"},
    CodeName{ErrorCode::kAuthFailed, "EAUTH"},
    CodeName{ErrorCode::kProtocol, "EPROTO"},
    CodeName{ErrorCode::kTooBig, "ETOOBIG"},
    CodeName{ErrorCode::kNotPermitted, "EPERM"},
    CodeName{ErrorCode::kInvalid, "EINVAL"},
    CodeName{ErrorCode::kNotSupported, "ENOSYS"},
    CodeName{ErrorCode::kNameTooLong, "ENAMETOOLONG"},
    CodeName{ErrorCode::kTooManyLinks, "ELOOP"},
    CodeName{ErrorCode::kNoSpace, "ENOSPC"},
    CodeName{ErrorCode::kBusy, "EBUSY"},
    CodeName{ErrorCode::kCrossDevice, "EXDEV"},
    CodeName{ErrorCode::kQuota, "EQUOTA"},
    CodeName{ErrorCode::kShuttingDown, "ESHUTDOWN"},
    CodeName{ErrorCode::kIo, "EIO"},
};

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
  for (const auto& entry : kCodeNames) {
    if (entry.code == code) return entry.name;
  }
  return "EIO";
}

std::optional<ErrorCode> ErrorCodeFromName(std::string_view name) {
  for (const auto& entry : kCodeNames) {
    if (entry.name == name) return entry.code;
  }
  return std::nullopt;
}

ErrorCode ErrorCodeFromErrno(int err) {
  switch (err) {
    case 0: return ErrorCode::kOk;
    case ENOENT: return ErrorCode::kNotFound;
    case EACCES: return ErrorCode::kAccessDenied;
    case EEXIST: return ErrorCode::kExists;
    case ENOTDIR: return ErrorCode::kNotDirectory;
    case EISDIR: return ErrorCode::kIsDirectory;
    case ENOTEMPTY: return ErrorCode::kNotEmpty;
    case EPERM: return ErrorCode::kNotPermitted;
    case EINVAL: return ErrorCode::kInvalid;
    case ENAMETOOLONG: return ErrorCode::kNameTooLong;
    case ELOOP: return ErrorCode::kTooManyLinks;
    case ENOSPC: return ErrorCode::kNoSpace;
    case EDQUOT: return ErrorCode::kQuota;
    case EBUSY: return ErrorCode::kBusy;
    case EXDEV: return ErrorCode::kCrossDevice;
    case EFBIG: return ErrorCode::kTooBig;
    default: return ErrorCode::kIo;
  }
}

Status Status::FromErrno(int err, std::string_view what) {
  std::string message = std::strerror(err);
  if (!message.empty()) message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  if (!what.empty()) {
    message += ": ";
    message += what;
  }
  return Status(ErrorCodeFromErrno(err), std::move(message));
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(code_name());
  out += ": ";
  out += message_;
  return out;
}

}  // namespace ferry
