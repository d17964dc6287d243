"""One interface over both engines: parameter sets in, metrics (or a refusal) out.

``Evaluator(deployment, trades, engine="vectorized")`` evaluates a batch of parameter sets with
the numba kernel (one call for the whole batch) or, with ``engine="event"``, one
``run_backtest`` per set. Both give the same metric names with the same definitions
(``docs/backtest.md``), so a sweep's objective does not depend on the engine.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from qk.backtest.engine import run_backtest
from qk.backtest.errors import BacktestError
from qk.backtest.metrics import fill_rows, summarize
from qk.research.errors import ResearchError, ResearchErrorReason
from qk.research.metric_names import METRIC_NAMES
from qk.strategy import Deployment

__all__ = ["ENGINES", "OBJECTIVES", "Evaluator", "Outcome", "trial_seed"]

_R = ResearchErrorReason
ENGINES: Final = ("vectorized", "event")
OBJECTIVES: Final = (
    "sharpe", "sortino", "total_return", "max_drawdown", "realized_pnl", "final_equity",
)  # fmt: skip
"""Objectives a sweep can maximise (max_drawdown is <= 0, so maximising it minimises the
drawdown)."""

Outcome = dict[str, float | None] | ResearchError
"""Metrics of one parameter set, or why it was refused."""


def trial_seed(study_seed: int, trial_number: int) -> int:
    """A 63-bit seed from (study seed, trial number): the same pair always gives the same
    seed, on every host and in every process (no Python ``hash`` randomisation)."""
    digest = hashlib.blake2b(f"{study_seed}:{trial_number}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def check_objective(name: str) -> str:
    """``name`` if it is an objective.

    Raises:
        ResearchError: BAD_OBJECTIVE listing the known ones.
    """
    if name not in OBJECTIVES:
        raise ResearchError(
            _R.BAD_OBJECTIVE, f"unknown objective {name!r} (known: {', '.join(OBJECTIVES)})"
        )
    return name


class Evaluator:
    """Evaluates parameter sets of one deployment over one tape.

    Args:
        deployment: The loaded descriptor.
        trades: The tape.
        engine: ``"vectorized"`` (numba kernel) or ``"event"`` (``run_backtest``).

    Raises:
        ResearchError: NOT_VECTORIZABLE when the kernel cannot reproduce the deployment;
            BAD_PARAMS for an unknown engine.
        BacktestError: Bad trades.
    """

    def __init__(
        self, deployment: Deployment, trades: npt.NDArray[np.void], engine: str = "vectorized"
    ) -> None:
        if engine not in ENGINES:
            raise ResearchError(
                _R.BAD_PARAMS, f"unknown engine {engine!r} (known: {', '.join(ENGINES)})"
            )
        self.deployment = deployment
        self.trades = trades
        self.engine = engine
        self._tape: Any = None
        if engine == "vectorized":
            # Imported here: event-engine workers never load numba.
            from qk.research.vectorized import prepare_tape

            self._tape = prepare_tape(deployment, trades)

    def run(
        self, param_sets: Sequence[Mapping[str, object]], seeds: Sequence[int] | None = None
    ) -> list[Outcome]:
        """Metrics (:data:`~qk.research.vectorized.METRIC_NAMES`) per set, in order.

        Args:
            param_sets: Overrides per set (text values as on the CLI).
            seeds: Per-set seed for a sampled latency (event engine; ignored otherwise).
        """
        if self._tape is not None:
            from qk.research.vectorized import evaluate

            return [
                r if isinstance(r, ResearchError) else r.metrics
                for r in evaluate(self._tape, param_sets)
            ]
        seeds = seeds if seeds is not None else [0] * len(param_sets)
        return [self._event(p, s) for p, s in zip(param_sets, seeds, strict=True)]

    def _event(self, overrides: Mapping[str, object], seed: int) -> Outcome:
        deployment = self.deployment
        models = deployment.models
        low_high = getattr(models, "latency_ns", None)
        if isinstance(low_high, tuple) and low_high[0] != low_high[1]:
            # The trial's own seed drives its sampled latency: reruns of a trial agree.
            deployment = dataclasses.replace(
                deployment, models=dataclasses.replace(models, latency_seed=seed)
            )
        try:
            result = run_backtest(deployment, self.trades, params=overrides)
        except BacktestError as exc:
            return ResearchError(_R.BAD_PARAMS, str(exc))
        except ValueError as exc:  # the strategy's own refusal at start (fast >= slow)
            return ResearchError(_R.BAD_PARAMS, f"strategy refused to start: {exc}")
        summary = summarize(result, fill_rows(result))
        metrics: dict[str, float | None] = {}
        for name in METRIC_NAMES:
            if name == "final_equity":
                metrics[name] = float(Decimal(summary["final_equity"]))
            elif name in ("realized_pnl", "fees"):
                metrics[name] = float(Decimal(summary[name]))
            else:
                value = summary[name]
                metrics[name] = None if value is None else float(value)
        return metrics
