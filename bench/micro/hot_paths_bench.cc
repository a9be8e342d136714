// Micro-benchmarks of the hot paths: frame encoding and decoding, streaming checksums, and path resolution in the
// home jail. Run by bench/run (or build/bin/ferry_micro_bench directly); speed is measured here, never in tests.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <benchmark/benchmark.h>

#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "storage/home_dir.h"
#include "transfer/checksum.h"

namespace ferry {
namespace {

using protocol::Json;

Json SmallRequest() { return Json{{"op", "stat"}, {"id", 123456}, {"path", "photos/2026/holiday/beach.jpg"}}; }

void BM_EncodeSmallFrame(benchmark::State& state) {
  for (auto _ : state) {
    std::string bytes = protocol::EncodeFrame(SmallRequest());
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeSmallFrame);

void BM_EncodeDataFrame(benchmark::State& state) {
  const std::string body(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    std::string bytes = protocol::EncodeFrame(Json{{"op", "data"}, {"ref", 5}}, body);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EncodeDataFrame)->Arg(64 << 10)->Arg(1 << 20);

// Many small frames glued into one stream and fed in pieces of `range(0)` bytes, as a socket delivers them.
void BM_DecodeSmallFrames(benchmark::State& state) {
  std::string stream;
  constexpr int kFrames = 256;
  for (int i = 0; i < kFrames; ++i) stream += protocol::EncodeFrame(SmallRequest());
  const std::size_t piece = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    protocol::FrameDecoder decoder;
    protocol::Frame frame;
    int decoded = 0;
    for (std::size_t at = 0; at < stream.size(); at += piece) {
      decoder.Feed(std::string_view(stream).substr(at, piece));
      while (decoder.Next(frame) == protocol::FrameDecoder::State::kFrame) ++decoded;
    }
    if (decoded != kFrames) state.SkipWithError("frames lost");
  }
  state.SetItemsProcessed(state.iterations() * kFrames);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(stream.size()));
}
BENCHMARK(BM_DecodeSmallFrames)->Arg(7)->Arg(1500)->Arg(64 << 10);

void BM_DecodeDataFrames(benchmark::State& state) {
  const std::string body(1 << 20, 'x');
  std::string stream;
  constexpr int kFrames = 16;
  for (int i = 0; i < kFrames; ++i) stream += protocol::EncodeFrame(Json{{"op", "data"}, {"ref", 5}}, body);
  constexpr std::size_t kPiece = 64 << 10;
  for (auto _ : state) {
    protocol::FrameDecoder decoder;
    protocol::Frame frame;
    for (std::size_t at = 0; at < stream.size(); at += kPiece) {
      decoder.Feed(std::string_view(stream).substr(at, kPiece));
      while (decoder.Next(frame) == protocol::FrameDecoder::State::kFrame) benchmark::DoNotOptimize(frame.body);
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(stream.size()));
}
BENCHMARK(BM_DecodeDataFrames);

void BM_Checksum(benchmark::State& state, transfer::ChecksumAlgorithm algorithm) {
  const std::string chunk(256 << 10, 'z');
  for (auto _ : state) {
    transfer::Checksum checksum(algorithm);
    for (int i = 0; i < 16; ++i) checksum.Update(chunk);  // 4 MiB in the pieces a transfer hashes
    benchmark::DoNotOptimize(checksum.HexDigest());
  }
  state.SetBytesProcessed(state.iterations() * 16 * static_cast<std::int64_t>(chunk.size()));
}
BENCHMARK_CAPTURE(BM_Checksum, xxh3, transfer::ChecksumAlgorithm::kXxh3);
BENCHMARK_CAPTURE(BM_Checksum, sha256, transfer::ChecksumAlgorithm::kSha256);
BENCHMARK_CAPTURE(BM_Checksum, md5, transfer::ChecksumAlgorithm::kMd5);

// A home with a few levels of folders and a symlink, in a temporary folder removed at the end.
class JailFixture {
 public:
  JailFixture() {
    char pattern[] = "/tmp/ferry-bench-XXXXXX";
    root_ = ::mkdtemp(pattern);
    std::filesystem::create_directories(root_ + "/photos/2026/holiday");
    ::close(::open((root_ + "/photos/2026/holiday/beach.jpg").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    std::filesystem::create_symlink("/photos/2026", root_ + "/recent");
  }
  ~JailFixture() { std::filesystem::remove_all(root_); }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

void BM_ResolveInHome(benchmark::State& state, const char* path) {
  JailFixture fixture;
  auto home = storage::HomeDir::Open(fixture.root());
  if (!home.ok()) {
    state.SkipWithError("cannot open the home");
    return;
  }
  for (auto _ : state) {
    auto fd = home->OpenPath(path, O_PATH);
    if (!fd.ok()) {
      state.SkipWithError("resolution failed");
      break;
    }
    benchmark::DoNotOptimize(fd->get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_ResolveInHome, deep_file, "photos/2026/holiday/beach.jpg");
BENCHMARK_CAPTURE(BM_ResolveInHome, through_symlink, "recent/holiday/beach.jpg");
BENCHMARK_CAPTURE(BM_ResolveInHome, dot_dot_clamped, "../../photos/../photos/2026/holiday/beach.jpg");

void BM_JoinPath(benchmark::State& state) {
  for (auto _ : state) {
    std::string joined = storage::HomeDir::Join("/photos/2026", "../2025/./holiday/beach.jpg");
    benchmark::DoNotOptimize(joined);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JoinPath);

}  // namespace
}  // namespace ferry

BENCHMARK_MAIN();
