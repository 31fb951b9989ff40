"""Pages and API calls under gunicorn against a minimal Flask route on the same driver and workers.

Reads are driven by wrk (C, so the load generator takes little of the CPU both servers share);
writes by a small Python client, because each write must be a legal next event of its animal.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from bench.measure import Sample
from bench.target import ROOT, Target

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
#: deploy/gunicorn.conf.py's defaults on this machine: 2 workers per core, 4 threads each.
WORKERS, THREADS = 2 * (os.cpu_count() or 1), 4
CONNECTIONS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(target: Target, factory: str):
    port = _free_port()
    # The production settings (deploy/gunicorn.conf.py) for both apps: same workers, threads and pools.
    # Not preloaded: that config's post-fork step knows only the registry's own app.
    env = target.env() | {
        "REGISTRY_BIND": f"127.0.0.1:{port}",
        "REGISTRY_WORKERS": str(WORKERS),
        "REGISTRY_THREADS": str(THREADS),
        "REGISTRY_PRELOAD": "0",
        "REGISTRY_ACCESS_LOG": os.devnull,
        # A worker recycled mid-run drops its keep-alive connections: wrk would count read errors.
        "REGISTRY_MAX_REQUESTS": "0",
    }
    proc = subprocess.Popen(
        [GUNICORN, "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "--log-level", "warning",
         f"bench.wsgi:{factory}()"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        # The port opens before the workers have loaded the app: wait for answers, from every worker.
        deadline, answered = time.monotonic() + 120, 0
        while answered < 4 * WORKERS:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/")
                conn.getresponse().read()
                conn.close()
                answered += 1
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn ({factory}) did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)  # quick shutdown: the graceful one waits for idle keep-alives
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, seconds: float, headers: dict[str, str]) -> Sample:
    """Requests/s with p50/p99 from wrk; any non-2xx answer fails the benchmark (errors are not speed)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: apt-get install wrk (bench/run installs it when run as root)")
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    # Warm first (templates compiled, pools filled, every worker thread has served): not measured.
    warm = [*args[:3], f"-d{max(2, round(seconds))}s", *args[4:]]
    subprocess.run([*warm, url], capture_output=True, text=True, check=True)
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failed requests on {url}:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    elapsed = _seconds(re.search(r"requests in ([\d.]+\w+),", out).group(1))
    marks = {int(p): _seconds(v) for p, v in re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)", out, re.M)}
    # wrk reports percentiles, not every latency: keep the two it gives as the sample's own.
    return Sample(requests, elapsed, [marks[50]] * 98 + [marks[99]] * 2)


def post_loop(base: str, seconds: float, bodies, headers: dict[str, str], clients: int = CONNECTIONS) -> Sample:
    """*clients* threads, each POSTing what its *bodies(i)* generator yields, for *seconds*."""
    latencies: list[float] = []
    failures: list[str] = []
    host, port = base.removeprefix("http://").split(":")

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        end = time.perf_counter() + seconds
        for path, body in bodies(i):
            if time.perf_counter() >= end:
                break
            t0 = time.perf_counter()
            conn.request("POST", path, body=json.dumps(body), headers=headers | {"Content-Type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            latencies.append(time.perf_counter() - t0)
            if answer.status >= 300:
                failures.append(f"{answer.status} on {path}")
                return
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"writes failed: {failures[:3]}")
    return Sample(len(latencies), time.perf_counter() - start, latencies)
