#include "client/ping.h"

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <fmt/format.h>

#include "protocol/ping.h"

namespace ferry::client {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> interrupted{false};

void OnInterrupt(int) { interrupted = true; }

std::uint64_t ReadNumber(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8 && i < bytes.size(); ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

void WriteNumber(std::string& bytes, std::size_t at, std::uint64_t value) {
  for (int i = 7; i >= 0; --i, value >>= 8) bytes[at + static_cast<std::size_t>(i)] = static_cast<char>(value & 0xff);
}

}  // namespace

int RunPing(const PingOptions& options, std::ostream& out, std::ostream& err) {
  const std::size_t size = std::clamp(options.size, protocol::kMinPingSize + 8, protocol::kMaxPingSize);
  const std::string shown = FormatHostPort(options.target);
  asio::io_context io;
  asio::ip::udp::resolver resolver(io);
  asio::error_code error;
  const auto endpoints = resolver.resolve(options.target.host, std::to_string(options.target.port), error);
  if (error || endpoints.empty()) {
    err << fmt::format("ferry: cannot resolve {}: {}\n", options.target.host, error.message());
    return 2;
  }
  const asio::ip::udp::endpoint endpoint = *endpoints.begin();
  asio::ip::udp::socket socket(io);
  socket.open(endpoint.protocol(), error);
  // Connected, so that an ICMP "port unreachable" comes back as an error instead of silence.
  if (!error) socket.connect(endpoint, error);
  if (error) {
    err << fmt::format("ferry: {}: {}\n", shown, error.message());
    return 2;
  }
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  ::sigaction(SIGINT, &action, nullptr);

  out << fmt::format("PING {} ({}): {}-byte probes\n", shown, endpoint.address().to_string(), size) << std::flush;
  std::map<std::uint64_t, Clock::time_point> pending;
  std::vector<double> rtts;
  unsigned sent = 0;
  std::string probe(size, '\0');
  std::memcpy(probe.data(), protocol::kPingProbeMagic.data(), protocol::kPingProbeMagic.size());
  probe[protocol::kPingProbeMagic.size()] = 1;
  std::string reply(protocol::kMaxPingSize + 1, '\0');
  const auto start = Clock::now();
  auto next_send = start;
  auto stop_at = Clock::time_point::max();
  while (!interrupted) {
    const auto now = Clock::now();
    if (now >= stop_at || (options.count > 0 && sent >= options.count && pending.empty())) break;
    if (now >= next_send && (options.count == 0 || sent < options.count)) {
      ++sent;
      WriteNumber(probe, protocol::kPingProbeMagic.size() + 1, sent);
      pending[sent] = Clock::now();
      socket.send(asio::buffer(probe), 0, error);  // a refusal shows up as an error on a later receive
      next_send += options.interval;
      if (options.count > 0 && sent >= options.count) stop_at = Clock::now() + options.wait;
      continue;
    }
    const auto until = std::min(next_send, stop_at);
    const auto wait_ms = std::max<long long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1);
    pollfd ready{socket.native_handle(), POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(std::min<long long>(wait_ms, 1000))) <= 0) continue;
    const std::size_t n = socket.receive(asio::buffer(reply), 0, error);
    if (error) continue;  // e.g. connection refused: the probe is lost
    const auto payload = protocol::PingReplyPayload(std::string_view(reply.data(), n));
    if (!payload) continue;
    const std::uint64_t seq = ReadNumber(*payload);
    const auto it = pending.find(seq);
    if (it == pending.end()) continue;  // a duplicate, or one given up on
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - it->second).count();
    pending.erase(it);
    rtts.push_back(ms);
    out << fmt::format("{} bytes from {}: seq={} time={:.3f} ms\n", n, shown, seq, ms) << std::flush;
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  const auto received = static_cast<unsigned>(rtts.size());
  const double loss = sent == 0 ? 0 : 100.0 * (sent - received) / sent;
  out << fmt::format("--- {} ferry ping statistics ---\n", shown);
  out << fmt::format("{} probes transmitted, {} received, {:.0f}% loss, time {}ms\n", sent, received, loss, elapsed);
  if (!rtts.empty()) {
    double sum = 0;
    for (const double rtt : rtts) sum += rtt;
    out << fmt::format("rtt min/avg/max = {:.3f}/{:.3f}/{:.3f} ms\n", *std::min_element(rtts.begin(), rtts.end()),
                       sum / rtts.size(), *std::max_element(rtts.begin(), rtts.end()));
  }
  out << std::flush;
  return received > 0 ? 0 : 1;
}

}  // namespace ferry::client
