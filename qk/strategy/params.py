"""Typed strategy parameters: a frozen dataclass per strategy, parsed with precise errors.

::

    @dataclass(frozen=True)
    class Params:
        fast: Annotated[int, Constraints(ge=1, doc="fast EMA period, bars")] = 12
        quantity: Annotated[Decimal, Constraints(gt=0)] = Decimal("0.01")
        mode: str = param("close", choices=("close", "vwap"))   # the same, as a field

    parse_params(Momentum, {"fast": 5})                          # from a descriptor
    parse_params(Momentum, parse_assignments(["fast=5"]))         # from the CLI

Supported field types: ``int``, ``float``, ``Decimal``, ``str``, ``bool``. Strings (the CLI)
are converted to the declared type; otherwise a value must already be of it, except that an
int is accepted for ``float``/``Decimal`` and a TOML float for ``Decimal`` (read back from its
shortest repr, which is the text that was written).
"""

from __future__ import annotations

import dataclasses
import operator
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, get_args, get_origin

from qk.strategy.errors import ParamError, ParamErrorReason

__all__ = ["Constraints", "param", "params_class_of", "parse_assignments", "parse_params"]

_SUPPORTED: tuple[type, ...] = (int, float, Decimal, str, bool)
_METADATA_KEY = "qk_param"
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


@dataclass(frozen=True, slots=True)
class Constraints:
    """Constraints of one parameter, attached with ``Annotated[T, Constraints(...)]``.

    Attributes:
        ge: Value must be >= this.
        gt: Value must be > this.
        le: Value must be <= this.
        lt: Value must be < this.
        choices: Value must be one of these.
        doc: One line for ``--help`` and the docs.
    """

    ge: Any = None
    gt: Any = None
    le: Any = None
    lt: Any = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""


def param(
    default: Any = dataclasses.MISSING,
    *,
    ge: Any = None,
    gt: Any = None,
    le: Any = None,
    lt: Any = None,
    choices: Iterable[Any] | None = None,
    doc: str = "",
) -> Any:
    """Declare a parameter field with optional constraints.

    Args:
        default: Default value; omit for a required parameter.
        ge: Value must be >= this.
        gt: Value must be > this.
        le: Value must be <= this.
        lt: Value must be < this.
        choices: Value must be one of these.
        doc: One line for ``--help`` and the docs.

    Returns:
        A ``dataclasses.field`` carrying the :class:`Constraints` in its metadata. (Ruff's
        RUF009 flags ``param(...)`` defaults of non-int types; ``Annotated`` avoids that.)
    """
    constraints = Constraints(ge, gt, le, lt, None if choices is None else tuple(choices), doc)
    return dataclasses.field(default=default, metadata={_METADATA_KEY: constraints})


