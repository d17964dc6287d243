"""Optional MLflow logging of runs (``pip install 'quantkubera[mlflow]'``).

The local run store is always the record. MLflow is used only when the user asks for it (a
tracking URI from ``--mlflow URI`` or the environment variable ``QK_MLFLOW_TRACKING_URI``) *and*
``import mlflow`` succeeds; mlflow is imported only then. It is driven through
``mlflow.tracking.MlflowClient`` (not the module-level "active run"), so a sweep and its trials can
be open at the same time. A failing MLflow server disables the sink with a note in ``run.json``;
it never fails the run.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

__all__ = ["ENV_TRACKING_URI", "EXPERIMENT", "MlflowSink", "mlflow_sink"]

ENV_TRACKING_URI: Final = "QK_MLFLOW_TRACKING_URI"
"""Environment variable that asks for MLflow logging (its value is the tracking URI)."""
EXPERIMENT: Final = "quantkubera"
"""MLflow experiment the runs go to."""

_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str | Decimal):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return float(number) if number.is_finite() else None
    return None


class MlflowSink:
    """Mirrors runs of a :class:`~qk.runs.RunStore` into an MLflow tracking server."""

    def __init__(self, tracking_uri: str, client: Any, experiment_id: str) -> None:
        """Use :func:`mlflow_sink`; this takes an already created ``MlflowClient``."""
        self.tracking_uri = tracking_uri
        self._client = client
        self._experiment_id = experiment_id

    def start(
        self, run_id: str, kind: str, params: Mapping[str, Any], parent_mlflow_id: str | None
    ) -> str:
        """Create the MLflow run; returns its MLflow run id."""
        tags = {"mlflow.runName": run_id, "qk.run_id": run_id, "qk.kind": kind}
        if parent_mlflow_id:
            tags["mlflow.parentRunId"] = parent_mlflow_id
        run = self._client.create_run(self._experiment_id, tags=tags)
        mlflow_id: str = run.info.run_id
        for key, value in _flatten(params).items():
            self._client.log_param(mlflow_id, key, value)
        return mlflow_id

    def log_metrics(self, mlflow_id: str, metrics: Mapping[str, Any]) -> None:
        """Log the numeric metrics (MLflow metrics are floats; others are skipped). Nested
        mappings (a sweep's ``best_params``) are logged flattened, ``best_params.fast``."""
        for key, value in _flatten_values(metrics).items():
            number = _number(value)
            if number is not None:
                self._client.log_metric(mlflow_id, key, number)

    def log_artifact(self, mlflow_id: str, path: Path) -> None:
        """Upload one artifact file."""
        self._client.log_artifact(mlflow_id, str(path))

    def finish(self, mlflow_id: str, status: str) -> None:
        """Mark the MLflow run terminated with the matching status."""
        self._client.set_terminated(mlflow_id, status=_STATUS.get(status, "FAILED"))


def _flatten_values(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten_values(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _flatten(params: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in _flatten_values(params).items()}


def mlflow_sink(tracking_uri: str | None = None) -> tuple[MlflowSink | None, str | None]:
    """The sink if asked for and importable, else None, with a note saying why not when asked.

    Args:
        tracking_uri: the URI asked for explicitly; without it ``QK_MLFLOW_TRACKING_URI`` is read.

    Returns:
        (sink or None, note or None).
    """
    uri = tracking_uri or os.environ.get(ENV_TRACKING_URI)
    if not uri:
        return None, None
    try:
        tracking = importlib.import_module("mlflow.tracking")
    except ImportError:
        return None, (
            f"MLflow logging to {uri} was asked for but mlflow is not installed "
            "(pip install 'quantkubera[mlflow]'); the run is in the local store only"
        )
    client = tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    return MlflowSink(uri, client, str(experiment_id)), None
