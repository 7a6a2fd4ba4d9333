"""Worlds: the rule language's solver on hand-made programs, and generated frames whose
conclusions are the solver's answers at every stage and under every flip."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trailforge.content import GeneratedFrames, check_clause, word_pattern
from trailforge.errors import ContentError
from trailforge.worlds.generate import (
    STAGE_FIELDS,
    load_banks,
    world_domain,
    world_frame,
)
from trailforge.worlds.logic import (
    Program,
    Rule,
    WorldError,
    holds,
    logic_json,
    parse_logic,
    solve,
)

from .conftest import ROOT

BANKS = load_banks(ROOT / "content" / "worlds" / "banks.yaml")

FLY = Rule(then="flies(pip)", when=("heron(pip)",), unless=("held(pip)",))
HURT = Rule(then="held(pip)", when=("hurt(pip)",))
HURT_UNLESS_TREATED = Rule(then="held(pip)", when=("hurt(pip)",), unless=("treated(pip)",))


def test_a_rule_applies_and_its_exception_blocks_it():
    assert holds(Program(frozenset({"heron(pip)"}), (FLY, HURT)), "flies(pip)")
    assert not holds(Program(frozenset({"heron(pip)", "hurt(pip)"}), (FLY, HURT)), "flies(pip)")


def test_an_exception_to_the_exception_reinstates_the_rule():
    program = Program(
        frozenset({"heron(pip)", "hurt(pip)", "treated(pip)"}), (FLY, HURT_UNLESS_TREATED)
    )
    assert solve(program) == {"heron(pip)", "hurt(pip)", "treated(pip)", "flies(pip)"}
    assert not holds(program.with_facts(remove=["treated(pip)"]), "flies(pip)")


def test_closed_world_and_distractors():
    chain = (FLY, Rule(then="nests(pip)", when=("flies(pip)",)))
    assert not holds(Program(frozenset(), chain), "nests(pip)")  # nothing said, nothing holds
    with_noise = Program(
        frozenset({"heron(pip)", "goat(tam)"}),
        chain + (Rule(then="climbs(tam)", when=("goat(tam)",)),),
    )
    assert holds(with_noise, "nests(pip)") and holds(with_noise, "climbs(tam)")
    assert solve(with_noise) - {"goat(tam)", "climbs(tam)"} == solve(
        Program(frozenset({"heron(pip)"}), chain)
    )


def test_rule_order_does_not_matter():
    rules = (HURT_UNLESS_TREATED, Rule(then="nests(pip)", when=("flies(pip)",)), FLY)
    facts = frozenset({"heron(pip)", "hurt(pip)"})
    assert solve(Program(facts, rules)) == solve(Program(facts, tuple(reversed(rules))))


@pytest.mark.parametrize(
    "rules",
    [
        (Rule(then="p", unless=("q",)), Rule(then="q", unless=("p",))),
        (Rule(then="p", unless=("p",)),),
        (Rule(then="p", when=("r",)), Rule(then="r", unless=("p",))),
    ],
)
def test_an_unstratifiable_program_is_refused(rules):
    with pytest.raises(WorldError) as info:
        solve(Program(frozenset(), rules))
    assert "not stratified" in info.value.message and info.value.hint


def test_logic_round_trips_and_names_what_is_malformed():
    program = Program(frozenset({"heron(pip)", "hurt(pip)"}), (FLY, HURT))
    text = logic_json(program, "flies(pip)")
    assert json.loads(text) == {
        "facts": ["heron(pip)", "hurt(pip)"],
        "rules": [FLY.as_json(), HURT.as_json()],
        "query": "flies(pip)",
        "holds": False,
    }
    again, query, recorded = parse_logic(text)
    assert again == program and query == "flies(pip)" and recorded is False
    with pytest.raises(WorldError, match="malformed"):
        parse_logic('{"facts": []}')


frame_args = st.tuples(st.integers(0, 2**31), st.integers(0, 10**6), st.booleans())


@given(args=frame_args)
def test_every_stage_says_what_the_solver_derives(args):
    seed, index, ood = args
    frame = world_frame(BANKS, seed, index, ood)
    logic = frame.logic
    for stage, fields in STAGE_FIELDS.items():
        conclusion = frame.fields[fields[-1]]
        assert (" cannot " not in conclusion) == logic.holds(fields), (stage, conclusion)
        assert json.loads(logic.row_json(fields))["holds"] == logic.holds(fields)
    assert [logic.holds(f) for f in STAGE_FIELDS.values()] == [True, True, False, True, True]


def _claim_holds(text: str, model: frozenset[str]) -> bool:
    """Whether an inferred step ("Tam can sing", "Tam can sing unless Tam is cold") is true in
    the solved `model`: "A unless S" is true when A holds or S does."""
    name, _, rest = text.partition(" can ")
    ability, _, state = rest.partition(f" unless {name} is ")

    def atom(phrase: str) -> str:
        return f"{phrase.replace(' ', '_')}({name.lower()})"

    return atom(ability) in model or bool(state) and atom(state) in model


@given(args=frame_args)
def test_no_inferred_step_is_false_in_the_program_its_chain_states(args):
    """A chain never asserts a step that a later complication makes false ("So Tam can sing.
    But Tam is cold. Therefore, Tam cannot join the flock"), under any flip either."""
    frame = world_frame(BANKS, *args)
    for stage, fields in STAGE_FIELDS.items():
        for flip in [None, *range(len(frame.flips))]:
            if flip is not None and not frame.flips[flip].applies(stage, list(fields)):
                continue
            model = solve(frame.logic.program(fields, flip))
            for field in ("consequence", "consequence_2"):
                if field in fields:
                    assert _claim_holds(frame.fields[field], model), (stage, flip, field)


@given(args=frame_args)
def test_every_flip_edits_its_step_and_flips_the_answer(args):
    frame = world_frame(BANKS, *args)
    for index, flip in enumerate(frame.flips):
        assert len(word_pattern(flip.source).findall(frame.fields[flip.step])) == 1
        applied = [
            (stage, fields)
            for stage, fields in STAGE_FIELDS.items()
            if flip.applies(stage, list(fields))
        ]
        assert applied
        for stage, fields in applied:
            before, after = frame.logic.holds(fields), frame.logic.holds(fields, index)
            assert before != after, (stage, flip)
            new = flip.conclusions[fields[-1]]
            assert (" cannot " not in new) == after and new != frame.fields[fields[-1]]


@given(args=frame_args)
def test_world_frames_are_well_formed_clauses_with_anchors(args):
    frame = world_frame(BANKS, *args)
    for field, text in frame.fields.items():
        assert check_clause(text) is None, (field, text)
    for field, words in frame.anchors.items():
        assert len(word_pattern(words).findall(frame.fields[field])) == 1, (field, words)


def test_generation_is_deterministic_and_distinct():
    first = world_domain(BANKS, seed=5, count=300)
    again = world_domain(BANKS, seed=5, count=300)
    assert [f.fields for f in first.frames] == [f.fields for f in again.frames]
    for fields in STAGE_FIELDS.values():  # distinct cores: distinct programs at every stage
        assert len({f.logic.row_json(fields) for f in first.frames}) == 300


def test_a_world_domain_makes_its_frames_on_use_and_gives_them_back_whole():
    import pickle

    domain = world_domain(BANKS, seed=3, count=40, ood=5)
    frames = domain.frames
    assert isinstance(frames, GeneratedFrames) and len(frames) == 45
    made = [world_frame(BANKS, 3, i) for i in range(40)] + [
        world_frame(BANKS, 3, i, ood=True) for i in range(5)
    ]
    assert list(frames) == made and frames[-1] == made[-1] and frames[2:4] == made[2:4]
    assert domain.frame_ids() == tuple(f.id for f in made)
    assert domain.split_frame_ids() == [f.id for f in made if not f.held_out]
    assert len(domain.split_frame_ids()) == 40
    assert domain.frame("world-ood-000003") == made[43]
    assert domain.frame(made[7].id) is domain.frame(made[7].id)  # recently used: kept
    with pytest.raises(IndexError):
        frames[45]
    # it travels to workers as how to make the frames: the banks, the seed and the ids
    assert list(pickle.loads(pickle.dumps(frames))) == made
    assert len(pickle.dumps(frames)) < len(pickle.dumps(BANKS)) + 45 * 40


def test_ood_vocabulary_never_reaches_other_frames():
    ood_words = {w for entry in BANKS.ood_kinds + BANKS.ood_skills for w in entry}
    train_words = {w for entry in BANKS.kinds + BANKS.skills for w in entry}
    assert not ood_words & train_words
    domain = world_domain(BANKS, seed=2, count=200, ood=50)
    for frame in domain.frames:
        text = " ".join(frame.fields.values()) + " " + " ".join(f.target for f in frame.flips)
        used_ood = any(word_pattern(w).search(text) for w in ood_words)
        assert used_ood == frame.id.startswith("world-ood-"), frame.id


def test_bad_banks_are_refused_with_file_and_line(tmp_path):
    path = tmp_path / "banks.yaml"
    text = (ROOT / "content" / "worlds" / "banks.yaml").read_text()
    path.write_text(text.replace("  - [moth, moths]", "  - [heron, herons]"))
    with pytest.raises(ContentError, match="both `kinds` and `ood_kinds`") as info:
        load_banks(path)
    assert info.value.line is not None
    path.write_text(text.replace("  - [goat, goats]", "  - [sheep, sheep]"))
    with pytest.raises(ContentError, match="same singular and plural"):
        load_banks(path)
    with pytest.raises(ContentError, match="must be a file, not a folder") as info:
        load_banks(tmp_path)  # e.g. `banks: content/worlds`
    assert info.value.file == str(tmp_path) and info.value.hint


@pytest.mark.parametrize(
    "old, new, message",
    [
        # atoms lowercase names: Pip and pip would be one individual, and their flip a no-op
        ("names: [Pip, Tam,", "names: [Pip, pip,", "`names` lists 'pip' twice .'Pip' and 'pip'"),
        ("states: [hurt, sick,", "states: [hurt, hurt,", "`states` lists 'hurt' twice"),
        ("  - [goat, goats]", "  - [Heron, herons]", "`kinds` lists 'Heron' twice"),
        ("items: [charm,", "items: [charm, charm,", "`items` lists 'charm' twice"),
        # a state that is also an ability makes "fly unless fly": no stratification
        ("states: [hurt, sick,", "states: [fly, sick,", "'fly' in `states` is also 'fly' in"),
        ("states: [hurt, sick,", "states: [held back, sick,", "the solver's own `held_back`"),
    ],
)
def test_banks_that_repeat_an_entry_or_reuse_a_phrase_are_refused(tmp_path, old, new, message):
    path = tmp_path / "banks.yaml"
    text = (ROOT / "content" / "worlds" / "banks.yaml").read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ContentError, match=message) as info:
        load_banks(path)
    assert info.value.file == str(path) and info.value.line is not None and info.value.hint


