"""The dataset card is written by the Hub's libraries, loads without a warning, round-trips,
takes its metadata from the recipe, and cannot be edited without `verify` noticing."""

from __future__ import annotations

import json
import logging
import shutil

import datasets
import pytest
from click.testing import CliRunner
from huggingface_hub import DatasetCard

from trailforge.card import size_category
from trailforge.cli import main
from trailforge.configs import CONFIGS


@pytest.fixture
def version(mini_build, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(mini_build, target)
    return target


@pytest.mark.parametrize("build", ["mini_build", "default_build"])
def test_loading_every_config_warns_about_nothing(build, request, caplog, tmp_path):
    built = request.getfixturevalue(build)
    folder = getattr(built, "path", built)
    with caplog.at_level(logging.WARNING, logger="datasets"):
        for config in CONFIGS:
            loaded = datasets.load_dataset(str(folder), config, cache_dir=str(tmp_path))
            assert loaded.num_rows
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_the_card_round_trips_with_sizes_bytes_and_features(mini_build):
    card = DatasetCard.load(mini_build / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "apache-2.0" and data["pretty_name"] == "mini"
    assert data["size_categories"] == ["n<1K"] and data["task_ids"] == ["language-modeling"]
    info = {entry["config_name"]: entry for entry in data["dataset_info"]}
    assert set(info) == set(CONFIGS)
    manifest = json.loads((mini_build / "manifest.json").read_text())
    for config, entry in info.items():
        assert {s["name"]: s["num_examples"] for s in entry["splits"]} == manifest["configs"][
            config
        ]
        assert all(s["num_bytes"] > 0 for s in entry["splits"])
        assert entry["dataset_size"] == sum(s["num_bytes"] for s in entry["splits"])
        assert entry["download_size"] == sum(
            f["bytes"]
            for name, f in manifest["files"].items()
            if name.startswith(f"data/{config}/")
        )
        assert [f["name"] for f in entry["features"]][:4] == (
            ["id", "family_id", "parent_id", "depth"]
            if config == "trails"
            else ["id", "stage", "family_id", "depth"]
        )
    assert str(card) == (mini_build / "README.md").read_text()


@pytest.mark.parametrize(
    "rows, category", [(999, "n<1K"), (20_000_000, "10M<n<100M"), (5 * 10**12, "n>1T")]
)
def test_size_categories_are_the_hubs(rows, category):
    assert size_category(rows) == category


def test_card_metadata_comes_from_the_recipe(tmp_path):
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe

    from .conftest import MINI

    recipe = load_recipe(
        MINI / "trailforge.yaml",
        output=str(tmp_path),
        limit=4,
        card={
            "license": "cc-by-4.0",
            "pretty_name": "Ski tracks (mini)",
            "tags": ["reasoning"],
            "language": ["en", "de"],
        },
    )
    data = DatasetCard.load(build_version(recipe, workers=1).path / "README.md").data
    assert (data.license, data.pretty_name, data.tags, data.language) == (
        "cc-by-4.0",
        "Ski tracks (mini)",
        ["reasoning"],
        ["en", "de"],
    )


def test_verify_catches_an_edited_license(version):
    card = version / "README.md"
    card.write_text(card.read_text().replace("license: apache-2.0", "license: mit", 1))
    result = CliRunner().invoke(main, ["verify", str(version)])
    assert result.exit_code == 1 and "the card was changed after the build" in result.output


def test_verify_reports_what_datasets_warns_about(version):
    card = version / "README.md"
    card.write_text(card.read_text().replace("num_bytes:", "size_in_bytes:"))
    result = CliRunner().invoke(main, ["verify", str(version)])
    assert result.exit_code == 1 and "datasets cannot load config trails" in result.output
