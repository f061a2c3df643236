"""Validation with pydantic, reported the project's way: ``field.path: problem``.

Every boundary (agent batches, profiles, alert rules and channels, the configs file,
the inventory) checks its input with pydantic models; this module turns a
:class:`pydantic.ValidationError` into the short ``where: problem`` lines the project has
always printed, so a user sees the path of each bad field (``samples[1].ts``,
``rules[2].threshold``) and, for YAML files, ``file:line:`` in front (``yamlpos``).

A validator that checks more than one field raises :func:`problem` with ``at``, the path
below the model it runs on, so the message still names the exact field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict, ValidationError
from pydantic_core import PydanticCustomError

Loc = Sequence[int | str]


def problem(message: str, *at: int | str) -> PydanticCustomError:
    """An error whose text is ``message`` as written, about the field ``at`` below the model."""
    return PydanticCustomError("problem", "{message}", {"message": message, "at": at})


def path(loc: Iterable[int | str], out: str = "") -> str:
    """``("samples", 1, "ts")`` -> ``samples[1].ts`` (appended to ``out``, a path already written)."""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_TEXT = {
    "missing": "required field missing",
    "extra_forbidden": "unknown field",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "finite_number": "not a finite number",
}


def message(err: Any) -> str:
    """The ``problem`` half of one pydantic error (its ``ctx`` for :func:`problem`)."""
    ctx = err.get("ctx") or {}
    if err["type"] == "problem":
        return str(ctx["message"])
    if err["type"] == "literal_error":
        expected = re.sub(r"'([^']*)'", r"\1", str(ctx.get("expected", ""))).replace(" or ", ", ")
        return f"expected one of {expected}, got {err['input']!r:.40}"
    for op, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if op in ctx and err["type"].startswith(("greater", "less")):
            bound = ctx[op]
            bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
            return f"must be {word} {bound}, got {err['input']!r:.40}"
    text = _TEXT.get(err["type"])
    if text is None:
        return str(err["msg"]).removeprefix("Value error, ")
    if err["type"].endswith("_type"):
        return f"{text}, got {err['input']!r:.40}"
    return text


def errors(exc: ValidationError, prefix: Loc = ()) -> list[tuple[tuple[int | str, ...], str]]:
    """``[(loc, problem), ...]`` in the order pydantic found them, ``loc`` down to the field."""
    out = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"], *((err.get("ctx") or {}).get("at") or ()))
        out.append((loc, message(err)))
    return out


def lines(exc: ValidationError, prefix: Loc = ()) -> list[str]:
    """Every error as ``field.path: problem``."""
    return [f"{path(loc)}: {text}" if loc else text for loc, text in errors(exc, prefix)]


def located(source: str, lines: Any, loc: Loc, text: str, shown: str | None = None) -> str:
    """``file:line: field: problem`` (``file: field: problem`` without ``lines``, a
    :class:`probes.common.yamlpos.Lines`); ``shown`` is the field as printed when it differs
    from the document path (a rule is named by its name, not its index)."""
    where = f"{source}:{lines.at(loc)}" if lines is not None else source
    field = path(loc) if shown is None else shown
    return f"{where}: {field}: {text}" if field else f"{where}: {text}"


def number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (not a bool, not text), else None."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise problem(f"not a regular expression ({exc})") from None
    return pattern


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise PydanticCustomError("finite_number", "not a finite number")
    return v


# Strict types: JSON and YAML values are taken as written (``"3"`` is not a number, ``true`` is not 1).
Num = Annotated[float, Strict(), AfterValidator(_finite)]
NonNegative = Annotated[float, Strict(), AfterValidator(_finite), Field(ge=0)]
Counter = Annotated[int, Strict(), Field(ge=0)]
Text = Annotated[str, Strict(), Field(min_length=1)]
Flag = Annotated[bool, Strict()]
Regex = Annotated[str, AfterValidator(_regex)]
