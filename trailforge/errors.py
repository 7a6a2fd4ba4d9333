"""Errors meant for users: each names the file (and line, where known) and how to fix it."""

from __future__ import annotations

from pathlib import Path


class TrailforgeError(Exception):
    """A problem the user can fix. The CLI prints it without a traceback and exits 2."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.hint = hint
        super().__init__(self.format())

    @property
    def location(self) -> str:
        if self.file is None:
            return ""
        shown = self.file
        try:  # shorter and free of machine paths when the file is under the working folder
            shown = Path(self.file).resolve().relative_to(Path.cwd().resolve()).as_posix()
        except (ValueError, OSError):
            pass
        return f"{shown}:{self.line}" if self.line else shown

    def format(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class RecipeError(TrailforgeError):
    """The recipe (trailforge.yaml) is missing, malformed or inconsistent."""


class GrammarError(TrailforgeError):
    """A chain grammar is malformed."""


class ContentError(TrailforgeError):
    """A domain, frame or lexicon file is malformed."""


class TemplateError(TrailforgeError):
    """A Jinja template is malformed or fails to render."""


class TokenizerError(TrailforgeError):
    """A target tokenizer cannot be found or loaded."""


class OutputError(TrailforgeError):
    """The output location cannot be written (e.g. the version already exists)."""


class DatasetError(TrailforgeError):
    """A built dataset directory is missing or unreadable."""


class ModelError(TrailforgeError):
    """A language model cannot be found, loaded or used for what was asked (trailforge.lm)."""


class EvalError(TrailforgeError):
    """The version or reference text to evaluate a model on is unusable."""


class DriftError(TrailforgeError):
    """A drift map cannot be drawn (no variants to measure, no drift model installed)."""


class PublishError(TrailforgeError):
    """Publishing failed or was refused; nothing partial was left on the Hub."""


class WorldError(TrailforgeError):
    """A world program is malformed or has no stratified meaning."""
