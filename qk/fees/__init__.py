"""Fee models: what a fill costs, per venue, segment and product, from dated data files.

::

    from qk.fees import FeeInput, default_fee_models

    model = default_fee_models()["zerodha.equity.intraday"]
    breakdown = model.fee(FeeInput(instrument=infy, side=Side.SELL, price=..., quantity=...,
                                   product=Product.INTRADAY))
    breakdown.total, breakdown.value(FeeComponentKind.TRANSACTION_TAX)

The schedules live in ``qk/fees/data/*.toml``, every number with its source and date; see
``docs/portfolio.md``.
"""

from qk.fees.components import FeeComponentKind
from qk.fees.errors import FeeError, FeeInputError, FeeScheduleError, UnknownFeeModelError
from qk.fees.model import FeeAmount, FeeBreakdown, FeeComponentSpec, FeeInput, FeeModel
from qk.fees.schedule import (
    DATA_DIR,
    FeeModels,
    default_fee_models,
    load_fee_models,
    parse_fee_models,
)

__all__ = [
    "DATA_DIR",
    "FeeAmount",
    "FeeBreakdown",
    "FeeComponentKind",
    "FeeComponentSpec",
    "FeeError",
    "FeeInput",
    "FeeInputError",
    "FeeModel",
    "FeeModels",
    "FeeScheduleError",
    "UnknownFeeModelError",
    "default_fee_models",
    "load_fee_models",
    "parse_fee_models",
]
