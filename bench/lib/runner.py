"""bench/run: Ferry side by side with raw loopback TCP, vsftpd (FTP, FTPS) and OpenSSH sftp, in one run.

Every figure is the median of several runs, reported beside a reference measured in the same run; the targets are
ratios between the two, so a noisy machine moves both sides together.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import socket
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.join(ROOT, "build", "bin")
RESULTS = os.path.join(ROOT, "bench", "results")
sys.path.insert(0, HERE)

from ferry_server import FerryServer, PASSWORD, USER  # noqa: E402
import peers  # noqa: E402
from peers import same_tree  # noqa: E402

MiB = 1 << 20


class Figures:
    """The run's records: one per (scenario, system, measure), with every sample kept."""

    def __init__(self):
        self.records = []

    def add(self, scenario, system, measure, unit, samples, higher_is_better=True, note=""):
        samples = [float(s) for s in samples]
        record = {
            "scenario": scenario, "system": system, "measure": measure, "unit": unit,
            "value": statistics.median(samples), "runs": len(samples), "min": min(samples),
            "median": statistics.median(samples), "max": max(samples), "samples": samples,
            "higher_is_better": higher_is_better,
        }
        if note:
            record["note"] = note
        self.records.append(record)
        print(f"  {scenario:<11} {system:<34} {measure:<24} {record['value']:>12.4g} {unit}", flush=True)
        return record

    def get(self, scenario, system, measure):
        for record in self.records:
            if (record["scenario"], record["system"], record["measure"]) == (scenario, system, measure):
                return record["value"]
        return None


def repeat(runs, fn, warmup=True):
    """Runs fn `runs` times (after one untimed warm-up) and returns its results."""
    if warmup:
        fn()
    return [fn() for _ in range(runs)]


def interleave(runs, fns):
    """Runs each of `fns` once untimed, then `runs` rounds of all of them, and returns each one's results. Rounds go
    in pairs, one order and then its reverse (ABBA for two systems, as alternate()), each pair rotated by one: every
    system sees the same minutes of a machine whose speed drifts, and none is always first or last."""
    for fn in fns:
        fn()
    results = [[] for _ in fns]
    for r in range(runs):
        shift = (r // 2) % len(fns)
        order = list(range(len(fns)))
        order = order[shift:] + order[:shift]
        if r % 2 == 1:
            order.reverse()
        for i in order:
            results[i].append(fns[i]())
    return results


def alternate(runs, first, second, warmup=True):
    """Runs two systems' measurements in turn (after one untimed warm-up of each), swapping which goes first every
    round (ABBA), and returns both lists of results. On a VM whose speed drifts over minutes, or where the first
    write after memory was freed pays for getting it back from the host, whichever system runs first or in a slow
    minute would otherwise carry it alone; in turn, both see the same machine."""
    if warmup:
        first()
        second()
    a, b = [], []
    for i in range(runs):
        if i % 2 == 0:
            a.append(first())
            b.append(second())
        else:
            b.append(second())
            a.append(first())
    return a, b


def make_file(path, size):
    """A file of `size` pseudo-random bytes (incompressible, so no layer can cheat)."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    block = os.urandom(MiB)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            chunk = block[: min(left, MiB)]
            out.write(chunk)
            left -= len(chunk)
            block = block[1:] + block[:1]


def make_tree(path, files, size):
    """`files` files of `size` bytes in folders of 100, as a tree of projects tends to be."""
    for i in range(files):
        folder = os.path.join(path, f"d{i // 100:03d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"f{i:05d}.bin"), "wb") as out:
            out.write(os.urandom(size))


def warm(path):
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)


def link_into(source, home, name):
    target = os.path.join(home, name)
    if not os.path.exists(target):
        os.link(source, target)


class FerryFtp(peers.Peers):
    """The stock FTP clients the peers are measured with (curl, lftp, ftplib), pointed at Ferry's FTP front end:
    plain FTP on the --plain server, explicit FTPS on the TLS one. Starts nothing itself."""

    def __init__(self, plain, tls, workdir):  # noqa: super().__init__ would set up daemons of its own
        self.user, self.password = USER, PASSWORD
        self.ftp_port, self.ftps_port = plain.ftp_port, tls.ftp_port
        self.home = self.data_dir = plain.home  # plain FTP's home (lftp mirrors, concurrent downloads)
        self.rundir = os.path.join(workdir, "run")
        self.client_home = os.path.join(workdir, "client-home")
        os.makedirs(self.rundir, exist_ok=True)
        os.makedirs(self.client_home, exist_ok=True)
        self._lock = threading.Lock()
        self._batch_seq = 0
        self._client_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.client_home, "LANG": "C",
                            "LC_ALL": "C"}


class FerrySftp(peers.Peers):
    """OpenSSH's own clients (sftp, ssh, rsync -e ssh) the sshd peer is measured with, pointed at Ferry's SSH front
    end with the server's bench key. Starts nothing itself."""

    def __init__(self, server, workdir):  # noqa: super().__init__ would set up daemons of its own
        self.user, self.password = USER, PASSWORD
        self.ssh_port = server.sftp_port
        self.client_key = server.client_key
        self.home = self.data_dir = server.home
        self.rundir = os.path.join(workdir, "run")
        self.client_home = os.path.join(workdir, "client-home")
        os.makedirs(self.rundir, exist_ok=True)
        os.makedirs(self.client_home, exist_ok=True)
        self._lock = threading.Lock()
        self._batch_seq = 0
        self._client_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.client_home, "LANG": "C",
                            "LC_ALL": "C"}


