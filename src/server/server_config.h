// ServerConfig: the settings of one data root, read from DIR/ferryd.toml, with command-line overrides on top.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "protocol/frame.h"

namespace ferry::server {

struct ServerConfig {
  // [server]
  std::string listen = "127.0.0.1:7021";  // HOST:PORT, [IPV6]:PORT; port 0 picks a free one
  unsigned threads = 0;                   // event-loop threads; 0 = one per core
  std::string log_level = "info";
  unsigned shutdown_grace_seconds = 30;   // on SIGTERM: how long running transfers may take to finish
  // [tls]
  bool tls = true;
  std::string certificate = "tls/cert.pem";  // relative paths are relative to the data root
  std::string private_key = "tls/key.pem";
  // [auth]
  unsigned login_workers = 0;               // threads that verify passwords (argon2id); 0: automatic
  std::string password_hash = "interactive";  // cost of new hashes: "interactive" or "moderate"
  unsigned max_login_attempts = 3;          // failed logins before the connection is closed
  unsigned password_cache_seconds = 900;    // how long a verified password skips argon2id; 0: never
  unsigned slow_after_failures = 3;         // per address or user name: later attempts wait first
  unsigned block_after_failures = 10;       // per address or user name: later attempts are refused
  unsigned block_seconds = 900;             // how long failures are remembered (and a block lasts)
  // [transfers]
  std::int64_t partial_max_age_seconds = 7 * 24 * 3600;  // unfinished uploads older than this are deleted
  unsigned max_partials_per_user = 32;                   // unfinished uploads kept per user (the oldest go first)
  // [limits]
  protocol::FrameLimits frames;
  unsigned handshake_timeout_seconds = 10;  // TLS handshake
  unsigned login_timeout_seconds = 30;      // from connect to a successful login
  unsigned idle_timeout_seconds = 600;      // no request arriving, or a client not reading what it is sent
  unsigned max_connections = 10000;         // at once, overall
  unsigned max_connections_per_address = 200;
  unsigned max_sessions_per_user = 50;
  // [exec]
  bool exec_enabled = true;                 // users with the exec permission may run programs
  bool exec_sandbox = true;                 // in a bubblewrap sandbox; false runs them unconfined (say so in the log)
  bool exec_allow_shell = false;            // exec --shell (a command line for /bin/sh -c)
  std::string exec_bwrap = "bwrap";         // the bubblewrap program (a name is looked up in PATH)
  unsigned exec_time_limit_seconds = 60;    // wall-clock; then the process tree is killed
  std::uint64_t exec_output_limit_bytes = 64ull << 20;  // stdout + stderr sent; the rest is dropped
  std::uint64_t exec_memory_limit_bytes = 1ull << 30;   // address space of each process (RLIMIT_AS)
  unsigned exec_max_processes = 64;         // RLIMIT_NPROC; a pids cgroup per program for a server running as root
  unsigned exec_max_open_files = 256;       // RLIMIT_NOFILE
  unsigned exec_max_running = 32;           // programs running at once, all users together
  unsigned exec_max_programs_per_user = 4;  // programs one user may run at once
  std::uint64_t exec_tmp_size_bytes = 64ull << 20;  // each of the sandbox's /tmp and /dev/shm (memory)
  // [ftp]
  std::string ftp_listen;                    // HOST:PORT for FTP with AUTH TLS; "" opens no FTP port
  std::string ftp_implicit_listen;           // HOST:PORT for implicit FTPS (TLS from the first byte); "" for none
  bool ftp_require_tls = true;               // no login and no data connection without TLS
  std::string ftp_tls_session_reuse = "required";  // "required", "optional" or "off"
  std::uint16_t ftp_passive_min = 50000;     // passive data ports ("passive_ports" = "MIN-MAX")
  std::uint16_t ftp_passive_max = 50999;
  std::string ftp_passive_address;           // advertised in 227 replies; "" = the control connection's address
  bool ftp_active_mode = false;              // PORT/EPRT (to the client's own address, ports >= 1024)
  // [sftp]
  std::string sftp_listen;                   // HOST:PORT for SSH (SFTP); "" opens no SSH port
  bool sftp_password_auth = true;            // false: SSH logins with public keys only
  // [ping]
  bool ping_enabled = true;                 // answer UDP probes on the listening port
  unsigned ping_replies_per_second = 10;    // per source address (burst: twice this)

  // The text `ferryd init` writes: every key, commented out, at its default, with what it means.
  static std::string DefaultFileText();
  // Reads a config file. Unknown keys, wrong types and out-of-range values are refused with EINVAL naming the key
  // and its line. A missing file yields the defaults.
  static Result<ServerConfig> Load(const std::string& path);
};

}  // namespace ferry::server
