// Watching processes and files from a test: waiting for a condition, and reading what a process holds from /proc.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

namespace ferry::testing {

// Polls `condition` every few milliseconds until it holds or `timeout` passes; true if it held.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(10));
// True once `pid` has exited; the child is left for Subprocess::Wait to reap.
bool HasExited(pid_t pid);
// True while some process holds an flock on `path` (the server does, on a partial upload it is writing).
bool IsLocked(const std::string& path);
// How many processes on this machine have a command line (its words joined by spaces) starting with `marker`.
int ProcessesWith(const std::string& marker);
// How many sockets, files and folders process `pid` has open (/proc/PID/fd), or -1 if it cannot be read. Event-loop
// descriptors (epoll, eventfd, timerfd), which a thread pool creates once when first used, are not counted: what a
// session holds and must give back is sockets, files and folders.
int OpenSocketsAndFiles(pid_t pid);
// The CPU time process `pid` has used so far, user and system, all threads (/proc/PID/stat).
std::chrono::milliseconds CpuTime(pid_t pid);

}  // namespace ferry::testing
