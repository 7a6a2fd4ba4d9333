"""The Ray engine: the same shard function as Ray tasks, on a local Ray instance or a cluster.

Shards are side-effecting tasks (each writes its part files and marker), so they run as plain Ray
tasks, which Ray Data would only wrap. On a cluster the output folder must be on storage that every
node can write (the part files are merged by the driver). Install with `pip install -e '.[ray]'`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

from ..build import Inputs, load_inputs
from ..errors import TrailforgeError
from ..recipe import Recipe
from ..shard import ShardJob, run_shard

_CACHE: dict[str, Inputs] = {}


def _task(recipe_fields: dict[str, Any], base_dir: str, job: ShardJob) -> dict[str, Any]:
    """Runs on a Ray worker: load the inputs once per worker process, then build the shard."""
    key = repr(sorted(recipe_fields.items())) + base_dir
    if key not in _CACHE:
        recipe = Recipe.model_validate({**recipe_fields, "base_dir": Path(base_dir)})
        _CACHE[key] = load_inputs(recipe)
    return run_shard(_CACHE[key], job)


def run(inputs: Inputs, jobs: Sequence[ShardJob], workers: int, address: str | None = None,
        **_: Any) -> Iterator[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise TrailforgeError("the ray engine needs Ray, which is not installed",
                              hint="pip install -e '.[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, num_cpus=None if address else workers,
                     include_dashboard=False, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise TrailforgeError(f"cannot start or reach Ray: {exc}",
                                  hint="omit --address for a local Ray, or check the cluster "
                                  "address (e.g. --address auto on a node of a running cluster)"
                                  ) from None
    try:
        task = ray.remote(_task)
        fields = inputs.recipe.model_dump(mode="json")
        base_dir = str(inputs.recipe.base_dir)
        pending = [task.remote(fields, base_dir, job) for job in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started_here:
            ray.shutdown()
