"""Curated content: domains of frames (true little arguments) and lexicons.

A frame maps clause fields (premise, consequence, conclusion, ...) to text; a chain's slots name
the fields they need. A frame may state a step's relation where its kind's default is wrong, name
each step's decisive word (its anchor), mark given facts that bear on nothing as distractors, and
carry `flips`: minimal edits of one step that change which conclusion follows. See
docs/content.md for the authoring rules these checks enforce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, overload

from .errors import ContentError
from .yamlio import LineDict, LineList, line_at, load_yaml

CLAUSE_RE = re.compile(r"\S(?:.*\S)?")
ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
DOMAIN_RE = re.compile(r"[a-z0-9_]+")
CONCLUSION_FIELDS = ("conclusion", "blocked", "resolved")
FRAME_KEYS = ("id", "flips", "relations", "anchors", "distractors")
#: Words an anchor may not consist of only: an anchor marks what the argument turns on.
FUNCTION_WORDS = frozenset(
    """a an the of to in on at by for with from and or but if then so as is
are was were be been being it its this that these those there here not no than into onto over under
up down out off can cannot could would should will may might must do does did has have had he she
they we you i his her their our your which who whom whose what when where while because also very
more most less least some any all each every both either neither""".split()
)


#: Word pairs a flip can swap without new content (modality and polarity): most flips of a domain
#: should change what is the case instead (docs/content.md).
MODAL_SWAPS = frozenset(
    frozenset(pair)
    for pair in (
        ("can", "cannot"),
        ("likely", "unlikely"),
        ("no", "some"),
        ("is", "is not"),
        ("does", "does not"),
        ("will", "will not"),
    )
)


@lru_cache(maxsize=8192)  # mutators ask for the same few thousand words again and again
def word_pattern(words: str) -> re.Pattern[str]:
    """A regex matching `words` as whole words."""
    return re.compile(r"(?<!\w)" + re.escape(words) + r"(?!\w)")


@dataclass(frozen=True)
class Flip:
    """A meaning-changing minimal edit: `source` -> `target` in `step`, with the new conclusions,
    the steps whose relation the edit changes, and (optionally) the only stages it applies in."""

    step: str
    source: str
    target: str
    conclusions: dict[str, str]
    relations: dict[str, str] = field(default_factory=dict)
    stages: tuple[int, ...] | None = None
    line: int | None = None  # where the flip starts in its domain file

    def applies(self, stage: int, fields: list[str]) -> bool:
        """Whether the flip applies to a chain of `stage` showing `fields` (conclusion last)."""
        return (
            self.step in fields
            and fields[-1] in self.conclusions
            and (self.stages is None or stage in self.stages)
        )


@dataclass(frozen=True)
class Frame:
    id: str
    domain: str
    fields: dict[str, str]
    flips: tuple[Flip, ...] = ()
    relations: dict[str, str] = field(default_factory=dict)  # step field -> relation
    anchors: dict[str, str] = field(default_factory=dict)  # step field -> its decisive words
    distractors: frozenset[str] = frozenset()  # given steps that bear on no conclusion
    path: Path | None = None  # the domain file and line the frame starts at (for lint)
    line: int | None = None
    logic: Any = None  # a generated world frame's program (worlds.generate.WorldLogic)
    held_out: bool = False  # its families go to the `ood` split only (unseen vocabulary)


#: Frames of a generated domain kept once made (a shard visits each of its frames a few times).
RECENT_FRAMES = 1024


class GeneratedFrames(Sequence[Frame]):
    """The frames of a generated domain, made on access by `make(index)`, a pure function of the
    index: 10^5 world frames are never all held, in the driver or in a worker (a world frame is
    about 8 KB of Python objects, and making one again costs what unpickling it two or three times
    does). Ids and held-out ids are known without making a frame; the most recently used
    frames are kept."""

    def __init__(
        self, make: Callable[[int], Frame], ids: Sequence[str], held_out: frozenset[str]
    ) -> None:
        self.make = make
        self.ids: tuple[str, ...] = tuple(ids)
        self.held_out = held_out
        self._recent = lru_cache(maxsize=RECENT_FRAMES)(make)

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> Frame: ...

    @overload
    def __getitem__(self, index: slice) -> list[Frame]: ...

    def __getitem__(self, index: int | slice) -> Frame | list[Frame]:
        if isinstance(index, slice):
            return [self.make(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("frame index out of range")
        return self._recent(index)

    def __iter__(self) -> Iterator[Frame]:
        """Every frame in order, made one at a time (a pass over all frames keeps none)."""
        return map(self.make, range(len(self)))

    def __reduce__(self) -> tuple[Any, ...]:  # to workers: how to make frames, not the cache
        return (GeneratedFrames, (self.make, self.ids, self.held_out))


@dataclass(frozen=True)
class Domain:
    name: str
    title: str
    frames: Sequence[Frame]  # a tuple, or GeneratedFrames for generated frames
    synonyms: tuple[tuple[str, ...], ...]

    def frame(self, frame_id: str) -> Frame:
        """The frame with this id (an index is built on first use: a worlds domain holds 10^5)."""
        index = self.__dict__.get("_index")
        if index is None:
            index = {frame_id: position for position, frame_id in enumerate(self.frame_ids())}
            object.__setattr__(self, "_index", index)
        return self.frames[index[frame_id]]

    def frame_ids(self) -> tuple[str, ...]:
        """Every frame's id, in order."""
        if isinstance(self.frames, GeneratedFrames):
            return self.frames.ids
        return tuple(frame.id for frame in self.frames)

    def split_frame_ids(self) -> list[str]:
        """The ids of the frames that go to the splits (not `held_out`), in order, without
        making a generated frame."""
        if isinstance(self.frames, GeneratedFrames):
            held_out = self.frames.held_out
            return [frame_id for frame_id in self.frames.ids if frame_id not in held_out]
        return [frame.id for frame in self.frames if not frame.held_out]


