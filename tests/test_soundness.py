"""What rows *say*: connectives by relation, anchors on decisive words, fillers only on inferred
steps, flips that re-relate their step, conversations that invent nothing, and `trailforge lint`."""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import replace
from functools import lru_cache

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from trailforge.build import base_trail
from trailforge.cli import main
from trailforge.configs import facts_turn
from trailforge.content import FUNCTION_WORDS
from trailforge.dataset import read_table
from trailforge.grammar import INFERRED_RELATIONS
from trailforge.inputs import load_inputs
from trailforge.lint import lint, lint_rows
from trailforge.mutate import MutatorSetup, prepare_mutators
from trailforge.mutate.anchor import AnchorMutator
from trailforge.mutate.base import connective_key
from trailforge.plan import WorkItem
from trailforge.recipe import load_recipe

from .conftest import MINI


@lru_cache(maxsize=None)
def inputs():
    return load_inputs(load_recipe(MINI / "trailforge.yaml"))


def prepared(op: str):
    """A mutator set up from the mini recipe, as a build sets it up."""
    loaded = inputs()
    return prepare_mutators([op], MutatorSetup(loaded.recipe, loaded.content.lexicon))[op]


def trails_for(stage: int, frame_id: str, role: str = "teacher", seeds: int = 30):
    loaded = inputs()
    domain = next(
        d for d in loaded.content.domains.values() if any(f.id == frame_id for f in d.frames)
    )
    for seed in range(seeds):
        item = WorkItem(stage, domain.name, frame_id, role, "prose", seed % 20, key=str(seed))
        yield base_trail(loaded, item, random.Random(seed))


@pytest.mark.parametrize("role", ["student", "teacher"])
def test_connectives_follow_the_frame_relation_and_never_repeat(role):
    for trail, ctx in trails_for(4, "heated-rod", role=role):
        by_field = {s.field: s for s in trail.steps}
        assert by_field["resolution"].relation == "follows"  # the frame says so
        assert by_field["resolution"].connective in ctx.relations["follows"]
        assert by_field["complication"].connective in ctx.relations["opposes"]
        keys = [connective_key(s.connective) for s in trail.steps]
        assert len(set(keys)) == len(keys), keys


def test_connective_mutator_stays_within_the_relation_and_the_trail():
    for trail, ctx in trails_for(5, "ice-melt"):
        for edit in prepared("connective").propose(trail, ctx, random.Random(1)):
            changed = [(a, b) for a, b in zip(trail.steps, edit.steps) if a != b]
            assert len(changed) == 1
            old, new = changed[0]
            assert new.connective in ctx.relations[old.relation]
            keys = [connective_key(s.connective) for s in edit.steps]
            assert len(set(keys)) == len(keys)


def test_a_role_speaks_its_own_register():
    relations = inputs().grammar.relations
    for trail, ctx in trails_for(4, "heated-rod", role="child"):
        connectives = {s.connective for s in trail.steps}
        assert not connectives & {"Assume", "Hence,", "Thus,", "Suppose"}
        assert trail.steps[0].connective in ("Let's say", "Pretend")
        assert ctx.relations["concludes"] != relations["concludes"]
    for trail, ctx in trails_for(2, "heated-rod", role="teacher"):  # the teacher spells links out
        assert trail.steps[1].connective in (
            "It follows that",
            "Because of this,",
            "This means that",
        )


def test_a_register_naming_an_unknown_relation_is_refused(mini_copy):
    from trailforge.errors import TemplateError

    role = mini_copy / "templates" / "roles" / "student.j2"
    role.write_text('{% set connectives = {"musing": ["Hmm,"]} %}\n' + role.read_text())
    with pytest.raises(TemplateError, match="unknown relation 'musing'"):
        load_inputs(load_recipe(mini_copy / "trailforge.yaml"))


def test_anchors_go_on_decisive_words_of_the_prompt_only():
    seen = set()
    for stage in (1, 2, 3, 4):
        for trail, ctx in trails_for(stage, "heated-rod", seeds=6):
            for edit in prepared("anchor").propose(trail, ctx, random.Random(2)):
                assert edit.steps[-1] == trail.steps[-1]  # never the conclusion
                (index,) = [i for i, (a, b) in enumerate(zip(trail.steps, edit.steps)) if a != b]
                word = edit.detail.split(" on ")[1].split("'")[1]
                field = trail.steps[index].field
                decisive = {ctx.frame.anchors.get(field)} | {
                    f.source for f in ctx.frame.flips if f.step == field
                }
                assert word in decisive and word.lower() not in FUNCTION_WORDS
                assert "[!]" in edit.steps[index].text or "(!)" in edit.steps[index].text
                seen.add(word)
    assert {"heated", "welded"} <= seen


