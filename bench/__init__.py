"""Benchmarks run by ``qk-bench`` (installed as ``qk.bench``; the sources live in ``bench/``)."""