@dataclass(frozen=True)
class Lexicon:
    """General synonym groups, contractions and filler words (see content/lexicon.yaml)."""

    synonyms: tuple[tuple[str, ...], ...] = ()
    contractions: tuple[tuple[str, ...], ...] = ()
    fillers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Content:
    domains: dict[str, Domain]
    lexicon: Lexicon
    files: tuple[Path, ...] = field(default=())


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
        raise ContentError(
            "synonym groups must be a list of lists", file=path, line=line_at(node, key)
        )
    groups = []
    for i, group in enumerate(raw):
        if (
            not isinstance(group, list)
            or len(group) < 2
            or not all(isinstance(w, str) and w.strip() == w and w for w in group)
            or len(set(group)) != len(group)
        ):
            raise ContentError(
                "a synonym group must list two or more distinct words",
                file=path,
                line=line_at(raw, i),
                hint="e.g. [large, big]",
            )
        groups.append(tuple(group))
    return tuple(groups)


def _step_field(key: Any, frame: LineDict, conclusions: bool = False) -> bool:
    """Whether `key` is a clause field of `frame` (a conclusion field only if `conclusions`)."""
    return (
        isinstance(key, str)
        and key in frame
        and key not in FRAME_KEYS
        and (conclusions or key not in CONCLUSION_FIELDS)
    )


def _parse_relations(
    raw: Any, frame: LineDict, path: Path, where: str, relations: frozenset[str] | None
) -> dict[str, str]:
    """`{field: relation}` for step fields of `frame`, each relation known to the grammar."""
    if raw is None:
        return {}
    if not isinstance(raw, LineDict):
        raise ContentError(
            f"{where}relations must map step fields to relations",
            file=path,
            line=line_at(raw) or line_at(frame),
            hint="e.g. relations: {resolution: follows}",
        )
    for key, relation in raw.items():
        if not _step_field(key, frame):
            raise ContentError(
                f"{where}relations: {key!r} is not a step field of this frame",
                file=path,
                line=line_at(raw, key),
                hint="name a premise, consequence, complication or resolution field",
            )
        if relations is not None and relation not in relations:
            raise ContentError(
                f"{where}relations.{key}: unknown relation {relation!r}",
                file=path,
                line=line_at(raw, key),
                hint=f"known relations: {', '.join(sorted(relations))}",
            )
    return dict(raw)


