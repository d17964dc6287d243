"""Time splits for walk-forward and cross-validation, with purge and embargo.

Every window is a half-open interval ``[start, end)`` of event time, ns. A fold has one test
window and one or more in-sample (train) windows:

* ``rolling``: test windows of ``test_ns`` every ``step_ns`` (default ``test_ns``) after a first
  in-sample span of ``train_ns``; each fold trains on the ``train_ns`` before its test window.
* ``expanding``: the same test windows; each fold trains on everything from the start.
* ``kfold``: ``folds`` equal, contiguous test windows covering the whole range; each trains on
  everything else (before and after its test window).

**Purge** (``purge_ns``, the label horizon): a sample at ``t`` whose outcome is known only at
``t + purge_ns`` must not train a model tested on a window it overlaps, so in-sample time stops
``purge_ns`` before each test window. **Embargo** (``embargo_ns``): in-sample time resumes only
``embargo_ns`` after a test window ends, because what follows a test window is correlated with
it. Walk-forward folds train only on the past, so only kfold folds have time after their test
window for the embargo to remove.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from qk.research.errors import ResearchError, ResearchErrorReason

__all__ = ["SCHEMES", "Fold", "make_splits"]

_R = ResearchErrorReason
SCHEMES: Final = ("rolling", "expanding", "kfold")

Window = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Fold:
    """One split.

    Attributes:
        index: 0-based fold number, in test-window order.
        train: In-sample windows, ascending, disjoint, none empty.
        test: The out-of-sample window.
    """

    index: int
    train: tuple[Window, ...]
    test: Window

    @property
    def train_ns(self) -> int:
        """Total in-sample time."""
        return sum(b - a for a, b in self.train)


def _clip(windows: list[Window], start: int, end: int) -> tuple[Window, ...]:
    out = []
    for a, b in windows:
        a, b = max(a, start), min(b, end)
        if a < b:
            out.append((a, b))
    return tuple(out)


def make_splits(
    start_ns: int,
    end_ns: int,
    *,
    scheme: str,
    train_ns: int = 0,
    test_ns: int = 0,
    step_ns: int | None = None,
    folds: int = 0,
    purge_ns: int = 0,
    embargo_ns: int = 0,
) -> list[Fold]:
    """The folds of ``[start_ns, end_ns)``.

    Args:
        start_ns: Start of the data (first trade time).
        end_ns: End of the data, exclusive (one past the last trade time).
        scheme: ``rolling``, ``expanding`` or ``kfold``.
        train_ns: In-sample span before the first test window (rolling: of every fold).
        test_ns: Test window length (rolling, expanding).
        step_ns: Distance between test window starts (rolling, expanding); default
            ``test_ns``; never below ``test_ns`` (test windows do not overlap).
        folds: Number of folds (kfold).
        purge_ns: In-sample time dropped before each test window (the label horizon).
        embargo_ns: In-sample time dropped after each test window.

    Returns:
        Folds with a non-empty in-sample part, in test-window order.

    Raises:
        ResearchError: BAD_SPLIT naming the argument (unknown scheme, non-positive lengths,
            a step shorter than the test window, no fold fitting the range).
    """
    if scheme not in SCHEMES:
        raise ResearchError(_R.BAD_SPLIT, f"unknown scheme {scheme!r} ({', '.join(SCHEMES)})")
    if end_ns <= start_ns:
        raise ResearchError(_R.BAD_SPLIT, f"empty time range [{start_ns}, {end_ns})")
    if purge_ns < 0 or embargo_ns < 0:
        raise ResearchError(_R.BAD_SPLIT, "purge and embargo must be >= 0")
    result: list[Fold] = []
    if scheme == "kfold":
        if folds < 2:
            raise ResearchError(_R.BAD_SPLIT, f"kfold needs folds >= 2, got {folds}")
        span = end_ns - start_ns
        if span < folds:
            raise ResearchError(_R.BAD_SPLIT, f"{span} ns cannot hold {folds} folds")
        edges = [start_ns + span * i // folds for i in range(folds + 1)]
        for i in range(folds):
            s, e = edges[i], edges[i + 1]
            train = _clip([(start_ns, s - purge_ns), (e + embargo_ns, end_ns)], start_ns, end_ns)
            if train:
                result.append(Fold(len(result), train, (s, e)))
    else:
        step = test_ns if step_ns is None else step_ns
        if train_ns <= 0 or test_ns <= 0:
            raise ResearchError(_R.BAD_SPLIT, "--train and --test must be > 0")
        if step < test_ns:
            raise ResearchError(
                _R.BAD_SPLIT, f"--step ({step} ns) is shorter than --test ({test_ns} ns)"
            )
        s = start_ns + train_ns
        while s + test_ns <= end_ns:
            first = start_ns if scheme == "expanding" else s - train_ns
            train = _clip([(first, s - purge_ns)], start_ns, end_ns)
            if train:
                result.append(Fold(len(result), train, (s, s + test_ns)))
            s += step
    if not result:
        raise ResearchError(
            _R.BAD_SPLIT,
            f"no fold fits [{start_ns}, {end_ns}) with scheme={scheme} train={train_ns} "
            f"test={test_ns} folds={folds} purge={purge_ns} (range is {end_ns - start_ns} ns)",
        )
    return result
