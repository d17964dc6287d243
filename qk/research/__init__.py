"""Research tools: the vectorised momentum kernel, parameter sweeps on Optuna, walk-forward.

See ``docs/research.md``. ``qk sweep`` and ``qk walkforward`` are registered by
:func:`qk.research.cli.register`.
"""

from qk.research.errors import ResearchError, ResearchErrorReason

__all__ = ["ResearchError", "ResearchErrorReason"]
