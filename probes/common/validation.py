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
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict, ValidationError
from pydantic_core import PydanticCustomError

Loc = Sequence[int | str]


def problem(message: str, *at: int | str) -> PydanticCustomError:
    """An error whose text is ``message`` as written, about the field ``at`` below the model."""
    return PydanticCustomError("problem", "{message}", {"message": message, "at": at})


def path(loc: Iterable[int | str]) -> str:
    """``("samples", 1, "ts")`` -> ``samples[1].ts``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_TEXT = {
    "missing": "required",
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
