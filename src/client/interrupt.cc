#include "client/interrupt.h"

#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <csignal>

namespace ferry::client {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
std::atomic<int> g_socket{-1};
struct sigaction g_previous {};

void OnInterrupt(int /*signal*/) {
  g_interrupted = 1;
  const int socket = g_socket.load(std::memory_order_relaxed);
  if (socket >= 0) ::shutdown(socket, SHUT_RDWR);
}

}  // namespace

ShellInterrupts::ShellInterrupts() {
  g_interrupted = 0;
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocking call returns EINTR, so the loop around it sees the flag
  ::sigaction(SIGINT, &action, &g_previous);
}

ShellInterrupts::~ShellInterrupts() {
  ::sigaction(SIGINT, &g_previous, nullptr);
  g_interrupted = 0;
}

CommandInterruptScope::CommandInterruptScope(int socket) { g_socket.store(socket); }

CommandInterruptScope::~CommandInterruptScope() { g_socket.store(-1); }

bool InterruptRequested() { return g_interrupted != 0; }

void ClearInterrupt() { g_interrupted = 0; }

}  // namespace ferry::client
