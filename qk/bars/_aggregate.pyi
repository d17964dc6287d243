"""Type stub of the compiled bar aggregation core (cext/aggregate.pyx over cext/qk_aggregate.h)."""

import numpy as np
import numpy.typing as npt

TIME: int
TICK: int
VOLUME: int
TICK_ACCEPTED: int
TICK_TOO_LATE: int
TICK_DUPLICATE: int
TICK_OUT_OF_SESSION: int

class OutsideCalendarError(ValueError):
    """A tick's event time lies outside the years the session calendar covers."""

class AggregatorCore:
    """One instrument's bars for several specs at once."""

    def __init__(
        self,
        specs: list[tuple[int, int]],
        *,
        lateness_ns: int,
        emit_delay_ns: int,
        idle_timeout_ns: int,
        origin_ns: int,
        contiguous_ids: bool,
        emit_empty: bool,
        max_empty_run: int,
        session_start: npt.NDArray[np.int64] | None,
        session_end: npt.NDArray[np.int64] | None,
        instrument_id: int,
        bar_source: int,
        source: int,
    ) -> None: ...
    def on_trade(
        self, ts_event: int, ts_recv: int, price: int, quantity: int, trade_id: int
    ) -> int: ...
    def update(
        self,
        ts_event: npt.NDArray[np.int64],
        ts_recv: npt.NDArray[np.int64],
        price: npt.NDArray[np.int64],
        quantity: npt.NDArray[np.int64],
        trade_id: npt.NDArray[np.uint64],
    ) -> npt.NDArray[np.void]: ...
    def update_indexed(
        self,
        ts_event: npt.NDArray[np.int64],
        ts_recv: npt.NDArray[np.int64],
        price: npt.NDArray[np.int64],
        quantity: npt.NDArray[np.int64],
        trade_id: npt.NDArray[np.uint64],
    ) -> tuple[npt.NDArray[np.void], npt.NDArray[np.int64]]: ...
    def on_gap(self, ts_from: int, ts_to: int, ts_recv: int = 0) -> int: ...
    def flush(self, now_ns: int) -> int: ...
    def finish(self, ts_recv: int = 0) -> npt.NDArray[np.void]: ...
    def take_bars(self) -> npt.NDArray[np.void]: ...
    def take_resync_requests(self) -> npt.NDArray[np.int64]: ...
    @property
    def bars_waiting(self) -> int: ...
    @property
    def resync_waiting(self) -> int: ...
    @property
    def max_ts(self) -> int | None: ...
    @property
    def watermark(self) -> int | None: ...
    def metrics(self) -> dict[str, int]: ...
