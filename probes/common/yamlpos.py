"""YAML with line numbers: the one place that maps a YAML node (or a field's path) to its line.

Configuration files (inventory, profiles, alert rules and channels, the configs file) are
checked with pydantic, whose errors carry the path of the bad field (``("rules", 2,
"grace_s")``); :class:`Lines` turns that path into the line of the file, so every message
reads ``file:line: field: problem``.  Composing with libyaml when available keeps the
1,000-device inventory fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR = "tag:yaml.org,2002:str"


class YamlError(ValueError):
    """A file that cannot be read or parsed; ``line`` is 0 when no position is known."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def line(node: Node) -> int:
    """The 1-based line a node starts on."""
    return node.start_mark.line + 1


def scalar(node: ScalarNode) -> Any:
    """A scalar node's value as ``yaml.safe_load`` would give it (its text if the tag is bad)."""
    if node.tag == _STR:  # most scalars: the text itself (what SafeConstructor returns, faster)
        return node.value
    ctor = _CONSTRUCTOR.yaml_constructors.get(node.tag)
    if ctor is None:
        return node.value
    try:
        return ctor(_CONSTRUCTOR, node)
    except (ValueError, TypeError, yaml.YAMLError):
        return node.value  # e.g. "!!int abc": keep the text and let the field's type check report it


def compose(text: str) -> Node | None:
    """The node tree of ``text``; :class:`YamlError` with the line of a syntax error."""
    try:
        return yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlError(mark.line + 1 if mark else 0, f"yaml: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(0, f"yaml: {exc}") from None


class Lines:
    """Line of every mapping value and list item of a document, by path; ``at`` finds the
    nearest line for a path (a missing field is reported on its mapping's line)."""

    def __init__(self, root: Node | None = None) -> None:
        self._lines: dict[tuple[Any, ...], int] = {}
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: Node, path: tuple[Any, ...]) -> None:
        self._lines[path] = line(node)
        if isinstance(node, MappingNode):
            for k, v in node.value:
                key = scalar(k) if isinstance(k, ScalarNode) else None
                if key is not None:
                    self._lines[(*path, key)] = line(k)
                    if not isinstance(v, ScalarNode):
                        self._walk(v, (*path, key))
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def at(self, path: Sequence[Any]) -> int:
        path = tuple(path)
        while path and path not in self._lines:
            path = path[:-1]
        return self._lines.get(path, 0)


def read(path: str | Path) -> str:
    """The file's text; :class:`YamlError` (line 0) when it cannot be read or is not UTF-8."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlError(0, f"file: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise YamlError(0, f"file: not UTF-8 text ({exc.reason})") from None


def load(path: str | Path) -> tuple[Any, Lines]:
    """``(data, lines)`` of a YAML file, data exactly as ``yaml.safe_load`` reads it."""
    root = compose(read(path))
    if root is None:
        return None, Lines()
    return yaml.constructor.SafeConstructor().construct_document(root), Lines(root)