@pytest.fixture(scope="module")
def world_build(tmp_path_factory):
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe

    from .conftest import MINI

    recipe = load_recipe(
        MINI / "trailforge.yaml",
        output=str(tmp_path_factory.mktemp("worlds")),
        worlds={
            "frames": 30,
            "ood_frames": 6,
            "banks": str(ROOT / "content" / "worlds" / "banks.yaml"),
        },
    )
    return build_version(recipe, workers=1).path


def test_a_world_build_carries_logic_and_verifies(world_build):
    from click.testing import CliRunner

    from trailforge.cli import main
    from trailforge.dataset import read_table

    rows = read_table(world_build).to_pylist()
    worlds = [r for r in rows if r["domain"] == "worlds"]
    assert worlds and all(r["logic"] for r in worlds)
    assert all(r["logic"] is None for r in rows if r["domain"] != "worlds")
    assert {r["split"] for r in worlds if r["frame_id"].startswith("world-ood-")} == {"ood"}
    assert {r["split"] for r in worlds} >= {"train", "ood"}
    for row in worlds:
        if row["valid"]:  # the conclusion says what the logic holds (a variant may contract it)
            negative = " cannot " in row["conclusion"] or " can't " in row["conclusion"]
            assert (not negative) == json.loads(row["logic"])["holds"]
    stages = {r["stage"] for r in worlds if r["mutation"] and r["mutation"]["op"] == "flip"}
    assert stages == {1, 3, 4}  # the mini recipe runs stage 5 for physics only
    result = CliRunner().invoke(main, ["verify", str(world_build)])
    assert result.exit_code == 0 and "world logic" in result.output, result.output


