"""Quality gates on the shipped content: breadth, every frame renders under every role and view,
and every rendered trail passes surface grammar checks."""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import product

from trailforge.content import MODAL_SWAPS, word_pattern
from trailforge.inputs import load_inputs
from trailforge.recipe import load_recipe
from trailforge.render import Step, TrailSpec

from .conftest import ROOT

CONNECTIVE_WORDS = {
    "if",
    "then",
    "so",
    "but",
    "yet",
    "however",
    "therefore",
    "thus",
    "hence",
    "suppose",
    "assume",
    "imagine",
    "also",
    "moreover",
    "still",
}


@lru_cache(maxsize=None)
def inputs():
    return load_inputs(load_recipe(ROOT / "trailforge.yaml"))


def test_breadth_of_the_default_content():
    loaded = inputs()
    domains = loaded.content.domains
    assert len(domains) >= 12
    for name, domain in domains.items():
        assert len(domain.frames) >= 40, name
        assert sum(bool(f.flips) for f in domain.frames) * 2 >= len(domain.frames), name
    assert len(loaded.recipe.roles) >= 6 and len(loaded.recipe.views) >= 4


def test_clauses_do_not_start_with_a_connective():
    for domain in inputs().content.domains.values():
        for frame in domain.frames:
            for field, text in frame.fields.items():
                first = text.split()[0].lower().strip(",")
                assert first not in CONNECTIVE_WORDS, (domain.name, frame.id, field, text)


def sentence_problems(text: str) -> list[str]:
    problems = []
    if "  " in text:
        problems.append("doubled space")
    if re.search(r"\s[.,;:!?]", text):
        problems.append("space before punctuation")
    if re.search(r"[.,]{2}", text.replace("...", "")):
        problems.append("doubled punctuation")
    if re.search(r"\b(\w+),? \1\b", text, flags=re.IGNORECASE) and not re.search(
        r"\b(that that|had had)\b", text
    ):
        problems.append("doubled word")
    for line in text.splitlines():
        body = line.split(": ", 1)[-1] if re.match(r"^\w+: ", line) else line
        body = re.sub(r"^\d+\. ", "", body)
        if not body[:1].isupper():
            problems.append(f"line starts lower-case: {line[:30]!r}")
        if body[-1:] not in ".?!":
            problems.append(f"line lacks terminal punctuation: {line[-30:]!r}")
        for sentence in re.split(r"(?<=[.?!]) ", body):
            if sentence and sentence[0].isalpha() and not sentence[0].isupper():
                problems.append(f"sentence starts lower-case: {sentence[:30]!r}")
    return problems


def test_every_frame_renders_under_every_role_and_view_and_reads_well():
    loaded = inputs()
    bad = []
    for stage, chain in loaded.grammar.stages.items():
        for domain in loaded.content.domains.values():
            for frame in domain.frames:
                if not all(s.field in frame.fields for s in chain.slots if not s.optional):
                    continue
                for (role, view), slot_choice in zip(
                    product(loaded.recipe.roles, loaded.recipe.views), range(10**6)
                ):
                    relations = loaded.renderer.register(role, loaded.grammar.relations)
                    steps = []
                    for s in chain.slots:
                        relation = frame.relations.get(s.field, s.relation)
                        options = relations[relation]
                        steps.append(
                            Step(
                                s.kind,
                                s.field,
                                relation,
                                options[slot_choice % len(options)],
                                frame.fields[s.field],
                            )
                        )
                    steps = tuple(steps)
                    spec = TrailSpec(
                        stage=stage,
                        chain=chain.name,
                        domain=domain.name,
                        frame_id=frame.id,
                        role=role,
                        view=view,
                        voice=slot_choice % 3,
                    )
                    trail = loaded.renderer.render(spec, steps)
                    assert trail.text == trail.prompt + trail.completion
                    for problem in sentence_problems(trail.text):
                        bad.append(
                            f"{domain.name}/{frame.id} stage {stage} {role}/{view}: {problem}"
                        )
    assert not bad, "\n".join(bad[:30])


def test_flips_apply_somewhere_and_name_a_single_occurrence():
    loaded = inputs()
    for domain in loaded.content.domains.values():
        for frame in domain.frames:
            for flip in frame.flips:
                assert len(word_pattern(flip.source).findall(frame.fields[flip.step])) == 1
                usable = [
                    stage
                    for stage, c in loaded.grammar.stages.items()
                    if all(s.field in frame.fields for s in c.slots if not s.optional)
                    and flip.applies(stage, [s.field for s in c.slots])
                ]
                assert usable, f"{domain.name}/{frame.id}: a flip applies in no stage"


def test_flips_are_not_mostly_modal_swaps():
    flips = [f for d in inputs().content.domains.values() for fr in d.frames for f in fr.flips]
    swaps = sum(frozenset((f.source, f.target)) in MODAL_SWAPS for f in flips)
    assert swaps * 3 <= len(flips), (swaps, len(flips))


def test_premise_2_is_a_distractor_or_takes_part_and_resolutions_use_their_relation():
    frames = [
        f for d in inputs().content.domains.values() for f in d.frames if "premise_2" in f.fields
    ]
    distractors = sum("premise_2" in f.distractors for f in frames)
    assert 0 < distractors < len(frames)  # both kinds are present
    relations = {f.relations.get("resolution", "counters") for f in frames}
    assert {"counters", "follows"} <= relations
