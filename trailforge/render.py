"""Rendering: a chain of steps, voiced by a role and laid out by a view, becomes a trail's text.

Templates run in Jinja's sandbox with StrictUndefined. Views print each step's connective and text;
roles supply the `intro` and `outro` macros. The prompt/completion split is found by rendering the
conclusion's connective behind a private-use sentinel, so it holds for any view.
"""

from __future__ import annotations

import re
import signal
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, fields
from itertools import chain as concatenated
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import jinja2
from jinja2 import nodes
from jinja2.sandbox import MAX_RANGE, SandboxedEnvironment

from .errors import TemplateError


def _sentinel(steps: tuple["Step", ...]) -> str:
    """A private-use character that occurs in no step (marks where the conclusion begins)."""
    joined = "".join(step.text + step.connective for step in steps)
    return next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in joined)


#: The most characters one rendered trail (or voice line) may have.
MAX_OUTPUT = 20_000
#: The most seconds one template call may run (a render takes well under a millisecond).
MAX_SECONDS = 5.0


class _Overtime(Exception):
    """Raised inside a template call that ran past MAX_SECONDS."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds` with _Overtime (a real-time timer; only in the main
    thread, where signals are delivered: elsewhere the block runs unbounded)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def overtime(signum: int, frame: Any) -> None:
        raise _Overtime

    previous = signal.signal(signal.SIGALRM, overtime)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Step(NamedTuple):
    """One rendered step: its kind, the frame field behind it, its relation to what precedes it,
    its connective and clause (a named tuple: built for every proposal, so it must be cheap to
    make and to change)."""

    kind: str
    field: str
    relation: str
    connective: str
    text: str


class Voice(NamedTuple):
    """What a view prints besides the steps: the role's intro and outro lines, the domain title."""

    intro: str
    outro: str
    domain: str


#: The template variables a Voice fills.
VOICE_FIELDS = frozenset({"intro", "outro", "domain"})


#: A step's place in a view's layout: its kind, field and relation (all but its strings).
_LAYOUT = itemgetter(0, 1, 2)
#: A step's strings, which a skeleton substitutes: its connective and text.
_STRINGS = itemgetter(3, 4)


@dataclass(frozen=True)
class TrailOrigin:
    """Which trail: a frame at a curriculum stage, told by a role in a view and a voice (the
    fields a planned work item and a rendered trail share)."""

    stage: int
    domain: str
    frame_id: str
    role: str
    view: str
    voice: int


#: The names of a TrailOrigin's fields.
ORIGIN = tuple(f.name for f in fields(TrailOrigin))


@dataclass(frozen=True)
class TrailSpec(TrailOrigin):
    """Where a trail comes from (all but the steps' wording): its origin, the stage's chain, and
    whether its conclusion follows."""

    chain: str
    valid: bool = True  # False: the conclusion does not follow, and the role rejects it

    @classmethod
    def of(cls, origin: TrailOrigin, chain: str, valid: bool = True) -> "TrailSpec":
        """The spec of `origin` (a work item, say) rendered with `chain`."""
        return cls(**{name: getattr(origin, name) for name in ORIGIN}, chain=chain, valid=valid)


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
    """The template file and line where a render-time error was raised, if any: a frame of
    compiled template code (a macro called from Python) has the compiled line, mapped back to
    the template's own; a frame Jinja rewrote already has the template's line."""
    for frame, lineno in reversed(list(traceback.walk_tb(exc.__traceback__))):
        filename = frame.f_code.co_filename
        if filename.endswith(".j2"):
            template = frame.f_globals.get("__jinja_template__")
            if template is not None:
                lineno = template.get_corresponding_lineno(lineno)
            return filename, lineno
    return None, None


