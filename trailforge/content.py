"""Curated content: domains of frames (true little arguments) and lexicons.

A frame maps clause fields (premise, consequence, conclusion, ...) to text; a chain's slots name
the fields they need. A frame may carry a `flip`: a minimal edit of one step that changes which
conclusion follows. See docs/content.md for the authoring rules these checks enforce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ContentError
from .yamlio import LineDict, LineList, load_yaml

CLAUSE_RE = re.compile(r"\S(?:.*\S)?")
ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
DOMAIN_RE = re.compile(r"[a-z0-9_]+")
CONCLUSION_FIELDS = ("conclusion", "blocked", "resolved")


def word_pattern(words: str) -> re.Pattern[str]:
    """A regex matching `words` as whole words."""
    return re.compile(r"(?<!\w)" + re.escape(words) + r"(?!\w)")


@dataclass(frozen=True)
class Flip:
    """A meaning-changing minimal edit: `source` -> `target` in `step`, with the new conclusions."""

    step: str
    source: str
    target: str
    conclusions: dict[str, str]


@dataclass(frozen=True)
class Frame:
    id: str
    domain: str
    fields: dict[str, str]
    flip: Flip | None
    line: int


@dataclass(frozen=True)
class Domain:
    name: str
    title: str
    frames: tuple[Frame, ...]
    synonyms: tuple[tuple[str, ...], ...]
    path: Path


@dataclass(frozen=True)
class Lexicon:
    """General synonym groups and filler words (see content/lexicon.yaml)."""

    synonyms: tuple[tuple[str, ...], ...] = ()
    fillers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Content:
    domains: dict[str, Domain]
    lexicon: Lexicon
    files: tuple[Path, ...] = field(default=())


def _line(node: Any, key: Any = None) -> int | None:
    if isinstance(node, LineDict):
        return node.key_lines.get(key, node.line) if key is not None else node.line
    if isinstance(node, LineList):
        return node.item_lines[key] if isinstance(key, int) else node.line
    return None


def check_clause(text: Any) -> str | None:
    """Why `text` is not a well-formed clause, or None if it is."""
    if not isinstance(text, str) or not text.strip():
        return "must be non-empty text"
    if not CLAUSE_RE.fullmatch(text) or "\n" in text:
        return "must be one line without leading or trailing spaces"
    if "  " in text:
        return "has doubled spaces"
    if text[-1] in ".!?;:,":
        return "must not end with punctuation (the template adds it)"
    return None


def _synonym_groups(raw: Any, path: Path, node: Any, key: Any) -> tuple[tuple[str, ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ContentError("synonym groups must be a list of lists", file=path, line=_line(node, key))
    groups = []
    for i, group in enumerate(raw):
        if (not isinstance(group, list) or len(group) < 2
                or not all(isinstance(w, str) and w.strip() == w and w for w in group)
                or len(set(group)) != len(group)):
            raise ContentError("a synonym group must list two or more distinct words",
                               file=path, line=_line(raw, i), hint="e.g. [large, big]")
        groups.append(tuple(group))
    return tuple(groups)


def _parse_flip(raw: Any, frame: LineDict, path: Path, fid: str) -> Flip:
    where = f"frame {fid!r}: flip"
    if not isinstance(raw, LineDict):
        raise ContentError(f"{where} must be a mapping", file=path, line=_line(frame, "flip"))
    for key in ("step", "from", "to"):
        if not isinstance(raw.get(key), str) or not raw.get(key):
            raise ContentError(f"{where}.{key} is required text", file=path, line=_line(raw, key),
                               hint="a flip needs step, from, to and at least one new conclusion")
    step = raw["step"]
    if step not in frame or step in CONCLUSION_FIELDS or step in ("id", "flip"):
        raise ContentError(f"{where}.step {step!r} is not a step field of this frame", file=path,
                           line=_line(raw, "step"), hint="flip a premise, consequence, complication"
                           " or resolution that the frame defines")
    hits = len(word_pattern(raw["from"]).findall(frame[step]))
    if hits != 1:
        raise ContentError(f"{where}.from {raw['from']!r} occurs {hits} times as whole words in "
                           f"{step}", file=path, line=_line(raw, "from"),
                           hint="choose words that occur exactly once in that step")
    unknown = set(raw) - {"step", "from", "to", *CONCLUSION_FIELDS}
    if unknown:
        raise ContentError(f"{where}: unknown keys {sorted(unknown)}", file=path,
                           line=_line(raw, sorted(unknown)[0]))
    conclusions = {k: raw[k] for k in CONCLUSION_FIELDS if k in raw}
    if not conclusions:
        raise ContentError(f"{where} lists no new conclusion", file=path, line=_line(raw),
                           hint=f"give the new text of one of {', '.join(CONCLUSION_FIELDS)}")
    for key, text in conclusions.items():
        problem = check_clause(text)
        if problem:
            raise ContentError(f"{where}.{key} {problem}", file=path, line=_line(raw, key))
    return Flip(step=step, source=raw["from"], target=raw["to"], conclusions=conclusions)


def load_domain(path: Path) -> Domain:
    """Load and validate one domain file."""
    data = load_yaml(path, ContentError, "domain file")
    if not isinstance(data, LineDict):
        raise ContentError("a domain file must be a mapping", file=path, line=1,
                           hint="top-level keys: domain, title, lexicon, frames")
    name = data.get("domain")
    if name != path.stem or not isinstance(name, str) or not DOMAIN_RE.fullmatch(name):
        raise ContentError(f"domain must equal the file name {path.stem!r} (a-z, 0-9, _)",
                           file=path, line=_line(data, "domain"))
    unknown = set(data) - {"domain", "title", "lexicon", "frames"}
    if unknown:
        raise ContentError(f"unknown top-level keys {sorted(unknown)}", file=path,
                           line=_line(data, sorted(unknown)[0]),
                           hint="top-level keys: domain, title, lexicon, frames")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ContentError("title is required", file=path, line=_line(data, "title"))
    raw_frames = data.get("frames")
    if not isinstance(raw_frames, LineList) or not raw_frames:
        raise ContentError("frames must be a non-empty list", file=path,
                           line=_line(data, "frames"), hint="see docs/content.md for a frame")
    frames: list[Frame] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_frames):
        if not isinstance(raw, LineDict):
            raise ContentError("a frame must be a mapping", file=path, line=_line(raw_frames, i))
        fid = raw.get("id")
        if not isinstance(fid, str) or not ID_RE.fullmatch(fid):
            raise ContentError("frame id must be kebab-case (a-z, 0-9, -)", file=path,
                               line=_line(raw, "id") or _line(raw_frames, i))
        if fid in seen:
            raise ContentError(f"frame id {fid!r} is used twice", file=path, line=_line(raw, "id"))
        seen.add(fid)
        fields: dict[str, str] = {}
        for key, text in raw.items():
            if key in ("id", "flip"):
                continue
            if not isinstance(key, str) or not key.isidentifier():
                raise ContentError(f"frame {fid!r}: field name {key!r} is not an identifier",
                                   file=path, line=_line(raw, key))
            problem = check_clause(text)
            if problem:
                raise ContentError(f"frame {fid!r}: {key} {problem}", file=path,
                                   line=_line(raw, key))
            fields[key] = text
        flip = _parse_flip(raw["flip"], raw, path, fid) if "flip" in raw else None
        frames.append(Frame(id=fid, domain=name, fields=fields, flip=flip, line=raw.line))
    synonyms = _synonym_groups(data.get("lexicon"), path, data, "lexicon")
    return Domain(name=name, title=title, frames=tuple(frames), synonyms=synonyms, path=path)


def load_lexicon(path: Path) -> Lexicon:
    """Load the general lexicon (synonym groups and filler words)."""
    data = load_yaml(path, ContentError, "lexicon")
    if not isinstance(data, LineDict):
        raise ContentError("the lexicon must be a mapping", file=path, line=1,
                           hint="top-level keys: synonyms, fillers")
    unknown = set(data) - {"synonyms", "fillers"}
    if unknown:
        raise ContentError(f"unknown top-level keys {sorted(unknown)}", file=path,
                           line=_line(data, sorted(unknown)[0]))
    fillers = data.get("fillers") or []
    if not isinstance(fillers, list) or not all(isinstance(w, str) and w.strip() for w in fillers):
        raise ContentError("fillers must be a list of words", file=path,
                           line=_line(data, "fillers"))
    return Lexicon(synonyms=_synonym_groups(data.get("synonyms"), path, data, "synonyms"),
                   fillers=tuple(fillers))


def load_content(directory: Path, domains: list[str] | None = None) -> Content:
    """Load `directory/domains/*.yaml` (or only the named ones) and `directory/lexicon.yaml`."""
    domain_dir = directory / "domains"
    if not domain_dir.is_dir():
        raise ContentError("content folder has no domains/ subfolder", file=directory,
                           hint="put one <domain>.yaml per domain under content/domains/")
    available = {p.stem: p for p in sorted(domain_dir.glob("*.yaml"))}
    wanted = sorted(available) if domains is None else list(domains)
    missing = [d for d in wanted if d not in available]
    if missing:
        raise ContentError(f"unknown domains {missing}", file=domain_dir,
                           hint=f"available: {', '.join(sorted(available)) or 'none'}")
    if not wanted:
        raise ContentError("no domain files found", file=domain_dir,
                           hint="add content/domains/<domain>.yaml (see docs/content.md)")
    loaded = {name: load_domain(available[name]) for name in wanted}
    lexicon_path = directory / "lexicon.yaml"
    lexicon = load_lexicon(lexicon_path) if lexicon_path.exists() else Lexicon()
    files = tuple(available[name] for name in wanted) + (
        (lexicon_path,) if lexicon_path.exists() else ())
    return Content(domains=loaded, lexicon=lexicon, files=files)
