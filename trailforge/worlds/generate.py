"""World frames: arguments generated from the rule language, true by construction.

One world frame is a small defeasible program about an individual of some kind, told as the
clause fields of a curated frame, so the whole pipeline (render, mutate, rows) takes it as it is:

- premise: the closed world, the rules and the fact ("in this valley, where a creature can do only
  what these rules allow, herons can fly unless they are hurt, herons that can fly can reach the
  cliffs, herons that can reach the cliffs can nest on the cliffs, and Pip is a heron"): a rule,
  its exception, two more hops. Saying that the world is closed makes "cannot" follow in plain
  English too, not only under the solver's closed-world semantics;
- consequence, consequence_2: the first two hops (Pip can fly; Pip can reach the cliffs);
- complication: the exception applies (Pip is hurt): the conclusion is blocked;
- resolution: an exception to the exception (Pip wears a charm, which lets a hurt heron fly
  anyway): the conclusion is restored;
- premise_2: a distractor, a fact and a rule about another individual that bear on nothing.

Each field contributes facts and rules; a row's program is what its chain shows, so every
stage's conclusion is the solver's answer (`can` when the query holds, `cannot` when not), and
every relation comes from the proof. Three flips by construction change one fact so that the rule
stops applying (stage 1), the exception stops firing (stage 3), or the exception to the exception
applies to someone else (stages 4-5); the solver gives each flipped conclusion.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Sequence

from ..content import Domain, Flip, Frame, GeneratedFrames, word_pattern
from ..errors import ContentError
from ..seeding import item_rng
from ..yamlio import LineDict, load_yaml
from .logic import Program, Rule, holds, logic_json

#: The stage shapes of the default grammar that world frames are told for (a premise flip is true
#: only where no consequence is shown).
PREMISE_ONLY_STAGES = (1,)
BANK_KEYS = ("places", "names", "kinds", "ood_kinds", "skills", "ood_skills", "states", "items")


@dataclass(frozen=True)
class Banks:
    """Word banks (content/worlds/banks.yaml); `ood_*` entries never occur outside `ood`."""

    places: tuple[str, ...]
    names: tuple[str, ...]
    kinds: tuple[tuple[str, str], ...]
    ood_kinds: tuple[tuple[str, str], ...]
    skills: tuple[tuple[str, str, str], ...]
    ood_skills: tuple[tuple[str, str, str], ...]
    states: tuple[str, ...]
    items: tuple[str, ...]
    path: Path | None = field(default=None, compare=False)  # the file, for errors

    def vocabulary(
        self, ood: bool
    ) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, str], ...]]:
        """The kinds and skills a frame draws from: the `ood_` lists for an ood frame."""
        return (self.ood_kinds, self.ood_skills) if ood else (self.kinds, self.skills)


def load_banks(path: Path) -> Banks:
    """Load and check the word banks: every list present, entries of the right width, no entry
    shared between train and ood lists."""
    data = load_yaml(path, ContentError, "word banks")
    if not isinstance(data, LineDict):
        raise ContentError(
            "word banks must be a mapping", file=path, line=1, hint=f"keys: {', '.join(BANK_KEYS)}"
        )
    widths = {
        "places": 0,
        "names": 0,
        "kinds": 2,
        "ood_kinds": 2,
        "skills": 3,
        "ood_skills": 3,
        "states": 0,
        "items": 0,
    }
    values: dict[str, tuple] = {}
    for key, width in widths.items():
        raw = data.get(key)
        line = data.key_lines.get(key, 1)
        if not isinstance(raw, list) or len(raw) < 2:
            raise ContentError(
                f"word banks: `{key}` must list at least two entries",
                file=path,
                line=line,
                hint=f"keys: {', '.join(BANK_KEYS)}",
            )
        for entry in raw:
            words = [entry] if width == 0 else entry
            if (width and (not isinstance(entry, list) or len(entry) != width)) or not all(
                isinstance(w, str) and w.strip() == w and w for w in words
            ):
                raise ContentError(
                    f"word banks: `{key}` entry {entry!r} must be "
                    + ("a word" if width == 0 else f"a list of {width} phrases"),
                    file=path,
                    line=line,
                )
        values[key] = tuple(raw if width == 0 else (tuple(e) for e in raw))
        _refuse_repeats(key, values[key], path, line)
    for key in ("kinds", "ood_kinds"):
        same = [e[0] for e in values[key] if e[0] == e[1]]
        if same:
            raise ContentError(
                f"word banks: {same} in `{key}` have the same singular and plural",
                file=path,
                line=data.key_lines.get(key),
                hint="a world names its kind once in the singular; pick nouns "
                "with a distinct plural",
            )
    for key in ("kinds", "skills"):
        shared = {e[0] for e in values[key]} & {e[0] for e in values[f"ood_{key}"]}
        if shared:
            raise ContentError(
                f"word banks: {sorted(shared)} are in both `{key}` and `ood_{key}`",
                file=path,
                line=data.key_lines.get(f"ood_{key}"),
                hint="an ood entry must never occur in train",
            )
    _refuse_shared_predicates(values, path, data.key_lines)
    return Banks(**values, path=path)


def _refuse_repeats(key: str, entries: tuple, path: Path, line: int) -> None:
    """No entry twice in one list, case aside: atoms lowercase names, and a frame draws its second
    name, kind, skill or state from the entries unlike the first."""
    seen: dict[str, str] = {}
    for entry in entries:
        word = entry if isinstance(entry, str) else entry[0]
        first = seen.get(word.lower())
        if first is not None:
            raise ContentError(
                f"word banks: `{key}` lists {word!r} twice"
                + ("" if first == word else f" ({first!r} and {word!r}: case does not count)"),
                file=path,
                line=line,
                hint="every entry of a list must differ from the others; remove or replace one",
            )
        seen[word.lower()] = word


def _refuse_shared_predicates(values: dict[str, tuple], path: Path, lines: dict) -> None:
    """Kinds, skill phrases, states and remedies become the predicates of one individual's atoms:
    a phrase used in two roles ("fly" as a skill and a state) would make the rules read one fact
    as another, or depend on themselves."""
    roles: dict[str, str] = {_atom("held_back", ""): "the solver's own `held_back`"}
    claims = [
        *((key, kind) for key in ("kinds", "ood_kinds") for kind, _ in values[key]),
        *((key, phrase) for key in ("skills", "ood_skills") for e in values[key] for phrase in e),
        *(("states", state) for state in values["states"]),
        *(("items", f"wears {_article(item)} {item}") for item in values["items"]),
    ]
    for key, phrase in claims:
        predicate = _atom(phrase.lower(), "")
        role = f"{phrase!r} in `{key}`"
        if predicate in roles and roles[predicate] != role:
            raise ContentError(
                f"word banks: {role} is also {roles[predicate]}: a world's rules would read one "
                "as the other",
                file=path,
                line=lines.get(key),
                hint="every kind, skill phrase, state and item must be a phrase of its own",
            )
        roles.setdefault(predicate, role)


@dataclass(frozen=True)
class WorldLogic:
    """The program behind a world frame: what each field contributes, and the flips' edits."""

    facts: dict[str, frozenset[str]]  # field -> facts it states
    rules: dict[str, tuple[Rule, ...]]  # field -> rules it states
    replaces: dict[str, tuple[Rule, Rule]]  # field -> (rule it refines, the refined rule)
    flips: tuple[tuple[str, str, str], ...]  # flip index -> (field, fact removed, fact added)
    query: str

    def program(self, fields: Sequence[str], flip: int | None = None) -> Program:
        """The program a chain showing `fields` states (with flip `flip` applied)."""
        facts: set[str] = set()
        rules: list[Rule] = []
        for name in fields:
            facts |= self.facts.get(name, frozenset())
            rules += self.rules.get(name, ())
        for name in fields:
            if name in self.replaces:
                old, new = self.replaces[name]
                rules = [new if rule == old else rule for rule in rules]
        if flip is not None:
            name, removed, added = self.flips[flip]
            if name in fields:
                facts = (facts - {removed}) | {added}
        return Program(facts=frozenset(facts), rules=tuple(rules))

    def holds(self, fields: Sequence[str], flip: int | None = None) -> bool:
        return holds(self.program(fields, flip), self.query)

    def row_json(self, fields: Sequence[str], flip: int | None = None) -> str:
        """The `logic` column of a row whose chain shows `fields`."""
        return logic_json(self.program(fields, flip), self.query)


