"""The shape of record JSON: reading a field of the documented kind, or failing with
:class:`RecordError` naming where; and writing a dataclass as JSON-ready data. Shared by
the page model (:mod:`.model`) and the whole record (:mod:`.whole`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from enum import Enum
from typing import Any


class RecordError(ValueError):
    """A record (or a child's event) that does not have the documented shape."""


def need(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``data[name]`` if it is of ``kind`` (a bool is not accepted as a number)."""
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RecordError(f"{where}: {name!r} is missing or not {kind_name(kind)}")
    return value


def kind_name(kind: type | tuple[type, ...]) -> str:
    """``str``, or ``int or float``: a kind as the error messages name it."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def mapping(data: Any, where: str) -> Mapping[str, Any]:
    """``data`` if it is a JSON object; ``RecordError`` naming ``where`` otherwise."""
    if not isinstance(data, Mapping):
        raise RecordError(f"{where}: expected an object, got {type(data).__name__}")
    return data


def plain(obj: Any) -> Any:
    """A dataclass as JSON-ready data (enums by value)."""
    if isinstance(obj, Enum):
        return obj.value
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: plain(getattr(obj, f.name)) for f in fields(obj)}
    return obj
