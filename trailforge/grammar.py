"""Chain grammars: the shapes of reasoning chains and the curriculum stages that use them.

A grammar file (`grammars/*.yaml`) declares *relations* (how a step relates to what precedes it:
`follows`, `opposes`, `counters`, ...) with the connectives that express each, every step kind's
default relation, named chains (ordered steps, optionally continuing another chain with `extends`)
and a map from curriculum stage to chain. Connectives are chosen by a step's relation, never by its
kind alone, so a frame whose step relates differently (a resolution that *follows* from its
complication) gets a connective that says so. Loading validates everything and resolves `extends`,
so the rest of the pipeline sees plain, flat `Chain`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .errors import GrammarError
from .yamlio import LineDict, line_at, load_yaml

STEP_KINDS: tuple[str, ...] = ("premise", "consequence", "complication", "resolution", "conclusion")
#: Relations of steps the chain *infers*; a step of any other relation states a fact.
INFERRED_RELATIONS = frozenset({"follows", "concludes"})


@dataclass(frozen=True)
class Slot:
    """One step of a chain: its kind, the frame field that fills it and its default relation."""

    kind: str
    field: str
    relation: str
    optional: bool = False


@dataclass(frozen=True)
class Chain:
    """A flat chain shape; its last slot is the conclusion."""

    name: str
    slots: tuple[Slot, ...]
    grammar: str  # the stem of the file that defines it

    @property
    def qualified_name(self) -> str:
        return f"{self.grammar}:{self.name}"

    def slot(self, field: str) -> Slot:
        return next(s for s in self.slots if s.field == field)

    @property
    def conclusion_field(self) -> str:
        return self.slots[-1].field


@dataclass(frozen=True)
class Grammar:
    """Every chain of the loaded grammar files, the stage -> chain map and the relations."""

    chains: dict[str, Chain]
    stages: dict[int, Chain]
    files: tuple[Path, ...]
    relations: dict[str, tuple[str, ...]]  # relation -> the connectives that express it
    contrast: frozenset[str]  # relations whose connectives mark a contrast (But, However, ...)


def _fail(
    message: str, path: Path, node: Any, key: Any = None, hint: str | None = None
) -> NoReturn:
    raise GrammarError(message, file=path, line=line_at(node, key), hint=hint)


def _connective_list(value: Any, path: Path, node: Any, key: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        _fail(
            f"{where}: connectives must be a non-empty list",
            path,
            node,
            key,
            hint='give at least one alternative, e.g. [Therefore, "Thus,"]',
        )
    if not all(isinstance(c, str) and c.strip() == c and c for c in value):
        _fail(
            f"{where}: each connective must be a non-empty string without outer spaces",
            path,
            node,
            key,
        )
    if len(set(value)) != len(value):
        _fail(f"{where}: connectives repeat", path, node, key, hint="list each alternative once")
    return tuple(value)


def _parse_slot(
    raw: Any,
    kinds: dict[str, str],
    relations: dict[str, tuple[str, ...]],
    path: Path,
    steps: list,
    index: int,
    chain: str,
) -> Slot:
    where = f"chain {chain!r}, step {index + 1}"
    node: Any  # where errors point: the steps list, or the step's own mapping
    if isinstance(raw, str):
        raw_map: dict[str, Any] = {"kind": raw}
        node, key = steps, index
    elif isinstance(raw, dict):
        raw_map, node, key = raw, raw, None
        unknown = set(raw) - {"kind", "field", "relation", "optional"}
        if unknown:
            _fail(
                f"{where}: unknown keys {sorted(unknown)}",
                path,
                raw,
                sorted(unknown)[0],
                hint="a step takes kind, field, relation, optional",
            )
    else:
        _fail(f"{where}: a step must be a kind name or a mapping", path, steps, index)
    kind = raw_map.get("kind")
    if kind not in STEP_KINDS:
        _fail(
            f"{where}: unknown step kind {kind!r}",
            path,
            node,
            "kind" if key is None else key,
            hint=f"use one of {', '.join(STEP_KINDS)}",
        )
    field = raw_map.get("field", kind)
    if not isinstance(field, str) or not field.isidentifier():
        _fail(f"{where}: field must be an identifier", path, node, "field")
    relation = raw_map.get("relation", kinds.get(kind))
    if relation is None:
        _fail(
            f"{where}: no relation for kind {kind!r}",
            path,
            node,
            key,
            hint=f"map {kind} to a relation under the file's `kinds`, or give the step one",
        )
    if relation not in relations:
        _fail(
            f"{where}: unknown relation {relation!r}",
            path,
            node,
            "relation" if key is None else key,
            hint=f"known relations: {', '.join(relations) or 'none'}",
        )
    optional = raw_map.get("optional", False)
    if not isinstance(optional, bool):
        _fail(f"{where}: optional must be true or false", path, node, "optional")
    return Slot(kind=kind, field=field, relation=relation, optional=optional)


def _resolve(
    name: str,
    raw_chains: dict[str, tuple[Path, LineDict]],
    kinds: dict[str, str],
    relations: dict[str, tuple[str, ...]],
    done: dict[str, Chain],
    visiting: list[str],
) -> Chain:
    if name in done:
        return done[name]
    path, raw = raw_chains[name]
    if name in visiting:
        cycle = " -> ".join(visiting[visiting.index(name) :] + [name])
        _fail(
            f"chains extend each other in a cycle: {cycle}",
            path,
            raw,
            "extends",
            hint="break the cycle: one chain must list its own steps",
        )
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        _fail(f"chain {name!r}: steps must be a non-empty list", path, raw, "steps")
    slots: list[Slot] = []
    parent = raw.get("extends")
    if parent is not None:
        if parent not in raw_chains:
            _fail(
                f"chain {name!r} extends unknown chain {parent!r}",
                path,
                raw,
                "extends",
                hint=f"known chains: {', '.join(sorted(raw_chains))}",
            )
        base = _resolve(parent, raw_chains, kinds, relations, done, visiting + [name])
        slots.extend(base.slots[:-1] if base.slots[-1].kind == "conclusion" else base.slots)
    slots.extend(
        _parse_slot(s, kinds, relations, path, steps, i, name) for i, s in enumerate(steps)
    )
    slot_kinds = [s.kind for s in slots]
    if slot_kinds[-1] != "conclusion" or slot_kinds.count("conclusion") != 1:
        _fail(
            f"chain {name!r} must end with exactly one conclusion step",
            path,
            raw,
            "steps",
            hint="put one `conclusion` (with the frame field it uses) as the last step",
        )
    fields = [s.field for s in slots]
    if len(set(fields)) != len(fields):
        _fail(
            f"chain {name!r} uses a frame field twice",
            path,
            raw,
            "steps",
            hint="give repeated kinds their own field, e.g. {kind: premise, field: premise_2}",
        )
    done[name] = Chain(name=name, slots=tuple(slots), grammar=path.stem)
    return done[name]


TOP_KEYS = ("relations", "contrast", "kinds", "chains", "stages")


def _relations(
    data: LineDict,
    path: Path,
    relations: dict[str, tuple[str, ...]],
    contrast: set[str],
    kinds: dict[str, str],
) -> None:
    """Read a file's `relations`, `contrast` and `kinds` into the grammar-wide maps."""
    raw = data.get("relations") or LineDict()
    if not isinstance(raw, dict):
        _fail(
            "relations must map relation names to connective lists",
            path,
            data,
            "relations",
            hint="e.g. relations: {follows: [Then, So], opposes: [But, Yet]}",
        )
    for name, alts in raw.items():
        if not isinstance(name, str) or not name.isidentifier():
            _fail(f"relation name {name!r} must be an identifier", path, raw, name)
        if name in relations:
            _fail(
                f"relation {name!r} is defined twice",
                path,
                raw,
                name,
                hint="define each relation in one grammar file",
            )
        relations[name] = _connective_list(alts, path, raw, name, f"relations.{name}")
    names = data.get("contrast") or []
    if not isinstance(names, list):
        _fail(
            "contrast must list relation names",
            path,
            data,
            "contrast",
            hint="e.g. contrast: [opposes, counters]",
        )
    for i, name in enumerate(names):
        if name not in relations:
            _fail(
                f"contrast: unknown relation {name!r}",
                path,
                names,
                i,
                hint=f"known relations: {', '.join(relations) or 'none'}",
            )
        contrast.add(name)
    raw_kinds = data.get("kinds") or LineDict()
    if not isinstance(raw_kinds, dict):
        _fail("kinds must map step kinds to their default relation", path, data, "kinds")
    for kind, relation in raw_kinds.items():
        if kind not in STEP_KINDS:
            _fail(
                f"kinds: unknown step kind {kind!r}",
                path,
                raw_kinds,
                kind,
                hint=f"use one of {', '.join(STEP_KINDS)}",
            )
        if relation not in relations:
            _fail(
                f"kinds.{kind}: unknown relation {relation!r}",
                path,
                raw_kinds,
                kind,
                hint=f"known relations: {', '.join(relations) or 'none'}",
            )
        kinds[kind] = relation


