"""Ids outlive a rebuild from scratch: the demo rebuilt in an empty folder from its descriptions in another order,
taking its ids from the published set, publishes with every id naming the same image; without them, publish
refuses in one line naming the first moved id, unless --allow-renumber. Through the fake Hub."""

import csv

import pytest

from build.demo import DEMO_SOURCE, DemoConfig, run_demo
from imagesearch.errors import ArtifactError
from imagesearch.serve.config import DEMO_ARTIFACTS
from imagesearch.store.artifacts import load_artifact_set
from testkit.published import REPO_ID, publish


def reordered_source(tmp_path):
    with open(DEMO_SOURCE, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    path = tmp_path / "descriptions.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows[::-1])  # the same photos, listed the other way round
    return path


def named(folder):
    artifacts = load_artifact_set(folder)
    return {r.id: ((r.dataset, r.source), (artifacts.folder / r.image).read_bytes()) for r in artifacts.records}


@pytest.mark.slow
def test_a_rebuild_from_scratch_keeps_every_id_on_its_image_and_publishes(hub, tmp_path):
    first = publish()
    rebuilt = tmp_path / "rebuilt"
    run_demo(DemoConfig(source=reordered_source(tmp_path), out=rebuilt, ids_from=REPO_ID))
    assert named(rebuilt) == named(DEMO_ARTIFACTS)  # every id: the same item, the same thumbnail
    second = publish(rebuilt)
    assert second != first
    published = {r.id: (r.dataset, r.source) for r in load_artifact_set(rebuilt).records}
    assert published == {i: item for i, (item, _) in named(DEMO_ARTIFACTS).items()}


@pytest.mark.slow
def test_a_renumbered_set_is_refused_in_one_line_naming_the_first_moved_id_unless_allowed(hub, tmp_path):
    publish()
    renumbered = tmp_path / "renumbered"
    run_demo(DemoConfig(source=reordered_source(tmp_path), out=renumbered))  # no --ids-from: numbered 0.. afresh
    before = load_artifact_set(DEMO_ARTIFACTS).records[0]
    after = load_artifact_set(renumbered).records[0]
    assert before.id == after.id == 0 and before.source != after.source
    with pytest.raises(ArtifactError) as refused:
        publish(renumbered)
    line = str(refused.value)
    assert "\n" not in line and "ids would change meaning (id 0 named " in line
    assert f"rebuild with --ids-from {REPO_ID} to keep them, or pass --allow-renumber" in line
    assert f"names {after.dataset}/{after.source} here" in line
    publish(renumbered, allow_renumber=True)
