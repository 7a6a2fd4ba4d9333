"""A small defeasible rule language and its solver.

A program is a set of ground *facts* and *rules* `if A and B then C unless D`. Atoms are plain
strings ("heron(pip)"). Semantics: closed world (an atom holds only if it is a fact or a rule
derives it), negation as failure for `unless` (a rule is blocked while one of its `unless` atoms
holds), evaluated stratum by stratum by forward chaining. A program is *stratified* when no atom
depends on itself through an `unless`; an unstratified program has no such meaning and is refused.

Exceptions and exceptions to exceptions are ordinary rules: "herons fly unless grounded",
"a hurt heron is grounded unless it was treated".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from ..errors import WorldError


@dataclass(frozen=True)
class Rule:
    """`then` holds when every `if` atom holds and no `unless` atom does."""

    then: str
    when: tuple[str, ...] = ()  # the `if` atoms
    unless: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"if": list(self.when), "unless": list(self.unless), "then": self.then}


@dataclass(frozen=True)
class Program:
    facts: frozenset[str]
    rules: tuple[Rule, ...] = field(default=())

    def with_facts(self, add: Iterable[str] = (), remove: Iterable[str] = ()) -> "Program":
        return Program(facts=(self.facts - frozenset(remove)) | frozenset(add), rules=self.rules)

    def with_rules(self, *rules: Rule) -> "Program":
        return Program(facts=self.facts, rules=self.rules + rules)


def strata(program: Program) -> dict[str, int]:
    """Each atom's stratum: at least its `if` atoms', above its `unless` atoms'. Raises WorldError
    for a program where an atom depends on itself through an `unless` (no stratification).

    Strata depend only on the shape of the rules (which atom each rule reads and derives), so
    they are computed once per shape: generated programs share a few shapes."""
    atoms = list(
        dict.fromkeys(
            [a for r in program.rules for a in (r.then, *r.when, *r.unless)] + sorted(program.facts)
        )
    )
    number = {a: i for i, a in enumerate(atoms)}
    shape = tuple(
        (number[r.then], tuple(number[a] for a in r.when), tuple(number[a] for a in r.unless))
        for r in program.rules
    )
    levels = _shape_strata(shape, len(atoms))
    if levels is None:
        raise WorldError(
            "the program is not stratified: an atom depends on itself through "
            f"`unless` (among {', '.join(sorted(atoms)[:6])})",
            hint="no atom may be blocked, directly or through other rules, by itself",
        )
    return dict(zip(atoms, levels))


@lru_cache(maxsize=1024)
def _shape_strata(shape: tuple, count: int) -> tuple[int, ...] | None:
    """Strata of atoms 0..count-1 under rules `shape` (then, ifs, unlesses), or None if a
    negative cycle makes them grow past the number of atoms."""
    level = [0] * count
    for _ in range(count + 1):
        changed = False
        for then, when, unless in shape:
            need = max([level[a] for a in when] + [level[a] + 1 for a in unless] + [0])
            if need > level[then]:
                level[then] = need
                changed = True
        if not changed:
            return tuple(level)
        if max(level) > count:
            break
    return None


def solve(program: Program) -> frozenset[str]:
    """Every atom that holds: the facts and what the rules derive, stratum by stratum."""
    level = strata(program)
    model = set(program.facts)
    for stratum in range(max(level.values(), default=0) + 1):
        rules = [r for r in program.rules if level[r.then] == stratum]
        changed = True
        while changed:
            changed = False
            for rule in rules:
                if (
                    rule.then not in model
                    and all(a in model for a in rule.when)
                    and not any(a in model for a in rule.unless)
                ):
                    model.add(rule.then)
                    changed = True
    return frozenset(model)


def holds(program: Program, query: str) -> bool:
    return query in solve(program)


def logic_json(program: Program, query: str) -> str:
    """The row's `logic` column: the program, the query and whether it holds, as compact JSON
    with a stable key order (facts sorted, rules in order)."""
    return json.dumps(
        {
            "facts": sorted(program.facts),
            "rules": [r.as_json() for r in program.rules],
            "query": query,
            "holds": holds(program, query),
        },
        separators=(",", ":"),
    )


def parse_logic(text: str) -> tuple[Program, str, bool]:
    """A `logic` column value back as (program, query, recorded holds); WorldError if malformed."""
    try:
        data = json.loads(text)
        rules = tuple(
            Rule(then=r["then"], when=tuple(r["if"]), unless=tuple(r["unless"]))
            for r in data["rules"]
        )
        program = Program(facts=frozenset(data["facts"]), rules=rules)
        query, recorded = data["query"], data["holds"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WorldError(f"malformed logic: {exc}") from None
    if not isinstance(query, str) or not isinstance(recorded, bool):
        raise WorldError("malformed logic: query must be an atom and holds true or false")
    return program, query, recorded
