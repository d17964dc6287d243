"""Specification of render_strategy: the skeleton imports, loads and its own test passes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from qk.strategy import Strategy, audit_strategy_source, load_descriptor, load_strategy_class
from qk.strategy.template import render_strategy


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_render_strategy_when_snake_name_then_module_descriptor_and_test() -> None:
    assert sorted(render_strategy("mean_reversion")) == [
        "configs/mean_reversion_sim.toml",
        "strategies/mean_reversion.py",
        "tests/strategies/test_mean_reversion.py",
    ]


def test_render_strategy_when_written_then_skeleton_imports_and_descriptor_loads(
    tmp_path: Path,
) -> None:
    _write(tmp_path, render_strategy("mean_reversion"))
    cls = load_strategy_class(f"{tmp_path / 'strategies' / 'mean_reversion.py'}:MeanReversion")
    assert issubclass(cls, Strategy)
    deployment = load_descriptor(tmp_path / "configs" / "mean_reversion_sim.toml")
    assert deployment.strategy_class.__name__ == "MeanReversion"


def test_render_strategy_when_written_then_its_rendered_tests_pass(tmp_path: Path) -> None:
    _write(tmp_path, render_strategy("breakout"))
    path = tmp_path / "tests" / "strategies" / "test_breakout.py"
    spec = importlib.util.spec_from_file_location("rendered_test_breakout", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()  # raises on failure


def test_render_strategy_when_rendered_then_passes_the_sandbox_audit() -> None:
    source = render_strategy("breakout")["strategies/breakout.py"]
    assert audit_strategy_source(source) == []


@pytest.mark.parametrize("name", ["", "Breakout", "2fast", "my-strategy", "a__b", "x_", "a" * 49])
def test_render_strategy_when_name_not_snake_case_then_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        render_strategy(name)