def test_anchors_reach_the_conclusion_only_when_asked():
    trail, ctx = next(trails_for(1, "heated-rod"))
    frame = replace(ctx.frame, anchors={**ctx.frame.anchors, "conclusion": "longer"})
    off = list(prepared("anchor").propose(trail, replace(ctx, frame=frame), random.Random(0)))
    tags = tuple(inputs().recipe.anchors.tags)
    on = list(
        AnchorMutator(tags, in_completion=True).propose(
            trail, replace(ctx, frame=frame), random.Random(0)
        )
    )
    assert all(e.steps[-1] == trail.steps[-1] for e in off)
    assert any("longer" in e.detail for e in on)


def test_fillers_only_on_inferred_steps():
    for stage in (2, 4, 5):
        for trail, ctx in trails_for(stage, "ice-melt", seeds=5):
            for edit in prepared("filler").propose(trail, ctx, random.Random(3)):
                for old, new in zip(trail.steps, edit.steps):
                    if old != new:
                        assert new.relation in INFERRED_RELATIONS, (new, edit.detail)


def test_a_filler_is_never_used_twice_in_a_trail():
    for trail, ctx in trails_for(5, "ice-melt", role="student", seeds=5):
        with_one = next(prepared("filler").propose(trail, ctx, random.Random(3)))
        again = replace(trail, steps=with_one.steps)
        for edit in prepared("filler").propose(again, ctx, random.Random(4)):
            firsts = [s.text.split(" ")[0] for s in edit.steps]
            assert all(firsts.count(w) <= 1 for w in inputs().content.lexicon.fillers), edit.detail


def test_synonym_contractions_are_their_own_kind():
    kinds = set()
    for trail, ctx in trails_for(3, "heated-rod"):
        kinds |= {e.kind for e in prepared("synonym").propose(trail, ctx, random.Random(0))}
    assert kinds == {"word", "contraction"}


def test_a_flip_that_changes_a_relation_changes_the_connective():
    for trail, ctx in trails_for(3, "heated-rod"):
        edits = list(prepared("flip").propose(trail, ctx, random.Random(0)))
        assert edits
        for edit in edits:
            step = next(s for s in edit.steps if s.field == "complication")
            assert step.relation == "adds" and step.connective in ctx.relations["adds"]
            assert edit.steps[-1].text == "the rod can get longer"
    for trail, ctx in trails_for(1, "heated-rod"):  # the premise flip, limited to stage 1
        (edit,) = prepared("flip").propose(trail, ctx, random.Random(0))
        assert edit.steps[-1].text == "the rod gets shorter"
        assert [s.relation for s in edit.steps] == [s.relation for s in trail.steps]
    for trail, ctx in trails_for(2, "heated-rod"):
        assert not list(prepared("flip").propose(trail, ctx, random.Random(0)))


def test_messages_state_every_fact_before_the_assistant_reasons(mini_build):
    trails = [r for r in read_table(mini_build).to_pylist() if r["valid"]]
    messages = read_table(mini_build, "messages").to_pylist()
    assert [r["id"] for r in trails] == [m["id"] for m in messages]
    for row, conversation in zip(trails, messages):
        user, assistant = (m["content"] for m in conversation["messages"])
        assert assistant == row["text"]
        for step in row["steps"]:
            # the user turn capitalizes each clause's first word (after a leading anchor tag)
            text = step["text"]
            rest = text[re.search(r"\w", text).start() + 1 :]
            if step["relation"] not in INFERRED_RELATIONS:  # a fact: the user states it first
                assert rest in user, step
            else:  # an inference: only the assistant draws it
                assert rest not in user, step
        assert user.endswith("What follows, and why?")
    assert (
        facts_turn(
            [
                {"relation": "given", "text": "a rod is heated"},
                {"relation": "follows", "text": "it expands"},
            ]
        )
        == "Facts: A rod is heated. What follows, and why?"
    )


def test_distractors_are_marked_on_their_step(mini_build):
    rows = read_table(mini_build).to_pylist()
    stage5 = [r for r in rows if r["stage"] == 5 and r["frame_id"] == "heated-rod"]
    assert stage5
    for row in stage5:
        marked = [s for s in row["steps"] if s["distractor"]]
        assert len(marked) == 1 and "grey" in marked[0]["text"]


