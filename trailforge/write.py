"""Writing a version: Parquet shards, dataset card, manifest and stats, atomically.

A version is built in a hidden temporary folder beside its final place and renamed at the end, so
an interrupted build leaves no version folder, and an existing version is never overwritten. Rows
reach the final shards through a k-way merge of sorted per-shard parts (see `shard.py`).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
import shutil
import threading
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from importlib import metadata
from itertools import chain as concatenated
from pathlib import Path
from queue import Queue
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from .errors import OutputError
from .layout import parse_shard, shard_path, tokenizer_copy

T = TypeVar("T")

ROWS_PER_FILE = 50_000
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "row_group_size": 10_000,
}
PACKAGES = (
    "trailforge",
    "jinja2",
    "pyarrow",
    "datasets",
    "tokenizers",
    "tiktoken",
    "bpe-openai",
    "transformers",
    "rapidfuzz",
    "pydantic",
    "pyyaml",
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


#: The files of a local tokenizer folder that AutoTokenizer reads (never model weights).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "chat_template.jinja",
    "config.json",
)


def copy_tokenizer(kind: str, resolved: str, label: str, version: Path) -> dict[str, str]:
    """Copy a file tokenizer (`tokenizers/<label>.json`) or a local tokenizer folder's tokenizer
    files (`tokenizers/<label>/`) into the version; returns {path in version: sha256}. Encodings
    and Hub tokenizers are named by their spec, so nothing is copied for them."""
    if kind == "tokenizer_json":
        sources = {tokenizer_copy(label, folder=False): Path(resolved)}
    elif kind == "transformers" and not resolved.startswith("hf:"):
        sources = {
            f"{tokenizer_copy(label, folder=True)}/{name}": Path(resolved) / name
            for name in TOKENIZER_FILES
            if (Path(resolved) / name).is_file()
        }
    else:
        return {}
    copied = {}
    for name, source in sources.items():
        target = version / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied[name] = sha256_file(target)
    return copied


def split_bytes(directory: Path, files: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per config and split, the uncompressed bytes of its rows (from the Parquet footers), as
    `datasets` records `num_bytes`."""
    out: dict[str, dict[str, int]] = {}
    for name in files:
        config, split = parse_shard(name)
        meta = pq.read_metadata(directory / name)
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        out.setdefault(config, {})[split] = out.get(config, {}).get(split, 0) + size
    return out


def _lock_owner(temp: Path) -> int | None:
    """The pid of the live process building in `temp`, or None."""
    try:
        pid = int((temp / ".lock").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


@contextmanager
def version_workspace(final: Path, fingerprint: str, resume: bool = False) -> Iterator[Path]:
    """Yield the hidden folder `.tmp-<version>-<fingerprint>` beside `final`; rename it to `final`
    on success. An interrupt (Ctrl-C, SIGTERM) or a failed write (a full disk, a folder that
    became unwritable) keeps the finished shards there for `--resume`, the latter as an
    OutputError; any other failure removes it. Either way no version folder appears unless the
    build completed."""
    if final.exists() or final.is_symlink():
        raise OutputError(
            "version folder already exists",
            file=final,
            hint="bump `version` in the recipe (or --version); versions are immutable",
        )
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the output folder: {exc.strerror or exc}",
            file=final.parent,
            hint="pass --out to a folder you can write",
        ) from None
    if not os.access(final.parent, os.W_OK):
        raise OutputError(
            "the output folder is not writable",
            file=final.parent,
            hint="pass --out to a folder you can write",
        )
    temp = final.parent / f".tmp-{final.name}-{fingerprint[:16]}"
    for other in final.parent.glob(f".tmp-{final.name}-*"):
        owner = _lock_owner(other)
        if owner is not None:
            raise OutputError(
                f"another build of this version is running (pid {owner})",
                file=other,
                hint="wait for it; if no build is running, delete that folder",
            )
        if other != temp or not resume:
            shutil.rmtree(other, ignore_errors=True)  # a stale or superseded partial build
    temp.mkdir(exist_ok=True)
    lock = temp / ".lock"
    lock.write_text(str(os.getpid()))
    try:
        yield temp
        lock.unlink()
        if final.exists():
            raise OutputError(
                "version folder appeared while building",
                file=final,
                hint="another build wrote this version; bump the version",
            )
        os.rename(temp, final)
    except KeyboardInterrupt:
        lock.unlink(missing_ok=True)
        raise
    except OSError as exc:  # the disk, not the inputs: keep what was finished
        lock.unlink(missing_ok=True)
        raise OutputError(
            f"writing the version failed: {exc.strerror or exc}",
            file=temp,
            hint="free space (or fix the folder's permissions), then run the same "
            "build with --resume: finished shards are kept",
        ) from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


