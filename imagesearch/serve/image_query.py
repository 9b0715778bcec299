"""Search by image: describe an uploaded image with the set's own captioner, then search with that text.

The captioner and prompts come from the manifest (what the build used), so an
uploaded photo is described the way the stored images were; CAPTIONER and
CAPTIONER_PROMPTS override them (AppConfig). The model is loaded on first use
and kept; when it cannot be loaded, every later call gets the same one line
and the rest of the app is untouched.

Uploads get the checks ``describe`` applies to a dataset's images
(:func:`imagesearch.images.decode`): unreadable, truncated, tiny or huge
images are refused with the reason; any mode (CMYK, palette, 16-bit) is
converted to RGB; an animated GIF is described by its first frame.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from imagesearch.errors import ArtifactError, QueryError, first_line
from imagesearch.models.captioner import GenerationSettings
from imagesearch.models.families import FAMILIES
from imagesearch.models.fit import check_fits, local_copy, memory_bytes, public_name, weights_bytes
from imagesearch.models.images import BadImage, decode
from imagesearch.store.manifest import HAND_WRITTEN, IMPORTED

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 2**20  # also the server's max_file_size: larger uploads are refused before they are stored
UPLOAD_SIDE = 1024  # uploads are decoded to at most this longest side: every family's input size but SmolVLM's tiles
UPLOAD_FULL_PIXELS = 16_000_000  # a format decoded whole (PNG, WebP, ...): PIL holds 4 bytes a pixel; a JPEG more
# ZeroGPU duration for one upload: a base, the first call's model loading, and the generation (7B-class speed)
GPU_BASE_S, GPU_LOAD_S, GPU_S_PER_TOKEN = 10, 90, 0.05


class CaptionerUnavailable(QueryError):
    """Search by image cannot work on this Space; the message says why and what to set."""


@dataclass(frozen=True)
class QueryCaptioner:
    model: str | None  # hub id or folder; None: the set has no captioner to use
    prompts: tuple[str, ...]
    generation: GenerationSettings = GenerationSettings()  # as the build captioned (manifest captioner.generation)
    read_text: bool = False  # the build also read the words in each image (manifest captioner.read_text)
    reason: str = ""  # why model is None


def query_captioner(manifest: dict[str, Any], model_override: str | None = None,
                    prompts_override: Sequence[str] | None = None) -> QueryCaptioner:
    """The captioner, prompts and generation settings an uploaded image is described with: exactly the build's,
    as the manifest records them, unless CAPTIONER / CAPTIONER_PROMPTS override the model or the prompts."""
    built = manifest.get("captioner") or {}
    prompts = tuple(prompts_override or built.get("prompts") or ())
    generation = GenerationSettings.from_manifest(built.get("generation"))
    model = model_override or built.get("model")
    if not model or model in (HAND_WRITTEN, IMPORTED, "unspecified") or str(model).startswith(("synthetic", "benchmark")):
        how = {HAND_WRITTEN: "hand-written", IMPORTED: "imported"}.get(model, "not made by a captioner")
        return QueryCaptioner(None, prompts, generation, reason=(
            f"this set's descriptions are {how}, so there is no captioner to describe an upload; "
            f"set CAPTIONER to a captioner hub id or folder ({', '.join(sorted(FAMILIES))}) to enable it"))
    read_text = bool(built.get("read_text")) and not model_override  # another captioner may not read
    return QueryCaptioner(str(model), prompts, generation, read_text)  # no prompts: the captioner family's own


class ImageDescriber:
    """Turns an uploaded file into a description, loading the captioner once (thread-safe)."""

    def __init__(self, spec: QueryCaptioner, load: Callable[[str, GenerationSettings], Any]):
        self.spec = spec
        self._load = load  # (model, generation settings) -> object with describe(images, prompts) -> list[str]
        self._captioner: Any = None
        self._failure: str | None = None if spec.model else spec.reason
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self._failure is None

    @property
    def unavailable_reason(self) -> str | None:
        return self._failure

    def _refusal(self) -> CaptionerUnavailable:
        return CaptionerUnavailable(f"Search by image is not available: {self._failure}.")

    def captioner(self) -> Any:
        with self._lock:
            if self._failure:
                raise self._refusal()
            if self._captioner is None:
                try:
                    captioner = self._load(self.spec.model, self.spec.generation)
                    family = getattr(captioner, "family", None)
                    if family is not None:  # prompts a caption-only family cannot take: this feature is off, in words
                        family.prompts(self.spec.prompts, "CAPTIONER_PROMPTS")
                    self._captioner = captioner
                except (ArtifactError, OSError, ValueError, RuntimeError, ImportError, MemoryError) as exc:
                    self._failure = (f"the captioner {public_name(self.spec.model)} could not be loaded "
                                     f"({first_line(exc, 160)})")
                    log.error("search by image disabled: %s", self._failure)
                    raise self._refusal() from None
            return self._captioner

    def gpu_seconds(self, path: Any = None) -> int:
        """The GPU time to ask ZeroGPU for one upload (``spaces.GPU(duration=...)`` calls it with the upload):
        the tokens this set's settings generate, plus the loading on the first call only. An estimate
        (GPU_* below), never measured here: no GPU was lent to the session that wrote it."""
        prompts = max(1, len(self.spec.prompts))
        tokens = self.spec.generation.max_new_tokens * prompts * self.spec.generation.num_beams
        loading = GPU_LOAD_S if self._captioner is None else 0
        return int(GPU_BASE_S + loading + tokens * GPU_S_PER_TOKEN)

    def describe(self, path: Any) -> str:
        if self._failure:  # nothing can caption: refused before the upload is read or decoded
            raise self._refusal()
        image = read_upload(path)
        captioner = self.captioner()
        description = captioner.describe([image], list(self.spec.prompts), self.spec.read_text)[0].strip()
        if not description:
            raise QueryError("The captioner returned no words for this image; try another image.")
        return description


def read_upload(path: Any) -> Any:
    """The uploaded file as an RGB PIL image, or a QueryError naming what is wrong with it."""
    if not isinstance(path, (str, Path)) or not str(path):
        raise QueryError("Upload an image (JPEG, PNG, WebP, GIF, ...).")
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise QueryError(f"The upload is {size / 2**20:.0f} MB; images up to {MAX_UPLOAD_BYTES // 2**20} MB are accepted.")
        data = file.read_bytes()
    except OSError:
        raise QueryError("The upload could not be read; upload it again.") from None
    try:
        return decode(data, max_side=UPLOAD_SIDE, max_full_pixels=UPLOAD_FULL_PIXELS)
    except BadImage as exc:
        raise QueryError(f"The upload cannot be described: {exc}.") from None


def check_space_fits(model: str, local_folder: Path | None, cuda: bool, memory: int) -> None:
    """Refuse a load that would take the Space down: without a GPU, only a local copy that fits is loaded
    (the 7B captioner needs about 28 GB in float32), never a download."""
    if not cuda and local_folder is None:
        raise ArtifactError(f"{public_name(model)} is not on this machine and there is no GPU to run it; run the Space on "
                            "GPU hardware (ZeroGPU) or set CAPTIONER to a small local model")
    check_fits(model, weights_bytes(local_folder) if local_folder else None, cuda, memory, "CAPTIONER")


def load_query_captioner(model: str, generation: GenerationSettings, offline: bool, runtime: str = "auto",
                         dtype: str = "auto") -> Any:
    """The build's captioner loader, behind a check that the model can be had and will fit this machine."""
    import torch

    from imagesearch.models.captioner import Captioner
    from imagesearch.models.model_source import require_model

    require_model(model, "CAPTIONER", offline, "set CAPTIONER to a local captioner folder")
    local = local_copy(model)
    check_space_fits(model, local, torch.cuda.is_available(), memory_bytes())
    return Captioner.load(str(local or model), generation, dtype_name=dtype, runtime=runtime, batch=1)  # one upload


def image_describer(manifest: dict[str, Any], model_override: str | None, prompts_override: Sequence[str],
                    offline: bool, runtime: str = "auto", dtype: str = "auto") -> ImageDescriber:
    """What describes uploads for this set: its own captioner and prompts unless overridden, loaded on first use
    in ``runtime`` and ``dtype`` (CAPTIONER_RUNTIME, CAPTIONER_DTYPE)."""
    return ImageDescriber(query_captioner(manifest, model_override, prompts_override),
                          lambda model, generation: load_query_captioner(model, generation, offline, runtime, dtype))
