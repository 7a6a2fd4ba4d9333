"""The registries (trailforge.registry): mutators, tokenizer backends, configs, engines and export
formats share one shape, say what each entry is, refuse unknown names with the valid ones, and
feed the CLI."""

from __future__ import annotations

import pytest

from trailforge.cli import build, export
from trailforge.configs import CONFIGS
from trailforge.engines import ENGINES, get_engine
from trailforge.errors import (
    DatasetError,
    OutputError,
    RecipeError,
    TokenizerError,
    TrailforgeError,
)
from trailforge.export import FORMATS
from trailforge.mutate import MUTATORS
from trailforge.registry import Lazy, Registry
from trailforge.tokenize import TOKENIZERS

REGISTRIES = {
    "mutator": (MUTATORS, RecipeError),
    "tokenizer backend": (TOKENIZERS, TokenizerError),
    "config": (CONFIGS, DatasetError),
    "engine": (ENGINES, TrailforgeError),
    "export format": (FORMATS, OutputError),
}


@pytest.mark.parametrize("what", sorted(REGISTRIES))
def test_every_registry_has_one_shape(what):
    registry, error = REGISTRIES[what]
    assert isinstance(registry, Registry) and registry.what == what
    descriptions = registry.descriptions()
    assert list(descriptions) == list(registry) and all(descriptions.values())
    name = next(iter(registry))
    assert registry.lookup(name) is registry[name]
    assert registry.unknown([name, "no-such-entry"]) == ["no-such-entry"]
    with pytest.raises(error, match=f"unknown {what} 'no-such-entry'") as info:
        registry.lookup("no-such-entry")
    assert all(n in info.value.hint for n in registry)


def test_lazy_entries_load_what_they_name():
    for entry in [*ENGINES.values(), *TOKENIZERS.values()]:
        assert isinstance(entry, Lazy) and callable(entry.load())
    assert all(callable(get_engine(name)) for name in ENGINES)  # Ray itself loads only in run
    with pytest.raises(TrailforgeError, match="unknown engine"):
        get_engine("threads")


def test_mutators_are_registered_under_their_op():
    assert all(cls.op == op for op, cls in MUTATORS.items())


def test_the_cli_reads_choices_and_help_from_the_registries():
    params = {p.name: p for p in build.params}
    engine = params["engine"]
    assert list(engine.type.choices) == list(ENGINES)  # the CLI offers exactly the registry
    assert all(f"{n}, {d}" in engine.help for n, d in ENGINES.descriptions().items())
    assert all(d in params["tokenizers"].help for d in TOKENIZERS.descriptions().values())
    formats = {p.name: p for p in export.params}["fmt"]
    assert list(formats.type.choices) == list(FORMATS)
    assert all(d in export.help for d in FORMATS.descriptions().values())
