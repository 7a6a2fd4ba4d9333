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
from typing import Any, Iterable

from ..errors import TrailforgeError


class WorldError(TrailforgeError):
    """A world program is malformed or has no stratified meaning."""


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
    for a program where an atom depends on itself through an `unless` (no stratification)."""
    atoms = set(program.facts) | {a for r in program.rules for a in (r.then, *r.when, *r.unless)}
    level = dict.fromkeys(atoms, 0)
    for _ in range(len(atoms) + 1):
        changed = False
        for rule in program.rules:
            need = max([level[a] for a in rule.when] + [level[a] + 1 for a in rule.unless] + [0])
            if need > level[rule.then]:
                level[rule.then] = need
                changed = True
        if not changed:
            return level
        if max(level.values()) > len(atoms):
            break
    cycle = sorted(a for a, n in level.items() if n > len(atoms) // 2) or sorted(atoms)
    raise WorldError(f"the program is not stratified: {', '.join(cycle[:4])} depend on "
                     "themselves through `unless`",
                     hint="no atom may be blocked, directly or through other rules, by itself")


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
                if rule.then not in model and all(a in model for a in rule.when) \
                        and not any(a in model for a in rule.unless):
                    model.add(rule.then)
                    changed = True
    return frozenset(model)


def holds(program: Program, query: str) -> bool:
    return query in solve(program)


def logic_json(program: Program, query: str) -> str:
    """The row's `logic` column: the program, the query and whether it holds, as compact JSON
    with a stable key order (facts sorted, rules in order)."""
    return json.dumps({"facts": sorted(program.facts), "rules": [r.as_json() for r in program.rules],
                       "query": query, "holds": holds(program, query)}, separators=(",", ":"))


def parse_logic(text: str) -> tuple[Program, str, bool]:
    """A `logic` column value back as (program, query, recorded holds); WorldError if malformed."""
    try:
        data = json.loads(text)
        rules = tuple(Rule(then=r["then"], when=tuple(r["if"]), unless=tuple(r["unless"]))
                      for r in data["rules"])
        program = Program(facts=frozenset(data["facts"]), rules=rules)
        query, recorded = data["query"], data["holds"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WorldError(f"malformed logic: {exc}") from None
    if not isinstance(query, str) or not isinstance(recorded, bool):
        raise WorldError("malformed logic: query must be an atom and holds true or false")
    return program, query, recorded
