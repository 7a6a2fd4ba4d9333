"""Executors of build shards. Each runs `shard.run_shard` on every job and yields its results as
shards finish; none can change a byte of the output (the merge orders rows by key).

An engine is a module of this package with a `run` function (the `Engine` protocol); `ENGINES`
names them (a `registry.Registry` of `Lazy` entries: a module is imported only when its engine
runs), and the CLI offers exactly these. Adding one: write `engines/<name>.py` with `run`, and
add its line here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Protocol, Sequence

from ..registry import Lazy, Registry

if TYPE_CHECKING:
    from ..inputs import Inputs
    from ..shard import ShardJob, ShardResult


class Engine(Protocol):
    """Build every job's shard (`shard.run_shard`) and yield each result as its shard finishes,
    in any order; `workers` processes or actors at most; `address` only for engines that reach
    a cluster."""

    def __call__(
        self, inputs: Inputs, jobs: Sequence[ShardJob], workers: int, address: str | None = None
    ) -> Iterator[ShardResult]: ...


#: Engine name -> its `run` and what it is (the CLI's --engine choices and help).
ENGINES: Registry[Lazy[Engine]] = Registry(
    "engine",
    {
        "local": Lazy(f"{__name__}.local:run", "a process pool forked after the inputs are loaded"),
        "ray": Lazy(
            f"{__name__}.ray:run",
            "Ray Data tasks on a local Ray or a cluster (pip install -e '.[ray]')",
        ),
    },
)


def get_engine(name: str) -> Engine:
    """The `run` of engine `name` (imported now); a TrailforgeError for a name not in ENGINES."""
    return ENGINES.lookup(name).load()