#: Rows each part contributes to the merge at a time, and the record-batch size of part files,
#: at most: a batch also holds at most MERGE_BATCH_BYTES of rows, since the merge holds about
#: one batch per part (64) and rows can be wide (a worlds `trails` row is about 2.3 KB with its
#: `logic` column, where the default recipe's are under 1 KB). The layout of a part's batches
#: never changes the merged bytes.
MERGE_BATCH = 1024
MERGE_BATCH_BYTES = 1 << 20
#: Threads that write the merged rows' configs (each config's file is written by one at a time):
#: on 16,000 families' parts two wrote the default recipe's four configs about 1.3x faster than
#: one; four were a little faster still but held about 80 MB more (measured under mimalloc).
WRITERS = 2
#: At most this many part files are read at once; more are first merged into sorted runs.
FAN_IN = 64
#: Part files are temporary Arrow IPC files: no Parquet encoding to pay twice, and lz4-compressed
#: batches that the merge decompresses one at a time (lz4 writes 1.8x and reads 2.8x faster than
#: zstd; the parts take 1.7x the disk, still a fraction of the rows' size in memory).
PART_SUFFIX = ".arrow"
_PART_WRITE = ipc.IpcWriteOptions(compression="lz4")


def write_part(tables: Iterable[pa.Table], schema: pa.Schema, path: Path) -> None:
    """Write tables (already in order) as one part file of batches of `batch_rows(table)` rows."""
    with ipc.new_file(path, schema, options=_PART_WRITE) as writer:
        for table in tables:
            writer.write_table(table, max_chunksize=batch_rows(table))


