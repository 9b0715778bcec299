"""manifest.json: read strictly, written last with a checksum of every file, and checked file by file."""

import json

import pytest

from imagesearch.errors import ArtifactError
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import staged
from imagesearch.store.records import Record


def _one_line(call, match):
    with pytest.raises(ArtifactError, match=match) as refused:
        call()
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("text, match", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({"schema_version": 2, "count": 0, "captioner": {}, "files": {}}), "schema_version 2 is not supported"),
    (json.dumps({"schema_version": 1, "count": 0, "files": {}}), "missing key 'captioner'"),
    (json.dumps({"schema_version": 1, "count": 0, "captioner": {}, "files": []}), "'files' must be an object"),
])
def test_a_malformed_manifest_is_refused_in_one_line_naming_the_fix(tmp_path, text, match):
    (tmp_path / mf.MANIFEST).write_text(text)
    _one_line(lambda: mf.read_manifest(tmp_path), match)


def _set(folder):
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "a.jpg").write_bytes(b"jpeg")
    records = [Record(0, "d", "a", "", "images/a.jpg", "a cat")]
    (folder / mf.DESCRIPTIONS).write_text("csv")
    return records


def test_the_manifest_is_written_last_with_the_staged_versions_checksums(tmp_path):
    records = _set(tmp_path)
    with staged(tmp_path) as stage:
        stage.path(mf.DESCRIPTIONS).write_text("new csv")
        written = mf.write_manifest(tmp_path, mf.new_manifest({"model": mf.HAND_WRITTEN}), records, stage)
        assert not (tmp_path / mf.MANIFEST).exists()  # not before the commit
    assert json.loads((tmp_path / mf.MANIFEST).read_text()) == written
    assert written["count"] == 1 and set(written["files"]) == {mf.DESCRIPTIONS, "images/a.jpg"}
    assert written["files"][mf.DESCRIPTIONS]["bytes"] == len("new csv")
    mf.verify_checksums(tmp_path, mf.read_manifest(tmp_path))


def test_a_changed_missing_or_escaping_file_is_named_by_the_checksum_check(tmp_path):
    records = _set(tmp_path)
    manifest = mf.write_manifest(tmp_path, mf.new_manifest({"model": mf.HAND_WRITTEN}), records)
    (tmp_path / "images" / "a.jpg").write_bytes(b"swapped")
    _one_line(lambda: mf.verify_checksums(tmp_path, manifest), r"images/a.jpg: sha256 .* does not match")
    (tmp_path / "images" / "a.jpg").unlink()
    _one_line(lambda: mf.verify_checksums(tmp_path, manifest), "images/a.jpg: listed in manifest.json but missing")
    outside = tmp_path.parent / "outside"
    outside.mkdir(exist_ok=True)
    (tmp_path / "linked").symlink_to(outside)  # a folder inside that leads outside
    for name in ("../x.jpg", "/etc/hostname", "linked/x.jpg"):
        _one_line(lambda: mf.verify_checksums(tmp_path, {"files": {name: {"sha256": "0" * 64}}}),
                  "points outside the artifact folder")


def test_a_lexical_weight_measured_by_evaluate_survives_a_reindex_and_a_default_does_not_pretend():
    fresh = mf.lexical_section(None, 10)
    assert fresh["weight"] == mf.DEFAULT_LEXICAL_WEIGHT and fresh["weight_source"] == "default"
    measured = mf.lexical_section({"weight": 0.7, "weight_source": "evaluate (labels)"}, 20)
    assert measured["weight"] == 0.7 and measured["bytes_in_memory"] == 20
    assert mf.set_files({"embedding": {"file": "e.pkl"}, "index": None, "lexical": {"file": "l.npz"}}) == \
        [mf.DESCRIPTIONS, "e.pkl", "l.npz"]
