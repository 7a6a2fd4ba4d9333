"""The local engine: a process pool forked after the inputs are loaded (nothing loads twice)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Iterator, Sequence

from ..inputs import Inputs
from ..shard import ShardJob, ShardResult, run_shard

_INPUTS: Inputs | None = None


def _die_with(parent: int) -> None:
    """End this worker if the parent dies, even by SIGKILL (Linux): forked workers inherit the
    pool's pipes, so they would otherwise wait forever, or write into a workspace being resumed."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: nothing to arm
        return
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _init_worker(parent: int) -> None:
    """Workers leave Ctrl-C and SIGTERM to the parent, which stops them and cleans up."""
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    torch = sys.modules.get("torch")  # loaded only for max_drift: one thread per worker process
    if torch is not None:
        torch.set_num_threads(1)


def _run(job: ShardJob) -> ShardResult:
    assert _INPUTS is not None, "workers are forked after the inputs are loaded"
    return run_shard(_INPUTS, job)


def run(
    inputs: Inputs, jobs: Sequence[ShardJob], workers: int, address: str | None = None
) -> Iterator[ShardResult]:
    """The Engine protocol on a local process pool (`address` is unused)."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield run_shard(inputs, job)
        return
    global _INPUTS
    _INPUTS = inputs
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=(os.getpid(),),
    )
    try:
        futures = [pool.submit(_run, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()
    finally:
        # On an interrupt, drop the shards not started yet instead of finishing the whole build.
        pool.shutdown(wait=True, cancel_futures=True)
        _INPUTS = None