def _atom(predicate: str, name: str) -> str:
    return f"{predicate.replace(' ', '_')}({name.lower()})"


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


#: The fields each stage of the default grammar shows, conclusion last.
STAGE_FIELDS = {
    1: ("premise", "conclusion"),
    2: ("premise", "consequence", "conclusion"),
    3: ("premise", "consequence", "complication", "blocked"),
    4: ("premise", "consequence", "complication", "resolution", "resolved"),
    5: (
        "premise",
        "premise_2",
        "consequence",
        "consequence_2",
        "complication",
        "resolution",
        "resolved",
    ),
}


def core_count(banks: Banks, ood: bool = False) -> int:
    """How many distinct cores (individual, kind, skill, exception) the banks allow: frames
    numbered below it never share a core, so their programs differ at every stage."""
    kinds, skills = banks.vocabulary(ood)
    return len(banks.names) * len(kinds) * len(skills) * len(banks.states)


def _core(banks: Banks, seed: int, index: int, ood: bool) -> tuple[str, tuple, tuple, str]:
    """Frame `index`'s core: index -> a seeded permutation of all cores (an affine map modulo
    their number, with a multiplier coprime to it), read in mixed radix."""
    kinds, skills = banks.vocabulary(ood)
    count = core_count(banks, ood)
    rng = item_rng(seed, "world-cores", ood)
    step = rng.randrange(1, count)
    while math.gcd(step, count) != 1:
        step += 1
    code = (index * step + rng.randrange(count)) % count
    code, name = divmod(code, len(banks.names))
    code, kind = divmod(code, len(kinds))
    state, skill = divmod(code, len(skills))
    return banks.names[name], kinds[kind], skills[skill], banks.states[state]


