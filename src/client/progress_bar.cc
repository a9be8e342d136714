#include "client/progress_bar.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "common/byte_size.h"
#include "client/terminal_text.h"

namespace ferry::client {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

int Width(std::FILE* out) {
  winsize size{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 80;
}

std::string Duration(double seconds) {
  if (seconds < 0 || seconds > 99 * 3600) return "--:--";
  const auto total = static_cast<long>(seconds + 0.5);
  if (total >= 3600) return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
  return fmt::format("{:02}:{:02}", total / 60, total % 60);
}

}  // namespace

ProgressBar::Mode ProgressBar::ModeFor(bool quiet) {
  if (quiet) return Mode::kQuiet;
  return ::isatty(STDERR_FILENO) != 0 ? Mode::kBar : Mode::kSummaryOnly;
}

ProgressBar::ProgressBar(Mode mode, std::string verb, std::uint64_t total_bytes, std::uint64_t total_files,
                         std::FILE* out)
    : mode_(mode),
      verb_(std::move(verb)),
      out_(out),
      total_bytes_(total_bytes),
      total_files_(total_files),
      start_(std::chrono::steady_clock::now()) {
  if (mode_ == Mode::kBar) active_ = this;
}

ProgressBar::~ProgressBar() {
  if (active_ == this) active_ = nullptr;
}

ProgressBar* ProgressBar::active_ = nullptr;

void ProgressBar::ClearActiveLine() {
  if (active_ == nullptr || !active_->drawn_) return;
  std::fputs("\r\x1b[K", active_->out_);
  std::fflush(active_->out_);
  active_->drawn_ = false;  // drawn again at the next update
}

std::string ProgressBar::HumanBytes(double bytes) { return ferry::HumanBytes(bytes); }

void ProgressBar::StartFile(const std::string& name) {
  current_ = EscapeForTerminal(name);
  Draw(false);
}

void ProgressBar::Advance(std::uint64_t bytes) {
  done_bytes_ += bytes;
  Draw(false);
}

void ProgressBar::Skip(std::uint64_t bytes) {
  done_bytes_ += bytes;
  skipped_bytes_ += bytes;
}

void ProgressBar::FinishFile() {
  ++done_files_;
  Draw(false);
}

void ProgressBar::Draw(bool force) {
  if (mode_ != Mode::kBar) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  drawn_ = true;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double moved = static_cast<double>(done_bytes_ - skipped_bytes_);
  const double rate = elapsed > 0 ? moved / elapsed : 0;
  const double percent = total_bytes_ > 0 ? 100.0 * static_cast<double>(done_bytes_) / static_cast<double>(total_bytes_)
                                          : (done_files_ >= total_files_ ? 100.0 : 0.0);
  const double left = rate > 0 ? static_cast<double>(total_bytes_ - std::min(done_bytes_, total_bytes_)) / rate : -1;
  std::string files = total_files_ > 1 ? fmt::format(" {}/{} files", done_files_, total_files_) : "";
  std::string numbers = fmt::format(" {:3.0f}% {}/{} {}/s ETA {}{}", percent, HumanBytes(static_cast<double>(done_bytes_)),
                                    HumanBytes(static_cast<double>(total_bytes_)), HumanBytes(rate), Duration(left), files);
  const int width = Width(out_);
  const int bar_width = std::max(10, std::min(30, width - static_cast<int>(numbers.size()) - 24));
  const int filled = static_cast<int>(bar_width * std::min(percent, 100.0) / 100.0);
  std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '=') +
                    std::string(static_cast<std::size_t>(bar_width - filled), ' ') + "]";
  std::string name = current_;
  const int name_room = std::max(8, width - static_cast<int>(numbers.size() + bar.size()) - 3);
  if (static_cast<int>(name.size()) > name_room) name = "..." + name.substr(name.size() - static_cast<std::size_t>(name_room - 3));
  std::string line = fmt::format("{:<{}} {}{}", name, name_room, bar, numbers);
  if (static_cast<int>(line.size()) >= width) line.resize(static_cast<std::size_t>(width - 1));
  std::fprintf(out_, "\r%s\x1b[K", line.c_str());
  std::fflush(out_);
}

void ProgressBar::Finish(bool ok) {
  if (mode_ == Mode::kQuiet) return;
  if (mode_ == Mode::kBar && drawn_) {
    Draw(true);
    std::fputs("\r\x1b[K", out_);
  }
  if (!ok) {
    // The error that follows says what went wrong; a summary would only contradict it. Of a tree, say how far it got.
    if (total_files_ > 1 && done_files_ > 0) {
      std::fprintf(out_, "stopped after %llu of %llu files (%s %s)\n",
                   static_cast<unsigned long long>(done_files_), static_cast<unsigned long long>(total_files_),
                   HumanBytes(static_cast<double>(done_bytes_)).c_str(), verb_.c_str());
      std::fflush(out_);
    }
    return;
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double moved = static_cast<double>(done_bytes_ - skipped_bytes_);
  std::string line = verb_;
  if (total_files_ > 1) {
    line += fmt::format(" {} of {} files,", done_files_, total_files_);
  } else if (!current_.empty()) {
    line += " " + current_ + ":";
  }
  line += fmt::format(" {} in {:.1f} s ({}/s)", HumanBytes(static_cast<double>(done_bytes_)), elapsed,
                      HumanBytes(elapsed > 0 ? moved / elapsed : 0));
  if (skipped_bytes_ > 0) line += fmt::format(", resumed after {}", HumanBytes(static_cast<double>(skipped_bytes_)));
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

}  // namespace ferry::client
