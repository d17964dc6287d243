"""Recording sweeps, their trials and walk-forward analyses as runs (what ``qk sweep`` and
``qk walkforward`` call).

A sweep run is started by the process running ``qk sweep`` before any worker starts, so that the
workers can name it as their trials' parent. Each worker records its own completed trials, one
:meth:`~qk.runs.RunStore.record_run` each: a single ``run.json`` write and no artifacts (a trial's
output is its metrics; the sweep keeps the files). When the workers are done, the sweep run gets
the best trial's value and parameters as metrics, the best trial's run id in its info, and
results.csv, best_params.json and sweep_report.html as artifacts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from qk.runs.store import RunError, RunStore

__all__ = [
    "SWEEP_ARTIFACTS",
    "WALKFORWARD_ARTIFACTS",
    "Tracking",
    "TrialRecorder",
    "finish_sweep",
    "start_sweep",
    "track_walkforward",
]

SWEEP_ARTIFACTS: Final = ("results.csv", "best_params.json", "sweep_report.html")
"""Output files of ``qk sweep`` copied into the sweep run (those that exist)."""
WALKFORWARD_ARTIFACTS: Final = ("folds.json", "oos_equity.csv")
"""Output files of ``qk walkforward`` copied into its run."""


@dataclass(frozen=True, slots=True)
class Tracking:
    """Where runs are recorded.

    Attributes:
        root: The run store root (``--runs``).
        mlflow_uri: Also mirror to this MLflow tracking URI (``--mlflow``); None: only when
            ``QK_MLFLOW_TRACKING_URI`` is set.
    """

    root: Path
    mlflow_uri: str | None = None

    def store(self) -> RunStore:
        """A store on :attr:`root` mirroring to :attr:`mlflow_uri`."""
        return RunStore(self.root, mlflow_uri=self.mlflow_uri)


class TrialRecorder:
    """Records the completed trials of one sweep as ``trial`` runs whose parent is the sweep.

    One recorder per worker process: it opens its store (and MLflow client) once, on the first
    trial. It crosses the process boundary as JSON (:meth:`to_json`, :meth:`from_json`).
    """

    def __init__(
        self,
        tracking: Tracking,
        sweep_run_id: str,
        data_fingerprint: str | None,
        config: Path | None,
    ) -> None:
        """Args:
        tracking: The run store (and MLflow URI) of the sweep run.
        sweep_run_id: The parent of every trial.
        data_fingerprint: The sweep's tape fingerprint (every trial runs on the same tape).
        config: The deployment descriptor.
        """
        self.tracking = tracking
        self.sweep_run_id = sweep_run_id
        self.data_fingerprint = data_fingerprint
        self.config = config
        self._store: RunStore | None = None

    def to_json(self) -> str:
        """The recorder as one JSON object (a worker's command-line argument)."""
        return json.dumps(
            {
                "runs": str(self.tracking.root),
                "mlflow_uri": self.tracking.mlflow_uri,
                "sweep_run_id": self.sweep_run_id,
                "data_fingerprint": self.data_fingerprint,
                "config": None if self.config is None else str(self.config),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TrialRecorder:
        """The recorder :meth:`to_json` wrote.

        Raises:
            RunError: not such a JSON object (names the missing or mistyped field).
        """
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise RunError(f"trial recorder: not JSON: {exc}") from None
        if not isinstance(values, dict):
            raise RunError("trial recorder: not a JSON object")
        fields = {"runs": False, "mlflow_uri": True, "sweep_run_id": False,
                  "data_fingerprint": True, "config": True}  # fmt: skip
        for name, optional in fields.items():
            value = values.get(name)
            if not isinstance(value, str) and not (optional and value is None):
                raise RunError(f"trial recorder: field {name!r} must be a string, not {value!r}")
        config = values["config"]
        return cls(
            Tracking(Path(values["runs"]), values["mlflow_uri"]),
            values["sweep_run_id"],
            values["data_fingerprint"],
            None if config is None else Path(config),
        )

    def record(
        self,
        number: int,
        params: Mapping[str, str],
        seed: int,
        metrics: Mapping[str, Any],
        info: Mapping[str, Any] | None = None,
    ) -> str:
        """Record one completed trial; returns its run id.

        Args:
            number: The Optuna trial number.
            params: The trial's strategy parameters (text values, as the strategy got them).
            seed: The trial's seed (an input: it drives a sampled latency).
            metrics: The trial's metrics.
            info: Other descriptive fields (worker, objective value...).
        """
        if self._store is None:
            self._store = self.tracking.store()
        return self._store.record_run(
            "trial",
            {"strategy": dict(params), "seed": seed},
            self.data_fingerprint,
            self.config,
            metrics=metrics,
            parent=self.sweep_run_id,
            info={"trial": number, **(info or {})},
        )


def start_sweep(
    tracking: Tracking,
    params: Mapping[str, Any],
    data_fingerprint: str | None,
    config: Path | None,
    info: Mapping[str, Any],
) -> tuple[RunStore, str]:
    """Start the ``sweep`` run; returns the store it is in and its id."""
    store = tracking.store()
    return store, store.start_run("sweep", params, data_fingerprint, config, info=info)


def finish_sweep(
    store: RunStore,
    run_id: str,
    out: Path,
    *,
    completed: int,
    pruned: int,
    best_trial: int | None,
    best_value: float | None,
    best_params: Mapping[str, str],
    best_trial_run: str | None,
) -> None:
    """Give the sweep run its results and outputs and end it as finished.

    Metrics: ``completed``, ``pruned`` and, when a trial completed, ``best_value``,
    ``best_trial`` and ``best_params`` (the best trial's parameters, as text). Info:
    ``best_trial_run_id``. Artifacts: those of :data:`SWEEP_ARTIFACTS` that exist in ``out``.
    """
    metrics: dict[str, Any] = {"completed": completed, "pruned": pruned}
    if best_trial is not None:
        metrics.update(best_value=best_value, best_trial=best_trial, best_params=dict(best_params))
    store.log_metrics(run_id, metrics)
    store.log_info(run_id, {"best_trial_run_id": best_trial_run})
    for name in SWEEP_ARTIFACTS:
        if (out / name).is_file():
            store.log_artifact(run_id, out / name)
    store.finish(run_id, "finished")


def track_walkforward(
    tracking: Tracking,
    out: Path,
    summary: Mapping[str, Any],
    params: Mapping[str, Any],
    data_fingerprint: str | None,
    config: Path | None,
) -> str:
    """Record a finished walk-forward analysis whose outputs are in ``out`` as a ``walkforward``
    run; returns its id.

    Args:
        tracking: The run store.
        out: The ``--out`` directory (folds.json, oos_equity.csv are copied).
        summary: What ``folds.json`` holds (``write_walkforward``'s return value).
        params: The inputs: search space, split scheme and spans, objective, data selection.
        data_fingerprint: ``sha256:...`` of the whole tape.
        config: The deployment descriptor.

    Metrics: ``stitched_return``, ``stitched_final_equity``, ``folds``, ``folds_traded`` (folds
    with an out-of-sample run) and ``oos_fills`` (their fills). Info: the objective, the capital
    and each fold's winner.
    """
    folds = list(summary.get("folds", []))
    traded = [f for f in folds if not f.get("skipped")]
    metrics = {
        "stitched_return": summary["stitched_return"],
        "stitched_final_equity": summary["stitched_final_equity"],
        "folds": len(folds),
        "folds_traded": len(traded),
        "oos_fills": sum(int((f.get("oos") or {}).get("fills") or 0) for f in traded),
    }
    info = {
        "objective": summary.get("objective"),
        "capital": summary.get("capital"),
        "winners": [{"fold": f.get("fold"), "params": f.get("best_params")} for f in folds],
    }
    store = tracking.store()
    run_id = store.start_run("walkforward", params, data_fingerprint, config, info=info)
    try:
        store.log_metrics(run_id, metrics)
        for name in WALKFORWARD_ARTIFACTS:
            if (out / name).is_file():
                store.log_artifact(run_id, out / name)
    except BaseException as exc:
        store.finish(run_id, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        raise
    store.finish(run_id, "finished")
    return run_id
