"""Sensor records in memory: aligned 1-D arrays, one row per (time, station, species) value.

Inside the engine values are kg/m³ and times UTC seconds (``datetime64[s]``); units and time zones
exist only in the files read and written (see :mod:`engine.observations.readers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .flags import QCFlag

_NAT = np.datetime64("NaT", "s")


def same_text(values: np.ndarray, text: str) -> np.ndarray:
    """Boolean mask of ``values == text`` compared as Python strings (NumPy would turn ``text``
    into a fixed-width str and drop trailing NUL characters)."""
    return np.fromiter((v == text for v in values.tolist()), dtype=bool, count=len(values))


def _ranks(values: np.ndarray) -> np.ndarray:
    rank = {v: k for k, v in enumerate(sorted(set(values.tolist())))}
    return np.asarray([rank[v] for v in values.tolist()], dtype=np.int64)


def _texts(values, n: int | None = None) -> np.ndarray:
    array = np.asarray(values if values is not None else [], dtype=object)
    out = np.array([str(v) for v in array.ravel()], dtype=object)
    if n is not None and out.size != n:
        raise ValueError(f"expected {n} entries, got {out.size}")
    return out


@dataclass
class StationTable:
    """Where the sensors are.

    Attributes
    ----------
    station_id:
        Names, ``(n,)`` (str).
    x, y:
        Projected coordinates (m) in ``crs``, the grid's CRS; NaN where the position is unknown.
    z_agl:
        Inlet height above ground (m).
    crs:
        The projected CRS of ``x``/``y`` (e.g. ``"EPSG:5186"``).
    averaging_s:
        Each sensor's averaging window (s); 0 for an instantaneous reading, NaN for "not stated".
    qc:
        Station-level flags (``OUTSIDE_DOMAIN``, ``INSIDE_BUILDING``), ``uint16``; every record of the
        station carries them too.
    lon, lat:
        Geographic coordinates (degrees) when the table gave them, else NaN.
    """

    station_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z_agl: np.ndarray
    crs: str = "local"
    averaging_s: np.ndarray | None = None
    qc: np.ndarray | None = None
    lon: np.ndarray | None = None
    lat: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.station_id = _texts(self.station_id)
        n = self.station_id.size
        for name in ("x", "y", "z_agl"):
            value = np.asarray(getattr(self, name), dtype=np.float64).ravel()
            if value.size != n:
                raise ConfigError(f"stations.{name}", f"has {value.size} entries for {n} stations")
            setattr(self, name, value)
        for name, default in (("averaging_s", np.nan), ("lon", np.nan), ("lat", np.nan)):
            value = getattr(self, name)
            value = np.full(n, default) if value is None else np.asarray(value, dtype=np.float64).ravel()
            if value.size != n:
                raise ConfigError(f"stations.{name}", f"has {value.size} entries for {n} stations")
            setattr(self, name, value)
        self.qc = np.zeros(n, np.uint16) if self.qc is None else np.asarray(self.qc, dtype=np.uint16).ravel()
        if len(set(self.station_id.tolist())) != n:
            seen: set[str] = set()
            twice = sorted({s for s in self.station_id if s in seen or seen.add(s)})
            raise ConfigError("stations.station_id", f"names must be unique; repeated: {', '.join(twice)}")

    def __len__(self) -> int:
        return int(self.station_id.size)

    @property
    def positions(self) -> np.ndarray:
        """``(n, 3)`` array of ``x, y, z_agl`` (m)."""
        return np.stack([self.x, self.y, self.z_agl], axis=1)

    @property
    def usable(self) -> np.ndarray:
        """Boolean mask of stations an observation operator can sample: a position, no flag."""
        return (self.qc == 0) & np.isfinite(self.x) & np.isfinite(self.y) & np.isfinite(self.z_agl)

    def index(self, station_id: str) -> int:
        """Position of ``station_id`` in the table (KeyError naming the known ones if absent)."""
        matches = np.flatnonzero(same_text(self.station_id, str(station_id)))
        if matches.size == 0:
            raise KeyError(f"no station {station_id!r}; stations: {', '.join(self.station_id)}")
        return int(matches[0])

    def subset(self, keep: np.ndarray) -> "StationTable":
        """The stations where ``keep`` (bool mask or indices) selects."""
        return StationTable(self.station_id[keep], self.x[keep], self.y[keep], self.z_agl[keep], self.crs,
                            self.averaging_s[keep], self.qc[keep], self.lon[keep], self.lat[keep])

    @classmethod
    def empty(cls, crs: str = "local") -> "StationTable":
        return cls(np.array([], dtype=object), [], [], [], crs)


@dataclass
class SensorRecords:
    """Aligned 1-D arrays, one entry per record (the long schema in memory).

    Attributes
    ----------
    time:
        ``datetime64[s]`` in UTC; NaT where the time could not be read (flagged ``UNPARSEABLE``).
    station_id, species:
        Names (str, object arrays).
    value:
        Concentration (kg/m³, float64); NaN where there is no usable value (see ``qc``).
    qc:
        Bit flags (``uint16``, :class:`~engine.observations.QCFlag`); 0 = good.
    stations:
        The station table the ``station_id`` values refer to.
    source_line:
        Line of the input file each record came from (0 for rows inserted for a missing time).
    """

    time: np.ndarray
    station_id: np.ndarray
    species: np.ndarray
    value: np.ndarray
    qc: np.ndarray
    stations: StationTable = field(default_factory=StationTable.empty)
    source_line: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.time = np.asarray(self.time).astype("datetime64[s]").ravel()
        n = self.time.size
        self.station_id = _texts(self.station_id, n)
        self.species = _texts(self.species, n)
        self.value = np.asarray(self.value, dtype=np.float64).ravel()
        self.qc = np.asarray(self.qc, dtype=np.uint16).ravel()
        self.source_line = (np.zeros(n, np.int64) if self.source_line is None
                            else np.asarray(self.source_line, dtype=np.int64).ravel())
        for name in ("value", "qc", "source_line"):
            if getattr(self, name).size != n:
                raise ValueError(f"SensorRecords.{name} has {getattr(self, name).size} entries for {n} times")

    def __len__(self) -> int:
        return int(self.time.size)

    @property
    def good(self) -> np.ndarray:
        """Boolean mask of rows with no flag at all."""
        return self.qc == 0

    def flagged(self, flag: QCFlag) -> np.ndarray:
        """Boolean mask of rows carrying ``flag``."""
        return (self.qc & np.uint16(int(flag))) != 0

    def select(self, keep: np.ndarray) -> "SensorRecords":
        """A new :class:`SensorRecords` with the rows ``keep`` selects (same station table)."""
        return SensorRecords(self.time[keep], self.station_id[keep], self.species[keep], self.value[keep],
                             self.qc[keep], self.stations, self.source_line[keep])

    def sorted(self) -> "SensorRecords":
        """Rows ordered by station, species, then time (NaT last), stably."""
        stamp = self.time.astype(np.int64)
        stamp = np.where(np.isnat(self.time), np.iinfo(np.int64).max, stamp)
        # Ranks of the Python strings: NumPy str arrays would drop trailing NUL characters.
        order = np.lexsort((stamp, _ranks(self.species), _ranks(self.station_id)))
        return self.select(order)

    def station_index(self) -> np.ndarray:
        """Index of each row's station in :attr:`stations` (-1 where the table lacks it)."""
        lookup = {name: n for n, name in enumerate(self.stations.station_id.tolist())}
        return np.fromiter((lookup.get(name, -1) for name in self.station_id.tolist()), dtype=np.int64,
                           count=len(self))

    def seconds_since(self, start: np.datetime64 | str) -> np.ndarray:
        """Time of each row in seconds after ``start`` (a UTC ``datetime64`` or ISO text with offset)."""
        from .times import parse_time  # noqa: PLC0415

        origin = parse_time(start) if isinstance(start, str) else np.datetime64(start, "s")
        return (self.time - origin).astype("timedelta64[s]").astype(np.float64)

    def to_array(self, species: list[str] | None = None, stations: list[str] | None = None,
                 only_good: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Values on a ``(time, species, station)`` grid of the distinct record times.

        Returns ``times`` (sorted ``datetime64[s]``) and ``values`` (kg/m³), NaN where there is no
        record (or, with ``only_good``, no good one). A later duplicate never overwrites an earlier
        value, since duplicates carry the ``DUPLICATE_TIME`` flag.
        """
        species = list(dict.fromkeys(self.species.tolist())) if species is None else list(species)
        stations = list(self.stations.station_id) if stations is None else list(stations)
        rows = ~np.isnat(self.time) & (self.good if only_good else np.isfinite(self.value))
        times = np.unique(self.time[rows])
        values = np.full((times.size, len(species), len(stations)), np.nan)
        s_index = {name: i for i, name in enumerate(species)}
        n_index = {name: i for i, name in enumerate(stations)}
        for r in np.flatnonzero(rows)[::-1]:  # reversed: the first of duplicates is written last
            s, n = s_index.get(self.species[r]), n_index.get(self.station_id[r])
            if s is not None and n is not None:
                values[np.searchsorted(times, self.time[r]), s, n] = self.value[r]
        return times, values
