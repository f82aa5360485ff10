"""Shared helpers of the ecosystem tests: shmqd, the `shmq` tool, promtool,
a real Prometheus and nats-server, each a child process of the test with its
files in the test's temporary directory and its port chosen by the kernel.

Standard library only (Debian's /usr/bin/python3 with python3-pytest). Every
wait polls with a deadline; every child is killed at the end, even when the
test fails, and dies with the test (PR_SET_PDEATHSIG) if pytest is killed.
"""

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

# Generous: a loaded 2-vCPU VM may be several times slower than a desk.
STARTUP_TIMEOUT_S = 30.0
TOOL_TIMEOUT_S = 60.0

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Runs in the child between fork and exec: SIGKILL it when the test dies.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def need_env_path(var, what):
    """The path in environment variable `var` (set by ctest); fails with one line if unusable."""
    path = os.environ.get(var, "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{var} is {path!r}, not an executable {what}; run these tests through ctest "
                    f"(tests/ecosystem/CMakeLists.txt sets it) or set it by hand", pytrace=False)
    return path


def need_program(var, name, package):
    """An external program: its path from `var` (found by CMake at configure
    time) or else from PATH. Missing, it fails the test with one line: a
    skipped test would hide a broken setup."""
    path = os.environ.get(var, "")
    if not path or path.endswith("-NOTFOUND") or not os.access(path, os.X_OK):
        path = shutil.which(name) or ""
    if not path:
        pytest.fail(f"{name} not found (neither {var} nor PATH has it): install the Debian package "
                    f"`{package}` (sudo apt-get install --no-install-recommends {package}), "
                    f"as scripts/setup does", pytrace=False)
    return path


def run(argv, *, input=None, timeout=TOOL_TIMEOUT_S, check=True):
    """Runs a short-lived program; returns the CompletedProcess (text mode)."""
    r = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                       preexec_fn=_die_with_parent)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
    return r


# Loopback only: never through an http_proxy the environment may name.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=5.0):
    """(status, body as text); status 0 when nothing answered."""
    try:
        with _opener.open(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def wait_until(what, predicate, timeout=STARTUP_TIMEOUT_S, interval=0.05, detail=lambda: ""):
    """Polls `predicate` until it returns a true value (returned) or fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}. {detail()}")
        time.sleep(interval)


def free_loopback_port():
    """A TCP port on 127.0.0.1 that nobody listened on a moment ago (for
    programs that cannot bind port 0 and tell which port they got)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, limit=3000):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


class Child:
    """A long-running child process with its stdout and stderr in `log`."""

    def __init__(self, name, argv, log):
        self.name = name
        self.log = log
        self._log_file = open(log, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def running(self):
        return self.proc.poll() is None

    def log_text(self):
        return tail(self.log, 1 << 20)

    def describe(self):
        state = "running" if self.running() else f"exited with {self.proc.returncode}"
        return f"{self.name} {state}; the end of {self.log}:\n{tail(self.log)}"

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after `timeout`; always reaps."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


class Children:
    """Every child a test started, stopped in reverse order."""

    def __init__(self):
        self.children = []

    def start(self, name, argv, log):
        c = Child(name, argv, log)
        self.children.append(c)
        return c

    def stop_all(self):
        for c in reversed(self.children):
            c.stop()
        self.children.clear()


class Tool:
    """The `shmq` command-line tool."""

    def __init__(self, path):
        self.path = path

    def __call__(self, *args, input=None, check=True, timeout=TOOL_TIMEOUT_S):
        return run([self.path, *args], input=input, check=check, timeout=timeout)

    def produce(self, queue, lines):
        self("produce", queue, input="".join(f"{line}\n" for line in lines))

    def consume(self, queue, group, *more):
        return self("consume", queue, "--group", group, *more).stdout.splitlines()


class Shmqd:
    """shmqd serving the given queues, /metrics on a port it picks itself."""

    def __init__(self, children, path, tmp, queues, more_args=()):
        args = [path, "--tick-ms", "20", "--data-dir", str(tmp / "shmqd-data"),
                "--lock-file", str(tmp / "shmqd.lock"), "--metrics-listen", "127.0.0.1:0", *more_args]
        for q in queues:
            args += ["--queue", q]
        self.child = children.start("shmqd", args, tmp / "shmqd.log")
        pattern = re.compile(r"metrics listening on 127\.0\.0\.1:(\d+)")

        def port():
            if not self.child.running():
                raise AssertionError(f"shmqd stopped while starting: {self.child.describe()}")
            m = pattern.search(self.child.log_text())
            return int(m.group(1)) if m and "started" in self.child.log_text() else 0

        self.port = wait_until("shmqd to log its metrics port", port, detail=self.child.describe)
        self.address = f"127.0.0.1:{self.port}"

    def metrics(self):
        status, body = http_get(f"http://{self.address}/metrics")
        assert status == 200, f"GET /metrics answered {status}: {self.child.describe()}"
        return body

    def scrape_until(self, what, ok, timeout=STARTUP_TIMEOUT_S, detail=lambda: ""):
        """Scrapes until `ok(samples)` holds (shmqd's view may trail the
        tools by a moment); returns the exposition text."""
        last = {}

        def good():
            text = self.metrics()
            last["text"] = text
            return text if ok(parse_samples(text)) else None

        return wait_until(what, good, timeout=timeout, interval=0.1,
                          detail=lambda: detail() + "\nlast /metrics:\n" + last.get("text", "")[-4000:])


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_samples(text):
    """The samples of an exposition: a list of (name, {label: value}, float)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def families(text):
    """name -> type, from the `# TYPE` lines of an exposition."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            out[name] = kind
    return out


def total(samples, name, **labels):
    """The sum of a family's samples whose labels include `labels`."""
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == want for k, want in labels.items()))


