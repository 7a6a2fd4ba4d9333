"""The Ray engine: the same shard function as Ray Data tasks, on a local Ray instance or a cluster.

The shard jobs form a Ray Data dataset of one row per shard (one block each); `map` runs them on a
pool of `workers` actors, each of which loads the recipe's inputs once, like a model in batch
inference. A shard writes its part files and marker itself; only its JSON summary flows back. On a
cluster the output folder must be on storage that every node can write (the driver merges the
parts). Install with `pip install -e '.[ray]'`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import TrailforgeError
from ..inputs import Inputs, load_inputs
from ..recipe import Recipe
from ..shard import ShardJob, ShardResult, run_shard


class ShardBuilder:
    """A Ray Data map function with state: the loaded inputs, once per actor."""

    def __init__(self, recipe_fields: dict[str, Any], base_dir: str) -> None:
        self.inputs = load_inputs(
            Recipe.model_validate({**recipe_fields, "base_dir": Path(base_dir)})
        )

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"result": run_shard(self.inputs, ShardJob.from_json(row["job"])).to_json()}


def run(
    inputs: Inputs, jobs: Sequence[ShardJob], workers: int, address: str | None = None
) -> Iterator[ShardResult]:
    """The Engine protocol as Ray Data tasks; jobs and results cross as their JSON forms."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise TrailforgeError(
            "the ray engine needs Ray, which is not installed", hint="pip install -e '.[ray]'"
        ) from None
    if not jobs:
        return
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(
                address=address,
                num_cpus=None if address else workers,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise TrailforgeError(
                f"cannot start or reach Ray: {exc}",
                hint="omit --address for a local Ray, or check the cluster "
                "address (e.g. --address auto on a node of a running cluster)",
            ) from None
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False  # trailforge shows its own
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # ... and its own summary
        shards = ray.data.from_items(
            [{"job": job.to_json()} for job in jobs], override_num_blocks=len(jobs)
        )
        built = shards.map(
            ShardBuilder,  # type: ignore[arg-type]
            fn_constructor_kwargs={
                "recipe_fields": inputs.recipe.model_dump(mode="json"),
                "base_dir": str(inputs.recipe.base_dir),
            },
            compute=ray.data.ActorPoolStrategy(size=max(1, min(workers, len(jobs)))),
            num_cpus=1,
        )
        for row in built.iter_rows():
            yield ShardResult.from_json(row["result"])
    finally:
        if started_here:
            ray.shutdown()
