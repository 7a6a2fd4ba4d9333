import shutil
from dataclasses import asdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trailforge.errors import TemplateError
from trailforge.render import ORIGIN, Renderer, Step, TrailOrigin, TrailSpec

from .conftest import ROOT

STEPS = (
    Step("premise", "premise", "given", "Suppose", "a steel rod is heated"),
    Step("consequence", "consequence", "follows", "Then", "the rod expands"),
    Step("conclusion", "conclusion", "concludes", "Therefore,", "the rod gets longer"),
)


def spec(role="teacher", view="prose"):
    return TrailSpec(
        stage=2,
        chain="direct",
        domain="physics",
        frame_id="heated-rod",
        role=role,
        view=view,
        voice=1,
    )


@pytest.fixture
def templates(tmp_path):
    target = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", target)
    return target


@pytest.mark.parametrize("view", ["prose", "steps", "qa", "keyvalue"])
@pytest.mark.parametrize("role", ["student", "teacher", "critic", "child", "scientist", "skeptic"])
def test_every_role_and_view_splits_prompt_and_completion(role, view):
    trail = Renderer(ROOT / "templates", {"physics": "Physics"}).render(spec(role, view), STEPS)
    assert trail.text == trail.prompt + trail.completion
    assert trail.completion.lstrip().startswith("Therefore, the rod gets longer.")
    assert "Suppose a steel rod is heated." in trail.prompt
    assert "\ue000" not in trail.text and "  " not in trail.text
    assert trail.conclusion == "the rod gets longer"


WORDS = st.lists(
    st.sampled_from(
        [
            "rod",
            "heated",
            "Ice",
            "1790",
            "can't",
            "is",
            "longer",
            "e.g.",
            "(dry)",
            "x-ray",
            "5%",
            "naïve",
            "CO2",
            "its",
        ]
    ),
    min_size=1,
    max_size=6,
).map(" ".join)
CONNECTIVES = st.sampled_from(
    ["Therefore,", "So", "Hence", "It follows that", "Thus,", "As a result,"]
)
RENDERER = Renderer(ROOT / "templates", {"physics": "Physics"})


@given(
    role=st.sampled_from(["student", "teacher", "critic", "child", "scientist", "skeptic"]),
    view=st.sampled_from(["prose", "steps", "qa", "keyvalue"]),
    voice=st.integers(0, 19),
    premise=WORDS,
    middle=WORDS,
    conclusion=WORDS,
    connective=CONNECTIVES,
)
def test_prompt_tokens_are_a_prefix_of_the_whole_texts_tokens(
    role, view, voice, premise, middle, conclusion, connective
):
    from trailforge.tokenize import load_tokenizer

    steps = (
        Step("premise", "premise", "given", "Suppose", premise),
        Step("consequence", "consequence", "follows", "Then", middle),
        Step("conclusion", "conclusion", "concludes", connective, conclusion),
    )
    trail = RENDERER.render(
        TrailSpec(
            stage=2,
            chain="direct",
            domain="physics",
            frame_id="f",
            role=role,
            view=view,
            voice=voice,
        ),
        steps,
    )
    assert trail.text == trail.prompt + trail.completion and trail.prompt == trail.prompt.rstrip(
        " "
    )
    for name in ("o200k_base", "cl100k_base"):
        tok = load_tokenizer(name)
        head, whole = tok.encode(trail.prompt).ids, tok.encode(trail.text).ids
        assert whole[: len(head)] == head, (name, trail.prompt[-30:], trail.completion[:30])


def test_undefined_variable_names_template_and_line(templates):
    (templates / "views" / "prose.j2").write_text("{{ intro }}\n{{ nonsense }}\n")
    with pytest.raises(TemplateError) as info:
        Renderer(templates, {}).render(spec(), STEPS)
    assert "undefined" in info.value.message and "nonsense" in info.value.message
    assert info.value.file.endswith("prose.j2") and info.value.line == 2


