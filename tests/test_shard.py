"""shard.py: one shard's job and result, and their JSON forms (what engines pass around)."""

from __future__ import annotations

import pytest

from trailforge.inputs import load_inputs
from trailforge.plan import plan
from trailforge.recipe import load_recipe
from trailforge.shard import ShardJob, ShardResult, run_shard


def test_shard_jobs_and_results_round_trip_through_json(mini_copy):
    inputs = load_inputs(load_recipe(mini_copy / "trailforge.yaml"))
    job = ShardJob(0, tuple(plan(inputs)[:3]), str(mini_copy / "parts"))
    assert ShardJob.from_json(job.to_json()) == job
    result = run_shard(inputs, job)
    assert ShardResult.from_json(result.to_json()) == result and result.families == 3


def test_a_shard_without_rows_makes_an_empty_trails_table():
    from trailforge.build import TrailsColumns
    from trailforge.configs import trails_schema

    table = TrailsColumns(["o200k_base", "cl100k_base"]).table()
    assert table.num_rows == 0
    assert table.schema == trails_schema(["o200k_base", "cl100k_base"])


def test_a_shard_freezes_what_was_alive_and_hands_it_back():
    import gc

    from trailforge.shard import collecting_only_new_objects

    alive = gc.get_freeze_count()
    with pytest.raises(RuntimeError):
        with collecting_only_new_objects():
            assert gc.get_freeze_count() > alive  # the objects alive on entry are frozen
            raise RuntimeError("a failing shard")
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    gc.freeze()  # a caller that froze objects itself keeps them frozen
    try:
        with collecting_only_new_objects():
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
