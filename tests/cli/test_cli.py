"""The ``qk`` command line end to end: the demo session, and the WAL and ring tools on its output."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from qk.cli.main import main


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--records", "20000", "--seed", "3"]) == 0
    return out


def test_demo_replays_byte_identical_and_reports(demo_dir: Path) -> None:
    report = orjson.loads((demo_dir / "report.json").read_bytes())
    assert report["records"] == 20000
    assert report["replay_matches"] is True
    assert report["wal_durable_seq"] == 20000
    assert float(report["low"]) <= float(report["vwap"]) <= float(report["high"])


def test_demo_is_deterministic_for_a_seed(demo_dir: Path, tmp_path: Path) -> None:
    assert main(["demo", "--out", str(tmp_path), "--records", "20000", "--seed", "3"]) == 0
    first = orjson.loads((demo_dir / "report.json").read_bytes())
    second = orjson.loads((tmp_path / "report.json").read_bytes())
    for key in (
        "open",
        "high",
        "low",
        "close",
        "vwap",
        "volume",
        "first_ts_event",
        "last_ts_event",
    ):
        assert first[key] == second[key], key


def test_wal_verify_and_dump_read_the_demo_log(
    demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["wal", "verify", str(demo_dir / "wal")]) == 0
    assert "20,000 frames, CRC32C verified" in capsys.readouterr().out
    assert main(["wal", "dump", str(demo_dir / "wal"), "--start-seq", "100", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("seq        100") and "TRADE_EVENT" in lines[0]


def test_wal_verify_flags_a_torn_tail_and_recover_quarantines_it(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    wal = tmp_path / "wal"
    shutil.copytree(demo_dir / "wal", wal)
    segment = sorted(wal.glob("*.wal"))[-1]
    data = bytearray(segment.read_bytes())
    # The last frame ends where the zeros begin; flip a byte inside it (a torn write).
    end = len(data.rstrip(b"\0"))
    data[end - 5] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert main(["wal", "verify", str(wal)]) == 1
    assert "TORN TAIL" in capsys.readouterr().out
    assert main(["wal", "recover", str(wal)]) == 0
    out = capsys.readouterr().out
    assert "last seq 19,999" in out and "dropped" in out and "quarantine" in out
    assert main(["wal", "verify", str(wal)]) == 0


def test_rings_commands_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rings", "ls"]) == 0
    assert main(["rings", "cleanup"]) == 0
    capsys.readouterr()


def test_schemas_and_instruments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas"]) == 0
    assert "TRADE_EVENT" in capsys.readouterr().out
    root = Path(__file__).resolve().parents[2]
    assert main(["instruments", "ls", "--file", str(root / "configs" / "instruments.toml")]) == 0
    assert "BTCUSDT" in capsys.readouterr().out


def test_missing_wal_directory_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["wal", "verify", str(tmp_path / "nope")]) == 2
    assert "qk: error:" in capsys.readouterr().err


def test_new_strategy_writes_skeleton_descriptor_and_test_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "strategy", "mean_reversion", "--root", str(tmp_path)]) == 0
    for rel in (
        "strategies/mean_reversion.py",
        "configs/mean_reversion_sim.toml",
        "tests/strategies/test_mean_reversion.py",
    ):
        assert (tmp_path / rel).is_file(), rel
    assert "class MeanReversion" in (tmp_path / "strategies/mean_reversion.py").read_text()
    assert main(["new", "strategy", "mean_reversion", "--root", str(tmp_path)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["new", "strategy", "Bad-Name", "--root", str(tmp_path)]) == 2