@pytest.mark.parametrize(
    "body, line, message",
    [
        ("{{ nosuch.attribute }}", 6, "undefined"),
        ("{{ 1 // 0 }}", 6, "division"),
    ],
)
def test_a_role_macros_runtime_error_names_the_templates_own_line(templates, body, line, message):
    role = templates / "roles" / "teacher.j2"  # replaced by a role whose intro fails on line 6
    role.write_text(
        "\n".join(
            [
                "{% set connectives = {} %}",
                "",
                "",
                "",
                "{% macro intro(domain, variant) -%}",
                body,
                "{%- endmacro %}",
                "{% macro outro(domain, variant) -%}Done.{%- endmacro %}",
            ]
        )
        + "\n"
    )
    with pytest.raises(TemplateError) as info:
        Renderer(templates, {"physics": "Physics"}).render(spec("teacher"), STEPS)
    assert info.value.file.endswith("roles/teacher.j2") and info.value.line == line
    assert message in info.value.message


def test_unsafe_attribute_is_refused(templates):
    (templates / "views" / "prose.j2").write_text(
        "{{ steps.__class__.__mro__[1].__subclasses__() }}{% for s in steps %}{{ s.connective }}{% endfor %}"
    )
    with pytest.raises(TemplateError) as info:
        Renderer(templates, {}).render(spec(), STEPS)
    assert "prose.j2" in info.value.file


def test_syntax_error_points_at_line(templates):
    (templates / "roles" / "teacher.j2").write_text(
        "{% macro intro(domain, variant) %}\nhi\n{% endmacr %}"
    )
    with pytest.raises(TemplateError) as info:
        Renderer(templates, {}).render(spec(), STEPS)
    assert "syntax" in info.value.message and info.value.line is not None


def test_view_must_print_the_conclusion_connective(templates):
    (templates / "views" / "prose.j2").write_text(
        "{{ intro }} {% for s in steps %}{{ s.text }}. {% endfor %}"
    )
    with pytest.raises(TemplateError, match="connective exactly once"):
        Renderer(templates, {}).render(spec(), STEPS)


@pytest.mark.parametrize("body", [None, "{% for s in steps %}{{ s.connective }"])
def test_a_missing_or_broken_view_is_a_template_error(templates, body):
    if body is not None:
        (templates / "views" / "broken.j2").write_text(body)
    with pytest.raises(TemplateError) as info:
        Renderer(templates, {}).render(spec(view="broken"), STEPS)
    assert info.value.file.endswith("views/broken.j2")
    assert ("prose" in info.value.hint) if body is None else info.value.line == 1


def test_missing_role_lists_available(templates):
    with pytest.raises(TemplateError) as info:
        Renderer(templates, {}).render(spec(role="pirate"), STEPS)
    assert "student" in info.value.hint


def test_fast_path_matches_jinja_and_falls_back_for_transforming_views(templates):
    others = tuple(s._replace(text=f"another {s.text}") for s in STEPS)  # the same layout
    titles = {"physics": "Physics"}
    renderer = Renderer(templates, titles)
    jinja = Renderer(templates, titles, skeletons=False)
    for view in ("prose", "steps", "qa", "keyvalue"):
        for steps in (STEPS, others):
            fast = renderer.render(spec(view=view), steps)
            expected = jinja.render(spec(view=view), steps)
            assert (fast.text, fast.prompt) == (expected.text, expected.prompt)
    (templates / "views" / "prose.j2").write_text(
        "{{ intro }}{% for s in steps %} {{ s.connective }} {{ s.text|capitalize }}.{% endfor %}"
    )
    shouting = Renderer(templates, titles)
    trail = shouting.render(spec(), STEPS)
    assert "Then The rod expands." in trail.text  # Jinja's output, not a stale skeleton
    again = shouting.render(spec(), others)
    assert "Then Another the rod expands." in again.text
    expected = Renderer(templates, titles, skeletons=False).render(spec(), others)
    assert (again.text, again.prompt) == (expected.text, expected.prompt)


