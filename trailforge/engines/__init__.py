"""Executors of build shards. Each runs `shard.run_shard` on every job and yields its results as
shards finish; none can change a byte of the output (the merge orders rows by key)."""

from __future__ import annotations

from typing import Any, Callable, Iterator

ENGINES = ("local", "ray")

ShardRunner = Callable[..., Iterator[dict[str, Any]]]


def get_engine(name: str) -> ShardRunner:
    if name == "local":
        from .local import run
    elif name == "ray":
        from .ray import run
    else:  # click restricts the choice; this guards the Python API
        from ..errors import TrailforgeError

        raise TrailforgeError(f"unknown engine {name!r}", hint=f"use one of {', '.join(ENGINES)}")
    return run
