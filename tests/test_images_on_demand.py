"""A published set served without its thumbnails: each shown image read by one range request, checked against
its sha256, cached on disk within a bound; never another image. Through huggingface_hub's real HTTP code
against testkit/fake_hub.py."""

import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest

from build.publishing.shards import write_shards
from imagesearch.errors import ArtifactError
from imagesearch.hub.download import local_folder
from imagesearch.hub.image_cache import ImageCache
from imagesearch.store import manifest as mf
from imagesearch.store.image_locations import LOCATIONS
from imagesearch.store.records import read_records
from testkit.paths import DEMO_ARTIFACTS
from testkit.published import REPO_ID, publish, start


def _repo_files(hub, sha):
    return {path: blob.read() for path, blob in hub.files(REPO_ID, sha).items()}


def _republish(hub, name, files):
    hub.repo(name, files=files)
    return hub.head(name)


def _start(tmp_path, repo, sha, **options):
    import app
    from imagesearch.serve.config import AppConfig

    return app.build_app(AppConfig(artifacts_repo=repo, artifacts_revision=sha, artifacts_cache=tmp_path / "cache",
                                   **options))[1]


def test_every_published_range_holds_exactly_its_image_and_the_shards_still_read_as_a_dataset(tmp_path):
    import datasets

    records = read_records(DEMO_ARTIFACTS / mf.DESCRIPTIONS)
    shards = write_shards(DEMO_ARTIFACTS, records, tmp_path, max_bytes=60_000)
    assert len(shards) > 1
    row = 0
    for shard in shards:
        data = shard.local.read_bytes()
        for offset, length in shard.image_ranges:
            assert data[offset:offset + length] == (DEMO_ARTIFACTS / records[row].image).read_bytes()
            row += 1
    assert row == len(records)
    loaded = datasets.load_dataset("parquet", data_files=[str(s.local) for s in shards], split="train")
    assert loaded[3]["image"].size == __import__("PIL.Image").Image.open(DEMO_ARTIFACTS / records[3].image).size


def test_the_published_manifest_lists_no_image_and_the_table_holds_every_images_sha256(hub):
    import hashlib
    import io

    sha = publish()
    files = _repo_files(hub, sha)
    manifest = json.loads(files[mf.MANIFEST])
    assert sorted(manifest["files"]) == sorted(mf.set_files(manifest))
    table = np.load(io.BytesIO(files[LOCATIONS]), allow_pickle=False)
    records = read_records(DEMO_ARTIFACTS / mf.DESCRIPTIONS)
    assert [bytes(row) for row in table["sha256"]] == \
        [hashlib.sha256((DEMO_ARTIFACTS / r.image).read_bytes()).digest() for r in records]


def test_an_image_whose_bytes_do_not_match_its_sha256_is_shown_as_no_image_never_another(hub, tmp_path, caplog):
    sha = publish()
    files = _repo_files(hub, sha)
    manifest = json.loads(files[mf.MANIFEST])
    table = np.load(__import__("io").BytesIO(files[LOCATIONS]), allow_pickle=False)
    records = read_records(DEMO_ARTIFACTS / mf.DESCRIPTIONS)
    cat = next(row for row, r in enumerate(records) if r.source == "chelsea")
    shard = sorted(manifest["published"]["shards"])[int(table["shard"][cat])]
    neighbour = next(row for row in range(len(records)) if row != cat and table["shard"][row] == table["shard"][cat])
    start_at, length = int(table["offset"][cat]), int(table["length"][cat])
    other = int(table["offset"][neighbour])
    damaged = bytearray(files[shard])  # the cat's range now holds (the start of) another image's bytes
    damaged[start_at:start_at + length] = (files[shard][other:other + int(table["length"][neighbour])] + b"\0" * length)[:length]
    files[shard] = bytes(damaged)
    engine = _start(tmp_path, "mallory/swapped", _republish(hub, "mallory/swapped", files))
    with caplog.at_level(logging.WARNING, logger="imagesearch.hub.remote_images"):
        results = engine.search("a cat with green eyes", 3)
    assert results[0].source == "chelsea" and results[0].image is None
    assert all(r.image for r in results[1:])
    lines = [r.getMessage() for r in caplog.records if r.name == "imagesearch.hub.remote_images"]
    assert len(lines) == 1 and records[cat].image in lines[0] and "do not match its sha256" in lines[0]
    folder = local_folder(tmp_path / "cache", "mallory/swapped", hub.head("mallory/swapped"))
    assert not (folder / records[cat].image).exists()


def test_a_failed_read_is_one_log_line_and_no_image_and_the_next_search_reads_it(hub, tmp_path, caplog):
    sha = publish()
    engine = start(tmp_path, sha)
    hub.fail(lambda r: r.method == "GET" and r.url.path.endswith(".parquet"),
             lambda r: __import__("testkit.hub_replies", fromlist=["error"]).error(500, "storage is down"), times=None)
    with caplog.at_level(logging.WARNING, logger="imagesearch.hub.remote_images"):
        results = engine.search("a cat with green eyes", 2)
    assert [r.image for r in results] == [None, None] and results[0].source == "chelsea"
    ours = [r.getMessage() for r in caplog.records if r.name == "imagesearch.hub.remote_images"]
    assert len(ours) == 2 and all("could not be read" in line and "500" in line for line in ours)
    hub._faults.clear()
    assert all(Path(r.image).is_file() for r in engine.search("a cat with green eyes", 2))


