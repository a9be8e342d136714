#include "support/test_server.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace ferry::testing {
namespace {

// A ferryd running as root makes pids cgroups (ferryd-PID/program-N) and removes them when it stops; one killed with
// SIGKILL cannot, so the test removes them: the programs left in them are killed, then the folders go (waiting,
// bounded, for the processes to be gone).
void RemoveCgroupsOf(pid_t pid) {
  if (pid <= 0) return;
  for (const std::string base : {"/sys/fs/cgroup", "/sys/fs/cgroup/pids"}) {
    const std::filesystem::path server = base + "/ferryd-" + std::to_string(pid);
    std::error_code error;
    if (!std::filesystem::is_directory(server, error)) continue;
    std::vector<std::filesystem::path> cgroups;
    for (const auto& entry : std::filesystem::directory_iterator(server, error)) {
      if (entry.is_directory()) cgroups.push_back(entry.path());
    }
    cgroups.push_back(server);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (const auto& cgroup : cgroups) {
      while (::rmdir(cgroup.c_str()) != 0 && errno == EBUSY && std::chrono::steady_clock::now() < deadline) {
        std::istringstream procs(ReadFile(cgroup.string() + "/cgroup.procs"));
        for (pid_t member; procs >> member;) ::kill(member, SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }
}

}  // namespace

std::string FerrydPath() {
  return std::string(FERRY_BIN_DIR) + "/ferryd";
}
std::string FerryPath() {
  return std::string(FERRY_BIN_DIR) + "/ferry";
}

TestServerOptions WithConfig(std::string config, bool tls) {
  TestServerOptions options;
  options.config = std::move(config);
  options.tls = tls;
  return options;
}

TestServerOptions WithTls() {
  TestServerOptions options;
  options.tls = true;
  return options;
}

TestServer::TestServer(TestServerOptions options) : options_(std::move(options)), dir_(options_.root_parent) {
  const std::string root = dir_.path();
  auto init = RunProcess({FerrydPath(), "init", root});
  if (init.exit_code != 0) {
    ADD_FAILURE() << "ferryd init failed: " << init.err;
    return;
  }
  if (!options_.config.empty()) {
    WriteFile(root + "/ferryd.toml", options_.config);  // the default file sets nothing: every key is commented out
  }
  for (const auto& [user, password] : options_.users) {
    auto add = RunProcess({FerrydPath(), "user", "add", "--root", root, "--password-stdin", user}, {}, password + "\n");
    if (add.exit_code != 0) {
      ADD_FAILURE() << "ferryd user add " << user << " failed: " << add.err;
      return;
    }
  }
  Launch();
}

void TestServer::Launch(std::uint16_t port) {
  port_ = 0;
  const std::string root = dir_.path();
  std::vector<std::string> argv = options_.launch_prefix;
  const std::vector<std::string> serve = {
      FerrydPath(), "serve",
      "--root",     root,
      "--listen",
      options_.listen_host == "::1" ? "[::1]:" + std::to_string(port) : options_.listen_host + ":" + std::to_string(port),
      "--threads",  std::to_string(options_.threads)};
  argv.insert(argv.end(), serve.begin(), serve.end());
  if (!options_.tls) argv.push_back("--plain");
  if (options_.ftp) argv.insert(argv.end(), {"--ftp-listen", "127.0.0.1:0"});
  if (options_.ftps_implicit) argv.insert(argv.end(), {"--ftps-implicit-listen", "127.0.0.1:0"});
  if (options_.sftp) argv.insert(argv.end(), {"--sftp-listen", "127.0.0.1:0"});
  process_ = std::make_unique<Subprocess>(argv);
  // Readiness is the server's own word that it listens: no sleeping, no polling of the port.
  const auto line = process_->WaitForStderrLine("listening on ", std::chrono::seconds(30));
  if (!line) {
    ADD_FAILURE() << "ferryd did not start: " << process_->stderr_so_far();
    return;
  }
  const auto at = line->find("listening on ");
  const std::string rest = line->substr(at + 13);
  const std::string address = rest.substr(0, rest.find(' '));
  port_ = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  // The FTP ports are logged before "listening on": "FTP on 127.0.0.1:PORT (...)".
  auto logged_port = [&](const std::string& what) -> std::uint16_t {
    const std::string& log = process_->stderr_so_far();
    const auto found = log.find(" " + what + " on 127.0.0.1:");
    if (found == std::string::npos) return 0;
    return static_cast<std::uint16_t>(std::stoi(log.substr(found + 1 + what.size() + 14)));
  };
  ftp_port_ = options_.ftp ? logged_port("FTP") : 0;
  ftps_implicit_port_ = options_.ftps_implicit ? logged_port("implicit FTPS") : 0;
  if (options_.ftp && ftp_port_ == 0) ADD_FAILURE() << "no FTP port logged: " << process_->stderr_so_far();
  sftp_port_ = options_.sftp ? logged_port("SFTP") : 0;
  if (options_.sftp && sftp_port_ == 0) ADD_FAILURE() << "no SFTP port logged: " << process_->stderr_so_far();
}

void TestServer::Kill() {
  const pid_t pid = process_->pid();
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(30));
  RemoveCgroupsOf(pid);
}

void TestServer::Restart() {
  Launch();
}

void TestServer::RestartOnTheSamePort() {
  Launch(port_);
}

TestServer::~TestServer() {
  if (!process_) return;
  const pid_t pid = process_->pid();
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(30));
  RemoveCgroupsOf(pid);
}

std::string TestServer::address() const {
  if (options_.listen_host == "::1") return "[::1]:" + std::to_string(port_);
  return options_.listen_host + ":" + std::to_string(port_);
}

ProcessResult TestServer::Client(const std::string& user, const std::string& password,
                                 const std::vector<std::string>& args, const std::string& input,
                                 std::chrono::milliseconds timeout) const {
  return ClientWithFlags({}, user, password, args, input, timeout);
}

ProcessResult TestServer::ClientWithFlags(const std::vector<std::string>& flags, const std::string& user,
                                          const std::string& password, const std::vector<std::string>& args,
                                          const std::string& input, std::chrono::milliseconds timeout) const {
  return RunProcess(ClientArgv(flags, user, args), ClientEnvironment(password), input, timeout);
}

std::unique_ptr<Subprocess> TestServer::StartClient(const std::string& user, const std::string& password,
                                                    const std::vector<std::string>& args,
                                                    const std::string& input) const {
  return StartClientWithFlags({}, user, password, args, input);
}

std::unique_ptr<Subprocess> TestServer::StartClientWithFlags(const std::vector<std::string>& flags,
                                                             const std::string& user, const std::string& password,
                                                             const std::vector<std::string>& args,
                                                             const std::string& input) const {
  auto client = std::make_unique<Subprocess>(ClientArgv(flags, user, args), ClientEnvironment(password));
  client->CloseStdin(input);
  return client;
}

std::vector<std::string> TestServer::ClientArgv(const std::vector<std::string>& flags, const std::string& user,
                                                const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {FerryPath()};
  if (options_.tls) {
    argv.push_back("--accept-new-host");
  } else {
    argv.push_back("--plain");
  }
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(user + "@" + address());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::map<std::string, std::string> TestServer::ClientEnvironment(const std::string& password) const {
  // No ssh-agent of the machine's user: a test that wants one starts its own.
  return {{"FERRY_PASSWORD", password}, {"HOME", client_home_.path()}, {"SSH_AUTH_SOCK", ""}};
}

ProcessResult TestServer::Stop() {
  process_->Signal(SIGTERM);
  return process_->Wait(std::chrono::seconds(30));
}

}  // namespace ferry::testing
