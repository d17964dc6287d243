"""The instrument master: small integer ids ↔ venue, symbol and contract details, shared by
every process through POSIX shared memory.

::

    master = InstrumentMaster.create("paper", load_instruments("configs/instruments.toml"))
    # in any other process:
    master = InstrumentMaster.open("paper")
    infy = master.find("NSE", "INFY")
"""

from qk.instruments.errors import (
    InstrumentDefinitionError,
    InstrumentError,
    InstrumentFileError,
    InstrumentMasterExistsError,
    InstrumentMasterLayoutError,
    InstrumentMasterNotFoundError,
    UnknownInstrumentError,
)
from qk.instruments.files import load_instruments, parse_instruments, save_instruments
from qk.instruments.instrument import (
    INSTRUMENT_DTYPE,
    Instrument,
    instruments_from_array,
    instruments_to_array,
)
from qk.instruments.master import InstrumentMaster, segment_name

__all__ = [
    "INSTRUMENT_DTYPE",
    "Instrument",
    "InstrumentDefinitionError",
    "InstrumentError",
    "InstrumentFileError",
    "InstrumentMaster",
    "InstrumentMasterExistsError",
    "InstrumentMasterLayoutError",
    "InstrumentMasterNotFoundError",
    "UnknownInstrumentError",
    "instruments_from_array",
    "instruments_to_array",
    "load_instruments",
    "parse_instruments",
    "save_instruments",
    "segment_name",
]
