"""Experiment tracking: every backtest, sweep and trial as a run under ``runs/``.

See ``docs/experiments.md``. Typical use::

    from qk.runs import RunStore, fingerprint_array

    store = RunStore("runs")
    run_id = store.start_run("backtest", {"fast": 12}, fingerprint_array(trades), "configs/x.toml")
    store.log_metrics(run_id, {"sharpe": "1.42"})
    store.log_artifact(run_id, "out/bt/report.html")
    store.finish(run_id)
"""

from __future__ import annotations

from qk.runs.compare import ComparisonRow, compare_runs, format_comparison
from qk.runs.mlflow_sink import ENV_TRACKING_URI, MlflowSink, mlflow_sink
from qk.runs.provenance import (
    code_version,
    environment,
    fingerprint_array,
    fingerprint_bytes,
    fingerprint_file,
    inputs_hash,
)
from qk.runs.research import (
    SWEEP_ARTIFACTS,
    WALKFORWARD_ARTIFACTS,
    Tracking,
    TrialRecorder,
    finish_sweep,
    start_sweep,
    track_walkforward,
)
from qk.runs.store import (
    DEFAULT_RUNS,
    RUN_KINDS,
    RUN_SCHEMA_VERSION,
    RUN_STATUSES,
    RunError,
    RunStore,
    UnknownRunError,
)
from qk.runs.tracking import track_backtest

__all__ = [
    "DEFAULT_RUNS",
    "ENV_TRACKING_URI",
    "RUN_KINDS",
    "RUN_SCHEMA_VERSION",
    "RUN_STATUSES",
    "SWEEP_ARTIFACTS",
    "WALKFORWARD_ARTIFACTS",
    "ComparisonRow",
    "MlflowSink",
    "RunError",
    "RunStore",
    "Tracking",
    "TrialRecorder",
    "UnknownRunError",
    "code_version",
    "compare_runs",
    "environment",
    "fingerprint_array",
    "fingerprint_bytes",
    "fingerprint_file",
    "finish_sweep",
    "format_comparison",
    "inputs_hash",
    "mlflow_sink",
    "start_sweep",
    "track_backtest",
    "track_walkforward",
]