class Prometheus:
    """A real Prometheus server on loopback scraping `targets` every second,
    its TSDB in the test's directory."""

    def __init__(self, children, path, tmp, targets):
        # Prometheus cannot bind port 0 and say which port it got: probe a
        # free one, and try again with another when someone took it first.
        for attempt in range(5):
            self.port = free_loopback_port()
            self.url = f"http://127.0.0.1:{self.port}"
            # A job name of our own: the server that answers on the port must know it.
            self.job = f"shmq-ecosystem-{os.getpid()}-{self.port}"
            config = tmp / f"prometheus-{attempt}.yml"
            # scrape_timeout may not exceed scrape_interval.
            config.write_text(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                f"scrape_configs:\n  - job_name: {self.job}\n    static_configs:\n"
                f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
            self.child = children.start(
                "prometheus",
                [path, f"--config.file={config}", f"--storage.tsdb.path={tmp / f'tsdb-{attempt}'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=info"],
                tmp / f"prometheus-{attempt}.log")
            if self._wait_ready():
                return
            self.child.stop()
            if "address already in use" not in self.child.log_text():
                raise AssertionError(f"prometheus did not become ready: {self.child.describe()}")
        raise AssertionError("prometheus found no free port in 5 attempts: " + self.child.describe())

    def _wait_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.child.running():
                return False
            status, _ = http_get(self.url + "/-/ready", timeout=2)
            # The server that answers must be ours (another test's Prometheus
            # may hold the port we probed): it knows our job.
            if status == 200 and self.job in http_get(self.url + "/api/v1/status/config")[1]:
                return self.child.running()
            time.sleep(0.1)
        raise AssertionError(f"prometheus not ready after {STARTUP_TIMEOUT_S:.0f} s: {self.child.describe()}")

    def api(self, path, **params):
        """GET /api/v1/PATH; returns the decoded JSON answer (errors included)."""
        query = urllib.parse.urlencode(params, doseq=True)
        status, body = http_get(f"{self.url}/api/v1/{path}?{query}", timeout=10)
        try:
            return json.loads(body)
        except ValueError:
            raise AssertionError(f"prometheus answered {status} to /api/v1/{path}?{query}: {body[:500]!r}")

    def query(self, expr):
        """An instant query; returns the answer's `data` (fails on an error status)."""
        answer = self.api("query", query=expr)
        assert answer.get("status") == "success", f"query {expr!r} failed: {answer}"
        return answer["data"]

    def vector(self, expr):
        """An instant query's samples as a list of (labels, float)."""
        data = self.query(expr)
        assert data["resultType"] == "vector", f"{expr!r} gave a {data['resultType']}, not a vector"
        return [(s["metric"], float(s["value"][1])) for s in data["result"]]

    def check_scrapes_were_clean(self, address, exposition):
        """The target is healthy with no scrape error, its last scrape took
        every sample of `exposition` (a /metrics fetched since the last change),
        and Prometheus logged no warning or error (it warns of samples it
        drops: duplicates, out of order, bad timestamps)."""
        targets = [t for t in self.api("targets")["data"]["activeTargets"] if t["labels"]["instance"] == address]
        assert len(targets) == 1 and targets[0]["health"] == "up" and targets[0]["lastError"] == "", targets
        scraped = self.vector(f'scrape_samples_scraped{{job="{self.job}",instance="{address}"}}')
        samples = len(parse_samples(exposition))
        assert scraped and scraped[0][1] == samples, (
            f"Prometheus's last scrape of {address} took {scraped} samples; /metrics has {samples}")
        problems = [line for line in self.child.log_text().splitlines()
                    if "level=warn" in line or "level=error" in line]
        assert not problems, "prometheus logged:\n" + "\n".join(problems)

    def wait_for_scrape_after(self, t_unix, address):
        """Waits until Prometheus holds a successful scrape of `address` taken
        after `t_unix`; returns that scrape's time."""
        selector = f'{{job="{self.job}",instance="{address}"}}'

        def scraped():
            last = self.vector(f"timestamp(up{selector})")
            if not last or last[0][1] <= t_unix:
                return None
            # A failed scrape (up 0: a loaded machine missed the 1 s
            # timeout) does not count; the next one may succeed.
            up = self.vector(f"up{selector}")
            return last[0][1] if up and up[0][1] == 1 else None

        return wait_until(f"a scrape of {address} after {t_unix:.3f}", scraped,
                          detail=lambda: f"targets: {self.api('targets')}; {self.child.describe()}")


class NatsServer:
    """One nats-server with JetStream on a port it picks itself (-p -1),
    which it writes in a ports file."""

    def __init__(self, children, path, tmp):
        ports_dir = tmp / "nats-ports"
        ports_dir.mkdir()
        self.child = children.start(
            "nats-server",
            [path, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", str(tmp / "nats-store"),
             "--ports_file_dir", str(ports_dir)],
            tmp / "nats-server.log")

        def client_url():
            if not self.child.running():
                raise AssertionError(f"nats-server stopped while starting: {self.child.describe()}")
            for f in ports_dir.glob("*.ports"):
                try:
                    nats = json.loads(f.read_text()).get("nats") or []
                except ValueError:
                    continue  # being written
                if nats:
                    return nats[0]
            return None

        self.url = wait_until("nats-server's ports file", client_url, detail=self.child.describe)
        # Logged once JetStream is up and clients are accepted.
        wait_until("nats-server to log `Server is ready`", lambda: "Server is ready" in self.child.log_text(),
                   detail=self.child.describe)


# --- A queue with every kind of activity -------------------------------------

BUSY_POISON = 3     # messages the `failing` group NACKs until they are dead-lettered
BUSY_MESSAGES = 127  # then messages the `workers` group partly consumes
BUSY_ACKED = 100
BUSY_MAX_DELIVERIES = 2


def busy_queue_options():
    return ["--partitions", "2", "--max-deliveries", str(BUSY_MAX_DELIVERIES)]


def make_busy(tool, shmqd, queue):
    """Traffic on `queue` (made with busy_queue_options, served by `shmqd`):
    messages published; a `failing` group NACKs the first few until shmqd
    dead-letters them (redeliveries, a DLQ); a `workers` group ACKs most
    of the rest (the publish-to-ACK histogram gets samples: offset 0 of
    each partition); both groups keep a lag. Returns the exposition once
    shmqd shows all of it."""
    tool.produce(queue, (f"poison-{i}" for i in range(BUSY_POISON)))
    # Each poison message is delivered max_deliveries times, then shmqd moves it to the DLQ.
    nacked = tool.consume(queue, "failing", "--nack", "--timeout-ms", "1000")
    assert len(nacked) == BUSY_POISON * BUSY_MAX_DELIVERIES, f"failing group got {nacked}"
    tool.produce(queue, (f"m-{i}" for i in range(BUSY_MESSAGES)))
    acked = tool.consume(queue, "workers", "--count", str(BUSY_ACKED))
    assert len(acked) == BUSY_ACKED, f"workers got {len(acked)} messages"
    published = BUSY_POISON + BUSY_MESSAGES

    def shown(s):
        return (total(s, "shmq_messages_published_total", queue=queue) == published
                and total(s, "shmq_dlq_depth", queue=queue) == BUSY_POISON
                and total(s, "shmq_group_messages_acked_total", queue=queue, group="workers") == BUSY_ACKED
                and total(s, "shmq_messages_redelivered_total", queue=queue) > 0
                and total(s, "shmq_group_lag", queue=queue, group="workers") > 0
                and total(s, "shmq_group_lag", queue=queue, group="failing") > 0
                and total(s, "shmq_publish_to_ack_seconds_count", queue=queue, group="workers") > 0)

    return shmqd.scrape_until(f"shmqd's /metrics to show the traffic on {queue}", shown)


def start_bridges(children, tool, tmp, shmqd, queue, relay_queue, nats):
    """Every kind of `shmq bridge` on `queue`, through a one-node JetStream:
    `bridge out` of `queue` (group `bridge`) into stream ECO_<pid>, and a
    relay from `relay_queue` into `queue` (`bridge out` of `relay_queue`
    into stream RELAY_<pid>, `bridge in` of that stream into `queue`).
    Returns the three children once shmqd shows every bridge connected."""
    pid = os.getpid()
    relay_stream = f"RELAY_{pid}"

    def start(name, *args):
        return children.start(name, [tool.path, "bridge", *args, "--nats", nats.url],
                              tmp / f"{name.replace(' ', '-')}.log")

    def connected(q, direction, n):
        def ok(s):
            return total(s, "shmq_bridge_connected", queue=q, direction=direction) == n
        return ok

    started = [start("bridge out", "out", queue, "--group", "bridge", "--stream", f"ECO_{pid}", "--replicas", "1"),
               start("relay out", "out", relay_queue, "--group", "relay", "--stream", relay_stream,
                     "--subject-prefix", "relay", "--replicas", "1")]
    # `bridge in` needs the stream that the relay's `bridge out` creates.
    shmqd.scrape_until(f"the relay's bridge out of {relay_queue} to connect", connected(relay_queue, "out", 1),
                       detail=lambda: "".join(c.describe() for c in started))
    started.append(start("relay in", "in", queue, "--stream", relay_stream, "--durable", "eco"))
    shmqd.scrape_until(f"both bridges of {queue} to connect",
                       lambda s: connected(queue, "out", 1)(s) and connected(queue, "in", 1)(s),
                       detail=lambda: "".join(c.describe() for c in started))
    for c in started:
        assert c.running(), c.describe()
    return started
