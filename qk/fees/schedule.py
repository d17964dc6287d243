"""Fee schedule files: TOML data with a source and date on every number, loaded and validated.

A file holds ``[[model]]`` tables, each with ``[[model.component]]`` tables::

    [[model]]
    name = "binance.spot"                 # selection key, unique across the loaded files
    description = "Binance spot, regular tier"
    venues = ["BINANCE"]                  # qk.schemas.enums.Venue names
    kinds = ["SPOT"]                      # InstrumentKind names
    products = ["NONE"]                   # Product names (default ["NONE"])
    currencies = []                       # settlement currencies; empty = any
    source = "https://www.binance.com/en/fee/schedule"   # default for the components
    as_of = 2025-06-01                    # default for the components (TOML date)
    verified = false                      # default for the components

    [[model.component]]
    kind = "TRADING_FEE"                  # FeeComponentKind name
    label = "maker/taker fee"
    maker_rate = "0.001"                  # decimals as strings: exact, never floats
    taker_rate = "0.001"
    sides = ["BUY", "SELL"]               # default both

Component keys: ``kind``, ``label``, ``sides``, exactly one of ``rate`` / ``maker_rate`` +
``taker_rate`` / ``flat_per_order``, optional ``per_order_cap``, ``base`` (component kinds, each
defined earlier in the model; only with ``rate``), ``round_to``, and ``source``, ``as_of``,
``verified``, ``note``. Unknown keys are errors, as are floats where a decimal is expected.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from qk.fees.components import FeeComponentKind
from qk.fees.errors import FeeScheduleError, UnknownFeeModelError
from qk.fees.model import MONEY_QUANTUM, FeeComponentSpec, FeeModel
from qk.schemas.enums import InstrumentKind, Product, Side, Venue

__all__ = [
    "DATA_DIR",
    "FeeModels",
    "default_fee_models",
    "load_fee_models",
    "parse_fee_models",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
"""The fee schedules shipped with qk."""

_MODEL_KEYS = {
    "name",
    "description",
    "venues",
    "kinds",
    "products",
    "currencies",
    "source",
    "as_of",
    "verified",
    "note",
    "component",
}
_COMPONENT_KEYS = {
    "kind",
    "label",
    "sides",
    "rate",
    "maker_rate",
    "taker_rate",
    "flat_per_order",
    "per_order_cap",
    "base",
    "round_to",
    "source",
    "as_of",
    "verified",
    "note",
}
# A rate above 10% of turnover is certainly a typo (a percentage written as a fraction's
# numerator), except for GST-like rates on a base of other fees.
_MAX_TURNOVER_RATE = Decimal("0.1")
_MAX_BASE_RATE = Decimal(1)

_E = TypeVar("_E", bound=Enum)


class FeeModels(Mapping[str, FeeModel]):
    """Fee models by name, loaded from one or more schedule files.

    ``models["zerodha.equity.intraday"].fee(fill)``; an unknown name raises
    :class:`UnknownFeeModelError` listing the known ones.
    """

    def __init__(self, models: Iterable[FeeModel]) -> None:
        """Index models by name.

        Raises:
            FeeScheduleError: Two models share a name.
        """
        self._models: dict[str, FeeModel] = {}
        for model in models:
            if model.name in self._models:
                raise FeeScheduleError(
                    f"fee model {model.name!r} is defined twice "
                    f"({self._models[model.name].origin} and {model.origin})"
                )
            self._models[model.name] = model

    def __getitem__(self, name: str) -> FeeModel:
        try:
            return self._models[name]
        except KeyError:
            raise UnknownFeeModelError(
                f"no fee model named {name!r}; known: {', '.join(sorted(self._models))}"
            ) from None

    def __iter__(self) -> Any:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)


def load_fee_models(paths: Iterable[Path | str]) -> FeeModels:
    """Load fee schedule files.

    Args:
        paths: TOML files.

    Returns:
        Their models by name.

    Raises:
        FeeScheduleError: A file is missing, not TOML, or has an invalid model.
    """
    models: list[FeeModel] = []
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FeeScheduleError(f"{path}: cannot read fee schedule: {exc}") from None
        models.extend(parse_fee_models(text, str(path)))
    return FeeModels(models)


@cache
def default_fee_models() -> FeeModels:
    """The schedules shipped in ``qk/fees/data/`` (loaded once per process)."""
    return load_fee_models(sorted(DATA_DIR.glob("*.toml")))


def parse_fee_models(text: str, origin: str = "<string>") -> list[FeeModel]:
    """Parse one schedule file's text.

    Args:
        text: TOML text.
        origin: File name for error messages.

    Returns:
        The models, in file order.

    Raises:
        FeeScheduleError: Invalid TOML or an invalid model; the message names the file, the
            model and the component.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FeeScheduleError(f"{origin}: not valid TOML: {exc}") from None
    unknown = set(document) - {"model", "schedule"}
    if unknown:
        raise FeeScheduleError(f"{origin}: unknown top-level key(s) {sorted(unknown)}")
    tables = document.get("model", [])
    if not isinstance(tables, list) or not tables:
        raise FeeScheduleError(f"{origin}: expected at least one [[model]] table")
    return [_parse_model(table, origin) for table in tables]


