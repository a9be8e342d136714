// ferry_load: drives a Ferry server for bench/run with the real client library, printing one JSON line.
//
//   ferry_load rtt    [--tls] HOST:PORT USER COUNT   COUNT stat requests in a row on one logged-in session
//   ferry_load logins [--tls] HOST:PORT USER COUNT   COUNT times connect (+TLS) + hello + login + quit, in turn
//   ferry_load idle   [--tls] HOST:PORT USER COUNT   opens COUNT logged-in sessions, prints {"ready": COUNT}, and
//                                                    keeps them idle until its stdin closes
//
// The password comes from FERRY_PASSWORD. TLS certificates are not checked: this is loopback benchmarking only.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "client/connection.h"
#include "common/host_port.h"

namespace {

using ferry::client::Connection;
using ferry::client::Json;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(const std::string& what, const ferry::Status& status) {
  std::fprintf(stderr, "ferry_load: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

std::unique_ptr<Connection> LogIn(const ferry::HostPort& address, bool tls, const std::string& user,
                                  const std::string& password) {
  auto connection = std::make_unique<Connection>();
  if (auto s = connection->Connect(address, tls); !s.ok()) Fail("connect", s);
  if (auto hello = connection->Hello(); !hello.ok()) Fail("hello", hello.status());
  if (auto s = connection->Login(user, password); !s.ok()) Fail("login", s);
  return connection;
}

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool tls = false;
  if (args.size() > 1 && args[1] == "--tls") {
    tls = true;
    args.erase(args.begin() + 1);
  }
  const char* password_env = std::getenv("FERRY_PASSWORD");
  if (args.size() != 4 || password_env == nullptr) {
    std::fprintf(stderr, "usage: FERRY_PASSWORD=... ferry_load rtt|logins|idle [--tls] HOST:PORT USER COUNT\n");
    return 2;
  }
  const std::string& mode = args[0];
  auto address = ferry::ParseHostPort(args[1]);
  if (!address.ok()) Fail("address", address.status());
  const std::string& user = args[2];
  const long count = std::strtol(args[3].c_str(), nullptr, 10);
  if (count <= 0 || count > 10'000'000) {
    std::fprintf(stderr, "ferry_load: COUNT must be 1 to 10000000\n");
    return 2;
  }
  const std::string password = password_env;

  if (mode == "rtt") {
    auto connection = LogIn(*address, tls, user, password);
    const auto start = Clock::now();
    for (long i = 0; i < count; ++i) {
      auto reply = connection->Call(Json{{"op", "stat"}, {"path", "."}});
      if (!reply.ok()) Fail("stat", reply.status());
    }
    std::printf("{\"round_trips\": %ld, \"seconds\": %.6f}\n", count, SecondsSince(start));
    connection->Quit();
    return 0;
  }
  if (mode == "logins") {
    const auto start = Clock::now();
    for (long i = 0; i < count; ++i) LogIn(*address, tls, user, password)->Quit();
    std::printf("{\"logins\": %ld, \"seconds\": %.6f}\n", count, SecondsSince(start));
    return 0;
  }
  if (mode == "idle") {
    // One descriptor a session: lift the soft limit as far as the hard one allows.
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &files);
    }
    std::vector<std::unique_ptr<Connection>> sessions;
    sessions.reserve(static_cast<std::size_t>(count));
    const auto start = Clock::now();
    for (long i = 0; i < count; ++i) sessions.push_back(LogIn(*address, tls, user, password));
    std::printf("{\"ready\": %ld, \"seconds\": %.6f}\n", count, SecondsSince(start));
    std::fflush(stdout);
    char byte;
    while (::read(STDIN_FILENO, &byte, 1) > 0) {
    }
    return 0;
  }
  std::fprintf(stderr, "ferry_load: unknown mode '%s'\n", mode.c_str());
  return 2;
}
