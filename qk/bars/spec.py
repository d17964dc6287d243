"""Bar specifications: what one stream of bars is (time, tick-count or volume, and its size).

Text forms, as the CLI and configs write them:

* durations: ``250ms``, ``1s``, ``1m``, ``5m``, ``15m``, ``1h``, ``1d``, or any ``<int><unit>``
  with unit ``ns``, ``us``, ``ms``, ``s``, ``m``, ``h``, ``d``;
* tick bars: ``<int>t`` (e.g. ``100t``: every 100 trades);
* volume bars: ``<decimal>v`` (e.g. ``2.5v``: until 2.5 units of quantity have traded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qk.schemas.enums import BarAggregation
from qk.schemas.fixed import FixedPointError, to_raw

__all__ = ["BarSpec", "TimeframeError", "format_duration", "parse_duration", "parse_spec"]

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}
_DURATION = re.compile(r"^(\d+)(ns|us|ms|s|m|h|d)$")


class TimeframeError(ValueError):
    """A timeframe or bar spec that cannot be parsed or is out of range."""


@dataclass(frozen=True)
class BarSpec:
    """One bar stream.

    Attributes:
        aggregation: time, tick-count or volume bars.
        size: duration in ns (TIME), trade count (TICK) or raw quantity (VOLUME); > 0.
        label: the text it was parsed from (used for output file names).
    """

    aggregation: BarAggregation
    size: int
    label: str = ""

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise TimeframeError(f"bar size must be > 0, got {self.size} ({self.label!r})")

    @classmethod
    def time(cls, duration_ns: int, label: str = "") -> BarSpec:
        """A time bar of ``duration_ns``."""
        return cls(BarAggregation.TIME, duration_ns, label or format_duration(duration_ns))


def parse_duration(text: str, *, allow_zero: bool = False) -> int:
    """``"5m"`` → 300_000_000_000 ns.

    Args:
        text: ``<int><unit>``.
        allow_zero: accept ``0s`` (a lateness may be zero; a bar length may not).

    Raises:
        TimeframeError: if ``text`` is not ``<positive int><unit>``.
    """
    match = _DURATION.match(text.strip())
    if match is None or (int(match.group(1)) == 0 and not allow_zero):
        raise TimeframeError(
            f"unknown timeframe {text!r}: expected a positive integer and a unit "
            f"({', '.join(_UNIT_NS)}), e.g. 1s, 5m, 1h, 1d"
        )
    return int(match.group(1)) * _UNIT_NS[match.group(2)]


def format_duration(duration_ns: int) -> str:
    """The shortest exact text for a duration: 300_000_000_000 → ``"5m"``."""
    for unit in ("d", "h", "m", "s", "ms", "us"):
        if duration_ns % _UNIT_NS[unit] == 0:
            return f"{duration_ns // _UNIT_NS[unit]}{unit}"
    return f"{duration_ns}ns"


def parse_spec(text: str, size_precision: int) -> BarSpec:
    """Parse a duration, ``<int>t`` (tick bars) or ``<decimal>v`` (volume bars).

    Args:
        text: the spec.
        size_precision: decimals of quantities, to turn a volume threshold into raw units.

    Raises:
        TimeframeError: if ``text`` is none of the forms above.
    """
    text = text.strip()
    if re.fullmatch(r"\d+t", text):
        return BarSpec(BarAggregation.TICK, int(text[:-1]), text)
    if re.fullmatch(r"\d+(\.\d+)?v", text):
        try:
            raw = to_raw(text[:-1], size_precision)
        except FixedPointError as exc:
            raise TimeframeError(f"volume bar size {text!r}: {exc}") from None
        return BarSpec(BarAggregation.VOLUME, raw, text)
    return BarSpec(BarAggregation.TIME, parse_duration(text), text)
