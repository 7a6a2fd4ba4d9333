"""Types of the compiled inner loop (trailforge/tokenize/_splice.c)."""

from typing import Callable

def splice_bytes(
    old: bytes,
    new: bytes,
    parent_ids: list[int],
    parent_starts: list[int],
    encode_window: Callable[[bytes], tuple[list[int], Callable[[], list[int]]]],
) -> tuple[list[int], list[int], list[int], Callable[[], list[int]], int, int, int, int]: ...
def token_starts(ids: list[int], lengths: list[int]) -> list[int]: ...
def measure_bytes(
    old: bytes,
    new: bytes,
    parent_ids: list[int],
    parent_starts: list[int],
    encode_window: Callable[[bytes], tuple[list[int], Callable[[], list[int]]]],
    cutoff: int,
) -> tuple[list[int] | None, Callable[[], list[int]], int, int, int, int, int]: ...
