"""Reading records from files into raw rows: times parsed, values numeric, problems logged.

Every row found becomes a raw row; a row whose fields cannot be read keeps its place with a flag
(``unparseable``, ``missing``...) and NaN. Only a file whose *structure* is broken (undecodable
text, a missing required column, a row with the wrong number of fields) is refused, with an
:class:`ObservationFileError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .flags import QCFlag
from .mapping import IngestMapping
from .report import IssueLog
from .times import parse_time

LONG_COLUMNS = ("time", "station_id", "species", "value", "unit")
OPTIONAL_COLUMNS = ("qc", "temperature_k", "pressure_pa")
_NAT = np.datetime64("NaT", "s")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


class ObservationFileError(ConfigError):
    """A records file cannot be read; the key names the file, line and column."""


@dataclass
class RawRows:
    """Rows as read, before unit conversion and QC (lists, appended to by the readers)."""

    time: list = field(default_factory=list)
    station_id: list = field(default_factory=list)
    species: list = field(default_factory=list)
    value: list = field(default_factory=list)
    unit: list = field(default_factory=list)
    qc: list = field(default_factory=list)
    line: list = field(default_factory=list)
    temperature: list = field(default_factory=list)
    pressure: list = field(default_factory=list)
    log: IssueLog = field(default_factory=IssueLog)
    notes: list = field(default_factory=list)
    sources: list = field(default_factory=list)

    def append(self, time, station, species, value, unit, qc, line, temperature=math.nan, pressure=math.nan):
        self.time.append(time)
        self.station_id.append(station)
        self.species.append(species)
        self.value.append(value)
        self.unit.append(unit)
        self.qc.append(int(qc))
        self.line.append(int(line))
        self.temperature.append(temperature)
        self.pressure.append(pressure)

    def __len__(self) -> int:
        return len(self.time)


def decode(path: Path, encoding: str, notes: list | None = None) -> str:
    """The file's text; an undecodable byte is an error naming its line and column. A file that is
    not UTF-8 but reads in the given encoding is noted (Korean portals often publish CP949)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ObservationFileError("records", f"cannot read {path}: {exc.strerror}") from None
    try:
        text = data.decode(encoding)
        if notes is not None and not encoding.lower().replace("_", "-").startswith("utf"):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = data.count(b"\n", 0, exc.start) + 1
                notes.append(f"{path.name} is {encoding} text, not UTF-8 (first non-UTF-8 byte on line {line}); "
                             f"read as {encoding}")
        return text
    except LookupError:
        raise ObservationFileError("mapping.encoding", f"unknown text encoding {encoding!r} (e.g. utf-8, cp949)") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        hint = " Korean files are often cp949: set encoding: cp949 in the mapping" if encoding.startswith("utf") else ""
        raise ObservationFileError(f"{path.name}: line {line}, column {column} (byte {exc.start})",
                                   f"not valid {encoding} text ({exc.reason}).{hint}") from None


def parse_value(text: str) -> tuple[float, int, str]:
    """A number from text: ``(value, flag, reason)``; empty or NaN is missing, text is unparseable."""
    stripped = str(text).strip()
    if not stripped or stripped.lower() in ("nan", "na", "n/a", "null", "-", "--"):
        return math.nan, QCFlag.MISSING, "no value"
    try:
        # Thousands separators only in their strict form (1,234.5); "1,5" stays unreadable.
        value = float(stripped.replace(",", "")) if _THOUSANDS.match(stripped) else float(stripped)
    except ValueError:
        return math.nan, QCFlag.UNPARSEABLE, "text in a number"
    if math.isnan(value):
        return math.nan, QCFlag.MISSING, "no value"
    if math.isinf(value):
        return math.nan, QCFlag.UNPARSEABLE, "infinite value"
    return value, 0, ""


def _time(text: str, mapping: IngestMapping, rows: RawRows, line: int, column: str) -> tuple[np.datetime64, int]:
    if not str(text).strip():
        rows.log.add(QCFlag.UNPARSEABLE, "empty time", line, column)
        return _NAT, QCFlag.UNPARSEABLE
    try:
        stamp = parse_time(text, mapping.timezone, mapping.time_format)
        return stamp + np.timedelta64(int(mapping.time_shift_s), "s"), 0
    except (ValueError, OverflowError) as exc:
        reason = "time without a UTC offset" if "UTC offset" in str(exc) else "unreadable time"
        rows.log.add(QCFlag.UNPARSEABLE, reason, line, column, example=str(text)[:40])
        return _NAT, QCFlag.UNPARSEABLE


