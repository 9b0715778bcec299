"""The Space: open the artifact set (verified), build the page, serve it.

Configuration comes from the environment, parsed once (imagesearch/serve/config.py): ARTIFACTS_DIR for a
built artifact folder, or ARTIFACTS_REPO (+ ARTIFACTS_REVISION) for a set published to a Hub dataset repo;
with nothing set, the embedded demo in demo/artifacts is served, offline.
"""

from __future__ import annotations

import logging
import sys

import spaces  # first: on ZeroGPU it must be imported before torch initialises CUDA

import faiss
import torch

from imagesearch.errors import ArtifactError, ConfigError
from imagesearch.serve.cards import CSS
from imagesearch.serve.config import AppConfig
from imagesearch.serve.image_query import MAX_UPLOAD_BYTES, image_describer
from imagesearch.serve.memory import limit_malloc_arenas
from imagesearch.serve.model_thread import on_model_thread
from imagesearch.serve.page import build_blocks
from imagesearch.serve.search import SearchEngine
from imagesearch.serve.startup import open_served_set
from imagesearch.store.searchers import threads_that_pay

log = logging.getLogger("app")


def build_app(config: AppConfig):
    """Load and validate everything, then return (blocks, engine). Raises ArtifactError."""
    limit_malloc_arenas(config.malloc_arenas)  # before the server's worker threads exist
    on_model_thread(torch.set_num_threads, config.encoder_thread_count())  # torch runs on that one thread only
    artifacts, encoder = on_model_thread(open_served_set, config)
    threads = config.search_threads or threads_that_pay(artifacts.manifest["index"], config.encoder_thread_count())
    faiss.omp_set_num_threads(threads)
    log.info("search: %d FAISS thread(s) per query", threads)

    @spaces.GPU
    def encode_query(text: str):
        return on_model_thread(encoder.encode, [text])[0]

    engine = SearchEngine(artifacts, encode_query, max_query_chars=config.max_query_chars)
    describer = image_describer(artifacts.manifest, config.captioner, config.captioner_prompts, config.hub_offline,
                                config.captioner_runtime, config.captioner_dtype)

    @spaces.GPU(duration=describer.gpu_seconds)  # asks for what this set's captioner needs, loading included once
    def describe_image(path: str) -> str:  # the captioner runs (and is loaded, once) on the GPU
        return on_model_thread(describer.describe, path)

    blocks = build_blocks(engine, describe_image, describer, image_concurrency=config.image_concurrency)
    blocks.queue(max_size=config.queue_size, default_concurrency_limit=config.concurrency)
    return blocks, engine


def launch(blocks, engine: SearchEngine, config: AppConfig, **kwargs):
    """Serve only the artifact images folder; nothing else on disk is reachable."""
    return blocks.launch(
        server_name=config.host,
        server_port=config.port,
        allowed_paths=[str(engine.artifacts.folder / "images")],
        state_session_capacity=config.session_capacity,
        mcp_server=config.mcp_server,
        max_file_size=MAX_UPLOAD_BYTES,  # refused by the server before it stores the upload
        css=CSS,
        **kwargs,
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = AppConfig.from_env()
        blocks, engine = build_app(config)
    except (ArtifactError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: not enough memory to load the artifact set; give the Space more memory (a larger hardware "
              "tier) or serve a smaller set", file=sys.stderr)
        return 2
    log.info("serving %d images from %s", engine.artifacts.count, engine.artifacts.folder)
    launch(blocks, engine, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
