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
