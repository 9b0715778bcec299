import pytest

from imagesearch.errors import ArtifactError
from imagesearch.store.records import COLUMNS, Record, read_records, read_seed_csv, write_records

TRICKY = 'She said "hello, world",\nthen left; a comma, a "quote" and a\r\nnew line.'


def _records(n=3, description="plain"):
    return [Record(i, "ds", f"s{i}", "lbl" if i else "", f"images/{i}.jpg", description) for i in range(n)]


def test_descriptions_with_commas_quotes_and_newlines_round_trip(tmp_path):
    records = _records(description=TRICKY)
    write_records(tmp_path / "description.csv", records)
    assert read_records(tmp_path / "description.csv") == records


def test_header_is_written(tmp_path):
    write_records(tmp_path / "d.csv", _records(1))
    assert (tmp_path / "d.csv").read_text().splitlines()[0] == ",".join(COLUMNS)


@pytest.mark.parametrize(
    "header, message",
    [
        ("id,dataset,source,label,image", "missing \\['description'\\]"),
        ("id,dataset,source,label,image,description,extra", "extra \\['extra'\\]"),
    ],
)
def test_missing_or_extra_column_is_refused(tmp_path, header, message):
    (tmp_path / "d.csv").write_text(header + "\n0,ds,s,,images/0.jpg,x\n")
    with pytest.raises(ArtifactError, match=message):
        read_records(tmp_path / "d.csv")


def test_duplicated_id_is_refused(tmp_path):
    (tmp_path / "d.csv").write_text(",".join(COLUMNS) + "\n0,ds,s,,images/0.jpg,a\n0,ds,s,,images/1.jpg,b\n")
    with pytest.raises(ArtifactError, match="id 0 is duplicated"):
        read_records(tmp_path / "d.csv")


@pytest.mark.parametrize("image", ["../secret.jpg", "images/../../etc/passwd", "/etc/passwd", "manifest.json", "images\\..\\x.jpg", "images/"])
def test_image_path_escaping_the_images_folder_is_refused(tmp_path, image):
    (tmp_path / "d.csv").write_text(",".join(COLUMNS) + f"\n0,ds,s,,{image},a\n")
    with pytest.raises(ArtifactError, match="image path"):
        read_records(tmp_path / "d.csv")


def test_seed_csv_has_147_rows_whose_descriptions_keep_their_commas(seed_csv):
    rows = read_seed_csv(seed_csv)
    assert [i for i, _ in rows] == list(range(147))
    assert all(len(text) > 400 for _, text in rows)
    assert any("," in text for _, text in rows)
    assert rows[0][1].startswith(". The image features a man wearing a suit and bow tie")
