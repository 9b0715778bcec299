"""Descriptions a collection already has become a searchable set without any captioner; bad rows are named."""

import csv
import shutil

import pytest
import skimage.data

from build.import_descriptions import ImportConfig, run_import
from imagesearch.errors import ArtifactError, ConfigError
from imagesearch.store import manifest as mf
from imagesearch.store.records import read_records
from testkit.commands import run_build

PHOTOS = {"cat.png": "chelsea.png", "rocket.jpg": "rocket.jpg", "coffee.png": "coffee.png", "coins.png": "coins.png"}


@pytest.fixture
def collection(tmp_path):
    folder = tmp_path / "photos"
    (folder / "kitchen").mkdir(parents=True)
    data = skimage.data.__file__.rsplit("/", 1)[0]
    for name, source in PHOTOS.items():
        shutil.copy(f"{data}/{source}", folder / ("kitchen/" + name if name == "coffee.png" else name))
    return folder


def _csv(path, rows, header=("image", "description", "label")):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


GOOD = [("cat.png", "a tabby cat with green eyes, looking up", "animal"),
        ("rocket.jpg", 'a rocket on its launch pad at night, "Saturn" on its side', "space"),
        ("kitchen/coffee.png", "a cup of coffee on a saucer", "")]


def test_a_catalogue_becomes_a_set_that_embeds_indexes_and_answers(tmp_path, collection, minilm, capsys):
    from build.embed import EmbedConfig, run_embed
    from build.index import IndexConfig, run_index
    from imagesearch.models.encoder import MINILM
    from imagesearch.serve.config import AppConfig
    from imagesearch.serve.search import SearchEngine
    from imagesearch.serve.startup import open_served_set

    folder = tmp_path / "set"
    run_import(ImportConfig(_csv(tmp_path / "catalogue.csv", GOOD), collection, folder))
    assert capsys.readouterr().out.startswith(f"imported 3 descriptions -> {folder / mf.DESCRIPTIONS}; next: ")
    records = read_records(folder / mf.DESCRIPTIONS)
    assert [(r.id, r.dataset, r.source, r.label) for r in records] == \
        [(0, "imported", "cat.png", "animal"), (1, "imported", "rocket.jpg", "space"), (2, "imported", "kitchen/coffee.png", "")]
    assert records[1].description == GOOD[1][1]  # commas and quotes kept
    assert mf.read_manifest(folder)["captioner"]["model"] == mf.IMPORTED
    run_embed(EmbedConfig(folder, MINILM, offline=True))
    run_index(IndexConfig(folder, offline=True))
    artifacts, encoder = open_served_set(AppConfig(artifacts_dir=folder))
    engine = SearchEngine(artifacts, lambda text: encoder.encode([text])[0])
    assert engine.search("a cat", 1)[0].source == "cat.png"


@pytest.mark.parametrize("row, problem", [
    (("missing.png", "a photo that is not there", ""), "image missing.png not found"),
    (("notes.png", "a text file named like a picture", ""), "image notes.png is not an image PIL can read"),
    (("coins.png", "  ", ""), "empty description"),
    (("../outside.png", "a picture outside the folder", ""), "image ../outside.png is outside the images folder"),
    (("copy.png", "the cat again under another name", ""), "image copy.png is the same picture as catalogue.csv line 2"),
])
def test_a_bad_row_stops_the_import_naming_its_line_unless_skipped(tmp_path, collection, row, problem, capsys):
    (collection / "notes.png").write_text("not a picture")
    shutil.copy(collection / "cat.png", collection / "copy.png")
    (tmp_path / "outside.png").write_bytes((collection / "coins.png").read_bytes())
    path = _csv(tmp_path / "catalogue.csv", [GOOD[0], row])
    folder = tmp_path / "set"
    with pytest.raises(ArtifactError, match=r"1 of 2 rows cannot be imported \(first: catalogue.csv line 3: ") as refused:
        run_import(ImportConfig(path, collection, folder))
    assert problem in str(refused.value) and "\n" not in str(refused.value)
    assert not (folder / mf.DESCRIPTIONS).exists() and not (folder / mf.MANIFEST).exists()  # nothing half-written
    run_import(ImportConfig(path, collection, folder, skip_bad=True))
    assert [r.source for r in read_records(folder / mf.DESCRIPTIONS)] == ["cat.png"]
    assert f"skipped: catalogue.csv line 3: {problem}" in capsys.readouterr().err.replace("\n", " ")


def test_a_new_import_keeps_the_ids_of_the_items_still_there_and_never_reuses_the_others(tmp_path, collection):
    folder = tmp_path / "set"
    run_import(ImportConfig(_csv(tmp_path / "one.csv", GOOD), collection, folder))
    again = [GOOD[2], ("coins.png", "a few coins on a table", ""), GOOD[0]]  # rocket gone, coins new, order changed
    run_import(ImportConfig(_csv(tmp_path / "two.csv", again), collection, folder))
    assert [(r.id, r.source) for r in read_records(folder / mf.DESCRIPTIONS)] == \
        [(0, "cat.png"), (2, "kitchen/coffee.png"), (3, "coins.png")]


def test_an_item_given_twice_is_a_bad_row(tmp_path, collection):
    header = ("image", "description", "dataset", "source")
    path = _csv(tmp_path / "catalogue.csv", [("cat.png", "a cat", "shop", "sku-1"), ("coins.png", "coins", "shop", "sku-1")],
                header=header)
    with pytest.raises(ArtifactError, match="catalogue.csv line 3: item shop/sku-1 was already given on catalogue.csv line 2"):
        run_import(ImportConfig(path, collection, tmp_path / "set"))


def test_a_csv_without_the_needed_columns_is_one_line(tmp_path, collection):
    path = _csv(tmp_path / "catalogue.csv", [("cat.png", "a cat")], header=("file", "text"))
    with pytest.raises(ConfigError, match="catalogue.csv: no image or description column"):
        run_import(ImportConfig(path, collection, tmp_path / "set"))


def test_the_command_line_reports_each_bad_row_and_ends_with_one_error_line(tmp_path, collection):
    path = _csv(tmp_path / "catalogue.csv", [GOOD[0], ("missing.png", "gone", ""), ("coins.png", "", "")])
    result = run_build("import", "--csv", path, "--images", collection, "--artifacts", tmp_path / "set", check=False)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and lines[-1].startswith("error: 2 of 3 rows cannot be imported")
    assert any(line.startswith("bad row: catalogue.csv line 3: image missing.png not found in ") for line in lines)
    assert "bad row: catalogue.csv line 4: empty description" in lines
