"""Reading request parameters with Binance's error codes."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from qk.venues.binance.mock import errors
from qk.venues.binance.mock.rules import parse_decimal


def required(params: Mapping[str, str], name: str) -> str:
    """A mandatory parameter; -1102 naming it when missing or empty."""
    value = params.get(name)
    if value is None or value == "":
        raise errors.mandatory_param(name)
    return value


def required_decimal(params: Mapping[str, str], name: str) -> Decimal:
    """A mandatory decimal parameter."""
    return parse_decimal(required(params, name), name)


def optional_decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    """An optional decimal parameter (None when absent)."""
    value = params.get(name)
    return None if value in (None, "") else parse_decimal(str(value), name)


def optional_int(params: Mapping[str, str], name: str) -> int | None:
    """An optional integer parameter; -1130 naming it when unreadable."""
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError as exc:
        raise errors.invalid_parameter(name) from exc


def flag(params: Mapping[str, str], name: str) -> bool:
    """A boolean ``true``/``false`` parameter (absent is false); -1130 for anything else."""
    value = params.get(name)
    if value in (None, ""):
        return False
    lowered = str(value).lower()
    if lowered not in ("true", "false"):
        raise errors.invalid_parameter(name)
    return lowered == "true"