def load_grammar(paths: list[Path]) -> Grammar:
    """Load and validate grammar files; chains may extend chains of any listed file, and
    relations and step-kind defaults are shared by all of them."""
    if not paths:
        raise GrammarError("no grammar files given", hint="list grammars/*.yaml in the recipe")
    raw_chains: dict[str, tuple[Path, LineDict]] = {}
    relations: dict[str, tuple[str, ...]] = {}
    contrast: set[str] = set()
    kinds: dict[str, str] = {}
    raw_stages: list[tuple[Path, LineDict, Any]] = []
    for path in paths:
        data = load_yaml(path, GrammarError, "grammar")
        if not isinstance(data, LineDict):
            raise GrammarError(
                "a grammar file must be a mapping",
                file=path,
                line=1,
                hint=f"top-level keys: {', '.join(TOP_KEYS)}",
            )
        unknown = set(data) - set(TOP_KEYS)
        if unknown:
            hint = f"top-level keys: {', '.join(TOP_KEYS)}"
            if "connectives" in unknown:
                hint = (
                    "connectives now belong to relations: `relations: {follows: [Then, So]}` "
                    "and `kinds: {consequence: follows}`"
                )
            _fail(
                f"unknown top-level keys {sorted(unknown)}",
                path,
                data,
                sorted(unknown)[0],
                hint=hint,
            )
        _relations(data, path, relations, contrast, kinds)
        chains = data.get("chains") or LineDict()
        if not isinstance(chains, dict):
            _fail("chains must be a mapping of name -> chain", path, data, "chains")
        for name, raw in chains.items():
            if name in raw_chains:
                _fail(
                    f"chain {name!r} is defined twice (also in {raw_chains[name][0]})",
                    path,
                    chains,
                    name,
                    hint="rename one of them",
                )
            if not isinstance(raw, LineDict):
                _fail(f"chain {name!r} must be a mapping with `steps`", path, chains, name)
            unknown = set(raw) - {"steps", "extends", "description"}
            if unknown:
                _fail(
                    f"chain {name!r}: unknown keys {sorted(unknown)}",
                    path,
                    raw,
                    sorted(unknown)[0],
                    hint="a chain takes steps, extends, description",
                )
            raw_chains[name] = (path, raw)
        if "stages" in data:
            raw_stages.append((path, data, data["stages"]))
    done: dict[str, Chain] = {}
    for name in raw_chains:
        _resolve(name, raw_chains, kinds, relations, done, [])
    stages: dict[int, Chain] = {}
    for path, data, raw in raw_stages:
        if not isinstance(raw, LineDict):
            _fail("stages must map stage numbers to chain names", path, data, "stages")
        for number, chain_name in raw.items():
            if not isinstance(number, int) or isinstance(number, bool) or number < 1:
                _fail(f"stage {number!r} must be a positive integer", path, raw, number)
            if chain_name not in done:
                _fail(
                    f"stage {number} references unknown chain {chain_name!r}",
                    path,
                    raw,
                    number,
                    hint=f"known chains: {', '.join(sorted(done)) or 'none'}",
                )
            if number in stages:
                _fail(f"stage {number} is defined twice", path, raw, number)
            stages[number] = done[chain_name]
    if not stages:
        raise GrammarError(
            "no curriculum stages defined",
            file=paths[0],
            hint="add `stages: {1: <chain>, ...}` to a grammar file",
        )
    return Grammar(
        chains=done,
        stages=dict(sorted(stages.items())),
        files=tuple(paths),
        relations=relations,
        contrast=frozenset(contrast),
    )
