"""The paper runtime: one supervised process per component, wired by shared-memory rings.

``qk start --mode paper`` (:mod:`qk.runtime.session`) runs the feed, the bar aggregator, one host
per strategy, the OMS (risk, simulated venue, portfolio) and the WAL writer as separate
processes; ``qk kill-switch`` (:mod:`qk.runtime.control`) reaches the OMS through the ``control``
ring. See ``docs/runtime.md``.
"""