def world_frame(banks: Banks, seed: int, index: int, ood: bool = False) -> Frame:
    """World frame number `index` (a pure function of the banks, the seed and the index); with
    `ood`, its kind and skills come from the `ood_` lists only. Frames numbered below
    `core_count` have distinct cores; the rest of a frame (place, distractor, item, surface
    forms, flip targets) is drawn from its own seeded RNG, again where its words would collide
    (an anchor or a flip's words occurring twice in a step)."""
    core = _core(banks, seed, index, ood)
    for attempt in range(100):
        frame = _draw(banks, core, item_rng(seed, "world", index, ood, attempt), index, ood)
        words = [(f, w) for f, w in frame.anchors.items()] + [
            (f.step, f.source) for f in frame.flips
        ]
        if all(len(word_pattern(w).findall(frame.fields[f])) == 1 for f, w in words):
            return frame
    raise ContentError(
        "the word banks are too small to draw a world frame whose words do not collide",
        file=banks.path,
        hint="add places, names, kinds or skills to the banks",
    )


def _draw(
    banks: Banks, core: tuple[str, tuple, tuple, str], rng: random.Random, index: int, ood: bool
) -> Frame:
    """One draw of a world frame around its core, the rest from `rng`."""
    kinds, skills = banks.vocabulary(ood)
    name, (kind, kinds_word), (ability, step, outcome), state = core
    place = rng.choice(banks.places)
    other = rng.choice([n for n in banks.names if n != name])
    kind2, kinds2_word = rng.choice([k for k in kinds if k[0] != kind])
    flip_kind = rng.choice(
        [k for k, _ in kinds if k != kind and _article(k) == _article(kind)]
        or [k for k, _ in kinds if k != kind]
    )
    ability2 = rng.choice([s for s in skills if s[0] != ability])[0]
    other_state = rng.choice([s for s in banks.states if s != state])
    item = rng.choice(banks.items)
    remedy = f"wears {_article(item)} {item}"

    held = _atom("held_back", name)
    rule_skill = Rule(then=_atom(ability, name), when=(_atom(kind, name),), unless=(held,))
    exception = Rule(then=held, when=(_atom(state, name),))
    refined = Rule(then=held, when=(_atom(state, name),), unless=(_atom(remedy, name),))
    logic = WorldLogic(
        facts={
            "premise": frozenset({_atom(kind, name)}),
            "complication": frozenset({_atom(state, name)}),
            "resolution": frozenset({_atom(remedy, name)}),
            "premise_2": frozenset({_atom(kind2, other)}),
        },
        rules={
            "premise": (
                rule_skill,
                Rule(then=_atom(step, name), when=(_atom(ability, name),)),
                Rule(then=_atom(outcome, name), when=(_atom(step, name),)),
                exception,
            ),
            "premise_2": (Rule(then=_atom(ability2, other), when=(_atom(kind2, other),)),),
        },
        replaces={"resolution": (exception, refined)},
        flips=(
            ("premise", _atom(kind, name), _atom(flip_kind, name)),
            ("complication", _atom(state, name), _atom(other_state, name)),
            ("resolution", _atom(remedy, name), _atom(remedy, other)),
        ),
        query=_atom(outcome, name),
    )

    def says(fields: Sequence[str], flip: int | None = None) -> str:
        return f"{name} {'can' if logic.holds(fields, flip) else 'cannot'} {outcome}"

    rules = (
        f"{kinds_word} can {ability} unless they are {state}, {kinds_word} that can {ability} "
        f"can {step}, {kinds_word} that can {step} can {outcome}"
    )
    who = f"{name} is {_article(kind)} {kind}"
    lets = f"{_article(state)} {state} {kind}"
    world = f"{place}, where a creature can do only what these rules allow"  # the closed world
    fields = {  # several surface forms of one logical form, drawn per frame
        "premise": rng.choice([f"{world}, {rules}, and {who}", f"{who} {world}: {rules}"]),
        # an inferred step holds only while the exception does not: stated as the rule gives it,
        # so a later complication never contradicts a step the chain asserted
        "consequence": f"{name} can {ability} unless {name} is {state}",
        "conclusion": says(STAGE_FIELDS[2]),
        "complication": f"{name} is {state}",
        "blocked": says(STAGE_FIELDS[3]),
        "resolution": rng.choice(
            [
                f"{name} {remedy}, which lets {lets} {ability} anyway",
                f"{lets} that {remedy} can still {ability}, and {name} wears one",
            ]
        ),
        "resolved": says(STAGE_FIELDS[4]),
        "premise_2": rng.choice(
            [
                f"{other} is {_article(kind2)} {kind2}, and {kinds2_word} can {ability2}",
                f"{kinds2_word} can {ability2}, and {other} is {_article(kind2)} {kind2}",
            ]
        ),
        "consequence_2": f"{name} can {step} unless {name} is {state}",
    }
    flips = (
        Flip(
            step="premise",
            source=kind,
            target=flip_kind,
            stages=PREMISE_ONLY_STAGES,
            conclusions={"conclusion": says(STAGE_FIELDS[1], 0)},
        ),
        Flip(
            step="complication",
            source=state,
            target=other_state,
            relations={"complication": "adds"},
            conclusions={"blocked": says(STAGE_FIELDS[3], 1)},
        ),
        Flip(
            step="resolution",
            source=name,
            target=other,
            relations={"resolution": "adds"},
            conclusions={"resolved": says(STAGE_FIELDS[4], 2)},
        ),
    )
    return Frame(
        id=world_frame_id(index, ood),
        domain="worlds",
        fields=fields,
        flips=flips,
        anchors={
            "premise": kind,  # what the rule turns on (the premise flip's word), at every stage
            "consequence": ability,
            "complication": state,
            "resolution": item,
            "premise_2": kind2,
            "consequence_2": step,
        },
        distractors=frozenset({"premise_2"}),
        logic=logic,
        held_out=ood,
    )