def _parse_flip(
    raw: Any, frame: LineDict, path: Path, fid: str, index: int, relations: frozenset[str] | None
) -> Flip:
    where = f"frame {fid!r}: flips[{index}]"
    if not isinstance(raw, LineDict):
        raise ContentError(f"{where} must be a mapping", file=path, line=line_at(frame, "flips"))
    for key in ("step", "from", "to"):
        if not isinstance(raw.get(key), str) or not raw.get(key):
            raise ContentError(
                f"{where}.{key} is required text",
                file=path,
                line=line_at(raw, key),
                hint="a flip needs step, from, to and at least one new conclusion",
            )
    step = raw["step"]
    if not _step_field(step, frame):
        raise ContentError(
            f"{where}.step {step!r} is not a step field of this frame",
            file=path,
            line=line_at(raw, "step"),
            hint="flip a premise, consequence, complication or resolution that the frame defines",
        )
    hits = len(word_pattern(raw["from"]).findall(frame[step]))
    if hits != 1:
        raise ContentError(
            f"{where}.from {raw['from']!r} occurs {hits} times as whole words in {step}",
            file=path,
            line=line_at(raw, "from"),
            hint="choose words that occur exactly once in that step",
        )
    if raw["from"] == raw["to"]:
        raise ContentError(
            f"{where} edits nothing: from and to are both {raw['from']!r}",
            file=path,
            line=line_at(raw, "to"),
            hint="a flip replaces its words by different ones",
        )
    unknown = set(raw) - {"step", "from", "to", "relations", "stages", *CONCLUSION_FIELDS}
    if unknown:
        raise ContentError(
            f"{where}: unknown keys {sorted(unknown)}",
            file=path,
            line=line_at(raw, sorted(unknown)[0]),
            hint="a flip takes step, from, to, relations, stages and conclusions",
        )
    conclusions = {k: raw[k] for k in CONCLUSION_FIELDS if k in raw}
    if not conclusions:
        raise ContentError(
            f"{where} lists no new conclusion",
            file=path,
            line=line_at(raw),
            hint=f"give the new text of one of {', '.join(CONCLUSION_FIELDS)}",
        )
    for key, text in conclusions.items():
        problem = check_clause(text)
        if problem:
            raise ContentError(f"{where}.{key} {problem}", file=path, line=line_at(raw, key))
        if text == frame.get(key):
            raise ContentError(
                f"{where}.{key} is the frame's own {key}: the flip would not change what follows",
                file=path,
                line=line_at(raw, key),
                hint="give the conclusion that follows from the edited chain",
            )
    stages = raw.get("stages")
    if stages is not None and (
        not isinstance(stages, list)
        or not stages
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in stages)
    ):
        raise ContentError(
            f"{where}.stages must list stage numbers",
            file=path,
            line=line_at(raw, "stages"),
            hint="e.g. stages: [1]",
        )
    return Flip(
        step=step,
        source=raw["from"],
        target=raw["to"],
        conclusions=conclusions,
        relations=_parse_relations(raw.get("relations"), frame, path, f"{where}.", relations),
        stages=tuple(stages) if stages is not None else None,
        line=raw.line,
    )