def _csv_rows(text: str, path: Path):
    """(line number, header, row) over a CSV text; structural errors name the line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ObservationFileError(f"{path.name}: line 1", "the file is empty; it needs a header row") from None
    except csv.Error as exc:
        raise ObservationFileError(f"{path.name}: line 1", f"unreadable header: {exc}") from None
    header = [h.strip() for h in header]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ObservationFileError(f"{path.name}: line {reader.line_num}", f"malformed CSV: {exc}") from None
        if not row:
            continue  # an empty line carries nothing; a line of empty fields is a row (flagged)
        if len(row) != len(header):
            first = header[len(row)] if len(row) < len(header) else f"(extra field {len(row)})"
            raise ObservationFileError(
                f"{path.name}: line {reader.line_num}, column {first}",
                f"{len(row)} fields where the header has {len(header)} ({', '.join(header)}); "
                "quote fields that contain commas, or repair the line")
        yield reader.line_num, header, row


def _check_header(header: list[str], needed: tuple[str, ...], path: Path, mapping: IngestMapping) -> None:
    missing = [c for c in needed if c not in header]
    if missing:
        hint = f" (mapping {mapping.name} renames {mapping.rename})" if mapping.rename else \
            "; give a mapping (mapping=conf/ingest/<source>.yaml) for other layouts"
        raise ObservationFileError(f"{path.name}: line 1", f"lacks the column(s) {', '.join(missing)}; the header "
                                                           f"has {', '.join(header) or 'nothing'}{hint}")
    repeated = sorted({c for c in header if header.count(c) > 1 and c})
    if repeated:
        raise ObservationFileError(f"{path.name}: line 1", f"repeats the column(s) {', '.join(repeated)}")


def _qc_in(text: str, rows: RawRows, line: int) -> int:
    stripped = str(text).strip()
    if not stripped:
        return 0
    try:
        value = int(float(stripped))
    except (ValueError, OverflowError):
        rows.log.add(QCFlag.UNPARSEABLE, "qc is not an integer bit mask", line, "qc", example=stripped[:20])
        return QCFlag.UPSTREAM | QCFlag.UNPARSEABLE
    if value < 0 or value >= 1 << 16:
        rows.log.add(QCFlag.UPSTREAM, "qc outside 0–65535", line, "qc", example=stripped[:20])
        return QCFlag.UPSTREAM
    return value


def read_long_csv(path: Path, mapping: IngestMapping, rows: RawRows) -> None:
    """Rows of a long-schema CSV (after the mapping's column renames)."""
    text = decode(path, mapping.encoding, rows.notes)
    rows.sources.append(str(path))
    renamed = {mapping.rename.get(k, k): k for k in mapping.rename}
    names: list[str] | None = None
    for line, header, row in _csv_rows(text, path):
        if names is None:
            names = [mapping.rename.get(h, h) for h in header]
            needed = ("time", "species", "value", "unit") + (("station_id",) if mapping.station is None else ())
            _check_header(names, needed, path, mapping)
            ignored = [h for h, n in zip(header, names) if n not in LONG_COLUMNS + OPTIONAL_COLUMNS]
            if ignored:
                rows.notes.append(f"{path.name}: column(s) {', '.join(ignored)} are not part of the long schema "
                                  "and were not read")
        record = dict(zip(names, row))
        column = renamed.get("time", "time")
        time, flag = _time(record["time"], mapping, rows, line, column)
        value, value_flag, reason = parse_value(record["value"])
        if value_flag:
            rows.log.add(QCFlag(value_flag), reason, line, renamed.get("value", "value"),
                         example=record["value"][:40] if value_flag == QCFlag.UNPARSEABLE else None)
        species = record["species"].strip()
        species = mapping.species_names.get(species, species)
        station = mapping.station if mapping.station is not None else record["station_id"].strip()
        qc = flag | value_flag | _qc_in(record.get("qc", ""), rows, line)
        t_k = parse_value(record.get("temperature_k", ""))[0]
        p_pa = parse_value(record.get("pressure_pa", ""))[0]
        rows.append(time, station, species, value, record["unit"].strip(), qc, line, t_k, p_pa)
    if names is None:
        header_line = text.splitlines()[0] if text.strip() else ""
        if not header_line.strip():
            raise ObservationFileError(f"{path.name}: line 1", "the file is empty; it needs a header row")
        header = [h.strip() for h in next(csv.reader([header_line]))]
        _check_header([mapping.rename.get(h, h) for h in header], ("time", "species", "value", "unit"), path, mapping)
        rows.notes.append(f"{path.name} has a header but no records")


def read_wide_csv(path: Path, mapping: IngestMapping, rows: RawRows) -> None:
    """Rows of a wide CSV (one column per species), one row per mapped cell."""
    text = decode(path, mapping.encoding, rows.notes)
    rows.sources.append(str(path))
    seen_header = False
    for line, header, row in _csv_rows(text, path):
        if not seen_header:
            seen_header = True
            needed = (mapping.time_column,) + ((mapping.station_column,) if mapping.station is None else ())
            _check_header(header, needed, path, mapping)
            absent = [c for c in mapping.columns if c not in header]
            if absent:
                raise ObservationFileError(f"{path.name}: line 1", f"lacks the mapped column(s) {', '.join(absent)} "
                                                                   f"(mapping {mapping.name})")
            used = set(mapping.columns) | {mapping.time_column, mapping.station_column} | set(mapping.ignore)
            unmapped = [h for h in header if h not in used]
            if unmapped:
                rows.notes.append(f"{path.name}: column(s) {', '.join(repr(h) for h in unmapped)} are not in the "
                                  f"mapping and were not read")
            index = {h: n for n, h in enumerate(header)}
        time, flag = _time(row[index[mapping.time_column]], mapping, rows, line, mapping.time_column)
        station = mapping.station if mapping.station is not None else row[index[mapping.station_column]].strip()
        for column, spec in mapping.columns.items():
            cell = row[index[column]]
            value, value_flag, reason = parse_value(cell)
            if value_flag:
                rows.log.add(QCFlag(value_flag), reason, line, column,
                             example=cell[:40] if value_flag == QCFlag.UNPARSEABLE else None,
                             series=f"{station}/{spec.species}")
            rows.append(time, station, spec.species, value, spec.unit, flag | value_flag, line)
    if not seen_header:
        raise ObservationFileError(f"{path.name}: line 1", "no records (an empty file or a header alone)")


def read_long_hdf5(path: Path, mapping: IngestMapping, rows: RawRows):
    """Rows of a long-schema HDF5 file: a group ``/records`` of equal-length datasets ``time`` (ISO
    text), ``station_id``, ``species``, ``unit`` (text), ``value``, optional ``qc``; and, when the
    file has one, its ``/stations`` table (returned as a :class:`StationTable`, else None)."""
    import h5py  # noqa: PLC0415

    from .records import StationTable  # noqa: PLC0415

    rows.sources.append(str(path))
    with h5py.File(path, "r") as f:
        if "records" not in f:
            raise ObservationFileError(f"{path.name}: /records", "no /records group: not a long-schema file "
                                                                 "(a plumetwin run file has /receptors instead)")
        g = f["records"]
        missing = [c for c in LONG_COLUMNS if c not in g]
        if missing:
            raise ObservationFileError(f"{path.name}: /records", f"lacks the dataset(s) {', '.join(missing)}")
        columns = {c: (g[c].asstr()[...] if g[c].dtype.kind in "OS" else g[c][...]) for c in g}
        table = None
        if "stations" in f and {"station_id", "x", "y", "z_agl"} <= set(f["stations"]):
            t = f["stations"]
            table = StationTable(t["station_id"].asstr()[...], t["x"][...], t["y"][...], t["z_agl"][...],
                                 str(t.attrs.get("crs", "local")),
                                 averaging_s=t["averaging_s"][...] if "averaging_s" in t else None)
    _rows_from_columns(columns, path, mapping, rows)
    return table


def read_parquet(path: Path, mapping: IngestMapping, rows: RawRows) -> None:
    """Rows of a long-schema Parquet file (needs pyarrow: pip install plumetwin[parquet])."""
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415
    except ImportError:
        raise ObservationFileError("records", f"{path.name} is Parquet, which needs pyarrow; install it with "
                                              "pip install plumetwin[parquet], or give CSV or HDF5") from None
    rows.sources.append(str(path))
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises its own error kinds
        raise ObservationFileError(f"{path.name}", f"unreadable Parquet: {exc}") from None
    columns = {mapping.rename.get(name, name): table.column(name).to_pylist() for name in table.column_names}
    missing = [c for c in LONG_COLUMNS if c not in columns]
    if missing:
        raise ObservationFileError(f"{path.name}", f"lacks the column(s) {', '.join(missing)}")
    _rows_from_columns(columns, path, mapping, rows)


def _rows_from_columns(columns: dict, path: Path, mapping: IngestMapping, rows: RawRows) -> None:
    """Column arrays (row n is file 'line' n + 1, as in a CSV with a header) into raw rows."""
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ObservationFileError(f"{path.name}", f"columns of different lengths {sorted(lengths)}")
    for n in range(lengths.pop() if lengths else 0):
        line = n + 2
        time, flag = _time(_text(columns["time"][n]), mapping, rows, line, "time")
        raw = columns["value"][n]
        value, value_flag, reason = parse_value(_text(raw))
        if value_flag:
            rows.log.add(QCFlag(value_flag), reason, line, "value")
        qc = flag | value_flag | (_qc_in(_text(columns["qc"][n]), rows, line) if "qc" in columns else 0)
        species = _text(columns["species"][n]).strip()
        rows.append(time, _text(columns["station_id"][n]).strip(), mapping.species_names.get(species, species),
                    value, _text(columns["unit"][n]).strip(), qc, line)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)
