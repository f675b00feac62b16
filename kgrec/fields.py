"""What a config field accepts, declared next to its default, and the check every config dataclass runs.

:func:`checked` declares a field with its default and an :class:`Allowed` (a set of choices, a pattern or a
numeric range); :func:`check_fields`, called from a dataclass's ``__post_init__``, checks the type and the
allowed values of every field and refuses a bad one with a :class:`ConfigError` naming the field, the value
and what is allowed. Nothing is ever silently replaced by another value. (The ground layer: the data
options and the run configuration both use it.)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import reprlib
import types
import typing
from dataclasses import dataclass
from typing import Any

from kgrec.errors import ConfigError


@dataclass(frozen=True)
class Allowed:
    """The values a config field accepts beyond its type: ``choices``, a ``pattern`` (a regular expression
    the whole string must match, described by ``what``), or a range ``[low, high]`` whose ends are left out
    when ``open_low`` / ``open_high``; a bound of None is unbounded. Numbers must be finite."""

    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    what: str = ""
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def accepts(self, value: Any) -> bool:
        if self.choices is not None:
            return value in self.choices
        if self.pattern is not None:
            return isinstance(value, str) and re.fullmatch(self.pattern, value) is not None
        if isinstance(value, str):
            return bool(value.strip())
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            return False
        return self.high is None or (value < self.high or (not self.open_high and value == self.high))

    def describe(self) -> str:
        if self.choices is not None:
            return f"one of {', '.join(self.choices)}"
        if self.what:
            return self.what
        if self.low is not None and self.high is not None:
            return f"a value in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"
        if self.low is not None:
            return f"a value {'above' if self.open_low else 'of at least'} {self.low:g}"
        if self.high is not None:
            return f"a value {'below' if self.open_high else 'of at most'} {self.high:g}"
        return "a finite number"


def one_of(*choices: str) -> Allowed:
    return Allowed(choices=choices)


def at_least(low: float) -> Allowed:
    return Allowed(low=low)


def above(low: float) -> Allowed:
    return Allowed(low=low, open_low=True)


def between(low: float, high: float) -> Allowed:
    return Allowed(low=low, high=high)


NON_EMPTY = Allowed(what="a non-empty string")


def checked(default: Any, allowed: Allowed | None) -> Any:
    """A dataclass field with its ``default`` and what it accepts (None: any value of its type)."""
    return dataclasses.field(default=default, metadata={"allowed": allowed})


def _type_error(value: Any, hint: Any) -> str | None:
    """Why ``value`` is not of the field type ``hint`` (None when it is); lists are accepted for tuples."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        if value is None and len(options) < len(typing.get_args(hint)):
            return None
        reasons = [_type_error(value, option) for option in options]
        return None if any(reason is None for reason in reasons) else reasons[0]
    if origin is tuple:
        args = typing.get_args(hint)
        variadic = args[-1] is Ellipsis
        if not isinstance(value, (tuple, list)) or (not value if variadic else len(value) != len(args)):
            return "expected a non-empty list" if variadic else f"expected a list of {len(args)} values"
        element_hints = [args[0]] * len(value) if variadic else list(args)
        reasons = [_type_error(v, h) for v, h in zip(value, element_hints)]
        return next((reason for reason in reasons if reason is not None), None)
    if hint is bool:
        return None if isinstance(value, bool) else "expected true or false"
    if hint is int:
        return None if isinstance(value, numbers.Integral) and not isinstance(value, bool) else "expected an integer"
    if hint is float:
        return None if isinstance(value, numbers.Real) and not isinstance(value, bool) else "expected a number"
    if hint is str:
        return None if isinstance(value, str) else "expected a string"
    return None


def _normalised(value: Any, hint: Any) -> Any:
    """``value`` (already of type ``hint``) with lists as tuples and integers as floats where ``hint`` says float."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        return value if value is None else _normalised(value, next(o for o in options if _type_error(value, o) is None))
    if origin is tuple:
        args = typing.get_args(hint)
        element_hints = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        normal = tuple(_normalised(v, h) for v, h in zip(value, element_hints))
        return value if isinstance(value, tuple) and all(a is b for a, b in zip(normal, value)) else normal
    if hint is float and not isinstance(value, float):
        return float(value)
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def check_fields(config: Any) -> None:
    """Check every field of a config dataclass against its type and its :class:`Allowed` values.

    Lists become tuples and integers given for float fields become floats (the dataclass is frozen, so this
    is done with ``object.__setattr__`` during construction); a value is never otherwise changed."""
    cls = type(config)
    hints = _HINTS.setdefault(cls, typing.get_type_hints(cls))
    for item in dataclasses.fields(config):
        name, value, hint = item.name, getattr(config, item.name), hints[item.name]
        reason = _type_error(value, hint)
        if reason is not None:
            raise ConfigError(f"{name}: {reason}, got {brief_repr(value)}")
        try:
            normal = _normalised(value, hint)
        except OverflowError:  # an integer beyond 1.8e308 for a float field
            raise ConfigError(f"{name}: number {brief_repr(value)} is too large") from None
        if normal is not value:
            value = normal
            object.__setattr__(config, name, value)
        allowed = item.metadata.get("allowed")
        if allowed is None or value is None:
            continue
        for element in value if isinstance(value, tuple) else (value,):
            if not isinstance(element, bool) and not allowed.accepts(element):
                what = f"values that are each {allowed.describe()}" if isinstance(value, tuple) else allowed.describe()
                raise ConfigError(f"{name}: expected {what}, got {brief_repr(value)}")


def allowed_values(cls: type) -> dict[str, Allowed | None]:
    """Field name -> what it accepts, for documentation and tests."""
    return {item.name: item.metadata.get("allowed") for item in dataclasses.fields(cls)}


class _Brief(reprlib.Repr):
    """reprlib with small limits, and huge integers shown by size (repr() refuses over 4300 digits)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxdict, self.maxstring, self.maxother = 2, 4, 4, 60, 60

    def repr_int(self, x: int, level: int) -> str:
        return repr(x) if x.bit_length() <= 128 else f"<a {x.bit_length()}-bit integer>"


def brief_repr(value: Any) -> str:
    """A short repr for error messages: YAML aliases can make a value exponentially large when printed in full."""
    return _Brief().repr(value)
