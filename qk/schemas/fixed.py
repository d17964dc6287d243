"""Fixed-point numbers: prices, quantities and money as exact 64-bit integers.

A value ``v`` at precision ``p`` (decimal places) is stored as the int64 ``raw = v * 10**p``.
Sums, comparisons and replays of raw values are exact. Conversions never round: a value that does
not fit exactly raises :class:`PrecisionLossError`, one outside int64 raises
:class:`FixedPointOverflowError`.

Floats convert through their shortest ``repr`` (``0.1`` is ``"0.1"``, raw 1 at precision 1), which
is what a human or a venue's JSON meant, not the binary fraction the float actually holds.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

import numpy as np
import numpy.typing as npt

__all__ = [
    "AVERAGE_PRICE_EXTRA_PRECISION",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_PRECISION",
    "MONEY_PRECISION",
    "MULTIPLIER_PRECISION",
    "FixedPointError",
    "FixedPointOverflowError",
    "InvalidPrecisionError",
    "PrecisionLossError",
    "check_precision",
    "decimals_of",
    "from_raw",
    "from_raw_array",
    "rescale",
    "to_raw",
    "to_raw_array",
]

MAX_PRECISION = 18
"""Largest supported precision: 10**18 is the largest power of ten below the int64 maximum."""

MONEY_PRECISION = 8
"""Decimals of money fields (fees, PnL, cash, notional, margin): 1e-8 covers crypto fees, and
int64 still holds 92 billion units of a currency."""

AVERAGE_PRICE_EXTRA_PRECISION = 4
"""Averages (``vwap``, ``avg_price``) carry this many decimals more than the instrument's price
precision, because an average of tick-aligned prices is not itself on the tick grid."""

MULTIPLIER_PRECISION = 8
"""Decimals of an instrument's contract ``multiplier``."""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_POW10: tuple[int, ...] = tuple(10**p for p in range(MAX_PRECISION + 1))
# Above 2**53 a float64 no longer holds every integer, so the vectorised path hands such
# elements to the exact scalar path.
_FLOAT_EXACT_LIMIT = 2.0**53


class FixedPointError(ValueError):
    """A value cannot be converted to or from fixed point."""


class PrecisionLossError(FixedPointError):
    """The value has more significant decimals than the precision allows."""


class FixedPointOverflowError(FixedPointError):
    """The raw value does not fit in int64."""


class InvalidPrecisionError(FixedPointError):
    """The precision is not an integer in 0..18."""


def check_precision(precision: int) -> int:
    """Validate a precision.

    Args:
        precision: Number of decimal places.

    Returns:
        ``precision`` unchanged.

    Raises:
        InvalidPrecisionError: Not an int in ``0..MAX_PRECISION``.
    """
    if (
        isinstance(precision, bool)
        or not isinstance(precision, int | np.integer)
        or not 0 <= precision <= MAX_PRECISION
    ):
        raise InvalidPrecisionError(
            f"precision must be an integer in 0..{MAX_PRECISION}, got {precision!r}"
        )
    return int(precision)


def _check_range(raw: int, value: object, precision: int) -> int:
    if not INT64_MIN <= raw <= INT64_MAX:
        raise FixedPointOverflowError(
            f"{value!r} at precision {precision} is {raw}, outside the int64 range"
        )
    return raw


def _as_decimal(value: str | Decimal | float) -> Decimal:
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise FixedPointError(f"{value!r} is not a finite number")
        return Decimal(repr(float(value)))
    if isinstance(value, str):
        try:
            dec = Decimal(value.strip())
        except InvalidOperation:
            raise FixedPointError(f"{value!r} is not a decimal number") from None
    elif isinstance(value, Decimal):
        dec = value
    else:
        raise TypeError(
            f"cannot convert {type(value).__name__} {value!r} to fixed point: "
            "expected int, str, Decimal or float"
        )
    if not dec.is_finite():
        raise FixedPointError(f"{value!r} is not a finite number")
    return dec


