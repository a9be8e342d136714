#include "service/file_copy.h"

#include <utility>

#include <fmt/format.h>

#include "service/user_session.h"

namespace ferry::service {

FileCopy::FileCopy(UniqueFd source, std::uint64_t size, std::string path, Upload upload)
    : source_(std::move(source)), path_(std::move(path)), size_(size), upload_(std::move(upload)) {}

FileCopy::FileCopy(FileCopy&& other) noexcept
    : source_(std::move(other.source_)),
      path_(std::move(other.path_)),
      size_(other.size_),
      copied_(other.copied_),
      upload_(std::exchange(other.upload_, std::nullopt)) {}

FileCopy::~FileCopy() {
  if (!upload_) return;
  upload_->Fail(Status(ErrorCode::kIo, "the copy was interrupted"));
  upload_->Commit(std::nullopt);  // the failure's audit line
  upload_->Discard();
}

Result<bool> FileCopy::Step(std::uint64_t max_bytes) {
  if (!upload_) return Status(ErrorCode::kInvalid, "the copy has ended");
  std::uint64_t n = 0;
  Status copied = upload_->CopyFrom(source_.get(), copied_, std::min(max_bytes, size_ - copied_), &n);
  if (copied.ok() && n == 0 && copied_ < size_) {
    copied = Status(ErrorCode::kIo, fmt::format("{} shrank while it was copied", upload_->copied_from_));
    upload_->Fail(copied);
  }
  if (!copied.ok()) {
    upload_->Commit(std::nullopt);  // refused by the failure above: only its audit line
    upload_->Discard();
    upload_.reset();
    return copied;
  }
  copied_ += n;
  return copied_ == size_;
}

Result<UploadResult> FileCopy::Commit() {
  if (!upload_) return Status(ErrorCode::kInvalid, "the copy has ended");
  auto result = upload_->Commit(std::nullopt);
  if (!result.ok()) upload_->Discard();
  upload_.reset();
  return result;
}

}  // namespace ferry::service
