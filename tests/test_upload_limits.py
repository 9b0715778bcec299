"""Hostile uploads against a real server in its own process: every one is answered in one line, the server's
memory stays bounded, and text searches keep being answered meanwhile."""

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from testkit.paths import REPO
from testkit.ports import free_port


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


class Sampler(threading.Thread):
    """The largest resident size of a process: sampled every 20 ms, and its own peak (VmHWM) where it can be reset."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from the current RSS
            self.hwm = True
        except OSError:
            self.hwm = False

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def stop(self) -> float:
        self.running = False
        self.join()
        return max(self.peak, rss_mb(self.pid, "VmHWM") if self.hwm else 0.0)


@pytest.fixture
def captioning_server(tmp_path, tiny_captioner_path):
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CAPTIONER": str(tiny_captioner_path), "GRADIO_SERVER_PORT": str(port),
           "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while True:
        try:
            client = Client(url, verbose=False, download_files=False)
            break
        except Exception:  # noqa: BLE001 - not listening yet
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "server.log").read_text()[-3000:])
            time.sleep(0.5)
    yield server, client
    client.close()
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.mark.slow
def test_every_hostile_upload_is_one_line_with_memory_bounded_and_search_answering(captioning_server, tmp_path):
    server, client = captioning_server
    folder = tmp_path / "uploads"
    made = subprocess.run([sys.executable, "-m", "testkit.hostile_uploads", str(folder)], cwd=REPO, check=True,
                          capture_output=True, text=True)
    expected = json.loads(made.stdout.strip().splitlines()[-1])
    assert len(expected) == 23
    # warm: the captioner loaded, one upload of each kind of path decoded, so the baseline holds the model
    client.predict(handle_file(str(folder / "jpeg-7000.jpg")), 3, api_name="/search_by_image")
    client.predict(handle_file(str(folder / "rgba-4000.png")), 3, api_name="/search_by_image")
    baseline = rss_mb(server.pid)
    sampler = Sampler(server.pid)
    sampler.start()
    searches, stop = [], threading.Event()

    def search_meanwhile():
        other = Client(client.src, verbose=False, download_files=False)
        while not stop.is_set():
            searches.append(len(other.predict("a cat", 3, None, api_name="/search")))
        other.close()

    searcher = threading.Thread(target=search_meanwhile)
    searcher.start()
    answers = {}
    for name in expected:
        try:
            answer = client.predict(handle_file(str(folder / name)), 3, api_name="/search_by_image")
            answers[name] = "described" if answer["description"] and len(answer["results"]) == 3 else repr(answer)
        except Exception as exc:  # noqa: BLE001 - the refusal's text is what is checked
            answers[name] = str(exc)
    stop.set()
    searcher.join(timeout=60)
    growth = sampler.stop() - baseline
    for name, pattern in expected.items():
        assert re.search(pattern, answers[name]), (name, answers[name])
        assert "\n" not in answers[name].strip() and "Traceback" not in answers[name], (name, answers[name])
    print(f"{len(expected)} hostile uploads: the server grew by {growth:.0f} MB at most; {len(searches)} searches answered meanwhile")
    assert growth < 200, f"the server grew by {growth:.0f} MB"
    assert searches and all(count == 3 for count in searches)