def to_raw(value: int | str | Decimal | float, precision: int) -> int:
    """Convert a value to its raw fixed-point integer, exactly.

    Args:
        value: The value. Strings are parsed as decimals; floats go through their shortest repr.
        precision: Decimal places, 0..18.

    Returns:
        ``value * 10**precision`` as an int in the int64 range.

    Raises:
        PrecisionLossError: ``value`` has significant decimals beyond ``precision``
            (trailing zeros are not significant: ``"0.0100"`` is fine at precision 2).
        FixedPointOverflowError: The result is outside int64.
        InvalidPrecisionError: Bad precision.
        FixedPointError: Not a finite number, or an unparsable string.
        TypeError: Not an int, str, Decimal or float.
    """
    precision = check_precision(precision)
    if isinstance(value, bool):
        raise TypeError(f"cannot convert bool {value!r} to fixed point")
    if isinstance(value, int | np.integer):
        return _check_range(int(value) * _POW10[precision], value, precision)
    dec = _as_decimal(value)
    sign, digits, exponent = dec.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    coefficient = int("".join(map(str, digits)))
    if coefficient == 0:
        return 0
    # Decide huge or tiny magnitudes before building 10**exponent, which could be enormous.
    if dec.adjusted() + precision > MAX_PRECISION:
        raise FixedPointOverflowError(
            f"{value!r} at precision {precision} is outside the int64 range"
        )
    shift = exponent + precision
    if shift >= 0:
        raw = coefficient * 10**shift
    else:
        if -shift > len(digits):
            raw, remainder = 0, coefficient
        else:
            raw, remainder = divmod(coefficient, 10**-shift)
        if remainder:
            raise PrecisionLossError(
                f"{value!r} has more than {precision} significant decimal place(s); "
                f"it cannot be stored at precision {precision} without rounding"
            )
    return _check_range(-raw if sign else raw, value, precision)


def from_raw(raw: int, precision: int) -> Decimal:
    """Convert a raw fixed-point integer back to an exact Decimal.

    The result does not depend on the active decimal context.

    Args:
        raw: Raw value (int64 range).
        precision: Decimal places, 0..18.

    Returns:
        ``raw / 10**precision`` with exponent ``-precision`` (``from_raw(150, 2)`` is ``1.50``).

    Raises:
        FixedPointOverflowError: ``raw`` is outside int64.
        InvalidPrecisionError: Bad precision.
    """
    precision = check_precision(precision)
    if isinstance(raw, bool) or not isinstance(raw, int | np.integer):
        raise TypeError(f"raw value must be an int, got {type(raw).__name__} {raw!r}")
    raw = _check_range(int(raw), int(raw), precision)
    digits = tuple(int(d) for d in str(abs(raw)))
    return Decimal((1 if raw < 0 else 0, digits, -precision))


def rescale(raw: int, from_precision: int, to_precision: int) -> int:
    """Re-express a raw value at another precision, exactly.

    Args:
        raw: Raw value at ``from_precision``.
        from_precision: Its precision.
        to_precision: The wanted precision.

    Returns:
        The raw value at ``to_precision``.

    Raises:
        PrecisionLossError: Going to fewer decimals would drop non-zero digits.
        FixedPointOverflowError: Going to more decimals leaves the int64 range.
        InvalidPrecisionError: Bad precision.
    """
    from_precision = check_precision(from_precision)
    to_precision = check_precision(to_precision)
    raw = _check_range(int(raw), int(raw), from_precision)
    if to_precision >= from_precision:
        return _check_range(raw * _POW10[to_precision - from_precision], raw, to_precision)
    divisor = _POW10[from_precision - to_precision]
    quotient, remainder = abs(raw) // divisor, abs(raw) % divisor
    if remainder:
        raise PrecisionLossError(
            f"raw {raw} at precision {from_precision} ({from_raw(raw, from_precision)}) "
            f"cannot be stored at precision {to_precision} without rounding"
        )
    return -quotient if raw < 0 else quotient


