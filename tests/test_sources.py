"""Labels from the datasets' own features: classification labels, and object categories of detection datasets."""

import io

import pytest
from datasets import ClassLabel, Dataset, Features, Image, List, Sequence, Value
from PIL import Image as PILImage

from build.caption.sources import SEED_DATASETS, _from_hf_dataset, load_folder


def _png(colour):
    buffer = io.BytesIO()
    PILImage.new("RGB", (32, 32), colour).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


FASHION = ["shirt", "pants", "dress", "shoe", "bag"]


def test_fashionpedia_like_rows_get_their_object_categories_as_label():
    """objects is a Sequence of dicts, as in detection-datasets/fashionpedia: a dict of lists per row."""
    features = Features({
        "image_id": Value("int64"), "image": Image(),
        "objects": Sequence({"bbox_id": Value("int64"), "category": ClassLabel(names=FASHION),
                             "bbox": Sequence(Value("float32"), length=4), "area": Value("int64")}),
    })
    rows = {"image_id": [7, 8, 9], "image": [_png("red"), _png("green"), _png("blue")],
            "objects": [{"bbox_id": [1, 2, 3], "category": [2, 3, 3], "bbox": [[0, 0, 1, 1]] * 3, "area": [1, 1, 1]},
                        {"bbox_id": [], "category": [], "bbox": [], "area": []},
                        {"bbox_id": [4, 5], "category": [4, 0], "bbox": [[0, 0, 1, 1]] * 2, "area": [1, 1]}]}
    items = list(_from_hf_dataset(SEED_DATASETS["fashionpedia"], Dataset.from_dict(rows, features=features)))
    assert [(i.source, i.label) for i in items] == [("7", "dress, shoe"), ("8", ""), ("9", "bag, shirt")]
    assert items[0].read()[:4] == b"\x89PNG"


def test_keremberke_like_rows_with_a_list_of_objects_get_labels_too():
    """objects as a List of dicts (the newer datasets layout), as the NFL and plane sets may load."""
    features = Features({
        "image_id": Value("int64"), "image": Image(),
        "objects": List({"id": Value("int64"), "category": ClassLabel(names=["helmet", "helmet-blurred", "player"])}),
    })
    rows = {"image_id": [1, 2], "image": [_png("red"), _png("green")],
            "objects": [[{"id": 1, "category": 2}, {"id": 2, "category": 0}, {"id": 3, "category": 2}], []]}
    items = list(_from_hf_dataset(SEED_DATASETS["nfl"], Dataset.from_dict(rows, features=features)))
    assert [i.label for i in items] == ["player, helmet", ""]


def test_classification_labels_still_come_from_their_class_names():
    features = Features({"image": Image(), "label": ClassLabel(names=["cat", "dog", "rabbit"])})
    dataset = Dataset.from_dict({"image": [_png("red"), _png("blue")], "label": [2, 0]}, features=features)
    assert [i.label for i in _from_hf_dataset(SEED_DATASETS["pets"], dataset)] == ["rabbit", "cat"]


@pytest.mark.parametrize("name", ["fashionpedia", "nfl", "planes"])
def test_every_detection_dataset_reads_its_object_categories(name):
    assert SEED_DATASETS[name].objects_column == "objects"


def test_sub_folders_of_a_local_folder_become_labels(photo_folder):
    labels = {item.source: item.label for item in load_folder(photo_folder)}
    assert labels["animals/chelsea.png"] == "animals" and set(labels.values()) == {"animals", "space", "things"}
