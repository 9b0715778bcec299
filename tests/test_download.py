"""A published set as the Space gets it: resolved, fetched into a verified local copy, served warm without a request; every failure one line. Through huggingface_hub's real HTTP code against testkit/fake_hub.py at the transport seam."""

import json
import shutil
from pathlib import Path
import subprocess
import sys

import pytest

import app
from imagesearch.errors import ArtifactError
from imagesearch.hub.download import COMPLETE, local_folder
from imagesearch.serve.config import DEMO_ARTIFACTS, AppConfig
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import sha256_file
from testkit.hub_replies import dies_half_way
from testkit.paths import REPO
from testkit.published import REPO_ID, publish, start

REVISION = "c" * 40  # a commit sha never published: only a local copy can answer for it


def test_a_space_pinned_to_the_printed_sha_starts_without_the_images_and_reads_each_shown_one_once(hub, tmp_path):
    sha = publish()
    before = len(hub.sent)
    engine = start(tmp_path, sha)
    fetched = [s for s in hub.sent[before:] if "/resolve/" in s.path]
    # HEAD + GET for the manifest, the CSV, the two indexes and image_locations.npy: not the pickle, not a shard
    assert len(fetched) == 2 * 5 and not [s for s in fetched if s.path.endswith(mf.EMBEDDING)]
    assert not [s for s in fetched if s.path.endswith(".parquet")]  # no shard before the first answer
    assert len(hub.sent) - before == len(fetched)  # a pinned sha needs no other request
    folder = local_folder(tmp_path / "cache", REPO_ID, sha)
    assert not (folder / "images").exists()

    before = len(hub.sent)
    results = engine.search("a cat with green eyes", 5)
    assert results[0].source == "chelsea"
    reads = hub.sent[before:]
    assert len(reads) == 5 and all(s.method == "GET" and s.path.endswith(".parquet") for s in reads)  # one per image
    for result in results:  # each image came out of its shard byte for byte, into the served images/ folder
        record = engine.artifacts.records[engine.artifacts.row_of_id[result.id]]
        assert Path(result.image) == folder / record.image
        assert Path(result.image).read_bytes() == (DEMO_ARTIFACTS / record.image).read_bytes()
    before = len(hub.sent)
    assert [r.image for r in engine.search("a cat with green eyes", 5)] == [r.image for r in results]
    assert len(hub.sent) == before  # shown again: from the cache

    before = len(hub.sent)
    warm = start(tmp_path, sha)
    assert warm.artifacts.count == 23
    assert [r.image for r in warm.search("a cat with green eyes", 5)] == [r.image for r in results]
    assert len(hub.sent) == before  # a warm restart makes no request at all, and its cache survived


def test_a_tag_is_resolved_once_online_and_from_the_last_resolution_offline(hub, tmp_path):
    sha = publish(tag="live")
    assert hub.repos[("dataset", REPO_ID)].tags["live"] == sha
    start(tmp_path, "live")
    before = len(hub.sent)
    start(tmp_path, "live")
    assert [s.path for s in hub.sent[before:]] == [f"/api/datasets/{REPO_ID}/revision/live"]  # resolve, no download
    before = len(hub.sent)
    assert start(tmp_path, "live", hub_offline=True).artifacts.count == 23
    assert len(hub.sent) == before


def test_a_missing_repo_and_a_missing_revision_at_startup_are_one_line(hub, tmp_path):
    with pytest.raises(ArtifactError, match=rf"^{REPO_ID}@live: could not download the artifact set \(.*404"):
        start(tmp_path, "live")
    publish()
    with pytest.raises(ArtifactError, match=r"could not download the artifact set \(.*404.*\); check ARTIFACTS_REPO"):
        start(tmp_path, "no-such-tag")


def test_a_download_dying_half_way_is_resumed_by_the_client(hub, tmp_path):
    sha = publish()
    hub.fail(lambda r: r.method == "GET" and "/resolve/" in r.url.path and r.url.path.endswith(".faiss"), dies_half_way(hub))
    before = len(hub.sent)
    assert start(tmp_path, sha).artifacts.count == 23
    assert len([s for s in hub.sent[before:] if s.method == "GET" and s.path.endswith(".faiss")]) == 2  # asked for again


def test_a_download_that_keeps_dying_is_one_line_serves_nothing_and_the_next_start_completes(hub, tmp_path):
    sha = publish()
    hub.fail(lambda r: r.method == "GET" and r.url.path.endswith(".faiss"), dies_half_way(hub), times=None)
    with pytest.raises(ArtifactError, match=rf"^{REPO_ID}@{sha}: could not download the artifact set \(.*\); check"):
        start(tmp_path, sha)
    assert not (local_folder(tmp_path / "cache", REPO_ID, sha) / COMPLETE).exists()
    hub._faults.clear()
    assert start(tmp_path, sha).artifacts.count == 23


def test_a_damaged_or_tampered_copy_is_refused_and_fetched_again_next_start(hub, tmp_path):
    sha = publish()
    start(tmp_path, sha)
    folder = local_folder(tmp_path / "cache", REPO_ID, sha)
    (folder / mf.INDEX).write_bytes((folder / mf.INDEX).read_bytes()[:-8] + b"\x00" * 8)
    with pytest.raises(ArtifactError, match="index.faiss: sha256"):
        start(tmp_path, sha)
    before = len(hub.sent)
    assert start(tmp_path, sha).artifacts.count == 23 and len(hub.sent) > before


