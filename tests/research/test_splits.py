"""Split arithmetic: no overlap, purge and embargo respected, coverage."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qk.research import ResearchError, ResearchErrorReason
from qk.research.splits import Fold, make_splits

starts = st.integers(0, 10**12)
lengths = st.integers(1, 10**6)


def _check_common(folds: list[Fold], start: int, end: int, purge: int, embargo: int) -> None:
    tests = [f.test for f in folds]
    assert tests == sorted(tests)
    for (_, b), (a, _) in itertools.pairwise(tests):
        assert b <= a  # test windows never overlap
    for index, fold in enumerate(folds):
        assert fold.index == index
        s, e = fold.test
        assert start <= s < e <= end
        assert fold.train, "a fold without in-sample data is not returned"
        for (_, b), (c, _) in itertools.pairwise(fold.train):
            assert b < c  # ascending, disjoint, not touching
        for a, b in fold.train:
            assert start <= a < b <= end
            # Nothing in-sample inside the test window, its purge zone or its embargo.
            assert b <= s - purge or a >= e + embargo


@settings(max_examples=300, deadline=None)
@given(
    start=starts, span=st.integers(2, 10**6), train=lengths, test=st.integers(1_000, 10**6),
    extra_step=st.integers(0, 10**5), purge=st.integers(0, 10**5),
    scheme=st.sampled_from(["rolling", "expanding"]),
)  # fmt: skip
def test_walk_forward_splits(
    start: int, span: int, train: int, test: int, extra_step: int, purge: int, scheme: str
) -> None:
    end = start + span
    step = test + extra_step
    try:
        folds = make_splits(start, end, scheme=scheme, train_ns=train, test_ns=test,
                            step_ns=step, purge_ns=purge)  # fmt: skip
    except ResearchError as exc:
        assert exc.reason is ResearchErrorReason.BAD_SPLIT
        # Refused only when no fold fits: the first test window leaves no in-sample time
        # after the purge, or does not fit in the range.
        assert train <= purge or start + train + test > end
        return
    _check_common(folds, start, end, purge, 0)
    # Coverage: test windows start every step after the first in-sample span, as many as fit.
    first = (lambda s: start) if scheme == "expanding" else (lambda s: s - train)
    expected = [s for s in range(start + train, end - test + 1, step) if first(s) < s - purge]
    assert [f.test[0] for f in folds] == expected
    for fold in folds:
        s, _ = fold.test
        ((a, b),) = fold.train
        assert b == s - purge
        assert a == (start if scheme == "expanding" else max(start, s - train))
        assert fold.test[1] - s == test


@settings(max_examples=300, deadline=None)
@given(
    start=starts, span=st.integers(2, 10**7), k=st.integers(2, 12),
    purge=st.integers(0, 10**6), embargo=st.integers(0, 10**6),
)  # fmt: skip
def test_purged_kfold_splits(start: int, span: int, k: int, purge: int, embargo: int) -> None:
    end = start + span
    if span < k:
        with pytest.raises(ResearchError):
            make_splits(start, end, scheme="kfold", folds=k, purge_ns=purge, embargo_ns=embargo)
        return
    try:
        folds = make_splits(start, end, scheme="kfold", folds=k, purge_ns=purge,
                            embargo_ns=embargo)  # fmt: skip
    except ResearchError as exc:
        assert exc.reason is ResearchErrorReason.BAD_SPLIT
        assert purge + embargo >= span // k  # every fold's train was purged away
        return
    _check_common(folds, start, end, purge, embargo)
    if purge == 0 and embargo == 0:
        # Without purge and embargo: the test windows tile the range and each train is the rest.
        assert len(folds) == k
        assert folds[0].test[0] == start and folds[-1].test[1] == end
        for fold in folds:
            assert fold.train_ns + (fold.test[1] - fold.test[0]) == span


def test_embargo_only_removes_time_after_the_test_window() -> None:
    folds = make_splits(0, 100, scheme="kfold", folds=4, purge_ns=5, embargo_ns=10)
    assert folds[1].test == (25, 50)
    assert folds[1].train == ((0, 20), (60, 100))
    assert folds[0].train == ((35, 100),)
    assert folds[3].train == ((0, 70),)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"scheme": "sideways"}, "unknown scheme"),
        ({"scheme": "rolling", "train_ns": 0, "test_ns": 10}, "--train and --test"),
        ({"scheme": "rolling", "train_ns": 10, "test_ns": 10, "step_ns": 5}, "shorter than"),
        ({"scheme": "rolling", "train_ns": 90, "test_ns": 20}, "no fold fits"),
        ({"scheme": "kfold", "folds": 1}, "folds >= 2"),
        ({"scheme": "rolling", "train_ns": 10, "test_ns": 10, "purge_ns": -1}, ">= 0"),
    ],
)
def test_bad_split_arguments(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ResearchError, match=needle) as caught:
        make_splits(0, 100, **kwargs)  # type: ignore[arg-type]
    assert caught.value.reason is ResearchErrorReason.BAD_SPLIT