def batch_rows(table: pa.Table) -> int:
    """Rows per part batch for rows like `table`'s: MERGE_BATCH, or fewer where that many would
    hold more than MERGE_BATCH_BYTES."""
    if not table.num_rows:
        return MERGE_BATCH
    return max(1, min(MERGE_BATCH, MERGE_BATCH_BYTES * table.num_rows // max(1, table.nbytes)))


def _part_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """A part's batches, read one at a time (not memory-mapped: mapped pages would stay resident
    and count against the driver's memory as the merge reads on)."""
    with pa.OSFile(str(path)) as source:
        reader = ipc.open_file(source)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


class _Part:
    """A sorted part file, read once: its blocks feed the merge, its rows wait as Arrow batches.

    A block is a run of consecutive rows with the same key (a family, in curriculum order); blocks
    of different parts never interleave, so the merge orders blocks, not rows."""

    def __init__(self, path: Path, key: str) -> None:
        self._batches = _part_batches(path)
        self._key = key
        self._pending: list[pa.RecordBatch] = []  # batches whose rows are keyed but not yet taken
        self._offset = 0  # rows of the first pending batch already taken

    def blocks(self, index: int) -> Iterator[tuple[str, int, int]]:
        """(key, index, rows) for each block, in order."""
        key, count = "", 0
        for batch in self._batches:
            self._pending.append(batch)
            runs = pc.run_end_encode(batch.column(self._key))  # one Python step a run, not a row
            start = 0
            for value, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist()):
                if value != key and count:
                    yield key, index, count
                    count = 0
                key = value
                count += end - start
                start = end
        if count:
            yield key, index, count

    def take(self, n: int) -> list[pa.RecordBatch]:
        """The next `n` rows (all already keyed), as slices of the pending batches."""
        pieces = []
        while n:
            batch = self._pending[0]
            count = min(batch.num_rows - self._offset, n)
            pieces.append(batch.slice(self._offset, count))
            n -= count
            self._offset += count
            if self._offset == batch.num_rows:
                self._pending.pop(0)
                self._offset = 0
        return pieces


def _ordered(parts: Sequence[Path], key: str, size: int) -> Iterator[pa.Table]:
    """The rows of sorted parts in key order, `size` rows per table (the last may be shorter).
    Only block keys go through Python; rows move as Arrow slices, one per part and table, put in
    order by one gather (a family a slice would make thousands of tiny pieces per table)."""
    readers = [_Part(p, key) for p in parts]
    order: list[tuple[int, int]] = []  # (part, rows) of the table being gathered, in key order
    have = 0
    for _, part, count in heapq.merge(*(r.blocks(i) for i, r in enumerate(readers))):
        while count:
            n = min(count, size - have)
            order.append((part, n))
            have, count = have + n, count - n
            if have == size:
                yield _gathered(readers, order)
                order, have = [], 0
    if order:
        yield _gathered(readers, order)


def _gathered(readers: Sequence[_Part], order: Sequence[tuple[int, int]]) -> pa.Table:
    """The rows that `order` takes from the readers ((part, rows) runs), as one table in that
    order: each part's rows come off as one slice, then a gather interleaves the runs."""
    taken = [0] * len(readers)
    for part, n in order:
        taken[part] += n
    offset = [0] * len(readers)  # where each part's rows start in the gathered pieces
    pieces: list[pa.RecordBatch] = []
    start = 0
    for part, n in enumerate(taken):
        if n:
            offset[part], start = start, start + n
            pieces += readers[part].take(n)
    indices = []
    for part, n in order:
        indices.append(range(offset[part], offset[part] + n))
        offset[part] += n
    table = pa.Table.from_batches(pieces)
    if sum(map(bool, taken)) == 1:
        return table.combine_chunks()  # one part's rows: already in order
    gather = pa.array(list(concatenated.from_iterable(indices)), pa.int64())
    return table.take(gather).combine_chunks()


def merge_run(parts: Sequence[Path], key: str, run: Path) -> Path:
    """Merge sorted parts (at most FAN_IN) into one longer sorted part file, `run`."""
    with pa.OSFile(str(parts[0])) as source:
        schema = ipc.open_file(source).schema
    run.parent.mkdir(parents=True, exist_ok=True)
    write_part(_ordered(parts, key, MERGE_BATCH * 8), schema, run)
    return run


def _runs(parts: list[Path], key: str, workdir: Path) -> list[Path]:
    """Merge groups of FAN_IN parts into longer sorted runs until at most FAN_IN remain, so the
    final merge never holds more than FAN_IN readers, whatever the number of shards."""
    level = 0
    while len(parts) > FAN_IN:
        runs = [
            merge_run(
                parts[start : start + FAN_IN],
                key,
                workdir / f"run-{level}-{group:05d}{PART_SUFFIX}",
            )
            for group, start in enumerate(range(0, len(parts), FAN_IN))
        ]
        if level:
            for old in parts:
                old.unlink()
        parts, level = runs, level + 1
    return parts


class BackgroundRuns:
    """Runs merged while the build goes on: each time FAN_IN finished parts of one source and
    split have arrived, one background thread merges them into a run, so the merge after the last
    shard reads few files instead of first merging every part once more.

    Blocks of different parts never share a key, so how parts are grouped into runs (the order in
    which shards finish) cannot change the merged order. Use as a context manager: leaving it
    waits for a running merge and drops the queued ones (on an interrupt, parts stay for
    --resume)."""

    def __init__(self, key: str, workdir: Path) -> None:
        self._key = key
        self._workdir = workdir
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trailforge-merge")
        self._waiting: dict[tuple[str, str], list[Path]] = defaultdict(list)
        self._runs: dict[tuple[str, str], list[Future[Path]]] = defaultdict(list)

    def __enter__(self) -> "BackgroundRuns":
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, source: str, split: str, part: Path) -> None:
        waiting, runs = self._waiting[source, split], self._runs[source, split]
        waiting.append(part)
        if len(waiting) == FAN_IN:
            run = self._workdir / source / split / f"run-early-{len(runs):05d}{PART_SUFFIX}"
            runs.append(self._pool.submit(merge_run, list(waiting), self._key, run))
            waiting.clear()

    def parts(self, source: str, split: str) -> list[Path]:
        """The runs of `source` and `split` (once merged) and the parts not in any run."""
        runs = [future.result() for future in self._runs.get((source, split), [])]
        return runs + self._waiting.get((source, split), [])


Projection = Callable[[pa.Table], pa.Table]