def _tamper(world_build, tmp_path, change):
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from trailforge.cli import main
    from trailforge.write import PARQUET_OPTIONS, sha256_file

    copy = tmp_path / "copy"
    shutil.copytree(world_build, copy)
    name = "data/trails/train-00000-of-00001.parquet"
    table = pq.read_table(copy / name)
    rows = table.to_pylist()
    change(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), copy / name, **PARQUET_OPTIONS)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"][name]["sha256"] = sha256_file(copy / name)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return CliRunner().invoke(main, ["verify", str(copy)])


def test_a_tampered_holds_fails_verify(world_build, tmp_path):
    def tamper(rows):
        row = next(r for r in rows if r["logic"])
        logic = json.loads(row["logic"])
        logic["holds"] = not logic["holds"]
        row["logic"] = json.dumps(logic)

    result = _tamper(world_build, tmp_path, tamper)
    assert result.exit_code == 1 and "the solver derives" in result.output


def test_a_flip_that_keeps_holds_fails_verify(world_build, tmp_path):
    def tamper(rows):
        by_id = {r["id"]: r for r in rows}
        row = next(
            r
            for r in rows
            if r["logic"]
            and r["mutation"]
            and r["mutation"]["op"] == "flip"
            and r["parent_id"] in by_id
        )
        row["logic"] = by_id[row["parent_id"]]["logic"]

    result = _tamper(world_build, tmp_path, tamper)
    assert result.exit_code == 1 and "a flip that leaves holds" in result.output


