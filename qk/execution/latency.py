"""Latency models: how long a command takes from decision to the matching engine.

A command decided at ``ts`` arrives at ``ts + latency``. Both models are deterministic: the
sampled one draws from its own seeded PCG64 stream, one draw per command, in command order, so
the same commands and seed give the same arrival times.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from qk.execution.errors import InvalidSimulatorConfig

__all__ = ["FixedLatency", "LatencyModel", "UniformLatency"]


class LatencyModel(Protocol):
    """Gives the latency of the next command, in ns."""

    def next_latency(self) -> int:
        """Latency of the next command, ns, >= 0."""
        ...


class FixedLatency:
    """The same latency for every command.

    Args:
        latency_ns: Latency in ns, >= 0.

    Raises:
        InvalidSimulatorConfig: A negative or non-int latency.
    """

    __slots__ = ("latency_ns",)

    def __init__(self, latency_ns: int = 0) -> None:
        if isinstance(latency_ns, bool) or not isinstance(latency_ns, int) or latency_ns < 0:
            raise InvalidSimulatorConfig(f"latency_ns must be an int >= 0, got {latency_ns!r}")
        self.latency_ns = latency_ns

    def next_latency(self) -> int:
        """The fixed latency."""
        return self.latency_ns


class UniformLatency:
    """A latency drawn uniformly from ``[low_ns, high_ns]`` (integers) with a seeded RNG.

    Args:
        low_ns: Smallest latency, ns, >= 0.
        high_ns: Largest latency, ns, >= ``low_ns``.
        seed: Seed of the PCG64 stream; the same seed gives the same sequence.

    Raises:
        InvalidSimulatorConfig: Bounds out of order or negative.
    """

    __slots__ = ("_rng", "high_ns", "low_ns", "seed")

    def __init__(self, low_ns: int, high_ns: int, *, seed: int) -> None:
        for name, value in (("low_ns", low_ns), ("high_ns", high_ns), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidSimulatorConfig(f"{name} must be an int >= 0, got {value!r}")
        if high_ns < low_ns:
            raise InvalidSimulatorConfig(f"high_ns {high_ns} is below low_ns {low_ns}")
        self.low_ns = low_ns
        self.high_ns = high_ns
        self.seed = seed
        # PCG64 named explicitly: default_rng's bit generator may change between numpy versions.
        self._rng = np.random.Generator(np.random.PCG64(seed))

    def next_latency(self) -> int:
        """The next draw."""
        return int(self._rng.integers(self.low_ns, self.high_ns, endpoint=True))