def decimals_of(value: str | Decimal) -> int:
    """Number of significant decimal places of a decimal value (trailing zeros ignored).

    Args:
        value: e.g. ``"0.01000000"`` (returns 2) or ``Decimal("5")`` (returns 0).

    Returns:
        The smallest precision at which ``to_raw(value, precision)`` is exact.

    Raises:
        FixedPointError: Not a finite decimal number.
    """
    dec = _as_decimal(value)
    if dec == 0:
        return 0
    exponent = dec.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def to_raw_array(values: npt.ArrayLike, precision: int) -> npt.NDArray[np.int64]:
    """Vectorised :func:`to_raw` for arrays of floats or integers.

    Gives exactly what :func:`to_raw` gives element by element (floats through their shortest
    repr), raising the same errors.

    Args:
        values: Array-like of float64 or integer values.
        precision: Decimal places, 0..18.

    Returns:
        int64 array of raw values, same shape.

    Raises:
        PrecisionLossError: An element has more decimals than ``precision`` (the message names
            the first such element and its index).
        FixedPointOverflowError: An element is out of the int64 range.
        FixedPointError: An element is NaN or infinite.
        TypeError: The array is neither float nor integer.
    """
    precision = check_precision(precision)
    array = np.asarray(values)
    flat = array.reshape(-1)
    scale = _POW10[precision]
    if flat.dtype.kind in "iu":
        limit = INT64_MAX // scale
        bad = (flat > limit) | (flat < -limit)
        if bad.any():
            index = int(bad.argmax())
            _raise_scalar(int(flat[index]), precision, index, array.shape)
        return (flat.astype(np.int64) * np.int64(scale)).reshape(array.shape)
    if flat.dtype.kind != "f":
        raise TypeError(f"expected a float or integer array, got dtype {array.dtype}")
    flat = flat.astype(np.float64, copy=False)
    finite = np.isfinite(flat)
    if not finite.all():
        index = int((~finite).argmax())
        raise FixedPointError(
            f"{float(flat[index])!r} at index {_index_text(index, array.shape)} "
            "is not a finite number"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.rint(flat * scale)
        exact = np.abs(scaled) < _FLOAT_EXACT_LIMIT
        # k / 10**p round-trips to x exactly when x's shortest repr has at most p decimals.
        representable = (scaled / scale) == flat
    lossy = exact & ~representable
    # Report the first failing element in index order, as the scalar loop would.
    first_lossy = int(lossy.argmax()) if lossy.any() else flat.size
    result = np.where(exact, scaled, 0.0).astype(np.int64)
    for position in np.flatnonzero(~exact):
        if position > first_lossy:
            break
        try:
            result[position] = to_raw(float(flat[position]), precision)
        except FixedPointError as exc:
            where = _index_text(int(position), array.shape)
            raise type(exc)(f"{exc} (at index {where})") from None
    if first_lossy < flat.size:
        _raise_scalar(float(flat[first_lossy]), precision, first_lossy, array.shape)
    return result.reshape(array.shape)


def _raise_scalar(value: int | float, precision: int, index: int, shape: tuple[int, ...]) -> None:
    try:
        to_raw(value, precision)
    except FixedPointError as exc:
        raise type(exc)(f"{exc} (at index {_index_text(index, shape)})") from None
    raise AssertionError(f"{value!r} was expected to fail at precision {precision}")


def _index_text(index: int, shape: tuple[int, ...]) -> str:
    if len(shape) <= 1:
        return str(index)
    return str(tuple(int(i) for i in np.unravel_index(index, shape)))


def from_raw_array(raw: npt.ArrayLike, precision: int) -> npt.NDArray[np.float64]:
    """Raw int64 values to float64, for analytics and plotting only (not exact).

    Args:
        raw: Array-like of raw values.
        precision: Decimal places, 0..18.

    Returns:
        float64 array ``raw / 10**precision``.
    """
    precision = check_precision(precision)
    return np.asarray(raw, dtype=np.int64) / np.float64(_POW10[precision])
