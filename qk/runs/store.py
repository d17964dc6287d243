"""The local run store: one directory per backtest, sweep or trial under ``runs/``.

::

    runs/<run id>/run.json          parameters, metrics, data fingerprint, code version, status...
    runs/<run id>/artifacts/...     files copied or written by the run

A run id is ``<UTC yyyymmddThhmmssZ>-<8 hex>``: ids sort by start time and never collide (the
directory is created exclusively). Everything that determines a run's results is also hashed into
``inputs_hash``, so two runs of the same inputs are recognisable although their ids differ.
``run.json`` is rewritten whole on every change: written to a temporary file named for the writing
process, flushed to disk, then renamed over the old one. A crash leaves the previous version, never
half a file, and a reader in another process (``qk runs ls`` during a sweep) sees one version or
the other. Each run directory has a single writer: the process that created the run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path, PurePath
from typing import Any, Final

import numpy as np

from qk.runs.mlflow_sink import MlflowSink, mlflow_sink
from qk.runs.provenance import code_version, environment, fingerprint_file, inputs_hash

__all__ = [
    "DEFAULT_RUNS",
    "RUN_KINDS",
    "RUN_SCHEMA_VERSION",
    "RUN_STATUSES",
    "RunError",
    "RunStore",
    "UnknownRunError",
    "jsonable",
]

DEFAULT_RUNS: Final = Path("runs")
"""Default run store root, relative to the working directory."""
RUN_SCHEMA_VERSION: Final = 1
"""Version of the ``run.json`` layout."""
RUN_KINDS: Final = ("backtest", "sweep", "trial", "walkforward")
"""What a run can be; a trial belongs to a sweep (its parent)."""
RUN_STATUSES: Final = ("running", "finished", "failed", "interrupted")
"""A run is ``running`` until :meth:`RunStore.finish` gives one of the others."""


class RunError(ValueError):
    """A run store operation that cannot be done (unknown kind, finished run, bad value)."""


class UnknownRunError(RunError, LookupError):
    """No run has that id (or the prefix is ambiguous)."""


def jsonable(value: Any, where: str = "value") -> Any:
    """A value as plain JSON: Decimal → exact string, Path → string, enums → name, numpy scalars →
    Python numbers, dates and times → ISO 8601 text, tuples → lists; mappings with string keys
    recursively.

    Raises:
        RunError: a value JSON cannot hold (names where it is).
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, np.generic):
        return jsonable(value.item(), where)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise RunError(f"{where}: key {key!r} is not a string")
            out[key] = jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise RunError(f"{where}: {type(value).__name__} {value!r} cannot be stored in run.json")


