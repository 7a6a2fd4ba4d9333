"""One shape for every extension point (mutators, tokenizer backends, configs, engines).

A registry is a dict from a name to an entry that says what it is in its `description`: the thing
itself where it can carry one (a mutator class, a `Config`), or a `Lazy` entry that names the code
and imports it only when used (engines; tokenizer backends). `Registry.lookup(name)` is the one
way to ask for a name from outside the code: an unknown name raises the registry's error with
the valid names as its hint. The CLI reads its choices and help from the registries.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Generic, Iterable, TypeVar, cast

from .errors import TrailforgeError

E = TypeVar("E")
T = TypeVar("T")


class Registry(dict[str, E]):
    """Named entries of one kind (`what`, e.g. "mutator"), each with a `description`."""

    def __init__(
        self, what: str, entries: dict[str, E], error: type[TrailforgeError] = TrailforgeError
    ) -> None:
        super().__init__(entries)
        self.what = what
        self.error = error

    def lookup(self, name: str) -> E:
        """The entry called `name`; the registry's error, naming the valid ones, if none is."""
        if name not in self:
            raise self.error(f"unknown {self.what} {name!r}", hint=self.hint())
        return self[name]

    def unknown(self, names: Iterable[str]) -> list[str]:
        """Those of `names` that name no entry, in their order."""
        return [name for name in names if name not in self]

    def hint(self) -> str:
        return f"use one of {', '.join(self)}"

    def descriptions(self) -> dict[str, str]:
        """Each entry's name and what it is, in registry order (for help texts)."""
        return {name: getattr(entry, "description") for name, entry in self.items()}


@dataclass(frozen=True)
class Lazy(Generic[T]):
    """An entry whose code is imported when it is first used: `target` is "module:attribute"."""

    target: str
    description: str

    def load(self) -> T:
        module, _, attribute = self.target.partition(":")
        return cast(T, getattr(importlib.import_module(module), attribute))
