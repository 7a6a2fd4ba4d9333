from pathlib import Path

import pytest

from trailforge.errors import GrammarError
from trailforge.grammar import load_grammar

from .conftest import ROOT


def write(tmp_path: Path, text: str, name: str = "g.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_default_grammar_has_five_growing_stages():
    grammar = load_grammar([ROOT / "grammars" / "ski-chain.yaml"])
    assert sorted(grammar.stages) == [1, 2, 3, 4, 5]
    lengths = [len(grammar.stages[s].slots) for s in range(1, 6)]
    assert lengths == sorted(lengths) and lengths[0] == 2
    assert [s.kind for s in grammar.stages[4].slots] == [
        "premise",
        "consequence",
        "complication",
        "resolution",
        "conclusion",
    ]
    assert grammar.stages[3].conclusion_field == "blocked"
    assert grammar.stages[5].slot("premise_2").relation == "adds"
    assert grammar.stages[4].slot("resolution").relation == "counters"
    assert grammar.contrast == {"opposes", "counters"}
    assert "But" in grammar.relations["opposes"]
    contrast_words = {c for r in grammar.contrast for c in grammar.relations[r]}
    for relation, connectives in grammar.relations.items():  # contrast words only for contrasts
        if relation not in grammar.contrast:
            assert not contrast_words & set(connectives), relation


def test_every_kind_has_a_default_relation():
    grammar = load_grammar([ROOT / "grammars" / "ski-chain.yaml"])
    for chain in grammar.chains.values():
        for slot in chain.slots:
            assert slot.relation in grammar.relations


H = "relations: {g: [If], f: [Then], c: [So]}\nkinds: {premise: g, consequence: f, conclusion: c}\n"


@pytest.mark.parametrize(
    "text, message, line",
    [
        (
            H + "chains:\n  a:\n    steps: [premise, musing]\nstages: {1: a}\n",
            "unknown step kind 'musing'",
            5,
        ),
        ("relations:\n  g: []\nchains: {}\n", "non-empty list", 2),
        (
            H + "chains:\n  a:\n    steps: [premise, conclusion]\nstages:\n  1: a\n  2: missing\n",
            "unknown chain 'missing'",
            8,
        ),
        (
            H + "chains:\n  a:\n    extends: b\n    steps: [conclusion]\n"
            "  b:\n    extends: a\n    steps: [premise]\nstages: {1: a}\n",
            "cycle",
            None,
        ),
        (H + "chains:\n  a:\n    steps: [premise]\nstages: {1: a}\n", "exactly one conclusion", 5),
        ("chains:\n  a:\n    steps: [premise: x\n", "invalid YAML", None),
        (H + "chains:\n  a:\n    steps: [premise, conclusion]\n", "no curriculum stages", None),
        (
            H + "chains:\n  a:\n    steps: [premise, {kind: conclusion, relation: musing}]\n"
            "stages: {1: a}\n",
            "unknown relation 'musing'",
            5,
        ),
        ("relations: {g: [If]}\nkinds: {premise: nope}\n", "unknown relation 'nope'", 2),
        ("relations: {g: [If]}\ncontrast: [h]\n", "contrast: unknown relation 'h'", 2),
        (
            "relations: {g: [If]}\nchains:\n  a: {steps: [premise, conclusion]}\nstages: {1: a}\n",
            "no relation for kind 'premise'",
            3,
        ),
        ("connectives: {premise: [If]}\n", "unknown top-level keys ['connectives']", 1),
    ],
)
def test_bad_grammars_name_file_line_and_fix(tmp_path, text, message, line):
    path = write(tmp_path, text)
    with pytest.raises(GrammarError) as info:
        load_grammar([path])
    error = info.value
    assert message in error.message
    assert error.file == str(path)
    if line is not None:
        assert error.line == line
    assert error.hint or "YAML" in error.message or "stages" in error.message


def test_extends_drops_the_parent_conclusion(tmp_path):
    path = write(
        tmp_path,
        H + "chains:\n  a: {steps: [premise, conclusion]}\n"
        "  b: {extends: a, steps: [consequence, {kind: conclusion, field: blocked}]}\n"
        "stages: {1: b}\n",
    )
    chain = load_grammar([path]).stages[1]
    assert [s.field for s in chain.slots] == ["premise", "consequence", "blocked"]


def test_stages_may_reference_chains_of_another_file(tmp_path):
    a = write(tmp_path, H + "chains:\n  base: {steps: [premise, conclusion]}\n", "a.yaml")
    b = write(tmp_path, "stages: {1: base}\n", "b.yaml")
    assert load_grammar([a, b]).stages[1].name == "base"
    with pytest.raises(GrammarError, match="unknown chain 'base'"):
        load_grammar([b])