def test_lint_is_clean_on_a_sound_build(mini_build):
    result = CliRunner().invoke(
        main, ["lint", "--recipe", str(MINI / "trailforge.yaml"), str(mini_build)]
    )
    assert result.exit_code == 0, result.output
    assert "clean" in result.output


def tampered(mini_build, tmp_path, change):
    """A copy of the mini build whose first trails file has `change` applied to its rows."""
    copy = tmp_path / "copy"
    shutil.copytree(mini_build, copy)
    path = copy / "data" / "trails" / "train-00000-of-00001.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    change(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    return copy


def _repeat_connective(rows):
    steps = rows[0]["steps"]
    steps[1]["connective"] = steps[0]["connective"]


def _contrast_on_follows(rows):
    row = next(r for r in rows if any(s["relation"] == "follows" for s in r["steps"]))
    step = next(s for s in row["steps"] if s["relation"] == "follows")
    step["connective"] = "However,"


def _certainty_on_premise(rows):
    rows[0]["steps"][0]["text"] = "surely " + rows[0]["steps"][0]["text"]


def _flip_keeps_conclusion(rows):
    by_id = {r["id"]: r for r in rows}
    flip = next(
        r
        for r in rows
        if r["mutation"] and r["mutation"]["op"] == "flip" and r["parent_id"] in by_id
    )
    flip["conclusion"] = by_id[flip["parent_id"]]["conclusion"]


def _anchor_on_function_word(rows):
    row = next(r for r in rows if r["mutation"] and r["mutation"]["op"] == "anchor")
    row["mutation"]["detail"] = "'[!] ' on 'the' in premise"


@pytest.mark.parametrize(
    "change, rule",
    [
        (_repeat_connective, "repeated-connective"),
        (_contrast_on_follows, "contrast-connective"),
        (_certainty_on_premise, "certainty-on-fact"),
        (_flip_keeps_conclusion, "flip-edit"),
        (_anchor_on_function_word, "anchor-function-word"),
    ],
)
def test_lint_finds_each_breach(mini_build, tmp_path, change, rule):
    copy = tampered(mini_build, tmp_path, change)
    result = CliRunner().invoke(
        main, ["lint", "--recipe", str(MINI / "trailforge.yaml"), str(copy)]
    )
    assert result.exit_code == 1, result.output
    assert rule in result.output and "data/trails/" in result.output


def test_lint_names_file_and_line_of_a_content_breach(mini_copy):
    domain = mini_copy / "content" / "domains" / "cooking.yaml"
    text = domain.read_text().replace("premise: yeast is mixed", "premise: surely yeast is mixed")
    domain.write_text(text)
    findings = lint(load_recipe(mini_copy / "trailforge.yaml"))
    assert [f.rule for f in findings] == ["certainty-on-fact"]
    line = text.splitlines().index("  - id: bread-dough") + 1
    assert findings[0].where == f"content/domains/cooking.yaml:{line}"


def test_lint_reports_a_domain_missing_from_a_split(mini_build, tmp_path):
    def move_to_train(rows):
        for row in rows:
            row["split"] = "train"

    copy = tampered(mini_build, tmp_path, move_to_train)
    manifest = json.loads((copy / "manifest.json").read_text())
    for path in (copy / "data" / "trails").glob("*.parquet"):
        if not path.name.startswith(("train", "ood")):
            path.unlink()  # and from the manifest: lint reads the shards it lists
            del manifest["files"][path.relative_to(copy).as_posix()]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    grammar = inputs().grammar
    registers = {
        r: inputs().renderer.register(r, grammar.relations)
        for r in ("student", "teacher", "critic")
    }
    splits = ["train", "validation", "test"]
    findings = list(lint_rows(copy, grammar, registers, splits, min_frames=1))
    assert {f.rule for f in findings} == {"stratified-splits"}
    assert not list(lint_rows(copy, grammar, registers, splits, min_frames=9))


def test_judging_roles_reject_broken_chains_and_configs_keep_them_apart(mini_build):
    trails = read_table(mini_build).to_pylist()
    broken = [r for r in trails if not r["valid"]]
    assert broken and {r["role"] for r in broken} <= {"critic", "skeptic"}
    frames = {f.id: f for d in inputs().content.domains.values() for f in d.frames}
    for row in broken:
        assert row["conclusion"] != row["expected"]
        field = inputs().grammar.stages[row["stage"]].conclusion_field
        assert row["expected"] == frames[row["frame_id"]].fields[field]
        assert not (row["mutation"] and row["mutation"]["op"] == "flip")
    assert all(r["expected"] == r["conclusion"] for r in trails if r["valid"])
    broken_ids = {r["id"] for r in broken}
    for config in ("text", "messages", "prompt_completion"):
        ids = {r["id"] for r in read_table(mini_build, config).to_pylist()}
        assert ids and not ids & broken_ids, config
    negatives = read_table(mini_build, "negatives").to_pylist()
    assert {r["id"] for r in negatives} == broken_ids
    pairs = {p["id"]: p for p in read_table(mini_build, "preference").to_pylist()}
    for row in broken:
        if row["depth"] == 0:
            pair = pairs[row["id"]]
            assert pair["prompt"] == row["prompt"]
            assert pair["chosen"].endswith(f" {row['expected']}.")
            assert pair["rejected"].endswith(f" {row['conclusion']}.")


