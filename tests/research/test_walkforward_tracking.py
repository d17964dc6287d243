"""``qk walkforward`` records a ``walkforward`` run: inputs, stitched results, folds.json and
oos_equity.csv."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from qk.backtest.cli import load_trades
from qk.research.cli import register
from qk.runs import WALKFORWARD_ARTIFACTS, RunStore, fingerprint_array
from qk.strategy import load_descriptor

from .conftest import descriptor_text


@pytest.fixture(autouse=True)
def _no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QK_MLFLOW_TRACKING_URI", raising=False)


def _walkforward(tmp_path: Path, *extra: str) -> tuple[Path, int]:
    config = tmp_path / "momentum.toml"
    config.write_text(descriptor_text())
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["walkforward", "--config", str(config), "--param", "fast=2:3", "--param", "slow=6",
         "--synthetic", "4000", "--data-seed", "3", "--scheme", "rolling", "--train", "60s",
         "--test", "40s", "--purge", "2s", "--out", str(tmp_path / "wf"), *extra]
    )  # fmt: skip
    code: int = args.func(args)
    return config, code


def test_a_walk_forward_is_a_run_with_its_folds_and_curve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    config, code = _walkforward(tmp_path, "--runs", str(runs))
    assert code == 0
    printed = capsys.readouterr().out
    (record,) = RunStore(runs).list()
    assert re.search(rf"^run: {record['run_id']}$", printed, re.MULTILINE)
    assert record["kind"] == "walkforward" and record["status"] == "finished"
    folds = json.loads((tmp_path / "wf" / "folds.json").read_text())
    traded = [f for f in folds["folds"] if not f["skipped"]]
    assert traded
    assert record["metrics"] == {
        "stitched_return": folds["stitched_return"],
        "stitched_final_equity": folds["stitched_final_equity"],
        "folds": len(folds["folds"]),
        "folds_traded": len(traded),
        "oos_fills": sum(f["oos"]["fills"] for f in traded),
    }
    assert record["params"] == {
        "space": {"fast": "2:3", "slow": "6"}, "scheme": "rolling", "train": "60s",
        "test": "40s", "step": None, "folds": 0, "purge": "2s", "embargo": "0s",
        "objective": "sharpe", "max_candidates": 1000, "seed": 0,
        "data": {"synthetic": 4000, "seed": 3},
    }  # fmt: skip
    assert record["info"]["winners"] == [
        {"fold": f["fold"], "params": f["best_params"]} for f in folds["folds"]
    ]
    trades = load_trades(load_descriptor(config), None, count=4000, seed=3)
    assert record["data_fingerprint"] == fingerprint_array(trades)
    assert [a["name"] for a in record["artifacts"]] == list(WALKFORWARD_ARTIFACTS)
    for name in WALKFORWARD_ARTIFACTS:
        copy = RunStore(runs).run_dir(record["run_id"]) / "artifacts" / name
        assert copy.read_bytes() == (tmp_path / "wf" / name).read_bytes()


def test_no_track_records_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _, code = _walkforward(tmp_path, "--runs", str(runs), "--no-track")
    assert code == 0
    assert (tmp_path / "wf" / "folds.json").is_file()
    assert not runs.exists()
