"""``qk runs ls|show|compare`` and the comparison table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from qk.runs import RunError, RunStore, compare_runs, format_comparison
from qk.runs.cli import register


@pytest.fixture(autouse=True)
def _no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QK_MLFLOW_TRACKING_URI", raising=False)


def _two_runs(root: Path) -> tuple[RunStore, str, str]:
    store = RunStore(root)
    a = store.start_run("backtest", {"fast": 12, "slow": 26}, "sha256:aa")
    store.log_metrics(a, {"sharpe": "1.5", "fills": 6})
    store.finish(a)
    b = store.start_run("backtest", {"fast": 10, "slow": 26}, "sha256:aa")
    store.log_metrics(b, {"sharpe": "0.9", "fills": 6, "turnover": "2.1"})
    store.finish(b)
    return store, a, b


def test_compare_marks_exactly_the_differing_fields(tmp_path: Path) -> None:
    store, a, b = _two_runs(tmp_path)
    rows = {row.name: row for row in compare_runs([store.get(a), store.get(b)])}
    assert rows["param.fast"].values == ("12", "10") and rows["param.fast"].differs
    assert not rows["param.slow"].differs
    assert rows["metric.sharpe"].differs and not rows["metric.fills"].differs
    assert rows["metric.turnover"].values == ("-", "2.1") and rows["metric.turnover"].differs
    assert not rows["created"].differs and not rows["data"].differs
    assert rows["inputs hash"].differs
    text = format_comparison([store.get(a), store.get(b)])
    marked = sorted(line.split()[1] for line in text.splitlines() if line.startswith("* "))
    assert marked == ["inputs", "metric.sharpe", "metric.turnover", "param.fast"]
    assert text.splitlines()[-1] == f"4 of {len(rows)} field(s) differ (marked *)"


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


def test_cli_ls_show_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, a, b = _two_runs(tmp_path)
    assert _run("runs", "ls", "--runs", str(tmp_path)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == [b, a]
    assert lines[2].split()[1:3] == ["backtest", "finished"]
    assert _run("runs", "show", a[:-2], "--runs", str(tmp_path)) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == a
    assert _run("runs", "compare", a, b, "--runs", str(tmp_path)) == 0
    assert "* param.fast" in capsys.readouterr().out
    with pytest.raises(RunError, match="compare needs at least two run ids"):
        _run("runs", "compare", a, "--runs", str(tmp_path))
    assert _run("runs", "ls", "--kind", "sweep", "--runs", str(tmp_path)) == 0
    assert "no runs of kind sweep" in capsys.readouterr().out
