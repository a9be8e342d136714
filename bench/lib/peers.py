#!/usr/bin/env python3
"""Throwaway reference peers for benchmarking Ferry: vsftpd (FTP + explicit FTPS) and OpenSSH (sftp, ssh, rsync).

Python 3.11 standard library only. Everything listens on and talks to 127.0.0.1 only.

What it does
------------
``install_packages()`` installs the Debian packages the peers and their clients need (only when something is
missing), making sure no package postinst starts a daemon.

``Peers(workdir)`` starts three private daemons as child processes of this Python process, each on a free loopback
port, with configs, keys, certificate, logs and pid files all inside ``workdir``:

* vsftpd, plain FTP                (``ftp_port``)
* vsftpd, explicit FTPS (AUTH TLS)  (``ftps_port``), TLS 1.3 only (see "TLS" below)
* OpenSSH sshd                      (``ssh_port``), sftp subsystem = /usr/lib/openssh/sftp-server, key auth only

They serve one throwaway local account (default ``ferrybench``, created by ``start()`` and deleted by ``stop()``).
No system service, system config file or system daemon is started, stopped or edited (useradd/userdel edit
/etc/passwd, /etc/group and /etc/shadow for the throwaway account, and that is all).

Folder layout (``workdir``: normally made by the caller, created if missing)::

    workdir/
      home/            data_dir (default): the account's home directory. vsftpd chroots the FTP/FTPS
                       sessions into it; sftp, ssh and rsync sessions start in it. So every "remote" path
                       given to this module is relative to data_dir, the same for all protocols.
      etc/             vsftpd-ftp.conf, vsftpd-ftps.conf, sshd_config, openssl-tls13.cnf
      ssh/             host_ed25519_key (sshd), client_ed25519_key (clients), authorized_keys/<user>
      tls/             cert.pem + key.pem (self-signed RSA-2048, CN=localhost) for FTPS
      vsftpd-empty/    vsftpd's secure_chroot_dir
      run/             daemon stdout/stderr, vsftpd logs, pid files, sftp/lftp batch files
      client-home/     $HOME for every client command (so ~/.ssh, ~/.curlrc, lftp history are not used)

``data_dir`` may be given explicitly (e.g. ``tmp/data`` beside ``workdir = tmp/peers``); it then becomes the
account's home instead of ``workdir/home``. So that the account can reach its home and its authorized_keys,
``start()`` gives o+x (search only) to the folders from the common parent of workdir and data_dir downwards that
lack it (a mkdtemp folder is 0700) and ``stop()`` puts their old modes back; folders above the common parent are
never changed and must already be traversable (/tmp is). The caller puts test files into data_dir and uploads
into it.
Files the caller adds as root after ``start()`` are readable by the account, but the account can only write
(upload into a folder, overwrite a file) what it owns: call ``chown_data()`` after adding files.

Timing conventions: transfer runners return the wall time in seconds (``time.perf_counter`` around
``subprocess.run``) and raise ``PeerError`` on a non-zero exit or a timeout. Every subprocess has a timeout.

TLS: Debian 12's vsftpd 3.0.3 has no ``ssl_tlsv1_1/_2/_3`` options (only ssl_sslv2, ssl_sslv3, ssl_tlsv1; an
unknown option makes it exit). It creates its context with TLS_server_method(), so TLS 1.3 is offered; to make
TLS 1.3 the *only* version, the FTPS vsftpd runs with ``OPENSSL_CONF`` pointing at a private openssl config
with ``MinProtocol = TLSv1.3`` (vsftpd loads the default OpenSSL config at init). The clients also pin TLS 1.3
(curl ``--tlsv1.3 --tls-max 1.3``, ftplib context minimum/maximum TLSv1_3). ``ftps_tls_info()`` reports the
negotiated version/cipher and checks that a TLS 1.2 handshake is refused.

Self-test: ``python3 bench/lib/peers.py --selftest`` (as root).
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import filecmp
import ftplib
import os
import pwd
import random
import resource
import shlex
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

HOST = "127.0.0.1"
MiB = 1 << 20

#: Debian packages needed by the peers and their clients.
PACKAGES = ("vsftpd", "openssh-server", "openssh-client", "lftp", "curl", "rsync", "iperf3", "python3", "openssl")

VSFTPD = "/usr/sbin/vsftpd"
SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
RUN_SSHD = "/run/sshd"  # sshd's privilege-separation directory (hard-coded in Debian's sshd)
RUN_SSHD_MARK = RUN_SSHD + "/.created-by-ferry-bench"  # says /run/sshd is ours to remove
POLICY_RC_D = "/usr/sbin/policy-rc.d"
USER_MARK = "Ferry bench throwaway account"  # GECOS: lets a later run recognise (and reclaim) a leftover

_SETUP_TIMEOUT = 60  # seconds, for each setup/teardown command (keygen, useradd, ...)


class PeerError(RuntimeError):
    """A peer could not be set up, or a client command failed (non-zero exit, timeout, wrong result)."""


class CurlTiming(float):
    """The wall time of one curl run (a float, as every transfer runner returns) that also carries ``setup``:
    curl's own ``time_pretransfer``, from its start until the file's bytes are about to move (connect, login, the
    data connection), so that the transfer alone is the wall time less it. curl 7.88 sometimes waits 200 ms (its
    happy-eyeballs timer) before it connects a passive data connection: when the EPSV reply is already there as it
    reads it. A fast server meets that more often, and a median set-up subtracted from every run would then be wrong
    for some of them."""

    def __new__(cls, seconds: float, setup: float):
        timing = super().__new__(cls, seconds)
        timing.setup = setup
        return timing


# ----------------------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------------------

def _require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionError("bench/lib/peers.py must run as root (it installs packages, creates a local "
                              "account and starts vsftpd/sshd)")


def _run(argv, timeout, *, input=None, env=None, what=None) -> subprocess.CompletedProcess:
    """subprocess.run with a timeout; raise PeerError (with the stderr tail) on non-zero exit or timeout."""
    try:
        p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise PeerError(f"{what or argv[0]}: timed out after {timeout}s: {shlex.join(map(str, argv))}") from e
    if p.returncode != 0:
        err = (p.stderr or b"").decode(errors="replace").strip()[-2000:]
        raise PeerError(f"{what or argv[0]}: exit {p.returncode}: {shlex.join(map(str, argv))}\n{err}")
    return p


def _dpkg_installed(pkg: str) -> bool:
    try:
        p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0 and p.stdout.strip() == "install ok installed"


def install_packages(packages=PACKAGES, timeout: float = 900) -> list[str]:
    """Install the Debian packages the peers need; return the list that was missing (empty: nothing done).

    Checks each package with dpkg-query first; only if something is missing runs ``apt-get update`` and
    ``apt-get install -y --no-install-recommends``. Package postinst scripts must not start daemons: if
    /usr/sbin/policy-rc.d exists and already denies (exit 101) it is left alone; otherwise a deny-all
    policy-rc.d is put in place for the duration of the install only, and the previous file (content and
    mode) is restored afterwards, or ours is removed if there was none. Must be run as root.
    """
    _require_root()
    missing = [p for p in packages if not _dpkg_installed(p)]
    if not missing:
        return []
    deadline = time.monotonic() + timeout
    saved = None       # (bytes, mode) of a pre-existing policy-rc.d we replaced
    placed = False     # we wrote our own policy-rc.d
    if os.path.lexists(POLICY_RC_D):
        denies = False
        try:
            denies = subprocess.run([POLICY_RC_D, "ssh", "start"], capture_output=True,
                                    timeout=10).returncode == 101
        except (OSError, subprocess.TimeoutExpired):
            pass
        if not denies:
            st = os.lstat(POLICY_RC_D)
            with open(POLICY_RC_D, "rb") as f:
                saved = (f.read(), st.st_mode & 0o7777)
            placed = True
    else:
        placed = True
    try:
        if placed:
            tmp = POLICY_RC_D + ".ferrybench.tmp"
            with open(tmp, "w") as f:
                f.write("#!/bin/sh\n# temporary, written by Ferry bench/lib/peers.py during apt-get install\nexit 101\n")
            os.chmod(tmp, 0o755)
            os.replace(tmp, POLICY_RC_D)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        _run(["apt-get", "update", "-qq"], max(30, deadline - time.monotonic()), env=env, what="apt-get update")
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
              "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold", *missing],
             max(30, deadline - time.monotonic()), env=env, what="apt-get install")
    finally:
        if placed:
            if saved is not None:
                with open(POLICY_RC_D, "wb") as f:
                    f.write(saved[0])
                os.chmod(POLICY_RC_D, saved[1])
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(POLICY_RC_D)
    still = [p for p in missing if not _dpkg_installed(p)]
    if still:
        raise PeerError(f"packages still missing after apt-get install: {still}")
    return missing


def _free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (the kernel picks them; all held open until all are chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _listening_ports() -> set[int]:
    ports = set()
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "0A":  # TCP_LISTEN
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def _pasv_ranges(n: int, width: int = 1000, avoid=()) -> list[tuple[int, int]]:
    """n disjoint port ranges of `width` for vsftpd's PASV listeners, below the kernel's ephemeral range (so
    client sockets never take them) and with no listening socket in them right now."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            eph_lo = int(f.read().split()[0])
    except (OSError, ValueError):
        eph_lo = 32768
    hi_limit = max(eph_lo, 12000 + width * (n + 1))
    busy = _listening_ports() | set(avoid)
    starts = list(range(10000, hi_limit - width, width))
    random.shuffle(starts)
    out = []
    for s in starts:
        if len(out) == n:
            break
        if not any(s <= p < s + width for p in busy):
            out.append((s, s + width - 1))
    if len(out) < n:
        raise PeerError("no free port range for vsftpd PASV")
    return out


