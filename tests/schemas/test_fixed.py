"""Fixed-point conversion: exact round trips, and loss/overflow always raise."""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from qk.schemas.fixed import (
    INT64_MAX,
    INT64_MIN,
    MAX_PRECISION,
    FixedPointError,
    FixedPointOverflowError,
    InvalidPrecisionError,
    PrecisionLossError,
    decimals_of,
    from_raw,
    from_raw_array,
    rescale,
    to_raw,
    to_raw_array,
)

precisions = st.integers(min_value=0, max_value=MAX_PRECISION)
int64s = st.integers(min_value=INT64_MIN, max_value=INT64_MAX)


@given(raw=int64s, precision=precisions)
def test_raw_to_decimal_to_raw_is_exact_for_every_int64(raw: int, precision: int) -> None:
    assert to_raw(from_raw(raw, precision), precision) == raw
    assert to_raw(str(from_raw(raw, precision)), precision) == raw


@given(raw=int64s, precision=precisions)
def test_from_raw_does_not_depend_on_the_decimal_context(raw: int, precision: int) -> None:
    with localcontext() as ctx:
        ctx.prec = 3
        value = from_raw(raw, precision)
    assert value == Decimal(raw) / Decimal(10) ** precision  # default context: 28 digits


@given(data=st.data(), precision=precisions)
def test_decimal_within_precision_round_trips(data: st.DataObject, precision: int) -> None:
    places = data.draw(st.integers(min_value=0, max_value=precision))
    limit = INT64_MAX // 10 ** (precision - places)
    units = data.draw(st.integers(min_value=-limit, max_value=limit))
    value = Decimal(units).scaleb(-places)
    raw = to_raw(value, precision)
    assert from_raw(raw, precision) == value


@given(
    units=st.integers(min_value=-(10**17), max_value=10**17).filter(lambda u: u % 10 != 0),
    precision=st.integers(min_value=0, max_value=MAX_PRECISION - 1),
    extra=st.integers(min_value=1, max_value=6),
)
def test_more_decimals_than_precision_always_raises(units: int, precision: int, extra: int) -> None:
    value = Decimal(units).scaleb(-(precision + extra))
    with pytest.raises(PrecisionLossError, match=f"precision {precision}"):
        to_raw(value, precision)
    with pytest.raises(PrecisionLossError):
        to_raw(str(value), precision)


@given(raw=st.integers(min_value=INT64_MAX + 1, max_value=2**80), precision=precisions)
def test_out_of_int64_always_raises_overflow(raw: int, precision: int) -> None:
    for sign in (1, -1):
        value = Decimal(sign * raw).scaleb(-precision)
        if sign == -1 and sign * raw == INT64_MIN:
            continue
        with pytest.raises(FixedPointOverflowError, match="int64"):
            to_raw(value, precision)
        with pytest.raises(FixedPointOverflowError):
            from_raw(sign * raw, precision)


def test_int64_bounds_are_accepted_and_one_beyond_is_not() -> None:
    assert to_raw(Decimal("9.223372036854775807"), 18) == INT64_MAX
    assert to_raw(Decimal("-9.223372036854775808"), 18) == INT64_MIN
    with pytest.raises(FixedPointOverflowError, match=r"9.223372036854775808"):
        to_raw(Decimal("9.223372036854775808"), 18)
    with pytest.raises(FixedPointOverflowError):
        to_raw(10**19, 0)


def test_floats_convert_through_their_shortest_repr() -> None:
    assert to_raw(0.1, 1) == 1
    assert to_raw(0.3, 2) == 30
    assert to_raw(1e-05, 5) == 1
    assert to_raw(27000.5, 2) == 2700050
    with pytest.raises(PrecisionLossError, match=r"0.30000000000000004 has more than 2"):
        to_raw(0.1 + 0.2, 2)


def test_trailing_zeros_are_not_significant() -> None:
    assert to_raw("0.01000000", 2) == 1
    assert to_raw(Decimal("5.000"), 0) == 5
    assert decimals_of("0.01000000") == 2
    assert decimals_of("100") == 0
    assert decimals_of(Decimal("1E+2")) == 0


def test_huge_and_tiny_exponents_fail_fast() -> None:
    with pytest.raises(FixedPointOverflowError):
        to_raw(Decimal("1e999999999"), 2)
    with pytest.raises(PrecisionLossError):
        to_raw(Decimal("1e-999999999"), 2)
    assert to_raw(Decimal("0e-999999999"), 2) == 0


