"""Executors of build shards. Each runs `shard.run_shard` on every job and yields its results as
shards finish; none can change a byte of the output (the merge orders rows by key).

An engine is a module of this package with a `run` function (the `Engine` protocol); `ENGINES`
names them, and the CLI offers exactly these. Adding one: write `engines/<name>.py` with `run`,
and list it here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Iterator, Protocol, Sequence

if TYPE_CHECKING:
    from ..inputs import Inputs
    from ..shard import ShardJob, ShardResult

#: Engine name -> what it is (the module `trailforge.engines.<name>` holds its `run`).
ENGINES = {
    "local": "a process pool forked after the inputs are loaded",
    "ray": "Ray Data tasks on a local Ray or a cluster (pip install -e '.[ray]')",
}


class Engine(Protocol):
    """Build every job's shard (`shard.run_shard`) and yield each result as its shard finishes,
    in any order; `workers` processes or actors at most; `address` only for engines that reach
    a cluster."""

    def __call__(
        self, inputs: Inputs, jobs: Sequence[ShardJob], workers: int, address: str | None = None
    ) -> Iterator[ShardResult]: ...


def get_engine(name: str) -> Engine:
    """The `run` of engine `name`; a TrailforgeError for a name that is not in ENGINES."""
    if name not in ENGINES:  # click restricts the choice; this guards the Python API
        from ..errors import TrailforgeError

        raise TrailforgeError(f"unknown engine {name!r}", hint=f"use one of {', '.join(ENGINES)}")
    return importlib.import_module(f"{__name__}.{name}").run
