"""Structured logs for every QuantKubera process (structlog, one JSON object per line).

Call :func:`configure_logging` once at process start. Every event then carries ``timestamp`` (ISO
8601, UTC, from the wall clock: logs are for people, records never take wall time from here),
``level``, ``event``, ``process`` and ``pid``, plus whatever is bound in the current context:
``strategy_id`` (:func:`bind_strategy`) and ``correlation_id`` (:func:`correlation`, around the
handling of one record, so every line written while handling it names the tick that caused it).
Context is kept in :mod:`contextvars`, so it follows asyncio tasks and never leaks across threads.
Values of credential-named fields (api_key, secret, signature, passphrase...) and ``name=value``
pairs of them inside strings are blanked before a line is written (:func:`redact_secrets`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import orjson
import structlog

LEVELS = ("debug", "info", "warning", "error", "critical")
"""The accepted ``level`` names."""


def _serialise(event: Any, **_: Any) -> str:
    # str() for anything orjson cannot encode (paths, enums of other libraries): a log line must
    # never fail to be written.
    return orjson.dumps(event, default=str).decode()


def configure_logging(
    process: str,
    *,
    json: bool = True,
    level: str = "info",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog for this process.

    Args:
        process: the process's name (``feed:binance``, ``strategy:momentum``, ``supervisor``...).
        json: one JSON object per line (default); False for aligned key=value lines for a terminal.
        level: the lowest level written, one of :data:`LEVELS`.
        stream: where lines go (default ``sys.stderr``).

    Raises:
        ValueError: an empty process name or an unknown level.
    """
    if not process:
        raise ValueError("configure_logging: process name must not be empty")
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")
    output = stream if stream is not None else sys.stderr

    def add_process(
        _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event.setdefault("process", process)
        # Read at every event: a forked child must not log its parent's pid.
        event.setdefault("pid", os.getpid())
        return event

    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_serialise)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_process,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=output),
        cache_logger_on_first_use=False,
    )


def bind_strategy(strategy_id: int | str) -> None:
    """Bind ``strategy_id`` for the rest of this context (a strategy process binds it once)."""
    structlog.contextvars.bind_contextvars(strategy_id=strategy_id)


@contextmanager
def correlation(correlation_id: int) -> Iterator[None]:
    """Bind ``correlation_id`` for the handling of one record; the previous binding comes back after.

    ``with correlation(record["corr_id"]): ...``
    """
    with structlog.contextvars.bound_contextvars(correlation_id=int(correlation_id)):
        yield


def clear_context() -> None:
    """Drop every context binding (strategy id, correlation id) of this context."""
    structlog.contextvars.clear_contextvars()


# -- redaction: credentials never reach a log line ------------------------------------------

REDACTED = "[redacted]"
"""What a blanked value is replaced with."""

# Names are matched after dropping separators and case: api_key, apiKey, API-KEY, x-mbx-apikey.
_SECRET_NAME = re.compile(r"apikey|secret|signature|passphrase|password|passwd|token|credential")
_PAIR = re.compile(
    r"(?P<name>[A-Za-z0-9_.-]*(?:api[_-]?key|secret|signature|passphrase|password|token)"
    r"[A-Za-z0-9_.-]*)(?P<sep>\s*[=:]\s*)(?P<value>[^&\s,;\"']+)",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a field named ``name`` carries a credential."""
    return bool(_SECRET_NAME.search(re.sub(r"[\s_.-]", "", name).lower()))


def redact_text(text: str) -> str:
    """``text`` with the value of every ``secret_name=value`` (or ``: value``) pair blanked."""
    return _PAIR.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and is_secret_name(k) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact(item) for item in value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: blank credential values in ``event`` (see the module docstring)."""
    for name in list(event):
        event[name] = REDACTED if is_secret_name(name) else _redact(event[name])
    return event
