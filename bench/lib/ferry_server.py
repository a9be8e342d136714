"""A throwaway Ferry server for the benchmarks: its own data root, one user, a loopback port the kernel picks."""

import json
import os
import re
import subprocess
import time

PASSWORD = "bench-password-1"
USER = "bench"

# Limits raised for the benchmark's crowds (1,000 idle sessions, 100 clients at once, all from 127.0.0.1).
CONFIG = """
[limits]
max_connections = 20000
max_connections_per_address = 20000
max_sessions_per_user = 20000
login_timeout_seconds = 600
"""


def pss_kib(pid):
    """Proportional set size of one process (all its threads), in KiB."""
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError(f"no Pss for process {pid}")


class FerryServer:
    """ferryd serving `root` (created with `ferryd init`) on 127.0.0.1, TLS or --plain."""

    def __init__(self, bin_dir, root, client_home, tls, extra_config="", ftp=False, sftp=False):
        self.bin_dir = bin_dir
        self.extra_config = extra_config
        self.ftp = ftp  # also serve FTP (FTPS when tls) on a loopback port the kernel picks: ftp_port
        self.ftp_port = None
        # Also serve SSH (SFTP, and commands for rsync: the user gets the exec permission) on sftp_port, with the
        # OpenSSH key client_key as one of the user's keys.
        self.sftp = sftp
        self.sftp_port = None
        self.client_key = os.path.join(client_home, "id_ed25519")
        self.root = root
        self.client_home = client_home
        self.tls = tls
        self.process = None
        self.port = None
        self._log = None

    @property
    def home(self):
        return os.path.join(self.root, "homes", USER)

    def start(self):
        ferryd = os.path.join(self.bin_dir, "ferryd")
        subprocess.run([ferryd, "init", self.root], check=True, stdout=subprocess.DEVNULL, timeout=60)
        with open(os.path.join(self.root, "ferryd.toml"), "w") as config:  # only what differs from defaults
            config.write(CONFIG + self.extra_config)
            if self.ftp and not self.tls:
                config.write("\n[ftp]\nrequire_tls = false\n")
            if self.sftp:  # rsync's whole transfer is the remote program's input or output
                config.write("\n[exec]\ntime_limit_seconds = 3600\noutput_limit_bytes = 1099511627776\n")
        subprocess.run([ferryd, "user", "add", "--root", self.root, "--password-stdin", USER],
                       input=PASSWORD + "\n", text=True, check=True, stdout=subprocess.DEVNULL, timeout=60)
        os.makedirs(self.client_home, exist_ok=True)
        if self.sftp:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", self.client_key],
                           check=True, stdout=subprocess.DEVNULL, timeout=60)
            subprocess.run([ferryd, "user", "key", "add", "--root", self.root, USER, self.client_key + ".pub"],
                           check=True, stdout=subprocess.DEVNULL, timeout=60)
            subprocess.run([ferryd, "user", "set-perm", "--root", self.root, USER, "--exec"],
                           check=True, stdout=subprocess.DEVNULL, timeout=60)
        # Info level: the start line names the port; afterwards the server logs a line a session, which is cheap.
        args = [ferryd, "serve", "--root", self.root, "--listen", "127.0.0.1:0", "--log-level", "info"]
        if not self.tls:
            args.append("--plain")
        if self.ftp:
            args += ["--ftp-listen", "127.0.0.1:0"]
        if self.sftp:
            args += ["--sftp-listen", "127.0.0.1:0"]
        self._log = open(os.path.join(self.root, "serve.log"), "w+")
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self._log.seek(0)
            log = self._log.read()
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", log)
            if match:
                self.port = int(match.group(1))
                if self.ftp:
                    self.ftp_port = int(re.search(r"FTP on 127\.0\.0\.1:(\d+)", log).group(1))
                if self.sftp:
                    self.sftp_port = int(re.search(r"SFTP on 127\.0\.0\.1:(\d+)", log).group(1))
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"ferryd did not start; see {self._log.name}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def env(self):
        return dict(os.environ, FERRY_PASSWORD=PASSWORD, HOME=self.client_home)

    def client_args(self, *command):
        flag = "--accept-new-host" if self.tls else "--plain"
        return [os.path.join(self.bin_dir, "ferry"), "-q", flag, f"{USER}@{self.address}", *command]

    def client(self, *command, timeout=900):
        """Runs one client command; returns its wall time in seconds. Raises on failure."""
        start = time.perf_counter()
        result = subprocess.run(self.client_args(*command), env=self.env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, timeout=timeout)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise RuntimeError(f"ferry {' '.join(command)}: {result.stderr.strip()}")
        return elapsed

    def load(self, mode, count, timeout=1800):
        """Runs ferry_load and returns its JSON line as a dict."""
        args = [os.path.join(self.bin_dir, "ferry_load"), mode]
        if self.tls:
            args.append("--tls")
        args += [self.address, USER, str(count)]
        result = subprocess.run(args, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"ferry_load {mode}: {result.stderr.strip()}")
        return json.loads(result.stdout)

    def pss_kib(self):
        return pss_kib(self.process.pid)
