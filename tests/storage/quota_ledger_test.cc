#include "storage/quota_ledger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "support/temp_dir.h"

namespace ferry::storage {
namespace {

const UserQuota kNoLimit{};

QuotaUsage Measured(std::uint64_t bytes, std::uint64_t entries) { return QuotaUsage{bytes, entries, 0, 0}; }

std::function<Result<QuotaUsage>()> Fixed(QuotaUsage usage) {
  return [usage] { return Result<QuotaUsage>(usage); };
}

TEST(QuotaLedger, ReservesUpToTheLimitAndNoFurther) {
  QuotaLedger ledger;
  ASSERT_TRUE(ledger.Load("alice", Fixed(Measured(100, 1))).ok());
  const UserQuota quota{1000, 5};
  auto first = ledger.Reserve("alice", quota, 600, 1);
  ASSERT_TRUE(first.ok());
  auto second = ledger.Reserve("alice", quota, 301, 0);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kQuota);
  EXPECT_TRUE(ledger.Reserve("alice", quota, 300, 0).ok());  // exactly the limit (and released at once)
  EXPECT_EQ(ledger.Usage("alice").reserved_bytes, 600u);
  EXPECT_EQ(ledger.Reserve("alice", quota, 0, 4).status().code(), ErrorCode::kQuota);
  EXPECT_EQ(ledger.EntriesLeft("alice", quota), 3u);
}

TEST(QuotaLedger, UseMovesReservedToUsedAndReleaseGivesTheRestBack) {
  QuotaLedger ledger;
  ASSERT_TRUE(ledger.Load("alice", Fixed(Measured(0, 0))).ok());
  {
    auto reservation = ledger.Reserve("alice", kNoLimit, 1000, 1);
    ASSERT_TRUE(reservation.ok());
    reservation->Use(400);
    QuotaUsage usage = ledger.Usage("alice");
    EXPECT_EQ(usage.bytes, 400u);
    EXPECT_EQ(usage.reserved_bytes, 600u);
    reservation->Use(0, 1);
    QuotaLedger::Reservation moved = std::move(reservation).value();
    moved.Use(100);
  }
  const QuotaUsage usage = ledger.Usage("alice");
  EXPECT_EQ(usage.bytes, 500u);
  EXPECT_EQ(usage.entries, 1u);
  EXPECT_EQ(usage.reserved_bytes, 0u);
  EXPECT_EQ(usage.reserved_entries, 0u);
}

TEST(QuotaLedger, UseBeyondTheReservationIsStillCounted) {
  QuotaLedger ledger;
  ASSERT_TRUE(ledger.Load("alice", Fixed(Measured(0, 0))).ok());
  auto other = ledger.Reserve("alice", kNoLimit, 50, 0);
  auto reservation = ledger.Reserve("alice", kNoLimit, 10, 0);
  reservation->Use(30);
  EXPECT_EQ(ledger.Usage("alice").bytes, 30u);
  EXPECT_EQ(ledger.Usage("alice").reserved_bytes, 50u);  // the other reservation is untouched
}

TEST(QuotaLedger, ApplyNeverGoesBelowZeroAndIgnoresUnknownUsers) {
  QuotaLedger ledger;
  ledger.Apply("nobody", {100, 1});
  EXPECT_FALSE(ledger.Known("nobody"));
  ASSERT_TRUE(ledger.Load("alice", Fixed(Measured(10, 2))).ok());
  ledger.Apply("alice", {-50, -5});
  EXPECT_EQ(ledger.Usage("alice").bytes, 0u);
  EXPECT_EQ(ledger.Usage("alice").entries, 0u);
}

TEST(QuotaLedger, LoadMeasuresOnceAndRemeasureKeepsReservations) {
  QuotaLedger ledger;
  int calls = 0;
  const auto measure = [&] {
    ++calls;
    return Result<QuotaUsage>(Measured(5, 1));
  };
  ASSERT_TRUE(ledger.Load("alice", measure).ok());
  ASSERT_TRUE(ledger.Load("alice", measure).ok());
  EXPECT_EQ(calls, 1);
  auto reservation = ledger.Reserve("alice", kNoLimit, 20, 0);
  ledger.Remeasure("alice", Measured(70, 3));
  EXPECT_EQ(ledger.Usage("alice").bytes, 70u);
  EXPECT_EQ(ledger.Usage("alice").reserved_bytes, 20u);
  EXPECT_FALSE(ledger.Load("bob", [] { return Result<QuotaUsage>(Status(ErrorCode::kIo, "broken disk")); }).ok());
  EXPECT_FALSE(ledger.Known("bob"));
}

TEST(QuotaLedger, ConcurrentReservationsNeverPassTheLimit) {
  QuotaLedger ledger;
  ASSERT_TRUE(ledger.Load("alice", Fixed(Measured(0, 0))).ok());
  const UserQuota quota{1000, std::nullopt};
  std::vector<QuotaLedger::Reservation> granted[4];
  std::vector<std::thread> threads;
  for (auto& mine : granted) {
    threads.emplace_back([&ledger, &quota, &mine] {
      for (int i = 0; i < 100; ++i) {
        auto reservation = ledger.Reserve("alice", quota, 7, 0);
        if (reservation.ok()) mine.push_back(std::move(reservation).value());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::size_t total = 0;
  for (const auto& mine : granted) total += mine.size();
  EXPECT_EQ(total, 1000u / 7);
  EXPECT_EQ(ledger.Usage("alice").reserved_bytes, (1000u / 7) * 7);
}

TEST(MeasureUsage, CountsFilesFoldersAndLinksWithoutFollowingThem) {
  const ferry::testing::TempDir dir;
  const std::filesystem::path root = dir.path();
  std::filesystem::create_directories(root / "home/a/b");
  std::filesystem::create_directories(root / "partials");
  std::filesystem::create_directories(root / "elsewhere");
  std::ofstream(root / "home/a/one") << std::string(100, '1');
  std::ofstream(root / "home/a/b/two") << std::string(20, '2');
  std::ofstream(root / "partials/p.part") << std::string(5, 'p');
  std::ofstream(root / "elsewhere/big") << std::string(10000, 'e');
  std::filesystem::create_directory_symlink(root / "elsewhere", root / "home/link");

  UniqueFd home(::open((root / "home").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd partials(::open((root / "partials").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto usage = MeasureUsage(home.get(), partials.get());
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  EXPECT_EQ(usage->bytes, 125u);
  EXPECT_EQ(usage->entries, 5u);  // a, a/b, a/one, a/b/two, link
}

}  // namespace
}  // namespace ferry::storage
