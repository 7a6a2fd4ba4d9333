"""Showing trails readably: steps coloured by kind, variants with their changed tokens marked."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Any, Sequence

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .tokenize import Tokenizer

KIND_STYLES = {
    "premise": "cyan",
    "consequence": "green",
    "complication": "yellow",
    "resolution": "magenta",
    "conclusion": "bold red",
}


def steps_text(row: dict[str, Any]) -> Table:
    """The chain, one step a row, coloured by step kind, with each step's relation (and whether
    it is a distractor); a long step wraps under its own column. A broken chain says what does
    follow."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", style="dim", no_wrap=True)
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for step in row["steps"]:
        relation = step["relation"] + (", distractor" if step["distractor"] else "")
        grid.add_row(
            step["kind"],
            f"({relation})",
            Text(f"{step['connective']} {step['text']}.", style=KIND_STYLES.get(step["kind"], "")),
        )
    if not row["valid"]:
        grid.add_row(
            "broken", "(conclusion)", Text(f"what follows: {row['expected']}", style="bold green")
        )
    return grid


def trail_panel(row: dict[str, Any]) -> Panel:
    title = (
        f"stage {row['stage']} · {row['domain']} · {row['frame_id']} · {row['role']} · "
        f"{row['view']} · {row['split']}"
    )
    body = Group(Text(row["text"] + "\n"), steps_text(row))
    return Panel(body, title=title, subtitle=f"family {row['family_id']}", title_align="left")


def token_diff(tokenizer: Tokenizer, parent: str, child: str, brackets: bool) -> Text:
    """`child` with the tokens that differ from `parent` highlighted (or [[bracketed]])."""
    a, b = tokenizer.encode_batch([parent, child])
    pieces = [tokenizer.decode([i]) for i in b]
    out = Text()
    for tag, _, _, j1, j2 in SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        chunk = "".join(pieces[j1:j2])
        if tag == "equal":
            out.append(chunk)
        elif tag in ("replace", "insert"):
            out.append(f"[[{chunk}]]" if brackets else chunk, style="bold black on yellow")
        else:  # delete: mark where tokens went
            out.append("[[-]]" if brackets else "␡", style="bold white on red")
    return out


_WORDS = re.compile(r"\w+|[^\w\s]|\s+")


def edited_spans(parent: str, child: str, context: int = 3) -> list[str]:
    """Each place where `child` differs from `parent`, as `…before [old → new] after…` with a
    few words of context: unambiguous even when the edited word occurs twice."""
    a, b = _WORDS.findall(parent), _WORDS.findall(child)
    spans = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        before = "".join(a[max(0, i1 - 2 * context) : i1]).lstrip()
        after = "".join(a[i2 : i2 + 2 * context]).rstrip()
        raw_old, raw_new = "".join(a[i1:i2]), "".join(b[j1:j2])
        old, new = raw_old.strip(), raw_new.strip()
        change = f"+{new}" if not old else f"-{old}" if not new else f"{old} → {new}"
        lead = " " if (raw_old + raw_new)[:1].isspace() and not before.endswith(" ") else ""
        tail = " " if (raw_old + raw_new)[-1:].isspace() and not after.startswith(" ") else ""
        spans.append(f"…{before}{lead}[{change}]{tail}{after}…")
    return spans


def family_panels(
    rows: Sequence[dict[str, Any]], tokenizer: Tokenizer | None, brackets: bool
) -> list[Panel]:
    """The base trail, then each variant diffed against its parent: whether it is a single-edit
    variant or a step of a drift walk, what its edit changed (in context), and its tokens."""
    by_id = {r["id"]: r for r in rows}
    panels = [trail_panel(rows[0])]
    for row in rows[1:]:
        parent = by_id.get(row["parent_id"])
        distances = ", ".join(f"{k}={v}" for k, v in (row["token_distance"] or {}).items())
        kind = "variant" if row["walk"] is None else f"walk {row['walk']}, step {row['depth']}"
        title = f"depth {row['depth']} · {kind} · {row['mutation']['op']}" + (
            " · FLIPPED" if row["label_flipped"] else ""
        )
        edits = (
            Text("\n".join(edited_spans(parent["text"], row["text"])) + "\n", style="dim")
            if parent is not None
            else Text()
        )
        if parent is not None and tokenizer is not None:
            body = token_diff(tokenizer, parent["text"], row["text"], brackets)
        else:
            body = Text(row["text"])
        panels.append(
            Panel(
                Group(edits, body),
                title=title,
                subtitle=f"token distance: {distances}",
                title_align="left",
            )
        )
    return panels
