"""Parquet shards cut by image bytes in id order: appending rows moves only the last boundary."""



from build.publishing.shards import cut


def test_appending_rows_only_changes_the_last_shard_boundary():
    sizes = [50_000 + (i % 13) * 997 for i in range(30_000)]
    before, after = cut(sizes), cut(sizes + [60_000] * 500)
    assert after[:len(before) - 1] == before[:-1]


def test_a_single_image_larger_than_a_shard_gets_a_shard_of_its_own():
    assert cut([10, 500, 10, 10], max_bytes=100) == [(0, 1), (1, 2), (2, 4)]
