#include "server/server_config.h"

#include <sys/stat.h>

#include <cerrno>
#include <functional>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace ferry::server {
namespace {

std::string Where(const toml::node& node, std::string_view key) {
  return fmt::format("'{}' (line {})", key, node.source().begin.line);
}

// Each known key and how to store its value; a setter returns an error message or "".
using Setter = std::function<std::string(const toml::node&, ServerConfig&)>;

Setter StringKey(std::string ServerConfig::*field) {
  return [field](const toml::node& node, ServerConfig& config) -> std::string {
    if (!node.is_string()) return "must be a string";
    config.*field = *node.value<std::string>();
    return "";
  };
}

Setter BoolKey(bool ServerConfig::*field) {
  return [field](const toml::node& node, ServerConfig& config) -> std::string {
    if (!node.is_boolean()) return "must be true or false";
    config.*field = *node.value<bool>();
    return "";
  };
}

template <typename T>
std::function<std::string(const toml::node&, T&)> Integer(std::int64_t min, std::int64_t max) {
  return [min, max](const toml::node& node, T& out) -> std::string {
    if (!node.is_integer()) return "must be an integer";
    const std::int64_t value = *node.value<std::int64_t>();
    if (value < min || value > max) return fmt::format("must be between {} and {}", min, max);
    out = static_cast<T>(value);
    return "";
  };
}

const std::map<std::string, Setter>& KnownKeys() {
  static const std::map<std::string, Setter> keys = {
      {"server.listen", StringKey(&ServerConfig::listen)},
      {"server.threads",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(0, 1024)(n, c.threads); }},
      {"server.log_level", StringKey(&ServerConfig::log_level)},
      {"server.shutdown_grace_seconds",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(0, 3600)(n, c.shutdown_grace_seconds); }},
      {"tls.enabled", BoolKey(&ServerConfig::tls)},
      {"tls.certificate", StringKey(&ServerConfig::certificate)},
      {"tls.private_key", StringKey(&ServerConfig::private_key)},
      {"auth.login_workers",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(0, 64)(n, c.login_workers); }},
      {"auth.password_hash",
       [](const toml::node& n, ServerConfig& c) -> std::string {
         if (!n.is_string()) return "must be a string";
         const auto value = *n.value<std::string>();
         if (value != "interactive" && value != "moderate") return "must be \"interactive\" or \"moderate\"";
         c.password_hash = value;
         return "";
       }},
      {"auth.password_cache_seconds",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<unsigned>(0, 86400)(n, c.password_cache_seconds);
       }},
      {"auth.max_login_attempts",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 100)(n, c.max_login_attempts); }},
      {"transfers.partial_max_age_seconds",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<std::int64_t>(60, std::int64_t{10} * 365 * 24 * 3600)(n, c.partial_max_age_seconds);
       }},
      {"transfers.max_partials_per_user",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 100000)(n, c.max_partials_per_user); }},
      {"limits.max_header_bytes",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<std::uint32_t>(1024, 1024 * 1024)(n, c.frames.max_header);
       }},
      {"limits.handshake_timeout_seconds",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<unsigned>(1, 3600)(n, c.handshake_timeout_seconds);
       }},
      {"limits.login_timeout_seconds",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 3600)(n, c.login_timeout_seconds); }},
      {"limits.idle_timeout_seconds",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<unsigned>(1, 7 * 24 * 3600)(n, c.idle_timeout_seconds);
       }},
      {"limits.max_connections",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 1000000)(n, c.max_connections); }},
      {"limits.max_connections_per_address",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<unsigned>(1, 1000000)(n, c.max_connections_per_address);
       }},
      {"limits.max_sessions_per_user",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 1000000)(n, c.max_sessions_per_user); }},
      {"auth.slow_after_failures",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 1000)(n, c.slow_after_failures); }},
      {"auth.block_after_failures",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 1000)(n, c.block_after_failures); }},
      {"auth.block_seconds",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 7 * 24 * 3600)(n, c.block_seconds); }},
      {"exec.enabled", BoolKey(&ServerConfig::exec_enabled)},
      {"exec.sandbox", BoolKey(&ServerConfig::exec_sandbox)},
      {"exec.allow_shell", BoolKey(&ServerConfig::exec_allow_shell)},
      {"exec.bwrap", StringKey(&ServerConfig::exec_bwrap)},
      {"exec.time_limit_seconds",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 24 * 3600)(n, c.exec_time_limit_seconds); }},
      {"exec.output_limit_bytes",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<std::uint64_t>(0, std::int64_t{1} << 40)(n, c.exec_output_limit_bytes);
       }},
      {"exec.memory_limit_bytes",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<std::uint64_t>(16 << 20, std::int64_t{1} << 44)(n, c.exec_memory_limit_bytes);
       }},
      {"exec.max_processes",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 100000)(n, c.exec_max_processes); }},
      {"exec.max_open_files",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(16, 1048576)(n, c.exec_max_open_files); }},
      {"exec.max_running",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 100000)(n, c.exec_max_running); }},
      {"exec.max_programs_per_user",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<unsigned>(1, 100000)(n, c.exec_max_programs_per_user);
       }},
      {"exec.tmp_size_bytes",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<std::uint64_t>(1 << 20, std::int64_t{1} << 40)(n, c.exec_tmp_size_bytes);
       }},
      {"ping.enabled", BoolKey(&ServerConfig::ping_enabled)},
      {"ping.replies_per_second",
       [](const toml::node& n, ServerConfig& c) { return Integer<unsigned>(1, 100000)(n, c.ping_replies_per_second); }},
      {"ftp.listen", StringKey(&ServerConfig::ftp_listen)},
      {"ftp.implicit_listen", StringKey(&ServerConfig::ftp_implicit_listen)},
      {"ftp.require_tls", BoolKey(&ServerConfig::ftp_require_tls)},
      {"ftp.tls_session_reuse",
       [](const toml::node& n, ServerConfig& c) -> std::string {
         if (!n.is_string()) return "must be a string";
         const auto value = *n.value<std::string>();
         if (value != "required" && value != "optional" && value != "off") {
           return "must be \"required\", \"optional\" or \"off\"";
         }
         c.ftp_tls_session_reuse = value;
         return "";
       }},
      {"ftp.passive_ports",
       [](const toml::node& n, ServerConfig& c) -> std::string {
         if (!n.is_string()) return "must be a string";
         const auto value = *n.value<std::string>();
         unsigned low = 0, high = 0;
         char dash = 0;
         std::istringstream in(value);
         if (!(in >> low >> dash >> high) || dash != '-' || !in.eof() || low < 1024 || high > 65535 || low > high) {
           return "must be \"MIN-MAX\" with 1024 <= MIN <= MAX <= 65535";
         }
         c.ftp_passive_min = static_cast<std::uint16_t>(low);
         c.ftp_passive_max = static_cast<std::uint16_t>(high);
         return "";
       }},
      {"ftp.passive_address", StringKey(&ServerConfig::ftp_passive_address)},
      {"ftp.active_mode", BoolKey(&ServerConfig::ftp_active_mode)},
      {"sftp.listen", StringKey(&ServerConfig::sftp_listen)},
      {"sftp.password_auth", BoolKey(&ServerConfig::sftp_password_auth)},
      {"limits.max_body_bytes",
       [](const toml::node& n, ServerConfig& c) {
         return Integer<std::uint64_t>(64 * 1024, 64 * 1024 * 1024)(n, c.frames.max_body);
       }},
  };
  return keys;
}

}  // namespace

