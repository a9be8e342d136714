// ferry_raw_tcp: the best a program can do over loopback TCP, as the reference bench/run measures Ferry against.
//
//   ferry_raw_tcp stream FILE          one connection: a sender sendfile()s FILE (from the page cache), a receiver
//                                      reads into a 1 MiB buffer and drops it. Prints {"bytes":N,"seconds":S}.
//   ferry_raw_tcp pingpong SIZE COUNT  COUNT round trips of SIZE bytes on one connection (TCP_NODELAY) to an echo
//                                      thread. Prints {"round_trips":N,"seconds":S}.
//
// Both sides run in this process, on 127.0.0.1 and a port the kernel picks.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "ferry_raw_tcp: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

sockaddr_in Loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

int TcpSocket() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  return fd;
}

// A listening socket on 127.0.0.1:0; returns it and sets *port.
int Listen(std::uint16_t* port) {
  const int fd = TcpSocket();
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) Die("bind");
  if (::listen(fd, 1) != 0) Die("listen");
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) Die("getsockname");
  *port = ntohs(address.sin_port);
  return fd;
}

int Connect(std::uint16_t port) {
  const int fd = TcpSocket();
  sockaddr_in address = Loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) Die("connect");
  return fd;
}

bool ReadExactly(int fd, char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool WriteAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

int Stream(const char* path) {
  const int file = ::open(path, O_RDONLY | O_CLOEXEC);
  if (file < 0) Die(path);
  struct stat st {};
  if (::fstat(file, &st) != 0) Die("fstat");
  std::uint16_t port = 0;
  const int listener = Listen(&port);
  std::thread sender([&] {
    const int peer = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (peer < 0) Die("accept");
    off_t offset = 0;
    while (offset < st.st_size) {
      const ssize_t n = ::sendfile(peer, file, &offset, static_cast<std::size_t>(st.st_size - offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) Die("sendfile");
    }
    ::close(peer);
  });
  const auto start = std::chrono::steady_clock::now();
  const int fd = Connect(port);
  std::vector<char> buffer(1 << 20);
  long long total = 0;
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Die("read");
    if (n == 0) break;
    total += n;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sender.join();
  ::close(fd);
  if (total != st.st_size) {
    std::fprintf(stderr, "ferry_raw_tcp: received %lld of %lld bytes\n", total, static_cast<long long>(st.st_size));
    return 1;
  }
  std::printf("{\"bytes\": %lld, \"seconds\": %.6f}\n", total, seconds);
  return 0;
}

int PingPong(std::size_t size, long count) {
  std::uint16_t port = 0;
  const int listener = Listen(&port);
  std::thread echo([&] {
    const int peer = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (peer < 0) Die("accept");
    const int one = 1;
    ::setsockopt(peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::vector<char> buffer(size);
    while (ReadExactly(peer, buffer.data(), size) && WriteAll(peer, buffer.data(), size)) {
    }
    ::close(peer);
  });
  const int fd = Connect(port);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::vector<char> buffer(size, 'p');
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    if (!WriteAll(fd, buffer.data(), size) || !ReadExactly(fd, buffer.data(), size)) Die("round trip");
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::shutdown(fd, SHUT_WR);
  echo.join();
  ::close(fd);
  std::printf("{\"round_trips\": %ld, \"seconds\": %.6f}\n", count, seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "stream" && argc == 3) return Stream(argv[2]);
  if (mode == "pingpong" && argc == 4) {
    const long size = std::strtol(argv[2], nullptr, 10);
    const long count = std::strtol(argv[3], nullptr, 10);
    if (size > 0 && size <= (1 << 20) && count > 0 && count <= 10'000'000) {
      return PingPong(static_cast<std::size_t>(size), count);
    }
  }
  std::fprintf(stderr, "usage: ferry_raw_tcp stream FILE | ferry_raw_tcp pingpong SIZE COUNT\n");
  return 2;
}