def test_offline_a_warm_copy_shows_what_is_cached_and_sends_nothing(hub, tmp_path):
    sha = publish()
    shown = start(tmp_path, sha).search("a cat with green eyes", 2)
    before = len(hub.sent)
    engine = start(tmp_path, sha, hub_offline=True)
    results = engine.search("a cat with green eyes", 4)
    assert [r.image for r in results[:2]] == [r.image for r in shown]
    assert [r.image for r in results[2:]] == [None, None]
    assert len(hub.sent) == before


def test_a_set_published_without_image_locations_is_still_served_by_unpacking_its_shards(hub, tmp_path):
    sha = publish()
    files = _repo_files(hub, sha)
    manifest = json.loads(files[mf.MANIFEST])
    del manifest["published"]["images"]  # as published before the table existed: every image in the manifest
    manifest["files"] = json.loads((DEMO_ARTIFACTS / mf.MANIFEST).read_text())["files"]
    files[mf.MANIFEST] = json.dumps(manifest).encode()
    del files[LOCATIONS]
    old = _republish(hub, "alice/older-layout", files)
    engine = _start(tmp_path, "alice/older-layout", old)
    folder = local_folder(tmp_path / "cache", "alice/older-layout", old)
    assert len(list((folder / "images").iterdir())) == 23  # unpacked at startup, as before
    before = len(hub.sent)
    assert Path(engine.search("a cat with green eyes", 1)[0].image).is_file()
    assert len(hub.sent) == before


def test_an_image_table_pointing_outside_its_shard_is_refused_at_startup_in_one_line(hub, tmp_path):
    import hashlib
    import io

    sha = publish()
    files = _repo_files(hub, sha)
    table = np.load(io.BytesIO(files[LOCATIONS]), allow_pickle=False)
    table["offset"][4] = 10 ** 9
    buffer = io.BytesIO()
    np.save(buffer, table, allow_pickle=False)
    files[LOCATIONS] = buffer.getvalue()
    manifest = json.loads(files[mf.MANIFEST])
    manifest["published"]["images"].update(sha256=hashlib.sha256(files[LOCATIONS]).hexdigest(), bytes=len(files[LOCATIONS]))
    files[mf.MANIFEST] = json.dumps(manifest).encode()
    with pytest.raises(ArtifactError, match=rf"^{LOCATIONS}: row 4 \(id \d+\) points outside its shard;"):
        _start(tmp_path, "mallory/outside", _republish(hub, "mallory/outside", files))


def test_the_cache_keeps_the_most_recently_shown_images_within_its_bound_across_restarts(tmp_path):
    images = tmp_path / "images"
    cache = ImageCache(images, max_bytes=300)
    for name in "abc":
        cache.put(f"images/{name}.jpg", name.encode() * 100)
        time.sleep(0.02)  # file times are coarse: keep the order visible to a restart
    assert cache.get("images/a.jpg") is not None  # a is now the most recent
    time.sleep(0.02)
    cache.put("images/d.jpg", b"d" * 100)  # over 300 bytes: the least recently used (b) goes
    assert sorted(p.name for p in images.iterdir()) == ["a.jpg", "c.jpg", "d.jpg"]
    assert cache.get("images/b.jpg") is None and cache.total_bytes == 300

    again = ImageCache(images, max_bytes=200)  # a restart with a smaller bound keeps the newest
    assert sorted(p.name for p in images.iterdir()) == ["a.jpg", "d.jpg"] and again.total_bytes == 200
    (images / "a.jpg").unlink()  # removed behind its back: forgotten, not served
    assert again.get("images/a.jpg") is None and again.total_bytes == 100


@pytest.mark.parametrize("offset, length", [(2**63 - 10, 2**31 - 1), (2**62, 2**31 - 1), (990, 11), (-1, 5)])
def test_a_range_whose_end_would_wrap_or_pass_the_shard_is_refused_and_one_that_ends_on_it_is_kept(tmp_path, offset,
                                                                                                 length):
    from imagesearch.store.image_locations import locations_bytes, read_locations

    path = tmp_path / LOCATIONS
    path.write_bytes(locations_bytes([7, 8], [0, 0], [0, offset], [10, length], ["ab" * 32] * 2))
    with pytest.raises(ArtifactError, match=r"row 1 \(id 8\) points outside its shard"):
        read_locations(path, [7, 8], [1000])
    path.write_bytes(locations_bytes([7, 8], [0, 0], [0, 990], [10, 10], ["ab" * 32] * 2))
    assert read_locations(path, [7, 8], [1000])["offset"].tolist() == [0, 990]
