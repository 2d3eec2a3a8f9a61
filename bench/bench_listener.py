"""Benchmark: how many Amber live-price sockets one listener process holds, and at what cost.

    .venv/bin/python -m bench.bench_listener [--sizes 500,1000,2000,5000] \
        [--thread-sizes 250,500,1000,2000] [--idle-s 35] [--pushes 3]

The simulator runs in a child process (loopback only, clock frozen, rate limits off). Each
measured run is a fresh child process so its RSS starts clean:

* ``asyncio``: the production code path (``AmberLiveProcess`` → ``AmberLiveHub``, one event loop)
  with a no-op ``on_prices`` hook that only timestamps arrivals (no database, no Celery), so the
  connection layer is what is measured. Django is set up as in ``listen_amber``.
* ``threads``: the design we did not choose, ``websocket-client`` with ``run_forever`` in one
  thread per connection (plus the ping thread it starts per connection when a heartbeat is on).

Per run: connections held (acknowledged subscriptions, cross-checked with the simulator), RSS
before and after connecting and after an idle period (psutil), RSS per connection, threads, time
to connect all, CPU while idle (heartbeats every 30 s included: the idle window covers one), and
fan-in latency for pushes of one price update to every site via ``/control/amber-ws/push``
(time from the push request to each message's arrival in the listener; p50/p99/max over all
messages). Results go to ``bench/results/listener.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench/results/listener.json"
FROZEN_NOW = "2025-06-28T16:24:00+10:00"
CONNECT_TIMEOUT_S = 180.0
PUSH_TIMEOUT_S = 60.0


# --- shared helpers ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _control(root: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    reply = requests.request(method, f"{root}/control{path}", json=body, timeout=60)
    reply.raise_for_status()
    return reply.json()


def _households(root: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while len(found) < count:
        page = _control(root, "GET", f"/households?offset={len(found)}&limit=1000")["households"]
        if not page:
            break
        found += page
    return found[:count]


def _rss_mib(proc: psutil.Process) -> float:
    return round(proc.memory_info().rss / 2**20, 1)


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


class Arrivals:
    """Thread-safe arrival clock for pushed messages."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.times: list[float] = []

    def add(self) -> None:
        now = time.perf_counter()
        with self._lock:
            self.times.append(now)

    def take(self) -> list[float]:
        with self._lock:
            taken, self.times = self.times, []
        return taken


def _measure_idle(proc: psutil.Process, idle_s: float) -> float:
    """Percent of one core used by this process over ``idle_s``."""
    before = proc.cpu_times()
    start = time.perf_counter()
    time.sleep(idle_s)
    after = proc.cpu_times()
    used = (after.user + after.system) - (before.user + before.system)
    return round(100 * used / (time.perf_counter() - start), 2)


def _push_latencies(root: str, arrivals: Arrivals, n: int, pushes: int) -> dict[str, Any]:
    latencies: list[float] = []
    request_s: list[float] = []
    complete = 0
    for _ in range(pushes):
        arrivals.take()
        started = time.perf_counter()
        sent = _control(root, "POST", "/amber-ws/push", {})["sent"]
        request_s.append(time.perf_counter() - started)
        deadline = time.monotonic() + PUSH_TIMEOUT_S
        got: list[float] = []
        while len(got) < sent and time.monotonic() < deadline:
            time.sleep(0.01)
            got += arrivals.take()
        latencies += [t - started for t in got]
        complete += int(len(got) >= n)
        time.sleep(0.5)
    return {
        "pushes": pushes,
        "pushes_fully_delivered": complete,
        "messages": len(latencies),
        **_percentiles(latencies),
        "push_request_ms_median": round(statistics.median(request_s) * 1000, 1),
    }


# --- worker: asyncio (production code path) ----------------------------------------------------


