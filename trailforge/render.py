"""Rendering: a chain of steps, voiced by a role and laid out by a view, becomes a trail's text.

Templates run in Jinja's sandbox with StrictUndefined. Views print each step's connective and text;
roles supply the `intro` and `outro` macros. The prompt/completion split is found by rendering the
conclusion's connective behind a private-use sentinel, so it holds for any view.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .errors import TemplateError


def _sentinel(steps: tuple["Step", ...]) -> str:
    """A private-use character that occurs in no step (marks where the conclusion begins)."""
    joined = "".join(step.text + step.connective for step in steps)
    return next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in joined)


@dataclass(frozen=True)
class Step:
    """One rendered step: its kind, the frame field behind it, its connective and clause."""

    kind: str
    field: str
    connective: str
    text: str


@dataclass(frozen=True)
class TrailSpec:
    """Where a trail comes from (all but the steps' wording)."""

    stage: int
    chain: str
    domain: str
    frame_id: str
    role: str
    view: str
    voice: int


@dataclass(frozen=True)
class Trail:
    spec: TrailSpec
    steps: tuple[Step, ...]
    text: str
    prompt: str
    completion: str

    @property
    def conclusion(self) -> str:
        return self.steps[-1].text

    @property
    def template_id(self) -> str:
        return f"views/{self.spec.view}.j2+roles/{self.spec.role}.j2"


def _template_location(exc: BaseException) -> tuple[str | None, int | None]:
    """The template file and line where a render-time error was raised, if any."""
    for frame, lineno in reversed(list(traceback.walk_tb(exc.__traceback__))):
        filename = frame.f_code.co_filename
        if filename.endswith(".j2"):
            return filename, lineno
    return None, None


class Renderer:
    """Compiles templates once and renders trails; one per process."""

    def __init__(self, template_dir: Path, domain_titles: dict[str, str]) -> None:
        if not template_dir.is_dir():
            raise TemplateError("template folder not found", file=template_dir,
                                hint="point the recipe's `templates` at a folder with roles/ and views/")
        self.template_dir = template_dir
        self.domain_titles = domain_titles
        self.env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(template_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        self._views: dict[str, jinja2.Template] = {}
        self._voices: dict[tuple[str, str, int], tuple[str, str]] = {}

    def available(self, folder: str) -> list[str]:
        return sorted(p.stem for p in (self.template_dir / folder).glob("*.j2"))

    def _load(self, name: str) -> jinja2.Template:
        path = self.template_dir / name
        if not path.is_file():
            folder = name.split("/")[0]
            raise TemplateError(f"template {name} not found", file=path,
                                hint=f"available {folder}: {', '.join(self.available(folder))}")
        try:
            return self.env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error: {exc.message}", file=path,
                                line=exc.lineno, hint="fix the Jinja syntax") from None

    def _guard(self, name: str, call: Any) -> Any:
        """Run template code, turning its failures into a TemplateError with file and line."""
        try:
            return call()
        except TemplateError:
            raise
        except (jinja2.UndefinedError, jinja2.exceptions.SecurityError, jinja2.TemplateError,
                TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
            file, line = _template_location(exc)
            kind = "unsafe operation" if isinstance(exc, jinja2.exceptions.SecurityError) else \
                "undefined variable" if isinstance(exc, jinja2.UndefinedError) else "render error"
            raise TemplateError(
                f"{kind} in template {name}: {exc}", file=file or self.template_dir / name,
                line=line, hint="templates may use: steps (kind, connective, text), intro, outro, "
                "domain, role, view; roles define intro(domain, variant) and outro(domain, variant)",
            ) from None

    def voice(self, role: str, domain: str, variant: int) -> tuple[str, str]:
        """The role's intro and outro lines for a domain."""
        key = (role, domain, variant)
        if key not in self._voices:
            name = f"roles/{role}.j2"
            template = self._load(name)
            module = self._guard(name, lambda: template.module)
            for macro in ("intro", "outro"):
                if not hasattr(module, macro):
                    raise TemplateError(f"role template {name} defines no `{macro}` macro",
                                        file=self.template_dir / name,
                                        hint="define {% macro " + macro + "(domain, variant) %}")
            title = self.domain_titles.get(domain, domain)
            intro = str(self._guard(name, lambda: module.intro(title, variant))).strip()
            outro = str(self._guard(name, lambda: module.outro(title, variant))).strip()
            self._voices[key] = (intro, outro)
        return self._voices[key]

    def render(self, spec: TrailSpec, steps: tuple[Step, ...]) -> Trail:
        """Render a chain; `text == prompt + completion` and the completion starts at the conclusion."""
        name = f"views/{spec.view}.j2"
        if name not in self._views:
            self._views[name] = self._load(name)
        intro, outro = self.voice(spec.role, spec.domain, spec.voice)
        sentinel = _sentinel(steps)
        marked = steps[:-1] + (replace(steps[-1], connective=sentinel + steps[-1].connective),)
        raw = self._guard(name, lambda: self._views[name].render(
            steps=marked, intro=intro, outro=outro, role=spec.role, view=spec.view,
            domain=self.domain_titles.get(spec.domain, spec.domain)))
        raw = raw.strip()
        if raw.count(sentinel) != 1:
            raise TemplateError(
                f"view template {name} must print the conclusion's connective exactly once",
                file=self.template_dir / name, hint="print {{ step.connective }} for every step")
        cut = raw.index(sentinel)
        text = raw.replace(sentinel, "")
        prompt, completion = text[:cut], text[cut:]
        return Trail(spec=spec, steps=steps, text=text, prompt=prompt, completion=completion)
