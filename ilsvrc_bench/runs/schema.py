"""Frozen record types that validate themselves when read from JSON.

Every type of the run record is a frozen dataclass deriving from :class:`Record`. Reading one
(:meth:`Record.from_dict`) checks each field against its annotation and raises
:class:`~ilsvrc_bench.errors.RunError` naming the source file and the field's dotted path, so a
hand-edited or truncated ``run.json`` is refused with one clear line rather than misread.

Adding a field to a record type is one annotated line with a default: older records read
with the default, :meth:`Record.to_dict` writes it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar, Union

from ilsvrc_bench import serialize
from ilsvrc_bench.errors import RunError

R = TypeVar("R", bound="Record")

_JSON_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


class Record:
    """Base of the record types: validated ``from_dict``, plain-JSON ``to_dict``."""

    # Keys written for human readers and computed from other fields; accepted, not read back.
    DERIVED: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON types (tuples as lists, NaN as None)."""
        out = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        out.update(self.derived())
        return out

    def derived(self) -> dict[str, Any]:
        """Values of :attr:`DERIVED` keys, written beside the fields."""
        return {}

    @classmethod
    def from_dict(cls: type[R], data: Any, *, source: str = "run record", path: str = "") -> R:
        """Build from parsed JSON; :class:`RunError` naming ``source`` and the field if wrong."""
        where = f"field {path}" if path else "the record"
        if not isinstance(data, Mapping):
            raise RunError(f"{source}: {where} must be an object, not {_kind(data)}")
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            name = f"{path}.{f.name}" if path else f.name
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise RunError(f"{source}: field {name} is missing")
                continue
            values[f.name] = _check(data[f.name], hints[f.name], source=source, path=name)
        record = cls(**values)
        record.validate(source=source, path=path)
        record.check_derived(data, source=source, path=path)
        return record

    def validate(self, *, source: str, path: str) -> None:
        """Checks across fields, beyond their types; raise :class:`RunError` naming the field."""

    def check_derived(self, data: Mapping[str, Any], *, source: str, path: str) -> None:
        """Refuse derived keys that disagree with the fields they are computed from."""
        for key, value in self.derived().items():
            stored = data.get(key)
            if stored is None or value is None:
                continue
            if isinstance(stored, bool) or not isinstance(stored, (int, float)):
                raise RunError(f"{source}: field {_join(path, key)} must be a number")
            if not math.isclose(float(stored), float(value), rel_tol=0, abs_tol=1e-6):
                raise RunError(
                    f"{source}: field {_join(path, key)} is {stored} but the counts give {value}"
                )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return serialize.to_plain(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _check(value: Any, hint: Any, *, source: str, path: str) -> Any:
    """``value`` converted to ``hint`` (lists to tuples, ints to floats), or RunError."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _check(value, option, source=source, path=path)
            except RunError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else _wrong(value, hint, source, path)
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value, source=source, path=path)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise _wrong(value, hint, source, path)
        args = typing.get_args(hint)
        item = args[0] if args else Any
        checked = [_check(v, item, source=source, path=f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(checked) if origin is tuple else checked
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise _wrong(value, hint, source, path)
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _wrong(value, hint, source, path)
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(value, hint, source, path)
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise _wrong(value, hint, source, path)
        return value
    if hint is type(None):
        if value is not None:
            raise _wrong(value, hint, source, path)
        return None
    raise TypeError(f"record field {path}: unsupported annotation {hint!r}")  # a bug, not input


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(o) for o in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if origin in (tuple, list):
        return "a list"
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return "an object"
    if isinstance(hint, type) and issubclass(hint, Record):
        return "an object"
    return _JSON_NAMES.get(hint, str(hint))


def _wrong(value: Any, hint: Any, source: str, path: str) -> RunError:
    shown = repr(value) if not isinstance(value, (Mapping, list, tuple)) else _kind(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return RunError(f"{source}: field {path} must be {_describe(hint)}, not {shown}")