def world_frame_id(index: int, ood: bool = False) -> str:
    """The id of world frame number `index`."""
    return f"world-{'ood-' if ood else ''}{index:06d}"


def _numbered_frame(banks: Banks, seed: int, count: int, number: int) -> Frame:
    """Frame `number` of a world domain: the `count` frames, then its ood frames."""
    if number >= count:
        return world_frame(banks, seed, number - count, ood=True)
    return world_frame(banks, seed, number)


def world_domain(banks: Banks, seed: int, count: int, ood: int = 0) -> Domain:
    """A domain of `count` world frames (and `ood` more from the ood vocabulary), each made when
    it is used (`GeneratedFrames`)."""
    for number, ood_frame in ((count, False), (ood, True)):
        if number > core_count(banks, ood_frame):
            raise ContentError(
                f"{number:,} {'ood ' if ood_frame else ''}world frames asked for, but "
                f"the word banks allow {core_count(banks, ood_frame):,} distinct "
                "ones",
                file=banks.path,
                hint="add names, states, kinds or skills to the banks, or ask for fewer frames",
            )
    held_out = [world_frame_id(i, ood=True) for i in range(ood)]
    frames = GeneratedFrames(
        partial(_numbered_frame, banks, seed, count),
        [world_frame_id(i) for i in range(count)] + held_out,
        frozenset(held_out),
    )
    return Domain(name="worlds", title="Logic", frames=frames, synonyms=())
