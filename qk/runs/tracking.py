"""Recording a finished backtest as a run: what ``qk backtest`` calls after writing its outputs."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from qk.runs.store import DEFAULT_RUNS, RunStore

__all__ = ["BACKTEST_ARTIFACTS", "split_summary", "track_backtest"]

BACKTEST_ARTIFACTS: Final = ("summary.json", "report.html")
"""Output files of ``qk backtest`` copied into the run (those that exist)."""

_NOT_METRICS: Final = frozenset({"strategy_id"})


def _is_metric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | Decimal):
        return True
    if isinstance(value, str):
        try:
            return Decimal(value).is_finite()
        except InvalidOperation:
            return False
    return False


def split_summary(summary: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A backtest summary → (metrics: numeric entries, info: everything else but ``params``).

    Numeric strings (``summary.json`` writes exact decimals as strings) stay strings. Ids and
    times (``strategy_id``, ``*_ns``) are numbers but describe the run, so they go to info.
    """
    metrics = {
        k: v
        for k, v in summary.items()
        if k != "params" and k not in _NOT_METRICS and not k.endswith("_ns") and _is_metric(v)
    }
    info = {k: v for k, v in summary.items() if k != "params" and k not in metrics}
    return metrics, info


def track_backtest(
    result_dir: Path | str,
    summary: Mapping[str, Any],
    params: Mapping[str, Any],
    data_fingerprint: str | None,
    config: Path | str | None,
    *,
    runs_root: Path | str = DEFAULT_RUNS,
    mlflow_uri: str | None = None,
    kind: str = "backtest",
    parent: str | None = None,
) -> str:
    """Record a backtest whose outputs are in ``result_dir`` as a finished run.

    Args:
        result_dir: the ``--out`` directory; its summary.json and report.html are copied.
        summary: the summary ``write_outputs`` returned (numeric entries become metrics).
        params: the parameters of the run (strategy parameters and data selection).
        data_fingerprint: ``sha256:...`` of the trade tape (``fingerprint_array(trades)``).
        config: the deployment descriptor.
        runs_root: the run store root.
        mlflow_uri: also log to MLflow (see :mod:`qk.runs.mlflow_sink`).
        kind: ``backtest``, or ``trial`` for one trial of a sweep (then give ``parent``).
        parent: the sweep run id of a trial.

    Returns:
        The run id.
    """
    store = RunStore(runs_root, mlflow_uri=mlflow_uri)
    metrics, info = split_summary(summary)
    run_id = store.start_run(kind, params, data_fingerprint, config, parent=parent, info=info)
    try:
        store.log_metrics(run_id, metrics)
        for name in BACKTEST_ARTIFACTS:
            path = Path(result_dir) / name
            if path.is_file():
                store.log_artifact(run_id, path)
    except BaseException:
        store.finish(run_id, "failed")
        raise
    store.finish(run_id, "finished")
    return run_id
