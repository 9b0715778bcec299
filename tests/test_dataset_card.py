"""The published repo reads back as a Hub dataset: parquet shards with the images inside, and a card that names them."""



from build.publishing.card import CARD
from build.publishing.staging import stage
from imagesearch.serve.config import DEMO_ARTIFACTS
from imagesearch.store import manifest as mf
from imagesearch.store.records import read_records
from testkit.published import REPO_ID


def test_parquet_shards_and_card_load_back_as_a_hub_dataset(tmp_path):
    from datasets import load_dataset
    from PIL import Image

    staged = stage(DEMO_ARTIFACTS, tmp_path / "repo", REPO_ID, shard_bytes=100_000)
    assert len(staged.shards) > 1
    rows = load_dataset(str(tmp_path / "repo"), split="train", cache_dir=str(tmp_path / "cache"))
    records = read_records(DEMO_ARTIFACTS / mf.DESCRIPTIONS)
    assert rows.num_rows == len(records)
    assert rows.column_names == ["id", "image", "description", "dataset", "source", "label"]
    for row, record in zip(rows, records):
        assert (row["id"], row["description"], row["dataset"], row["source"]) == (record.id, record.description, record.dataset, record.source)
    assert rows[4]["image"].size == Image.open(DEMO_ARTIFACTS / records[4].image).size
    from huggingface_hub import DatasetCard

    card = DatasetCard((tmp_path / "repo" / CARD).read_text())
    assert card.data.configs[0]["data_files"][0]["path"] == [s.path for s in staged.shards]
    assert card.data.license == "other" and card.data.task_categories == ["image-to-text", "text-to-image"]
