"""Concurrent load against a launched app, and a full queue."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from gradio_client import Client

from imagesearch.serve.config import DEMO_ARTIFACTS
from imagesearch.serve.page import build_blocks
from imagesearch.serve.search import SearchEngine
from imagesearch.store.artifacts import load_artifact_set
from testkit.ports import free_port

CLIENTS, QUERIES_EACH = 32, 10
WORDS = ["a cat", "a rocket at night", "an orange flower", "coins on a table", "a red motorcycle", "the moon", "galaxies"]


@pytest.mark.slow
def test_32_concurrent_clients_get_every_answer(served, output_dir):  # noqa: F811
    url, _, _ = served
    latencies, errors, wrong = [], [], []
    lock = threading.Lock()

    def one_client(number):
        client = Client(url, verbose=False, download_files=False)
        try:
            for i in range(QUERIES_EACH):
                k = (number + i) % 20 + 1
                started = time.perf_counter()
                try:
                    results = client.predict(WORDS[(number + i) % len(WORDS)], k, None, api_name="/search")
                except Exception as exc:  # noqa: BLE001 - counted, asserted below
                    with lock:
                        errors.append(repr(exc))
                    continue
                with lock:
                    latencies.append(time.perf_counter() - started)
                    if len(results) != k:
                        wrong.append((k, len(results)))
        finally:
            client.close()

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one_client, range(CLIENTS)))
    ms = np.asarray(latencies) * 1000
    report = (f"{CLIENTS} clients x {QUERIES_EACH} queries: {len(latencies)} answered, {len(errors)} errors; "
              f"latency p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, p99 {np.percentile(ms, 99):.0f} ms")
    print(report)
    (output_dir / "load.txt").write_text(report + "\n")
    assert errors == [] and wrong == []
    assert len(latencies) == CLIENTS * QUERIES_EACH


def test_full_queue_answers_extra_callers_with_an_error_not_a_hang(minilm):
    def slow_encode(text):
        time.sleep(1.0)
        return minilm.encode([text])[0]

    blocks = build_blocks(SearchEngine(load_artifact_set(DEMO_ARTIFACTS), slow_encode))
    blocks.queue(max_size=2, default_concurrency_limit=1)
    _, url, _ = blocks.launch(prevent_thread_lock=True, quiet=True, server_port=free_port(),
                              allowed_paths=[str(DEMO_ARTIFACTS / "images")])
    try:
        clients = [Client(url, verbose=False, download_files=False) for _ in range(8)]
        started = time.perf_counter()
        jobs = [client.submit("a cat", 1, None, api_name="/search") for client in clients]
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(("ok", len(job.result(timeout=60))))
            except Exception as exc:  # noqa: BLE001
                outcomes.append(("error", str(exc)))
        elapsed = time.perf_counter() - started
        served_ok = [o for o in outcomes if o[0] == "ok"]
        refused = [o for o in outcomes if o[0] == "error"]
        assert served_ok and all(n == 1 for _, n in served_ok)
        assert refused and all("queue is full" in message.lower() for _, message in refused), refused
        assert elapsed < 30
        assert len(Client(url, verbose=False).predict("a cat", 1, None, api_name="/search")) == 1  # still answering
    finally:
        blocks.close()


def test_session_state_held_in_memory_is_bounded(minilm):
    import httpx

    import app
    from benchmarks.search import _http_search
    from imagesearch.serve.config import AppConfig

    config = AppConfig(port=free_port(), session_capacity=20)
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=30) as http:
            for i in range(60):  # each plain HTTP call is a new session
                assert len(_http_search(http, f"a cat {i}")) == 5
        assert len(blocks.state_holder.session_data) <= 20
    finally:
        blocks.close()
