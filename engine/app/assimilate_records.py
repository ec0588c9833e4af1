"""Recorded sensor data as an observation feed for the assimilation cycles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass
class RecordsFeed:
    """Good (qc = 0) records averaged over each cycle window, per species and sensor.

    At model time ``t`` the feed gives the mean of the good values recorded in
    ``(start + t − window, start + t]`` for each of the operator's species and stations (NaN where
    there are none), with error standard deviation ``sqrt((relative · y)² + floor²)`` (kg/m³).
    """

    records: object
    station_ids: list
    species_names: list
    start: np.datetime64
    window_s: float
    relative_error: float
    error_floor: float

    def __post_init__(self) -> None:
        r = self.records
        good = np.asarray(r.qc) == 0
        station_index = {s: n for n, s in enumerate(self.station_ids)}
        species_index = {s: n for n, s in enumerate(self.species_names)}
        self._sensor = np.array([station_index.get(str(s), -1) for s in r.station_id])
        self._species = np.array([species_index.get(str(s), -1) for s in r.species])
        keep = good & (self._sensor >= 0) & (self._species >= 0) & np.isfinite(np.asarray(r.value, dtype=float))
        self._keep = keep
        self._seconds = (np.asarray(r.time, dtype="datetime64[s]") - self.start).astype(np.float64)
        self._value = np.asarray(r.value, dtype=np.float64)
        if not keep.any():
            raise ConfigError("assimilation.records", "holds no good (qc = 0) record of a modelled species at a "
                                                      "usable station; see the QC report")

    def at(self, time: float):
        inside = self._keep & (self._seconds > time - self.window_s) & (self._seconds <= time + 1e-6)
        if not inside.any():
            return None
        shape = (len(self.species_names), len(self.station_ids))
        total, count = np.zeros(shape), np.zeros(shape)
        np.add.at(total, (self._species[inside], self._sensor[inside]), self._value[inside])
        np.add.at(count, (self._species[inside], self._sensor[inside]), 1)
        values = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return values, np.sqrt((self.relative_error * values) ** 2 + self.error_floor**2)