def params_class_of(owner: type[Any]) -> type[Any]:
    """The Params dataclass of a strategy class, or ``owner`` itself if it is a dataclass."""
    if dataclasses.is_dataclass(owner):
        return owner
    params = getattr(owner, "Params", None)
    if not isinstance(params, type) or not dataclasses.is_dataclass(params):
        raise ParamError(
            ParamErrorReason.BAD_DECLARATION,
            "",
            f"{owner.__qualname__}.Params must be a dataclass, got {params!r}",
        )
    return params


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["fast=5", "slow=20"]`` (CLI ``--param`` values) into ``{"fast": "5", "slow": "20"}``.

    Raises:
        ParamError: MALFORMED for an item without ``=``, an empty name, or a repeated name.
    """
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParamError(
                ParamErrorReason.MALFORMED, name, f"parameter {item!r} is not NAME=VALUE"
            )
        if name in result:
            raise ParamError(ParamErrorReason.MALFORMED, name, f"parameter {name!r} given twice")
        result[name] = value.strip()
    return result


def parse_params(owner: type[Any], values: Mapping[str, object]) -> Any:
    """Build the Params of ``owner`` (a strategy class or a Params dataclass) from ``values``.

    Args:
        owner: A :class:`~qk.strategy.Strategy` subclass or its ``Params`` dataclass.
        values: Name to value; strings are converted to the declared type.

    Returns:
        An instance of the Params dataclass; missing names take their defaults.

    Raises:
        ParamError: UNKNOWN_NAME (with the known names), WRONG_TYPE, OUT_OF_RANGE, MISSING,
            BAD_DECLARATION; the message names the parameter and the value.
    """
    cls = params_class_of(owner)
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:  # an unresolvable annotation is a declaration bug, say which
        raise ParamError(
            ParamErrorReason.BAD_DECLARATION, "", f"{cls.__qualname__}: {exc}"
        ) from exc
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in values:
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ParamError(
                ParamErrorReason.UNKNOWN_NAME,
                name,
                f"unknown parameter {name!r} of {cls.__qualname__} (known: {known})",
            )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        kind, constraints = _declared(hints[name], f)
        if kind not in _SUPPORTED:
            raise ParamError(
                ParamErrorReason.BAD_DECLARATION,
                name,
                f"{cls.__qualname__}.{name}: type {kind!r} is not one of int, float, Decimal, "
                "str, bool",
            )
        if name in values:
            value = _convert(name, kind, values[name])
        elif f.default is not dataclasses.MISSING:
            value = f.default
        else:
            raise ParamError(
                ParamErrorReason.MISSING, name, f"parameter {name!r} is required (no default)"
            )
        _check_constraints(name, value, constraints)
        kwargs[name] = value
    return cls(**kwargs)


def _declared(hint: Any, f: dataclasses.Field[Any]) -> tuple[Any, Constraints | None]:
    """The base type and the constraints of a field, from ``Annotated`` or ``param()``."""
    constraints = f.metadata.get(_METADATA_KEY)
    if get_origin(hint) is Annotated:
        base, *extras = get_args(hint)
        found = [e for e in extras if isinstance(e, Constraints)]
        return base, found[0] if found else constraints
    return hint, constraints


def _convert(name: str, kind: type, raw: object) -> Any:
    wrong = ParamError(
        ParamErrorReason.WRONG_TYPE,
        name,
        f"parameter {name!r} must be {kind.__name__}, got {raw!r} ({type(raw).__name__})",
    )
    if isinstance(raw, str) and kind is not str:
        return _from_text(kind, raw.strip(), wrong)
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        raise wrong
    if isinstance(raw, bool):  # bool is an int subclass; True is never a count or a price
        raise wrong
    if kind is int and isinstance(raw, int):
        return raw
    if kind is float and isinstance(raw, int | float):
        return float(raw)
    if kind is Decimal and isinstance(raw, Decimal | int):
        return Decimal(raw)
    if kind is Decimal and isinstance(raw, float):
        return Decimal(repr(raw))  # the shortest repr is the text the TOML file holds
    if kind is str and isinstance(raw, str):
        return raw
    raise wrong


def _from_text(kind: type, text: str, wrong: ParamError) -> Any:
    if kind is bool:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise wrong
    try:
        if kind is int:
            return int(text, 10)
        if kind is float:
            return float(text)
        value = Decimal(text)
    except (ValueError, InvalidOperation):
        raise wrong from None
    if not value.is_finite():
        raise wrong
    return value


def _check_constraints(name: str, value: Any, spec: Constraints | None) -> None:
    if spec is None:
        return
    checks = (
        ("ge", ">=", operator.ge),
        ("gt", ">", operator.gt),
        ("le", "<=", operator.le),
        ("lt", "<", operator.lt),
    )
    for key, symbol, ok in checks:
        bound = getattr(spec, key)
        if bound is not None and not ok(value, bound):
            raise ParamError(
                ParamErrorReason.OUT_OF_RANGE,
                name,
                f"parameter {name!r} must be {symbol} {bound}, got {value}",
            )
    choices = spec.choices
    if choices is not None and value not in choices:
        raise ParamError(
            ParamErrorReason.OUT_OF_RANGE,
            name,
            f"parameter {name!r} must be one of {', '.join(map(str, choices))}, got {value!r}",
        )