class Renderer:
    """Compiles templates once and renders trails; one per process. `skeletons=False` renders
    every trail through Jinja, never by a view's skeleton (the output is the same)."""

    def __init__(
        self, template_dir: Path, domain_titles: dict[str, str], skeletons: bool = True
    ) -> None:
        if not template_dir.is_dir():
            raise TemplateError(
                "template folder not found",
                file=template_dir,
                hint="point the recipe's `templates` at a folder with roles/ and views/",
            )
        self.template_dir = template_dir
        self.domain_titles = domain_titles
        self.skeletons = skeletons
        self.env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(template_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        self._views: dict[str, jinja2.Template] = {}
        self._voices: dict[tuple[str, str, int, bool], tuple[str, str]] = {}
        self._skeletons: dict[tuple, _Skeleton | None] = {}
        self._voice_lines: dict[tuple[str, str, int, bool], Voice] = {}
        self._voice_free: dict[str, bool] = {}  # view -> whether it only prints voice fields
        self._registers: dict[tuple, dict[str, tuple[str, ...]]] = {}
        # The last spec rendered, its voice and its skeletons' key prefix: a family's proposals
        # all share their parent's spec, so this is looked up once per family, not per proposal.
        self._last: tuple[TrailSpec | None, Voice, tuple] = (None, Voice("", "", ""), ())

    def available(self, folder: str) -> list[str]:
        return sorted(p.stem for p in (self.template_dir / folder).glob("*.j2"))

    def _load(self, name: str) -> jinja2.Template:
        path = self.template_dir / name
        if not path.is_file():
            folder = name.split("/")[0]
            raise TemplateError(
                f"template {name} not found",
                file=path,
                hint=f"available {folder}: {', '.join(self.available(folder))}",
            )
        try:
            return self.env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"template syntax error: {exc.message}",
                file=path,
                line=exc.lineno,
                hint="fix the Jinja syntax",
            ) from None
        except UnicodeDecodeError as exc:
            raise TemplateError(
                f"template is not UTF-8: byte {exc.object[exc.start]:#04x} at offset {exc.start}",
                file=path,
                line=exc.object.count(b"\n", 0, exc.start) + 1,
                hint="save the template as UTF-8",
            ) from None

    def _guard(self, name: str, call: Any) -> Any:
        """Run template code, turning its failures into a TemplateError with file and line; output
        longer than MAX_OUTPUT characters, or a call running past MAX_SECONDS, is refused too (a
        row is a short chain, not a book)."""
        try:
            with _time_limit(MAX_SECONDS):
                result = call()
        except TemplateError:
            raise
        except _Overtime as exc:
            file, line = _template_location(exc)
            raise TemplateError(
                f"template {name} ran past {MAX_SECONDS:g} s (a loop without "
                "end, or loops inside loops)",
                file=file or self.template_dir / name,
                line=line,
                hint="a view lays out one short chain; check its loops",
            ) from None
        except RecursionError as exc:
            file, line = _template_location(exc)
            raise TemplateError(
                f"template {name} recurses without end (a macro calling itself)",
                file=file or self.template_dir / name,
                line=line,
                hint="give the recursion a base case, or use a loop",
            ) from None
        except OverflowError as exc:  # the sandbox's range cap
            file, line = _template_location(exc)
            raise TemplateError(
                f"template {name} asks for too large a range: {exc}",
                file=file or self.template_dir / name,
                line=line,
                hint=f"ranges are capped at {MAX_RANGE} items",
            ) from None
        except (
            jinja2.UndefinedError,
            jinja2.exceptions.SecurityError,
            jinja2.TemplateError,
            TypeError,
            ValueError,
            AttributeError,
            IndexError,
            KeyError,
            ArithmeticError,
        ) as exc:
            file, line = _template_location(exc)
            kind = (
                "unsafe operation"
                if isinstance(exc, jinja2.exceptions.SecurityError)
                else "undefined variable"
                if isinstance(exc, jinja2.UndefinedError)
                else "render error"
            )
            raise TemplateError(
                f"{kind} in template {name}: {exc}",
                file=file or self.template_dir / name,
                line=line,
                hint="templates may use: steps (kind, relation, connective, text), intro, outro, "
                "domain, role, view; roles define intro(domain, variant) and outro(domain, variant)",
            ) from None
        if isinstance(result, str) and len(result) > MAX_OUTPUT:
            raise TemplateError(
                f"template {name} renders {len(result):,} characters, over the "
                f"cap of {MAX_OUTPUT:,}",
                file=self.template_dir / name,
                hint="a view lays out one short chain; check its loops",
            )
        return result

    def _role(self, role: str) -> tuple[str, Any]:
        """A role template's name and its module (macros and `set` variables)."""
        name = f"roles/{role}.j2"
        template = self._load(name)
        return name, self._guard(name, lambda: template.module)

    def judges(self, role: str) -> bool:
        """Whether the role can examine a broken chain: its template defines `reject`."""
        return hasattr(self._role(role)[1], "reject")

    def voice(self, role: str, domain: str, variant: int, valid: bool = True) -> tuple[str, str]:
        """The role's intro and outro lines for a domain; for a broken chain (`valid` false) the
        outro is the role's `reject` macro, which rejects the conclusion."""
        key = (role, domain, variant, valid)
        if key not in self._voices:
            name, module = self._role(role)
            closing = "outro" if valid else "reject"
            for macro in ("intro", closing):
                if not hasattr(module, macro):
                    raise TemplateError(
                        f"role template {name} defines no `{macro}` macro",
                        file=self.template_dir / name,
                        hint="define {% macro " + macro + "(domain, variant) %}",
                    )
            title = self.domain_titles.get(domain, domain)
            intro = str(self._guard(name, lambda: module.intro(title, variant))).strip()
            outro = str(self._guard(name, lambda: getattr(module, closing)(title, variant))).strip()
            self._voices[key] = (intro, outro)
        return self._voices[key]

    def register(
        self, role: str, relations: dict[str, tuple[str, ...]]
    ) -> dict[str, tuple[str, ...]]:
        """`relations` with the role's own connectives where it gives them (a role template may
        `{% set connectives = {"concludes": ["So"], ...} %}`: a child says "So", never "Hence").
        Computed once per role and set of relations (every family asks)."""
        key = (role, tuple(relations.items()))
        if key not in self._registers:
            self._registers[key] = self._register(role, relations)
        return self._registers[key]

    def _register(
        self, role: str, relations: dict[str, tuple[str, ...]]
    ) -> dict[str, tuple[str, ...]]:
        name, module = self._role(role)
        own = getattr(module, "connectives", None)
        if own is None:
            return relations
        path = self.template_dir / name
        if not isinstance(own, dict):
            raise TemplateError(
                f"{name}: connectives must map relations to lists",
                file=path,
                hint='e.g. {% set connectives = {"concludes": ["So"]} %}',
            )
        merged = dict(relations)
        for relation, alternatives in own.items():
            if relation not in relations:
                raise TemplateError(
                    f"{name}: connectives name unknown relation {relation!r}",
                    file=path,
                    hint=f"known relations: {', '.join(relations)}",
                )
            if (
                not isinstance(alternatives, list)
                or not alternatives
                or not all(isinstance(c, str) and c and c.strip() == c for c in alternatives)
            ):
                raise TemplateError(
                    f"{name}: connectives[{relation!r}] must be a non-empty list of connectives",
                    file=path,
                )
            merged[relation] = tuple(alternatives)
        return merged

    def _voice_of(self, spec: TrailSpec) -> "Voice":
        """What a view prints of the trail's voice: its intro and outro lines, its domain title."""
        key = (spec.role, spec.domain, spec.voice, spec.valid)
        if key not in self._voice_lines:
            intro, outro = self.voice(*key)
            self._voice_lines[key] = Voice(
                intro, outro, self.domain_titles.get(spec.domain, spec.domain)
            )
        return self._voice_lines[key]

    def _render_raw(self, spec: TrailSpec, steps: tuple[Step, ...], voice: "Voice") -> str:
        """The view's output through Jinja (sandboxed), not yet stripped."""
        name = f"views/{spec.view}.j2"
        if name not in self._views:
            self._views[name] = self._load(name)
        return str(
            self._guard(
                name,
                lambda: self._views[name].render(
                    steps=steps,
                    intro=voice.intro,
                    outro=voice.outro,
                    role=spec.role,
                    view=spec.view,
                    domain=voice.domain,
                ),
            )
        )

    def _places_voice(self, view: str) -> bool:
        """Whether a view uses `intro`, `outro` and `domain` only by printing them as they are
        (`{{ intro }}`: no filter, test, condition or include that could read them), so one
        skeleton serves every voice and domain. Checked once per view on its syntax tree."""
        if view not in self._voice_free:
            name = f"views/{view}.j2"
            if name not in self._views:  # a missing view or a syntax error: a TemplateError
                self._views[name] = self._load(name)
            tree = self.env.parse(self.env.loader.get_source(self.env, name)[0])  # type: ignore[union-attr]
            reaches_out = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)
            printed = sum(
                isinstance(node, nodes.Name) and node.name in VOICE_FIELDS
                for output in tree.find_all(nodes.Output)
                for node in output.nodes
            )
            named = sum(node.name in VOICE_FIELDS for node in tree.find_all(nodes.Name))
            self._voice_free[view] = printed == named and not any(tree.find_all(reaches_out))
        return self._voice_free[view]

    def _skeleton_prefix(self, spec: TrailSpec) -> tuple:
        """What, besides the steps' layout, tells one skeleton from another: view, role and
        validity, and the voice and domain unless the view only prints them."""
        voiced = self._places_voice(spec.view)
        return (spec.view, spec.role, spec.valid) + (() if voiced else (spec.voice, spec.domain))

    def _skeleton(
        self, spec: TrailSpec, steps: tuple[Step, ...], voice: "Voice", key: tuple
    ) -> _Skeleton | None:
        """The view's output with a placeholder for every step's connective and text (and for the
        voice's intro, outro and domain title where the view only prints them), if the view only
        places those strings (checked on two probes); else None (always render with Jinja).
        `key`: `_skeleton_prefix(spec)` and the steps' layout."""
        if key not in self._skeletons:
            voiced = self._places_voice(spec.view)
            n = 2 * len(steps)
            placeholders = tuple(
                step._replace(connective=_placeholder(2 * i), text=_placeholder(2 * i + 1))
                for i, step in enumerate(steps)
            )
            marks = (
                Voice(_placeholder(n), _placeholder(n + 1), _placeholder(n + 2))
                if voiced
                else voice
            )
            skeleton = _Skeleton.parse(self._render_raw(spec, placeholders, marks), len(steps))
            probe_steps = tuple(
                step._replace(connective=f"Probe{i}, x", text=f"PROBE text {i}: a-b")
                for i, step in enumerate(steps)
            )
            probes = [
                (steps, voice),
                (probe_steps, Voice("PROBE intro: a-b", "", "Probe Domain") if voiced else voice),
            ]
            # What the placeholder render prints as it is must hold no placeholder character
            # (steps' own strings and voiced fields are substituted, so any character is fine).
            printed = [
                spec.role,
                spec.view,
                *(x for s in steps for x in (s.kind, s.field, s.relation)),
            ]
            if skeleton is not None and _holds_placeholders(
                printed + ([] if voiced else list(voice))
            ):
                skeleton = None
            if skeleton is not None and any(
                skeleton.fill(p, v)[0] != self._render_raw(spec, p, v) for p, v in probes
            ):
                skeleton = None
            self._skeletons[key] = skeleton
        return self._skeletons[key]

    def render(self, spec: TrailSpec, steps: tuple[Step, ...]) -> Trail:
        """Render a chain; `text == prompt + completion`, and the completion starts with the
        space (if any) before the conclusion's connective.

        Views that only place step strings are rendered once per layout into a skeleton and then
        filled by substitution, which gives the same text as Jinja (checked) many times faster.
        """
        last, voice, prefix = self._last
        if spec is not last:  # specs are frozen: the same object has the same voice and prefix
            voice = self._voice_of(spec)
            prefix = self._skeleton_prefix(spec) if self.skeletons else ()
            self._last = (spec, voice, prefix)
        skeleton = None
        if self.skeletons:
            key = (prefix, tuple(map(_LAYOUT, steps)))
            skeleton = (
                self._skeletons[key]
                if key in self._skeletons
                else self._skeleton(spec, steps, voice, key)
            )
        if skeleton is not None:
            raw, cut = skeleton.fill(steps, voice)
            lead = len(raw) - len(raw.lstrip())
            text = raw.strip()
            cut -= lead
        else:
            sentinel = _sentinel(steps)
            marked = steps[:-1] + (steps[-1]._replace(connective=sentinel + steps[-1].connective),)
            raw = self._render_raw(spec, marked, voice).strip()
            name = f"views/{spec.view}.j2"
            if raw.count(sentinel) != 1:
                raise TemplateError(
                    f"view template {name} must print the conclusion's connective exactly once",
                    file=self.template_dir / name,
                    hint="print {{ step.connective }} for every step",
                )
            cut = raw.index(sentinel)
            text = raw.replace(sentinel, "")
        # The prompt ends on a visible character: byte-level BPEs attach a space to the word after
        # it, so a prompt ending in a space would tokenize unlike the same text inside prompt +
        # completion. With the space in the completion, tokens(prompt) prefix tokens(text).
        cut = len(text[:cut].rstrip(" \t"))
        return Trail(spec=spec, steps=steps, text=text, prompt=text[:cut], completion=text[cut:])


