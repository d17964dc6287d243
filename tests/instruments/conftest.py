"""Instrument fixtures: the real default instrument file."""

from __future__ import annotations

from pathlib import Path

import pytest

from qk.instruments import Instrument, load_instruments

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "instruments.toml"


@pytest.fixture
def default_instruments() -> list[Instrument]:
    """The instruments of configs/instruments.toml."""
    return load_instruments(CONFIG)