def ssh_idle_kib(server, client, count, limit=120.0):
    """Server PSS per idle SFTP session, in KiB: `count` OpenSSH sftp clients logged in (with the bench key) and
    waiting at their prompt, counted by the server's audit log."""
    audit = os.path.join(server.root, "audit.log")

    def logins():
        with open(audit) as lines:
            return sum(1 for line in lines if '"event":"login"' in line and '"protocol":"sftp"' in line)

    argv = ["sftp", "-q", "-P", str(client.ssh_port)] + client.ssh_options() + [client._dest()]
    client._timed(client.sftp_argv(client._batch(["ls"])), 60, "sftp ls")  # one-time allocations in the baseline
    base = logins()
    before = server.pss_kib()
    procs = []
    deadline = time.monotonic() + limit
    try:
        for start in range(0, count, 25):
            for _ in range(min(25, count - start)):
                procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, env=client._client_env))
            while logins() - base < len(procs):
                if any(q.poll() is not None for q in procs):
                    raise RuntimeError("an idle sftp client exited early")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {logins() - base} of {len(procs)} SFTP sessions up after {limit}s")
                time.sleep(0.05)
        time.sleep(0.5)  # let the server settle after the last login (measurement only, not readiness)
        return (server.pss_kib() - before) / count
    finally:
        for q in procs:
            with contextlib.suppress(OSError):
                q.stdin.close()
        for q in procs:
            try:
                q.wait(timeout=30)
            except subprocess.TimeoutExpired:
                q.kill()
                q.wait()


