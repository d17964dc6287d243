"""Errors of the research data store and its importers."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "DataFileError", "StoreError"]


class DataError(ValueError):
    """Base class of every data-store error (a ValueError: ``qk`` prints it as one line)."""


class DataFileError(DataError):
    """An input file that cannot be imported, naming the file and, where known, row and column.

    Attributes:
        path: The file.
        row: 1-based data row (the header line is not counted), or None for a whole-file problem.
        column: Column name, or None.
    """

    def __init__(
        self,
        path: Path | str,
        problem: str,
        *,
        row: int | None = None,
        column: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.row = row
        self.column = column
        where = str(self.path)
        if row is not None:
            where += f": row {row}" + (f" (line {line})" if line is not None else "")
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")


class StoreError(DataError):
    """The store on disk does not match what is asked: schema version, precision, layout."""
