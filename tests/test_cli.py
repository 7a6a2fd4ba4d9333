from __future__ import annotations

import pytest
from click.testing import CliRunner

from trailforge.cli import main


def test_build_show_and_family(mini_copy, monkeypatch):
    monkeypatch.chdir(mini_copy)
    runner = CliRunner()
    result = runner.invoke(main, ["build", "--limit", "12", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "out/mini/0.0.1" in result.output and "split" in result.output
    version = mini_copy / "out" / "mini" / "0.0.1"
    shown = runner.invoke(main, ["show", str(version), "--n", "2"])
    assert shown.exit_code == 0 and "premise" in shown.output
    family = runner.invoke(main, ["show", str(version), "--family", "1"])
    assert family.exit_code == 0 and "[[" in family.output and "token distance" in family.output
    again = runner.invoke(main, ["build", "--limit", "12"])
    assert again.exit_code == 0 and "nothing to do" in again.output


def test_user_errors_exit_2_without_traceback(mini_copy, monkeypatch):
    monkeypatch.chdir(mini_copy)
    (mini_copy / "grammars" / "ski-chain.yaml").write_text(
        "relations: {g: [If]}\nkinds: {premise: g}\nchains:\n  a: {steps: [premise, wander]}\n"
        "stages: {1: a}\n"
    )
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 2
    assert "ski-chain.yaml:4" in result.output and "unknown step kind" in result.output
    assert "Traceback" not in result.output
    assert not (mini_copy / "out").exists()


def test_bad_tokenizer_option(mini_copy, monkeypatch):
    monkeypatch.chdir(mini_copy)
    result = CliRunner().invoke(main, ["build", "--tokenizer", "nope"])
    assert result.exit_code == 2 and "unknown tokenizer" in result.output


def test_show_on_missing_folder(tmp_path):
    result = CliRunner().invoke(main, ["show", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "not found" in result.output


def test_show_filters_and_no_match(mini_build):
    runner = CliRunner()
    staged = runner.invoke(
        main, ["show", str(mini_build), "--stage", "4", "--domain", "physics", "--n", "1"]
    )
    assert staged.exit_code == 0 and "stage 4 · physics" in staged.output
    assert staged.output.count("family ") == 1
    none = runner.invoke(main, ["show", str(mini_build), "--stage", "9"])
    assert none.exit_code == 2 and "no trails match" in none.output
    far = runner.invoke(main, ["show", str(mini_build), "--family", "999"])
    assert far.exit_code == 2 and "out of range" in far.output


@pytest.mark.parametrize(
    "view, message",
    [
        (
            "{% for i in range(10**9) %}x{% endfor %}{% for s in steps %}{{ s.connective }}{% endfor %}",
            "too large a range",
        ),
        (
            "{% macro loop(n) %}{{ loop(n) }}{% endmacro %}{{ loop(1) }}"
            "{% for s in steps %}{{ s.connective }}{% endfor %}",
            "recurses",
        ),
    ],
)
def test_runaway_templates_exit_2_without_traceback(mini_copy, monkeypatch, view, message):
    monkeypatch.chdir(mini_copy)
    (mini_copy / "templates" / "views" / "prose.j2").write_text(view)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output and not (mini_copy / "out").exists()
