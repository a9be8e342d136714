// ProgressBar: what a transfer shows while it runs.
//
// On a terminal: one line redrawn in place at most ten times a second, with the current file, bytes done and total,
// percent, rate and ETA. Elsewhere (a pipe, a log): nothing while running and one summary line at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace ferry::client {

class ProgressBar {
 public:
  enum class Mode { kQuiet, kSummaryOnly, kBar };
  // The mode for stderr: a bar on a terminal, a summary otherwise, nothing when quiet.
  static Mode ModeFor(bool quiet);

  ProgressBar(Mode mode, std::string verb, std::uint64_t total_bytes, std::uint64_t total_files = 1,
              std::FILE* out = stderr);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Clears the line of the bar being drawn, if any, so that a message printed next starts on a clean line; the bar
  // is drawn again at its next update.
  static void ClearActiveLine();

  // A new file starts; `name` is shown in the bar.
  void StartFile(const std::string& name);
  // `bytes` more bytes moved.
  void Advance(std::uint64_t bytes);
  // A file finished.
  void FinishFile();
  // Bytes that did not need moving (a resumed prefix): counted as done, not in the rate.
  void Skip(std::uint64_t bytes);
  // Clears the bar and prints the summary line (unless quiet). Call once.
  void Finish(bool ok);

  // "1.5 MiB", "980 B".
  static std::string HumanBytes(double bytes);

 private:
  void Draw(bool force);

  Mode mode_;
  std::string verb_;
  std::FILE* out_;
  std::uint64_t total_bytes_;
  std::uint64_t total_files_;
  std::uint64_t done_bytes_ = 0;
  std::uint64_t skipped_bytes_ = 0;
  std::uint64_t done_files_ = 0;
  std::string current_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
  static ProgressBar* active_;  // the bar on the terminal now (one at a time)
};

}  // namespace ferry::client
