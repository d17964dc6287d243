"""Load a strategy class from ``package.module:Class`` or ``path/to/file.py:Class``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import zlib
from pathlib import Path

from qk.strategy.errors import StrategyLoadError
from qk.strategy.strategy import Strategy

__all__ = ["load_strategy_class"]


def load_strategy_class(reference: str, base_dir: Path | None = None) -> type[Strategy]:
    """Import the strategy class named by ``reference``.

    Args:
        reference: ``"strategies.momentum:Momentum"`` (an importable module) or
            ``"strategies/momentum.py:Momentum"`` (a file, relative to ``base_dir``).
        base_dir: Directory relative file paths start from (default: the working directory).

    Raises:
        StrategyLoadError: Malformed reference, module or file not found, import failure, no
            such class, or a class that is not a :class:`Strategy` subclass.
    """
    module_part, sep, class_name = reference.rpartition(":")
    if not sep or not module_part or not class_name.isidentifier():
        raise StrategyLoadError(
            f"strategy {reference!r} must be 'package.module:Class' or 'path/file.py:Class'"
        )
    try:
        if module_part.endswith(".py"):
            path = Path(module_part)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            if not path.is_file():
                raise StrategyLoadError(f"strategy file {str(path)!r} does not exist")
            # A stable, path-unique module name: two files with the same stem must not collide.
            name = f"qk_strategy_{path.stem}_{zlib.crc32(str(path.resolve()).encode()):08x}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise StrategyLoadError(f"cannot import strategy file {str(path)!r}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses look their module up in sys.modules
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_part)
    except StrategyLoadError:
        raise
    except Exception as exc:  # any import-time failure of user code, reported with its cause
        raise StrategyLoadError(
            f"importing strategy {reference!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    found = getattr(module, class_name, None)
    if found is None:
        raise StrategyLoadError(f"{module_part!r} has no class {class_name!r}")
    if not isinstance(found, type) or not issubclass(found, Strategy):
        raise StrategyLoadError(f"{reference!r} is not a subclass of qk.strategy.Strategy")
    return found
