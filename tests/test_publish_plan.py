"""The commit plan against the Hub's limits, at 2,339 and 100,000 rows (synthetic sizes, nothing written)."""

import hashlib
from pathlib import Path, PurePosixPath

import pytest

from build.publishing.plan import Limits, LocalFile, PlanError, RemoteFile, plan_commits
from build.publishing.shards import SHARD_BYTES, cut

HUB_MAX_OPERATIONS = 100  # the Hub's "Repository limitations": fewer than 100 files per commit
HUB_MAX_FOLDER = 10_000  # and fewer than 10,000 entries per folder


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def synthetic_shards(rows: int, image_bytes: int, version: str) -> list[LocalFile]:
    sizes = [image_bytes + (i % 7) * 1000 for i in range(rows)]
    files = []
    for number, (start, stop) in enumerate(cut(sizes)):
        sha = _sha(f"{version} {start} {stop}")
        files.append(LocalFile(f"data/train-{number:05d}-{sha[:16]}.parquet", Path("/dev/null"), sum(sizes[start:stop]), sha))
    return files


SET_FILES = [LocalFile(name, Path("/dev/null"), 1 << 30, _sha(name)) for name in
             ("README.md", "description.csv", "embedding.pkl", "index.faiss", "manifest.json")]


def _tree_after(remote: set, commits) -> list[set]:
    trees, tree = [], set(remote)
    for commit in commits:
        for op in commit.operations:
            if op.op == "add":
                tree.add(op.path)
            elif op.folder:
                tree = {p for p in tree if not p.startswith(op.path + "/")}
            else:
                tree.discard(op.path)
        trees.append(set(tree))
    return trees


def _largest_folder(tree: set) -> int:
    entries = {}
    for path in tree:
        parts = PurePosixPath(path).parts
        for depth in range(len(parts)):
            entries.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
    return max(len(v) for v in entries.values())


@pytest.mark.parametrize("rows", [2_339, 100_000])
def test_every_commit_and_folder_stays_within_the_hubs_limits(rows):
    old = synthetic_shards(rows - rows // 20, 48_000, "old")  # the previous publish: 5 % fewer rows, other shards
    remote = {f.path: RemoteFile(f.path, f.size, f.sha256, None) for f in old}
    remote |= {f.path: RemoteFile(f.path, f.size, _sha("old " + f.path), None) for f in SET_FILES}
    remote |= {".gitattributes": RemoteFile(".gitattributes", 10, None, "x")}
    # and the one-file-per-image folder of the old layout, at the size it could have had
    remote |= {f"images/{i}.jpg": RemoteFile(f"images/{i}.jpg", 9, None, "y") for i in range(min(rows, 9_000))}
    new = synthetic_shards(rows, 50_000, "new")
    plan = plan_commits("alice/data", "a" * 40, new, SET_FILES, remote, "Publish")
    assert all(s.size <= SHARD_BYTES for s in new) and len(new) >= rows * 50_000 // SHARD_BYTES
    assert [c.kind for c in plan.commits].count("set") == 1
    for commit, tree in zip(plan.commits, _tree_after(set(remote), plan.commits)):
        assert 0 < len(commit.operations) < HUB_MAX_OPERATIONS
        assert _largest_folder(tree) < HUB_MAX_FOLDER
    final = _tree_after(set(remote), plan.commits)[-1]
    assert final == {f.path for f in new + SET_FILES} | {".gitattributes"}
    kinds = [c.kind for c in plan.commits]
    assert kinds.index("set") > max(i for i, k in enumerate(kinds) if k == "shards")  # shards land first


def test_shards_already_on_the_hub_are_not_planned_again():
    shards = synthetic_shards(10_000, 50_000, "v1")
    remote = {f.path: RemoteFile(f.path, f.size, f.sha256, None) for f in shards[:-2]}
    plan = plan_commits("alice/data", "a" * 40, shards, SET_FILES, remote, "Publish")
    added = [op.path for c in plan.commits for op in c.operations if op.op == "add"]
    assert sorted(p for p in added if p.startswith("data/")) == sorted(f.path for f in shards[-2:])
    assert set(plan.unchanged) == {f.path for f in shards[:-2]}




def test_a_plan_that_would_overfill_a_folder_is_refused():
    shards = synthetic_shards(40_000, 50_000, "v1")  # 8 shards
    with pytest.raises(PlanError, match=r"after commit 1, folder 'data' would hold 8 entries"):
        plan_commits("alice/data", None, shards, SET_FILES, {}, "Publish", Limits(max_operations=50, max_folder_entries=6))




def test_a_legacy_images_folder_past_the_folder_limit_is_migrated_in_one_folder_delete():
    legacy = {f"images/{i}.jpg": RemoteFile(f"images/{i}.jpg", 30_000, None, _sha(str(i))) for i in range(12_000)}
    legacy["description.csv"] = RemoteFile("description.csv", 1_000, None, _sha("old csv"))
    shards = synthetic_shards(12_000, 30_000, "v2")
    plan = plan_commits("alice/data", "a" * 40, shards, SET_FILES, legacy, "Publish")
    deletes = [op for commit in plan.commits for op in commit.operations if op.op == "delete"]
    assert [(op.path, op.folder) for op in deletes] == [("images", True)]
    trees = _tree_after(set(legacy), plan.commits)
    assert all(_largest_folder(tree) <= 12_001 for tree in trees)  # the old folder, never more, until it goes
    assert _largest_folder(trees[-1]) < HUB_MAX_FOLDER and not any(p.startswith("images/") for p in trees[-1])
