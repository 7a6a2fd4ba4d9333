"""Mechanical soundness checks: what a row *says*, beyond the token bound that `verify` checks.

Content rules read the grammar and the frames (findings name the file and line); row rules read
a built version's `trails` rows (findings name the file and the row id). Rules:

- `repeated-connective`: no connective twice in one trail;
- `contrast-connective`: a contrast connective (But, However, ...) only on a step whose relation
  is a contrast (the grammar's `contrast`), and a connective only from its relation's list;
- `anchor-function-word`: an anchor never marks only function words;
- `certainty-on-fact`: no certainty word (clearly, surely, ...) opening a stated fact;
- `flip-edit`: a flip edits exactly its named step (and the connectives of steps it re-relates)
  and yields a different conclusion; it applies in some stage;
- `stratified-splits`: every domain with enough frames reaches every split;
- `doubled-word`: no connective a step may take ends with the word its clause starts with
  ("This means that that ...").
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from .content import FUNCTION_WORDS, Content, load_content
from .dataset import read_manifest
from .errors import DatasetError
from .grammar import INFERRED_RELATIONS, Grammar, load_grammar
from .layout import config_files
from .mutate.base import connective_key
from .recipe import Recipe
from .render import Renderer

#: Connectives (first words) that mark a contrast, whatever a grammar calls them.
CONTRAST_WORDS = frozenset(
    {
        "but",
        "yet",
        "however",
        "still",
        "even so",
        "nevertheless",
        "nonetheless",
        "though",
        "although",
        "whereas",
    }
)
#: Words that raise or lower the certainty of a claim; never at the head of a stated fact.
CERTAINTY_WORDS = frozenset(
    {
        "clearly",
        "surely",
        "certainly",
        "naturally",
        "obviously",
        "evidently",
        "indeed",
        "undoubtedly",
        "definitely",
        "probably",
        "perhaps",
        "maybe",
        "possibly",
        "apparently",
        "presumably",
    }
)


def is_contrast(connective: str) -> bool:
    """Whether a connective opens with a contrast word ("But", "However, notice that")."""
    key = connective_key(connective)
    return any(key == w or key.startswith((w + " ", w + ",")) for w in CONTRAST_WORDS)


_ANCHOR_DETAIL = re.compile(r" on '(?P<words>.+)' in (?P<field>\w+)$")


@dataclass(frozen=True)
class Finding:
    """One breach of a rule, where it is."""

    rule: str
    where: str  # "file:line" for content, "file: row ID" for rows
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.rule}: {self.message}"


def _at(path: Path | None, line: int | None, base: Path) -> str:
    if path is None:
        return "?"
    try:
        shown = path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        shown = path.name
    return f"{shown}:{line}" if line else shown


def lint_grammar(grammar: Grammar, base: Path) -> Iterator[Finding]:
    """A contrast connective listed under a relation that is not a contrast."""
    where = _at(grammar.files[0], None, base)
    for relation, connectives in grammar.relations.items():
        for connective in connectives:
            if is_contrast(connective) and relation not in grammar.contrast:
                yield Finding(
                    "contrast-connective",
                    where,
                    f"{connective!r} marks a contrast but "
                    f"relation {relation!r} is not listed under `contrast`",
                )


def lint_content(
    grammar: Grammar, content: Content, base: Path, registers: dict[str, dict[str, tuple[str, ...]]]
) -> Iterator[Finding]:
    """Findings in the frames: certainty words on facts, clauses that double their connective,
    flips that apply nowhere, relation choices that force a connective to repeat under some
    role's register (anchors on function words are refused by the loader already)."""
    shortest = {
        r: min([len(grammar.relations[r])] + [len(reg[r]) for reg in registers.values()])
        for r in grammar.relations
    }
    for domain in content.domains.values():
        for frame in domain.frames:
            where = _at(frame.path, frame.line, base)
            for stage, chain in grammar.stages.items():
                if not all(s.field in frame.fields for s in chain.slots if not s.optional):
                    continue
                for slot in chain.slots:
                    text = frame.fields.get(slot.field)
                    if not text:
                        continue
                    relation = frame.relations.get(slot.field, slot.relation)
                    first = text.split(" ", 1)[0].lower()
                    if relation not in INFERRED_RELATIONS and first in CERTAINTY_WORDS:
                        yield Finding(
                            "certainty-on-fact",
                            where,
                            f"{frame.id}: {slot.field} states a fact but opens with {first!r}",
                        )
                    for connectives in [grammar.relations, *registers.values()]:
                        for c in connectives[relation]:
                            if c.rstrip(",").split(" ")[-1].lower() == first:
                                yield Finding(
                                    "doubled-word",
                                    where,
                                    f"{frame.id}: {c!r} before {slot.field} {text[:30]!r}",
                                )
                used: defaultdict[str, int] = defaultdict(int)
                for slot in chain.slots:
                    if slot.field in frame.fields:
                        used[frame.relations.get(slot.field, slot.relation)] += 1
                for relation, count in used.items():
                    if count > shortest[relation]:
                        yield Finding(
                            "repeated-connective",
                            where,
                            f"{frame.id}: stage {stage} has {count} {relation!r} steps "
                            f"but a role gives the relation only {shortest[relation]} "
                            "connectives",
                        )
            for flip in frame.flips:
                applies = [
                    s
                    for s, c in grammar.stages.items()
                    if all(x.field in frame.fields for x in c.slots if not x.optional)
                    and flip.applies(s, [x.field for x in c.slots if x.field in frame.fields])
                ]
                if not applies:
                    yield Finding(
                        "flip-edit",
                        _at(frame.path, flip.line, base),
                        f"{frame.id}: the flip of {flip.step} applies in no stage",
                    )