@pytest.mark.parametrize("bad", ["abc", "1.2.3", "", "nan", "inf"])
def test_non_numbers_raise_fixed_point_error(bad: str) -> None:
    with pytest.raises(FixedPointError, match="number"):
        to_raw(bad, 2)


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Infinity")]
)
def test_non_finite_values_raise(value: float | Decimal) -> None:
    with pytest.raises(FixedPointError, match="finite"):
        to_raw(value, 2)


@pytest.mark.parametrize("precision", [-1, 19, 2.0, True, "2"])
def test_invalid_precision_is_rejected(precision: object) -> None:
    with pytest.raises(InvalidPrecisionError, match=r"0..18"):
        to_raw(1, precision)  # type: ignore[arg-type]
    with pytest.raises(InvalidPrecisionError):
        from_raw(1, precision)  # type: ignore[arg-type]


def test_unsupported_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match="bool"):
        to_raw(True, 2)
    with pytest.raises(TypeError, match="list"):
        to_raw([1], 2)  # type: ignore[arg-type]


def test_errors_are_value_errors() -> None:
    assert issubclass(PrecisionLossError, FixedPointError)
    assert issubclass(FixedPointOverflowError, FixedPointError)
    assert issubclass(FixedPointError, ValueError)


@given(raw=int64s, a=precisions, b=precisions)
def test_rescale_is_exact_or_raises(raw: int, a: int, b: int) -> None:
    value = from_raw(raw, a)
    try:
        expected = to_raw(value, b)
    except FixedPointError as exc:
        with pytest.raises(type(exc)):
            rescale(raw, a, b)
    else:
        assert rescale(raw, a, b) == expected


def test_rescale_examples() -> None:
    assert rescale(150, 2, 4) == 15000
    assert rescale(-15000, 4, 2) == -150
    with pytest.raises(PrecisionLossError, match=r"1.5001"):
        rescale(15001, 4, 2)


@given(
    values=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e16, max_value=1e16),
        min_size=1,
        max_size=20,
    ),
    precision=st.integers(min_value=0, max_value=10),
)
def test_vectorised_agrees_with_scalar(values: list[float], precision: int) -> None:
    expected: list[int] = []
    error: type[Exception] | None = None
    for value in values:
        try:
            expected.append(to_raw(value, precision))
        except FixedPointError as exc:
            error = type(exc)
            break
    if error is None:
        assert to_raw_array(np.array(values), precision).tolist() == expected
    else:
        with pytest.raises(error):
            to_raw_array(np.array(values), precision)


@given(
    units=st.lists(st.integers(min_value=-(10**15), max_value=10**15), min_size=1, max_size=20),
    places=st.integers(min_value=0, max_value=8),
)
def test_vectorised_exact_for_prices_typed_in_decimal(units: list[int], places: int) -> None:
    floats = [float(Decimal(u).scaleb(-places)) for u in units]
    assume(all(float(repr(f)) == f for f in floats))
    assert to_raw_array(np.array(floats), places).tolist() == [to_raw(f, places) for f in floats]


def test_vectorised_errors_name_value_and_index() -> None:
    with pytest.raises(PrecisionLossError, match=r"0.123.*index 2"):
        to_raw_array(np.array([1.5, 2.25, 0.123]), 2)
    with pytest.raises(FixedPointOverflowError, match=r"index \(1, 0\)"):
        to_raw_array(np.array([[1.0], [1e30]]), 2)
    with pytest.raises(FixedPointError, match="nan at index 1 is not a finite"):
        to_raw_array(np.array([1.0, np.nan]), 2)
    with pytest.raises(FixedPointOverflowError, match="index 1"):
        to_raw_array(np.array([1, 10**17], dtype=np.int64), 2)


def test_vectorised_keeps_shape_and_handles_integers_and_large_values() -> None:
    out = to_raw_array(np.array([[0.1, 0.2], [0.3, -0.4]]), 1)
    assert out.dtype == np.int64
    assert out.tolist() == [[1, 2], [3, -4]]
    assert to_raw_array(np.array([3, -7], dtype=np.int32), 3).tolist() == [3000, -7000]
    big = 92233720368547.75  # raw above 2**53: takes the exact scalar path
    assert to_raw_array(np.array([big]), 5).tolist() == [to_raw(big, 5)]
    assert to_raw_array(np.array(2.5), 1).tolist() == 25


def test_from_raw_array_is_float_division() -> None:
    assert from_raw_array(np.array([150, -5]), 2).tolist() == [1.5, -0.05]
