#include "storage/quota_ledger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include <fmt/format.h>

#include "common/byte_size.h"
#include "common/unique_fd.h"
#include "storage/tree_walk.h"

namespace ferry::storage {
namespace {

std::uint64_t Subtracted(std::uint64_t value, std::int64_t delta) {
  if (delta >= 0) return value + static_cast<std::uint64_t>(delta);
  const auto taken = static_cast<std::uint64_t>(-delta);
  return value > taken ? value - taken : 0;
}

}  // namespace

Result<QuotaUsage> MeasureUsage(int home_fd, int partials_fd) {
  QuotaUsage usage;
  TreeVisitor count;
  count.on_entry = [&usage](int, const char*, const struct stat& st) -> Result<TreeVisitor::Next> {
    usage.entries += 1;
    if (S_ISREG(st.st_mode)) usage.bytes += static_cast<std::uint64_t>(st.st_size);
    return S_ISDIR(st.st_mode) ? TreeVisitor::Next::kDescend : TreeVisitor::Next::kSkip;
  };
  if (Status s = WalkTree(home_fd, "measuring usage", count); !s.ok()) return s;
  if (partials_fd >= 0) {
    // Unfinished uploads: their bytes (their number is bounded by the partial store).
    TreeVisitor partials;
    partials.on_entry = [&usage](int, const char*, const struct stat& st) -> Result<TreeVisitor::Next> {
      if (S_ISREG(st.st_mode)) usage.bytes += static_cast<std::uint64_t>(st.st_size);
      return TreeVisitor::Next::kSkip;
    };
    if (Status s = WalkTree(partials_fd, "measuring usage", partials); !s.ok()) return s;
  }
  return usage;
}

Status QuotaLedger::Load(const std::string& user, const std::function<Result<QuotaUsage>()>& measure) {
  if (Known(user)) return Status::Ok();
  auto measured = measure();
  if (!measured.ok()) return measured.status();
  std::lock_guard lock(mutex_);
  accounts_.try_emplace(user, Account{QuotaUsage{measured->bytes, measured->entries, 0, 0}});
  return Status::Ok();
}

void QuotaLedger::Remeasure(const std::string& user, const QuotaUsage& measured) {
  std::lock_guard lock(mutex_);
  auto it = accounts_.find(user);
  if (it == accounts_.end()) return;
  it->second.usage.bytes = measured.bytes;
  it->second.usage.entries = measured.entries;
}

bool QuotaLedger::Known(const std::string& user) {
  std::lock_guard lock(mutex_);
  return accounts_.count(user) != 0;
}

QuotaUsage QuotaLedger::Usage(const std::string& user) {
  std::lock_guard lock(mutex_);
  auto it = accounts_.find(user);
  return it == accounts_.end() ? QuotaUsage{} : it->second.usage;
}

Result<QuotaLedger::Reservation> QuotaLedger::Reserve(const std::string& user, const UserQuota& quota,
                                                      std::uint64_t bytes, std::uint64_t entries) {
  std::lock_guard lock(mutex_);
  QuotaUsage& usage = accounts_[user].usage;
  // Each sum is of values below 2^62 (limits, file sizes) or of counts of real things: no overflow.
  if (quota.max_bytes && bytes > 0 && usage.bytes + usage.reserved_bytes + bytes > *quota.max_bytes) {
    const std::uint64_t taken = usage.bytes + usage.reserved_bytes;
    const std::uint64_t left = taken < *quota.max_bytes ? *quota.max_bytes - taken : 0;
    return Status(ErrorCode::kQuota,
                  fmt::format("quota exceeded: {} needed, {} left of your {} quota", HumanBytes(double(bytes)),
                              HumanBytes(double(left)), HumanBytes(double(*quota.max_bytes))));
  }
  if (quota.max_files && entries > 0 && usage.entries + usage.reserved_entries + entries > *quota.max_files) {
    return Status(ErrorCode::kQuota,
                  fmt::format("quota exceeded: you may have at most {} files and folders", *quota.max_files));
  }
  usage.reserved_bytes += bytes;
  usage.reserved_entries += entries;
  return Reservation(this, user, bytes, entries);
}

QuotaLedger::Reservation QuotaLedger::ReserveFreed(const std::string& user, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  QuotaUsage& usage = accounts_[user].usage;
  const std::uint64_t moved = std::min(bytes, usage.bytes);
  usage.bytes -= moved;
  usage.reserved_bytes += moved;
  return Reservation(this, user, moved, 0);
}

std::uint64_t QuotaLedger::EntriesLeft(const std::string& user, const UserQuota& quota) {
  if (!quota.max_files) return UINT64_MAX;
  std::lock_guard lock(mutex_);
  auto it = accounts_.find(user);
  const std::uint64_t taken = it == accounts_.end() ? 0 : it->second.usage.entries + it->second.usage.reserved_entries;
  return taken < *quota.max_files ? *quota.max_files - taken : 0;
}

void QuotaLedger::Apply(const std::string& user, SpaceChange change) {
  std::lock_guard lock(mutex_);
  auto it = accounts_.find(user);
  if (it == accounts_.end()) return;
  it->second.usage.bytes = Subtracted(it->second.usage.bytes, change.bytes);
  it->second.usage.entries = Subtracted(it->second.usage.entries, change.entries);
}

void QuotaLedger::Release(const std::string& user, std::uint64_t bytes, std::uint64_t entries) {
  Settle(user, bytes, entries, false);
}

void QuotaLedger::Consume(const std::string& user, std::uint64_t bytes, std::uint64_t entries) {
  Settle(user, bytes, entries, true);
}

void QuotaLedger::Settle(const std::string& user, std::uint64_t bytes, std::uint64_t entries, bool used) {
  std::lock_guard lock(mutex_);
  auto it = accounts_.find(user);
  if (it == accounts_.end()) return;
  QuotaUsage& usage = it->second.usage;
  usage.reserved_bytes -= std::min(usage.reserved_bytes, bytes);
  usage.reserved_entries -= std::min(usage.reserved_entries, entries);
  if (used) {
    usage.bytes += bytes;
    usage.entries += entries;
  }
}

QuotaLedger::Reservation::Reservation(Reservation&& other) noexcept
    : ledger_(std::exchange(other.ledger_, nullptr)),
      user_(std::move(other.user_)),
      bytes_(std::exchange(other.bytes_, 0)),
      entries_(std::exchange(other.entries_, 0)) {}

QuotaLedger::Reservation& QuotaLedger::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    ledger_ = std::exchange(other.ledger_, nullptr);
    user_ = std::move(other.user_);
    bytes_ = std::exchange(other.bytes_, 0);
    entries_ = std::exchange(other.entries_, 0);
  }
  return *this;
}

