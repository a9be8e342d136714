#include "client/interrupt.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>

namespace ferry::client {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
std::atomic<int> g_socket{-1};
// The self-pipe: a Ctrl-C that comes just before a wait in poll(2) still wakes it.
int g_pipe[2] = {-1, -1};
struct sigaction g_previous {};

void OnInterrupt(int /*signal*/) {
  const int saved_errno = errno;
  g_interrupted = 1;
  const int socket = g_socket.load(std::memory_order_relaxed);
  if (socket >= 0) ::shutdown(socket, SHUT_RDWR);
  if (g_pipe[1] >= 0) {
    const char byte = 1;
    [[maybe_unused]] const ssize_t n = ::write(g_pipe[1], &byte, 1);  // full already: a wake-up is pending anyway
  }
  errno = saved_errno;
}

}  // namespace

ShellInterrupts::ShellInterrupts() {
  g_interrupted = 0;
  if (::pipe2(g_pipe, O_NONBLOCK | O_CLOEXEC) != 0) g_pipe[0] = g_pipe[1] = -1;
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocking call returns EINTR, so the loop around it sees the flag
  ::sigaction(SIGINT, &action, &g_previous);
}

ShellInterrupts::~ShellInterrupts() {
  ::sigaction(SIGINT, &g_previous, nullptr);
  g_interrupted = 0;
  for (int& fd : g_pipe) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

int InterruptWakeFd() { return g_pipe[0]; }

CommandInterruptScope::CommandInterruptScope(int socket) { g_socket.store(socket); }

CommandInterruptScope::~CommandInterruptScope() { g_socket.store(-1); }

bool InterruptRequested() { return g_interrupted != 0; }

void ClearInterrupt() {
  g_interrupted = 0;
  char drain[64];
  while (g_pipe[0] >= 0 && ::read(g_pipe[0], drain, sizeof drain) > 0) {
  }
}

}  // namespace ferry::client