std::string ServerConfig::DefaultFileText() {
  return R"(# ferryd configuration. Every key is optional; each is shown commented out at its default.
# Command-line flags of `ferryd serve` override these values.

[server]
# Address to listen on: "HOST:PORT" or "[IPV6]:PORT". Port 0 picks a free port (it is logged).
# listen = "127.0.0.1:7021"
# Event-loop threads; 0 means one per CPU core.
# threads = 0
# Log level on stderr: trace, debug, info, warn, error or off.
# log_level = "info"
# On SIGTERM or SIGINT the server stops accepting, closes idle sessions, and gives transfers in progress this many
# seconds to finish before it closes the rest (nothing new starts meanwhile). An unfinished upload is never presented
# as complete.
# shutdown_grace_seconds = 30

[tls]
# TLS 1.3 on every connection. Set to false only for benchmarks and debugging: passwords then cross the network
# in the clear. Clients must pass --plain to talk to such a server.
# enabled = true
# Certificate and private key (PEM), relative to the data root. `ferryd init` creates a self-signed pair.
# certificate = "tls/cert.pem"
# private_key = "tls/key.pem"

[auth]
# Threads that verify passwords. argon2id is slow on purpose; this bounds the memory logins can take (each one in
# progress holds the hash's memory: 64 MiB for "interactive"). 0 picks as many as fit in an eighth of the RAM,
# between 2 and 32. They run at the lowest CPU priority (nice 19): logins yield to the transfers already running.
# login_workers = 0
# Cost of password hashes made from now on: "interactive" (64 MiB, 2 passes) or "moderate" (256 MiB, 3 passes).
# password_hash = "interactive"
# A password that verified is remembered (in memory, as a keyed digest, with the hash it matched) for this long, so
# the same user logging in again with it skips argon2id, and logins arriving together share one verification. Wrong
# passwords are never remembered; a changed password or a removed user no longer matches. 0 turns it off.
# password_cache_seconds = 900
# Failed logins allowed on one connection before it is closed.
# max_login_attempts = 3
# Failed logins are counted per client address and per user name (whether the user exists or not). From this many
# on, each attempt waits first (a second more per failure, at most 8)...
# slow_after_failures = 3
# ...and from this many on, attempts are refused without looking at the password...
# block_after_failures = 10
# ...until this many seconds have passed since the last failure.
# block_seconds = 900

[transfers]
# Unfinished uploads (kept for `put -c`) are deleted once nothing has written to them for this long: checked at
# start and every hour. Default: 7 days.
# partial_max_age_seconds = 604800
# At most this many unfinished uploads are kept per user (they count toward the byte quota, not the file count):
# starting another deletes the one written to least recently. Uploads in progress are never deleted.
# max_partials_per_user = 32

[limits]
# Largest frame header accepted, in bytes (1024 to 1048576).
# max_header_bytes = 65536
# Largest frame body accepted, in bytes (65536 to 67108864).
# max_body_bytes = 4194304
# Seconds a client has to complete the TLS handshake.
# handshake_timeout_seconds = 10
# Seconds from connecting to a successful login; then the connection is closed.
# login_timeout_seconds = 30
# Seconds a logged-in connection may stay silent, or leave what it is sent unread, before it is closed.
# idle_timeout_seconds = 600
# Connections served at once, overall and from one client address; more are refused at once.
# max_connections = 10000
# max_connections_per_address = 200
# Sessions one user may have logged in at once.
# max_sessions_per_user = 50

[exec]
# Users given the exec permission (ferryd user set-perm --exec) may run programs on the server.
# enabled = true
# Programs run in a bubblewrap sandbox: the system's programs and libraries read-only, the user's home as the only
# writable folder and the only user data visible, no network, a private /tmp, no capabilities. Where the sandbox
# cannot be set up, exec is refused. false runs programs unconfined, as the server's user: only for trusted users.
# sandbox = true
# exec --shell runs a command line with /bin/sh -c (inside the sandbox). Off: programs run only with their
# arguments passed as they are, never through a shell.
# allow_shell = false
# The bubblewrap program: a path, or a name looked up in PATH.
# bwrap = "bwrap"
# Wall-clock seconds a program may run; then it and every process it started are killed.
# time_limit_seconds = 60
# Bytes of output (stdout and stderr together) sent to the client; the rest is dropped and the client is told.
# output_limit_bytes = 67108864
# Address space of each process (RLIMIT_AS), open files (RLIMIT_NOFILE), and processes of each program
# (RLIMIT_NPROC, set in the sandbox's user namespace so that only the program's own processes count; without the
# sandbox every process of ferryd's user counts, the server's threads included). The kernel exempts root from
# RLIMIT_NPROC: a ferryd running as root gives each program a pids cgroup with this as pids.max instead, and warns at
# start where no pids controller is writable.
# memory_limit_bytes = 1073741824
# max_open_files = 256
# max_processes = 64
# Programs running at once, all users together, and of one user; more get EBUSY.
# max_running = 32
# max_programs_per_user = 4
# Bytes each of the sandbox's /tmp and /dev/shm may hold. Both are memory (tmpfs), not counted in the quota: a
# program can take up to twice this of the server's memory.
# tmp_size_bytes = 67108864

[ftp]
# FTP and FTPS for stock clients (curl, lftp, wget, FileZilla, Python's ftplib), on the same users, homes, quotas
# and audit log. Address for FTP with AUTH TLS (explicit FTPS), "HOST:PORT"; empty opens no FTP port.
# listen = ""
# Address for implicit FTPS (TLS from the first byte, the old port-990 style); empty opens none.
# implicit_listen = ""
# Refuse USER/PASS until AUTH TLS has succeeded, and data connections without PROT P. false allows plain FTP (for
# trusted networks and benchmarks only: passwords and files then cross the network in the clear).
# require_tls = true
# A data connection's TLS session must resume the control connection's, so no one else can take it over:
# "required", "optional" (Python's ftplib does not resume; see the README) or "off".
# tls_session_reuse = "required"
# Ports for passive data connections, "MIN-MAX"; open them in the firewall.
# passive_ports = "50000-50999"
# Address to advertise in PASV replies when the server is behind NAT; empty means the address the client reached.
# passive_address = ""
# Allow PORT/EPRT (active mode), only to the client's own address and to ports of 1024 or more.
# active_mode = false

[sftp]
# SSH for SFTP clients (OpenSSH sftp and scp, curl, rclone, FileZilla, WinSCP), on the same users, homes, quotas and
# audit log; the host key is ssh/host_ed25519_key. Address to listen on, "HOST:PORT"; empty opens no SSH port.
# listen = ""
# Accept passwords over SSH; false allows public keys only (ferryd user key add).
# password_auth = true

[ping]
# Answer UDP probes (ferry ping) on the listening port. A reply is never larger than its probe and tells nothing
# but the protocol version.
# enabled = true
# Replies per second to one source address (bursts of twice this); further probes are dropped.
# replies_per_second = 10
)";
}

Result<ServerConfig> ServerConfig::Load(const std::string& path) {
  ServerConfig config;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return config;
    return Status::FromErrno(errno, path);
  }
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    return Status(ErrorCode::kInvalid, fmt::format("{}:{}: {}", path, error.source().begin.line, error.description()));
  }
  for (const auto& [section_key, section] : root) {
    const std::string section_name(section_key.str());
    const auto* table = section.as_table();
    if (table == nullptr) {
      return Status(ErrorCode::kInvalid,
                    fmt::format("{}: {} is not a known section", path, Where(section, section_name)));
    }
    for (const auto& [key, value] : *table) {
      const std::string full = section_name + "." + std::string(key.str());
      const auto known = KnownKeys().find(full);
      if (known == KnownKeys().end()) {
        return Status(ErrorCode::kInvalid, fmt::format("{}: unknown key {}", path, Where(value, full)));
      }
      const std::string problem = known->second(value, config);
      if (!problem.empty()) {
        return Status(ErrorCode::kInvalid, fmt::format("{}: {} {}", path, Where(value, full), problem));
      }
    }
  }
  return config;
}

}  // namespace ferry::server
