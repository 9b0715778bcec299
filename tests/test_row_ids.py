"""Stable row ids: an item keeps its id, removed ids are never reused, new items follow in the order given."""

from build.row_ids import assign_ids, previous_ids
from imagesearch.store.records import Record, write_records


def test_a_first_build_numbers_items_in_order_from_next_id():
    order, ids, next_id = assign_ids([("d", "a"), ("d", "b")], {}, 0)
    assert order == [0, 1] and ids == [0, 1] and next_id == 2


def test_kept_items_keep_their_ids_and_new_ones_get_ids_never_given_before():
    previous = {("d", "a"): 0, ("d", "b"): 1, ("d", "c"): 2}
    items = [("d", "new"), ("d", "c"), ("d", "a")]  # b was removed; a new item comes first in source order
    order, ids, next_id = assign_ids(items, previous, next_id=5)  # ids 3 and 4 were given once and retired
    assert [items[i] for i in order] == [("d", "a"), ("d", "c"), ("d", "new")]
    assert ids == [0, 2, 5] and next_id == 6  # 1, 3 and 4 are never given again


def test_a_next_id_below_the_largest_previous_id_is_raised_past_it():
    _, ids, next_id = assign_ids([("d", "x")], {("d", "a"): 9}, next_id=0)
    assert ids == [10] and next_id == 11


def test_previous_ids_come_from_an_existing_csv_and_an_unreadable_one_counts_as_none(tmp_path):
    assert previous_ids(tmp_path / "description.csv") == {}
    write_records(tmp_path / "description.csv", [Record(7, "d", "a", "", "images/a.jpg", "x")])
    assert previous_ids(tmp_path / "description.csv") == {("d", "a"): 7}
    (tmp_path / "description.csv").write_text("not,a,valid,header\n")
    assert previous_ids(tmp_path / "description.csv") == {}


def _set(folder, items, next_id=None):
    import json

    folder.mkdir(parents=True)
    rows = [Record(i, d, s, "", f"images/{i}.jpg", f"text {i}") for i, (d, s) in sorted(items)]
    write_records(folder / "description.csv", rows)
    if next_id is not None:
        (folder / "manifest.json").write_text(json.dumps({"next_id": next_id}))
    return folder


def test_an_empty_folder_keeps_the_ids_of_the_set_named_by_ids_from(tmp_path):
    from build.row_ids import ids_to_keep

    old = _set(tmp_path / "old", [(7, ("a", "x.jpg")), (3, ("a", "y.jpg"))], next_id=12)
    keep, next_id = ids_to_keep(tmp_path / "new", str(old))
    assert keep == {("a", "x.jpg"): 7, ("a", "y.jpg"): 3} and next_id == 12  # id 11, removed earlier, stays retired
    order, ids, _ = assign_ids([("a", "new.jpg"), ("a", "x.jpg"), ("a", "y.jpg")], keep, next_id)
    assert dict(zip([["new", "x", "y"][i] for i in order], ids)) == {"y": 3, "x": 7, "new": 12}
    assert ids_to_keep(tmp_path / "new", str(old / "description.csv"))[0] == keep


def test_the_folders_own_ids_come_first_and_ids_from_never_gives_one_id_twice(tmp_path):
    from build.row_ids import ids_to_keep

    own = _set(tmp_path / "own", [(0, ("a", "x.jpg"))])
    other = _set(tmp_path / "other", [(5, ("a", "x.jpg")), (0, ("a", "z.jpg")), (2, ("a", "w.jpg"))])
    keep, next_id = ids_to_keep(own, str(other))
    assert keep == {("a", "x.jpg"): 0, ("a", "w.jpg"): 2} and next_id == 6


def test_ids_from_that_is_neither_a_set_nor_a_repo_is_one_line(tmp_path):
    import pytest

    from build.row_ids import ids_to_keep
    from imagesearch.errors import ArtifactError

    with pytest.raises(ArtifactError, match=r"--ids-from ./missing: not found; give the artifact folder"):
        ids_to_keep(tmp_path / "new", "./missing")
    with pytest.raises(ArtifactError, match=r"--ids-from owner/set: HF_HUB_OFFLINE=1 cannot read a Hub repo"):
        ids_to_keep(tmp_path / "new", "owner/set", offline=True)