def test_a_broken_chain_is_voiced_with_the_roles_rejection():
    loaded = inputs()
    valid = WorkItem(3, "physics", "heated-rod", "critic", "prose", 0, key="k")
    trail, ctx = base_trail(loaded, valid, random.Random(4))
    wrong, wrong_ctx = base_trail(loaded, replace(valid, broken=True), random.Random(4))
    assert ctx.valid and not wrong_ctx.valid
    assert wrong.conclusion in {"the rod can get longer", "the rod gets longer"}
    assert wrong.prompt == trail.prompt  # the same chain, up to its conclusion
    accept = loaded.renderer.voice("critic", "physics", 0)[1]
    reject = loaded.renderer.voice("critic", "physics", 0, valid=False)[1]
    assert trail.text.endswith(accept) and wrong.text.endswith(reject) and accept != reject
    assert not list(prepared("flip").propose(wrong, wrong_ctx, random.Random(0)))


def test_wrong_conclusions_never_include_the_true_one():
    from trailforge.plan import wrong_conclusions

    loaded = inputs()
    for domain in loaded.content.domains.values():
        for frame in domain.frames:
            for stage, chain in loaded.grammar.stages.items():
                if all(s.field in frame.fields for s in chain.slots if not s.optional):
                    truth = frame.fields[chain.conclusion_field]
                    assert truth not in wrong_conclusions(frame, stage, chain)


def test_roles_offer_over_a_hundred_wrappers_and_qa_keeps_the_voice_out_of_the_question():
    from trailforge.plan import VOICES

    loaded = inputs()
    roles = ("student", "teacher", "critic", "child", "scientist", "skeptic")
    wrappers = {loaded.renderer.voice(role, "physics", v) for role in roles for v in range(VOICES)}
    assert len(wrappers) >= 100
    item = WorkItem(2, "physics", "heated-rod", "teacher", "qa", 3, key="k")
    trail, _ = base_trail(loaded, item, random.Random(0))
    intro = loaded.renderer.voice("teacher", "physics", 3)[0]
    first, question = trail.text.split("\n")[:2]
    assert first == intro and question.startswith("Question: ") and intro not in question


@pytest.mark.parametrize(
    "old, new, message, at",
    [
        (
            "relations: {resolution: follows}\n    anchors: {premise: heated",
            "relations: {resolution: musing}\n    anchors: {premise: heated",
            "unknown relation 'musing'",
            "musing",
        ),
        (
            "anchors: {premise: heated,",
            "anchors: {premise: frozen,",
            "'frozen' occurs 0 times",
            "frozen",
        ),
        (
            "        from: welded\n        to: loose",
            "        from: welded\n        to: welded",
            "edits nothing",
            "to: welded",
        ),
    ],
)
def test_bad_frames_stop_the_build_with_file_and_line(
    mini_copy, monkeypatch, old, new, message, at
):
    domain = mini_copy / "content" / "domains" / "physics.yaml"
    text = domain.read_text()
    assert old in text
    domain.write_text(text.replace(old, new, 1))
    line = next(i for i, row in enumerate(domain.read_text().splitlines(), 1) if at in row)
    monkeypatch.chdir(mini_copy)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 2 and message in result.output
    assert f"physics.yaml:{line}" in result.output and "Traceback" not in result.output
    assert not (mini_copy / "out").exists()  # nothing written


def test_lint_finds_a_clause_that_doubles_its_connective(mini_copy):
    domain = mini_copy / "content" / "domains" / "cooking.yaml"
    domain.write_text(
        domain.read_text().replace(
            "consequence: the yeast produces", "consequence: then the yeast produces"
        )
    )
    findings = lint(load_recipe(mini_copy / "trailforge.yaml"))
    assert {f.rule for f in findings} == {"doubled-word"}
    assert "'Then' before consequence" in findings[0].message
