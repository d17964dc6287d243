"""Search spaces from ``--param`` text: integer and decimal ranges, and choice lists.

::

    fast=5:50            integers 5..50 (both ends included)
    slow=20:200:10       integers 20, 30, ..., 200
    quantity=0.01,0.02   a choice (values stay text; the strategy's Params convert them)
    ratio=0.1:0.5:0.05   decimals 0.1, 0.15, ..., 0.5 (a decimal range needs a step)

Values are suggested to Optuna as ints, floats on a step grid, or categorical strings; a sampled
value goes back to the strategy as the same text the CLI would pass, so no float rounding
reaches a Decimal parameter.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import optuna

from qk.research.errors import ResearchError, ResearchErrorReason

__all__ = ["Dimension", "SearchSpace", "parse_space"]

_R = ResearchErrorReason
MAX_GRID: Final = 1_000_000
"""Most points a full grid may have (a guard against a typo such as ``fast=1:1000000``)."""


@dataclass(frozen=True, slots=True)
class Dimension:
    """One searched parameter.

    Attributes:
        name: Parameter name.
        kind: ``"int"``, ``"decimal"`` or ``"choice"``.
        values: Every value, in order, as text (the grid).
        low: Lowest value (ranges).
        high: Highest value (ranges).
        step: Range step.
    """

    name: str
    kind: str
    values: tuple[str, ...]
    low: Decimal | None = None
    high: Decimal | None = None
    step: Decimal | None = None

    def suggest(self, trial: optuna.Trial) -> str:
        """Ask Optuna for a value; returned as text."""
        if self.kind == "int":
            assert self.low is not None and self.high is not None and self.step is not None
            return str(
                trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step))
            )
        # Decimal ranges go through the index of the grid value: no float reaches a Decimal.
        return str(trial.suggest_categorical(self.name, list(self.values)))


def _decimal(text: str, item: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ResearchError(_R.BAD_SPACE, f"--param {item!r}: {text!r} is not a number") from None
    if not value.is_finite():
        raise ResearchError(_R.BAD_SPACE, f"--param {item!r}: {text!r} is not finite")
    return value


def _dimension(item: str) -> Dimension:
    name, sep, spec = item.partition("=")
    name, spec = name.strip(), spec.strip()
    if not sep or not name or not spec:
        raise ResearchError(
            _R.BAD_SPACE, f"--param {item!r}: expected NAME=LOW:HIGH[:STEP] or NAME=A,B,..."
        )
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise ResearchError(_R.BAD_SPACE, f"--param {item!r}: expected LOW:HIGH[:STEP]")
        low, high = _decimal(parts[0], item), _decimal(parts[1], item)
        integral = all("." not in p and "e" not in p.lower() for p in parts)
        if len(parts) == 3:
            step = _decimal(parts[2], item)
        elif integral:
            step = Decimal(1)
        else:
            raise ResearchError(
                _R.BAD_SPACE, f"--param {item!r}: a decimal range needs a step (LOW:HIGH:STEP)"
            )
        if step <= 0 or high < low:
            raise ResearchError(
                _R.BAD_SPACE, f"--param {item!r}: needs LOW <= HIGH and a positive STEP"
            )
        count = int((high - low) / step) + 1
        if count > MAX_GRID:
            raise ResearchError(_R.BAD_SPACE, f"--param {item!r}: {count} values is too many")
        values = tuple(str(low + i * step) for i in range(count))
        return Dimension(name, "int" if integral else "decimal", values, low, high, step)
    choices = tuple(v.strip() for v in spec.split(","))
    if any(not v for v in choices) or len(set(choices)) != len(choices):
        raise ResearchError(
            _R.BAD_SPACE, f"--param {item!r}: choices must be non-empty and distinct"
        )
    return Dimension(name, "choice", choices)


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """The parameters a sweep searches, in ``--param`` order."""

    dimensions: tuple[Dimension, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names."""
        return tuple(d.name for d in self.dimensions)

    def grid(self) -> dict[str, list[Any]]:
        """The grid for Optuna's GridSampler (ints as ints, the rest as text)."""
        return {
            d.name: [int(v) for v in d.values] if d.kind == "int" else list(d.values)
            for d in self.dimensions
        }

    def grid_size(self) -> int:
        """Number of grid points."""
        size = 1
        for d in self.dimensions:
            size *= len(d.values)
        return size

    def points(self) -> Iterator[dict[str, str]]:
        """Every grid point, as ``--param`` text values."""
        for combo in itertools.product(*(d.values for d in self.dimensions)):
            yield dict(zip(self.names, combo, strict=True))

    def suggest(self, trial: optuna.Trial) -> dict[str, str]:
        """One point from Optuna, as text values."""
        return {d.name: d.suggest(trial) for d in self.dimensions}

    def from_trial_params(self, params: Mapping[str, Any]) -> dict[str, str]:
        """A stored trial's params back as text values."""
        return {name: str(params[name]) for name in self.names}


def parse_space(items: Iterable[str]) -> SearchSpace:
    """Parse ``--param`` items.

    Raises:
        ResearchError: BAD_SPACE naming the item: malformed, empty, a repeated name.
    """
    dimensions = [_dimension(item) for item in items]
    if not dimensions:
        raise ResearchError(_R.BAD_SPACE, "no --param to search (e.g. --param fast=5:50)")
    names = [d.name for d in dimensions]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ResearchError(_R.BAD_SPACE, f"--param names given twice: {', '.join(repeated)}")
    return SearchSpace(tuple(dimensions))
