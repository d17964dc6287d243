"""Exact money arithmetic and the one place money is rounded: conversion to a record field.

Inside the portfolio, money is exact: integers at a per-instrument scale, or Decimals computed in
:data:`EXACT`, a context that raises instead of rounding. Records carry money as int64 at
:data:`qk.schemas.fixed.MONEY_PRECISION`; :func:`money_to_raw` rounds to it half-even (banker's
rounding, unbiased over many records) and refuses values outside int64.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation

from qk.schemas import fixed

__all__ = ["EXACT", "MONEY_QUANTUM", "ROUNDING", "money_to_raw", "scaled"]

EXACT = Context(prec=80, traps=[Inexact, InvalidOperation])
"""Decimal context for exact sums and products: 80 digits hold any product of three int64
values; anything that would still round raises ``decimal.Inexact``."""

ROUNDING = Context(prec=80, traps=[InvalidOperation])
"""Decimal context for the deliberate roundings (record fields, reported ratios)."""

MONEY_QUANTUM = Decimal(1).scaleb(-fixed.MONEY_PRECISION)
"""One unit of the last money decimal (``1E-8``)."""


def scaled(value: int, scale: int) -> Decimal:
    """``value / 10**scale`` as an exact Decimal (any int, any scale >= 0)."""
    return Decimal(value).scaleb(-scale, context=EXACT)


def money_to_raw(value: Decimal, what: str = "money") -> int:
    """Round money to MONEY_PRECISION (half even) and return its raw int64.

    Args:
        value: Exact amount.
        what: Name of the field, for the error message.

    Returns:
        The raw value.

    Raises:
        FixedPointOverflowError: The amount does not fit int64 at MONEY_PRECISION.
    """
    rounded = value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN, context=ROUNDING)
    raw = int(rounded.scaleb(fixed.MONEY_PRECISION, context=ROUNDING))
    if not fixed.INT64_MIN <= raw <= fixed.INT64_MAX:
        raise fixed.FixedPointOverflowError(
            f"{what} {value} does not fit int64 at precision {fixed.MONEY_PRECISION}"
        )
    return raw