def test_cold_cache_offline_is_one_clear_line_and_a_nonzero_exit(tmp_path):
    env = dict(__import__("os").environ, ARTIFACTS_REPO=REPO_ID, ARTIFACTS_REVISION="b" * 40,
               ARTIFACTS_CACHE=str(tmp_path), HF_HUB_OFFLINE="1")
    env.pop("ARTIFACTS_DIR", None)
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {REPO_ID}@{'b' * 40}: could not download the artifact set (")
    assert "check ARTIFACTS_REPO, ARTIFACTS_REVISION" in last


def test_half_downloaded_folder_found_offline_is_never_served(tmp_path):
    """A folder without the completion mark (a start that died while fetching) is not served, even offline;
    one with the mark whose files were damaged later is refused and unmarked, so the next start fetches it."""
    folder = local_folder(tmp_path, "alice/data", REVISION)
    shutil.copytree(DEMO_ARTIFACTS, folder)
    config = AppConfig(artifacts_repo="alice/data", artifacts_revision=REVISION, artifacts_cache=tmp_path, hub_offline=True)
    with pytest.raises(ArtifactError, match="HF_HUB_OFFLINE=1 and no complete copy"):
        app.build_app(config)
    (folder / COMPLETE).write_text(sha256_file(folder / mf.MANIFEST))
    assert app.build_app(config)[1].artifacts.count == 23
    for image in sorted((folder / "images").iterdir())[:10]:
        image.unlink()
    with pytest.raises(ArtifactError, match="listed in manifest.json but missing"):
        app.build_app(config)
    assert not (folder / COMPLETE).exists()


def test_the_manifest_is_read_once_per_start_cold_or_warm(hub, tmp_path, monkeypatch):
    import imagesearch.hub.download as download

    sha = publish()
    reads, original = [], mf.read_manifest

    def counted(folder):
        reads.append(folder)
        return original(folder)

    monkeypatch.setattr(download, "read_manifest", counted)  # the download reads it to know the files
    monkeypatch.setattr(mf, "read_manifest", counted)  # the set's checks would read it again
    start(tmp_path, sha)  # cold: fetched, checked, marked
    assert len(reads) == 1
    start(tmp_path, sha)  # warm: the complete copy, no request
    assert len(reads) == 2


def test_a_verified_copy_is_marked_only_after_its_checks_pass_and_unmarked_when_they_fail(hub, tmp_path):
    from imagesearch.hub.download import is_complete, verified_copy

    sha = publish()
    seen = []

    def refuse(folder, manifest, source):
        seen.append((folder, manifest["count"]))
        raise ArtifactError("refused by the check")

    with pytest.raises(ArtifactError, match="refused by the check"):
        verified_copy(REPO_ID, sha, tmp_path, refuse)
    folder = local_folder(tmp_path, REPO_ID, sha)
    assert seen == [(folder, 23)] and not is_complete(folder)
    assert verified_copy(REPO_ID, sha, tmp_path, lambda f, m, s: ("checked", m is not None)) == ("checked", True)
    assert is_complete(folder)
    assert verified_copy(REPO_ID, sha, tmp_path, lambda f, m, s: ("warm", m)) == ("warm", None)  # nothing fetched or read


def test_a_check_that_fails_unexpectedly_is_one_line_and_the_copy_is_fetched_again(hub, tmp_path):
    from imagesearch.hub.download import is_complete, verified_copy

    sha = publish()
    verified_copy(REPO_ID, sha, tmp_path, lambda f, m, s: None)
    folder = local_folder(tmp_path, REPO_ID, sha)
    assert is_complete(folder)

    def crash(folder, manifest, source):
        raise ValueError("maximum supported dimension for an ndarray is 32, found 64")

    with pytest.raises(ArtifactError, match=r"the downloaded set could not be checked \(ValueError: maximum supported"):
        verified_copy(REPO_ID, sha, tmp_path, crash)
    assert not is_complete(folder)  # the next start downloads it again


def test_a_shard_row_whose_image_path_escapes_the_set_is_refused_and_nothing_is_written_outside(hub, tmp_path):
    """A hostile repo in the layout without image locations (shards unpacked at startup): a shard whose first row
    is named ../../escape.jpg, its checksum made to match."""
    import hashlib
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    sha = publish()
    files = {path: blob.read() for path, blob in hub.files(REPO_ID, sha).items()}
    manifest = json.loads(files[mf.MANIFEST])
    shard = next(path for path in files if path.startswith("data/"))
    table = pq.read_table(io.BytesIO(files[shard]))
    images = table.column("image").to_pylist()
    images[0] = dict(images[0], path="images/../../escape.jpg")
    table = table.set_column(table.schema.get_field_index("image"), "image", pa.array(images, table.schema.field("image").type))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    files[shard] = buffer.getvalue()
    manifest["published"]["shards"][shard].update(sha256=hashlib.sha256(files[shard]).hexdigest(), bytes=len(files[shard]))
    del manifest["published"]["images"]
    files[mf.MANIFEST] = json.dumps(manifest).encode()
    hub.repo("mallory/evil", files=files)
    config = AppConfig(artifacts_repo="mallory/evil", artifacts_revision=hub.head("mallory/evil"),
                       artifacts_cache=tmp_path / "cache")
    with pytest.raises(ArtifactError, match=r"row 0: image path 'images/../../escape.jpg' escapes the images folder"):
        app.build_app(config)
    assert not [p for p in tmp_path.rglob("escape.jpg")]
