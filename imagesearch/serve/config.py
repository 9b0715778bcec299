"""The app's settings, parsed once from the environment into a frozen dataclass."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from imagesearch.errors import ConfigError
from imagesearch.models.runtime import DTYPES, RUNTIMES

REPO = Path(__file__).resolve().parents[2]
DEMO_ARTIFACTS = REPO / "demo" / "artifacts"
DEFAULT_ARTIFACTS_CACHE = Path("~/.cache/caption-search").expanduser()


@dataclass(frozen=True)
class AppConfig:
    artifacts_dir: Path = DEMO_ARTIFACTS
    # A Hub dataset repo to download the set from (when ARTIFACTS_DIR is not set).
    artifacts_repo: str | None = None
    artifacts_revision: str = "main"
    hf_token: str | None = field(default=None, repr=False)
    artifacts_cache: Path = DEFAULT_ARTIFACTS_CACHE
    # IMAGE_CACHE_MB: disk kept for the images of a published set read on demand (least recently used out)
    image_cache_mb: int = 1024
    hub_offline: bool = False  # HF_HUB_OFFLINE: serve only what is already downloaded, never call the Hub
    embedder: str | None = None  # EMBEDDER (earlier EMBEDDING_MODEL): refused unless it is the manifest's embedder
    # Search by image: the captioner and prompts uploads are described with (default: the manifest's).
    captioner: str | None = None
    captioner_prompts: tuple[str, ...] = ()
    # CAPTIONER_RUNTIME / CAPTIONER_DTYPE: how uploads are captioned, one at a time (imagesearch.models.runtime;
    # auto: OpenVINO's exported vision encoder, in bfloat16 on a CPU that has it, else float32, beside an int8 text
    # side; torch bfloat16 on a GPU)
    captioner_runtime: str = "auto"
    captioner_dtype: str = "auto"
    mcp_server: bool = True  # also serve the public endpoints as MCP tools at /gradio_api/mcp/
    max_query_chars: int = 512
    queue_size: int = 64
    concurrency: int = 4
    image_concurrency: int = 1  # IMAGE_CONCURRENCY: uploads described at once (each holds an image and a captioner's work)
    # Gradio keeps per-session state in memory (about 35 KB each here, and every
    # API call through /gradio_api/call opens a session); its default of 10,000
    # let a soak grow the process by 45 MB per 1,000 calls.
    session_capacity: int = 256
    malloc_arenas: int = 2  # see imagesearch/serve/memory.py; 0 keeps glibc's default
    # FAISS threads per query; 0: decided by the index step's measurement (store/searchers.threads_that_pay):
    # two on an IVF index where a second thread cut the median by a quarter or more, else one.
    search_threads: int = 0
    encoder_threads: int = 0  # 0: one per available core
    host: str = "127.0.0.1"
    port: int = 7860

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "AppConfig":
        env = os.environ if env is None else env

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r} is not an integer; set it to a number from {low} to {high}") from None
            if not low <= value <= high:
                raise ConfigError(f"{name}={value} is out of range; set it to a number from {low} to {high}")
            return value

        def choice(name: str, allowed: tuple[str, ...]) -> str:
            value = env.get(name, "").strip() or "auto"
            if value not in allowed:
                raise ConfigError(f"{name}={value!r} is not known; set it to one of {', '.join(allowed)}")
            return value

        artifacts = env.get("ARTIFACTS_DIR", "").strip()
        repo = env.get("ARTIFACTS_REPO", "").strip() or None
        cache = env.get("ARTIFACTS_CACHE", "").strip()
        return cls(
            artifacts_dir=Path(artifacts).expanduser() if artifacts else DEMO_ARTIFACTS,
            artifacts_repo=None if artifacts else repo,
            artifacts_revision=env.get("ARTIFACTS_REVISION", "").strip() or "main",
            hf_token=env.get("HF_TOKEN", "").strip() or None,
            artifacts_cache=Path(cache).expanduser() if cache else DEFAULT_ARTIFACTS_CACHE,
            image_cache_mb=integer("IMAGE_CACHE_MB", 1024, 16, 10_000_000),
            hub_offline=env.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE"),
            embedder=(env.get("EMBEDDER", "") or env.get("EMBEDDING_MODEL", "")).strip() or None,
            captioner=env.get("CAPTIONER", "").strip() or None,
            mcp_server=env.get("GRADIO_MCP_SERVER", "true").strip().lower() not in ("0", "false", "no", "off"),
            captioner_prompts=tuple(line.strip() for line in env.get("CAPTIONER_PROMPTS", "").splitlines() if line.strip()),
            captioner_runtime=choice("CAPTIONER_RUNTIME", RUNTIMES),
            captioner_dtype=choice("CAPTIONER_DTYPE", DTYPES),
            max_query_chars=integer("MAX_QUERY_CHARS", 512, 16, 4096),
            queue_size=integer("QUEUE_MAX_SIZE", 64, 1, 10_000),
            concurrency=integer("CONCURRENCY_LIMIT", 4, 1, 64),
            image_concurrency=integer("IMAGE_CONCURRENCY", 1, 1, 16),
            session_capacity=integer("SESSION_CAPACITY", 256, 1, 100_000),
            malloc_arenas=integer("MALLOC_ARENAS", 2, 0, 64),
            search_threads=integer("SEARCH_THREADS", 0, 0, 256),
            encoder_threads=integer("ENCODER_THREADS", 0, 0, 256),
            # A Space listens on 0.0.0.0:7860 (it sets SYSTEM=spaces); locally we stay on loopback.
            host=env.get("GRADIO_SERVER_NAME", "0.0.0.0" if env.get("SYSTEM") == "spaces" else "127.0.0.1"),
            port=integer("GRADIO_SERVER_PORT", 7860, 1, 65535),
        )

    def encoder_thread_count(self) -> int:
        if self.encoder_threads:
            return self.encoder_threads
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
