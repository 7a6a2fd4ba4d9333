"""The merge of sorted part files: runs merged in the background as parts arrive give the same
shards as one merge of every part, whatever order the parts arrive in."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq

from trailforge import write
from trailforge.write import BackgroundRuns, merge_parts, write_part

KEY = "_key"
SCHEMA = pa.schema([("row", pa.int64()), (KEY, pa.string())])


def _parts(folder, count: int, rng: random.Random) -> list:
    """`count` sorted parts; blocks (runs of one key) of 1-3 rows; no key in two parts."""
    keys = [f"{k:05d}" for k in range(count * 12)]
    rng.shuffle(keys)
    paths, row = [], 0
    for index in range(count):
        mine = sorted(keys[index * 12 : (index + 1) * 12])
        rows, column = [], []
        for key in mine:
            for _ in range(rng.randint(1, 3)):
                rows.append(row)
                column.append(key)
                row += 1
        path = folder / f"part-{index:05d}.arrow"
        write_part([pa.table({"row": rows, KEY: column}, schema=SCHEMA)], SCHEMA, path)
        paths.append(path)
    return paths


def _merged(parts, folder) -> list[bytes]:
    total = sum(pa.ipc.open_file(pa.OSFile(str(p))).read_all().num_rows for p in parts)
    written = merge_parts(
        parts,
        folder,
        "train",
        total,
        {"rows": (lambda table: table, SCHEMA)},
        KEY,
        folder / "work",
    )
    assert pq.read_table(written[0][1]).num_rows == total
    return [path.read_bytes() for _, path, _ in written]


def test_background_runs_give_the_same_shards_in_any_arrival_order(tmp_path, monkeypatch):
    monkeypatch.setattr(write, "FAN_IN", 3)  # 10 parts: three runs of 3, one part left over
    parts = _parts(tmp_path, 10, random.Random(7))
    direct = _merged(parts, tmp_path / "direct")
    arrival = parts[:]
    random.Random(1).shuffle(arrival)
    with BackgroundRuns(KEY, tmp_path / "runs") as runs:
        for part in arrival:
            runs.add("rows", "train", part)
        merged = runs.parts("rows", "train")
    assert len(merged) == 4 and sum(p.name.startswith("run-") for p in merged) == 3
    assert _merged(merged, tmp_path / "early") == direct
    assert runs.parts("rows", "test") == []


def test_ordered_gives_every_row_once_in_key_order_whatever_the_table_size(tmp_path):
    parts = _parts(tmp_path, 6, random.Random(3))
    every = pa.concat_tables(pa.ipc.open_file(pa.OSFile(str(p))).read_all() for p in parts)
    # blocks in key order, each block's rows in their part's order
    expected = [r for _, r in sorted(zip(every[KEY].to_pylist(), every["row"].to_pylist()))]
    for size in (1, 5, 7, 1000):
        tables = list(write._ordered(parts, KEY, size))
        assert all(t.num_rows == size for t in tables[:-1]) and 0 < tables[-1].num_rows <= size
        assert all(t["row"].num_chunks == 1 for t in tables)
        assert pa.concat_tables(tables)["row"].to_pylist() == expected


def _batch_sizes(path) -> list[int]:
    reader = pa.ipc.open_file(pa.OSFile(str(path)))
    return [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]


def test_wide_rows_get_smaller_part_batches_and_the_same_merged_bytes(tmp_path, monkeypatch):
    (tmp_path / "whole").mkdir()
    whole_parts = _parts(tmp_path / "whole", 5, random.Random(5))
    assert all(len(_batch_sizes(p)) == 1 for p in whole_parts)  # 12-36 rows: one batch each
    whole = _merged(whole_parts, tmp_path / "whole")
    monkeypatch.setattr(write, "MERGE_BATCH_BYTES", 100)  # rows of about 16 bytes: 6 a batch
    (tmp_path / "narrow").mkdir()
    narrow_parts = _parts(tmp_path / "narrow", 5, random.Random(5))
    for path in narrow_parts:
        rows = pa.ipc.open_file(pa.OSFile(str(path))).read_all()
        cap = write.batch_rows(rows)
        assert 1 < cap < 12 and max(_batch_sizes(path)) == cap
    assert _merged(narrow_parts, tmp_path / "narrow") == whole


def test_the_merge_gives_freed_memory_back_after_each_row_group(tmp_path, monkeypatch):
    monkeypatch.setitem(write.PARQUET_OPTIONS, "row_group_size", 10)
    calls = []
    monkeypatch.setattr(write, "_give_back_freed_memory", lambda: calls.append(1))
    parts = _parts(tmp_path, 4, random.Random(2))
    rows = sum(pa.ipc.open_file(pa.OSFile(str(p))).read_all().num_rows for p in parts)
    _merged(parts, tmp_path / "merged")
    assert len(calls) == -(-rows // 10)


def test_ahead_hands_over_items_and_the_producers_error_and_stops_when_left():
    import threading

    with write._ahead(iter(range(5))) as items:
        assert list(items) == [0, 1, 2, 3, 4]

    def failing():
        yield 1
        raise OSError("disk full")

    with write._ahead(failing()) as items:
        assert next(items) == 1
        try:
            next(items)
        except OSError as exc:
            assert str(exc) == "disk full"
        else:
            raise AssertionError("the producer's error was not raised")

    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    with write._ahead(endless()) as items:
        assert next(items) == 0
        assert next(items) == 1
    assert not any(t.name == "trailforge-merge-ahead" for t in threading.enumerate())
    assert len(produced) <= 3  # at most one item ahead of the consumer, then stopped


def test_importing_trailforge_asks_arrow_for_the_system_allocator_unless_told_otherwise():
    import os
    import subprocess
    import sys

    code = "import trailforge, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    chosen = [
        subprocess.run(
            [sys.executable, "-c", code], env=extra, capture_output=True, text=True, check=True
        ).stdout.strip()
        for extra in (env, {**env, "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"})
    ]
    assert chosen == ["system", "mimalloc"]
