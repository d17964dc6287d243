"""API credentials as a value that never shows its secret, and the helpers that name a key safely."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import NoReturn

from qk.schemas.enums import Venue
from qk.secrets.errors import InvalidLabelError, UnknownVenueError

__all__ = [
    "DEFAULT_LABEL",
    "Credentials",
    "fingerprint",
    "mask_key",
    "parse_label",
    "parse_venue",
]

DEFAULT_LABEL = "default"
"""The account label used when none is given."""

_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
# Keys shorter than this would give away too large a share of their characters in ab…yz form.
_MASK_MIN_LENGTH = 12


def parse_venue(venue: Venue | str) -> Venue:
    """The :class:`Venue` named by ``venue`` (a member, or its name in any case).

    Raises:
        UnknownVenueError: the name is not a venue; the message lists the valid names.
    """
    if isinstance(venue, Venue):
        return venue
    try:
        return Venue[venue.strip().upper()]
    except KeyError:
        names = ", ".join(member.name for member in Venue)
        raise UnknownVenueError(f"unknown venue {venue!r}; use one of {names}") from None


def parse_label(label: str) -> str:
    """``label`` if it is a valid account label: 1-32 of ``A-Z a-z 0-9 _ . -``, not starting with a
    punctuation mark.

    Raises:
        InvalidLabelError: the label breaks that rule.
    """
    if not _LABEL.fullmatch(label):
        raise InvalidLabelError(
            f"invalid account label {label!r}: use 1-32 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return label


def fingerprint(api_key: str) -> str:
    """A stable, non-reversible name for an API key: ``sha256:`` and 12 hex digits of its hash.

    An operator can match it against ``printf %s KEY | sha256sum`` without the store showing a
    single character of the key.
    """
    return "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def mask_key(api_key: str) -> str:
    """The first and last two characters of a key (``ab…yz``), or ``…`` alone for a short key."""
    if len(api_key) < _MASK_MIN_LENGTH:
        return "…"
    return f"{api_key[:2]}…{api_key[-2:]}"


@dataclass(frozen=True, repr=False)
class Credentials:
    """An API key and secret for one venue account, as the gateway process receives them.

    ``repr`` and ``str`` show the venue, the label and a masked key, never the secret; pickling is
    refused so that credentials cannot travel to another process by accident (through a queue, a
    ``multiprocessing`` argument or a cache): each gateway loads its own with
    :func:`qk.secrets.load_for_gateway`.
    """

    venue: Venue
    api_key: str = field(compare=True)
    api_secret: str = field(compare=True)
    label: str = DEFAULT_LABEL

    @property
    def fingerprint(self) -> str:
        """The API key's fingerprint, as ``qk secrets list`` prints it."""
        return fingerprint(self.api_key)

    def __repr__(self) -> str:
        return (
            f"Credentials(venue={self.venue.name}, label={self.label!r}, "
            f"key={mask_key(self.api_key)})"
        )

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "Credentials cannot be pickled: keys stay in the gateway process that loaded them"
        )
