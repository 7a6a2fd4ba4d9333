"""The CLI reads well at 80 and 120 columns: nothing wider, no counter or reason cut, whole file
names, walks and edits labelled."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from trailforge.cli import main

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(params=[80, 120])
def narrow(monkeypatch, request):
    """The CLI's consoles at 80 and at 120 columns; the width is the fixture's value."""
    from rich.console import Console

    import trailforge.cli as cli

    width = request.param
    monkeypatch.setattr(cli, "console", Console(width=width, force_terminal=False))
    monkeypatch.setattr(cli, "err_console", Console(width=width, stderr=True, force_terminal=False))
    return width


def lines(output: str) -> list[str]:
    return ANSI.sub("", output).splitlines()


def test_build_summary_fits_the_width_with_every_reason_whole(mini_copy, narrow):
    result = CliRunner().invoke(
        main,
        [
            "build",
            "--recipe",
            str(mini_copy / "trailforge.yaml"),
            "--limit",
            "20",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    framed = [line for line in out if not line.startswith("output: ")]  # a path is kept whole
    assert max(map(len, framed)) <= narrow, max(framed, key=len)
    reasons = [line for line in out if "over_bound:" in line or "duplicate" in line]
    assert reasons and all(
        re.search(r"\b(over_bound:\w+|duplicate|not_drifting)\b", line) for line in reasons
    )
    header = next(line for line in out if line.lstrip().startswith("┃ mutator"))
    assert all(word in header for word in ("kept", "tried", "rejected", "why"))


def test_publish_plan_shows_whole_file_names_and_short_hashes(mini_build, narrow):
    result = CliRunner().invoke(
        main, ["publish", str(mini_build), "--repo-id", "org/name", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    assert max(map(len, out)) <= narrow
    shards = [line for line in out if line.startswith("data/")]
    assert shards and all(
        re.fullmatch(r"data/\S+\.parquet +\d+ +[0-9a-f]{10}", line.rstrip()) for line in shards
    )


def test_show_family_labels_walks_and_the_edited_span(mini_build, narrow):
    from trailforge.dataset import read_table

    rows = read_table(mini_build).to_pylist()
    walked = next(r for r in rows if r["walk"] is not None and r["depth"] >= 2)
    result = CliRunner().invoke(main, ["show", str(mini_build), "--family", walked["family_id"]])
    assert result.exit_code == 0, result.output
    assert f"walk {walked['walk']}, step {walked['depth']}" in result.output
    assert "· variant ·" in result.output
    assert any(mark in result.output for mark in ("→", "[+", "[-"))  # each edit in its context