class RunStore:
    """Runs under one root directory (see the module doc)."""

    def __init__(self, root: Path | str = DEFAULT_RUNS, *, mlflow_uri: str | None = None) -> None:
        """Open the store at ``root`` (created on the first run).

        Args:
            root: the runs directory.
            mlflow_uri: also log to this MLflow tracking URI (default: ``QK_MLFLOW_TRACKING_URI``
                if set); only when mlflow is installed, see :mod:`qk.runs.mlflow_sink`.
        """
        self.root = Path(root)
        self._mlflow_uri = mlflow_uri
        self._sink: MlflowSink | None = None
        self._sink_note: str | None = None
        self._sink_ready = False

    # -- paths and files --------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        """``<root>/<run id>``."""
        return self.root / run_id

    def _write(self, record: dict[str, Any]) -> None:
        path = self.run_dir(record["run_id"]) / "run.json"
        # A temporary name of this process's own: even two writers of one run (which the store
        # does not do) could not rename each other's half-written file into place.
        tmp = path.with_name(f".run.json.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        data = (json.dumps(record, indent=2, sort_keys=False) + "\n").encode("utf-8")
        try:
            with tmp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                # On disk before the rename: after a power loss run.json is old or new, not empty.
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _sink_for_new_run(self) -> tuple[MlflowSink | None, str | None]:
        if not self._sink_ready:
            self._sink_ready = True
            try:
                self._sink, self._sink_note = mlflow_sink(self._mlflow_uri)
            except Exception as exc:
                # As for every MLflow call: an unreachable server costs the mirror, not the run.
                self._sink, self._sink_note = None, f"mlflow setup failed, sink disabled: {exc}"
        return self._sink, self._sink_note

    def _mirror(self, record: dict[str, Any], action: str, call: Any) -> None:
        # The local store is the record: a failing MLflow server costs the mirror, not the run.
        try:
            call()
        except Exception as exc:
            self._sink = None
            record.setdefault("notes", []).append(f"mlflow {action} failed, sink disabled: {exc}")

    # -- life cycle -------------------------------------------------------------------------------

    def start_run(
        self,
        kind: str,
        params: Mapping[str, Any],
        data_fingerprint: str | None,
        config_path: Path | str | None = None,
        *,
        parent: str | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> str:
        """Create a run and return its id.

        Args:
            kind: one of :data:`RUN_KINDS`.
            params: the parameters (JSON-able; Decimals are kept as exact strings).
            data_fingerprint: ``sha256:...`` of the input data (see :mod:`qk.runs.provenance`).
            config_path: the deployment descriptor or sweep file; its bytes are fingerprinted.
            parent: the sweep a trial belongs to.
            info: other descriptive fields (strategy, instruments...), not compared as inputs.

        Raises:
            RunError: unknown kind, a trial without a parent, a parent that does not exist,
                or params that JSON cannot hold.
        """
        record = self._new_record(kind, params, data_fingerprint, config_path, parent, info)
        self._write(record)
        return str(record["run_id"])

    def record_run(
        self,
        kind: str,
        params: Mapping[str, Any],
        data_fingerprint: str | None,
        config_path: Path | str | None = None,
        *,
        metrics: Mapping[str, Any],
        parent: str | None = None,
        info: Mapping[str, Any] | None = None,
        status: str = "finished",
    ) -> str:
        """Create a run that has already ended, with its metrics, in one write; return its id.

        For many small runs (a sweep's trials): one ``run.json`` write instead of three, and no
        ``running`` run is ever left behind by a process that dies. Arguments as for
        :meth:`start_run`, plus the metrics and the end status.

        Raises:
            RunError: as :meth:`start_run`, a metric JSON cannot hold, or a bad end status.
        """
        if status not in RUN_STATUSES or status == "running":
            raise RunError(f"a run ends as finished, failed or interrupted, not {status!r}")
        plain_metrics = jsonable(dict(metrics), "metrics")
        record = self._new_record(kind, params, data_fingerprint, config_path, parent, info)
        record["metrics"] = plain_metrics
        record["status"] = status
        record["finished_utc"] = datetime.now(tz=UTC).isoformat()
        sink = self._sink
        if sink is not None and record.get("mlflow_run_id"):
            mlflow_id = record["mlflow_run_id"]

            def mirror() -> None:
                sink.log_metrics(mlflow_id, plain_metrics)
                sink.finish(mlflow_id, status)

            self._mirror(record, "record", mirror)
        self._write(record)
        return str(record["run_id"])

    def _new_record(
        self,
        kind: str,
        params: Mapping[str, Any],
        data_fingerprint: str | None,
        config_path: Path | str | None,
        parent: str | None,
        info: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        if kind not in RUN_KINDS:
            raise RunError(f"run kind {kind!r} is not one of {', '.join(RUN_KINDS)}")
        if kind == "trial" and parent is None:
            raise RunError("a trial needs its sweep's run id as parent")
        parent_record = self.get(parent) if parent is not None else None
        plain_params = jsonable(dict(params), "params")
        plain_info = jsonable(dict(info or {}), "info")
        config = None
        if config_path is not None:
            config = {"path": str(config_path), "sha256": fingerprint_file(config_path)}
        code = code_version()
        created_ns = time.time_ns()
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            stamp = datetime.fromtimestamp(created_ns / 1e9, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
            run_id = f"{stamp}-{secrets.token_hex(4)}"
            try:
                (self.root / run_id).mkdir()
                break
            except FileExistsError:
                continue
        record: dict[str, Any] = {
            "run_schema_version": RUN_SCHEMA_VERSION,
            "run_id": run_id,
            "kind": kind,
            "status": "running",
            "parent_run_id": parent_record["run_id"] if parent_record else None,
            "created_ns": created_ns,
            "created_utc": datetime.fromtimestamp(created_ns / 1e9, tz=UTC).isoformat(),
            "finished_utc": None,
            "params": plain_params,
            "metrics": {},
            "info": plain_info,
            "data_fingerprint": data_fingerprint,
            "config": config,
            "code_version": code,
            "environment": environment(),
            "inputs_hash": inputs_hash(
                kind,
                plain_params,
                data_fingerprint,
                config["sha256"] if config else None,
                code["git_commit"] or code["package_version"],
            ),
            "artifacts": [],
            "notes": [],
            "mlflow_run_id": None,
        }
        sink, note = self._sink_for_new_run()
        if note:
            record["notes"].append(note)
        if sink is not None:
            parent_mlflow = parent_record.get("mlflow_run_id") if parent_record else None

            def start() -> None:
                record["mlflow_run_id"] = sink.start(run_id, kind, plain_params, parent_mlflow)

            self._mirror(record, "start", start)
        return record

    def _running(self, run_id: str) -> dict[str, Any]:
        record = self.get(run_id)
        if record["status"] != "running":
            raise RunError(f"run {run_id} is {record['status']}; it takes no more changes")
        return record

    def log_metrics(self, run_id: str, metrics: Mapping[str, Any]) -> None:
        """Add or replace metrics of a running run (numbers, or exact decimal strings).

        Raises:
            UnknownRunError, RunError: no such run, a finished run, or a value JSON cannot hold.
        """
        record = self._running(run_id)
        record["metrics"].update(jsonable(dict(metrics), "metrics"))
        sink = self._sink
        if sink is not None and record.get("mlflow_run_id"):
            self._mirror(
                record, "log_metrics", lambda: sink.log_metrics(record["mlflow_run_id"], metrics)
            )
        self._write(record)

    def log_info(self, run_id: str, info: Mapping[str, Any]) -> None:
        """Add or replace descriptive fields of a running run (learnt while it runs, e.g. the
        run id of a sweep's best trial).

        Raises:
            UnknownRunError, RunError: no such run, a finished run, or a value JSON cannot hold.
        """
        record = self._running(run_id)
        record["info"].update(jsonable(dict(info), "info"))
        self._write(record)

    def _add_artifact(self, record: dict[str, Any], target: Path) -> None:
        entry = {
            "name": target.relative_to(self.run_dir(record["run_id"]) / "artifacts").as_posix(),
            "bytes": target.stat().st_size,
            "sha256": fingerprint_file(target).removeprefix("sha256:"),
        }
        record["artifacts"] = [a for a in record["artifacts"] if a["name"] != entry["name"]]
        record["artifacts"].append(entry)
        sink = self._sink
        if sink is not None and record.get("mlflow_run_id"):
            self._mirror(
                record, "log_artifact", lambda: sink.log_artifact(record["mlflow_run_id"], target)
            )
        self._write(record)

    def _artifact_path(self, run_id: str, name: str) -> Path:
        relative = PurePath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise RunError(f"artifact name {name!r} must be a relative path inside the run")
        path = self.run_dir(run_id) / "artifacts" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def log_artifact(self, run_id: str, path: Path | str, name: str | None = None) -> Path:
        """Copy a file into the run's ``artifacts/`` (as ``name``, default its file name).

        Raises:
            OSError: the file cannot be read.
            UnknownRunError, RunError: no such run, or a finished one.
        """
        record = self._running(run_id)
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"artifact {source} is not a file")
        target = self._artifact_path(run_id, name or source.name)
        shutil.copyfile(source, target)
        self._add_artifact(record, target)
        return target

    def write_artifact(self, run_id: str, name: str, data: bytes | str) -> Path:
        """Write bytes or text as an artifact of a running run."""
        record = self._running(run_id)
        target = self._artifact_path(run_id, name)
        if isinstance(data, str):
            target.write_text(data, encoding="utf-8")
        else:
            target.write_bytes(data)
        self._add_artifact(record, target)
        return target

    def finish(self, run_id: str, status: str = "finished") -> None:
        """End a run with ``finished``, ``failed`` or ``interrupted``.

        Raises:
            RunError: another status, or the run already ended.
        """
        if status not in RUN_STATUSES or status == "running":
            raise RunError(f"a run ends as finished, failed or interrupted, not {status!r}")
        record = self._running(run_id)
        record["status"] = status
        record["finished_utc"] = datetime.now(tz=UTC).isoformat()
        sink = self._sink
        if sink is not None and record.get("mlflow_run_id"):
            self._mirror(record, "finish", lambda: sink.finish(record["mlflow_run_id"], status))
        self._write(record)

    # -- reading ----------------------------------------------------------------------------------

    def resolve(self, run_id: str) -> str:
        """The full id of a run given its id or a unique prefix.

        Raises:
            UnknownRunError: none or several runs match.
        """
        if (self.root / run_id / "run.json").is_file():
            return run_id
        matches = sorted(
            p.name for p in self.root.glob(f"{run_id}*") if (p / "run.json").is_file()
        ) if self.root.is_dir() and run_id and "/" not in run_id else []  # fmt: skip
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownRunError(f"no run {run_id!r} in {self.root}")
        raise UnknownRunError(
            f"{run_id!r} matches {len(matches)} runs in {self.root}: {', '.join(matches[:5])}"
        )

    def get(self, run_id: str) -> dict[str, Any]:
        """The ``run.json`` of a run (id or unique prefix).

        Raises:
            UnknownRunError: no such run.
            RunError: an unreadable run.json.
        """
        path = self.root / self.resolve(run_id) / "run.json"
        try:
            record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunError(f"{path}: unreadable: {exc}") from None
        return record

    def list(self, *, kind: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Runs newest first, optionally of one kind and at most ``limit`` of them."""
        if not self.root.is_dir():
            return []
        records = []
        for directory in self.root.iterdir():
            if (directory / "run.json").is_file():
                record = self.get(directory.name)
                if kind is None or record.get("kind") == kind:
                    records.append(record)
        records.sort(key=lambda r: (r.get("created_ns", 0), r["run_id"]), reverse=True)
        return records[:limit] if limit is not None else records