def ftp_idle_kib(server, count):
    """Server PSS per idle logged-in plain FTP session, in KiB: `count` control connections each logged in."""
    def login():
        conn = socket.create_connection(("127.0.0.1", server.ftp_port), timeout=30)
        reader = conn.makefile("rb")

        def reply():
            line = reader.readline()
            while line[3:4] == b"-":
                line = reader.readline()
            return line

        reply()
        conn.sendall(f"USER {USER}\r\n".encode())
        reply()
        conn.sendall(f"PASS {PASSWORD}\r\n".encode())
        if not reply().startswith(b"230"):
            raise RuntimeError("ferry FTP login failed")
        return conn, reader

    first = login()  # what every server allocates once (the FTP path, TLS contexts) goes into the baseline
    before = server.pss_kib()
    held = [login() for _ in range(count)]
    time.sleep(0.5)  # let the server settle after the last login (measurement only, not readiness)
    per = (server.pss_kib() - before) / count
    for conn, reader in held + [first]:
        reader.close()
        conn.close()
    return per


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.runs = args.runs or 3
        self.figures = Figures()
        self.work = tempfile.mkdtemp(prefix="ferry-bench-", dir=args.workdir)
        self.data = os.path.join(self.work, "data")
        os.makedirs(self.data)
        self.large_size = (128 if self.quick else 1024) * MiB
        self.small_files = 1000 if self.quick else 10000
        self.clients = 20 if self.quick else 100
        self.idle_ferry = 100 if self.quick else 1000
        self.idle_peers = 30 if self.quick else 200
        self.latency_count = 1000 if self.quick else 10000
        self.logins = 5 if self.quick else 30
        self.peers = None
        self.ferry_ftp = None  # stock FTP clients on Ferry's FTP front end, when curl and lftp are installed
        self.ferry_sftp = None  # OpenSSH's clients on Ferry's SSH front end
        self.servers = {}

    # ---- set-up -------------------------------------------------------------------------------------------------

    def prepare_data(self):
        print(f"data in {self.data}", flush=True)
        self.large = os.path.join(self.data, "large.bin")
        make_file(self.large, self.large_size)
        self.medium = os.path.join(self.data, "c20.bin")
        make_file(self.medium, 20 * MiB)
        # The session set-up probe: a file so small that fetching it costs everything but the bytes. (Not empty:
        # curl over FTPS waits a second for the data connection's TLS close when a download is empty.)
        self.tiny = os.path.join(self.data, "tiny.bin")
        make_file(self.tiny, 1024)
        self.tree = os.path.join(self.data, "tree")
        make_tree(self.tree, self.small_files, 4096)
        warm(self.large)

    def start_ferry(self):
        # "tls" and "plain" run the default configuration; "argon2" is TLS with the verified-password cache off, so
        # that every login pays for argon2id (reported beside the default in the login and concurrent scenarios).
        for name, tls, extra in (("plain", False, ""), ("tls", True, ""),
                                 ("argon2", True, "\n[auth]\npassword_cache_seconds = 0\n")):
            server = FerryServer(BIN, os.path.join(self.work, f"ferry-{name}"),
                                 os.path.join(self.work, f"client-{name}"), tls, extra,
                                 ftp=name in ("plain", "tls"), sftp=name == "tls").start()
            link_into(self.large, server.home, "large.bin")
            link_into(self.medium, server.home, "c20.bin")
            link_into(self.tiny, server.home, "tiny.bin")
            if name in ("tls", "plain"):  # plain: the tree lftp mirrors over Ferry's FTP
                shutil.copytree(self.tree, os.path.join(server.home, "tree"))
            self.servers[name] = server
        if shutil.which("curl") and shutil.which("lftp"):
            self.ferry_ftp = FerryFtp(self.servers["plain"], self.servers["tls"], os.path.join(self.work, "ferry-ftp"))
        if shutil.which("sftp") and shutil.which("rsync"):
            self.ferry_sftp = FerrySftp(self.servers["tls"], os.path.join(self.work, "ferry-sftp"))

    def start_peers(self):
        if self.args.ferry_only:
            return
        peers.install_packages()
        self.peers = peers.Peers(os.path.join(self.work, "peers"), self.data)
        self.peers.start()

    def stop(self):
        for server in self.servers.values():
            server.stop()
        if self.peers:
            self.peers.stop()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    # ---- scenarios ----------------------------------------------------------------------------------------------

    def rate(self, seconds, size=None):
        return (size or self.large_size) / MiB / seconds

    def add_transfer(self, label, measure, seconds, setups):
        """Records one direction twice: end to end (the client process's wall time, session set-up included) and
        the transfer rate, which leaves out the median of the same system's `setups` (whole sessions that move no
        bytes: connect, handshake, login and a tiny transfer, measured in this run), as the raw TCP stream leaves out
        its connect. For curl (peers.CurlTiming) both sides are first cut at curl's time_pretransfer, each run and
        each set-up session at its own: curl 7.88 sometimes waits 200 ms before it connects a passive data
        connection, in some runs and not in others, so what is left out is the rest of a session (process start and
        exit, the tiny file, the 226 reply and QUIT)."""
        f = self.figures
        f.add("large", label, f"{measure}, end to end", "MiB/s", [self.rate(s) for s in seconds])
        setup = statistics.median(setups)
        net, note = seconds, ""
        if all(isinstance(s, peers.CurlTiming) for s in list(seconds) + list(setups)):
            setup = statistics.median(s - s.setup for s in setups)
            net = [s - s.setup for s in seconds]
            note = "each run and set-up session cut at curl's time_pretransfer"
        if all(s > 2 * setup for s in net):
            f.add("large", label, measure, "MiB/s", [self.rate(s - setup) for s in net], note=note)
        else:  # the file is too small beside the set-up for the difference to mean anything
            f.add("large", label, measure, "MiB/s", [self.rate(s) for s in seconds],
                  note="set-up not subtracted: it exceeds half the transfer")

    def setup_time(self, label, fn):
        """Wall times of whole sessions that move no bytes (the fixed cost beside each transfer), recorded by their
        median."""
        samples = repeat(max(self.runs, 5), fn)
        self.figures.add("large", label, "session set-up", "ms", [s * 1e3 for s in samples], False)
        return samples

    def scenario_large(self):
        print("large: one file, download to /dev/null and upload", flush=True)
        f = self.figures
        raw = repeat(self.runs, lambda: json.loads(subprocess.run(
            [os.path.join(BIN, "ferry_raw_tcp"), "stream", self.large], capture_output=True, text=True,
            check=True, timeout=600).stdout)["seconds"])
        f.add("large", "raw TCP (sendfile -> 1 MiB reads)", "transfer", "MiB/s", [self.rate(s) for s in raw])
        if shutil.which("iperf3"):
            f.add("large", "iperf3 (1 stream)", "transfer", "MiB/s", self.iperf3())
        for name in ("plain", "tls"):
            server = self.servers[name]
            label = f"ferry ({'TLS 1.3' if server.tls else '--plain'})"
            setups = self.setup_time(label, lambda: server.client("get", "tiny.bin", "/dev/null"))
            down = repeat(self.runs, lambda: server.client("get", "large.bin", "/dev/null"))
            self.add_transfer(label, "download", down, setups)
            up = []
            for _ in range(self.runs + 1):
                up.append(server.client("put", self.large, "upload.bin"))
                os.remove(os.path.join(server.home, "upload.bin"))
            self.add_transfer(label, "upload", up[1:], setups)
        def fresh_upload(upload, home):
            """Times `upload` of the large file as upload.bin in `home`, then removes it (untimed): every upload
            makes a new file, as Ferry's own above do. A server that truncates the file it replaces (vsftpd) would
            otherwise write into pages just freed while one that publishes a complete copy over it (Ferry) needs
            fresh ones, and on a VM that is a matter of the host's memory, not of the server."""
            def run():
                seconds = upload()
                os.remove(os.path.join(home, "upload.bin"))
                return seconds
            return run

        def curl_clients(prefix, c, ftp_home, ftps_home):
            """FTP and FTPS with curl through the client set `c` (Ferry's FTP front end or vsftpd)."""
            return [(f"{prefix} FTP (curl)", lambda: c.ftp_download("tiny.bin", "/dev/null"),
                     lambda: c.ftp_download("large.bin", "/dev/null"),
                     fresh_upload(lambda: c.ftp_upload(self.large, "upload.bin"), ftp_home)),
                    (f"{prefix} FTPS TLS 1.3 (curl)", lambda: c.ftps_download("tiny.bin", "/dev/null"),
                     lambda: c.ftps_download("large.bin", "/dev/null"),
                     fresh_upload(lambda: c.ftps_upload(self.large, "upload.bin"), ftps_home))]

        gcm = "aes128-gcm@openssh.com"

        def sftp_clients(prefix, c):
            """OpenSSH's sftp at the default cipher and at AES-128-GCM (Ferry's SSH front end, or sshd)."""
            return [(f"{prefix}sftp (default cipher)", lambda: c.sftp_download("tiny.bin", "/dev/null"),
                     lambda: c.sftp_download("large.bin", "/dev/null"),
                     fresh_upload(lambda: c.sftp_upload(self.large, "upload.bin"), c.home)),
                    (f"{prefix}sftp (aes128-gcm)", lambda: c.sftp_download("tiny.bin", "/dev/null", cipher=gcm),
                     lambda: c.sftp_download("large.bin", "/dev/null", cipher=gcm),
                     fresh_upload(lambda: c.sftp_upload(self.large, "upload.bin", cipher=gcm), c.home))]

        # Ferry's front ends and the servers they are compared with run in turn, with the same clients (see
        # alternate()); a system without its counterpart in this run is timed alone.
        mine = (curl_clients("ferry", self.ferry_ftp, self.servers["plain"].home, self.servers["tls"].home)
                if self.ferry_ftp else [])
        if self.ferry_sftp:
            mine += sftp_clients("ferry SSH: ", self.ferry_sftp)
        theirs = ((curl_clients("vsftpd", self.peers, self.peers.home, self.peers.home) + sftp_clients("", self.peers))
                  if self.peers else [])
        pairs = []
        for kind in ("FTP (curl)", "FTPS TLS 1.3 (curl)", "sftp (default cipher)", "sftp (aes128-gcm)"):
            a = next((c for c in mine if c[0].endswith(kind)), None)
            b = next((c for c in theirs if c[0].endswith(kind)), None)
            if a or b:
                pairs.append((a, b))
        for a, b in pairs:
            if a and b:
                setups = alternate(max(self.runs, 5), a[1], b[1])
                for (label, *_), samples in zip((a, b), setups):
                    self.figures.add("large", label, "session set-up", "ms", [s * 1e3 for s in samples], False)
                for measure, index in (("download", 2), ("upload", 3)):
                    times_a, times_b = alternate(self.runs, a[index], b[index])
                    self.add_transfer(a[0], measure, times_a, setups[0])
                    self.add_transfer(b[0], measure, times_b, setups[1])
            else:
                label, empty, down, up = a or b
                setups = self.setup_time(label, empty)
                self.add_transfer(label, "download", repeat(self.runs, down), setups)
                self.add_transfer(label, "upload", repeat(self.runs, up), setups)

    def iperf3(self):
        """iperf3's single-stream loopback rate; the server takes one test at a time, so a busy answer is retried."""
        port = free_port()
        server = subprocess.Popen(["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            rates, attempts = [], 0
            while len(rates) < self.runs:
                attempts += 1
                if attempts > self.runs + 50:
                    raise RuntimeError("iperf3 kept failing")
                result = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", "3", "-J"],
                                        capture_output=True, text=True, timeout=60)
                try:
                    report = json.loads(result.stdout)
                    rates.append(report["end"]["sum_received"]["bits_per_second"] / 8 / MiB)
                except (ValueError, KeyError):
                    time.sleep(0.1)  # not listening yet, or still busy with the previous test
            return rates
        finally:
            server.terminate()
            server.wait(timeout=30)

    def scenario_small(self):
        print(f"small: {self.small_files} files of 4 KiB, get -r and put -r", flush=True)
        f = self.figures
        n = self.small_files
        server = self.servers["tls"]
        # Every run writes a tree of a new name, and the trees are removed only when every system has run: deleting
        # 10,000 files just before the next run would make the file system skip their recently freed inodes while
        # allocating new ones (ext4 does so for a minute), which costs whichever system runs next, not the system.
        made = []

        def fresh(parent, stem):
            path = os.path.join(parent, f"{stem}-{len(made)}")
            made.append(path)
            return path

        try:
            # (label, download, upload, the home uploads land in); Ferry's own client first.
            systems = [("ferry (TLS 1.3)", lambda remote, local: server.client("get", "-r", remote, local),
                        lambda tree, name: server.client("put", "-r", tree, name), server.home)]
            if self.ferry_ftp:
                e = self.ferry_ftp
                systems.append(("ferry FTP, lftp mirror", e.lftp_mirror_download, e.lftp_mirror_upload, e.home))
            if self.ferry_sftp:
                e = self.ferry_sftp
                systems += [("ferry SSH: sftp -r", e.sftp_get_tree, e.sftp_put_tree, e.home),
                            ("ferry SSH: rsync -a over ssh", e.rsync_download, e.rsync_upload, e.home)]
            if self.peers:
                p = self.peers
                systems += [
                    ("rsync -a over ssh", p.rsync_download, p.rsync_upload, self.data),
                    ("lftp mirror (FTP)", p.lftp_mirror_download, p.lftp_mirror_upload, self.data),
                    ("sftp -r", p.sftp_get_tree, p.sftp_put_tree, self.data),
                ]
            last = [{} for _ in systems]  # the tree each system's latest run made

            def get_once(i):
                def run():
                    last[i]["get"] = fresh(self.work, "small-out")
                    return systems[i][1]("tree", last[i]["get"])
                return run

            def put_once(i):
                def run():
                    last[i]["put"] = fresh(systems[i][3], "tree-up")
                    return systems[i][2](self.tree, os.path.basename(last[i]["put"]))
                return run

            # Every system's runs in turn, round after round (see interleave): a first copy writes 10,000 files, and
            # on a VM the speed of that moves by a third or more from one minute to the next.
            get_times = interleave(self.runs, [get_once(i) for i in range(len(systems))])
            put_times = interleave(self.runs, [put_once(i) for i in range(len(systems))])

            def add(i):
                label = systems[i][0]
                f.add("small", label, "get -r", "files/s", [n / s for s in get_times[i]],
                      note="" if same_tree(self.tree, last[i]["get"]) else "RESULT DIFFERS")
                f.add("small", label, "put -r", "files/s", [n / s for s in put_times[i]],
                      note="" if same_tree(self.tree, last[i]["put"]) else "RESULT DIFFERS")

            add(0)
            # put -r again of a tree the destination already holds unchanged: Ferry compares and sends nothing, as
            # rsync does. The untimed warm-up run makes the copy; the timed runs are the no-ops.
            ferry_noop_dir = os.path.basename(fresh(server.home, "noop"))
            tree_name = os.path.basename(self.tree.rstrip("/"))

            def ferry_noop():
                return server.client("put", "-r", self.tree, ferry_noop_dir + "/")

            # The two no-ops (each a tenth of a second or less for Ferry) run in turn, so both see the same minute.
            if self.peers:
                rsync_noop_dir = os.path.basename(fresh(self.data, "noop"))
                noop_times, rsync_times = alternate(self.runs, ferry_noop,
                                                    lambda: self.peers.rsync_upload(self.tree, rsync_noop_dir))
            else:
                noop_times = repeat(self.runs, ferry_noop)
            f.add("small", "ferry (TLS 1.3)", "put -r unchanged", "files/s", [n / s for s in noop_times],
                  note="" if same_tree(self.tree, os.path.join(server.home, ferry_noop_dir, tree_name))
                  else "RESULT DIFFERS")
            if self.peers:
                f.add("small", "rsync -a over ssh", "put -r unchanged", "files/s", [n / s for s in rsync_times],
                      note="" if same_tree(self.tree, os.path.join(self.data, rsync_noop_dir)) else "RESULT DIFFERS")
            for i in range(1, len(systems)):
                add(i)
        finally:
            for path in made:
                shutil.rmtree(path, ignore_errors=True)

    def scenario_concurrent(self):
        print(f"concurrent: {self.clients} clients at once, each logging in and downloading 20 MiB", flush=True)
        f = self.figures
        for name, label in (("tls", "ferry (TLS 1.3)"), ("argon2", "ferry (TLS 1.3, argon2id every login)")):
            server = self.servers[name]
            aggregate, slowest = [], []
            for _ in range(self.runs):
                starts, procs = [], []
                for _ in range(self.clients):
                    starts.append(time.perf_counter())
                    procs.append(subprocess.Popen(server.client_args("get", "c20.bin", "/dev/null"),
                                                  env=server.env(), stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL))
                ends = [None] * len(procs)
                while any(e is None for e in ends):
                    for i, proc in enumerate(procs):
                        if ends[i] is None and proc.poll() is not None:
                            ends[i] = time.perf_counter()
                            if proc.returncode != 0:
                                raise RuntimeError("a concurrent ferry client failed")
                    time.sleep(0.002)
                rates = [20 / (e - s) for s, e in zip(starts, ends)]
                aggregate.append(20 * self.clients / (max(ends) - min(starts)))
                slowest.append(min(rates) / statistics.mean(rates))
            f.add("concurrent", label, "aggregate", "MiB/s", aggregate)
            f.add("concurrent", label, "slowest / mean", "ratio", slowest)
        others = []  # (client set, kind, label)
        if self.ferry_ftp:
            others.append((self.ferry_ftp, "ftp", "ferry FTP (curl)"))
        if self.ferry_sftp:
            others.append((self.ferry_sftp, "sftp", "ferry SSH: sftp (default cipher)"))
        if self.peers:
            others += [(self.peers, "ftp", "vsftpd FTP (curl)"), (self.peers, "sftp", "sftp (default cipher)")]
        if others:
            for client_set, kind, label in others:
                agg, slow = [], []
                for _ in range(self.runs):
                    total, per_client = client_set.concurrent_downloads(kind, self.clients, "c20.bin")
                    agg.append(total)
                    slow.append(min(per_client) / statistics.mean(per_client))
                f.add("concurrent", label, "aggregate", "MiB/s", agg)
                f.add("concurrent", label, "slowest / mean", "ratio", slow)

    def scenario_latency(self):
        n = self.latency_count
        print(f"latency: {n} small requests in a row on one session", flush=True)
        f = self.figures
        raw = repeat(self.runs, lambda: json.loads(subprocess.run(
            [os.path.join(BIN, "ferry_raw_tcp"), "pingpong", "128", str(n)], capture_output=True, text=True,
            check=True, timeout=600).stdout)["seconds"])
        f.add("latency", "raw TCP ping-pong (128 bytes)", "round trip", "us", [s / n * 1e6 for s in raw], False)
        for name in ("plain", "tls"):
            server = self.servers[name]
            label = f"ferry stat ({'TLS 1.3' if server.tls else '--plain'})"
            times = repeat(self.runs, lambda: server.load("rtt", n)["seconds"])
            f.add("latency", label, "round trip", "us", [s / n * 1e6 for s in times], False)
        if self.ferry_ftp and self.peers:
            mine, theirs = alternate(self.runs, lambda: self.ferry_ftp.ftp_noop_rtt(n),
                                     lambda: self.peers.ftp_noop_rtt(n))
            f.add("latency", "ferry FTP NOOP", "round trip", "us", [s * 1e6 for s in mine], False)
            f.add("latency", "vsftpd FTP NOOP", "round trip", "us", [s * 1e6 for s in theirs], False)
        elif self.ferry_ftp:
            f.add("latency", "ferry FTP NOOP", "round trip", "us",
                  [s * 1e6 for s in repeat(self.runs, lambda: self.ferry_ftp.ftp_noop_rtt(n))], False)
        if self.peers:
            if not self.ferry_ftp:
                f.add("latency", "vsftpd FTP NOOP", "round trip", "us",
                      [s * 1e6 for s in repeat(self.runs, lambda: self.peers.ftp_noop_rtt(n))], False)
            f.add("latency", "sftp STAT", "round trip", "us",
                  [s * 1e6 for s in repeat(self.runs, lambda: self.peers.sftp_stat_rtt(n))], False)

    def scenario_idle(self):
        print(f"idle memory: server PSS per idle logged-in connection", flush=True)
        f = self.figures
        samples = []
        for run in range(self.runs):
            # A fresh server each time: one that has served the other scenarios holds freed memory that new sessions
            # reuse without growing, which would hide their cost. One session first, so that what every server
            # allocates once (TLS, the login workers, the user store) is in the baseline.
            with FerryServer(BIN, os.path.join(self.work, f"ferry-idle-{run}"),
                             os.path.join(self.work, f"client-idle-{run}"), True) as server:
                server.client("ls")
                before = server.pss_kib()
                args = [os.path.join(BIN, "ferry_load"), "idle", "--tls", server.address, "bench",
                        str(self.idle_ferry)]
                holder = subprocess.Popen(args, env=server.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True)
                line = holder.stdout.readline()
                if not line.startswith("{"):
                    holder.kill()
                    raise RuntimeError("ferry_load idle failed")
                time.sleep(0.5)  # let the server settle after the last login (measurement only, not readiness)
                samples.append((server.pss_kib() - before) / self.idle_ferry)
                holder.stdin.close()
                holder.wait(timeout=120)
        f.add("idle", f"ferry (TLS 1.3), {self.idle_ferry} sessions", "PSS per connection", "KiB", samples, False)
        samples = []
        for run in range(self.runs):
            with FerryServer(BIN, os.path.join(self.work, f"ferry-idle-ftp-{run}"),
                             os.path.join(self.work, f"client-idle-ftp-{run}"), False, ftp=True) as server:
                samples.append(ftp_idle_kib(server, self.idle_peers))
        f.add("idle", f"ferry FTP, {self.idle_peers} sessions", "PSS per connection", "KiB", samples, False)
        if shutil.which("sftp"):
            samples = []
            for run in range(self.runs):
                with FerryServer(BIN, os.path.join(self.work, f"ferry-idle-ssh-{run}"),
                                 os.path.join(self.work, f"client-idle-ssh-{run}"), True, sftp=True) as server:
                    samples.append(ssh_idle_kib(server, FerrySftp(server, os.path.join(self.work, f"ssh-idle-{run}")),
                                                self.idle_peers))
            f.add("idle", f"ferry SSH, {self.idle_peers} sessions", "PSS per connection", "KiB", samples, False)
        if self.peers:
            for kind, label in (("ftp", "vsftpd FTP"), ("sftp", "sshd + sftp-server")):
                samples = [self.peers.idle_sessions(kind, self.idle_peers) for _ in range(self.runs)]
                f.add("idle", f"{label}, {self.idle_peers} sessions", "PSS per connection", "KiB", samples, False)

    def scenario_login(self):
        print("login: connect + TLS + login + quit", flush=True)
        f = self.figures
        n = self.logins
        for name, label in (("plain", "ferry (--plain), repeat login (verified-password cache)"),
                            ("tls", "ferry (TLS 1.3), repeat login (verified-password cache)"),
                            ("argon2", "ferry (TLS 1.3), argon2id 64 MiB x 2 passes every login")):
            server = self.servers[name]
            times = repeat(self.runs, lambda: server.load("logins", n)["seconds"])
            f.add("login", label, "logins", "per second", [n / s for s in times])
        if self.peers:
            p = self.peers
            f.add("login", "vsftpd FTP", "logins", "per second", repeat(self.runs, lambda: p.ftp_logins(n)))
            f.add("login", "vsftpd FTPS", "logins", "per second", repeat(self.runs, lambda: p.ftps_logins(n)))
            f.add("login", "ssh (ed25519 key)", "logins", "per second", repeat(self.runs, lambda: p.ssh_logins(n)))

    def scenario_micro(self):
        print("micro: Google Benchmark hot paths", flush=True)
        result = subprocess.run([os.path.join(BIN, "ferry_micro_bench"), "--benchmark_format=json",
                                 f"--benchmark_min_time={0.02 if self.quick else 0.3}",
                                 f"--benchmark_repetitions={self.runs}", "--benchmark_report_aggregates_only=true"],
                                capture_output=True, text=True, check=True, timeout=900)
        entries = json.loads(result.stdout)["benchmarks"]
        # With repetitions, the median aggregate of each; with one run, the run itself.
        medians = [e for e in entries if e.get("aggregate_name") == "median"] or entries
        for entry in medians:
            if entry.get("error_occurred"):
                raise RuntimeError(f"micro-benchmark {entry['run_name']} failed: {entry.get('error_message')}")
            if "bytes_per_second" in entry:
                value, unit, higher = entry["bytes_per_second"] / MiB, "MiB/s", True
            elif "items_per_second" in entry:
                value, unit, higher = entry["items_per_second"] / 1e6, "M items/s", True
            else:
                value, unit, higher = entry["real_time"], entry["time_unit"], False
            self.figures.add("micro", entry["run_name"], "median of runs", unit, [value], higher)

    # ---- report -------------------------------------------------------------------------------------------------

    def targets(self):
        """The issue's targets as same-run ratios: (description, ratio, required, met)."""
        g = self.figures.get
        rows = []

        def ratio(what, a, b, need, at_most=False):
            if a is None or b is None or b == 0:
                return
            value = a / b
            rows.append((what, value, need, value <= need if at_most else value >= need, at_most))

        raw = g("large", "raw TCP (sendfile -> 1 MiB reads)", "transfer")
        ratio("large download --plain / raw TCP", g("large", "ferry (--plain)", "download"), raw, 0.9)
        ratio("large upload --plain / raw TCP", g("large", "ferry (--plain)", "upload"), raw, 0.8)
        tls_down, tls_up = g("large", "ferry (TLS 1.3)", "download"), g("large", "ferry (TLS 1.3)", "upload")
        ratio("large download TLS / sftp default", tls_down, g("large", "sftp (default cipher)", "download"), 2.0)
        ratio("large download TLS / FTPS", tls_down, g("large", "vsftpd FTPS TLS 1.3 (curl)", "download"), 1.0)
        ratio("large upload TLS / FTPS", tls_up, g("large", "vsftpd FTPS TLS 1.3 (curl)", "upload"), 3.0)
        ratio("large upload TLS / sftp default", tls_up, g("large", "sftp (default cipher)", "upload"), 3.0)
        ratio("small put -r unchanged / rsync's no-op", g("small", "ferry (TLS 1.3)", "put -r unchanged"),
              g("small", "rsync -a over ssh", "put -r unchanged"), 5.0)
        for op in ("get -r", "put -r"):
            mine = g("small", "ferry (TLS 1.3)", op)
            ratio(f"small {op} / rsync over ssh", mine, g("small", "rsync -a over ssh", op), 1.0)
            ratio(f"small {op} / sftp -r", mine, g("small", "sftp -r", op), 5.0)
            ratio(f"small {op} / lftp mirror", mine, g("small", "lftp mirror (FTP)", op), 5.0)
        ratio("concurrent aggregate / vsftpd FTP", g("concurrent", "ferry (TLS 1.3)", "aggregate"),
              g("concurrent", "vsftpd FTP (curl)", "aggregate"), 1.0)
        slowest = g("concurrent", "ferry (TLS 1.3)", "slowest / mean")
        if slowest is not None:
            rows.append(("concurrent slowest client / mean", slowest, 0.5, slowest >= 0.5, False))
        ratio("latency --plain / raw TCP ping-pong", g("latency", "ferry stat (--plain)", "round trip"),
              g("latency", "raw TCP ping-pong (128 bytes)", "round trip"), 1.5, at_most=True)
        ratio("latency TLS / raw TCP ping-pong", g("latency", "ferry stat (TLS 1.3)", "round trip"),
              g("latency", "raw TCP ping-pong (128 bytes)", "round trip"), 1.5, at_most=True)
        idle = g("idle", f"ferry (TLS 1.3), {self.idle_ferry} sessions", "PSS per connection")
        if idle is not None:
            rows.append(("idle memory per connection (KiB)", idle, 64, idle <= 64, True))
        # The FTP front end against vsftpd, with the same clients.
        for op in ("download", "upload"):
            ratio(f"FTP large {op} / vsftpd FTP", g("large", "ferry FTP (curl)", op),
                  g("large", "vsftpd FTP (curl)", op), 1.0)
        ratio("FTPS large download / vsftpd FTPS", g("large", "ferry FTPS TLS 1.3 (curl)", "download"),
              g("large", "vsftpd FTPS TLS 1.3 (curl)", "download"), 1.5)
        ratio("FTPS large upload / vsftpd FTPS", g("large", "ferry FTPS TLS 1.3 (curl)", "upload"),
              g("large", "vsftpd FTPS TLS 1.3 (curl)", "upload"), 3.0)
        for op in ("get -r", "put -r"):
            ratio(f"FTP small {op} (lftp mirror) / vsftpd", g("small", "ferry FTP, lftp mirror", op),
                  g("small", "lftp mirror (FTP)", op), 1.0)
        ratio("FTP concurrent aggregate / vsftpd FTP", g("concurrent", "ferry FTP (curl)", "aggregate"),
              g("concurrent", "vsftpd FTP (curl)", "aggregate"), 1.0)
        ratio("FTP NOOP latency / vsftpd", g("latency", "ferry FTP NOOP", "round trip"),
              g("latency", "vsftpd FTP NOOP", "round trip"), 1.0, at_most=True)
        idle_ftp = g("idle", f"ferry FTP, {self.idle_peers} sessions", "PSS per connection")
        if idle_ftp is not None:
            rows.append(("idle memory per FTP session (KiB)", idle_ftp, 64, idle_ftp <= 64, True))
        # The SSH front end against sshd + sftp-server, with the same OpenSSH clients and ciphers.
        for cipher in ("default cipher", "aes128-gcm"):
            for op in ("download", "upload"):
                ratio(f"SFTP large {op} ({cipher}) / sshd", g("large", f"ferry SSH: sftp ({cipher})", op),
                      g("large", f"sftp ({cipher})", op), 1.0)
        for op in ("get -r", "put -r"):
            ratio(f"SFTP small {op} (sftp -r) / sshd", g("small", "ferry SSH: sftp -r", op),
                  g("small", "sftp -r", op), 1.0)
            ratio(f"SSH small {op} (rsync over ssh) / sshd", g("small", "ferry SSH: rsync -a over ssh", op),
                  g("small", "rsync -a over ssh", op), 1.0)
        idle_ssh = g("idle", f"ferry SSH, {self.idle_peers} sessions", "PSS per connection")
        if idle_ssh is not None:
            rows.append(("idle memory per SSH session (KiB)", idle_ssh, 256, idle_ssh <= 256, True))
        return rows

    def write(self):
        os.makedirs(RESULTS, exist_ok=True)
        # A partial run (--only, --ferry-only) must not replace the last complete table.
        stem = "partial" if self.args.only or self.args.ferry_only else "latest"
        machine = machine_description()
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        targets = self.targets()
        document = {
            "when": when, "machine": machine, "quick": self.quick, "runs": self.runs,
            "records": self.figures.records,
            "targets": [{"target": t, "ratio": r, "required": n, "at_most": m, "met": ok}
                        for t, r, n, ok, m in targets],
        }
        with open(os.path.join(RESULTS, f"{stem}.json"), "w") as out:
            json.dump(document, out, indent=1)
        lines = [f"# Ferry benchmarks, {when}{' (quick)' if self.quick else ''}", "",
                 f"Machine: {machine}. Median of {self.runs} runs after a warm-up; loopback only; page cache warm.",
                 "", "## Targets (same-run ratios)", "", "| target | ratio | required | met |", "| --- | --- | --- | --- |"]
        for t, r, n, ok, at_most in targets:
            lines.append(f"| {t} | {r:.2f} | {'≤' if at_most else '≥'} {n:g} | {'yes' if ok else '**no**'} |")
        lines += ["", "## Figures", "", "| scenario | system | measure | median | min | max | unit | runs |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in self.figures.records:
            note = f" ({r['note']})" if r.get("note") else ""
            lines.append(f"| {r['scenario']} | {r['system']}{note} | {r['measure']} | {r['median']:.4g} | "
                         f"{r['min']:.4g} | {r['max']:.4g} | {r['unit']} | {r['runs']} |")
        with open(os.path.join(RESULTS, f"{stem}.md"), "w") as out:
            out.write("\n".join(lines) + "\n")
        print(f"wrote {os.path.join(RESULTS, stem)}.md and {stem}.json")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_description():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return f"{os.cpu_count()} x {cpu}, {memory:.0f} GiB RAM, Linux {platform.release()}"


SCENARIOS = ["large", "small", "concurrent", "latency", "idle", "login", "micro"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced set, in under 5 minutes")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3)")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="only these scenarios")
    parser.add_argument("--ferry-only", action="store_true", help="skip vsftpd and sshd (no packages installed)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--workdir", default=None, help="where the temporary work folder goes (default: $TMPDIR)")
    args = parser.parse_args()
    bench = Bench(args)
    try:
        bench.prepare_data()
        bench.start_ferry()
        bench.start_peers()
        for name in args.only or SCENARIOS:
            # What the scenario before wrote (gigabytes, in the large one) goes to the disk now, not in the kernel's
            # writeback threads while the next scenario is timed, on whichever system happens to run then.
            os.sync()
            started = time.monotonic()
            getattr(bench, f"scenario_{name}")()
            print(f"  ({name} took {time.monotonic() - started:.0f} s)", flush=True)
        bench.write()
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
