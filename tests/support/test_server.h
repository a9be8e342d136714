// TestServer: a real ferryd in a fresh data root on an ephemeral loopback port, plus the real client to drive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/subprocess.h"
#include "support/temp_dir.h"

namespace ferry::testing {

std::string FerrydPath();
std::string FerryPath();

struct TestServerOptions {
  bool tls = false;
  // Users created before the server starts, with their passwords.
  std::vector<std::pair<std::string, std::string>> users = {{"alice", "alice-secret"}, {"bob", "bob-secret"}};
  std::string listen_host = "127.0.0.1";
  // TOML written as the data root's ferryd.toml before the server starts, e.g. "[limits]\nidle_timeout_seconds = 2\n".
  std::string config;
  // The folder the data root is made in ("" for $TMPDIR or /tmp), e.g. a small filesystem for disk-full tests.
  std::string root_parent;
  // Put before `ferryd serve ...`, e.g. {"prlimit", "--nofile=64:64", "--"} to start it with few descriptors.
  std::vector<std::string> launch_prefix;
  // Event-loop threads (--threads).
  int threads = 2;
  // Also serve FTP (--ftp-listen) and implicit FTPS (--ftps-implicit-listen) on ephemeral loopback ports.
  bool ftp = false;
  bool ftps_implicit = false;
  // Also serve SSH (--sftp-listen) on an ephemeral loopback port.
  bool sftp = false;
};

// The default options with `config` as ferryd.toml, and TLS if `tls`.
TestServerOptions WithConfig(std::string config, bool tls = false);
// The default options with TLS.
TestServerOptions WithTls();

class TestServer {
 public:
  explicit TestServer(TestServerOptions options = {});
  ~TestServer();

  const std::string& root() const { return dir_.path(); }
  std::string home(const std::string& user) const { return dir_.path() + "/homes/" + user; }
  std::uint16_t port() const { return port_; }
  // The FTP and implicit FTPS ports (0 unless asked for in the options).
  std::uint16_t ftp_port() const { return ftp_port_; }
  std::uint16_t ftps_implicit_port() const { return ftps_implicit_port_; }
  std::uint16_t sftp_port() const { return sftp_port_; }
  // "127.0.0.1:PORT" (or "[::1]:PORT").
  std::string address() const;
  bool started() const { return port_ != 0; }
  const std::string& client_home() const { return client_home_.path(); }

  // Runs the real client as `user` with `password` (via FERRY_PASSWORD), HOME set to a private folder, plain or TLS
  // as the server is, and --accept-new-host for TLS. `args` follow the target.
  ProcessResult Client(const std::string& user, const std::string& password, const std::vector<std::string>& args,
                       const std::string& input = "",
                       std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // The same with arbitrary flags placed before the target.
  ProcessResult ClientWithFlags(const std::vector<std::string>& flags, const std::string& user,
                                const std::string& password, const std::vector<std::string>& args,
                                const std::string& input = "",
                                std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // Starts the same client without waiting for it, with `input` written to its stdin and stdin closed, so that a test
  // can watch it, signal it or kill it while it runs.
  std::unique_ptr<Subprocess> StartClient(const std::string& user, const std::string& password,
                                          const std::vector<std::string>& args, const std::string& input = "") const;
  std::unique_ptr<Subprocess> StartClientWithFlags(const std::vector<std::string>& flags, const std::string& user,
                                                   const std::string& password, const std::vector<std::string>& args,
                                                   const std::string& input = "") const;

  // Stops the server with SIGTERM and returns how it ended.
  ProcessResult Stop();
  // Kills the server with SIGKILL (no clean-up at all) and waits for it.
  void Kill();
  // Starts ferryd again on the same data root (after Stop or Kill); the port changes.
  void Restart();
  // The same on the port it had (a client that reconnects by itself finds it again).
  void RestartOnTheSamePort();
  Subprocess& process() { return *process_; }

 private:
  TestServerOptions options_;
  TempDir dir_;
  TempDir client_home_;
  std::unique_ptr<Subprocess> process_;
  std::uint16_t port_ = 0;
  std::uint16_t ftp_port_ = 0;
  std::uint16_t ftps_implicit_port_ = 0;
  std::uint16_t sftp_port_ = 0;

  // Starts ferryd; `port` 0 lets the kernel pick one.
  void Launch(std::uint16_t port = 0);
  // The client's command line and environment for ClientWithFlags and StartClientWithFlags.
  std::vector<std::string> ClientArgv(const std::vector<std::string>& flags, const std::string& user,
                                      const std::vector<std::string>& args) const;
  std::map<std::string, std::string> ClientEnvironment(const std::string& password) const;
};

}  // namespace ferry::testing
