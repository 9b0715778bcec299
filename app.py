"""The Space: load the artifact set, check it, serve search in the browser and at /search.

Configuration comes from the environment (see imagesearch/config.py and the
README): ARTIFACTS_DIR for a built artifact folder, or ARTIFACTS_REPO (+
ARTIFACTS_REVISION) for a set published to a Hub dataset repo; with nothing
set, the embedded demo in demo/artifacts is served, offline.
"""

from __future__ import annotations

import logging
import sys

import spaces  # first: on ZeroGPU it must be imported before torch initialises CUDA

import faiss
import torch

from imagesearch.serve.config import AppConfig
from imagesearch.errors import ArtifactError, ConfigError
from imagesearch.hub.download import download_artifacts, invalidate, mark_complete
from imagesearch.serve.image_query import ImageDescriber, query_captioner
from imagesearch.serve.memory import limit_malloc_arenas
from imagesearch.serve.search import SearchEngine
from imagesearch.serve.startup import open_verified
from imagesearch.serve.ui import CSS, build_blocks

log = logging.getLogger("app")


def build_app(config: AppConfig):
    """Load and validate everything, then return (blocks, engine). Raises ArtifactError."""
    limit_malloc_arenas(config.malloc_arenas)  # before the server's worker threads exist
    faiss.omp_set_num_threads(config.search_threads)
    torch.set_num_threads(config.encoder_thread_count())
    folder = config.artifacts_dir
    if config.artifacts_repo:
        folder = download_artifacts(config.artifacts_repo, config.artifacts_revision, config.artifacts_cache,
                                    config.hf_token, offline=config.hub_offline)
    try:
        artifacts, encoder = open_verified(folder, config.embedding_model)
    except ArtifactError:
        if config.artifacts_repo:
            invalidate(folder)  # a downloaded copy that fails its checks is fetched again on the next start
        raise
    if config.artifacts_repo:
        mark_complete(folder)  # checked whole: the next start serves it with no request

    @spaces.GPU
    def encode_query(text: str):
        return encoder.encode([text])[0]

    engine = SearchEngine(artifacts, encode_query, max_query_chars=config.max_query_chars)
    describer = ImageDescriber(query_captioner(artifacts.manifest, config.captioner, config.captioner_prompts),
                               lambda model, tokens: load_query_captioner(model, tokens, config.hub_offline))

    @spaces.GPU
    def describe_image(path: str) -> str:  # the captioner runs (and is loaded, once) on the GPU
        return describer.describe(path)

    blocks = build_blocks(engine, describe_image, describer)
    blocks.queue(max_size=config.queue_size, default_concurrency_limit=config.concurrency)
    return blocks, engine


def load_query_captioner(model: str, max_new_tokens: int, offline: bool):
    """The build's InstructBLIP loader, behind a check that it can be had and will fit."""
    import os
    from pathlib import Path

    from huggingface_hub import try_to_load_from_cache

    from imagesearch.models.captioner import Captioner, GenerationSettings
    from imagesearch.serve.image_query import check_fits
    from imagesearch.models.model_source import require_model

    require_model(model, "CAPTIONER", offline, "set CAPTIONER to a local InstructBLIP folder")
    local = Path(model) if Path(model).is_dir() else None
    if local is None:
        cached = try_to_load_from_cache(model, "config.json")
        local = Path(cached).parent if isinstance(cached, str) else None
    check_fits(model, local, torch.cuda.is_available(), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return Captioner.load(str(local or model), GenerationSettings(max_new_tokens=max_new_tokens))


def launch(blocks, engine: SearchEngine, config: AppConfig, **kwargs):
    """Serve only the artifact images folder; nothing else on disk is reachable."""
    return blocks.launch(
        server_name=config.host,
        server_port=config.port,
        allowed_paths=[str(engine.artifacts.folder / "images")],
        state_session_capacity=config.session_capacity,
        mcp_server=config.mcp_server,
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