def lint_rows(
    directory: Path,
    grammar: Grammar,
    registers: dict[str, dict[str, tuple[str, ...]]],
    splits: list[str],
    min_frames: int,
) -> Iterator[Finding]:
    """Findings in a built version's `trails` rows; `registers` holds each role's connectives
    per relation (the grammar's, with the role's own where it has them); a domain with at least
    `min_frames` frames outside `ood` must reach every one of `splits`."""
    files = config_files(read_manifest(directory)["files"], "trails")
    by_id: dict[str, dict] = {}
    columns = [
        "id",
        "parent_id",
        "split",
        "domain",
        "frame_id",
        "role",
        "steps",
        "mutation",
        "conclusion",
    ]
    located: list[tuple[str, dict]] = []
    for name in files:
        try:
            rows = pq.read_table(directory / name, columns=columns).to_pylist()
        except (OSError, pa.ArrowException) as exc:
            why = "missing" if isinstance(exc, FileNotFoundError) else str(exc).splitlines()[0]
            raise DatasetError(
                f"cannot read shard {name}: {why}",
                file=directory / name,
                hint="run `trailforge verify` on the version",
            ) from None
        for row in rows:
            by_id[row["id"]] = row
            located.append((name, row))
    splits_of: dict[str, set[str]] = defaultdict(set)
    frames_of: dict[str, set[str]] = defaultdict(set)
    for name, row in located:
        where = f"{name}: row {row['id']}"
        yield from _lint_row(
            row, by_id, grammar, registers.get(row["role"], grammar.relations), where
        )
        if row["split"] != "ood":
            splits_of[row["domain"]].add(row["split"])
            frames_of[row["domain"]].add(row["frame_id"])
    for domain, reached in sorted(splits_of.items()):
        missing = set(splits) - reached
        if missing and len(frames_of[domain]) >= min_frames:
            yield Finding(
                "stratified-splits",
                f"domain {domain}",
                f"{len(frames_of[domain])} frames but no rows in {sorted(missing)}",
            )


def _lint_row(
    row: dict,
    by_id: dict[str, dict],
    grammar: Grammar,
    relations: dict[str, tuple[str, ...]],
    where: str,
) -> Iterator[Finding]:
    steps = row["steps"]
    keys = [connective_key(s["connective"]) for s in steps]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        yield Finding("repeated-connective", where, f"{', '.join(repeated)} used twice")
    for step in steps:
        relation, connective = step["relation"], step["connective"]
        if is_contrast(connective) and relation not in grammar.contrast:
            yield Finding(
                "contrast-connective",
                where,
                f"{connective!r} on a {relation!r} step: {step['text'][:40]!r}",
            )
        elif relation in relations and connective not in relations[relation]:
            yield Finding(
                "contrast-connective",
                where,
                f"{connective!r} is not a connective of relation {relation!r}",
            )
        first = step["text"].split(" ", 1)[0].lower()
        if relation not in INFERRED_RELATIONS and first in CERTAINTY_WORDS:
            yield Finding(
                "certainty-on-fact",
                where,
                f"{first!r} opens a stated fact ({relation}): {step['text'][:40]!r}",
            )
    mutation = row["mutation"]
    if mutation is None:
        return
    if mutation["op"] == "anchor":
        match = _ANCHOR_DETAIL.search(mutation["detail"])
        if match and all(w.lower() in FUNCTION_WORDS for w in match["words"].split()):
            yield Finding("anchor-function-word", where, f"anchor on {match['words']!r}")
    if mutation["op"] == "flip":
        parent = by_id.get(row["parent_id"])
        if parent is None:
            return
        pairs = list(zip(parent["steps"], steps))
        edited = [i for i, (p, s) in enumerate(pairs[:-1]) if p["text"] != s["text"]]
        moved = [
            i
            for i, (p, s) in enumerate(pairs)
            if p["connective"] != s["connective"] and p["relation"] == s["relation"]
        ]
        if len(edited) != 1:
            yield Finding("flip-edit", where, f"the flip edits {len(edited)} steps, not one")
        if moved:
            yield Finding(
                "flip-edit",
                where,
                f"the flip changes the connective of steps {moved} whose relation it keeps",
            )
        if row["conclusion"] == parent["conclusion"]:
            yield Finding("flip-edit", where, "the flip leaves the conclusion as it was")


def lint(recipe: Recipe, directory: Path | None = None) -> list[Finding]:
    """Every finding for a recipe's grammar and content, and for a built version's rows."""
    grammar = load_grammar(recipe.grammar_paths)
    domains = None if recipe.domains == "all" else list(recipe.domains)
    content = load_content(recipe.path(recipe.content), domains, frozenset(grammar.relations))
    renderer = Renderer(recipe.path(recipe.templates), {})
    registers = {role: renderer.register(role, grammar.relations) for role in recipe.roles}
    findings = [
        *lint_grammar(grammar, recipe.base_dir),
        *lint_content(grammar, content, recipe.base_dir, registers),
    ]
    for role, relations in registers.items():
        where = _at(recipe.path(recipe.templates) / "roles" / f"{role}.j2", None, recipe.base_dir)
        findings += [
            Finding(
                "contrast-connective",
                where,
                f"{c!r} marks a contrast but the role gives it for relation {r!r}",
            )
            for r, cs in relations.items()
            if r not in grammar.contrast
            for c in cs
            if is_contrast(c)
        ]
    if directory is not None:
        splits = [name for name, share in recipe.splits.items() if share > 0]
        smallest = min(recipe.splits[name] for name in splits)
        findings += lint_rows(
            directory, grammar, registers, splits, min_frames=math.ceil(1 / smallest)
        )
    return list(dict.fromkeys(findings))  # a frame's rule breach is found once per stage
