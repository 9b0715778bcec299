"""A set written by an earlier build must keep loading: format changes are deliberate.

tests/fixtures/artifacts-v1 was written by `python -m build all --no-describe`
(schema_version 1). If this test fails, the change broke every published set:
bump the schema version and write a migration instead of editing the fixture.
"""

import json

from imagesearch.serve.search import SearchEngine
from imagesearch.serve.startup import open_verified
from testkit.paths import REPO

FIXTURE = REPO / "tests" / "fixtures" / "artifacts-v1"


def test_schema_v1_set_still_loads_and_answers():
    artifacts, encoder = open_verified(FIXTURE)
    assert json.loads((FIXTURE / "manifest.json").read_text())["schema_version"] == 1
    assert artifacts.count == 4 and artifacts.datasets == ("fashionpedia", "pets", "planes", "snacks")
    engine = SearchEngine(artifacts, lambda text: encoder.encode([text])[0])
    assert engine.search("a red dress with white dots", 1)[0].source == "12"
    assert engine.search("a cat asleep on a couch", 1)[0].label == "cat"
    assert '"hello, world"' in engine.search("polka dots", 1)[0].description