def _parse_model(table: dict[str, Any], origin: str) -> FeeModel:
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise FeeScheduleError(f"{origin}: a [[model]] has no name")
    where = f"{origin}: model {name!r}"
    unknown = set(table) - _MODEL_KEYS
    if unknown:
        raise FeeScheduleError(f"{where}: unknown key(s) {sorted(unknown)}")
    defaults: dict[str, Any] = {
        key: table[key] for key in ("source", "as_of", "verified") if key in table
    }
    components_raw = table.get("component", [])
    if not isinstance(components_raw, list) or not components_raw:
        raise FeeScheduleError(f"{where}: expected at least one [[model.component]]")
    components: list[FeeComponentSpec] = []
    for index, raw in enumerate(components_raw, start=1):
        components.append(
            _parse_component(raw, defaults, f"{where}, component {index}", components)
        )
    currencies = table.get("currencies", [])
    if not isinstance(currencies, list) or not all(isinstance(c, str) and c for c in currencies):
        raise FeeScheduleError(f"{where}: currencies must be a list of currency codes")
    return FeeModel(
        name=name,
        description=_text(table, "description", where, default=""),
        venues=frozenset(_enum_list(table, "venues", Venue, where, default=None)),
        kinds=frozenset(_enum_list(table, "kinds", InstrumentKind, where, default=None)),
        products=frozenset(_enum_list(table, "products", Product, where, default=["NONE"])),
        currencies=frozenset(currencies),
        components=tuple(components),
        origin=origin,
    )


