"""``qk runs compare``: runs side by side, one row per field, differences marked."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ComparisonRow", "compare_runs", "format_comparison"]

_MISSING = "-"


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One compared field: its name, its value in each run, and whether they differ."""

    name: str
    values: tuple[str, ...]
    differs: bool


def _text(value: Any) -> str:
    if value is None:
        return _MISSING
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _flatten(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _fields(record: Mapping[str, Any]) -> dict[str, Any]:
    code = record.get("code_version") or {}
    config = record.get("config") or {}
    fields: dict[str, Any] = {
        "kind": record.get("kind"),
        "status": record.get("status"),
        "parent": record.get("parent_run_id"),
        "created": record.get("created_utc"),
        "code": code.get("git_describe") or code.get("package_version"),
        "config": config.get("path"),
        "config sha256": config.get("sha256"),
        "data": record.get("data_fingerprint"),
        "inputs hash": record.get("inputs_hash"),
    }
    fields.update(_flatten(record.get("params") or {}, "param."))
    fields.update(_flatten(record.get("metrics") or {}, "metric."))
    return fields


def compare_runs(records: Sequence[Mapping[str, Any]]) -> list[ComparisonRow]:
    """Rows of every field any of the runs has (descriptive fields, then params, then metrics);
    ``differs`` is set when the runs' values are not all equal (``created`` never counts)."""
    per_run = [_fields(record) for record in records]
    names: list[str] = []
    for fields in per_run:
        names.extend(name for name in fields if name not in names)
    rows = []
    for name in names:
        values = tuple(_text(fields.get(name)) for fields in per_run)
        differs = name != "created" and len(set(values)) > 1
        rows.append(ComparisonRow(name, values, differs))
    return rows


def format_comparison(records: Sequence[Mapping[str, Any]], *, width: int = 28) -> str:
    """The comparison as text: a header of run ids, then ``* name  value  value ...`` per row,
    ``*`` marking rows whose values differ; a closing line counts them."""
    rows = compare_runs(records)
    label = max([len(r.name) for r in rows] + [5])

    def cell(text: str) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = [
        "  "
        + "run".ljust(label)
        + "  "
        + "  ".join(cell(r["run_id"]).ljust(width) for r in records)
    ]
    for row in rows:
        mark = "* " if row.differs else "  "
        lines.append(
            mark
            + row.name.ljust(label)
            + "  "
            + "  ".join(cell(v).ljust(width) for v in row.values)
        )
    differing = sum(row.differs for row in rows)
    lines.append(f"{differing} of {len(rows)} field(s) differ (marked *)")
    return "\n".join(line.rstrip() for line in lines)