def _parse_anchors(
    raw: Any, frame: LineDict, fields: dict[str, str], path: Path, fid: str
) -> dict[str, str]:
    if raw is None:
        return {}
    where = f"frame {fid!r}: anchors"
    if not isinstance(raw, LineDict):
        raise ContentError(
            f"{where} must map step fields to their decisive words",
            file=path,
            line=line_at(frame, "anchors"),
            hint="e.g. anchors: {complication: welded}",
        )
    for key, words in raw.items():
        if not _step_field(key, frame, conclusions=True):
            raise ContentError(
                f"{where}: {key!r} is not a field of this frame",
                file=path,
                line=line_at(raw, key),
                hint="name a clause field the frame defines"
                " (conclusions are anchored only with anchors.in_completion)",
            )
        if not isinstance(words, str) or not words.strip():
            raise ContentError(f"{where}.{key} must be text", file=path, line=line_at(raw, key))
        hits = len(word_pattern(words).findall(fields[key]))
        if hits != 1:
            raise ContentError(
                f"{where}.{key} {words!r} occurs {hits} times as whole words in {key}",
                file=path,
                line=line_at(raw, key),
                hint="name words that occur exactly once in that step",
            )
        if all(w.lower() in FUNCTION_WORDS for w in words.split()):
            raise ContentError(
                f"{where}.{key} {words!r} is a function word",
                file=path,
                line=line_at(raw, key),
                hint="anchor the content word the step "
                "turns on (a verb, noun, adjective, number or comparative)",
            )
    return dict(raw)


def _parse_distractors(raw: Any, frame: LineDict, path: Path, fid: str) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, LineList) or not all(_step_field(k, frame) for k in raw):
        raise ContentError(
            f"frame {fid!r}: distractors must list step fields of this frame",
            file=path,
            line=line_at(frame, "distractors"),
            hint="e.g. distractors: [premise_2]",
        )
    return frozenset(raw)


def load_domain(path: Path, relations: frozenset[str] | None = None) -> Domain:
    """Load and validate one domain file (relation names against `relations`, when given)."""
    data = load_yaml(path, ContentError, "domain file")
    if not isinstance(data, LineDict):
        raise ContentError(
            "a domain file must be a mapping",
            file=path,
            line=1,
            hint="top-level keys: domain, title, lexicon, frames",
        )
    name = data.get("domain")
    if name != path.stem or not isinstance(name, str) or not DOMAIN_RE.fullmatch(name):
        raise ContentError(
            f"domain must equal the file name {path.stem!r} (a-z, 0-9, _)",
            file=path,
            line=line_at(data, "domain"),
        )
    unknown = set(data) - {"domain", "title", "lexicon", "frames"}
    if unknown:
        raise ContentError(
            f"unknown top-level keys {sorted(unknown)}",
            file=path,
            line=line_at(data, sorted(unknown)[0]),
            hint="top-level keys: domain, title, lexicon, frames",
        )
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ContentError("title is required", file=path, line=line_at(data, "title"))
    raw_frames = data.get("frames")
    if not isinstance(raw_frames, LineList) or not raw_frames:
        raise ContentError(
            "frames must be a non-empty list",
            file=path,
            line=line_at(data, "frames"),
            hint="see docs/content.md for a frame",
        )
    frames: list[Frame] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_frames):
        if not isinstance(raw, LineDict):
            raise ContentError("a frame must be a mapping", file=path, line=line_at(raw_frames, i))
        fid = raw.get("id")
        if not isinstance(fid, str) or not ID_RE.fullmatch(fid):
            raise ContentError(
                "frame id must be kebab-case (a-z, 0-9, -)",
                file=path,
                line=line_at(raw, "id") or line_at(raw_frames, i),
            )
        if fid in seen:
            raise ContentError(
                f"frame id {fid!r} is used twice", file=path, line=line_at(raw, "id")
            )
        seen.add(fid)
        if "flip" in raw:
            raise ContentError(
                f"frame {fid!r}: `flip` is now `flips`, a list",
                file=path,
                line=line_at(raw, "flip"),
                hint="write `flips:` and put the flip under it as one list item (`- step: ...`)",
            )
        fields: dict[str, str] = {}
        for key, text in raw.items():
            if key in FRAME_KEYS:
                continue
            if not isinstance(key, str) or not key.isidentifier():
                raise ContentError(
                    f"frame {fid!r}: field name {key!r} is not an identifier",
                    file=path,
                    line=line_at(raw, key),
                )
            problem = check_clause(text)
            if problem:
                raise ContentError(
                    f"frame {fid!r}: {key} {problem}",
                    file=path,
                    line=line_at(raw, key),
                    hint=f"besides {', '.join(sorted(FRAME_KEYS))}, every key of a frame is a "
                    "clause field: one line of text",
                )
            fields[key] = text
        raw_flips = raw.get("flips") or []
        if not isinstance(raw_flips, list):
            raise ContentError(
                f"frame {fid!r}: flips must be a list", file=path, line=line_at(raw, "flips")
            )
        frames.append(
            Frame(
                id=fid,
                domain=name,
                fields=fields,
                flips=tuple(
                    _parse_flip(f, raw, path, fid, i, relations) for i, f in enumerate(raw_flips)
                ),
                relations=_parse_relations(
                    raw.get("relations"), raw, path, f"frame {fid!r}: ", relations
                ),
                anchors=_parse_anchors(raw.get("anchors"), raw, fields, path, fid),
                distractors=_parse_distractors(raw.get("distractors"), raw, path, fid),
                path=path,
                line=raw.line,
            )
        )
    synonyms = _synonym_groups(data.get("lexicon"), path, data, "lexicon")
    return Domain(name=name, title=title, frames=tuple(frames), synonyms=synonyms)


