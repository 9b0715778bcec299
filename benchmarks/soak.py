"""Soak: query a real `python app.py` process for minutes; memory must stay flat.

    python -m benchmarks.soak [--minutes 10] [--clients 4] [--artifacts DIR]

Prints queries answered, errors, latency percentiles, and the app's RSS after
warm-up and at the end (and every minute on stderr). Not part of CI.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.search import QUERIES, memory_mb
from imagesearch.serve.config import REPO
from testkit.ports import free_port


def rss_mb(pid: int) -> float:
    return memory_mb(pid, "VmRSS")


def main(argv: list[str] | None = None) -> int:
    from gradio_client import Client

    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--artifacts", type=Path, default=None, help="an artifact folder (default: the demo)")
    args = parser.parse_args(argv)
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    env.pop("ARTIFACTS_DIR", None)
    if args.artifacts:
        env["ARTIFACTS_DIR"] = str(args.artifacts)
    process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                Client(f"http://127.0.0.1:{port}/", verbose=False).predict("warm up", 5, None, api_name="/search")
                break
            except Exception:  # noqa: BLE001 - not up yet
                if process.poll() is not None:
                    print("error: the app exited during start-up", file=sys.stderr)
                    return 2
                time.sleep(0.5)
        start_rss = rss_mb(process.pid)
        deadline = time.monotonic() + args.minutes * 60
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    client.predict(rng.choice(QUERIES), rng.randint(1, 20), None, api_name="/search")
                except Exception as exc:  # noqa: BLE001 - counted
                    with lock:
                        errors.append(repr(exc)[:200])
                    continue
                with lock:
                    latencies.append(time.perf_counter() - started)

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        minute = 0
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            if time.monotonic() > deadline - args.minutes * 60 + 60 * (minute + 1):
                minute += 1
                print(f"minute {minute}: {len(latencies)} answered, RSS {rss_mb(process.pid):.0f} MB", file=sys.stderr)
        end_rss = rss_mb(process.pid)
        ms = np.asarray(latencies) * 1000
        print(f"soak: {args.minutes:g} min, {args.clients} clients, {len(latencies)} queries answered, {len(errors)} errors; "
              f"latency p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms; "
              f"app RSS {start_rss:.0f} MB after warm-up, {end_rss:.0f} MB at the end ({end_rss - start_rss:+.0f} MB)")
        return 1 if errors else 0
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