def merge_parts(
    parts: Sequence[Path],
    directory: Path,
    split: str,
    total: int,
    sinks: dict[str, tuple[Projection, pa.Schema]],
    key: str,
    workdir: Path,
    rows_per_file: int = ROWS_PER_FILE,
) -> list[tuple[str, Path, int]]:
    """K-way merge of sorted part files by `key` into Hub-style shards of one split, written for
    every config in `sinks` (config -> row-wise projection of the merged rows, and its schema).

    Memory holds at most FAN_IN readers and two row groups of rows (one being written, the next
    being merged), whatever the size of the split.
    A projection may keep fewer rows than it is given (a filter); a config left with no rows in
    the split gets no files. Returns (config, path, rows) for every file written.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    group = PARQUET_OPTIONS["row_group_size"]
    count = max(1, math.ceil(total / rows_per_file))
    written = []
    # Arrow releases the GIL while it decodes, gathers and encodes: the next row group is merged
    # in one thread while the configs' files are written in others (the same tables, in the same
    # order, go to each file, so the bytes are those of one thread doing it all).
    with (
        _ahead(_ordered(_runs(list(parts), key, workdir), key, group)) as tables,
        ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="trailforge-write") as pool,
    ):
        for index in range(count):
            n = min(rows_per_file, total - index * rows_per_file)
            paths = {config: shard_path(directory, config, split, index, count) for config in sinks}
            with ExitStack() as stack:
                writers = {}
                for config, path in paths.items():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    writers[config] = stack.enter_context(
                        pq.ParquetWriter(
                            path,
                            sinks[config][1],
                            compression=PARQUET_OPTIONS["compression"],
                            compression_level=PARQUET_OPTIONS["compression_level"],
                        )
                    )
                rows = dict.fromkeys(sinks, 0)
                for _ in range(math.ceil(n / group)):
                    table = next(tables)
                    writes = {
                        config: pool.submit(_write_projected, table, *sink, writers[config])
                        for config, sink in sinks.items()
                    }
                    for config, write in writes.items():
                        rows[config] += write.result()
                    del table, writes
                    _give_back_freed_memory()
            written += [(config, path, rows[config]) for config, path in paths.items()]
    empty = {config for config in sinks if not any(n for c, _, n in written if c == config)}
    for config, path, _ in written:
        if config in empty:
            path.unlink()
    return [entry for entry in written if entry[0] not in empty]


def _give_back_freed_memory() -> None:
    """Hand the memory Arrow freed back to the system (`malloc_trim` under glibc; nothing
    elsewhere). The merge's threads allocate from their own malloc arenas and free what other
    threads allocated, so freed memory piles up in the arenas, unused but resident: after each
    row group, this took a 25,000-frame worlds build's peak from 775 to 661 MB and a 8,000-family
    default build's from 574 to 535 MB, at no measurable cost (about 2 ms a call). Doing it
    after each shard and each early run too saved 30 MB more but cost 3% of the build (the
    freed pages fault in again)."""
    pa.default_memory_pool().release_unused()


def _write_projected(
    table: pa.Table, project: Projection, schema: pa.Schema, writer: pq.ParquetWriter
) -> int:
    """Write a config's projection of merged rows; returns how many rows it kept."""
    projected = project(table)
    writer.write_table(projected.select(schema.names).cast(schema))
    return projected.num_rows


@contextmanager
def _ahead(items: Iterator[T]) -> Iterator[Iterator[T]]:
    """`items`, each produced in a background thread while the consumer works on the one before
    (never more than that one ahead: memory holds two items). An error in the producer is raised
    in the consumer; leaving the block stops the producer."""
    handed: Queue[tuple[bool, Any]] = Queue()
    wanted = threading.Semaphore(0)  # items the producer may make before the consumer asks again
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                handed.put((True, item))
                while not wanted.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
            handed.put((False, None))
        except BaseException as exc:  # handed to the consumer
            handed.put((False, exc))

    def consume() -> Iterator[T]:
        while True:
            more, item = handed.get()
            wanted.release()  # the consumer is done with the item before: make the next one
            if not more:
                if item is not None:
                    raise item
                return
            yield item

    producer = threading.Thread(target=produce, name="trailforge-merge-ahead", daemon=True)
    producer.start()
    try:
        yield consume()
    finally:
        stop.set()
        producer.join()


def write_json(path: Path, data: Any) -> None:
    path.write_text(
        json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8"
    )