def load_lexicon(path: Path) -> Lexicon:
    """Load the general lexicon (synonym groups, contractions and filler words)."""
    data = load_yaml(path, ContentError, "lexicon")
    if not isinstance(data, LineDict):
        raise ContentError(
            "the lexicon must be a mapping",
            file=path,
            line=1,
            hint="top-level keys: synonyms, contractions, fillers",
        )
    unknown = set(data) - {"synonyms", "contractions", "fillers"}
    if unknown:
        raise ContentError(
            f"unknown top-level keys {sorted(unknown)}",
            file=path,
            line=line_at(data, sorted(unknown)[0]),
        )
    fillers = data.get("fillers") or []
    if not isinstance(fillers, list) or not all(isinstance(w, str) and w.strip() for w in fillers):
        raise ContentError(
            "fillers must be a list of words", file=path, line=line_at(data, "fillers")
        )
    return Lexicon(
        synonyms=_synonym_groups(data.get("synonyms"), path, data, "synonyms"),
        contractions=_synonym_groups(data.get("contractions"), path, data, "contractions"),
        fillers=tuple(fillers),
    )


def load_content(
    directory: Path,
    domains: list[str] | None = None,
    relations: frozenset[str] | None = None,
    allow_none: bool = False,
) -> Content:
    """Load `directory/domains/*.yaml` (or only the named ones) and `directory/lexicon.yaml`;
    relations that frames name must be among `relations` (the grammar's), when given."""
    domain_dir = directory / "domains"
    if not domain_dir.is_dir():
        raise ContentError(
            "content folder has no domains/ subfolder",
            file=directory,
            hint="put one <domain>.yaml per domain under content/domains/",
        )
    available = {p.stem: p for p in sorted(domain_dir.glob("*.yaml"))}
    wanted = sorted(available) if domains is None else list(domains)
    missing = [d for d in wanted if d not in available]
    if missing:
        raise ContentError(
            f"unknown domains {missing}",
            file=domain_dir,
            hint=f"available: {', '.join(sorted(available)) or 'none'}",
        )
    if not wanted and not allow_none:
        if domains is not None:  # the recipe asked for none
            raise ContentError(
                "the recipe's `domains` is an empty list",
                hint=f"write `domains: "
                f"all` or name some of: {', '.join(sorted(available)) or 'none'}",
            )
        raise ContentError(
            "no domain files found",
            file=domain_dir,
            hint="add content/domains/<domain>.yaml (see docs/content.md)",
        )
    loaded = {name: load_domain(available[name], relations) for name in wanted}
    lexicon_path = directory / "lexicon.yaml"
    lexicon = load_lexicon(lexicon_path) if lexicon_path.exists() else Lexicon()
    files = tuple(available[name] for name in wanted) + (
        (lexicon_path,) if lexicon_path.exists() else ()
    )
    return Content(domains=loaded, lexicon=lexicon, files=files)
