"""The caption stage's last part: description.csv and the manifest, written from the journal in source order, so
a killed and resumed run, a sharded one and one on any engine write the same file. Rows already in an existing
description.csv keep their ids; new images are appended."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from imagesearch.errors import ArtifactError
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import staged
from imagesearch.store.records import Record, write_records

from build.row_ids import assign_ids, ids_to_keep

from .cache import CaptionCache
from .plan import Planned, Summary, captioner_manifest
from .settings import DescribeConfig
from .sources import SEED_DATASETS


def write_descriptions(folder: Path, order: list[Planned], cache: CaptionCache, config: DescribeConfig,
                       summary: Summary) -> list[Record]:
    """description.csv from the journal: previous rows keep their ids, new ones follow in source order."""
    captioned = [p for p in order if p.key in cache]
    manifest = mf.load_or_create(folder)
    rows, ids, next_id = assign_ids([(p.item.dataset, p.item.source) for p in captioned],
                                    *ids_to_keep(folder, config.ids_from, config.offline))
    records, made_with = [], Counter()
    for row_id, planned in zip(ids, (captioned[i] for i in rows)):
        entry = cache.get(planned.key)
        made_with[entry.get("runtime", "unrecorded")] += 1
        records.append(Record(row_id, planned.item.dataset, planned.item.source, planned.item.label,
                              entry["image"], entry["description"]))
    if not records:
        if summary.reasons:
            raise ArtifactError(f"{folder}: no image could be captioned ({summary.skipped} skipped, {summary.failed} failed: "
                                "the reasons are above)")
        raise ArtifactError(f"{folder}: the datasets given hold no image ({', '.join(config.datasets)}); "
                            "check --datasets")
    manifest["next_id"] = next_id
    manifest["captioner"] = {**captioner_manifest(config), "made_with": dict(made_with.most_common())}
    manifest["sources"] = {name: SEED_DATASETS[name].repo if name in SEED_DATASETS else "local folder"
                           for name in config.datasets}
    manifest["embedding"] = None  # the vectors no longer match: run embed and index again
    manifest["index"] = None
    with staged(folder) as stage:  # a failed write leaves the previous set whole
        write_records(stage.path(mf.DESCRIPTIONS), records)
        mf.write_manifest(folder, manifest, records, stage)
    return records
