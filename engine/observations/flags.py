"""Quality-control flags: one bit per problem, so a row can carry several at once.

A row whose flag is 0 is good. Flags are stored as ``uint16``; the names below are what reports,
files and tests use (``QCFlag.RANGE``...). Flags travel with the data: a long table written by
``plumetwin ingest`` keeps them in its ``qc`` column, and reading it back ORs them with whatever
the new checks find.
"""

from __future__ import annotations

import enum

import numpy as np


class QCFlag(enum.IntFlag):
    """Why a record is suspect. ``GOOD`` (0) means no check objected."""

    GOOD = 0
    #: Value outside the plausible range of its species (negative, or above the limit).
    RANGE = 1 << 0
    #: Value far from the running median of its neighbours (Hampel filter).
    SPIKE = 1 << 1
    #: The same value repeated for longer than a working sensor would report it.
    FLAT_LINE = 1 << 2
    #: No value: an empty cell, NaN, or a row inserted for a time step absent from the record.
    MISSING = 1 << 3
    #: Another row has the same station, species and time (every row after the first is flagged).
    DUPLICATE_TIME = 1 << 4
    #: The station lies outside the model domain.
    OUTSIDE_DOMAIN = 1 << 5
    #: The station lies inside a building or terrain (a solid cell).
    INSIDE_BUILDING = 1 << 6
    #: The unit is not a known concentration unit, or cannot be converted for this species.
    UNKNOWN_UNIT = 1 << 7
    #: The species is not one the mapping or the model knows.
    UNKNOWN_SPECIES = 1 << 8
    #: A field could not be read: text in a number, a time without a parseable date or offset.
    UNPARSEABLE = 1 << 9
    #: The station is not in the station table, or has no position there.
    UNKNOWN_STATION = 1 << 10
    #: Flagged upstream (a non-zero ``qc`` in the input that this reader does not interpret).
    UPSTREAM = 1 << 11


#: Flags that leave no usable value at all (the value is NaN).
UNUSABLE = QCFlag.MISSING | QCFlag.UNKNOWN_UNIT | QCFlag.UNKNOWN_SPECIES | QCFlag.UNPARSEABLE

#: Every single-bit flag, in bit order.
ALL_FLAGS: tuple[QCFlag, ...] = tuple(f for f in QCFlag if f.value and (f.value & (f.value - 1)) == 0)


def flag_names(value: int) -> list[str]:
    """Names of the bits set in ``value`` (``[]`` for a good row)."""
    return [f.name.lower() for f in ALL_FLAGS if int(value) & f.value]


def describe_flags(qc: np.ndarray) -> dict[str, int]:
    """Number of rows carrying each flag (rows with several flags count once per flag)."""
    qc = np.asarray(qc, dtype=np.uint16)
    return {f.name.lower(): int(np.count_nonzero(qc & np.uint16(f.value))) for f in ALL_FLAGS}
