"""Quality gates on the shipped content: breadth, every frame renders under every role and view,
and every rendered trail passes surface grammar checks."""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import product
from pathlib import Path

from trailforge.build import load_inputs
from trailforge.content import word_pattern
from trailforge.recipe import load_recipe
from trailforge.render import Step, TrailSpec

ROOT = Path(__file__).resolve().parent.parent
CONNECTIVE_WORDS = {"if", "then", "so", "but", "yet", "however", "therefore", "thus", "hence",
                    "suppose", "assume", "imagine", "also", "moreover", "still"}


@lru_cache(maxsize=None)
def inputs():
    return load_inputs(load_recipe(ROOT / "trailforge.yaml"))


def test_breadth_of_the_default_content():
    loaded = inputs()
    domains = loaded.content.domains
    assert len(domains) >= 12
    for name, domain in domains.items():
        assert len(domain.frames) >= 40, name
        assert sum(f.flip is not None for f in domain.frames) * 2 >= len(domain.frames), name
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
            r"\b(that that|had had)\b", text):
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
                for (role, view), slot_choice in zip(product(loaded.recipe.roles, loaded.recipe.views),
                                                     range(10**6)):
                    steps = tuple(Step(s.kind, s.field, s.connectives[slot_choice % len(s.connectives)],
                                       frame.fields[s.field]) for s in chain.slots)
                    spec = TrailSpec(stage, chain.name, domain.name, frame.id, role, view,
                                     slot_choice % 3)
                    trail = loaded.renderer.render(spec, steps)
                    assert trail.text == trail.prompt + trail.completion
                    for problem in sentence_problems(trail.text):
                        bad.append(f"{domain.name}/{frame.id} stage {stage} {role}/{view}: {problem}")
    assert not bad, "\n".join(bad[:30])


def test_flips_apply_somewhere_and_name_a_single_occurrence():
    loaded = inputs()
    for domain in loaded.content.domains.values():
        for frame in domain.frames:
            if frame.flip is None:
                continue
            assert len(word_pattern(frame.flip.source).findall(frame.fields[frame.flip.step])) == 1
            usable = [c for c in loaded.grammar.stages.values()
                      if frame.flip.step in [s.field for s in c.slots]
                      and c.conclusion_field in frame.flip.conclusions]
            assert usable, f"{domain.name}/{frame.id}: the flip applies in no stage"