def test_the_worlds_recipe_builds_distinct_worlds_identically_with_any_workers(tmp_path):
    from trailforge.dataset import read_table
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe

    def build(workers: int, out: str):
        recipe = load_recipe(
            ROOT / "recipes" / "worlds.yaml",
            output=str(tmp_path / out),
            worlds={
                "frames": 120,
                "ood_frames": 12,
                "stages_per_frame": 1,
                "banks": "../content/worlds/banks.yaml",
            },
        )
        return build_version(recipe, workers=workers, shard_size=16)

    one, two = build(1, "a"), build(2, "b")
    files = sorted(p.relative_to(one.path) for p in one.path.rglob("*.parquet"))
    assert files == sorted(p.relative_to(two.path) for p in two.path.rglob("*.parquet"))
    assert all((one.path / f).read_bytes() == (two.path / f).read_bytes() for f in files)
    rows = read_table(one.path).select(["frame_id", "stage", "depth", "logic", "split"]).to_pylist()
    bases = [r for r in rows if r["depth"] == 0]
    assert {r["frame_id"] for r in bases} == {f"world-{i:06d}" for i in range(120)} | {
        f"world-ood-{i:06d}" for i in range(12)
    }
    assert len({r["logic"] for r in bases}) == len(bases)  # one stage each: distinct programs
    assert {r["split"] for r in rows if r["frame_id"].startswith("world-ood-")} == {"ood"}


def test_asking_for_more_worlds_than_the_banks_allow_is_a_clear_error(mini_copy):
    from click.testing import CliRunner

    from trailforge.cli import main
    from trailforge.worlds.generate import core_count

    too_many = core_count(BANKS, ood=True) + 1
    recipe = mini_copy / "trailforge.yaml"
    recipe.write_text(
        recipe.read_text() + f"worlds: {{frames: 10, ood_frames: {too_many}, banks: "
        f"{ROOT / 'content' / 'worlds' / 'banks.yaml'}}}\n"
    )
    result = CliRunner().invoke(main, ["build", "--recipe", str(recipe)])
    assert result.exit_code == 2 and "distinct ones" in result.output
    assert "banks.yaml" in result.output
    assert not (mini_copy / "out").exists()


def test_banks_whose_words_always_collide_are_a_clear_error_before_anything_is_written(
    mini_copy,
):
    """Frames are made when the plan first visits them: a frame that cannot be drawn without
    an anchor occurring twice fails the build there, before any shard or version folder."""
    from click.testing import CliRunner

    from trailforge.cli import main

    text = (ROOT / "content" / "worlds" / "banks.yaml").read_text()
    banks = mini_copy / "banks.yaml"
    # every place names every kind: the premise (anchored on its kind) says it twice
    kinds = [kind for kind, _ in BANKS.kinds + BANKS.ood_kinds]
    places = f"places: [in this {' '.join(kinds)} land, in this {' '.join(reversed(kinds))} land]"
    start = text.index("places:")
    banks.write_text(text[:start] + places + "\n" + text[text.index("names:") :])
    recipe = mini_copy / "trailforge.yaml"
    recipe.write_text(
        recipe.read_text() + f"worlds: {{frames: 5, ood_frames: 1, banks: {banks}}}\n"
    )
    result = CliRunner().invoke(main, ["build", "--recipe", str(recipe)])
    assert result.exit_code == 2, result.output
    assert "do not collide" in result.output and "Traceback" not in result.output
    assert "banks.yaml" in result.output  # the file to fix
    assert not (mini_copy / "out").exists()
