"""``qk sweep`` and ``qk walkforward`` through their argparse registration."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from qk.research import ResearchError, ResearchErrorReason
from qk.research.cli import register

from .conftest import descriptor_text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "momentum.toml"
    path.write_text(descriptor_text())
    return path


def test_sweep_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    args = _parser().parse_args(
        ["sweep", "--config", str(_config(tmp_path)), "--param", "fast=2:3", "--param",
         "slow=5,8", "--sampler", "grid", "--jobs", "1", "--synthetic", "3000", "--out", str(out),
         "--no-progress", "--objective", "total_return", "--runs", str(tmp_path / "runs")]
    )  # fmt: skip
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "best trial" in printed and "total_return" in printed
    best = json.loads((out / "best_params.json").read_text())
    assert best["objective"] == "total_return"
    assert set(best["params"]) == {"fast", "slow"}
    assert (out / "study.db").exists() and (out / "sweep_report.html").exists()


def test_sweep_defaults_use_every_core() -> None:
    args = _parser().parse_args(["sweep", "--config", "x.toml", "--param", "fast=1:2",
                                 "--out", "o"])  # fmt: skip
    assert args.jobs >= 1 and args.engine == "vectorized" and args.sampler == "tpe"


def test_sweep_bad_space_is_a_one_line_error(tmp_path: Path) -> None:
    args = _parser().parse_args(["sweep", "--config", str(_config(tmp_path)), "--param",
                                 "fast=9:2", "--out", str(tmp_path / "o")])  # fmt: skip
    with pytest.raises(ResearchError, match="LOW <= HIGH") as caught:
        args.func(args)
    assert caught.value.reason is ResearchErrorReason.BAD_SPACE


def test_walkforward_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wf"
    args = _parser().parse_args(
        ["walkforward", "--config", str(_config(tmp_path)), "--param", "fast=2:3", "--param",
         "slow=6", "--synthetic", "4000", "--scheme", "rolling", "--train", "60s", "--test",
         "40s", "--purge", "2s", "--out", str(out), "--runs", str(tmp_path / "runs")]
    )  # fmt: skip
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "fold 0:" in printed and "stitched out-of-sample equity" in printed
    summary = json.loads((out / "folds.json").read_text())
    assert summary["folds"][0]["train"][0][1] + 2 * 10**9 == summary["folds"][0]["test"][0]


def test_walkforward_bad_duration(tmp_path: Path) -> None:
    args = _parser().parse_args(
        ["walkforward", "--config", str(_config(tmp_path)), "--param", "fast=2:3",
         "--train", "ten minutes", "--test", "1m", "--synthetic", "500", "--out", str(tmp_path)]
    )  # fmt: skip
    with pytest.raises(ResearchError, match="--train") as caught:
        args.func(args)
    assert caught.value.reason is ResearchErrorReason.BAD_SPLIT
