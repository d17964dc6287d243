"""qk.logs: JSON lines with process, pid, level, ISO timestamp and bound context ids."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import structlog

from qk.logs import bind_strategy, clear_context, configure_logging, correlation

from .conftest import PYTHON


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    yield
    clear_context()
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_line_is_json_with_process_pid_level_and_utc_timestamp() -> None:
    stream = io.StringIO()
    configure_logging("feed:binance", stream=stream)
    structlog.get_logger("qk.feed").info("connected", url="wss://example.invalid", attempt=2)
    [line] = lines(stream)
    assert line["event"] == "connected"
    assert line["process"] == "feed:binance"
    assert line["pid"] == os.getpid()
    assert line["level"] == "info"
    assert line["attempt"] == 2
    stamp = datetime.fromisoformat(str(line["timestamp"]))
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0


def test_correlation_id_is_bound_only_while_one_record_is_handled() -> None:
    stream = io.StringIO()
    configure_logging("strategy:momentum", stream=stream)
    bind_strategy(7)
    log = structlog.get_logger()
    log.info("started")
    with correlation(123456789):
        log.info("intent", side="buy")
        with correlation(5):
            log.warning("nested")
        log.info("after nested")
    log.info("idle")
    found = lines(stream)
    assert [line.get("correlation_id") for line in found] == [None, 123456789, 5, 123456789, None]
    assert all(line["strategy_id"] == 7 for line in found)
    assert found[2]["level"] == "warning"


def test_level_filters_lower_events_and_bad_levels_are_refused() -> None:
    stream = io.StringIO()
    configure_logging("risk", level="warning", stream=stream)
    log = structlog.get_logger()
    log.info("quiet")
    log.error("loud", code=3)
    assert [line["event"] for line in lines(stream)] == ["loud"]
    with pytest.raises(ValueError, match="unknown log level 'verbose'"):
        configure_logging("risk", level="verbose")
    with pytest.raises(ValueError, match="process name"):
        configure_logging("")


def test_values_json_cannot_encode_are_written_as_text() -> None:
    stream = io.StringIO()
    configure_logging("wal", stream=stream)
    structlog.get_logger().info("segment", path=Path("/var/qk/wal"), ratio=0.5)
    [line] = lines(stream)
    assert line["path"] == "/var/qk/wal"
    assert line["ratio"] == 0.5


def test_exceptions_are_rendered_into_the_line() -> None:
    stream = io.StringIO()
    configure_logging("oms", stream=stream)
    try:
        raise RuntimeError("venue said no")
    except RuntimeError:
        structlog.get_logger().exception("submit failed")
    [line] = lines(stream)
    assert line["level"] == "error"
    assert "RuntimeError: venue said no" in str(line["exception"])


def test_console_mode_writes_readable_lines_with_the_process() -> None:
    stream = io.StringIO()
    configure_logging("supervisor", json=False, stream=stream)
    structlog.get_logger().info("spawned", child="risk")
    text = stream.getvalue()
    assert "spawned" in text and "child=risk" in text and "process=supervisor" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_a_child_process_logs_its_own_pid() -> None:
    script = (
        "import structlog; from qk.logs import configure_logging; import sys;"
        "configure_logging('gateway:sim', stream=sys.stdout);"
        "structlog.get_logger().info('hello')"
    )
    done = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, check=True)
    line = json.loads(done.stdout)
    assert line["process"] == "gateway:sim"
    assert line["pid"] != os.getpid()
    assert line["event"] == "hello"
