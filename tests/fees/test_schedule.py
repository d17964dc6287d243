"""Schedule files: bad data gets a clear error naming the file, model and component."""

from __future__ import annotations

from pathlib import Path

import pytest

from qk.fees import FeeModels, FeeScheduleError, load_fee_models, parse_fee_models

HEADER = """
[[model]]
name = "test.model"
venues = ["BINANCE"]
kinds = ["SPOT"]
source = "test"
as_of = 2025-01-01
"""


def parse(component: str) -> None:
    parse_fee_models(HEADER + "[[model.component]]\n" + component, "test.toml")


def test_parse_when_valid_then_model_has_its_components() -> None:
    (model,) = parse_fee_models(
        HEADER
        + '[[model.component]]\nkind = "TRADING_FEE"\nmaker_rate = "0.001"\ntaker_rate = "0.002"\n'
    )
    assert model.name == "test.model"
    (spec,) = model.components
    assert str(spec.taker_rate) == "0.002"
    assert spec.source == "test"


@pytest.mark.parametrize(
    ("component", "message"),
    [
        ('kind = "TRADING_FEE"\nrate = 0.001\n', "must be a decimal string"),
        (
            'kind = "TRADING_FEE"\nrate = "0.001"\ncolour = "red"\n',
            r"unknown key\(s\) \['colour'\]",
        ),
        ('kind = "FEE"\nrate = "0.001"\n', "'FEE' is not a FeeComponentKind"),
        ('kind = "TRADING_FEE"\n', "exactly one of rate"),
        ('kind = "TRADING_FEE"\nrate = "0.001"\nflat_per_order = "1"\n', "exactly one of rate"),
        ('kind = "TRADING_FEE"\nmaker_rate = "0.001"\n', "maker_rate and taker_rate go together"),
        ('kind = "TRADING_FEE"\nrate = "0.5"\n', r"outside 0\.\.0\.1"),
        ('kind = "TRADING_FEE"\nrate = "-0.001"\n', r"outside 0\.\.0\.1"),
        (
            'kind = "GST"\nrate = "0.18"\nbase = ["BROKERAGE"]\n',
            "BROKERAGE is not defined before it",
        ),
        ('kind = "TRADING_FEE"\nrate = "0.001"\nsides = ["LONG"]\n', "'LONG' is not a Side"),
        ('kind = "TRADING_FEE"\nrate = "0.001"\nas_of = "2025"\n', "as_of must be a TOML date"),
        ('kind = "TRADING_FEE"\nrate = "abc"\n', "not a decimal number"),
        ('kind = "BROKERAGE"\nflat_per_order = "0.000000001"\n', "more than 8 decimals"),
    ],
)
def test_parse_when_component_invalid_then_error_names_it(component: str, message: str) -> None:
    with pytest.raises(FeeScheduleError, match=message) as info:
        parse(component)
    assert "test.toml: model 'test.model', component 1" in str(info.value)


def test_parse_when_source_missing_then_error() -> None:
    text = (
        HEADER.replace('source = "test"\n', "")
        + '[[model.component]]\nkind = "TRADING_FEE"\nrate = "0.001"\n'
    )
    with pytest.raises(FeeScheduleError, match="source is required"):
        parse_fee_models(text, "test.toml")


def test_parse_when_not_toml_then_error_names_file() -> None:
    with pytest.raises(FeeScheduleError, match=r"bad\.toml: not valid TOML"):
        parse_fee_models("[[model", "bad.toml")


def test_load_when_file_missing_then_error_names_it(tmp_path: Path) -> None:
    with pytest.raises(FeeScheduleError, match="cannot read fee schedule"):
        load_fee_models([tmp_path / "nope.toml"])


def test_models_when_name_defined_twice_then_error() -> None:
    (model,) = parse_fee_models(HEADER + '[[model.component]]\nkind = "TRADING_FEE"\nrate = "0"\n')
    with pytest.raises(FeeScheduleError, match="defined twice"):
        FeeModels([model, model])
