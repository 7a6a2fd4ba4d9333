import pytest

from trailforge.content import load_content, load_domain
from trailforge.errors import ContentError

from .conftest import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini" / "content"

GOOD = """domain: {name}
title: T
frames:
  - id: one
    premise: a thing happens
    conclusion: another thing follows
{extra}"""


def domain_file(tmp_path, extra="", name="t"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(GOOD.format(name=name, extra=extra))
    return path


def test_mini_content_loads_with_flips_and_lexicon():
    content = load_content(MINI)
    assert set(content.domains) == {"physics", "cooking"}
    rod = content.domains["physics"].frames[0]
    assert [f.conclusions for f in rod.flips] == [
        {"conclusion": "the rod gets shorter"},
        {"blocked": "the rod can get longer"},
    ]
    assert rod.flips[1].relations == {"complication": "adds"} and rod.flips[0].stages == (1,)
    assert rod.relations == {"resolution": "follows"} and rod.distractors == {"premise_2"}
    assert rod.anchors["complication"] == "welded"
    assert ("cannot", "can't") in content.lexicon.contractions


@pytest.mark.parametrize(
    "extra, message, line",
    [
        ("    consequence: it ends.\n", "must not end with punctuation", 7),
        ("    consequence: two  spaces\n", "doubled spaces", 7),
        ("  - id: one\n    premise: again\n", "used twice", 7),
        (
            "    flips:\n      - {step: premise, from: nothing, to: x, conclusion: y}\n",
            "occurs 0 times",
            8,
        ),
        ("    flips:\n      - {step: premise, from: thing, to: x}\n", "lists no new conclusion", 8),
        (
            "    flips:\n      - {step: conclusion, from: thing, to: x, conclusion: y}\n",
            "not a step field",
            8,
        ),
        (
            "    flips:\n      - {step: premise, from: thing, to: thing, conclusion: y}\n",
            "edits nothing",
            8,
        ),
        (
            "    flips:\n      - {step: premise, from: thing, to: x, conclusion: another thing follows}\n",
            "would not change what follows",
            8,
        ),
        (
            "    flips:\n      - {step: premise, from: thing, to: x, conclusion: y, stages: [0]}\n",
            "stages must list stage numbers",
            8,
        ),
        (
            "    flip: {step: premise, from: thing, to: x, conclusion: y}\n",
            "`flip` is now `flips`",
            7,
        ),
        ("    relations: {premise: musing}\n", "unknown relation 'musing'", 7),
        ("    relations: {conclusion: follows}\n", "not a step field", 7),
        (
            "    flips:\n      - {step: premise, from: thing, to: x, conclusion: y,\n"
            "         relations: {premise: musing}}\n",
            "unknown relation 'musing'",
            9,
        ),
        ("    anchors: {premise: missing}\n", "occurs 0 times", 7),
        ("    anchors: {premise: a}\n", "is a function word", 7),
        ("    anchors: {nothing: thing}\n", "not a field", 7),
        ("    distractors: [nothing]\n", "distractors must list", 7),
    ],
)
def test_bad_frames_point_at_the_line(tmp_path, extra, message, line):
    path = domain_file(tmp_path, extra)
    with pytest.raises(ContentError) as info:
        load_domain(path, relations=frozenset({"given", "follows"}))
    assert message in info.value.message
    assert info.value.line == line and info.value.file == str(path)


def test_domain_name_must_match_file(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text(GOOD.format(name="t", extra=""))
    with pytest.raises(ContentError, match="file name"):
        load_domain(path)


def test_unknown_domain_lists_available(tmp_path):
    with pytest.raises(ContentError) as info:
        load_content(MINI, ["physics", "astrology"])
    assert "astrology" in info.value.message and "cooking" in info.value.hint