PLACEHOLDER_BASE = 0xF0000  # supplementary private use area A: never in curated text


def _placeholder(index: int) -> str:
    return chr(PLACEHOLDER_BASE + index)


_PLACEHOLDER_RANGE = re.compile(f"[{chr(PLACEHOLDER_BASE)}-{chr(0x10FFFF)}]")


def _holds_placeholders(strings: list[str]) -> bool:
    """Whether any of the strings holds a character at or above the placeholders."""
    return _PLACEHOLDER_RANGE.search("".join(strings)) is not None


@dataclass(frozen=True)
class _Skeleton:
    """A rendered view as two format strings: up to the conclusion's connective, and from it on
    (field 2i: step i's connective, 2i+1: its text; then the voice's intro, outro and domain)."""

    head: str
    tail: str

    @classmethod
    def parse(cls, raw: str, n_steps: int) -> "_Skeleton | None":
        formats: list[list[str]] = [[]]
        conclusion = 2 * (n_steps - 1)
        fields = 2 * n_steps + len(Voice._fields)
        for ch in raw:
            code = ord(ch) - PLACEHOLDER_BASE
            if code == conclusion:
                formats.append([])
            if 0 <= code < fields:
                formats[-1].append(f"{{{code}}}")
            else:
                formats[-1].append("{{" if ch == "{" else "}}" if ch == "}" else ch)
        if len(formats) != 2:
            return None  # the Jinja path reports the problem
        return cls(head="".join(formats[0]), tail="".join(formats[1]))

    def fill(self, steps: tuple[Step, ...], voice: Voice) -> tuple[str, int]:
        """The text for `steps` in `voice`, and where the conclusion's connective starts in it."""
        values = [*concatenated.from_iterable(map(_STRINGS, steps)), *voice]
        head = self.head.format(*values)
        return head + self.tail.format(*values), len(head)