def _parse_component(
    raw: object,
    defaults: Mapping[str, Any],
    where: str,
    earlier: list[FeeComponentSpec],
) -> FeeComponentSpec:
    if not isinstance(raw, dict):
        raise FeeScheduleError(f"{where}: expected a table")
    unknown = set(raw) - _COMPONENT_KEYS
    if unknown:
        raise FeeScheduleError(f"{where}: unknown key(s) {sorted(unknown)}")
    table = {**defaults, **raw}
    kind = _enum(table.get("kind"), FeeComponentKind, f"{where}: kind")
    where = f"{where} ({kind.name})"
    rate = _decimal(table, "rate", where)
    maker = _decimal(table, "maker_rate", where)
    taker = _decimal(table, "taker_rate", where)
    flat = _decimal(table, "flat_per_order", where)
    cap = _decimal(table, "per_order_cap", where)
    round_to = _decimal(table, "round_to", where)
    shapes = [rate is not None, maker is not None or taker is not None, flat is not None]
    if sum(shapes) != 1:
        raise FeeScheduleError(
            f"{where}: set exactly one of rate, maker_rate+taker_rate, flat_per_order"
        )
    if (maker is None) != (taker is None):
        raise FeeScheduleError(f"{where}: maker_rate and taker_rate go together")
    base = tuple(
        _enum(value, FeeComponentKind, f"{where}: base")
        for value in _list(table, "base", where, default=[])
    )
    defined = {spec.kind for spec in earlier}
    for kind_in_base in base:
        if kind_in_base not in defined:
            raise FeeScheduleError(
                f"{where}: base component {kind_in_base.name} is not defined before it"
            )
    if base and rate is None:
        raise FeeScheduleError(f"{where}: base needs a rate")
    if base and cap is not None:
        raise FeeScheduleError(f"{where}: per_order_cap does not apply to a rate on a base")
    limit = _MAX_BASE_RATE if base else _MAX_TURNOVER_RATE
    for label, value in (("rate", rate), ("maker_rate", maker), ("taker_rate", taker)):
        if value is not None and not 0 <= value <= limit:
            raise FeeScheduleError(
                f"{where}: {label} {value} is outside 0..{limit} (a fraction: 0.0003 = 0.03%)"
            )
    for label, value in (("flat_per_order", flat), ("per_order_cap", cap)):
        if value is not None and value < 0:
            raise FeeScheduleError(f"{where}: {label} must be >= 0, got {value}")
        if value is not None and value != value.quantize(MONEY_QUANTUM):
            raise FeeScheduleError(f"{where}: {label} {value} has more than 8 decimals")
    if round_to is not None and (round_to <= 0 or round_to < MONEY_QUANTUM):
        raise FeeScheduleError(f"{where}: round_to must be >= {MONEY_QUANTUM}, got {round_to}")
    source = _text(table, "source", where, default=None)
    as_of = table.get("as_of")
    if not isinstance(as_of, date):
        raise FeeScheduleError(f"{where}: as_of must be a TOML date (2025-06-01), got {as_of!r}")
    verified = table.get("verified", False)
    if not isinstance(verified, bool):
        raise FeeScheduleError(f"{where}: verified must be true or false")
    sides = _enum_list(table, "sides", Side, where, default=["BUY", "SELL"])
    return FeeComponentSpec(
        kind=kind,
        label=_text(table, "label", where, default=kind.name.lower()),
        sides=frozenset(sides),
        source=source,
        as_of=as_of,
        rate=rate,
        maker_rate=maker,
        taker_rate=taker,
        flat_per_order=flat,
        per_order_cap=cap,
        base=base,
        round_to=round_to,
        verified=verified,
        note=_text(table, "note", where, default=""),
    )


def _text(table: Mapping[str, Any], key: str, where: str, *, default: str | None) -> str:
    value = table.get(key, default)
    if value is None:
        raise FeeScheduleError(f"{where}: {key} is required")
    if not isinstance(value, str) or (default is None and not value):
        raise FeeScheduleError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value


def _decimal(table: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    value = table.get(key)
    if value is None:
        return None
    # Floats are refused: "0.0003" is exact, 0.0003 is a binary approximation the reader of
    # the file never meant.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FeeScheduleError(
            f'{where}: {key} must be a decimal string (e.g. "0.0003") or an integer, got {value!r}'
        )
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise FeeScheduleError(f"{where}: {key} {value!r} is not a decimal number") from None
    if not result.is_finite():
        raise FeeScheduleError(f"{where}: {key} {value!r} is not finite")
    return result


def _list(
    table: Mapping[str, Any], key: str, where: str, *, default: list[str] | None
) -> list[Any]:
    value = table.get(key, default)
    if value is None:
        raise FeeScheduleError(f"{where}: {key} is required")
    if not isinstance(value, list):
        raise FeeScheduleError(f"{where}: {key} must be a list, got {value!r}")
    return value


def _enum(value: object, enum: type[_E], where: str) -> _E:
    if not isinstance(value, str):
        raise FeeScheduleError(f"{where}: expected a {enum.__name__} name, got {value!r}")
    try:
        return enum[value]
    except KeyError:
        names = ", ".join(member.name for member in enum)
        raise FeeScheduleError(
            f"{where}: {value!r} is not a {enum.__name__} (one of {names})"
        ) from None


def _enum_list(
    table: Mapping[str, Any], key: str, enum: type[_E], where: str, *, default: list[str] | None
) -> list[_E]:
    values = _list(table, key, where, default=default)
    if not values:
        raise FeeScheduleError(f"{where}: {key} must not be empty")
    return [_enum(value, enum, f"{where}: {key}") for value in values]