void QuotaLedger::Reservation::Use(std::uint64_t bytes, std::uint64_t entries) {
  if (ledger_ == nullptr) return;
  // Consume moves the reserved part and adds the rest: Consume clamps at what is reserved overall, so the part
  // beyond this reservation is added as plain usage.
  const std::uint64_t reserved_bytes = std::min(bytes, bytes_);
  const std::uint64_t reserved_entries = std::min(entries, entries_);
  ledger_->Consume(user_, reserved_bytes, reserved_entries);
  if (bytes > reserved_bytes || entries > reserved_entries) {
    ledger_->Apply(user_, SpaceChange{static_cast<std::int64_t>(bytes - reserved_bytes),
                                      static_cast<std::int64_t>(entries - reserved_entries)});
  }
  bytes_ -= reserved_bytes;
  entries_ -= reserved_entries;
}

void QuotaLedger::Reservation::Release() {
  if (ledger_ == nullptr) return;
  ledger_->Release(user_, bytes_, entries_);
  ledger_ = nullptr;
  bytes_ = 0;
  entries_ = 0;
}

void QuotaLedger::Reservation::Absorb(Reservation&& more) {
  if (more.ledger_ == nullptr) return;
  if (ledger_ == nullptr) {
    *this = std::move(more);
    return;
  }
  bytes_ += std::exchange(more.bytes_, 0);
  entries_ += std::exchange(more.entries_, 0);
  more.ledger_ = nullptr;
}

}  // namespace ferry::storage
