"""Fixed-point prices and quantities to the floats that indicators take.

Records carry prices and quantities as int64 raw values at the instrument's precision
(``qk.schemas.fixed``); indicators work in float64 (DESIGN.md §3). Both helpers compute
``raw / 10**precision`` with one correctly rounded division, so the per-tick and the vectorised
conversions give the same float for the same raw value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qk.schemas.fixed import check_precision, from_raw_array

__all__ = ["to_float", "to_float_array"]

# Raw values beyond 2**53 do not convert to float64 exactly; such prices do not occur at any
# precision a venue uses, so the helpers refuse them rather than round twice.
_FLOAT_EXACT_LIMIT = 2**53


def to_float(raw: int, precision: int) -> float:
    """One raw fixed-point value as a float, e.g. ``to_float(5_000_012, 2) == 50000.12``.

    Args:
        raw: Raw int64 value (``value * 10**precision``).
        precision: The instrument's price or size precision, 0..18.

    Returns:
        The nearest float64 to ``raw / 10**precision``.

    Raises:
        InvalidPrecisionError: Bad precision.
        TypeError: ``raw`` is not an int.
        ValueError: ``|raw| >= 2**53``, which float64 cannot hold exactly.
    """
    precision = check_precision(precision)
    if isinstance(raw, bool) or not isinstance(raw, int | np.integer):
        raise TypeError(f"raw value must be an int, got {type(raw).__name__} {raw!r}")
    raw = int(raw)
    if abs(raw) >= _FLOAT_EXACT_LIMIT:
        raise ValueError(f"raw value {raw} is too large to convert to float64 exactly")
    return float(np.float64(raw) / np.float64(10**precision))


def to_float_array(raw: npt.ArrayLike, precision: int) -> npt.NDArray[np.float64]:
    """Raw fixed-point values as float64, for the vectorised indicator functions.

    Args:
        raw: Array-like of raw int64 values.
        precision: The instrument's price or size precision, 0..18.

    Returns:
        float64 array of ``raw / 10**precision``, element for element equal to :func:`to_float`.

    Raises:
        InvalidPrecisionError: Bad precision.
        ValueError: An element with ``|raw| >= 2**53``.
    """
    values = np.asarray(raw, dtype=np.int64)
    too_large = np.abs(values) >= _FLOAT_EXACT_LIMIT
    if too_large.any():
        index = int(too_large.argmax())
        raise ValueError(
            f"raw value {int(values.flat[index])} at index {index} is too large to convert "
            "to float64 exactly"
        )
    return from_raw_array(values, precision)