@pytest.mark.parametrize(
    "view",
    [
        # prints the voice as it is: one skeleton serves every voice and domain
        "{{ intro }}{% for s in steps %} {{ s.connective }} {{ s.text }}.{% endfor %} {{ outro }}",
        # reads the domain and the relation: skeletons per domain and relation, or Jinja
        "{% if domain == 'Law' %}In court: {% endif %}{{ intro|upper }}{% for s in steps %}"
        "{% if s.relation == 'contrasts' %} Yet{% endif %} {{ s.connective }} {{ s.text }}."
        "{% endfor %} {{ outro }}",
        # reaches into another template, which may read anything
        "{% include 'views/prose.j2' %}",
    ],
)
def test_skeletons_follow_what_a_view_reads(templates, view, monkeypatch):
    import jinja2

    (templates / "views" / "custom.j2").write_text(view)
    renders = []
    jinja_render = jinja2.Template.render
    monkeypatch.setattr(
        jinja2.Template,
        "render",
        lambda self, *a, **k: renders.append(1) or jinja_render(self, *a, **k),
    )
    titles = {"physics": "Physics", "law": "Law"}
    fast, jinja = Renderer(templates, titles), Renderer(templates, titles, skeletons=False)
    contrast = STEPS[:1] + (STEPS[1]._replace(relation="contrasts"),) + STEPS[2:]
    calls: list[int] = []
    for domain in ("physics", "law", "physics"):
        for voice in (1, 2):
            for steps in (STEPS, contrast):
                trail_spec = TrailSpec(**{**asdict(spec(view="custom")), "domain": domain})
                trail_spec = TrailSpec(**{**asdict(trail_spec), "voice": voice})
                before = len(renders)
                got = fast.render(trail_spec, steps)
                fast_renders = len(renders) - before
                expected = jinja.render(trail_spec, steps)
                assert (got.text, got.prompt) == (expected.text, expected.prompt)
                calls.append(fast_renders)
    # a skeleton costs three Jinja renders (placeholders and two probes), once per layout here
    if view.startswith("{{ intro }}"):
        assert calls[:2] == [3, 3] and not any(calls[2:])
    else:
        assert sum(calls) > 6


def test_private_use_characters_in_steps_render_as_jinja_renders_them(templates):
    titles = {"physics": "Physics"}
    fast, jinja = Renderer(templates, titles), Renderer(templates, titles, skeletons=False)
    odd = tuple(s._replace(text=f"{s.text} \U000f0001\U000f0000{{0}}") for s in STEPS)
    for steps in (odd, STEPS, odd):  # when the skeleton is made, and filled afterwards
        for view in ("prose", "qa"):
            got, expected = (
                fast.render(spec(view=view), steps),
                jinja.render(spec(view=view), steps),
            )
            assert (got.text, got.prompt) == (expected.text, expected.prompt)
    assert "\U000f0001" in got.text


@pytest.mark.parametrize(
    "view, message",
    [
        (
            "{% for i in range(10**9) %}x{% endfor %}{% for s in steps %}{{ s.connective }}{% endfor %}",
            "too large a range",
        ),
        (
            "{% for i in range(90000) %}padding {% endfor %}{% for s in steps %}{{ s.connective }} "
            "{{ s.text }}{% endfor %}",
            "over the cap",
        ),
    ],
)
def test_runaway_views_are_bounded(templates, view, message):
    (templates / "views" / "prose.j2").write_text(view)
    with pytest.raises(TemplateError) as info:
        Renderer(templates, {}).render(spec(), STEPS)
    assert message in info.value.message and info.value.file.endswith("prose.j2")


def test_a_view_that_would_run_for_hours_is_stopped(templates, monkeypatch):
    import time

    import trailforge.render as render

    monkeypatch.setattr(render, "MAX_SECONDS", 0.5)
    (templates / "views" / "prose.j2").write_text(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
        "{% for s in steps %}{{ s.connective }} {{ s.text }}{% endfor %}"
    )
    started = time.monotonic()
    with pytest.raises(TemplateError) as info:
        Renderer(templates, {}).render(spec(), STEPS)
    assert "ran past 0.5 s" in info.value.message and info.value.file.endswith("prose.j2")
    assert time.monotonic() - started < 10


def test_a_macro_that_calls_itself_is_a_clear_error(templates):
    (templates / "roles" / "teacher.j2").write_text(
        "{% macro intro(domain, variant) %}{{ intro(domain, variant) }}{% endmacro %}\n"
        "{% macro outro(domain, variant) %}done{% endmacro %}\n"
    )
    with pytest.raises(TemplateError) as info:
        Renderer(templates, {}).render(spec(), STEPS)
    assert "recurses" in info.value.message and info.value.file.endswith("teacher.j2")
    assert info.value.line == 1  # the line of the call that recurses


def test_a_spec_keeps_the_origin_it_is_made_of():
    origin = TrailOrigin(
        stage=2, domain="physics", frame_id="heated-rod", role="teacher", view="qa", voice=3
    )
    made = TrailSpec.of(origin, chain="direct", valid=False)
    assert (made.chain, made.valid) == ("direct", False)
    assert {name: getattr(made, name) for name in ORIGIN} == asdict(origin)
