"""The in-process deterministic backtest (issue 4): a deployment over a trade tape, on market
time, into trades/orders/equity CSVs, summary.json and a self-contained HTML report.

::

    deployment = load_descriptor("configs/momentum_sim.toml")
    result = run_backtest(deployment, random_walk_trades(SIM_BTCUSDT, 20_000), params={"fast": 5})
    write_outputs(result, Path("out"))

See ``docs/backtest.md``.
"""

from qk.backtest.engine import BacktestResult, EquityPoint, override_params, run_backtest
from qk.backtest.errors import BacktestError, BacktestErrorReason
from qk.backtest.metrics import FillRow, fill_rows, summarize
from qk.backtest.report import write_outputs

__all__ = [
    "BacktestError",
    "BacktestErrorReason",
    "BacktestResult",
    "EquityPoint",
    "FillRow",
    "fill_rows",
    "override_params",
    "run_backtest",
    "summarize",
    "write_outputs",
]
