// QuotaLedger: how much each user stores, and the room promised to uploads still running, so that several sessions of
// one user can never together pass the user's quota.
//
// Usage is measured from disk the first time a user is seen after the server starts (so it is right after a crash or
// a restart) and then kept current by every change the server makes: an upload reserves room for its declared size
// when it starts, moves it from reserved to used as bytes are written and gives back what it did not use when it ends.
// Changes made to a home from outside the server are picked up by measuring again (Remeasure) or at the next start.
// Thread-safe: one mutex; every call is O(1) except the measurement, which runs outside it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "storage/file_ops.h"
#include "storage/user_store.h"

namespace ferry::storage {

struct QuotaUsage {
  std::uint64_t bytes = 0;             // regular files in the home, and unfinished uploads
  std::uint64_t entries = 0;           // files, folders and links in the home (the home itself not counted)
  std::uint64_t reserved_bytes = 0;    // promised to uploads in progress and not yet written
  std::uint64_t reserved_entries = 0;  // names those uploads will add to the home
};

// Counts what the folder `home_fd` holds and the bytes of regular files directly in `partials_fd` (-1: none),
// without following symlinks, at any depth (storage/tree_walk.h).
Result<QuotaUsage> MeasureUsage(int home_fd, int partials_fd);

class QuotaLedger {
 public:
  class Reservation;

  QuotaLedger() = default;
  QuotaLedger(const QuotaLedger&) = delete;
  QuotaLedger& operator=(const QuotaLedger&) = delete;

  // Makes the user's usage known, calling `measure` (outside the lock) unless it already is. When two first calls
  // race, the first result stored wins.
  Status Load(const std::string& user, const std::function<Result<QuotaUsage>()>& measure);
  // Replaces the measured part of a known user's usage (reservations stay), after changes from outside the server.
  void Remeasure(const std::string& user, const QuotaUsage& measured);
  bool Known(const std::string& user);
  // Zero for a user not loaded.
  QuotaUsage Usage(const std::string& user);

  // Reserves `bytes` and `entries` for a user, or EQUOTA naming the limit that used + reserved + the request would
  // pass. A limit already passed (lowered by the administrator) refuses every request for more of it.
  // REQUIRES: the user is loaded and the ledger outlives the reservation.
  Result<Reservation> Reserve(const std::string& user, const UserQuota& quota, std::uint64_t bytes,
                              std::uint64_t entries);
  // Turns `bytes` the user stores and is about to free (a file emptied to be written again) into room reserved for
  // the same user, with no check: the room was theirs, and no other upload can take it in between.
  // REQUIRES: the ledger outlives the reservation.
  Reservation ReserveFreed(const std::string& user, std::uint64_t bytes);
  // Room left under the quota's entry limit (UINT64_MAX when there is none).
  std::uint64_t EntriesLeft(const std::string& user, const UserQuota& quota);
  // Records a change that asks no permission: space given back, or taken without a reservation. Usage never goes
  // below zero. A no-op for a user not loaded.
  void Apply(const std::string& user, SpaceChange change);

 private:
  friend class Reservation;
  struct Account {
    QuotaUsage usage;
  };
  // A reservation ending: `bytes` and `entries` of it were never used.
  void Release(const std::string& user, std::uint64_t bytes, std::uint64_t entries);
  // `bytes` and `entries` of a reservation were used: they move from reserved to used.
  void Consume(const std::string& user, std::uint64_t bytes, std::uint64_t entries);
  // Takes `bytes` and `entries` off the reserved amounts, adding them to what is used when `used`.
  void Settle(const std::string& user, std::uint64_t bytes, std::uint64_t entries, bool used);

  std::mutex mutex_;
  std::unordered_map<std::string, Account> accounts_;
};

// Room promised to one operation. Movable; what is not used is given back when it is destroyed.
class QuotaLedger::Reservation {
 public:
  Reservation() = default;
  Reservation(Reservation&& other) noexcept;
  Reservation& operator=(Reservation&& other) noexcept;
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  ~Reservation() { Release(); }

  // `bytes` and `entries` were written: they count as used from now on. Beyond what is reserved they are still
  // counted (usage must match the disk), without a check.
  void Use(std::uint64_t bytes, std::uint64_t entries = 0);
  // Gives back what was not used; the reservation is empty afterwards.
  void Release();
  // Takes over `more` (room reserved later for the same user from the same ledger), which is empty afterwards: an
  // upload of no declared size reserves as it grows.
  void Absorb(Reservation&& more);

  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t entries() const { return entries_; }

 private:
  friend class QuotaLedger;
  Reservation(QuotaLedger* ledger, std::string user, std::uint64_t bytes, std::uint64_t entries)
      : ledger_(ledger), user_(std::move(user)), bytes_(bytes), entries_(entries) {}

  QuotaLedger* ledger_ = nullptr;  // null: nothing reserved
  std::string user_;
  std::uint64_t bytes_ = 0;
  std::uint64_t entries_ = 0;
};

}  // namespace ferry::storage
