"""Column mappings: how a file's own layout (headers, encoding, time convention) becomes the long
schema ``time, station_id, species, value, unit, qc``. Mappings are data files (YAML), one per
source, so a new data supplier needs no code.

Keys (all optional except where a layout needs them)::

    layout: long | wide        # long: one value per row; wide: one column per species
    encoding: utf-8-sig        # cp949 for many Korean files
    timezone: "+09:00"         # zone of times without an offset (KST); None refuses them
    time_format: null          # strptime format when the times are not ISO 8601
    time_column: time
    station_column: station_id # or station: <a constant id> for a single-site file
    rename: {측정일시: time}    # long layout: file column -> schema column
    species_names: {이산화질소: NO2}   # long layout: species texts -> names
    columns:                   # wide layout: file column -> species and unit
      이산화탄소: {species: NO2, unit: ppm, header_says: CO2, note: "..."}
    ignore: [""]               # columns deliberately not read (listed in the report)
    interval_s: 3600           # the expected record step (else the commonest step is used)
    averaging_s: 3600          # each value is a mean over this window, ending at its time stamp
    time_shift_s: 0            # added to every time, e.g. 86400 when a daily mean is stamped at
                               # the start of its day (times mark the end of the averaging window)
    temperature_k: 298.15      # conditions of ppm/ppb values (default 25 °C, 1 atm)
    pressure_pa: 101325.0
    qc: {spike_sigma: 6, flat_line_s: 43200, ...}   # see QCSettings
    notes: ["..."]             # copied into the QC report
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError


@dataclass(frozen=True)
class QCSettings:
    """Thresholds of the checks.

    ``spike_half_window`` samples either side form the running median; a value is a spike when it
    differs from it by more than ``spike_sigma`` robust standard deviations (1.4826 MAD), more than
    ``spike_relative`` times the median, and more than ``spike_floor`` kg/m³. A flat line is at
    least ``flat_line_min_count`` identical consecutive values spanning ``flat_line_s`` seconds or
    more, at least ``flat_line_min_steps`` resolution steps from zero. Gaps in a regular series are
    filled with ``missing`` rows when ``fill_missing``, at most
    ``max_fill`` per gap (longer gaps are reported, not filled). ``limits`` overrides the catalogue's
    plausible ranges: ``{species: [low, high, unit]}``.
    """

    spike_half_window: int = 3
    spike_sigma: float = 6.0
    spike_relative: float = 1.0
    spike_floor: float = 20e-9
    flat_line_s: float = 12 * 3600.0
    flat_line_min_count: int = 4
    flat_line_min_steps: float = 10.0
    fill_missing: bool = True
    max_fill: int = 10000
    limits: dict = field(default_factory=dict)


@dataclass(frozen=True)
class WideColumn:
    """A wide file's column: the species it holds, its unit, what its header claims (when the
    header is wrong) and a note for the report."""

    species: str
    unit: str
    header_says: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class IngestMapping:
    """A parsed mapping (see the module docstring); ``name`` is the file it came from."""

    name: str = "long schema"
    layout: str = "long"
    encoding: str = "utf-8-sig"
    timezone: str | None = None
    time_format: str | None = None
    time_column: str = "time"
    station_column: str | None = "station_id"
    station: str | None = None
    rename: dict = field(default_factory=dict)
    species_names: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)
    ignore: tuple = ()
    interval_s: float | None = None
    averaging_s: float | None = None
    time_shift_s: float = 0.0
    temperature_k: float = 298.15
    pressure_pa: float = 101325.0
    qc: QCSettings = field(default_factory=QCSettings)
    notes: tuple = ()


def _check_keys(where: str, given: dict, allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ConfigError(where, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")


def load_mapping(mapping: str | Path | dict | IngestMapping | None) -> IngestMapping:
    """An :class:`IngestMapping` from a YAML file, a dict, or None (the plain long schema).

    Raises
    ------
    ConfigError
        Naming the mapping file and key for unknown keys, a bad layout or a wide column without
        species or unit.
    """
    if mapping is None:
        return IngestMapping()
    if isinstance(mapping, IngestMapping):
        return mapping
    name = "mapping"
    if isinstance(mapping, (str, Path)):
        path = Path(mapping)
        name = str(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError("mapping", f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError("mapping", f"{path} is not valid YAML: {exc}") from None
    else:
        data = dict(mapping)
    if not isinstance(data, dict):
        raise ConfigError(name, "must be a mapping of keys (layout, columns, ...)")
    allowed = {f.name for f in fields(IngestMapping)} - {"name"}
    _check_keys(name, data, allowed)
    data = dict(data)
    layout = data.get("layout", "long")
    if layout not in ("long", "wide"):
        raise ConfigError(f"{name}: layout", f"must be long or wide, got {layout!r}")
    qc = data.pop("qc", None) or {}
    _check_keys(f"{name}: qc", qc, {f.name for f in fields(QCSettings)})
    columns = {}
    for column, spec in (data.pop("columns", None) or {}).items():
        if not isinstance(spec, dict) or "species" not in spec or "unit" not in spec:
            raise ConfigError(f"{name}: columns.{column}", "needs species and unit, e.g. {species: NO2, unit: ppm}")
        _check_keys(f"{name}: columns.{column}", spec, {f.name for f in fields(WideColumn)})
        columns[str(column)] = WideColumn(**{k: (str(v) if v is not None else None) for k, v in spec.items()})
    if layout == "wide" and not columns:
        raise ConfigError(f"{name}: columns", "a wide layout needs at least one species column")
    for key in ("averaging_s", "time_shift_s", "interval_s"):
        if data.get(key) is not None:
            try:
                data[key] = float(data[key])
            except (TypeError, ValueError):
                raise ConfigError(f"{name}: {key}", f"must be a number of seconds, got {data[key]!r}") from None
    if data.get("averaging_s") is not None and data["averaging_s"] < 0:
        raise ConfigError(f"{name}: averaging_s", f"must be >= 0 s, got {data['averaging_s']}")
    data["ignore"] = tuple(str(c) for c in (data.get("ignore") or ()))
    data["notes"] = tuple(str(n) for n in (data.get("notes") or ()))
    data["rename"] = {str(k): str(v) for k, v in (data.get("rename") or {}).items()}
    data["species_names"] = {str(k): str(v) for k, v in (data.get("species_names") or {}).items()}
    if data.get("timezone") is not None:
        from .times import time_zone  # noqa: PLC0415

        try:
            time_zone(str(data["timezone"]))
        except ValueError as exc:
            raise ConfigError(f"{name}: timezone", str(exc)) from None
    try:
        return IngestMapping(name=name, columns=columns, qc=QCSettings(**qc), **data)
    except TypeError as exc:
        raise ConfigError(name, str(exc)) from None


def mapping_dict(mapping: IngestMapping) -> dict[str, Any]:
    """The mapping as plain data (for reports and run attributes)."""
    out = {f.name: getattr(mapping, f.name) for f in fields(mapping)}
    out["columns"] = {k: vars(v) if hasattr(v, "__dict__") else v for k, v in mapping.columns.items()}
    out["qc"] = {f.name: getattr(mapping.qc, f.name) for f in fields(mapping.qc)}
    return out
