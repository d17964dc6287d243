"""The strategy SDK: the :class:`Strategy` base class and its hooks, the
:class:`StrategyContext` the engine implements, typed parameters, deployment descriptors, and
an in-memory :class:`RecordingContext` to unit-test strategies without an engine.
See ``docs/strategy-guide.md``.

::

    class Momentum(Strategy):
        @dataclass(frozen=True)
        class Params:
            fast: Annotated[int, Constraints(ge=1)] = 12

        def on_bar(self, bar: np.void) -> None:
            ...
            self.context.submit_market(bar["instrument_id"], Side.BUY, Decimal("0.01"))

    deployment = load_descriptor("configs/momentum_sim.toml")
"""

from qk.strategy.context import (
    AccountView,
    Clock,
    PositionView,
    StrategyContext,
    check_price,
    check_quantity,
    deployed_instrument,
    new_order,
)
from qk.strategy.descriptor import (
    BUILTIN_INSTRUMENTS,
    Deployment,
    Mode,
    Models,
    load_descriptor,
)
from qk.strategy.errors import (
    DescriptorError,
    DescriptorErrorReason,
    InvalidOrderRequest,
    OrderRequestReason,
    ParamError,
    ParamErrorReason,
    StrategyError,
    StrategyLoadError,
)
from qk.strategy.loader import load_strategy_class
from qk.strategy.params import Constraints, param, params_class_of, parse_assignments, parse_params
from qk.strategy.recording import (
    CancelRequested,
    ManualClock,
    ModifyRequested,
    OrderSubmitted,
    RecordingContext,
    TimerScheduled,
)
from qk.strategy.sandbox import SandboxViolation, audit_strategy_source
from qk.strategy.strategy import NoParams, Strategy

__all__ = [
    "BUILTIN_INSTRUMENTS",
    "AccountView",
    "CancelRequested",
    "Clock",
    "Constraints",
    "Deployment",
    "DescriptorError",
    "DescriptorErrorReason",
    "InvalidOrderRequest",
    "ManualClock",
    "Mode",
    "Models",
    "ModifyRequested",
    "NoParams",
    "OrderRequestReason",
    "OrderSubmitted",
    "ParamError",
    "ParamErrorReason",
    "PositionView",
    "RecordingContext",
    "SandboxViolation",
    "Strategy",
    "StrategyContext",
    "StrategyError",
    "StrategyLoadError",
    "TimerScheduled",
    "audit_strategy_source",
    "check_price",
    "check_quantity",
    "deployed_instrument",
    "load_descriptor",
    "load_strategy_class",
    "new_order",
    "param",
    "params_class_of",
    "parse_assignments",
    "parse_params",
]
