"""Typed strategy parameters: defaults, conversion, constraints, precise errors."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qk.strategy import (
    Constraints,
    ParamError,
    ParamErrorReason,
    Strategy,
    param,
    parse_assignments,
    parse_params,
)

HALF = Decimal("0.5")


class Sample(Strategy):
    @dataclass(frozen=True)
    class Params:
        period: Annotated[int, Constraints(ge=2, le=500)] = 20
        size: Annotated[Decimal, Constraints(gt=0)] = HALF
        threshold: float = 1.5
        source: str = param("close", choices=("close", "vwap"))
        enabled: bool = True


@dataclass(frozen=True)
class Required:
    period: int


def test_parse_params_when_empty_then_defaults() -> None:
    assert parse_params(Sample, {}) == Sample.Params()


def test_parse_params_when_cli_strings_then_converted_to_declared_types() -> None:
    params = parse_params(
        Sample,
        parse_assignments(
            ["period=50", "size=0.25", "threshold=2", "source=vwap", "enabled=false"]
        ),
    )
    assert params == Sample.Params(50, Decimal("0.25"), 2.0, "vwap", False)
    assert isinstance(params.size, Decimal)


def test_parse_params_when_toml_float_for_decimal_then_exact_decimal() -> None:
    assert parse_params(Sample, {"size": 0.1}).size == Decimal("0.1")


def test_parse_params_when_params_dataclass_given_then_same_as_strategy() -> None:
    assert parse_params(Sample.Params, {"period": 3}) == parse_params(Sample, {"period": 3})


@pytest.mark.parametrize(
    ("values", "reason", "name", "fragment"),
    [
        ({"perod": 3}, ParamErrorReason.UNKNOWN_NAME, "perod", "known: enabled, period"),
        ({"period": "abc"}, ParamErrorReason.WRONG_TYPE, "period", "must be int"),
        ({"period": 2.5}, ParamErrorReason.WRONG_TYPE, "period", "must be int"),
        ({"period": True}, ParamErrorReason.WRONG_TYPE, "period", "must be int"),
        ({"enabled": 1}, ParamErrorReason.WRONG_TYPE, "enabled", "must be bool"),
        ({"enabled": "maybe"}, ParamErrorReason.WRONG_TYPE, "enabled", "must be bool"),
        ({"size": "NaN"}, ParamErrorReason.WRONG_TYPE, "size", "must be Decimal"),
        ({"period": 1}, ParamErrorReason.OUT_OF_RANGE, "period", "must be >= 2, got 1"),
        ({"period": 501}, ParamErrorReason.OUT_OF_RANGE, "period", "must be <= 500"),
        ({"size": "0"}, ParamErrorReason.OUT_OF_RANGE, "size", "must be > 0"),
        ({"source": "open"}, ParamErrorReason.OUT_OF_RANGE, "source", "one of close, vwap"),
    ],
)
def test_parse_params_when_bad_value_then_precise_error(
    values: dict[str, object], reason: ParamErrorReason, name: str, fragment: str
) -> None:
    with pytest.raises(ParamError, match=fragment) as caught:
        parse_params(Sample, values)
    assert caught.value.reason is reason
    assert caught.value.name == name


def test_parse_params_when_required_missing_then_missing_error() -> None:
    with pytest.raises(ParamError, match="'period' is required") as caught:
        parse_params(Required, {})
    assert caught.value.reason is ParamErrorReason.MISSING


def test_parse_params_when_field_type_unsupported_then_bad_declaration() -> None:
    @dataclass(frozen=True)
    class Bad:
        values: list[int]

    with pytest.raises(ParamError) as caught:
        parse_params(Bad, {})
    assert caught.value.reason is ParamErrorReason.BAD_DECLARATION


def test_parse_params_when_owner_has_no_dataclass_params_then_bad_declaration() -> None:
    class NoParamsStrategy(Strategy):
        Params = dict

    with pytest.raises(ParamError) as caught:
        parse_params(NoParamsStrategy, {})
    assert caught.value.reason is ParamErrorReason.BAD_DECLARATION


@pytest.mark.parametrize("item", ["period", "=3", "  =x"])
def test_parse_assignments_when_not_name_equals_value_then_malformed(item: str) -> None:
    with pytest.raises(ParamError) as caught:
        parse_assignments([item])
    assert caught.value.reason is ParamErrorReason.MALFORMED


def test_parse_assignments_when_name_repeated_then_malformed() -> None:
    with pytest.raises(ParamError, match="given twice"):
        parse_assignments(["period=3", "period=4"])


def test_parse_assignments_when_value_contains_equals_then_kept_whole() -> None:
    assert parse_assignments(["source=a=b"]) == {"source": "a=b"}


@given(st.integers(min_value=2, max_value=500))
def test_parse_params_when_int_text_in_range_then_round_trips(period: int) -> None:
    assert parse_params(Sample, {"period": str(period)}).period == period


@given(st.decimals(min_value=Decimal("0.00001"), max_value=Decimal(10**6), places=5))
def test_parse_params_when_decimal_text_then_exact(size: Decimal) -> None:
    assert parse_params(Sample, {"size": str(size)}).size == size
