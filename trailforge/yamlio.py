"""YAML loading that remembers line numbers, so errors can point at the offending line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from .errors import TrailforgeError


class LineDict(dict):
    """A mapping from YAML that knows the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):
    """A sequence from YAML that knows the line of itself and of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # libyaml: ~10x faster
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in result:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:  # type: ignore[override]
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping
)
_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_sequence
)


def load_yaml(path: Path, error: type[TrailforgeError], what: str) -> Any:
    """Parse a YAML file, turning I/O and syntax problems into `error` with file and line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} not found", file=path, hint="check the path") from None
    except IsADirectoryError:
        raise error(
            f"{what} must be a file, not a folder", file=path, hint="point the path at a YAML file"
        ) from None
    except OSError as exc:
        raise error(
            f"cannot read {what}: {exc.strerror or exc}",
            file=path,
            hint="check the file's permissions",
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(
            f"{what} is not UTF-8: byte {raw[exc.start]:#04x} at column {column}",
            file=path,
            line=line,
            hint="save the file as UTF-8",
        ) from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        at: int | None = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(
            f"invalid YAML in {what}: {problem}",
            file=path,
            line=at,
            hint="fix the YAML syntax (indentation, quoting, colons)",
        ) from None


def line_at(node: Any, key: Any = None) -> int | None:
    """The line of `node` (a mapping or list read from YAML), or of its entry `key`."""
    if isinstance(node, LineDict):
        return node.key_lines.get(key, node.line) if key is not None else node.line
    if isinstance(node, LineList):
        return node.item_lines[key] if isinstance(key, int) else node.line
    return None


def line_of(data: Any, loc: Iterable[Any]) -> int | None:
    """The line of the deepest node along `loc` (a pydantic error location) that has one."""
    line = getattr(data, "line", None) or None
    node = data
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def raise_validation(
    exc: ValidationError, data: Any, path: Path, error: type[TrailforgeError], what: str
) -> None:
    """Re-raise the first pydantic validation error as `error`, pointing at its YAML line."""
    first = exc.errors()[0]
    loc = tuple(first.get("loc", ()))
    field = ".".join(str(p) for p in loc) or "(top level)"
    raise error(
        f"{what}: {field}: {first['msg']}",
        file=path,
        line=line_of(data, loc),
        hint=f"see docs for the fields a {what} accepts",
    ) from None