def worker_asyncio(root: str, n: int, idle_s: float, pushes: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powersync_site.settings")
    import django

    django.setup()
    from pricing.live_listener import AmberLiveProcess, ListenerConfig, LiveSite, SiteTarget
    from pricing.providers.amber import LiveConfig, PriceInterval

    proc = psutil.Process()
    households = _households(root, n)
    sites = [
        LiveSite(h["amber_site_id"], h["amber_token"], (SiteTarget(h["index"], True, True),))
        for h in households
    ]
    arrivals = Arrivals()
    result: dict[str, Any] = {"design": "asyncio", "n": n}
    rss_baseline = _rss_mib(proc)

    async def load() -> list[LiveSite]:
        return sites

    def on_prices(site_id: str, intervals: list[PriceInterval]) -> None:
        arrivals.add()

    async def main() -> None:
        config = ListenerConfig(
            reconcile_s=3600, silence_s=3600, poll_offsets_s=(), connect_batch=n
        )
        live = LiveConfig(url=f"{root.replace('http://', 'ws://')}/amber-ws", proxy=None)
        process = AmberLiveProcess(
            load_sites=load, live_config=live, config=config, on_prices=on_prices
        )
        stop = asyncio.Event()
        started = time.perf_counter()
        runner = asyncio.create_task(process.run(stop))
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while process.status().live < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        result["connect_all_s"] = round(time.perf_counter() - started, 2)
        result["connections_live"] = process.status().live
        result["simulator"] = await asyncio.to_thread(_control, root, "GET", "/amber-ws")
        result["rss_baseline_mib"] = rss_baseline
        result["rss_connected_mib"] = _rss_mib(proc)
        result["threads"] = proc.num_threads()
        result["idle_cpu_percent_of_one_core"] = await asyncio.to_thread(
            _measure_idle, proc, idle_s
        )
        result["rss_after_idle_mib"] = _rss_mib(proc)
        result["fan_in"] = await asyncio.to_thread(_push_latencies, root, arrivals, n, pushes)
        result["live_after_pushes"] = process.status().live
        closing = time.perf_counter()
        stop.set()
        await runner
        result["close_all_s"] = round(time.perf_counter() - closing, 2)

    asyncio.run(main())
    return _with_per_connection(result)


# --- worker: thread per connection (websocket-client) ------------------------------------------


def worker_threads(root: str, n: int, idle_s: float, pushes: int) -> dict[str, Any]:
    import websocket  # websocket-client, requirements-dev only

    proc = psutil.Process()
    households = _households(root, n)
    arrivals = Arrivals()
    live_lock = threading.Lock()
    live = [0]
    url = f"{root.replace('http://', 'ws://')}/amber-ws"
    result: dict[str, Any] = {"design": "threads", "n": n}
    rss_baseline = _rss_mib(proc)

    def make(h: dict[str, Any]) -> websocket.WebSocketApp:
        subscribe = json.dumps(
            {
                "service": "live-prices",
                "action": "subscribe",
                "data": {"siteId": h["amber_site_id"]},
            }
        )

        def on_open(ws: websocket.WebSocketApp) -> None:
            ws.send(subscribe)

        def on_message(ws: websocket.WebSocketApp, raw: str) -> None:
            message = json.loads(raw)
            if message.get("action") == "price-update":
                arrivals.add()
            elif message.get("action") == "subscribe" and message.get("status") == 200:
                with live_lock:
                    live[0] += 1

        return websocket.WebSocketApp(
            url,
            header={"Authorization": f"Bearer {h['amber_token']}"},
            on_open=on_open,
            on_message=on_message,
        )

    apps = [make(h) for h in households]
    threads = [
        threading.Thread(
            target=app.run_forever,
            kwargs={"ping_interval": 30, "ping_timeout": 20, "reconnect": 5},
            daemon=True,
        )
        for app in apps
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while live[0] < n and time.monotonic() < deadline:
        time.sleep(0.05)
    result["connect_all_s"] = round(time.perf_counter() - started, 2)
    result["connections_live"] = live[0]
    result["simulator"] = _control(root, "GET", "/amber-ws")
    result["rss_baseline_mib"] = rss_baseline
    result["rss_connected_mib"] = _rss_mib(proc)
    result["threads"] = proc.num_threads()
    result["idle_cpu_percent_of_one_core"] = _measure_idle(proc, idle_s)
    result["rss_after_idle_mib"] = _rss_mib(proc)
    result["fan_in"] = _push_latencies(root, arrivals, n, pushes)
    closing = time.perf_counter()
    for app in apps:
        app.keep_running = False
        app.close()
    for thread in threads:
        thread.join(timeout=max(0.01, 5 - (time.perf_counter() - closing)))
    result["close_all_s"] = round(time.perf_counter() - closing, 2)
    result["threads_alive_after_close_5s"] = sum(thread.is_alive() for thread in threads)
    return _with_per_connection(result)


def _with_per_connection(result: dict[str, Any]) -> dict[str, Any]:
    held = max(1, result["connections_live"])
    growth = result["rss_after_idle_mib"] - result["rss_baseline_mib"]
    result["rss_growth_mib"] = round(growth, 1)
    result["rss_per_connection_kib"] = round(growth * 1024 / held, 1)
    return result


# --- orchestration -----------------------------------------------------------------------------


def _start_simulator(households: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    argv = [
        sys.executable,
        "-m",
        "simulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--households",
        str(households),
        "--now",
        FROZEN_NOW,
        "--speed",
        "0",
        "--no-rate-limits",
    ]
    child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True)
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _control(root, "GET", "/health")
            return child, root
        except requests.RequestException:
            time.sleep(0.1)
    child.terminate()
    raise RuntimeError("the simulator did not start within 30 s")


def _run_worker(design: str, root: str, n: int, idle_s: float, pushes: int) -> dict[str, Any]:
    _control(root, "POST", "/amber-ws/drop", {})
    argv = [sys.executable, "-m", "bench.bench_listener", "--worker", design]
    argv += ["--root", root, "--n", str(n), "--idle-s", str(idle_s), "--pushes", str(pushes)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        return {"design": design, "n": n, "error": done.stderr.strip().splitlines()[-5:]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def pick(design: str) -> list[dict[str, Any]]:
        return [r for r in runs if r["design"] == design and "error" not in r]

    asyncio_runs, thread_runs = pick("asyncio"), pick("threads")
    best = max(asyncio_runs, key=lambda r: r["n"], default=None)
    same_n = {r["n"] for r in asyncio_runs} & {r["n"] for r in thread_runs}
    compare = []
    for n in sorted(same_n):
        a = next(r for r in asyncio_runs if r["n"] == n)
        t = next(r for r in thread_runs if r["n"] == n)
        compare.append(
            {
                "n": n,
                "rss_per_connection_kib": {
                    "asyncio": a["rss_per_connection_kib"],
                    "threads": t["rss_per_connection_kib"],
                },
                "threads": {"asyncio": a["threads"], "threads": t["threads"]},
                "idle_cpu_percent": {
                    "asyncio": a["idle_cpu_percent_of_one_core"],
                    "threads": t["idle_cpu_percent_of_one_core"],
                },
                "connect_all_s": {"asyncio": a["connect_all_s"], "threads": t["connect_all_s"]},
                "fan_in_p99_ms": {
                    "asyncio": a["fan_in"].get("p99_ms"),
                    "threads": t["fan_in"].get("p99_ms"),
                },
            }
        )
    return {
        "largest_asyncio_run": best,
        "asyncio_vs_threads": compare,
        "why_asyncio": _why(best, compare),
    }


def _why(best: dict[str, Any] | None, compare: list[dict[str, Any]]) -> str:
    if best is None or not compare:
        return "not enough runs to compare"
    largest = compare[-1]
    rss = largest["rss_per_connection_kib"]
    return (
        f"At n={largest['n']} a thread per connection (websocket-client, plus its ping thread) "
        f"costs {rss['threads']} KiB RSS per connection against {rss['asyncio']} KiB on one "
        f"event loop, runs {largest['threads']['threads']} OS threads against "
        f"{largest['threads']['asyncio']}, and delivers a pushed update to every site with p99 "
        f"{largest['fan_in_p99_ms']['threads']} ms against {largest['fan_in_p99_ms']['asyncio']} "
        f"ms. One asyncio process held {best['connections_live']} sockets in "
        f"{best['rss_after_idle_mib']} MiB RSS ({best['rss_per_connection_kib']} KiB each), "
        f"connected all in {best['connect_all_s']} s, idled at "
        f"{best['idle_cpu_percent_of_one_core']} % of one core and fanned in a push with p99 "
        f"{best['fan_in'].get('p99_ms')} ms; the thread design would need about "
        f"{2 * best['n']} threads for the same sites."
    )


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(x) for x in args.sizes.split(",") if x]
    thread_sizes = [int(x) for x in args.thread_sizes.split(",") if x]
    child, root = _start_simulator(max(sizes + thread_sizes))
    runs = []
    try:
        for design, ns in (("asyncio", sizes), ("threads", thread_sizes)):
            for n in ns:
                print(f"{design} n={n} ...", flush=True)
                run = _run_worker(design, root, n, args.idle_s, args.pushes)
                print(json.dumps(run), flush=True)
                runs.append(run)
        simulator_rss = _rss_mib(psutil.Process(child.pid))
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=30)
    return {
        "benchmark": "amber live listener: sockets per process",
        "command": " ".join(["python -m bench.bench_listener", *sys.argv[1:]]),
        "simulator": {"frozen_now": FROZEN_NOW, "rss_mib_at_end": simulator_rss},
        "idle_window_s": args.idle_s,
        "heartbeat": "WebSocket ping every 30 s, 20 s timeout (both designs)",
        "runs": runs,
        "summary": _summary(runs),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1000,2000,5000")
    parser.add_argument("--thread-sizes", default="250,500,1000,2000")
    parser.add_argument("--idle-s", type=float, default=35.0)
    parser.add_argument("--pushes", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", choices=["asyncio", "threads"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        work = worker_asyncio if args.worker == "asyncio" else worker_threads
        print(json.dumps(work(args.root, args.n, args.idle_s, args.pushes)))
        return
    report = orchestrate(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
