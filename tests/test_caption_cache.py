"""The caption journal: what a crash leaves half-written is dropped, and only its own writer repairs a journal."""

import json


from build.caption.cache import CaptionCache


def test_partial_journal_line_from_a_crash_is_dropped(tmp_path):
    cache = CaptionCache(tmp_path)
    cache.append([{"key": "a", "description": "one"}])
    with open(cache.path, "ab") as handle:
        handle.write(b'{"key": "b", "descr')
    reopened = CaptionCache(tmp_path)
    assert "a" in reopened and "b" not in reopened
    reopened.append([{"key": "c", "description": "three"}])
    assert [json.loads(line)["key"] for line in cache.path.read_text().splitlines()] == ["a", "c"]


def test_a_journal_is_repaired_only_by_its_own_writer(tmp_path):
    other = CaptionCache(tmp_path, "captions-0-of-2")
    other.append([{"key": "a", "description": "one"}])
    with open(other.path, "ab") as handle:
        handle.write(b'{"key": "b", "descr')  # process 0 is in the middle of a write
    mine = CaptionCache(tmp_path, "captions-1-of-2")
    assert "a" in mine and "b" not in mine
    assert other.path.read_bytes().endswith(b'"descr')  # left alone: it is not this process's journal