def _children_map() -> dict[int, list[int]]:
    m: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s[s.rfind(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        m.setdefault(ppid, []).append(int(d))
    return m


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (by PPID, from /proc), pid first."""
    m = _children_map()
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(m.get(p, []))
    return out


def _alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rfind(")") + 2] not in "ZX"
    except OSError:
        return False


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def pss_kib(pids) -> int:
    """Sum of Pss (KiB) from /proc/PID/smaps_rollup over pids (vanished processes count 0)."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def _kill_pids(pids, grace: float = 5.0) -> None:
    """SIGTERM each live pid, wait up to `grace` seconds, then SIGKILL what is left."""
    pids = [p for p in pids if p > 1 and p != os.getpid()]
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end and any(_alive(p) for p in pids):
        time.sleep(0.02)
    for p in pids:
        if _alive(p):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGKILL)


def _kill_tree(root: int, grace: float = 5.0) -> None:
    """Kill root and all its descendants, deepest level first, so each parent is still alive to reap its
    children (no orphaned zombies are left for init); root itself is left for the caller to wait() on."""
    m = _children_map()
    levels, cur = [], [root]
    while cur:
        levels.append(cur)
        cur = [c for p in cur for c in m.get(p, [])]
    for level in reversed(levels):
        _kill_pids(level, grace)
        end = time.monotonic() + 1.0  # let the parents reap them
        while time.monotonic() < end and any(os.path.exists(f"/proc/{p}") for p in level if p != root):
            time.sleep(0.01)


def _raise_nofile(n: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE to at least n (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(max(n, soft), hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _pdeathsig():
    """preexec_fn: the daemon gets SIGTERM if the Python process that started it dies (even by SIGKILL)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def _sftp_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lftp_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ----------------------------------------------------------------------------------------------------------
# the peers
# ----------------------------------------------------------------------------------------------------------

class Peers:
    """Throwaway vsftpd (FTP + FTPS) and sshd on 127.0.0.1 serving one throwaway account; see the module doc.

    Attributes after start(): ftp_port, ftps_port, ssh_port, user, password, home (== data_dir), client_key,
    pids (name -> daemon pid, names 'ftp', 'ftps', 'ssh'), pasv_ranges.
    Use as ``with Peers(workdir) as p: ...`` or call start()/stop(); stop() is idempotent and also registered
    with atexit by start().
    """

    DAEMONS = ("ftp", "ftps", "ssh")

    def __init__(self, workdir, data_dir=None, user: str = "ferrybench", password: str = "ferrybench-Pw1",
                 max_clients: int = 2000):
        self.workdir = os.path.abspath(workdir)
        self.home = os.path.abspath(data_dir) if data_dir else os.path.join(self.workdir, "home")
        self.data_dir = self.home
        self.user = user
        self.password = password
        self.max_clients = max(1200, int(max_clients))
        self.etc = os.path.join(self.workdir, "etc")
        self.sshdir = os.path.join(self.workdir, "ssh")
        self.tlsdir = os.path.join(self.workdir, "tls")
        self.rundir = os.path.join(self.workdir, "run")
        self.client_home = os.path.join(self.workdir, "client-home")
        self.empty_dir = os.path.join(self.workdir, "vsftpd-empty")
        self.client_key = os.path.join(self.sshdir, "client_ed25519_key")
        self.host_key = os.path.join(self.sshdir, "host_ed25519_key")
        self.cert = os.path.join(self.tlsdir, "cert.pem")
        self.key = os.path.join(self.tlsdir, "key.pem")
        self.ftp_port = self.ftps_port = self.ssh_port = None
        self.pasv_ranges = {}
        self.pids: dict[str, int] = {}
        self.last_idle: dict = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._logs = []
        self._created_user = False
        self._created_run_sshd = False
        self._chmodded: list[tuple[str, int]] = []  # (folder, original mode) given o+x by start()
        self._started = False
        self._batch_seq = 0
        self._lock = threading.Lock()
        self._client_env = None

    # ---- context manager ----
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- setup ----
    def start(self) -> "Peers":
        """Create the account, keys, certificate and configs, start the three daemons and wait for their ports.

        On any failure everything started so far is undone (stop()) and the error is re-raised.
        """
        _require_root()
        if self._started:
            return self
        self._started = True
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        for tool in (VSFTPD, SSHD, SFTP_SERVER, "/usr/bin/ssh", "/usr/bin/sftp", "/usr/bin/curl", "/usr/bin/lftp",
                     "/usr/bin/rsync", "/usr/bin/openssl", "/usr/bin/ssh-keygen"):
            if not os.path.exists(tool):
                raise PeerError(f"{tool} missing: call install_packages() first")
        for d in (self.workdir, self.etc, self.sshdir, os.path.join(self.sshdir, "authorized_keys"), self.tlsdir,
                  self.rundir, self.client_home, self.empty_dir):
            os.makedirs(d, exist_ok=True)
        os.makedirs(self.home, exist_ok=True)
        # The account must be able to walk down to its home and to its authorized_keys file. Folders from
        # the common parent of workdir and data_dir downwards are the caller's (e.g. a mkdtemp folder, mode
        # 0700): they get search permission for others (x only, not r), and their old mode back in stop().
        # Folders above that are not touched; they must be traversable already.
        for d in (self.etc, self.sshdir, os.path.join(self.sshdir, "authorized_keys"), self.empty_dir):
            os.chmod(d, 0o755)
        os.chmod(self.tlsdir, 0o700)
        top = os.path.commonpath([self.workdir, self.home])
        for path in (self.home, os.path.join(self.sshdir, "authorized_keys")):
            p = os.path.dirname(path)
            while p != "/":
                mode = os.stat(p).st_mode
                if not mode & 0o001:
                    if p == top or p.startswith(top + os.sep):
                        self._chmodded.append((p, mode & 0o7777))
                        os.chmod(p, (mode & 0o7777) | 0o011)
                    else:
                        raise PeerError(f"{p} is not traversable by other users (needs o+x) so {self.user} "
                                        f"cannot reach {path}")
                p = os.path.dirname(p)
        self._client_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.client_home, "LANG": "C",
                            "LC_ALL": "C"}
        self._make_user()
        self._make_keys()
        self.ftp_port, self.ftps_port, self.ssh_port = _free_ports(3)
        r1, r2 = _pasv_ranges(2, avoid=(self.ftp_port, self.ftps_port, self.ssh_port))
        self.pasv_ranges = {"ftp": r1, "ftps": r2}
        self._write_configs()
        if not os.path.isdir(RUN_SSHD):
            os.makedirs(RUN_SSHD, mode=0o755)
            os.chmod(RUN_SSHD, 0o755)
            open(RUN_SSHD_MARK, "w").close()
            self._created_run_sshd = True
        elif os.listdir(RUN_SSHD) == [os.path.basename(RUN_SSHD_MARK)]:
            self._created_run_sshd = True  # left by an earlier run of ours that died before stop()
        _run([SSHD, "-t", "-f", os.path.join(self.etc, "sshd_config")], _SETUP_TIMEOUT, what="sshd -t")
        base_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
        self._spawn("ftp", [VSFTPD, os.path.join(self.etc, "vsftpd-ftp.conf")], base_env)
        self._spawn("ftps", [VSFTPD, os.path.join(self.etc, "vsftpd-ftps.conf")],
                    dict(base_env, OPENSSL_CONF=os.path.join(self.etc, "openssl-tls13.cnf")))
        self._spawn("ssh", [SSHD, "-D", "-e", "-f", os.path.join(self.etc, "sshd_config")], base_env)
        for name, port in (("ftp", self.ftp_port), ("ftps", self.ftps_port), ("ssh", self.ssh_port)):
            self._wait_port(name, port)
        self.chown_data()

    def _make_user(self) -> None:
        try:
            pw = pwd.getpwnam(self.user)
        except KeyError:
            _run(["useradd", "--system", "--no-create-home", "--home-dir", self.home, "--shell", "/bin/bash",
                  "--comment", USER_MARK, "--user-group", self.user], _SETUP_TIMEOUT, what="useradd")
            self._created_user = True
        else:
            if pw.pw_gecos != USER_MARK:
                raise PeerError(f"local account {self.user!r} already exists and was not made by this module; "
                                f"pass another user= name")
            # a leftover of an earlier run that died before stop(): take it over (and delete it in stop()),
            # unless another run is using it right now
            busy = [int(d) for d in os.listdir("/proc") if d.isdigit() and self._owned_by(int(d), pw.pw_uid)]
            if busy:
                raise PeerError(f"local account {self.user!r} is in use by running processes {busy[:5]} "
                                f"(another Peers instance?); pass another user= name")
            self._created_user = True
            if pw.pw_dir != self.home:
                _run(["usermod", "--home", self.home, self.user], _SETUP_TIMEOUT, what="usermod")
        _run(["chpasswd"], _SETUP_TIMEOUT, input=f"{self.user}:{self.password}\n".encode(), what="chpasswd")
        pw = pwd.getpwnam(self.user)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def chown_data(self) -> None:
        """Give the account ownership of data_dir and everything in it (call after adding files as root)."""
        os.chown(self.home, self.uid, self.gid)
        os.chmod(self.home, 0o755)
        for root, dirs, files in os.walk(self.home):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), self.uid, self.gid)

    def _make_keys(self) -> None:
        for k in (self.host_key, self.client_key):
            if not os.path.exists(k):
                _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ferrybench", "-f", k],
                     _SETUP_TIMEOUT, what="ssh-keygen")
            os.chmod(k, 0o600)
        ak = os.path.join(self.sshdir, "authorized_keys", self.user)
        shutil.copyfile(self.client_key + ".pub", ak)
        os.chmod(ak, 0o644)
        if not os.path.exists(self.cert):
            _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=localhost",
                  "-keyout", self.key, "-out", self.cert], _SETUP_TIMEOUT, what="openssl req")
        os.chmod(self.key, 0o600)

    def _write_configs(self) -> None:
        def vsftpd(name, port, pasv, extra):
            lines = [
                "# throwaway vsftpd for Ferry benchmarks (bench/lib/peers.py)",
                "listen=YES", "listen_ipv6=NO", f"listen_address={HOST}", f"listen_port={port}", "background=NO",
                "anonymous_enable=NO", "local_enable=YES", "write_enable=YES", "local_umask=022",
                "chroot_local_user=YES", "allow_writeable_chroot=YES", "dirmessage_enable=NO",
                "use_localtime=YES", "connect_from_port_20=NO", "pasv_enable=YES", "port_enable=NO",
                f"pasv_min_port={pasv[0]}", f"pasv_max_port={pasv[1]}", "pasv_address=127.0.0.1",
                f"secure_chroot_dir={self.empty_dir}", "pam_service_name=vsftpd", "userlist_enable=NO",
                "tcp_wrappers=NO", f"max_clients={self.max_clients}", f"max_per_ip={self.max_clients}",
                "idle_session_timeout=600", "data_connection_timeout=300", "accept_timeout=60",
                "connect_timeout=60", "xferlog_enable=YES", "xferlog_std_format=NO",
                f"vsftpd_log_file={self.rundir}/vsftpd-{name}.log", "ftpd_banner=ferrybench vsftpd",
            ] + extra
            path = os.path.join(self.etc, f"vsftpd-{name}.conf")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            os.chmod(path, 0o600)

        vsftpd("ftp", self.ftp_port, self.pasv_ranges["ftp"], ["ssl_enable=NO"])
        vsftpd("ftps", self.ftps_port, self.pasv_ranges["ftps"], [
            "ssl_enable=YES", f"rsa_cert_file={self.cert}", f"rsa_private_key_file={self.key}",
            "force_local_logins_ssl=YES", "force_local_data_ssl=YES", "ssl_sslv2=NO", "ssl_sslv3=NO",
            "ssl_tlsv1=NO", "ssl_ciphers=HIGH", "require_ssl_reuse=NO", "ssl_request_cert=NO", "implicit_ssl=NO",
        ])
        with open(os.path.join(self.etc, "openssl-tls13.cnf"), "w") as f:
            f.write("# private OpenSSL config for the FTPS vsftpd only: TLS 1.3 is the only protocol version\n"
                    "openssl_conf = openssl_init\n\n[openssl_init]\nssl_conf = ssl_sect\n\n"
                    "[ssl_sect]\nsystem_default = system_default_sect\n\n"
                    "[system_default_sect]\nMinProtocol = TLSv1.3\nMaxProtocol = TLSv1.3\n")
        sshd = [
            "# throwaway sshd for Ferry benchmarks (bench/lib/peers.py)",
            f"Port {self.ssh_port}", f"ListenAddress {HOST}", "AddressFamily inet",
            f"HostKey {self.host_key}", f"PidFile {self.rundir}/sshd.pidfile",
            f"AuthorizedKeysFile {self.sshdir}/authorized_keys/%u",
            "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin no", f"AllowUsers {self.user}", "UsePAM no", "StrictModes no", "UseDNS no",
            "MaxStartups 2000:30:4000", "MaxSessions 1000", "MaxAuthTries 6", "LoginGraceTime 60",
            "X11Forwarding no", "AllowTcpForwarding no", "PermitTunnel no", "PrintMotd no", "PrintLastLog no",
            "Compression no", "LogLevel ERROR", f"Subsystem sftp {SFTP_SERVER}",
        ]
        with open(os.path.join(self.etc, "sshd_config"), "w") as f:
            f.write("\n".join(sshd) + "\n")

    def _spawn(self, name, argv, env) -> None:
        log = open(os.path.join(self.rundir, f"{name}.out"), "ab")
        self._logs.append(log)
        _raise_nofile(65536)  # inherited by the daemon, so hundreds of sessions fit
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                             cwd="/", start_new_session=True, preexec_fn=_pdeathsig)
        self._procs[name] = p
        self.pids[name] = p.pid
        with open(os.path.join(self.rundir, f"{name}.pid"), "w") as f:
            f.write(f"{p.pid}\n")

    def _wait_port(self, name, port, limit: float = 15.0) -> None:
        p = self._procs[name]
        end = time.monotonic() + limit
        while True:
            if p.poll() is not None:
                raise PeerError(f"{name} daemon exited with {p.returncode}: {self._log_tail(name)}")
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    return
            except OSError:
                pass
            if time.monotonic() > end:
                raise PeerError(f"{name} did not open {HOST}:{port} within {limit}s: {self._log_tail(name)}")
            time.sleep(0.02)

    def _log_tail(self, name) -> str:
        try:
            with open(os.path.join(self.rundir, f"{name}.out"), "rb") as f:
                return f.read()[-1500:].decode(errors="replace")
        except OSError:
            return ""

    # ---- teardown ----
    def stop(self) -> None:
        """Kill exactly the daemons we started and all their descendants, then any process still running as
        the throwaway account, delete the account if we created it, and remove /run/sshd if we created it
        (and no other sshd runs). Safe to call any number of times."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        for p in self._procs.values():
            if p.poll() is None:
                _kill_tree(p.pid)
        for p in self._procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=10)
            if p.poll() is None:
                p.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=10)
        self._procs.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self._created_user:
            try:
                uid = pwd.getpwnam(self.user).pw_uid
            except KeyError:
                uid = None
            if uid is not None:
                for _ in range(3):
                    left = [int(d) for d in os.listdir("/proc") if d.isdigit() and self._owned_by(int(d), uid)]
                    if not left:
                        break
                    _kill_pids(left)
                try:
                    _run(["userdel", self.user], _SETUP_TIMEOUT, what="userdel")
                except PeerError as e:
                    print(f"peers: warning: {e}", file=sys.stderr)
                else:
                    self._created_user = False
            else:
                self._created_user = False
        if self._created_run_sshd:
            others = [int(d) for d in os.listdir("/proc") if d.isdigit() and _comm(int(d)) == "sshd"
                      and _alive(int(d))]
            if not others:
                with contextlib.suppress(OSError):
                    os.remove(RUN_SSHD_MARK)
                with contextlib.suppress(OSError):
                    os.rmdir(RUN_SSHD)
            self._created_run_sshd = False
        for path, mode in reversed(self._chmodded):
            with contextlib.suppress(OSError):
                os.chmod(path, mode)
        self._chmodded.clear()
        self._started = False
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    @staticmethod
    def _owned_by(pid: int, uid: int) -> bool:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        return uid in map(int, line.split()[1:])
        except OSError:
            pass
        return False

    # ---- URLs, common options ----
    def _ftp_url(self, port, remote) -> str:
        path = urllib.parse.quote(remote.lstrip("/"), safe="/")
        return f"ftp://{urllib.parse.quote(self.user)}:{urllib.parse.quote(self.password)}@{HOST}:{port}/{path}"

    def ssh_options(self, cipher=None) -> list[str]:
        """OpenSSH client options shared by ssh, sftp and rsync -e (key auth, no config files, no known_hosts)."""
        o = ["-F", "none", "-i", self.client_key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
             "-o", "ConnectTimeout=20"]
        if cipher:
            o += ["-o", f"Ciphers={cipher}"]
        return o

    def _dest(self) -> str:
        return f"{self.user}@{HOST}"

    def _curl(self, tls: bool, timeout) -> list[str]:
        c = ["curl", "-q", "-sS", "--fail", "--connect-timeout", "20", "--max-time", str(int(timeout))]
        if tls:
            c += ["--ssl-reqd", "-k", "--tlsv1.3", "--tls-max", "1.3"]
        return c

    def _timed(self, argv, timeout, what) -> float:
        t0 = time.perf_counter()
        _run(argv, timeout, env=self._client_env, what=what)
        return time.perf_counter() - t0

    def _timed_curl(self, argv, timeout, what) -> CurlTiming:
        """Runs curl (its standard output free for -w) and returns its wall time with its own set-up time."""
        t0 = time.perf_counter()
        p = _run(argv + ["-w", "\n%{time_pretransfer}\n"], timeout, env=self._client_env, what=what)
        seconds = time.perf_counter() - t0
        try:
            setup = float(p.stdout.split()[-1])
        except (IndexError, ValueError) as e:
            raise PeerError(f"{what}: no time_pretransfer in curl's output {p.stdout[-200:]!r}") from e
        return CurlTiming(seconds, setup)

    def _batch(self, lines) -> str:
        with self._lock:
            self._batch_seq += 1
            path = os.path.join(self.rundir, f"batch-{self._batch_seq}.txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    # ---- FTP / FTPS with curl ----
    def ftp_download(self, remote_name, local_path, timeout=300) -> float:
        """curl download over plain FTP; remote_name relative to data_dir; local_path may be /dev/null."""
        return self._timed_curl(self._curl(False, timeout) + ["-o", local_path,
                                                             self._ftp_url(self.ftp_port, remote_name)],
                                timeout + 10, "curl ftp download")

    def ftp_upload(self, local_path, remote_name, timeout=300) -> float:
        """curl upload over plain FTP (creates missing remote folders)."""
        return self._timed_curl(self._curl(False, timeout) + ["--ftp-create-dirs", "-T", local_path,
                                                              self._ftp_url(self.ftp_port, remote_name)],
                                timeout + 10, "curl ftp upload")

    def ftps_download(self, remote_name, local_path, timeout=300) -> float:
        """curl download over explicit FTPS (AUTH TLS, TLS 1.3, protected data channel, cert not verified)."""
        return self._timed_curl(self._curl(True, timeout) + ["-o", local_path,
                                                             self._ftp_url(self.ftps_port, remote_name)],
                                timeout + 10, "curl ftps download")

    def ftps_upload(self, local_path, remote_name, timeout=300) -> float:
        """curl upload over explicit FTPS (TLS 1.3)."""
        return self._timed_curl(self._curl(True, timeout) + ["--ftp-create-dirs", "-T", local_path,
                                                             self._ftp_url(self.ftps_port, remote_name)],
                                timeout + 10, "curl ftps upload")

    # ---- SFTP with the OpenSSH client ----
    def sftp_argv(self, batch, cipher=None) -> list[str]:
        """argv of an OpenSSH sftp client run in batch mode (batch: file path, or '-' for stdin)."""
        return ["sftp", "-q", "-b", batch, "-P", str(self.ssh_port)] + self.ssh_options(cipher) + [self._dest()]

    def sftp_download(self, remote, local, cipher=None, timeout=300) -> float:
        """sftp 'get remote local' (e.g. cipher='aes128-gcm@openssh.com'; None = OpenSSH default)."""
        b = self._batch([f"get {_sftp_quote(remote)} {_sftp_quote(local)}"])
        return self._timed(self.sftp_argv(b, cipher), timeout, "sftp get")

    def sftp_upload(self, local, remote, cipher=None, timeout=300) -> float:
        """sftp 'put local remote' (the remote folder must exist)."""
        b = self._batch([f"put {_sftp_quote(local)} {_sftp_quote(remote)}"])
        return self._timed(self.sftp_argv(b, cipher), timeout, "sftp put")

    def _check_new_dirs(self, local_dir=None, remote_dir=None):
        if local_dir is not None and os.path.lexists(local_dir):
            raise FileExistsError(f"{local_dir} must not exist yet (the tree is created as it)")
        if remote_dir is not None and os.path.lexists(os.path.join(self.home, remote_dir)):
            raise FileExistsError(f"remote {remote_dir} must not exist yet under {self.home}")

    def sftp_get_tree(self, remote_dir, local_dir, cipher=None, timeout=300) -> float:
        """sftp 'get -r': the contents of remote_dir become local_dir (which must not exist yet)."""
        self._check_new_dirs(local_dir=local_dir)
        b = self._batch([f"get -r {_sftp_quote(remote_dir)} {_sftp_quote(local_dir)}"])
        return self._timed(self.sftp_argv(b, cipher), timeout, "sftp get -r")

    def sftp_put_tree(self, local_dir, remote_dir, cipher=None, timeout=300) -> float:
        """sftp 'put -r': the contents of local_dir become remote_dir (which must not exist yet)."""
        self._check_new_dirs(remote_dir=remote_dir)
        b = self._batch([f"put -r {_sftp_quote(local_dir)} {_sftp_quote(remote_dir)}"])
        return self._timed(self.sftp_argv(b, cipher), timeout, "sftp put -r")

    # ---- lftp mirror over plain FTP ----
    def _lftp(self, command, timeout, what) -> float:
        script = self._batch([
            "set cmd:fail-exit yes", "set net:max-retries 1", "set net:timeout 20",
            "set net:reconnect-interval-base 1", "set ftp:ssl-allow no", "set ftp:passive-mode yes",
            "set xfer:clobber on",
            f"open -u {_lftp_quote(self.user)},{_lftp_quote(self.password)} -p {self.ftp_port} ftp://{HOST}",
            command,
        ])
        return self._timed(["lftp", "-f", script], timeout, what)

    def lftp_mirror_download(self, remote_dir, local_dir, parallel=1, timeout=300) -> float:
        """lftp 'mirror' over plain FTP: the contents of remote_dir become local_dir (must not exist yet)."""
        self._check_new_dirs(local_dir=local_dir)
        par = f"--parallel={parallel} " if parallel > 1 else ""
        return self._lftp(f"mirror {par}{_lftp_quote(remote_dir)} {_lftp_quote(local_dir)}", timeout, "lftp mirror")

    def lftp_mirror_upload(self, local_dir, remote_dir, parallel=1, timeout=300) -> float:
        """lftp 'mirror -R' over plain FTP: the contents of local_dir become remote_dir (must not exist yet)."""
        self._check_new_dirs(remote_dir=remote_dir)
        par = f"--parallel={parallel} " if parallel > 1 else ""
        return self._lftp(f"mirror -R {par}{_lftp_quote(local_dir)} {_lftp_quote(remote_dir)}", timeout,
                          "lftp mirror -R")

    # ---- rsync over ssh ----
    def _rsync_e(self, cipher=None) -> str:
        return shlex.join(["ssh", "-p", str(self.ssh_port)] + self.ssh_options(cipher))

    def rsync_download(self, remote_dir, local_dir, cipher=None, timeout=300) -> float:
        """rsync -a over ssh: the contents of remote_dir are copied into local_dir (created if missing)."""
        src = f"{self._dest()}:{remote_dir.rstrip('/')}/"
        return self._timed(["rsync", "-a", "-e", self._rsync_e(cipher), src, local_dir.rstrip("/") + "/"],
                           timeout, "rsync download")

    def rsync_upload(self, local_dir, remote_dir, cipher=None, timeout=300) -> float:
        """rsync -a over ssh: the contents of local_dir are copied into remote_dir (created if missing)."""
        dst = f"{self._dest()}:{remote_dir.rstrip('/')}/"
        return self._timed(["rsync", "-a", "-e", self._rsync_e(cipher), local_dir.rstrip("/") + "/", dst],
                           timeout, "rsync upload")

    # ---- in-process FTP sessions ----
    @staticmethod
    def tls13_context(max_version=ssl.TLSVersion.TLSv1_3) -> ssl.SSLContext:
        """Client context for FTPS: no certificate check (self-signed), TLS 1.3 only (or max_version)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = max_version
        ctx.minimum_version = min(max_version, ssl.TLSVersion.TLSv1_3)
        return ctx

    def ftp_session(self, tls=False, timeout=20) -> ftplib.FTP:
        """A logged-in ftplib session (plain FTP, or FTPS with AUTH TLS and TLS 1.3) to our vsftpd."""
        if tls:
            f = ftplib.FTP_TLS(context=self.tls13_context(), timeout=timeout)
            f.connect(HOST, self.ftps_port)
        else:
            f = ftplib.FTP(timeout=timeout)
            f.connect(HOST, self.ftp_port)
        try:
            f.login(self.user, self.password)
        except BaseException:
            f.close()
            raise
        return f

    def ftps_tls_info(self) -> dict:
        """Negotiated TLS version and cipher of an FTPS control connection, and whether vsftpd refuses a client
        limited to TLS 1.2 (True means TLS 1.3 is enforced server-side)."""
        f = self.ftp_session(tls=True)
        try:
            info = {"version": f.sock.version(), "cipher": f.sock.cipher()[0]}
        finally:
            f.quit()
        f2 = ftplib.FTP_TLS(context=self.tls13_context(ssl.TLSVersion.TLSv1_2), timeout=20)
        try:
            f2.connect(HOST, self.ftps_port)
            f2.auth()
            info["tls12_rejected"] = False
        except (ssl.SSLError, OSError, EOFError, ftplib.Error):
            info["tls12_rejected"] = True
        finally:
            f2.close()
        return info

    def ftp_noop_rtt(self, count=1000, tls=False) -> float:
        """Seconds per round trip: one logged-in ftplib session, `count` x voidcmd('NOOP') (20 warm-up first;
        only the loop is timed). tls=True measures the FTPS control connection instead."""
        f = self.ftp_session(tls=tls)
        try:
            for _ in range(20):
                f.voidcmd("NOOP")
            t0 = time.perf_counter()
            for _ in range(count):
                f.voidcmd("NOOP")
            dt = time.perf_counter() - t0
        finally:
            with contextlib.suppress(Exception):
                f.quit()
            f.close()
        return dt / count

    def ftp_logins(self, count=50) -> float:
        """Logins per second: `count` sequential connect + USER/PASS + QUIT over plain FTP (python ftplib)."""
        t0 = time.perf_counter()
        for _ in range(count):
            self.ftp_session().quit()
        return count / (time.perf_counter() - t0)

    def ftps_logins(self, count=50) -> float:
        """Logins per second: `count` sequential connect + AUTH TLS (1.3) + USER/PASS + QUIT (ftplib FTP_TLS)."""
        t0 = time.perf_counter()
        for _ in range(count):
            self.ftp_session(tls=True).quit()
        return count / (time.perf_counter() - t0)

    # ---- ssh / sftp protocol level ----
    def ssh_logins(self, count=20, timeout=60) -> float:
        """Logins per second: `count` sequential `ssh ... user@127.0.0.1 true` (process start + handshake +
        public-key auth + exec)."""
        argv = ["ssh", "-p", str(self.ssh_port)] + self.ssh_options() + [self._dest(), "true"]
        t0 = time.perf_counter()
        for _ in range(count):
            _run(argv, timeout, env=self._client_env, what="ssh true")
        return count / (time.perf_counter() - t0)

    def sftp_stat_rtt(self, count=1000, path=".", timeout=60) -> float:
        """Seconds per round trip: a minimal SFTPv3 client on the pipes of `ssh -s ... sftp` (INIT/VERSION, 20
        warm-up STATs, then `count` sequential STAT path; only the loop is timed). Killed after `timeout` s."""
        argv = ["ssh", "-p", str(self.ssh_port)] + self.ssh_options() + ["-s", self._dest(), "sftp"]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             bufsize=0, env=self._client_env)
        watchdog = threading.Timer(timeout, p.kill)
        watchdog.start()
        w, r = p.stdin, p.stdout

        def readn(k):
            b = b""
            while len(b) < k:
                c = r.read(k - len(b))
                if not c:
                    raise PeerError("sftp subsystem closed the connection")
                b += c
            return b

        def send(t, payload):
            w.write(struct.pack(">IB", len(payload) + 1, t) + payload)

        def recv():
            (ln,) = struct.unpack(">I", readn(4))
            body = readn(ln)
            return body[0], body[1:]

        pb = path.encode()
        req = struct.pack(">I", len(pb)) + pb
        try:
            send(1, struct.pack(">I", 3))  # SSH_FXP_INIT, version 3
            t, _ = recv()
            if t != 2:  # SSH_FXP_VERSION
                raise PeerError(f"unexpected SFTP reply {t} to INIT")

            def one(i):
                send(17, struct.pack(">I", i) + req)  # SSH_FXP_STAT
                t, body = recv()
                if t != 105 or struct.unpack(">I", body[:4])[0] != i:  # SSH_FXP_ATTRS
                    raise PeerError(f"unexpected SFTP reply {t} to STAT")

            for i in range(20):
                one(i)
            t0 = time.perf_counter()
            for i in range(count):
                one(100 + i)
            dt = time.perf_counter() - t0
        finally:
            watchdog.cancel()
            with contextlib.suppress(OSError):
                w.close()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            r.close()
            p.stderr.close()
        return dt / count

    # ---- idle sessions: server memory ----
    def daemon_tree(self, kind) -> list[int]:
        """The daemon's pid plus all its descendants; kind 'ftp', 'ftps', 'ssh' (or 'sftp')."""
        name = "ssh" if kind == "sftp" else kind
        return process_tree(self.pids[name])

    def daemon_pss_kib(self, kind) -> int:
        """Current PSS (KiB) summed over the daemon's process tree."""
        return pss_kib(self.daemon_tree(kind))

    def _wait_tree_idle(self, kind, limit=30.0) -> None:
        end = time.monotonic() + limit
        while len(self.daemon_tree(kind)) > 1 and time.monotonic() < end:
            time.sleep(0.05)

    def idle_sessions(self, kind, count=200, limit=120.0) -> float:
        """Server memory per idle logged-in session, in KiB of PSS.

        kind 'ftp' / 'ftps': `count` ftplib sessions logged in from this process (4 login threads);
        kind 'sftp': `count` OpenSSH `sftp` client processes kept open on pipes (started 25 at a time, each
        batch waited for until its sftp-server processes exist).
        Returns (PSS of the daemon's process tree with the sessions open - PSS before opening them) / count.
        Everything is closed before returning. Details (before/during KiB, processes per session, seconds to
        open them) are left in self.last_idle.
        """
        if kind not in ("ftp", "ftps", "sftp"):
            raise ValueError(f"kind must be 'ftp', 'ftps' or 'sftp', not {kind!r}")
        _raise_nofile(4 * count + 256)
        self._wait_tree_idle(kind)
        n0 = len(self.daemon_tree(kind))
        before = self.daemon_pss_kib(kind)
        t0 = time.monotonic()
        deadline = t0 + limit
        if kind == "sftp":
            procs = []
            try:
                argv = ["sftp", "-q", "-P", str(self.ssh_port)] + self.ssh_options() + [self._dest()]
                for start in range(0, count, 25):
                    for _ in range(min(25, count - start)):
                        procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                                      stderr=subprocess.DEVNULL, env=self._client_env))
                    while True:
                        up = sum(1 for q in self.daemon_tree(kind) if _comm(q) == "sftp-server")
                        if up >= len(procs):
                            break
                        dead = [q for q in procs if q.poll() is not None]
                        if dead:
                            raise PeerError(f"{len(dead)} sftp clients exited early (rc {dead[0].returncode})")
                        if time.monotonic() > deadline:
                            raise PeerError(f"only {up} of {len(procs)} sftp sessions up after {limit}s")
                        time.sleep(0.05)
                setup = time.monotonic() - t0
                tree = self.daemon_tree(kind)
                during = pss_kib(tree)
            finally:
                for q in procs:
                    with contextlib.suppress(OSError):
                        q.stdin.close()
                end = time.monotonic() + 30
                for q in procs:
                    try:
                        q.wait(timeout=max(0.1, end - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        q.kill()
                        q.wait()
        else:
            tls = kind == "ftps"
            conns = []
            try:
                with ThreadPoolExecutor(4) as ex:
                    futs = [ex.submit(self.ftp_session, tls) for _ in range(count)]
                    errors = []
                    for fu in futs:
                        try:
                            conns.append(fu.result(timeout=max(1, deadline - time.monotonic())))
                        except Exception as e:  # noqa: BLE001 - collected and re-raised below
                            errors.append(e)
                    if errors:
                        raise PeerError(f"{len(errors)} of {count} {kind} logins failed: {errors[0]!r}")
                setup = time.monotonic() - t0
                tree = self.daemon_tree(kind)
                during = pss_kib(tree)
            finally:
                for f in conns:
                    try:
                        f.quit()
                    except Exception:  # noqa: BLE001
                        f.close()
        per = (during - before) / count
        self.last_idle = {"kind": kind, "count": count, "pss_before_kib": before, "pss_during_kib": during,
                          "pss_per_session_kib": per, "procs_per_session": (len(tree) - n0) / count,
                          "seconds_to_open": setup}
        self._wait_tree_idle(kind)
        return per

    # ---- concurrent downloads ----
    def concurrent_downloads(self, kind, clients, remote_name, cipher=None, timeout=300):
        """`clients` simultaneous downloads of remote_name to /dev/null, all started together (a barrier).

        kind 'ftp' or 'ftps': curl processes; 'sftp': OpenSSH sftp processes (cipher optional).
        Returns (aggregate MiB/s = clients x size / (last end - first start), [per-client MiB/s]).
        Raises PeerError if any client fails (or, for curl, reports a wrong size).
        """
        if kind not in ("ftp", "ftps", "sftp"):
            raise ValueError(f"kind must be 'ftp', 'ftps' or 'sftp', not {kind!r}")
        size = os.path.getsize(os.path.join(self.home, remote_name))
        _raise_nofile(8 * clients + 256)
        if kind == "sftp":
            argv = self.sftp_argv(self._batch([f"get {_sftp_quote(remote_name)} /dev/null"]), cipher)
        else:
            port = self.ftp_port if kind == "ftp" else self.ftps_port
            argv = self._curl(kind == "ftps", timeout) + ["-o", "/dev/null", "-w", "%{size_download}",
                                                           self._ftp_url(port, remote_name)]
        barrier = threading.Barrier(clients)
        results = [None] * clients

        def worker(i):
            try:
                barrier.wait(timeout=60)
                t0 = time.perf_counter()
                p = subprocess.run(argv, capture_output=True, timeout=timeout + 10, env=self._client_env)
                t1 = time.perf_counter()
                if p.returncode != 0:
                    results[i] = PeerError(f"client {i}: exit {p.returncode}: {p.stderr.decode(errors='replace')[-500:]}")
                elif kind != "sftp" and p.stdout.strip() != str(size).encode():
                    results[i] = PeerError(f"client {i}: got {p.stdout!r} bytes, expected {size}")
                else:
                    results[i] = (t0, t1)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout + 90)
        bad = [r for r in results if not isinstance(r, tuple)]
        if bad:
            raise PeerError(f"{len(bad)} of {clients} {kind} downloads failed: {bad[0]!r}")
        first = min(r[0] for r in results)
        last = max(r[1] for r in results)
        per = [size / MiB / (t1 - t0) for t0, t1 in results]
        return clients * size / MiB / (last - first), per


# ----------------------------------------------------------------------------------------------------------
# self-test
# ----------------------------------------------------------------------------------------------------------

def same_tree(a, b) -> bool:
    """True if the two folders hold the same file names with byte-identical contents (recursively)."""
    c = filecmp.dircmp(a, b)
    if c.left_only or c.right_only or c.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, c.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in c.common_dirs)


def selftest() -> int:
    """Install, start in a temp workdir, run every runner once with small counts, verify content, stop."""
    t_start = time.monotonic()
    missing = install_packages()
    print(f"install_packages: {'installed ' + ' '.join(missing) if missing else 'all present'}")
    # /run/sshd must be gone afterwards unless it existed before (and was not a leftover of ours)
    run_sshd_existed = os.path.isdir(RUN_SSHD) and not os.path.exists(RUN_SSHD_MARK)
    # the layout bench/run uses: BASE (mkdtemp, 0700)/peers = workdir (created by start()), BASE/data = data_dir
    # with the data made before start()
    base = tempfile.mkdtemp(prefix="ferry-peers-")
    workdir, data = os.path.join(base, "peers"), os.path.join(base, "data")
    big = os.path.join(data, "big.bin")
    os.makedirs(os.path.join(data, "tree"))
    with open(big, "wb") as f:
        f.write(os.urandom(20 * MiB))
    for i in range(50):
        with open(os.path.join(data, "tree", f"f{i:03d}.bin"), "wb") as f:
            f.write(os.urandom(4096))
    failures = []

    def check(ok, what):
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    p = Peers(workdir, data)
    pids = []
    try:
        with p:
            pids = [pid for n in Peers.DAEMONS for pid in [p.pids[n]]]
            print(f"started: ftp :{p.ftp_port}  ftps :{p.ftps_port}  ssh :{p.ssh_port}  user {p.user}  "
                  f"home {p.home}  pasv {p.pasv_ranges}  pids {p.pids}")
            d = p.data_dir
            os.makedirs(os.path.join(d, "up"))  # added as root after start(): needs chown_data() for uploads
            p.chown_data()
            cli = os.path.join(base, "client")
            os.makedirs(cli)
            rate = lambda s: f"{20 / s:8.1f} MiB/s ({s:.3f} s)"  # noqa: E731

            print("single 20 MiB transfers:")
            for name, down, up in (("ftp", p.ftp_download, p.ftp_upload), ("ftps", p.ftps_download, p.ftps_upload)):
                loc = os.path.join(cli, f"{name}.bin")
                s = down("big.bin", loc)
                check(filecmp.cmp(big, loc, shallow=False), f"{name}_download  {rate(s)}")
                s = up(loc, f"up/{name}.bin")
                check(filecmp.cmp(big, os.path.join(d, "up", f"{name}.bin"), shallow=False), f"{name}_upload    {rate(s)}")
            for cipher in (None, "aes128-gcm@openssh.com"):
                tag = cipher or "default"
                loc = os.path.join(cli, f"sftp-{tag}.bin")
                s = p.sftp_download("big.bin", loc, cipher=cipher)
                check(filecmp.cmp(big, loc, shallow=False), f"sftp_download ({tag})  {rate(s)}")
                s = p.sftp_upload(loc, f"up/sftp-{tag}.bin", cipher=cipher)
                check(filecmp.cmp(big, os.path.join(d, "up", f"sftp-{tag}.bin"), shallow=False),
                      f"sftp_upload ({tag})    {rate(s)}")
            info = p.ftps_tls_info()
            check(info["version"] == "TLSv1.3" and info["tls12_rejected"],
                  f"ftps TLS: {info['version']} {info['cipher']}, TLS 1.2 client rejected: {info['tls12_rejected']}")

            print("tree of 50 x 4 KiB:")
            src = os.path.join(d, "tree")
            fps = lambda s: f"{50 / s:8.1f} files/s ({s:.3f} s)"  # noqa: E731
            for name, fn in (("sftp_get_tree", p.sftp_get_tree), ("lftp_mirror_download", p.lftp_mirror_download),
                             ("rsync_download", p.rsync_download)):
                loc = os.path.join(cli, name)
                s = fn("tree", loc)
                check(same_tree(src, loc), f"{name:22s} {fps(s)}")
            for name, fn in (("sftp_put_tree", p.sftp_put_tree), ("lftp_mirror_upload", p.lftp_mirror_upload),
                             ("rsync_upload", p.rsync_upload)):
                s = fn(src, f"up/{name}")
                check(same_tree(src, os.path.join(d, "up", name)), f"{name:22s} {fps(s)}")

            print("latency (100 round trips, one session):")
            v = p.ftp_noop_rtt(100)
            check(v > 0, f"ftp_noop_rtt           {v * 1e6:8.1f} us")
            v = p.ftp_noop_rtt(100, tls=True)
            check(v > 0, f"ftp_noop_rtt (ftps)    {v * 1e6:8.1f} us")
            v = p.sftp_stat_rtt(100)
            check(v > 0, f"sftp_stat_rtt          {v * 1e6:8.1f} us")

            print("logins (5 each):")
            for name, fn in (("ftp_logins", p.ftp_logins), ("ftps_logins", p.ftps_logins),
                             ("ssh_logins", p.ssh_logins)):
                v = fn(5)
                check(v > 0, f"{name:22s} {v:8.1f} logins/s")

            print("idle sessions (10 each):")
            for kind in ("ftp", "ftps", "sftp"):
                v = p.idle_sessions(kind, 10)
                li = p.last_idle
                check(li["procs_per_session"] >= 1,
                      f"idle {kind:5s} {v:8.1f} KiB PSS/session  (before {li['pss_before_kib']} KiB, during "
                      f"{li['pss_during_kib']} KiB, {li['procs_per_session']:.1f} procs/session, "
                      f"opened in {li['seconds_to_open']:.2f} s)")

            print("concurrent downloads (4 clients x 20 MiB -> /dev/null):")
            for kind in ("ftp", "ftps", "sftp"):
                agg, per = p.concurrent_downloads(kind, 4, "big.bin")
                check(len(per) == 4 and agg > 0,
                      f"{kind:5s} aggregate {agg:8.1f} MiB/s  per client {[round(x, 1) for x in per]}")
    finally:
        p.stop()
        p.stop()  # idempotent
    print("after stop():")
    left = [x for x in pids if _alive(x)]
    check(not left, f"no daemon left running {left}")
    try:
        pwd.getpwnam(p.user)
        check(False, f"user {p.user} removed")
    except KeyError:
        check(True, f"user {p.user} removed")
    check(os.path.isdir(RUN_SSHD) == run_sshd_existed,
          f"{RUN_SSHD} {'kept (existed before)' if run_sshd_existed else 'removed (we created it)'}")
    stray = []
    for x in os.listdir("/proc"):
        if x.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{x}/cmdline", "rb") as f:
                    if base.encode() in f.read():
                        stray.append(int(x))
    check(not stray, f"no process refers to the workdir {stray}")
    check(os.stat(base).st_mode & 0o7777 == 0o700, f"mode of {base} restored to 0700")
    shutil.rmtree(base)
    check(not os.path.exists(base), "temp folder removed")
    el = time.monotonic() - t_start
    check(el < 180, f"self-test took {el:.1f} s")
    print(f"SELFTEST {'PASSED' if not failures else 'FAILED: ' + '; '.join(failures)}")
    return 0 if not failures else 1


if __name__ == "__main__":
    if "--selftest" in sys.argv[1:]:
        sys.exit(selftest())
    print(__doc__)
    print("usage: python3 bench/lib/peers.py --selftest   (as root)")
